"""Decisions of the live node: the backtest's strategy, portfolio and risk code on live bars.

Two steps, as in the backtest engine (``backtest/engine.py``):

- at a bar's close, :func:`decide` runs the strategy over the trailing window and the
  portfolio constructor over its signals; the last row is the target weight of each symbol
  for the next bar (NaN: no opinion, the position is left alone), with the signal's stop and
  take-profit prices;
- when the next bar opens (the execution window), :func:`orders_for_targets` sizes those
  weights at the prices orders will fill at, exactly as the engine does (``target_quantities``
  with the portfolio's sizing rule, a target within float noise of the position is no order,
  an order that opens or adds carries the bracket), and passes the intents through the risk
  manager's base checks. The intents that come back approved are what the gateway places.

Nothing here knows whether it runs live, on paper or in a dry run.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from alphaforge.config.models import PortfolioConfig
from alphaforge.core.orders import Bracket, OrderIntent
from alphaforge.portfolio.base import PortfolioConstructor, target_quantities
from alphaforge.risk.base import AccountView, OrderReviewer
from alphaforge.strategies.base import MarketFrames, Strategy

#: The cost of trading ``units`` of ``symbol`` at ``price`` (per unit), as a fraction of the
#: notional: ``(symbol, price, units) -> rate``.
CostRate = Callable[[str, float, float], float]


@dataclass(frozen=True, slots=True)
class Decision:
    """Target weights decided at one bar's close, for the next bar.

    ``weights``, ``stops`` and ``takes`` are indexed by symbol (NaN: none); ``time`` is the
    decided bar's open stamp (UTC), the key of the orders' client ids.
    """

    time: pd.Timestamp
    weights: pd.Series
    stops: pd.Series
    takes: pd.Series
    signal: pd.Series

    def to_json(self) -> dict[str, object]:
        """Return the decision as JSON-ready data (NaN as None)."""

        def clean(series: pd.Series) -> dict[str, float | None]:
            return {str(k): (None if not math.isfinite(v) else float(v)) for k, v in series.items()}

        return {
            "time": self.time.isoformat(),
            "weights": clean(self.weights),
            "stops": clean(self.stops),
            "takes": clean(self.takes),
            "signal": clean(self.signal),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Decision:
        """Rebuild a decision written by :meth:`to_json`."""

        def series(key: str) -> pd.Series:
            raw = data[key]
            assert isinstance(raw, dict)
            return pd.Series(
                {k: np.nan if v is None else float(v) for k, v in raw.items()}, dtype=float
            )

        return cls(
            pd.Timestamp(str(data["time"])),
            series("weights"),
            series("stops"),
            series("takes"),
            series("signal"),
        )


def decide(market: MarketFrames, strategy: Strategy, constructor: PortfolioConstructor) -> Decision:
    """Return the targets decided at the last bar of ``market`` (its close is known)."""
    signals = strategy.signals(market)
    targets = constructor.targets(signals, market).reindex(
        index=market.index, columns=market.symbols
    )
    last = market.index[-1]

    def row(frame: pd.DataFrame | None) -> pd.Series:
        if frame is None:
            return pd.Series(np.nan, index=market.symbols, dtype=float)
        aligned = frame.reindex(index=market.index, columns=market.symbols)
        return pd.Series(aligned.iloc[-1].to_numpy(np.float64), index=market.symbols)

    active = np.isfinite(market.close.iloc[-1].to_numpy(np.float64)) & np.isfinite(
        market.open.iloc[-1].to_numpy(np.float64)
    )
    weights = row(targets).where(pd.Series(active, index=market.symbols))
    return Decision(last, weights, row(signals.stop), row(signals.target), row(signals.value))


def orders_for_targets(
    decision: Decision,
    positions: Mapping[str, float],
    prices: Mapping[str, float],
    cash: float,
    portfolio: PortfolioConfig,
    reviewer: OrderReviewer,
    strategy_tag: str,
    cost_rate: CostRate | None = None,
    closes: Mapping[str, float] | None = None,
    when: pd.Timestamp | None = None,
) -> tuple[list[OrderIntent], list[dict[str, object]]]:
    """Size the decision's targets at ``prices`` and review them; return intents and refusals.

    ``positions`` are signed units held now; ``prices`` are the prices the orders will fill at
    (the execution window's quotes, the next bar's open in a dry run); ``cash`` in the account
    currency. Symbols without a finite weight or price are left alone. ``closes`` are the last
    known closes: as the engine does, equity marks a name that is traded now at ``prices``
    and any other holding at its last close (None: every holding at ``prices``). Returns the
    approved intents (in symbol order) and one row per resize or refusal of the risk checks.
    ``cost_rate`` prices an order for ``sizing: all_in`` (None: free), as the engine's cost
    schedule does. ``when`` is the time of the check (UTC), written on the refusal rows as the
    engine writes the bar it sizes on (None: the decision's time).
    """
    symbols = list(decision.weights.index)
    weights = decision.weights.to_numpy(np.float64)
    price = np.array([prices.get(s, np.nan) for s in symbols], dtype=np.float64)
    held = np.array([positions.get(s, 0.0) for s in symbols], dtype=np.float64)
    due = np.isfinite(weights) & np.isfinite(price) & (price > 0)
    marks = _marks(prices if closes is None else closes, symbols, price, due)
    equity = _equity(cash, positions, marks)
    rate = np.zeros(len(symbols))
    if portfolio.sizing == "all_in" and cost_rate is not None:
        for i in np.flatnonzero(due).tolist():
            # The rate of an order about the size all-in sizing will give, as the engine
            # prices it (fixed fees count).
            size = abs(float(weights[i])) * equity / float(price[i])
            rate[i] = cost_rate(symbols[i], float(price[i]), size)
    target = target_quantities(np.where(due, weights, np.nan), held, equity, price, portfolio, rate)
    delta = target - held
    idx = [
        i
        for i in np.flatnonzero(due).tolist()
        if not abs(delta[i]) <= 1e-12 * max(abs(target[i]), 1.0)
    ]
    intents = []
    stops = decision.stops.reindex(symbols).to_numpy(np.float64)
    takes = decision.takes.reindex(symbols).to_numpy(np.float64)
    for i in idx:
        now, q = float(held[i]), float(delta[i])
        after = now + q
        bracket = None
        stop, take = float(stops[i]), float(takes[i])
        if (math.isfinite(stop) or math.isfinite(take)) and (
            abs(after) > abs(now) or after * now < 0
        ):
            bracket = Bracket(
                stop_price=stop if math.isfinite(stop) else None,
                take_profit=take if math.isfinite(take) else None,
            )
        intents.append(OrderIntent(symbols[i], q, strategy=strategy_tag, bracket=bracket))
    view = AccountView(
        equity=equity,
        cash=cash,
        positions=dict(positions),
        prices=marks,
        whole_units=portfolio.units == "whole",
    )
    approved: list[OrderIntent] = []
    refusals: list[dict[str, object]] = []
    for review in reviewer.review(intents, view):
        if review.approved is not None:
            approved.append(review.approved)
        if review.action != "approve":
            refusals.append(
                {
                    "time": decision.time if when is None else when,
                    "symbol": review.intent.symbol,
                    "action": review.action,
                    "piece": f"base.{review.check}",
                    "rule": review.check,
                    "limit": math.nan,
                    "observed": math.nan,
                    "before": review.intent.quantity,
                    "after": review.approved.quantity if review.approved is not None else 0.0,
                    "reason": review.reason,
                    "strategy": strategy_tag,
                }
            )
    return approved, refusals


def _marks(
    base: Mapping[str, float], symbols: list[str], price: np.ndarray, due: np.ndarray
) -> dict[str, float]:
    """Return the finite marks: ``base``, with the traded names at their fill prices."""
    marks = {s: float(p) for s, p in base.items() if math.isfinite(p)}
    for i in np.flatnonzero(due).tolist():
        marks[symbols[i]] = float(price[i])
    return marks


def _equity(cash: float, positions: Mapping[str, float], marks: Mapping[str, float]) -> float:
    """Return cash plus the holdings at ``marks`` (an unpriced one counts 0), in symbol order.

    Summed as the engine's broker sums it (one dot product over the held names in symbol
    order), so that both size the same targets to the same units.
    """
    held = sorted(s for s, q in positions.items() if q != 0)
    units = np.array([positions[s] for s in held], dtype=np.float64)
    values = np.array([marks.get(s, 0.0) for s in held], dtype=np.float64)
    return cash + float(np.dot(units, values))


__all__ = ["CostRate", "Decision", "decide", "orders_for_targets"]
