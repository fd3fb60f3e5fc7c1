"""Ledger durability: a process SIGKILLed while recording fills leaves every fill counted once;
a reader with its own connection reads while another writes."""

from __future__ import annotations

import math
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import pandas as pd
import pytest

from alphaforge.core.orders import Fill, Order, OrderIntent, OrderStatus
from alphaforge.storage.ledger import Ledger

T0 = pd.Timestamp("2024-01-02 14:30", tz="UTC")
FUNDING = 1_000_000.0
COMMISSION = 0.5
#: Seconds a child may take to open the ledger and say it is ready.
READY_TIMEOUT = 60.0

#: Records orders and their fills in a loop until killed; each run resumes after the last fill.
CHILD = r"""
import itertools, random, sys
import pandas as pd
from alphaforge.core.orders import Fill, Order, OrderIntent, OrderStatus
from alphaforge.storage.ledger import Ledger

url, seed = sys.argv[1], int(sys.argv[2])
rng = random.Random(seed)
T0 = pd.Timestamp("2024-01-02 14:30", tz="UTC")
ledger = Ledger.open(url)
done = ledger.load_fills()
if done:  # the newest fill heard again (stream and reconciliation) counts once
    last = done[-1]
    assert not ledger.record_fill(ledger.order(last.order_id), last)
start = max((int(f.execution_id[2:]) + 1 for f in done), default=0)
print("ready", flush=True)
for n in itertools.count(start):
    symbol = rng.choice(["AAA", "BBB", "CCC"])
    quantity = float(rng.choice([-3, -1, 1, 2, 5]))
    price = round(rng.uniform(10, 200), 2)
    order = Order(f"o-{n}", OrderIntent(symbol, quantity), created_at=T0)
    order.status = OrderStatus.PENDING_SUBMIT
    ledger.record_order(order, "store")
    order.status, order.filled_quantity, order.average_price = OrderStatus.FILLED, quantity, price
    when = T0 + pd.Timedelta(seconds=n)
    costs = (("commission", 0.5),)
    fill = Fill(order.id, symbol, when, quantity, price, costs, execution_id=f"e-{n}")
    ledger.record_fill(order, fill, checkpoint=("fills", f"e-{n}"))
"""


def _run_and_kill(url: str, seed: int, rng: random.Random) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, url, str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()  # blocks until the child opened the ledger
        assert line.strip() == "ready", child.stderr.read() if child.stderr else ""
        time.sleep(rng.uniform(0.0, 0.25))
        assert child.poll() is None, child.stderr.read() if child.stderr else ""
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=READY_TIMEOUT)
        for stream in (child.stdout, child.stderr):
            if stream is not None:
                stream.close()


def _check_consistent(url: str) -> int:
    """Assert each stored fill's effect is in the ledger exactly once; return the fill count."""
    with Ledger.open(url) as ledger:
        fills = ledger.load_fills()
        ids = [f.execution_id for f in fills]
        assert len(ids) == len(set(ids))
        held: dict[str, float] = defaultdict(float)
        for fill in fills:
            held[fill.symbol] += fill.quantity
        expected = {symbol: q for symbol, q in held.items() if abs(q) > 1e-9}
        assert ledger.positions() == pytest.approx(expected)
        spent = math.fsum(f.quantity * f.price + COMMISSION for f in fills)
        assert ledger.cash() == pytest.approx(FUNDING - spent, abs=1e-6)
        orders = {o.id: o for o in ledger.load_orders()}
        filled = {o.id for o in orders.values() if o.status is OrderStatus.FILLED}
        assert filled == {f.order_id for f in fills}  # no order marked filled without its fill
        for fill in fills:
            assert orders[fill.order_id].filled_quantity == fill.quantity
        if fills:
            newest = max(fills, key=lambda f: int(f.execution_id[2:]))
            assert ledger.checkpoint("fills") == newest.execution_id
        return len(fills)


def _kill_repeatedly(url: str, kills: int, seed: int) -> None:
    with Ledger.open(url) as ledger:
        ledger.set_cash(FUNDING, "funding")
    rng = random.Random(seed)
    counts = []
    for kill in range(kills):
        _run_and_kill(url, seed * 1000 + kill, rng)
        counts.append(_check_consistent(url))
    assert counts == sorted(counts) and counts[-1] > 0  # fills were recorded and none lost


def test_sigkill_while_recording_fills_loses_and_doubles_nothing(ledger_url: str) -> None:
    _kill_repeatedly(ledger_url, kills=8, seed=14)


@pytest.mark.slow
def test_a_hundred_sigkills_while_recording_fills(ledger_url: str) -> None:
    _kill_repeatedly(ledger_url, kills=100, seed=140)


def test_a_reader_reads_while_another_connection_writes(ledger_url: str) -> None:
    """WAL on SQLite (MVCC on PostgreSQL): reads never wait for, or see half of, a write."""
    with Ledger.open(ledger_url) as writer, Ledger.open(ledger_url, busy_timeout_ms=50) as reader:
        writer.set_cash(FUNDING, "funding")
        errors: list[BaseException] = []
        stop = threading.Event()
        seen: list[int] = []

        def write() -> None:
            try:
                for n in range(150):
                    order = Order(f"o-{n}", OrderIntent("AAA", 1.0), created_at=T0)
                    order.status, order.filled_quantity, order.average_price = (
                        OrderStatus.FILLED,
                        1.0,
                        100.0,
                    )
                    fill = Fill(order.id, "AAA", T0, 1.0, 100.0, execution_id=f"e-{n}")
                    writer.record_fill(order, fill)
            except BaseException as exc:  # reported by the test thread
                errors.append(exc)
            finally:
                stop.set()

        thread = threading.Thread(target=write)
        thread.start()
        while not stop.is_set():
            count = len(reader.fills())
            seen.append(count)
        thread.join()
        assert not errors
        assert seen == sorted(seen)  # each read is a committed state, never going back
        assert reader.positions() == {"AAA": 150.0}
        assert reader.cash() == pytest.approx(FUNDING - 150 * 100.0)


def test_sqlite_reads_while_a_write_transaction_is_open(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    with Ledger.open(f"sqlite:///{path}", busy_timeout_ms=50) as ledger:
        ledger.set_cash(5.0, "funding")
        with ledger.engine.connect() as conn:
            conn.execution_options(alphaforge_immediate=True)
            with conn.begin():
                conn.exec_driver_sql("UPDATE cash SET amount = 6.0")
                assert ledger.cash() == 5.0  # not blocked, and the uncommitted write unseen
        assert ledger.cash() == 6.0
