"""The backtest's side of the risk layer: per-bar inputs, the book at each decision, the
sizer chain and the risk manager's pieces, with the records they leave.

The engine asks the same :class:`~alphaforge.risk.manager.RiskManager` live trading asks;
this module only builds its :class:`~alphaforge.portfolio.book.Book` from the engine's arrays.
Every input of bar ``t`` (features, market values, trailing returns) is known before ``t``'s
open: features come from the symbol's bars to its previous close, returns end at it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from alphaforge.backtest.outputs import SIZING_COLUMNS
from alphaforge.core.orders import Fill, SizingStep
from alphaforge.core.types import Interval
from alphaforge.execution import SimulatedBroker
from alphaforge.features.registry import compute
from alphaforge.portfolio.book import Book, IntentBatch, Universe
from alphaforge.portfolio.pieces import SizedTargets, Sizer, SizingRequest, run_sizers
from alphaforge.risk.audit import RiskDecision
from alphaforge.risk.limits.heat import HeatLimit
from alphaforge.risk.manager import BatchReview, RiskManager
from alphaforge.risk.pieces import Limit, RegimeFilter, RiskEvent, StopRule
from alphaforge.storage.bar_store import BarStore
from alphaforge.strategies.base import MarketFrames, Signals

log = logging.getLogger(__name__)

FloatArray = np.ndarray

#: Per-symbol features the shipped pieces read (computed only when a piece is configured).
PIECE_FEATURES = ("atr_14", "vol_yang_zhang_20", "dollar_volume_log_20", "beta_60")


@dataclass(frozen=True, slots=True)
class RiskInputs:
    """What the pieces may read at each bar, row ``t`` known before bar ``t`` opens.

    ``features``: name -> bars x symbols; ``market``: name -> one value per bar;
    ``returns``: bars x symbols simple close-to-close returns of each symbol's own bars, row
    ``t`` ending at bar ``t``'s close (so a decision at bar ``t`` reads rows before ``t``).
    """

    features: Mapping[str, np.ndarray] = field(default_factory=dict)
    market: Mapping[str, np.ndarray] = field(default_factory=dict)
    returns: np.ndarray | None = None
    window: int = 252

    @classmethod
    def build(
        cls,
        market: MarketFrames,
        names: Iterable[str] = PIECE_FEATURES,
        *,
        series: Mapping[str, pd.Series] | None = None,
        window: int = 252,
        ahead: pd.Timestamp | None = None,
    ) -> RiskInputs:
        """Compute the inputs from the market's bars (and extra series such as ``^VIX``,
        indexed by the time each value became known).

        Features are computed per symbol on its own bars and shifted one bar, so bar ``t``
        sees the value of its previous bar's close. ``ahead``: the open stamp of a bar after
        the market's last one (live trading's next bar, not yet seen); the inputs then have
        one more row, for it, holding what is known at the last bar's close (every symbol
        is assumed to trade on it).
        """
        index, symbols = market.index, market.symbols
        n = len(index) + (ahead is not None)
        wanted = list(dict.fromkeys(names))
        features = {name: np.full((n, len(symbols)), np.nan) for name in wanted}
        returns = _grown(bar_returns(market), n)
        rows = pd.Series(np.arange(len(index)), index=index)
        for j, symbol in enumerate(symbols):
            bars = pd.DataFrame(
                {f: getattr(market, f)[symbol] for f in ("open", "high", "low", "close", "volume")}
            ).dropna(subset=["open", "close"])
            if bars.empty:
                continue
            at = rows.reindex(bars.index).to_numpy()
            if ahead is not None:
                at = np.append(at, n - 1)
            per_symbol = [w for w in wanted if w != "beta_60"]
            if len(bars) >= 2 and per_symbol:
                values = compute(bars, per_symbol)
                for name in per_symbol:
                    column = values[name].to_numpy(np.float64)
                    features[name][at[1:], j] = column if ahead is not None else column[:-1]
        if "beta_60" in features:
            features["beta_60"] = _beta(returns, 60)
        market_values = _market_values(market, returns[: len(index)], series or {}, ahead)
        return cls(features, market_values, returns, window)


def market_series(store_dir: Path, filters: Sequence[RegimeFilter]) -> dict[str, pd.Series]:
    """Load the market-wide series the regime filters read (the daily VIX), when stored.

    Each value is stamped with the time it became known: a daily bar at its open + 1 day.
    """
    if not any(f.piece_name == "vix" for f in filters):
        return {}
    store = BarStore(store_dir)
    if not store.exists("^VIX", Interval.D1):
        log.warning("the vix filter is on but ^VIX is not stored: it lets every order through")
        return {}
    close = store.read("^VIX", Interval.D1)["close"]
    close.index = pd.DatetimeIndex(close.index) + pd.Timedelta(days=1)
    return {"^VIX": close}


def bar_returns(market: MarketFrames) -> np.ndarray:
    """Return bars x symbols simple close-to-close returns of each symbol's own bars (NaN at
    a symbol's first bar and where it has none)."""
    close = market.close.to_numpy(np.float64)
    out = np.full(close.shape, np.nan)
    for j in range(close.shape[1]):
        rows = np.flatnonzero(np.isfinite(close[:, j]) & (close[:, j] > 0))
        if rows.size > 1:
            c = close[rows, j]
            out[rows[1:], j] = c[1:] / c[:-1] - 1.0
    return out


def _grown(values: np.ndarray, rows: int) -> np.ndarray:
    """Return ``values`` with NaN rows appended up to ``rows`` rows."""
    if len(values) == rows:
        return values
    out = np.full((rows, *values.shape[1:]), np.nan)
    out[: len(values)] = values
    return out


def _beta(returns: np.ndarray, window: int) -> np.ndarray:
    """Beta of each symbol to the equal-weight universe over ``window`` bars, known before
    each bar (rows before it)."""
    bench = _equal_weight(returns)
    frame = pd.DataFrame(returns)
    b = pd.Series(bench)
    cov = frame.rolling(window, min_periods=window // 2).cov(b)
    var = b.rolling(window, min_periods=window // 2).var()
    beta = cov.div(var, axis=0).to_numpy(np.float64)
    out = np.full_like(beta, np.nan)
    out[1:] = beta[:-1]
    return out


def _market_values(
    market: MarketFrames,
    returns: np.ndarray,
    series: Mapping[str, pd.Series],
    ahead: pd.Timestamp | None = None,
) -> dict[str, np.ndarray]:
    """Market-wide values known before each bar: the equal-weight benchmark against its
    200-bar average, BTC's 30-day volatility (if BTC is traded), the VIX (if given); with
    ``ahead``, one more row for that next bar."""
    index = market.index
    rows = index if ahead is None else pd.DatetimeIndex(index.append(pd.DatetimeIndex([ahead])))
    out: dict[str, np.ndarray] = {}
    bench = _equal_weight(returns)
    level = pd.Series(np.cumprod(1.0 + np.nan_to_num(bench)), index=index)
    above = (level > level.rolling(200).mean()).astype(np.float64)
    above[level.rolling(200).mean().isna()] = np.nan
    out["benchmark_above_200"] = _known_before(_grown(above.to_numpy(), len(rows)))
    for symbol in market.symbols:
        if symbol.upper().replace("/", "-") in ("BTC-USD", "BTCUSD", "BTC-USDT", "BTCUSDT"):
            j = market.symbols.index(symbol)
            r = pd.Series(returns[:, j], index=index).dropna()
            days = pd.DatetimeIndex(r.index).normalize()
            daily = (1.0 + r).groupby(days).prod() - 1.0
            vol = daily.rolling(30).std() * math.sqrt(365.0)
            if ahead is not None:
                # The next bar's day is a day of its own, as it is in the engine's index.
                vol = vol.reindex(vol.index.union(pd.DatetimeIndex([ahead]).normalize()))
            # shift(1): each bar of day D sees the volatility of the days before D only (an
            # intraday bar must not read the rest of its own day).
            out["btc_vol_30"] = vol.shift(1).reindex(rows.normalize(), method="ffill").to_numpy()
    vix = series.get("^VIX")
    if vix is not None and not vix.empty:
        # Stamped with when each value became known: the last one known at each bar's open.
        aligned = vix.sort_index().reindex(rows, method="ffill")
        out["vix_level"] = aligned.to_numpy(np.float64)
    return out


def _equal_weight(returns: np.ndarray) -> np.ndarray:
    """Return the mean return of the symbols with a return at each bar (NaN: none)."""
    valid = np.isfinite(returns)
    count = valid.sum(axis=1)
    total = np.where(valid, returns, 0.0).sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _known_before(values: np.ndarray) -> np.ndarray:
    out = np.full(len(values), np.nan)
    out[1:] = values[:-1]
    return out


class RiskBridge:
    """Builds books for the risk manager and sizers during an engine run; keeps the records.

    Parameters
    ----------
    manager
        The risk manager (its pieces and the base checks).
    sizers
        The sizer chain, run after weights become units.
    universe
        The run's instruments, in the engine's symbol order.
    inputs
        Per-bar inputs.
    signals
        The strategy's signals (probabilities and expected returns for sizers).
    index
        The run's bar times (the engine's rows).
    whole_units
        Whether the book trades whole lots.
    """

    def __init__(
        self,
        manager: RiskManager,
        sizers: Sequence[Sizer],
        universe: Universe,
        inputs: RiskInputs,
        signals: Signals,
        *,
        index: pd.DatetimeIndex,
        whole_units: bool,
    ) -> None:
        self.manager = manager
        self.sizers = tuple(sizers)
        self.universe = universe
        self.inputs = inputs
        self.whole_units = whole_units
        # The engine's rows: the market's bar times (a strategy's frames may be on others).
        columns = list(universe.symbols)
        self._probability = _values(signals.probability, index, columns)
        self._expected = _values(signals.expected_return, index, columns)
        self.watches_events = bool(manager.breakers)
        self.forces = bool(manager.breakers) or any(
            type(s).exits is not StopRule.exits for s in manager.stops
        )
        self.sizing: list[tuple[object, ...]] = []
        self.risk_rows: list[dict[str, object]] = []
        #: The stop working on each position at each close (heat in risk.parquet).
        self.stops_by_bar = np.full((len(index), len(universe)), np.nan)
        self.opened_at = np.full(len(universe), -1, dtype=np.int64)
        self._wins = [0.0, 0]
        self._losses = [0.0, 0]

    # -- books ---------------------------------------------------------------------------

    def book(
        self,
        t: int,
        when: pd.Timestamp,
        equity: float,
        units: np.ndarray,
        prices: np.ndarray,
        stops: np.ndarray | None = None,
    ) -> Book:
        """Return the book at bar ``t`` (inputs known before its open)."""
        inputs = self.inputs
        returns = None
        if inputs.returns is not None:
            returns = inputs.returns[max(0, t - inputs.window) : t]
        return Book(
            self.universe,
            when,
            equity,
            units,
            prices,
            features={name: values[t] for name, values in inputs.features.items()},
            market={name: float(values[t]) for name, values in inputs.market.items()},
            returns=returns,
            stops=stops,
            opened_at=self.opened_at,
            whole_units=self.whole_units,
        )

    # -- sizing --------------------------------------------------------------------------

    def size(
        self,
        book: Book,
        t_decided: np.ndarray,
        idx: np.ndarray,
        weights: np.ndarray,
        target: np.ndarray,
        stop: np.ndarray,
        take: np.ndarray,
    ) -> SizedTargets:
        """Run the sizer chain on the names ``idx`` (decided at bars ``t_decided``)."""
        cols = idx
        request = SizingRequest(
            book=book,
            index=idx,
            weights=weights[idx],
            stop=stop,
            take=take,
            probability=_pick(self._probability, t_decided, cols),
            expected_return=_pick(self._expected, t_decided, cols),
            avg_win=self._wins[0] / self._wins[1] if self._wins[1] else math.nan,
            avg_loss=self._losses[0] / self._losses[1] if self._losses[1] else math.nan,
        )
        return run_sizers(self.sizers, request, target[idx])

    def record_sizing(
        self, when: pd.Timestamp, symbol: str, intent_id: str, steps: Sequence[SizingStep]
    ) -> None:
        """Keep an order's sizing chain for the sizing table."""
        for step in steps:
            self.sizing.append(
                (when, symbol, intent_id, step.step, step.before, step.after, step.reason)
            )

    def trim(
        self,
        book: Book,
        t: int,
        idx: np.ndarray,
        target: np.ndarray,
        steps: dict[int, tuple[SizingStep, ...]],
        stop: np.ndarray,
        take: np.ndarray,
    ) -> list[dict[str, object]]:
        """Cap the targets of the names ``idx`` by the limits as if they were flat (in place).

        A position that drifted past a limit is cut back to it at its rebalance. Names held
        now come first, so room under a group limit goes to what is held before new names
        (which the order review would refuse anyway). ``stop`` and ``take`` are the signal's
        exits per symbol. Returns the audit rows (``before``/``after`` as orders: target minus
        held) and appends each cut to ``steps``.
        """
        if idx.size == 0:
            return []
        idx = idx[np.argsort(book.units[idx] == 0, kind="stable")]
        symbols = self.universe.symbols
        ids = tuple(f"{t}:{symbols[i]}" for i in idx.tolist())
        batch = IntentBatch.of(idx, target[idx], stop=stop[idx], take=take[idx], ids=ids)
        reviewed = self.manager.trim_targets(batch, book)
        if not reviewed.decisions:
            return []
        position = {name: k for k, name in enumerate(ids)}
        held = book.units
        rows: list[dict[str, object]] = []
        for d in reviewed.decisions:
            i = int(idx[position[d.intent_id]])
            order = replace(d, before=d.before - held[i], after=d.after - held[i])
            # A trim cuts the target, not the order: the order may shrink, vanish or (a
            # drifted position) turn into a sale.
            rows.append(order.row() | {"action": "trim"})
            steps[i] = (*steps.get(i, ()), SizingStep(d.piece, order.before, order.after, d.reason))
        target[idx] = reviewed.batch.quantity
        return rows

    def review(self, batch: IntentBatch, book: Book) -> BatchReview:
        """Return the manager's review of ``batch`` (pieces only; the base runs after)."""
        return self.manager.review_batch(batch, book)

    # -- events --------------------------------------------------------------------------

    def on_trade_closed(self, when: pd.Timestamp, pnl: float, entry_value: float) -> None:
        """Record a closed round trip (for Kelly's payoff ratio and the breakers)."""
        self.record_payoff(pnl, entry_value)
        if self.watches_events:
            self.manager.observe(RiskEvent("trade", when, pnl=pnl))

    def record_payoff(self, pnl: float, entry_value: float) -> None:
        """Count a closed round trip's profit (net of costs, account currency) against the
        value entered, for Kelly's average win and loss."""
        if entry_value > 0 and math.isfinite(pnl):
            ratio = pnl / entry_value
            if ratio > 0:
                self._wins[0] += ratio
                self._wins[1] += 1
            elif ratio < 0:
                self._losses[0] += -ratio
                self._losses[1] += 1

    def on_fill(self, when: pd.Timestamp, symbol: str, opening: bool) -> None:
        """Record a fill for the breakers."""
        if self.watches_events:
            self.manager.observe(RiskEvent("fill", when, opening=opening, symbol=symbol))

    def after_fills(
        self, fills: Sequence[Fill], broker: SimulatedBroker, stamp: int, when: pd.Timestamp
    ) -> None:
        """Update when each position opened, and tell the breakers of opening fills."""
        for fill in fills:
            i = broker.index[fill.symbol]
            held = float(broker.quantity[i])
            if held == 0:
                self.opened_at[i] = -1
                continue
            # A fill on the side of what is now held opened, added to or reversed it.
            opening = fill.quantity * held > 0
            if opening and (self.opened_at[i] < 0 or abs(held) <= abs(fill.quantity)):
                self.opened_at[i] = stamp
            self.on_fill(when, fill.symbol, opening)

    def on_close(self, t: int, when: pd.Timestamp, equity: float, broker: SimulatedBroker) -> None:
        """At bar ``t``'s close: mark equity for the breakers and keep their status, and the
        stops working on each position (heat and limit usage are computed after the run)."""
        self.stops_by_bar[t] = working_stops(broker)
        if self.watches_events:
            manager = self.manager
            manager.observe(RiskEvent("mark", when, equity=equity))
            statuses = manager.statuses(when)
            tripped = [s for s in statuses if s.tripped]
            self.risk_rows.append(
                {
                    "timestamp": when,
                    "tripped": ",".join(s.name for s in tripped),
                    "drawdown_tier": max((s.tier for s in statuses), default=0),
                }
            )

    def risk_frame(self) -> pd.DataFrame:
        """Return the breakers' status at every bar's close (no rows without breakers)."""
        return pd.DataFrame(self.risk_rows, columns=["timestamp", "tripped", "drawdown_tier"])

    def sizing_frame(self) -> pd.DataFrame:
        """Return the sizing chain of every order, one row per step."""
        return pd.DataFrame(
            self.sizing,
            columns=list(SIZING_COLUMNS),
        )


def working_stops(broker: SimulatedBroker) -> np.ndarray:
    """Return the price of the protective stop working on each position (NaN: none): the
    tightest of its reduce-only stops, the highest under a long, the lowest over a short."""
    return broker.reduce_only_stops()


def limit_usage_frame(
    index: pd.DatetimeIndex,
    universe: Universe,
    held: np.ndarray,
    marks: np.ndarray,
    equity: np.ndarray,
    stops: np.ndarray | None,
    limits: Sequence[Limit],
    returns: np.ndarray | None = None,
    window: int = 252,
) -> pd.DataFrame:
    """Return per bar close the book's heat and each limit's usage (observed / limit).

    ``held``, ``marks`` and ``stops`` are bars x symbols (units, close prices, working stop
    prices); ``returns`` the bars' returns (:func:`bar_returns`), of which the ``window``
    rows ending at each close feed the correlation and VaR limits. Heat follows the
    configured ``heat`` limit's convention (or its defaults).
    """
    heat_limit = next((lim for lim in limits if isinstance(lim, HeatLimit)), HeatLimit())
    columns: dict[str, np.ndarray] = {"heat": np.full(len(index), np.nan)}
    for limit in limits:
        columns[f"usage_{limit.piece_name}"] = np.full(len(index), np.nan)
    for t in range(len(index)):
        book = Book(
            universe,
            index[t],
            float(equity[t]),
            held[t],
            marks[t],
            stops=None if stops is None else stops[t],
            returns=None if returns is None else returns[max(0, t + 1 - window) : t + 1],
        )
        columns["heat"][t] = heat_limit.usage(book) * heat_limit.max_heat
        for limit in limits:
            columns[f"usage_{limit.piece_name}"][t] = limit.usage(book)
    frame = pd.DataFrame(columns)
    frame.insert(0, "timestamp", index)
    return frame


def decision_row(decision: RiskDecision, strategy: str) -> dict[str, object]:
    """Return an audit row of ``decision``."""
    row = decision.row()
    row["strategy"] = strategy
    return row


def _values(frame: pd.DataFrame | None, index: pd.Index, columns: list[str]) -> np.ndarray | None:
    if frame is None:
        return None
    return frame.reindex(index=index, columns=columns).to_numpy(np.float64)


def _pick(values: np.ndarray | None, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    if values is None:
        return np.full(len(cols), np.nan)
    out: np.ndarray = values[rows, cols]
    return out


__all__ = [
    "PIECE_FEATURES",
    "RiskBridge",
    "RiskInputs",
    "bar_returns",
    "decision_row",
    "limit_usage_frame",
    "market_series",
    "working_stops",
]
