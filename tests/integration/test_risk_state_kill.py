"""A process that tripped the daily breaker is killed with SIGKILL; a new one resumes tripped.

The child runs a :class:`RiskManager` saving through a :class:`RiskStateStore` on a temporary
SQLite file, trips ``daily_loss`` and says so on stdout; the parent then kills it with SIGKILL,
either while it is inside the commit of a manual reset (deterministic: the commit waits for
the kill) or while it saves in a loop. A fresh process loads the file: the breaker is still
tripped on that trading day and clear at the next one.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import alphaforge

SRC = str(Path(alphaforge.__file__).resolve().parents[1])
TIMEOUT = 60.0

CHILD = r"""
import sys, time
import pandas as pd
from sqlalchemy import event
from alphaforge.risk.base import BasicRiskManager
from alphaforge.risk.breakers import DailyLoss
from alphaforge.risk.manager import RiskManager
from alphaforge.risk.pieces import RiskEvent
from alphaforge.risk.state import RiskStateStore

path, mode = sys.argv[1], sys.argv[2]
store = RiskStateStore(path)
manager = RiskManager(BasicRiskManager({}, 1.0), breakers=[DailyLoss()], state=store.load(),
                      sink=store)
t = pd.Timestamp("2024-01-02 15:00", tz="UTC")
manager.observe(RiskEvent("mark", t, equity=100_000.0))
manager.observe(RiskEvent("mark", t + pd.Timedelta(minutes=1), equity=96_000.0))
assert manager.statuses(t)[0].tripped
print("tripped", flush=True)

if mode == "in-commit":
    def wait_for_the_kill(conn):
        print("committing", flush=True)
        time.sleep(TIMEOUT)
    event.listen(store._engine, "commit", wait_for_the_kill)
    manager.observe(RiskEvent("reset", t + pd.Timedelta(minutes=2), target="daily_loss",
                              reason="never committed"))
else:
    k = 0
    while True:
        k += 1
        manager.observe(RiskEvent("mark", t + pd.Timedelta(minutes=2, microseconds=k),
                                  equity=96_000.0 - k / 100))
        if k == 25:
            print("saving", flush=True)
""".replace("TIMEOUT", str(TIMEOUT))

READER = r"""
import json, sys
import pandas as pd
from alphaforge.core.orders import OrderIntent
from alphaforge.core.types import AssetClass, Instrument
from alphaforge.portfolio.book import Book, Universe
from alphaforge.risk.base import BasicRiskManager
from alphaforge.risk.breakers import DailyLoss
from alphaforge.risk.manager import RiskManager
from alphaforge.risk.state import RiskStateStore
import numpy as np

store = RiskStateStore(sys.argv[1])
state = store.load()
instruments = [Instrument("AAA", AssetClass.STOCK)]
manager = RiskManager(BasicRiskManager({"AAA": instruments[0]}, 2.0), breakers=[DailyLoss()],
                      state=state, sink=store)
out = {"rows": len(store.history()), "state": state}
for label, time in (("same_day", "2024-01-02 20:00"), ("next_day", "2024-01-03 15:00")):
    when = pd.Timestamp(time, tz="UTC")
    book = Book(Universe.of(instruments), when, 100_000.0, np.array([10.0]), np.array([100.0]))
    buy, = manager.review([OrderIntent("AAA", 5.0)], book)
    sell, = manager.review([OrderIntent("AAA", -5.0)], book)
    status, = manager.statuses(when)
    out[label] = {"tripped": status.tripped, "until": status.until, "buy": buy.action,
                  "sell": sell.action}
print(json.dumps(out))
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _kill_after(path: Path, mode: str, signal_line: str) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        assert child.stdout is not None
        lines = []
        for line in child.stdout:
            lines.append(line.strip())
            if line.strip() == signal_line:
                break
        assert lines == ["tripped", signal_line], child.stderr.read() if child.stderr else ""
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=TIMEOUT) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        for stream in (child.stdout, child.stderr):
            if stream is not None:
                stream.close()


def _read(path: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", READER, str(path)],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def _integrity(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_killed_inside_the_commit_of_a_reset_the_trip_survives(tmp_path: Path) -> None:
    path = tmp_path / "risk.sqlite"
    _kill_after(path, "in-commit", "committing")
    seen = _read(path)
    assert seen["rows"] == 2  # the two marks; the reset never committed
    assert seen["same_day"] == {
        "tripped": True,
        "until": "2024-01-02T21:00:00+00:00",
        "buy": "refuse",
        "sell": "approve",
    }
    assert seen["next_day"] == {
        "tripped": False,
        "until": None,
        "buy": "approve",
        "sell": "approve",
    }
    state = seen["state"]
    assert isinstance(state, dict)
    assert state["breakers"]["daily_loss"]["last_reset"] is None
    assert _integrity(path) == "ok"


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_killed_in_a_loop_of_saves_the_last_committed_state_loads_tripped(tmp_path: Path) -> None:
    path = tmp_path / "risk.sqlite"
    _kill_after(path, "loop", "saving")
    seen = _read(path)
    rows = seen["rows"]
    assert isinstance(rows, int) and rows >= 2 + 25
    state = seen["state"]
    assert isinstance(state, dict)
    daily = state["breakers"]["daily_loss"]
    # The newest committed mark: equity 96,000 - k / 100 for the k-th save of the loop.
    assert daily["last_equity"] == pytest.approx(96_000.0 - (rows - 2) / 100, abs=1e-9)
    assert seen["same_day"]["tripped"] is True  # type: ignore[index]
    assert seen["same_day"]["buy"] == "refuse"  # type: ignore[index]
    assert seen["next_day"] == {
        "tripped": False,
        "until": None,
        "buy": "approve",
        "sell": "approve",
    }
    assert _integrity(path) == "ok"
