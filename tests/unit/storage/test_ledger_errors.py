"""Ledger errors: a database failure is one LedgerError line (exit 3) without the password."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from tests.pg import PostgresCluster

from alphaforge.core.clock import SimulatedClock
from alphaforge.core.errors import AlphaForgeError, ConfigError
from alphaforge.storage.ledger import Ledger, LedgerError

T0 = pd.Timestamp("2024-01-02 14:30", tz="UTC")


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _check_one_line(error: LedgerError) -> None:
    assert isinstance(error, AlphaForgeError) and error.exit_code == 3
    assert "\n" not in error.one_line() and error.hint


def test_a_corrupt_file_is_a_ledger_error(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    path.write_bytes(b"this is not an SQLite database, just text that fills a page" * 100)
    with pytest.raises(LedgerError, match="not a database") as caught:
        Ledger.open(f"sqlite:///{path}")
    _check_one_line(caught.value)
    assert "damaged" in caught.value.hint


def test_a_lock_held_past_the_busy_timeout_is_a_ledger_error(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    with Ledger.open(f"sqlite:///{path}", busy_timeout_ms=100) as ledger:
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("INSERT INTO checkpoints VALUES ('held', 'x', 'now')")
            with pytest.raises(LedgerError, match="locked") as caught:
                ledger.set_checkpoint("fills", "c-1")
            _check_one_line(caught.value)
            assert "busy timeout" in caught.value.hint
            assert ledger.checkpoint("held") is None  # WAL: reads go on, seeing the old state
        finally:
            other.execute("ROLLBACK")
            other.close()
        ledger.set_checkpoint("fills", "c-2")  # usable again once the lock is gone
        assert ledger.checkpoint("fills") == "c-2"


def test_a_full_disk_is_a_ledger_error_and_the_write_is_not_half_done(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    with Ledger.open(f"sqlite:///{path}") as ledger:
        ledger.engine.dispose()

        def cap_size(dbapi_connection: Any, _record: Any) -> None:
            pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
            dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

        sa.event.listen(ledger.engine, "connect", cap_size)
        with pytest.raises(LedgerError, match="full") as caught:
            ledger.add_risk_decisions(
                [
                    {
                        "time": T0,
                        "symbol": f"S{i}",
                        "intent_id": "i",
                        "piece": "p",
                        "rule": "r" * 500,
                        "limit": 1.0,
                        "observed": 2.0,
                        "before": 1.0,
                        "after": 0.0,
                        "reason": "x" * 500,
                    }
                    for i in range(200)
                ]
            )
        _check_one_line(caught.value)
        assert "disk space" in caught.value.hint
        assert "r" * 500 not in str(caught.value.__cause__)  # no row values in errors or logs
        assert ledger.risk_decisions().empty  # one transaction: none of the 200 rows


def test_a_folder_that_cannot_be_created_is_a_ledger_error(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file where the ledger's folder should be")
    with pytest.raises(LedgerError, match="open") as caught:
        Ledger.open(f"sqlite:///{tmp_path / 'taken' / 'ledger.sqlite'}")
    _check_one_line(caught.value)


def test_a_read_only_database_is_a_ledger_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ledger.sqlite"
    Ledger.open(f"sqlite:///{path}").close()
    monkeypatch.chdir(tmp_path)  # an SQLite URI is a path, not a folder "file:" to create
    with Ledger.open(f"sqlite:///file:{path}?mode=ro&uri=true") as ledger:
        assert ledger.trading_state().state == "active"  # the dashboard can read
        with pytest.raises(LedgerError, match="readonly") as caught:
            ledger.add_alert("error", "test", "cannot be written")
    _check_one_line(caught.value)
    assert not (tmp_path / "file:").exists()


def test_other_databases_and_bad_urls_are_configuration_errors() -> None:
    with pytest.raises(ConfigError, match="SQLite and PostgreSQL"):
        Ledger.open("mysql+pymysql://u:p@localhost/db")
    with pytest.raises(ConfigError, match="parsed"):
        Ledger.open("not a url")


def test_an_unreachable_server_is_a_ledger_error_without_the_password() -> None:
    url = f"postgresql+psycopg://trader:s3cret-pw@127.0.0.1:{_closed_port()}/ledger"
    with pytest.raises(LedgerError) as caught:
        Ledger.open(url)
    _check_one_line(caught.value)
    assert "s3cret-pw" not in caught.value.one_line() and "s3cret-pw" not in repr(caught.value)
    assert "***@127.0.0.1" in caught.value.message
    assert "server is running" in caught.value.hint


def test_the_password_is_hidden_in_repr(postgres_cluster: PostgresCluster) -> None:
    url = postgres_cluster.url("alphaforge_pw").replace("postgres@", "postgres:s3cret-pw@")
    postgres_cluster.create_database("alphaforge_pw")
    try:
        with Ledger.open(url) as ledger:  # trust authentication ignores the password
            assert "s3cret-pw" not in repr(ledger) and "s3cret-pw" not in ledger.url
            assert ledger.trading_state().state == "active"
    finally:
        postgres_cluster.drop_database("alphaforge_pw")


def test_a_dropped_connection_is_reopened_and_a_lost_database_is_a_ledger_error(
    postgres_cluster: PostgresCluster, fresh_postgres_url: str
) -> None:
    clock = SimulatedClock(T0)
    with Ledger.open(fresh_postgres_url, clock=clock) as ledger:
        ledger.set_cash(10.0, "funding")
        name = fresh_postgres_url.rsplit("/", 1)[1]
        admin = sa.create_engine(postgres_cluster.url("postgres"))
        try:
            with admin.connect() as conn:
                conn.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
                    ),
                    {"n": name},
                )
        finally:
            admin.dispose()
        assert ledger.cash() == 10.0  # the pool noticed and reconnected
        postgres_cluster.drop_database(name)
        with pytest.raises(LedgerError, match="does not exist") as caught:
            ledger.set_cash(20.0, "after the database is gone")
        _check_one_line(caught.value)
