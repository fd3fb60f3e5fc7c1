"""What the API and the pages read from the trading ledger, as plain tables and values.

Pure reads: nothing here writes. Times are UTC. Money is in the account's quote currency
(USD for the Alpaca account). Marks come from the bar store: a position is valued at the last
stored close at or before the time asked, else at its last fill price.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select

from alphaforge.core.types import Instrument, Interval
from alphaforge.data.universe import load_universe
from alphaforge.storage import ledger_tables as tables
from alphaforge.storage.bar_store import BarStore
from alphaforge.storage.ledger import Ledger

__all__ = [
    "EquityCurve",
    "Heartbeat",
    "StoredCloses",
    "equity_curve",
    "heartbeat",
    "instruments",
    "ledger_version",
    "positions_table",
    "trades_table",
]

#: Reconcile-event kind of a cash change (funding, or the broker's figure).
_CASH_EVENT = "cash"


@dataclass(frozen=True)
class Heartbeat:
    """The newest node heartbeat and whether it is recent enough to call the node alive."""

    node: str | None
    time: pd.Timestamp | None
    alive: bool
    details: dict[str, Any]

    def text(self) -> str:
        """One line for the page banner: ``node-paper alive (14:02:11 UTC)`` or why not."""
        if self.time is None:
            return "no heartbeat yet: start the node with alphaforge trade run"
        stamp = f"{self.time:%Y-%m-%d %H:%M:%S} UTC"
        return f"{self.node} alive ({stamp})" if self.alive else f"no heartbeat since {stamp}"


def heartbeat(ledger: Ledger, now: pd.Timestamp, stale_s: float) -> Heartbeat:
    """Return the newest heartbeat of any node; alive when younger than ``stale_s`` seconds."""
    beats = ledger.heartbeats()
    if not beats:
        return Heartbeat(None, None, False, {})
    last = max(beats, key=lambda b: b.time)
    alive = (now - last.time).total_seconds() <= stale_s
    return Heartbeat(last.node, last.time, alive, dict(last.details))


@functools.lru_cache(maxsize=16)
def instruments(universe: str) -> dict[str, Instrument]:
    """Return the universe's instruments by symbol (empty when the universe cannot be read)."""
    try:
        members = load_universe(universe).members
    except Exception:  # an unknown universe must not take the pages down
        return {}
    return {m.instrument.symbol: m.instrument for m in members}


def _no_closes() -> pd.Series:
    return pd.Series(dtype="float64", index=pd.DatetimeIndex([], tz="UTC"))


class StoredCloses:
    """The bar store's closes per symbol, stamped at each bar's close (a bar is stamped at
    its open; its close is known one bar later, never earlier).

    Read once per version of the store's manifest (its modification time), so the pages and
    the API do not re-read Parquet files on every request; thread-safe.
    """

    def __init__(self, store_dir: Path, interval: Interval) -> None:
        self.store = BarStore(store_dir)
        self.interval = interval
        self._lock = threading.Lock()
        self._version: int | None = None
        self._cache: dict[str, pd.Series] = {}

    def version(self) -> int:
        """The manifest's modification time (ns), 0 when there is no store yet."""
        try:
            return self.store.manifest_path.stat().st_mtime_ns
        except OSError:
            return 0

    def __call__(self, symbol: str) -> pd.Series:
        """Return the stored closes of ``symbol``, empty when none are stored."""
        version = self.version()
        with self._lock:
            if version != self._version:
                self._cache, self._version = {}, version
            if symbol in self._cache:
                return self._cache[symbol]
        series = self._read(symbol)
        with self._lock:
            self._cache[symbol] = series
        return series

    def _read(self, symbol: str) -> pd.Series:
        try:
            if not self.store.exists(symbol, self.interval):
                return _no_closes()
            bars = self.store.read(symbol, self.interval)
        except Exception:  # a damaged series: no marks for it, the fills still mark it
            return _no_closes()
        if bars.empty:
            return _no_closes()
        close_time = pd.DatetimeIndex(bars.index) + self.interval.nominal
        return pd.Series(bars["close"].to_numpy(dtype="float64"), index=close_time)

    def last(self, symbols: Sequence[str], at: pd.Timestamp) -> dict[str, float]:
        """Return the last stored close at or before ``at`` of each symbol that has one."""
        marks: dict[str, float] = {}
        for symbol in symbols:
            closes = self(symbol)
            closes = closes[closes.index <= at]
            if not closes.empty:
                marks[symbol] = float(closes.iloc[-1])
        return marks


@dataclass(frozen=True)
class EquityCurve:
    """Account value over time, recomputed from the ledger's cash events and fills.

    ``frame`` has columns ``equity``, ``cash``, ``positions``, ``drawdown`` (fraction below
    the running peak, <= 0) indexed by UTC time: one row per cash event, per fill and per
    stored bar close while something is held.
    """

    frame: pd.DataFrame

    @property
    def empty(self) -> bool:
        """True when the ledger has neither funding nor fills."""
        return self.frame.empty

    def until(self, now: pd.Timestamp) -> EquityCurve:
        """The curve up to ``now`` with a last row at ``now`` (the values since the last event
        or close; closes stamped after ``now`` are left out)."""
        frame = self.frame[self.frame.index <= now]
        if frame.empty or frame.index[-1] == now:
            return EquityCurve(frame)
        last = frame.iloc[[-1]].copy()
        last.index = pd.DatetimeIndex([now], name=frame.index.name)
        return EquityCurve(pd.concat([frame, last]))


def _cash_events(ledger: Ledger) -> list[tuple[pd.Timestamp, float]]:
    """Return (time, new balance) of each cash setting, oldest first."""
    events = []
    for row in ledger.reconcile_events():
        if row.kind == _CASH_EVENT and row.after is not None:
            try:
                events.append((row.time, float(row.after)))
            except ValueError:  # a hand-written note instead of a number: not a balance
                continue
    return events


def ledger_version(ledger: Ledger) -> tuple[int, int]:
    """The newest fill and reconcile-event ids: the equity changes only when one does."""
    with ledger.engine.connect() as conn:
        fill = conn.execute(select(func.max(tables.fills.c.id))).scalar()
        event = conn.execute(select(func.max(tables.reconcile_events.c.id))).scalar()
    return int(fill or 0), int(event or 0)


def equity_curve(ledger: Ledger, closes: StoredCloses) -> EquityCurve:
    """Recompute the account's value from its cash settings and fills, marked at stored closes.

    Cash starts at each cash setting's balance; a fill of ``q`` units at ``p`` with costs
    ``c`` moves cash by ``-(q * p) - c`` and the position by ``q``. A cash setting after the
    first replaces the running balance (the broker's figure is the truth). A position is
    marked at its newest known price at each time: the last stored close or its last fill,
    whichever came later.
    """
    fills = ledger.fills()
    cash_events = _cash_events(ledger)
    columns = ["equity", "cash", "positions", "drawdown"]
    if fills.empty and not cash_events:
        return EquityCurve(pd.DataFrame(columns=columns, dtype="float64"))
    symbols = sorted(set(fills["symbol"])) if not fills.empty else []
    marks = {s: closes(s) for s in symbols}
    start = min([t for t, _ in cash_events] + ([fills["time"].min()] if not fills.empty else []))
    stamps = {t for t, _ in cash_events} | set(fills["time"])
    for series in marks.values():
        stamps |= set(series.index[series.index >= start])
    grid = pd.DatetimeIndex(sorted(stamps))
    cash = _running_cash(cash_events, fills).reindex(grid, method="ffill").fillna(0.0)
    held = pd.Series(0.0, index=grid)
    for symbol in symbols:
        mine = fills[fills["symbol"] == symbol]
        units = mine.groupby("time")["quantity"].sum().cumsum()
        position = units.reindex(grid, method="ffill").fillna(0.0)
        # Closes first, then fills: at the same instant the fill is the newer price.
        last_fills: pd.Series = mine.groupby("time")["price"].last()
        prices = pd.concat([marks[symbol], last_fills]).sort_index(kind="stable")
        mark = prices[~prices.index.duplicated(keep="last")].reindex(grid, method="ffill")
        held += (position * mark).where(position != 0, 0.0).fillna(0.0)
    frame = pd.DataFrame({"equity": cash + held, "cash": cash, "positions": held}, index=grid)
    frame.index.name = "time"
    peak = frame["equity"].cummax()
    frame["drawdown"] = np.where(peak > 0, frame["equity"] / peak - 1.0, 0.0)
    return EquityCurve(frame)


def _running_cash(cash_events: list[tuple[pd.Timestamp, float]], fills: pd.DataFrame) -> pd.Series:
    """Cash after each cash setting and fill, by time (the last balance of each instant)."""
    events: list[tuple[pd.Timestamp, int, float]] = [(t, 0, amount) for t, amount in cash_events]
    flows = -(fills["quantity"] * fills["price"]) - fills["cost"]
    events += [(pd.Timestamp(t), 1, float(f)) for t, f in zip(fills["time"], flows, strict=True)]
    events.sort(key=lambda e: (e[0], e[1]))
    balance = 0.0
    times, values = [], []
    for time, kind, value in events:
        balance = value if kind == 0 else balance + value
        times.append(time)
        values.append(balance)
    series = pd.Series(values, index=pd.DatetimeIndex(times), dtype="float64")
    return series[~series.index.duplicated(keep="last")]


def positions_table(
    ledger: Ledger,
    marks: Mapping[str, float],
    known: Mapping[str, Instrument],
) -> pd.DataFrame:
    """Return one row per held symbol: quantity, average cost, mark, value, unrealised P&L.

    The average cost is of the fills since the position last opened from flat (quote
    currency per unit, costs left out); the mark is ``marks[symbol]`` else the last fill.
    """
    fills = ledger.fills()
    rows = []
    for symbol, quantity in sorted(ledger.positions().items()):
        mine = fills[fills["symbol"] == symbol]
        average, last = _average_cost(mine)
        mark = marks.get(symbol, last)
        instrument = known.get(symbol)
        rows.append(
            {
                "symbol": symbol,
                "quantity": quantity,
                "average_price": average,
                "last_price": mark,
                "market_value": None if mark is None else quantity * mark,
                "unrealized_pnl": None
                if mark is None or average is None
                else quantity * (mark - average),
                "asset_class": str(instrument.asset_class) if instrument else "unknown",
                "sector": (instrument.sector or "") if instrument else "",
                "currency": instrument.currency if instrument else "USD",
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "symbol",
            "quantity",
            "average_price",
            "last_price",
            "market_value",
            "unrealized_pnl",
            "asset_class",
            "sector",
            "currency",
        ],
    )


def _average_cost(fills: pd.DataFrame) -> tuple[float | None, float | None]:
    """Average entry price of the open position built by ``fills`` (oldest first), last price."""
    held = 0.0
    cost = 0.0
    last = None
    for quantity, price in zip(fills["quantity"], fills["price"], strict=True):
        last = float(price)
        if held == 0 or np.sign(quantity) == np.sign(held):
            cost += quantity * price
            held += quantity
        else:
            closing = min(abs(quantity), abs(held)) * np.sign(quantity)
            if abs(held) > 1e-12:
                cost *= (held + closing) / held
            held += closing
            rest = quantity - closing
            if abs(held) < 1e-12:
                held, cost = 0.0, 0.0
            if abs(rest) > 1e-12:
                held, cost = rest, rest * price
    if abs(held) < 1e-12:
        return None, last
    return cost / held, last


def trades_table(ledger: Ledger) -> pd.DataFrame:
    """Return the round trips of the ledger's fills: entry, exit, side, quantity, P&L, costs.

    A round trip runs from a fill that opens a position from flat to the fill that brings it
    back to flat (a reversal closes one trip and opens the next). P&L is in quote currency,
    net of the fills' costs; an open trip has no exit.
    """
    fills = ledger.fills()
    columns = [
        "symbol",
        "side",
        "quantity",
        "entry_time",
        "entry_price",
        "exit_time",
        "exit_price",
        "pnl",
        "costs",
        "return_pct",
        "strategy",
    ]
    trips: list[dict[str, Any]] = []
    for symbol, mine in fills.groupby("symbol", sort=True):
        held = 0.0
        trip: dict[str, Any] | None = None
        for row in mine.to_dict("records"):
            quantity, price, cost = float(row["quantity"]), float(row["price"]), float(row["cost"])
            while abs(quantity) > 1e-12:
                if trip is None:
                    trip = {
                        "symbol": symbol,
                        "side": "long" if quantity > 0 else "short",
                        "quantity": 0.0,
                        "entry_time": row["time"],
                        "entry_value": 0.0,
                        "exit_value": 0.0,
                        "exit_quantity": 0.0,
                        "costs": 0.0,
                        "strategy": row["strategy"],
                    }
                sign = 1.0 if trip["side"] == "long" else -1.0
                if np.sign(quantity) == sign:
                    trip["quantity"] += abs(quantity)
                    trip["entry_value"] += abs(quantity) * price
                    trip["costs"] += cost
                    held += quantity
                    quantity = 0.0
                    continue
                closing = min(abs(quantity), abs(held))
                share = closing / abs(quantity)
                trip["exit_value"] += closing * price
                trip["exit_quantity"] += closing
                trip["costs"] += cost * share
                cost *= 1 - share
                held += closing * np.sign(quantity)
                quantity -= closing * np.sign(quantity)
                if abs(held) < 1e-12:
                    held = 0.0
                    trip["exit_time"] = row["time"]
                    trips.append(_finish(trip, price))
                    trip = None
        if trip is not None:
            trips.append(_finish(trip, None))
    frame = pd.DataFrame(trips, columns=columns)
    return frame.sort_values("entry_time", kind="stable").reset_index(drop=True)


def _finish(trip: dict[str, Any], exit_price: float | None) -> dict[str, Any]:
    entry_price = trip["entry_value"] / trip["quantity"]
    sign = 1.0 if trip["side"] == "long" else -1.0
    pnl = None
    average_exit = None
    if exit_price is not None and trip["exit_quantity"] > 0:
        average_exit = trip["exit_value"] / trip["exit_quantity"]
        pnl = sign * (trip["exit_value"] - entry_price * trip["exit_quantity"]) - trip["costs"]
    return {
        "symbol": trip["symbol"],
        "side": trip["side"],
        "quantity": trip["quantity"],
        "entry_time": trip["entry_time"],
        "entry_price": entry_price,
        "exit_time": trip.get("exit_time"),
        "exit_price": average_exit,
        "pnl": pnl,
        "costs": trip["costs"],
        "return_pct": None if pnl is None else 100.0 * pnl / trip["entry_value"],
        "strategy": trip["strategy"],
    }
