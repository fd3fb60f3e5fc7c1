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
from alphaforge.core.errors import ConfigError
from alphaforge.portfolio.topk import top_k_weights
from alphaforge.strategies.base import MarketFrames, Signals

FloatArray = npt.NDArray[np.float64]


class PortfolioConstructor(Protocol):
    """Turns signals into target weights (fractions of equity, signed)."""

    def targets(self, signals: Signals, market: MarketFrames) -> pd.DataFrame:
        """Return target weights decided at each bar's close (NaN = hold).

        Row ``t`` may use signals and bars to the close of ``t`` only.
        """
        ...


class TopK:
    """Equal weights on the ``top_k`` highest signals (and, long/short, the lowest)."""

    def __init__(self, config: PortfolioConfig) -> None:
        self.config = config

    def targets(self, signals: Signals, market: MarketFrames) -> pd.DataFrame:
        """Return :func:`top_k_weights` of the signal values."""
        return top_k_weights(signals.value, self.config)


class TargetWeights:
    """Each name's signal x ``gross_exposure`` / number of names, set when its signal changes.

    A name whose signal is unchanged from its previous bar gets NaN (no order), so a position
    is not traded back to its weight as prices drift.
    """

    def __init__(self, config: PortfolioConfig) -> None:
        self.config = config

    def targets(self, signals: Signals, market: MarketFrames) -> pd.DataFrame:
        """Return targets on the bars where a name's signal changes."""
        value = signals.value
        n = max(value.shape[1], 1)
        weights = value.clip(-1.0, 1.0) * (self.config.gross_exposure / n)
        # Compare each weight with the name's previous known one (NaN bars skipped): the first
        # known weight always counts as a change.
        previous = weights.ffill().shift(1)
        out = weights.where(weights.notna() & weights.ne(previous))
        return out.astype(np.float64)


def create_constructor(config: PortfolioConfig) -> PortfolioConstructor:
    """Return the configured constructor."""
    match config.constructor:
        case "top_k":
            return TopK(config)
        case "target_weights":
            return TargetWeights(config)
        case other:
            raise ConfigError(
                f"Unknown portfolio constructor {other!r}.", hint="Known: top_k, target_weights."
            )


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
