"""RiskStateStore: durable, append-only saves of the risk manager's state in SQLite."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from alphaforge.core.clock import SimulatedClock
from alphaforge.core.types import AssetClass, Instrument
from alphaforge.risk.base import BasicRiskManager
from alphaforge.risk.breakers import DailyLoss
from alphaforge.risk.manager import RiskManager
from alphaforge.risk.pieces import RiskEvent
from alphaforge.risk.state import RiskStateStore

T0 = pd.Timestamp("2024-01-02 15:00", tz="UTC")


def test_empty_store_loads_none(tmp_path: Path) -> None:
    with RiskStateStore(tmp_path / "sub" / "risk.sqlite") as store:
        assert store.load() is None
        assert store.history() == []


def test_save_load_and_history_with_the_clocks_times(tmp_path: Path) -> None:
    clock = SimulatedClock(T0)
    with RiskStateStore(tmp_path / "risk.sqlite", clock=clock) as store:
        store.save({"breakers": {"a": {"n": 1}}, "applied": {}})
        clock.advance_to(T0 + pd.Timedelta(minutes=5))
        store.save({"breakers": {"a": {"n": 2, "x": [1.5, None, "s"]}}, "applied": {"b": "t"}})
        assert store.load() == {
            "breakers": {"a": {"n": 2, "x": [1.5, None, "s"]}},
            "applied": {"b": "t"},
        }
        history = store.history()
    assert [r.saved_at for r in history] == [T0, T0 + pd.Timedelta(minutes=5)]
    assert [r.state["breakers"]["a"]["n"] for r in history] == [1, 2]
    with RiskStateStore(tmp_path / "risk.sqlite") as again:  # a new connection reads it back
        assert again.load() == history[-1].state


def test_keys_keep_separate_states_in_one_file(tmp_path: Path) -> None:
    path = tmp_path / "risk.sqlite"
    with RiskStateStore(path, key="paper") as paper, RiskStateStore(path, key="live") as live:
        paper.save({"who": "paper"})
        live.save({"who": "live"})
        assert paper.load() == {"who": "paper"} and live.load() == {"who": "live"}


def test_wal_and_full_sync_on_every_connection(tmp_path: Path) -> None:
    with RiskStateStore(tmp_path / "risk.sqlite") as store:
        store.save({})
        with store._engine.connect() as conn:  # the settings are the point
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    raw = sqlite3.connect(tmp_path / "risk.sqlite")
    try:
        assert raw.execute("SELECT count(*) FROM risk_state").fetchone() == (1,)
    finally:
        raw.close()


def test_a_state_that_is_not_json_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    with RiskStateStore(tmp_path / "risk.sqlite") as store:
        with pytest.raises(ValueError, match="Out of range float"):
            store.save({"x": float("nan")})
        with pytest.raises(TypeError, match="not JSON serializable"):
            store.save({"x": object()})
        assert store.load() is None


def test_the_manager_saves_through_it_on_every_change_and_resumes_from_it(tmp_path: Path) -> None:
    instruments = {"AAA": Instrument("AAA", AssetClass.STOCK)}
    base = BasicRiskManager(instruments, 2.0)
    with RiskStateStore(tmp_path / "risk.sqlite") as store:
        manager = RiskManager(base, breakers=[DailyLoss()], sink=store)
        manager.observe(RiskEvent("mark", T0, equity=100_000.0))
        manager.observe(RiskEvent("fill", T0, opening=True))  # no change: nothing saved
        manager.observe(RiskEvent("mark", T0 + pd.Timedelta(hours=1), equity=96_000.0))
        assert len(store.history()) == 2
        assert store.load() == manager.state()
        resumed = RiskManager(base, breakers=[DailyLoss()], state=store.load(), sink=store)
    (status,) = resumed.statuses(T0 + pd.Timedelta(hours=2))
    assert status.tripped
    assert resumed.state() == manager.state()
