"""Crash safety by killing: the trading process is SIGKILLed at the dangerous points and at
random times, restarted each time, and the fake Alpaca venue (which outlives it) is checked:
no intent ever has two broker orders, no fill is lost, and the ledger equals the broker after
every completed restart.

The process is ``alphaforge.testing.crash_trader`` (the real gateway, ledger and Alpaca
adapter, without the strategy stack, so that hundreds of restarts stay quick). Its named
failpoints: ``before_store`` (intent decided, nothing written), ``after_store`` (written,
not sent), ``after_response`` (the venue answered, the answer not yet written) and
``during_fill`` (a fill applied in memory, not yet written); "after sending" is a submit the
venue received and stalls, killed from outside.

The ledger is SQLite; the named points that interrupt a transaction, the kill while sending
and a handful of random kills also run on a PostgreSQL ledger (``tests/pg.py``'s throwaway
cluster, skipped with the reason when it cannot start), as does one ``alphaforge trade run``
reading ``execution.ledger_url``.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from alphaforge.config import load_config
from alphaforge.core.failpoints import CRASH_ENV
from alphaforge.execution.brokers import create_broker
from alphaforge.features.testing import real_bars
from alphaforge.storage.ledger import Ledger
from alphaforge.testing.fake_alpaca import FakeAlpaca

if TYPE_CHECKING:
    from conftest import RunCli

SYMBOLS = ("SPY", "QQQ", "IWM")
NAMED = ("before_store", "after_store", "after_response", "during_fill")
#: The named points run on a PostgreSQL ledger too: those with a transaction at stake.
PG_NAMED = ("after_store", "after_response", "during_fill")
ORDERS = "/v2/orders"
#: One client id per (decision, symbol): ``af-YYMMDDHHMM-<16 hex>``, no attempt suffix.
CLIENT_ID = re.compile(r"^af-\d{10}-[0-9a-f]{16}$")


@pytest.fixture
def venue() -> Iterator[FakeAlpaca]:
    with FakeAlpaca(paper=True) as fake:
        for k, symbol in enumerate(SYMBOLS):
            fake.set_price(symbol, 100.0 + 10 * k)
        yield fake


def _env(fake: FakeAlpaca, crash: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALPHAFORGE_")}
    env.update(fake.env())
    env["ALPHAFORGE_EXECUTION__SUBMIT_TIMEOUT_S"] = "1.0"
    env["ALPHAFORGE_EXECUTION__READ_TIMEOUT_S"] = "2.0"
    if crash:
        env[CRASH_ENV] = crash
    return env


def _command(url: str, cycle: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "alphaforge.testing.crash_trader",
        "--ledger",
        url,
        "--cycle",
        str(cycle),
        "--symbols",
        ",".join(SYMBOLS),
    ]


def _run(
    fake: FakeAlpaca, url: str, cycle: int, crash: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _command(url, cycle), env=_env(fake, crash), capture_output=True, text=True, timeout=120
    )


def _kill_after(fake: FakeAlpaca, url: str, cycle: int, seconds: float) -> int:
    process = subprocess.Popen(
        _command(url, cycle), env=_env(fake), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    time.sleep(seconds)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    return process.returncode


def _kill_while_sending(fake: FakeAlpaca, url: str, cycle: int) -> int:
    """Kill the process while the venue holds its first submit (received, not answered)."""
    before = fake.requests("POST", ORDERS)
    fake.stall("POST", ORDERS, seconds=3.0)
    process = subprocess.Popen(
        _command(url, cycle), env=_env(fake), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    # A process with nothing left to send (its orders went out before an earlier kill) exits
    # without a submit: nothing to wait for.
    while (
        fake.requests("POST", ORDERS) == before
        and process.poll() is None
        and time.monotonic() < deadline
    ):
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    fake.clear_faults()
    return process.returncode


def assert_no_duplicates(fake: FakeAlpaca) -> None:
    """One broker order per intent: every client id is a first attempt, none repeats."""
    ids = [o["client_order_id"] for o in fake.orders()]
    assert all(CLIENT_ID.match(i) for i in ids), ids
    assert max(Counter(ids).values(), default=1) == 1


def assert_ledger_equals_broker(fake: FakeAlpaca, url: str) -> None:
    """The ledger's fills, positions and orders are the broker's."""
    broker = create_broker(load_config(None, environ=_env(fake), dotenv_path=None), "paper")
    try:
        venue_fills, _ = broker.fills_since(None)
        venue_positions = broker.positions()
    finally:
        broker.close()
    ledger = Ledger.open(url)
    try:
        fills = ledger.fills()
        ours = set(fills["execution_id"]) if len(fills) else set()
        assert ours == {f.execution_id for f in venue_fills}
        assert len(fills) == len(venue_fills)
        held = ledger.positions()
        assert set(held) == set(venue_positions)
        for symbol, quantity in venue_positions.items():
            assert held[symbol] == pytest.approx(quantity)
        stored = {o.id: o for o in ledger.load_orders()}
        for order in fake.orders():
            mine = stored[order["client_order_id"]]
            assert mine.filled_quantity == pytest.approx(
                float(order["filled_qty"]) * (1 if order["side"] == "buy" else -1)
            )
        assert ledger.load_orders(open_only=True) == []
    finally:
        ledger.close()


def _clean_restart(fake: FakeAlpaca, url: str, cycle: int) -> None:
    done = _run(fake, url, cycle)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["unresolved"] == [] and summary["open"] == []
    assert_no_duplicates(fake)
    assert_ledger_equals_broker(fake, url)


def _kills_at(venue: FakeAlpaca, url: str, point: str) -> None:
    for n, cycle in enumerate((1, 2)):
        # The first order of cycle 1, the second of cycle 2: a kill with earlier orders done.
        killed = _run(venue, url, cycle, crash=f"{point}:{n + 1}")
        assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
        assert_no_duplicates(venue)
        _clean_restart(venue, url, cycle)
    assert len(venue.orders()) == 2 * len(SYMBOLS)


@pytest.mark.parametrize("point", NAMED)
def test_a_kill_at_each_named_point_loses_and_duplicates_nothing(
    venue: FakeAlpaca, tmp_path: Path, point: str
) -> None:
    _kills_at(venue, f"sqlite:///{tmp_path / 'ledger.sqlite'}", point)


@pytest.mark.parametrize("point", PG_NAMED)
def test_a_kill_at_a_named_point_on_postgresql(
    venue: FakeAlpaca, fresh_postgres_url: str, point: str
) -> None:
    _kills_at(venue, fresh_postgres_url, point)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_kill_while_the_venue_holds_the_submit(
    venue: FakeAlpaca, tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    else:
        url = request.getfixturevalue("fresh_postgres_url")
    assert _kill_while_sending(venue, url, 1) == -signal.SIGKILL
    _clean_restart(venue, url, 1)
    assert len(venue.orders()) == len(SYMBOLS)


def test_every_response_dropped_still_one_order_per_intent(
    venue: FakeAlpaca, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    venue.drop_response("POST", ORDERS, times=1000)
    done = _run(venue, url, 1)
    assert done.returncode == 0, done.stderr[-3000:]
    venue.clear_faults()
    assert len(venue.orders()) == len(SYMBOLS)
    assert_no_duplicates(venue)
    assert_ledger_equals_broker(venue, url)


def _random_kills(venue: FakeAlpaca, url: str, kills: int, seed: int) -> None:
    rng = random.Random(seed)
    cycle = 1
    for k in range(kills):
        choice = rng.random()
        if choice < 0.5:
            point = rng.choice(NAMED)
            killed = _run(venue, url, cycle, crash=f"{point}:{rng.randint(1, len(SYMBOLS))}")
            assert killed.returncode in (0, -signal.SIGKILL), killed.stderr[-3000:]
        elif choice < 0.6:
            _kill_while_sending(venue, url, cycle)
        else:
            _kill_after(venue, url, cycle, rng.uniform(0.2, 3.0))
        assert_no_duplicates(venue)
        if k % 3 == 2:
            _clean_restart(venue, url, cycle)
            cycle += 1
    _clean_restart(venue, url, cycle)


def test_random_kills_and_restarts(venue: FakeAlpaca, tmp_path: Path) -> None:
    """Named points, kills while sending and kills at random times (with the named tests and
    the dropped-responses test: 30 kills in the default run)."""
    _random_kills(venue, f"sqlite:///{tmp_path / 'ledger.sqlite'}", kills=21, seed=7)


def test_random_kills_and_restarts_on_postgresql(
    venue: FakeAlpaca, fresh_postgres_url: str
) -> None:
    """A handful of random kills on a PostgreSQL ledger (the full count runs on SQLite)."""
    _random_kills(venue, fresh_postgres_url, kills=6, seed=11)


def test_a_killed_trade_run_on_a_postgresql_ledger_restarts_clean(
    tmp_path: Path, fresh_postgres_url: str, run_cli: RunCli
) -> None:
    """``alphaforge trade run`` with ``execution.ledger_url`` on PostgreSQL, killed after the
    venue took its order and before the answer was stored, then run again."""
    bars, _ = real_bars("GOOG", 400)
    bars.index = bars.index.tz_localize(None).tz_localize("America/New_York").tz_convert("UTC")
    config = {
        "strategy": {"name": "momentum"},
        "portfolio": {"constructor": "target_weights", "sizing": "weights", "units": "whole"},
        "risk": {"preset": "none"},
        "live": {"symbols": ["GOOG"]},
    }
    (tmp_path / "c.yaml").write_text(json.dumps(config), encoding="utf-8")
    with FakeAlpaca(paper=True) as fake:
        fake.set_bars("GOOG", bars)
        fake.set_price("GOOG", float(bars["close"].iloc[-1]))
        env = {**fake.env(), "ALPHAFORGE_EXECUTION__LEDGER_URL": fresh_postgres_url}
        fetch = ["data", "fetch", "GOOG", "--source", "alpaca", "--start", "2011-08-01"]
        fetched = run_cli([*fetch, "--end", "2013-03-01"], tmp_path, env=env)
        assert fetched.returncode == 0, fetched.stderr
        trade = ["trade", "run", "--mode", "paper", "--once", "-c", "c.yaml"]
        killed = run_cli(trade, tmp_path, env={**env, CRASH_ENV: "after_response:1"})
        assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
        assert len(fake.orders()) == 1
        again = run_cli(trade, tmp_path, env=env)
        assert again.returncode == 0, again.stderr[-3000:]
        assert len(fake.orders()) == 1 and fake.orders()[0]["status"] == "filled"
        assert_no_duplicates(fake)
        assert_ledger_equals_broker(fake, fresh_postgres_url)
        assert not (tmp_path / ".alphaforge" / "ledger").exists()  # nothing went to SQLite


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(4))
def test_many_random_kills(venue: FakeAlpaca, tmp_path: Path, seed: int) -> None:
    """200 kills across the four seeds (``make test-slow``)."""
    _random_kills(venue, f"sqlite:///{tmp_path / 'ledger.sqlite'}", kills=50, seed=100 + seed)
