"""Time the live path: submit to acknowledgement, fills committed per second, the 09:00 job.

Run alone (``.venv/bin/python benchmarks/live.py``, ``--orders 50 --fills 200 --symbols 20``
for a quick look) or through ``make bench``. Every figure is measured here, now, in one
process; the ledgers are SQLite files (WAL, ``synchronous = FULL``: each commit waits for the
disk) in a temporary folder on the default temporary file system (``--dir`` puts them
elsewhere). No network: the venue is :class:`~alphaforge.testing.fake_alpaca.FakeAlpaca` on
127.0.0.1, served by threads of this same process, so its own work and the GIL it shares are
inside every figure.

* submit to acknowledgement: ``--orders`` market orders placed one after another through
  :meth:`OrderGateway.place <alphaforge.execution.gateway.OrderGateway.place>` (order
  manager, ``pending_submit`` committed to the ledger, the submit through alpaca-py's
  ``TradingClient`` inside :class:`~alphaforge.execution.brokers.alpaca.AlpacaBroker`, the
  answer committed), each timed from the call until it returns, when its acknowledged state
  (``accepted``) is committed; afterwards every order is read back from the ledger to check
  that. Each order's time is split into the ledger's writes (two transactions:
  ``record_order`` of ``pending_submit`` before the send, ``record_steps`` of the answer's
  ``submitted`` and ``accepted`` together after it), its read (is the id known?),
  ``AlpacaBroker.send`` (the HTTP round trip, the fake's work included) and the rest (order
  manager, ids). The first ``WARMUP_ORDERS`` orders (the first connection,
  SQLAlchemy's statement cache) are placed untimed. The broker's token bucket is opened wide
  (``requests_per_minute`` = ``UNPACED``): at Alpaca's 200 requests a minute a burst of more
  than 200 orders waits for the bucket, which is pacing, not latency. Target: p99 < 100 ms.
* fills committed per second: ``--fills`` executions of one order, each stored with
  :meth:`Ledger.record_fill <alphaforge.storage.ledger.Ledger.record_fill>` in its own
  transaction (the fill, the order after it, its journal row, position and cash), as the
  gateway does; the order manager applies each fill first, untimed. Then the venue's fills of
  the submit benchmark's orders (the fake fills a market order as it accepts it) read back
  through :meth:`OrderGateway.sync_fills` (paged REST reads of the fake's activities, one
  ``has_fill`` read and one ``record_fill`` transaction per fill). Information, no target.
* the 09:00 signal job: there is no single public function for it yet (the scheduler's
  ``LiveTasks.signals`` is handed in by its caller and nothing builds one), so this times the
  sequence ``pipeline/trade.py`` runs for one decision (``run_trade_once`` and the scheduled
  loop), step by step: :func:`~alphaforge.pipeline.trade.load_history` of the universe from
  the bar store; a :class:`~alphaforge.live.node.TradingNode` built and seeded with the stored
  history up to the previous bar; ``start`` (recover and reconcile with the fake Alpaca);
  the newest bar of every symbol through the node's intake (``on_bar``: validation with its
  trailing window), as the scheduled loop feeds the 08:30 refresh's bars; ``decide`` (the
  strategy over the trailing window, the portfolio constructor, the decision checkpoint and
  one audit row per symbol committed to the ledger). The universe is the first ``--symbols``
  members of the bundled ``us_large_cap`` universe (its instruments and sectors), with
  ``--bars`` seeded synthetic daily bars each (``data/synthetic.py``, XNYS sessions, ten
  years by default) written to a temporary bar store; the strategy is the rule half of the
  ``seed_alpaca`` aggregate (rsi, momentum, macd, gap at its weights: its model components
  need predictions, which the live node does not give its strategies yet), the portfolio and
  risk settings are the defaults but for ``rebalance_every = 1`` (every bar a rebalance bar,
  so the decision timed sets targets). Target: the whole job under 5 minutes (seed 000's
  "signal generation: < 5 minutes for full universe"; the issue's 2 cores: the job runs in
  one process, its modules imported before it starts, as in the long-running ``trade run``).
  The first ``decide`` in a process also pays for lazy imports and compiled kernels;
  ``decide`` is run again afterwards, warm, and its computation alone
  (:func:`~alphaforge.live.decide.decide`), both outside the total, to show where it goes.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from table import Row, print_table, status  # benchmarks/table.py, beside this script

TARGET_ORDERS = 500
TARGET_P99_MS = 100.0
TARGET_FILLS = 2_000
TARGET_SYMBOLS = 200
TARGET_BARS = 2_520
TARGET_SIGNAL_S = 300.0
#: Orders placed untimed before the timed ones (first connection, statement cache).
WARMUP_ORDERS = 10
#: The broker's token bucket while timing latency (requests a minute): never waits.
UNPACED = 1_000_000
#: Symbols the submit benchmark cycles through (the fake needs a price for each).
ORDER_SYMBOLS = ("AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "JPM", "XOM")
UNIVERSE = "us_large_cap"
#: The rule components of the seed_alpaca preset, at its weights (percent).
RULE_WEIGHTS = {"rsi": 12.0, "momentum": 12.0, "macd": 10.0, "gap": 8.0}
#: When the submit benchmark's decisions are dated (one a minute after it, per order).
DECIDED_AT = pd.Timestamp("2026-12-07 14:30", tz="UTC")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Timing:
    """CPU and wall seconds of one piece of work."""

    cpu: float
    wall: float

    def s(self) -> str:
        """Return ``wall s (CPU s)``."""
        return f"{self.wall:.2f} ({self.cpu:.2f})"


def _time(work: Callable[[], T]) -> tuple[Timing, T]:
    cpu, wall = time.process_time(), time.perf_counter()
    value = work()
    return Timing(time.process_time() - cpu, time.perf_counter() - wall), value


class _Stopwatch:
    """Times the calls of one method of one object (an instance attribute shadows it)."""

    def __init__(self, owner: object, name: str) -> None:
        self.owner = owner
        self.name = name
        self.original = getattr(owner, name)
        self.seconds = 0.0
        self.calls = 0

    @classmethod
    def wrap(cls, owner: object, name: str) -> _Stopwatch:
        """Start timing ``owner.name``."""
        watch = cls(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return watch.original(*args, **kwargs)
            finally:
                watch.seconds += time.perf_counter() - start
                watch.calls += 1

        setattr(owner, name, timed)
        return watch

    @property
    def ms(self) -> float:
        """Milliseconds in the calls since the last :meth:`reset`."""
        return self.seconds * 1e3

    def reset(self) -> None:
        """Start counting afresh."""
        self.seconds = 0.0
        self.calls = 0

    def unwrap(self) -> None:
        """Stop timing (the class's method shows through again)."""
        delattr(self.owner, self.name)


def _percentile(values_ms: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values_ms, np.float64), q))


def _broker(fake: Any) -> Any:
    """The real Alpaca adapter against the fake, as the contract suite builds it, unpaced."""
    from alphaforge.execution.brokers.alpaca import AlpacaBroker

    return AlpacaBroker(
        api_key=fake.api_key,
        secret_key=fake.secret_key,
        url=fake.trading_url,
        stream_url=fake.stream_url,
        submit_timeout_s=5.0,
        read_timeout_s=5.0,
        read_retries=1,
        requests_per_minute=UNPACED,
        seed=0,
    )


def _sqlite(folder: Path, name: str) -> str:
    return f"sqlite:///{(folder / name).as_posix()}"


# --------------------------------------------------------------------------- submit to ack


def _intent(k: int) -> Any:
    from alphaforge.core.orders import OrderIntent

    symbol = ORDER_SYMBOLS[k % len(ORDER_SYMBOLS)]
    return OrderIntent(symbol, 1.0 if k % 2 == 0 else -1.0, strategy="bench", reason="signal")


def submit_rows(orders: int, folder: Path) -> list[Row]:
    """Place ``orders`` market orders through the gateway and return the latency rows."""
    from alphaforge.core.clock import SystemClock
    from alphaforge.core.orders import OrderStatus
    from alphaforge.execution.gateway import OrderGateway
    from alphaforge.storage.ledger import Ledger
    from alphaforge.testing.fake_alpaca import FakeAlpaca

    with FakeAlpaca(cash=1e9) as fake:
        for k, symbol in enumerate(ORDER_SYMBOLS):
            fake.set_price(symbol, 100.0 + 10.0 * k)
        broker = _broker(fake)
        ledger = Ledger.open(_sqlite(folder, "submit.sqlite"))
        try:
            gateway = OrderGateway(broker, ledger, SystemClock())
            # Where each order's time goes: the journal's writes and reads, the submit.
            stores = _Stopwatch.wrap(ledger, "record_order")
            steps = _Stopwatch.wrap(ledger, "record_steps")
            reads = _Stopwatch.wrap(ledger, "order")
            sends = _Stopwatch.wrap(broker, "send")
            watches = (stores, steps, reads, sends)
            latencies: list[float] = []
            parts: list[tuple[float, float, float, int]] = []
            placed = []
            for k in range(WARMUP_ORDERS + orders):
                intent = _intent(k)
                decided = DECIDED_AT + pd.Timedelta(minutes=k)
                for watch in watches:
                    watch.reset()
                start = time.perf_counter()
                order = gateway.place(intent, decided)
                elapsed = time.perf_counter() - start
                if k >= WARMUP_ORDERS:
                    latencies.append(elapsed * 1e3)
                    writes_ms = stores.ms + steps.ms
                    parts.append((writes_ms, reads.ms, sends.ms, stores.calls + steps.calls))
                    placed.append(order.id)
            for watch in watches:
                watch.unwrap()
            stored = [ledger.order(cid) for cid in placed]
            acked = sum(1 for o in stored if o is not None and o.status is OrderStatus.ACCEPTED)
            venue = len(fake.orders())
            sync, applied = _time(gateway.sync_fills)
        finally:
            ledger.close()
            broker.close()
    p99 = _percentile(latencies, 99)
    rate = applied / sync.wall if sync.wall > 0 else math.inf
    table = np.asarray(parts, np.float64)
    write_ms, read_ms, send_ms, commits = table.T
    rest_ms = np.asarray(latencies) - write_ms - read_ms - send_ms
    return [
        Row(
            f"submit to acknowledgement, {orders} market orders through OrderGateway.place "
            "(order manager, SQLite ledger, AlpacaBroker, fake Alpaca): p99 ms",
            f"{p99:.1f}",
            f"< {TARGET_P99_MS:.0f}",
            status(p99 < TARGET_P99_MS and acked == orders),
        ),
        Row(
            "  p50 / p95 / max / mean ms",
            f"{_percentile(latencies, 50):.1f} / {_percentile(latencies, 95):.1f} / "
            f"{max(latencies):.1f} / {statistics.fmean(latencies):.1f}",
            "",
            "",
        ),
        Row(
            f"  per order, p50 ms: ledger writes ({commits.mean():.0f} transactions: "
            "pending_submit; submitted and accepted together) / ledger read (id known?) / "
            "AlpacaBroker.send (HTTP to the fake, its work included) / the rest",
            f"{np.median(write_ms):.1f} / {np.median(read_ms):.1f} / {np.median(send_ms):.1f} / "
            f"{np.median(rest_ms):.1f}",
            "",
            "",
        ),
        Row(
            f"  orders accepted in the ledger / orders at the venue ({WARMUP_ORDERS} warm-up "
            "orders untimed, included at the venue)",
            f"{acked} / {venue}",
            f"{orders} / {orders + WARMUP_ORDERS}",
            status(acked == orders and venue == orders + WARMUP_ORDERS),
        ),
        Row(
            "fills through OrderGateway.sync_fills (the venue's fills of those orders: REST "
            "reads, one transaction each): fills/s; wall s (CPU s)",
            f"{rate:,.0f}; {sync.s()}",
            "",
            "",
        ),
        Row(
            "  fills applied / orders placed",
            f"{applied} / {orders + WARMUP_ORDERS}",
            f"{orders + WARMUP_ORDERS} / {orders + WARMUP_ORDERS}",
            status(applied == orders + WARMUP_ORDERS),
        ),
    ]


# --------------------------------------------------------------------------- fills


def fill_rows(fills: int, folder: Path) -> list[Row]:
    """Commit ``fills`` executions of one order, one transaction each; return the rows."""
    from alphaforge.core.orders import Fill, OrderIntent, OrderStatus
    from alphaforge.execution.orders import OrderManager
    from alphaforge.storage.ledger import Ledger

    ledger = Ledger.open(_sqlite(folder, "fills.sqlite"))
    try:
        manager = OrderManager()
        now = pd.Timestamp.now(tz="UTC")
        intent = OrderIntent("AAPL", float(fills), strategy="bench", reason="signal")
        order = manager.create_pending(intent, now, order_id="af-bench-fills")
        ledger.record_order(order, "create")
        manager.mark_submitted(order, now)
        manager.report(order, OrderStatus.ACCEPTED, now, "bench")
        ledger.record_order(order, "accepted")
        times: list[float] = []
        cpu = time.process_time()
        for k in range(fills):
            fill = Fill(
                order.id,
                "AAPL",
                now + pd.Timedelta(milliseconds=k),
                1.0,
                190.0 + 0.01 * (k % 100),
                costs=(("commission", 0.0),),
                strategy="bench",
                execution_id=f"bench-exec-{k:06d}",
            )
            manager.apply_fill(order, fill)
            start = time.perf_counter()
            ledger.record_fill(order, fill)
            times.append(time.perf_counter() - start)
        cpu = time.process_time() - cpu
        stored = len(ledger.load_fills())
        held = ledger.positions().get("AAPL", 0.0)
        final = order.status
    finally:
        ledger.close()
    wall = math.fsum(times)
    ms = [t * 1e3 for t in times]
    return [
        Row(
            f"fills committed per second, {fills} fills of one order, Ledger.record_fill "
            "(one transaction each): fills/s",
            f"{fills / wall:,.0f}",
            "",
            "",
        ),
        Row(
            "  per fill p50 / p99 / max ms; wall s in record_fill (CPU s of the loop, "
            "order manager included)",
            f"{_percentile(ms, 50):.2f} / {_percentile(ms, 99):.2f} / {max(ms):.2f}; "
            f"{wall:.2f} ({cpu:.2f})",
            "",
            "",
        ),
        Row(
            "  fills stored / position / order status",
            f"{stored} / {held:g} / {final}",
            f"{fills} / {fills} / filled",
            status(stored == fills and held == fills and final is OrderStatus.FILLED),
        ),
    ]


# --------------------------------------------------------------------------- 09:00 signals


def write_universe(symbols: int, bars: int, store_dir: Path) -> list[str]:
    """Write ``bars`` seeded synthetic daily bars for the first ``symbols`` members of the
    bundled universe to a bar store; return their symbols."""
    from alphaforge.core.types import Interval
    from alphaforge.data.synthetic import SyntheticSpec, generate_market
    from alphaforge.data.universe import load_universe
    from alphaforge.storage import BarStore

    members = [m for m in load_universe(UNIVERSE).members if m.active_until is None][:symbols]
    if len(members) < symbols:
        raise SystemExit(f"{UNIVERSE} has {len(members)} active members, fewer than {symbols}")
    # About 252 XNYS sessions a year; a few days more, then the last ``bars`` are kept.
    years = math.ceil(bars / 250) + 1
    spec = SyntheticSpec(
        n_symbols=symbols,
        n_sectors=11,
        start=date(2025 - years, 1, 1),
        end=date(2025, 12, 31),
        signal_strength=0.01,
    )
    market = generate_market(spec, seed=0)
    store = BarStore(store_dir)
    for member, frame in zip(members, market.bars.values(), strict=True):
        store.write(member.instrument, Interval.D1, frame.tail(bars), source="synthetic")
    return [m.symbol for m in members]


def _config(root: Path, symbols: list[str]) -> Any:
    from alphaforge.config import AppConfig

    return AppConfig.model_validate(
        {
            "data": {"store_dir": str(root / "store")},
            "live": {"symbols": symbols},
            "execution": {"ledger_dir": str(root / "ledger")},
            "strategy": {"aggregate": {"preset": None, "weights": RULE_WEIGHTS}},
            # Every bar a rebalance bar: the decision timed always sets targets.
            "portfolio": {"rebalance_every": 1},
        }
    )


def signal_rows(symbols: int, bars: int, folder: Path) -> list[Row]:
    """Time the 09:00 job's steps on ``symbols`` x ``bars`` stored daily bars; return rows."""
    from alphaforge.core.clock import SystemClock
    from alphaforge.core.types import Interval
    from alphaforge.live.decide import decide
    from alphaforge.live.node import TradingNode
    from alphaforge.pipeline.trade import load_history, open_ledger
    from alphaforge.testing.fake_alpaca import FakeAlpaca

    names = write_universe(symbols, bars, folder / "store")
    config = _config(folder, names)
    clock = SystemClock()
    steps: list[tuple[str, Timing]] = []
    with FakeAlpaca() as fake:
        broker = _broker(fake)
        ledger = open_ledger(config, "paper", clock)
        try:
            timing, (history, instruments) = _time(lambda: load_history(config, names, Interval.D1))
            steps.append(("load_history: stored bars of every symbol", timing))

            def build() -> TradingNode:
                node = TradingNode(config, ledger, broker, clock, instruments, Interval.D1, "paper")
                node.seed({s: b.iloc[:-1] for s, b in history.items()})
                return node

            timing, node = _time(build)
            steps.append(("TradingNode built and seeded up to the previous bar", timing))
            timing, report = _time(node.start)
            steps.append(("start: recover and reconcile with the venue", timing))
            timing, results = _time(
                lambda: [node.on_bar(s, b.iloc[[-1]]) for s, b in history.items()]
            )
            steps.append(("newest bar of each symbol through the intake (on_bar)", timing))
            timing, decision = _time(node.decide)
            steps.append(("decide: strategy, constructor, decision and audit rows stored", timing))
            audit = len(ledger.audits(decision.time))
            # Where decide's time goes (not in the total): the first call in a process pays
            # for imports and compiled kernels; a second call, and its computation alone.
            again, _ = _time(node.decide)
            compute, _ = _time(lambda: decide(node.market(), node.strategy, node.constructor))
        finally:
            ledger.close()
            broker.close()
    total = Timing(sum(t.cpu for _, t in steps), sum(t.wall for _, t in steps))
    accepted = sum(1 for r in results if r.outcome != "rejected")
    targets = int(np.isfinite(decision.weights.to_numpy(np.float64)).sum())
    signals = int(np.isfinite(decision.signal.to_numpy(np.float64)).sum())
    lookback = getattr(node.strategy, "lookback", 0)
    scaled = "" if symbols == TARGET_SYMBOLS else f" (target stated for {TARGET_SYMBOLS})"
    rows = [
        Row(
            f"09:00 signal job (pipeline/trade.py's sequence for one decision), {symbols} "
            f"symbols of {UNIVERSE} x {bars} daily bars, strategy aggregate of "
            f"{', '.join(RULE_WEIGHTS)}: wall s (CPU s)",
            total.s(),
            f"< {TARGET_SIGNAL_S:.0f}{scaled}",
            status(total.wall < TARGET_SIGNAL_S),
        )
    ]
    rows += [Row(f"  {name}: wall s (CPU s)", timing.s(), "", "") for name, timing in steps]
    rows.append(Row("  decide again, warm (not in the total): wall s (CPU s)", again.s(), "", ""))
    rows.append(
        Row(
            "    of which strategy and constructor (live.decide.decide alone; the rest is the "
            f"ledger: a checkpoint and {symbols} audit rows, one transaction each)",
            compute.s(),
            "",
            "",
        )
    )
    rows.append(
        Row(
            "  bars accepted by the intake; symbols with a signal / a target weight; strategy "
            "lookback; node window; reconcile repairs / unresolved; audit rows",
            f"{accepted} / {len(results)}; {signals} / {targets}; {lookback}; "
            f"{node.intake.window}; {len(report.repairs)} / {len(report.unresolved)}; {audit}",
            "",
            "",
        )
    )
    return rows


# --------------------------------------------------------------------------- table


def run(orders: int, fills: int, symbols: int, bars: int, folder: Path | None = None) -> list[Row]:
    """Measure every figure (ledgers and the bar store in a temporary folder); return rows."""
    with tempfile.TemporaryDirectory(prefix="alphaforge-bench-live-", dir=folder) as tmp:
        root = Path(tmp)
        rows = submit_rows(orders, root)
        rows += fill_rows(fills, root)
        rows += signal_rows(symbols, bars, root)
    # Other processes on a shared machine inflate the wall times (not the CPU times).
    rows.append(
        Row(
            f"load average (1 min) at the end, {os.cpu_count()} CPUs",
            f"{os.getloadavg()[0]:.1f}",
            "",
            "",
        )
    )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments, run the benchmark and print its table; 1 if a target failed."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--orders", type=int, default=TARGET_ORDERS, help="Orders timed.")
    parser.add_argument("--fills", type=int, default=TARGET_FILLS, help="Fills committed.")
    parser.add_argument(
        "--symbols", type=int, default=TARGET_SYMBOLS, help=f"Members of {UNIVERSE}."
    )
    parser.add_argument("--bars", type=int, default=TARGET_BARS, help="Daily bars per symbol.")
    parser.add_argument(
        "--dir", type=Path, default=None, help="Folder for the temporary ledgers and store."
    )
    args = parser.parse_args(argv)
    if args.orders < 1 or args.fills < 1 or args.symbols < 2 or args.bars < 300:
        parser.error("--orders and --fills must be >= 1, --symbols >= 2, --bars >= 300")
    started = time.perf_counter()
    rows = run(args.orders, args.fills, args.symbols, args.bars, args.dir)
    print_table(
        rows,
        f"Live: {args.orders} orders, {args.fills} fills, 09:00 job on {args.symbols} symbols x "
        f"{args.bars} daily bars; fake Alpaca on 127.0.0.1, SQLite ledgers (WAL, synchronous "
        f"FULL); {time.perf_counter() - started:.0f} s in all",
    )
    return 1 if any(row.status == "FAIL" for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
