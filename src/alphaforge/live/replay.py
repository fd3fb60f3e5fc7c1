"""Replay a dry-run trading day on recorded bars, through the real live path.

:func:`replay_dry_run` drives a :class:`~alphaforge.live.node.TradingNode` with the dry-run
venue (:class:`~alphaforge.execution.brokers.simulated.SimulatedVenue`), a simulated clock
and a real ledger, bar by bar, as a dry run receiving those bars would:

1. the node is seeded with the bars before ``start`` and decides at the last one's close;
2. for each recorded bar from ``start`` on, with the clock at the bar's open stamp:

   a. the pending decision is executed (:meth:`TradingNode.execute`), sized at the bar's
      fill prices (its open under ``backtest.fill_price: next_open``, as the engine sizes);
   b. the bar goes to the venue, whose working orders fill on it, and the node reads the
      fills (:meth:`OrderGateway.sync_fills`) into the ledger;
   c. the bar passes the node's intake (validation with its trailing window);
   d. the node decides at the bar's close, for the next bar.

The venue prices fills with the engine's own cost coster (the configured cost schedule with
the cost models' market context), so the orders and fills it returns can be compared with
:func:`~alphaforge.backtest.runner.run_strategy_backtest`'s over the same bars
(``tests/integration/test_trade_parity.py``).

What the live path does not do as the engine does (known and left as they are):

- the engine keeps a symbol's target until that symbol's next bar; the node decides once
  per bar of the union calendar, so a symbol without a bar when the order would be placed
  gets a fresh decision at the next close instead (the same whenever all symbols share one
  calendar, as stocks of one exchange do);
- the node runs the strategy and constructor over a trailing window
  (``max(live.warmup_bars, lookback + 2)`` bars), the engine over the whole history: a
  constructor whose schedule is counted from the first bar it sees (``top_k`` with
  ``rebalance_every`` > 1) rebalances on other bars; one that rebalances every bar, or sets
  targets when a signal changes (``target_weights``), decides the same;
- the dry-run venue fills without a participation cap, and day orders never expire there
  (the engine caps fills at ``backtest.participation`` x volume and expires day orders at
  the session's last bar); the two agree while orders stay under the cap. The node also
  cancels a working signal order of an earlier decision for every symbol of a new one, the
  engine only for symbols with a new target;
- holding costs (borrow, carry), corporate actions, delisting exits and stop entries are
  the engine's alone. The risk preset's sizers, limits, stops (time stops included),
  filters and breakers run in both
  (:mod:`alphaforge.live.risk`), on inputs the node computes over its trailing window.
  Bracket exits (a strategy's or a stop rule's stops and targets) are the dry-run venue's
  own orders, as Alpaca's legs are: the node adopts them from the update stream, and
  cancels them when a new target closes or reverses their position, as the engine does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from alphaforge.backtest.costs import CostSchedule
from alphaforge.backtest.engine import _Coster
from alphaforge.backtest.runner import market_context
from alphaforge.config.models import AppConfig
from alphaforge.core.clock import SimulatedClock
from alphaforge.core.errors import DataError
from alphaforge.core.orders import OrderIntent
from alphaforge.core.types import Instrument
from alphaforge.execution.brokers.simulated import SimulatedVenue
from alphaforge.execution.simulated import BarView
from alphaforge.live.decide import Decision
from alphaforge.live.intake import IntakeResult
from alphaforge.live.node import FUNDED_CHECKPOINT, TradingNode
from alphaforge.storage.ledger import Ledger
from alphaforge.strategies.base import MarketFrames

#: The columns of :attr:`ReplayResult.orders`.
ORDER_COLUMNS = ("time", "symbol", "quantity", "client_id", "status", "filled_quantity")
#: The columns of :attr:`ReplayResult.fills`.
FILL_COLUMNS = ("time", "symbol", "quantity", "price", "cost", "client_id")


@dataclass(frozen=True, slots=True)
class StartingBook:
    """The book a replay starts from: cash (account currency), signed units per symbol and
    the protective stops working on the positions (reduce-only orders at the venue)."""

    cash: float
    positions: Mapping[str, float] = field(default_factory=dict)
    stops: Sequence[OrderIntent] = ()


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """What a replayed dry run produced.

    ``orders``: one row per order the node placed (:data:`ORDER_COLUMNS`; ``time`` is when it
    was placed, the bar's open stamp, UTC; ``quantity`` signed units). ``fills``: one row per
    fill (:data:`FILL_COLUMNS`; ``price`` per unit, ``cost`` the fill's total cost, account
    currency). ``positions`` and ``cash``: the ledger's book at the end. ``intake``: what the
    intake did with each replayed bar. ``refusals``: the risk checks' resizes and refusals.
    """

    orders: pd.DataFrame
    fills: pd.DataFrame
    positions: dict[str, float]
    cash: float
    intake: list[IntakeResult]
    refusals: list[dict[str, object]]


def replay_dry_run(
    bars: Mapping[str, pd.DataFrame],
    instruments: Mapping[str, Instrument],
    config: AppConfig,
    *,
    start: pd.Timestamp,
    ledger_url: str,
    book: StartingBook | None = None,
) -> ReplayResult:
    """Replay the recorded ``bars`` from ``start`` through the live node; return what it did.

    Parameters
    ----------
    bars
        Recorded canonical bars per symbol (UTC bar open stamps, validated as the store keeps
        them); those before ``start`` seed the node, the rest are replayed one by one.
    instruments
        The traded instruments by symbol.
    config
        Strategy, portfolio, risk and backtest (capital, fill price, costs) settings.
    start
        The first replayed bar's open stamp (UTC).
    ledger_url
        A new ledger for the replay (``sqlite:///...``).
    book
        The book at ``start`` (a day continues yesterday's book); flat with
        ``backtest.initial_capital`` in cash when None.

    Raises
    ------
    DataError
        When there is nothing before ``start`` to decide on, or nothing from it to replay.
    """
    start = _utc(start)
    market = MarketFrames.from_bars(bars, instruments, None, None, config.data.interval)
    index = market.index
    first = int(index.searchsorted(start))
    if first == 0 or first == len(index):
        raise DataError(
            f"Replaying from {start} needs recorded bars before and from it "
            f"({index[0] if len(index) else 'none'} to {index[-1] if len(index) else 'none'}).",
            hint="Pick a start inside the recorded range, after the strategy's warm-up.",
        )
    book = book or StartingBook(config.backtest.initial_capital)
    clock = SimulatedClock(index[first - 1])
    ledger = Ledger.open(ledger_url, clock=clock)
    try:
        return _replay(market, bars, config, ledger, clock, first, book)
    finally:
        ledger.close()


def _replay(
    market: MarketFrames,
    bars: Mapping[str, pd.DataFrame],
    config: AppConfig,
    ledger: Ledger,
    clock: SimulatedClock,
    first: int,
    book: StartingBook,
) -> ReplayResult:
    symbols, index = market.symbols, market.index
    coster = engine_coster(market, config)
    venue = SimulatedVenue(
        symbols,
        book.cash,
        clock,
        coster=coster,
        fill_price=config.backtest.fill_price,
        whole_units=config.portfolio.units == "whole",
    )
    # Each symbol's last close before the replay (the engine's broker remembers it).
    _fund(ledger, venue, book, market.close.iloc[:first].ffill().iloc[-1])
    node = TradingNode(
        config, ledger, venue, clock, market.instruments, market.interval or config.data.interval
    )
    node.seed({s: frame[frame.index < index[first]] for s, frame in bars.items()})
    node.start()
    # As a trading session listens: fills, the venue's own cancels and a bracket's legs.
    venue.stream(node.on_update)
    refusals: list[dict[str, object]] = []
    intake: list[IntakeResult] = []
    decision: Decision | None = node.decide()
    arrays = {f: getattr(market, f).to_numpy(np.float64) for f in _FIELDS}
    for t in range(first, len(index)):
        when = index[t]
        clock.advance_to(when)
        coster.row = t
        o, h, lo, c, v = (arrays[f][t] for f in _FIELDS)
        active = np.isfinite(o) & np.isfinite(c) & (o > 0) & (c > 0)
        bar = BarView(when, o, h, lo, c, v, active)
        if decision is not None:
            fill_at = venue.broker.fill_prices(bar)
            prices = {s: float(fill_at[i]) for i, s in enumerate(symbols) if active[i]}
            refusals.extend(node.execute(decision, prices).refusals)
        venue.on_bar(bar)
        node.gateway.sync_fills()
        # The breakers see the close's equity and the new fills, as the engine's do.
        node.check_breakers()
        for i, symbol in enumerate(symbols):
            if active[i]:
                intake.append(node.on_bar(symbol, bars[symbol].loc[[when]]))
        decision = node.decide() if t + 1 < len(index) else None
    return ReplayResult(
        _orders(ledger, index[first]),
        _fills(ledger, index[first]),
        ledger.positions(),
        ledger.cash(),
        intake,
        refusals,
    )


_FIELDS = ("open", "high", "low", "close", "volume")


def engine_coster(market: MarketFrames, config: AppConfig) -> _Coster:
    """Return the engine's coster over ``market``: the same cost per fill as the backtest.

    The cost models' context (volatility, volume, spread) at each bar comes from the bars
    before it only (:func:`~alphaforge.backtest.runner.market_context`), so computing it over
    the whole recording reads nothing a live node would not have known.
    """
    schedule = CostSchedule.from_config(config.backtest)
    symbols = market.symbols
    context = market_context(market, spreads="half_spread" in schedule.components())
    ctx = {
        key: frame.reindex(index=market.index, columns=symbols).to_numpy(np.float64)
        for key, frame in context.items()
    }
    classes = [market.instruments[s].asset_class for s in symbols]
    return _Coster(schedule, symbols, classes, ctx)


def _fund(ledger: Ledger, venue: SimulatedVenue, book: StartingBook, closes: pd.Series) -> None:
    """Give the new ledger and the venue the starting book, as a dry run's first start does.

    The ledger is funded here (checkpoint ``funded``), so :meth:`TradingNode.start` finds it
    funded and its reconcile finds ledger and venue equal. The venue remembers each symbol's
    last close before the replay, as the engine's broker does at that bar.
    """
    if ledger.checkpoint(FUNDED_CHECKPOINT) is not None or ledger.load_orders():
        raise DataError(
            "A replay needs a new ledger; this one already holds a book.",
            hint="Pass the URL of a database that does not exist yet.",
        )
    sim = venue.broker
    unknown = sorted(set(book.positions) - set(sim.symbols))
    if unknown:
        raise DataError(
            f"The starting book holds {', '.join(unknown)}, which the recorded bars lack.",
            hint="Pass bars of every symbol held, or leave it out of the book.",
        )
    ledger.set_cash(book.cash, "replay: starting cash")
    sim.cash = float(book.cash)
    for symbol, quantity in sorted(book.positions.items()):
        if quantity != 0:
            ledger.adjust_position(symbol, quantity, "replay: starting book", rule="replay")
            sim.quantity[sim.index[symbol]] = float(quantity)
    ledger.set_checkpoint(FUNDED_CHECKPOINT, "1")
    sim.last_price[:] = closes.reindex(sim.symbols).to_numpy(np.float64)
    for stop in book.stops:
        # Placed by the venue itself, as a bracket's leg is: the node adopts it at its start.
        venue.hold(stop)


def _orders(ledger: Ledger, since: pd.Timestamp) -> pd.DataFrame:
    rows = [
        {
            "time": order.created_at,
            "symbol": order.symbol,
            "quantity": order.intent.quantity,
            "client_id": order.id,
            "status": str(order.status),
            "filled_quantity": order.filled_quantity,
        }
        for order in ledger.load_orders()
        if order.created_at >= since
    ]
    frame = pd.DataFrame(rows, columns=list(ORDER_COLUMNS))
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    return frame.sort_values(["time", "symbol"], kind="stable").reset_index(drop=True)


def _fills(ledger: Ledger, since: pd.Timestamp) -> pd.DataFrame:
    fills = ledger.fills(since)
    frame = fills.loc[:, list(FILL_COLUMNS)]
    return frame.sort_values(["time", "symbol"], kind="stable").reset_index(drop=True)


def _utc(when: pd.Timestamp) -> pd.Timestamp:
    stamp = pd.Timestamp(when)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


__all__ = [
    "FILL_COLUMNS",
    "ORDER_COLUMNS",
    "ReplayResult",
    "StartingBook",
    "engine_coster",
    "replay_dry_run",
]
