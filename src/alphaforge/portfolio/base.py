"""Portfolio construction: signals to target weights, and target weights to quantities.

Targets are decided at a bar's close from signals known then; a row of NaN means "keep the
current positions", a NaN in one column means "leave that name alone". Quantities are sized
when the order fills, at the fill price, as a market-on-open order sized at the open is.
"""

from __future__ import annotations

import sys
from typing import Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd

from alphaforge.config.models import PortfolioConfig
from alphaforge.config.pieces import build_piece
from alphaforge.portfolio.constructors import TargetWeights, TopK
from alphaforge.portfolio.constructors.common import config_params
from alphaforge.portfolio.pieces import CONSTRUCTORS, Constructor
from alphaforge.strategies.base import MarketFrames, Signals

FloatArray = npt.NDArray[np.float64]


class PortfolioConstructor(Protocol):
    """Turns signals into target weights (fractions of equity, signed)."""

    def targets(self, signals: Signals, market: MarketFrames) -> pd.DataFrame:
        """Return target weights decided at each bar's close (NaN = hold).

        Row ``t`` may use signals and bars to the close of ``t`` only.
        """
        ...


def create_constructor(config: PortfolioConfig) -> Constructor:
    """Return the configured constructor, built from ``CONSTRUCTORS``.

    The piece ``config.constructor`` gets the ``PortfolioConfig`` fields it declares as
    parameters (``top_k``, ``long_short``, ``gross_exposure``, ``rebalance_every`` ...),
    overridden by ``config.constructor_params`` where the config has them.

    Raises
    ------
    ConfigError
        For an unknown constructor (naming the closest ones) or a parameter it refuses.
    """
    cls = CONSTRUCTORS.get(config.constructor) if config.constructor in CONSTRUCTORS else None
    params = {} if cls is None else config_params(cls, config)
    return build_piece(CONSTRUCTORS, config.constructor, params)


def target_quantities(
    weights: FloatArray,
    current: FloatArray,
    equity: float,
    price: FloatArray,
    config: PortfolioConfig,
    cost_rate: FloatArray,
) -> FloatArray:
    """Return the signed target units of names with a finite target weight.

    Parameters
    ----------
    weights
        Target weights (NaN = keep ``current``).
    current
        Units held now.
    equity
        Equity marked at the fill prices, before this bar's orders, quote currency.
    price
        Fill price of each name.
    config
        ``sizing`` (``weights``: ``w x equity / price``; ``all_in``: the equity left after
        closing the current position, less commission, as backtesting.py sizes an order of
        size ``1 - epsilon``) and ``units`` (``whole`` rounds toward zero).
    cost_rate
        Proportional cost of trading one unit, as a fraction of price (for all-in sizing).
    """
    target = current.copy()
    live = np.isfinite(weights) & np.isfinite(price) & (price > 0)
    if not live.any():
        return target
    w = weights[live]
    p = price[live]
    if config.sizing == "all_in":
        # Cash after closing what is held: the closing order's cost is paid first.
        closing_cost = float(np.sum(np.abs(current[live]) * p * cost_rate[live]))
        budget = max(equity - closing_cost, 0.0) * (1.0 - sys.float_info.epsilon)
        units = np.abs(w) * budget / (p * (1.0 + cost_rate[live]))
        units = np.floor(units) if config.units == "whole" else units
        target[live] = np.sign(w) * units
    else:
        units = w * equity / p
        target[live] = np.trunc(units) if config.units == "whole" else units
    return target


__all__ = [
    "PortfolioConstructor",
    "TargetWeights",
    "TopK",
    "create_constructor",
    "target_quantities",
]
