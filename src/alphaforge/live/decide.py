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

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from alphaforge.backtest.risk_bridge import decision_row
from alphaforge.config.models import PortfolioConfig
from alphaforge.core.orders import Bracket, OrderIntent, SizingStep
from alphaforge.portfolio.base import PortfolioConstructor, target_quantities
from alphaforge.portfolio.book import Book, IntentBatch
from alphaforge.risk.base import AccountView, OrderReviewer
from alphaforge.strategies.base import MarketFrames, Strategy

if TYPE_CHECKING:
    from alphaforge.live.risk import LivePieces

#: The cost of trading ``units`` of ``symbol`` at ``price`` (per unit), as a fraction of the
#: notional: ``(symbol, price, units) -> rate``.
CostRate = Callable[[str, float, float], float]


@dataclass(frozen=True, slots=True)
class Decision:
    """Target weights decided at one bar's close, for the next bar.

    ``weights``, ``stops`` and ``takes`` are indexed by symbol (NaN: none); ``time`` is the
    decided bar's open stamp (UTC), the key of the orders' client ids. ``probability`` and
    ``expected_return`` are the strategy's, for the sizers (None: the strategy gives none).
    """

    time: pd.Timestamp
    weights: pd.Series
    stops: pd.Series
    takes: pd.Series
    signal: pd.Series
    probability: pd.Series | None = None
    expected_return: pd.Series | None = None

    def to_json(self) -> dict[str, object]:
        """Return the decision as JSON-ready data (NaN as None)."""

        def clean(series: pd.Series) -> dict[str, float | None]:
            return {str(k): (None if not math.isfinite(v) else float(v)) for k, v in series.items()}

        data: dict[str, object] = {
            "time": self.time.isoformat(),
            "weights": clean(self.weights),
            "stops": clean(self.stops),
            "takes": clean(self.takes),
            "signal": clean(self.signal),
        }
        if self.probability is not None:
            data["probability"] = clean(self.probability)
        if self.expected_return is not None:
            data["expected_return"] = clean(self.expected_return)
        return data

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
            series("probability") if "probability" in data else None,
            series("expected_return") if "expected_return" in data else None,
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
    return Decision(
        last,
        weights,
        row(signals.stop),
        row(signals.target),
        row(signals.value),
        None if signals.probability is None else row(signals.probability),
        None if signals.expected_return is None else row(signals.expected_return),
    )


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
    pieces: LivePieces | None = None,
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
    engine writes the bar it sizes on (None: the decision's time). ``pieces``: the risk
    preset's sizers, limits, stops, filters and breakers, run in the engine's order (sizers,
    the limits' trims of the targets, the pieces' review, then ``reviewer``'s base checks);
    None: the base checks alone.
    """
    when = decision.time if when is None else when
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
    stops = decision.stops.reindex(symbols).to_numpy(np.float64, copy=True)
    takes = decision.takes.reindex(symbols).to_numpy(np.float64, copy=True)
    trails = np.full(len(symbols), np.nan)
    steps: dict[int, tuple[SizingStep, ...]] = {}
    rows: list[dict[str, object]] = []
    book = None
    if pieces is not None:
        book_prices = np.array([marks.get(s, np.nan) for s in symbols], dtype=np.float64)
        book = pieces.book(when, equity, held.copy(), book_prices)
        target, steps, rows = _size_and_trim(
            pieces, book, due, weights, target, stops, takes, strategy_tag
        )
    delta = target - held
    idx = np.array(
        [
            i
            for i in np.flatnonzero(due).tolist()
            if not abs(delta[i]) <= 1e-12 * max(abs(target[i]), 1.0)
        ],
        dtype=np.int64,
    )
    quantities = delta[idx]
    if pieces is not None and book is not None and pieces.manager.pieces_on and idx.size:
        ids = tuple(f"{pieces.row}:{symbols[i]}" for i in idx.tolist())
        batch = IntentBatch(idx, quantities, stops[idx], takes[idx], trails[idx], ids)
        reviewed = pieces.bridge.review(batch, book)
        rows.extend(decision_row(d, strategy_tag) for d in reviewed.decisions)
        position = {name: k for k, name in enumerate(ids)}
        for d in reviewed.decisions:
            i = int(idx[position[d.intent_id]])
            steps[i] = (*steps.get(i, ()), SizingStep(d.piece, d.before, d.after, d.reason))
        out = reviewed.batch
        alive = out.quantity != 0
        idx, quantities = idx[alive], out.quantity[alive]
        stops[idx], takes[idx], trails[idx] = out.stop[alive], out.take[alive], out.trail[alive]
    intents = [
        OrderIntent(
            symbols[i],
            float(q),
            strategy=strategy_tag,
            bracket=_bracket(float(held[i]), float(q), stops[i], takes[i], trails[i]),
            sizing=steps.get(i, ()),
        )
        for i, q in zip(idx.tolist(), quantities.tolist(), strict=True)
    ]
    view = AccountView(
        equity=equity,
        cash=cash,
        positions=dict(positions),
        prices=marks,
        whole_units=portfolio.units == "whole",
    )
    approved: list[OrderIntent] = []
    for review in reviewer.review(intents, view):
        if review.approved is not None:
            approved.append(review.approved)
        if review.action != "approve":
            rows.append(
                {
                    "time": when,
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
    return approved, rows


def _size_and_trim(
    pieces: LivePieces,
    book: Book,
    due: np.ndarray,
    weights: np.ndarray,
    target: np.ndarray,
    stops: np.ndarray,
    takes: np.ndarray,
    strategy_tag: str,
) -> tuple[np.ndarray, dict[int, tuple[SizingStep, ...]], list[dict[str, object]]]:
    """Run the sizer chain on the due names' targets, then the limits' trims (as the engine
    does before the orders are reviewed); return the targets, each name's steps and the
    trims' audit rows."""
    target = target.copy()
    steps: dict[int, tuple[SizingStep, ...]] = {}
    sized_idx = np.flatnonzero(due)
    bridge = pieces.bridge
    if bridge.sizers and sized_idx.size:
        decided = np.full(sized_idx.size, pieces.decided, dtype=np.int64)
        sized = bridge.size(
            book, decided, sized_idx, weights, target, stops[sized_idx], takes[sized_idx]
        )
        target[sized_idx] = sized.target
        steps = {int(i): s for i, s in zip(sized_idx.tolist(), sized.steps, strict=True) if s}
    rows: list[dict[str, object]] = []
    if pieces.manager.limits:
        trims = bridge.trim(book, pieces.row, sized_idx, target, steps, stops, takes)
        rows = [{**row, "strategy": strategy_tag} for row in trims]
    return target, steps, rows


def _bracket(now: float, quantity: float, stop: float, take: float, trail: float) -> Bracket | None:
    """Return the exits an order carries: only one that opens, adds to or reverses a
    position carries its trade's stop, take-profit and trail (NaN: none)."""
    after = now + quantity
    if not (math.isfinite(stop) or math.isfinite(take) or math.isfinite(trail)):
        return None
    if not (abs(after) > abs(now) or after * now < 0):
        return None
    return Bracket(
        stop_price=stop if math.isfinite(stop) else None,
        take_profit=take if math.isfinite(take) else None,
        trail_percent=trail if math.isfinite(trail) else None,
    )


def with_deferred(decision: Decision, stash: str | None) -> tuple[Decision, dict[str, list[float]]]:
    """Return ``decision`` with the targets deferred by forced exits (``stash``, written by
    :func:`deferred_stash`) filled in where it has no opinion, and those targets (symbol ->
    weight, stop, take). A decision executed again after a crash reads what its first
    execution read."""
    if not stash:
        return decision, {}
    data = json.loads(stash)
    again = pd.Timestamp(data["time"]) == decision.time
    deferred: dict[str, list[float]] = data["previous" if again else "targets"]
    weights, stops = decision.weights.copy(), decision.stops.copy()
    takes = decision.takes.copy()
    for symbol, (weight, stop, take) in deferred.items():
        if symbol in weights.index and not math.isfinite(weights[symbol]):
            weights[symbol], stops[symbol], takes[symbol] = weight, stop, take
    return replace(decision, weights=weights, stops=stops, takes=takes), deferred


def deferred_stash(
    decision: Decision, deferred: Mapping[str, list[float]], forced: set[str]
) -> str:
    """Return the stash (JSON) keeping the targets of the names ``forced`` closed now for the
    next decision, with what this decision read (``deferred``) for a re-execution."""
    targets = {
        s: [float(decision.weights[s]), float(decision.stops[s]), float(decision.takes[s])]
        for s in sorted(forced)
        if math.isfinite(decision.weights[s])
    }
    return json.dumps(
        {"time": decision.time.isoformat(), "targets": targets, "previous": dict(deferred)}
    )


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


__all__ = [
    "CostRate",
    "Decision",
    "decide",
    "deferred_stash",
    "orders_for_targets",
    "with_deferred",
]
