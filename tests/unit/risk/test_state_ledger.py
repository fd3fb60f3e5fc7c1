"""RiskStateStore in the trading ledger's database: by the ledger's engine or its URL."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from alphaforge.core.clock import SimulatedClock
from alphaforge.risk.state import RiskStateStore, _Base
from alphaforge.storage.ledger import Ledger

T0 = pd.Timestamp("2024-01-02 15:00", tz="UTC")


def test_a_store_on_the_ledgers_engine_shares_its_database(ledger_url: str) -> None:
    clock = SimulatedClock(T0)
    with Ledger.open(ledger_url) as ledger:
        with RiskStateStore(ledger.engine, key="paper", clock=clock) as store:
            store.save({"breakers": {"daily_loss": {"tripped": True}}})
        assert ledger.cash() == 0.0  # closing the store leaves the ledger's engine usable
        with RiskStateStore(ledger_url, key="paper") as by_url:
            assert by_url.load() == {"breakers": {"daily_loss": {"tripped": True}}}
            assert [r.saved_at for r in by_url.history()] == [T0]
            assert by_url.path is None


def test_the_ledgers_risk_state_table_is_the_stores(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    with Ledger.open(url) as ledger, ledger.engine.connect() as conn:
        only_risk_state = {
            "include_name": lambda name, kind, _: kind != "table" or name == "risk_state"
        }
        context = MigrationContext.configure(conn, opts=only_risk_state)
        assert compare_metadata(context, _Base.metadata) == []


def test_a_ledger_opens_on_a_file_the_store_created_first(tmp_path: Path) -> None:
    path = tmp_path / "node.sqlite"
    with RiskStateStore(path) as store:
        store.save({"n": 1})
    with Ledger.open(f"sqlite:///{path}") as ledger:
        with RiskStateStore(ledger.engine) as again:
            assert again.load() == {"n": 1}
        assert "risk_state" in sa.inspect(ledger.engine).get_table_names()
