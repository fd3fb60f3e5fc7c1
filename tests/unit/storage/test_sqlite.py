"""WAL set-up of the project's SQLite files: a file another process is creating is retried."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from alphaforge.storage import sqlite as sqlite_settings


class _Cursor:
    """Answers "locked" to the first ``locked`` WAL switches, then succeeds."""

    def __init__(self, locked: int, message: str = "database is locked") -> None:
        self.locked = locked
        self.message = message
        self.statements: list[str] = []

    def execute(self, statement: str) -> None:
        self.statements.append(statement)
        if "journal_mode" in statement and self.locked > 0:
            self.locked -= 1
            raise sqlite3.OperationalError(self.message)


def test_a_locked_wal_switch_is_retried_then_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("time.sleep", lambda _: None)
    cursor = _Cursor(locked=3)
    sqlite_settings.configure_wal(cursor, busy_timeout_ms=5000, synchronous="FULL")
    assert cursor.statements[0] == "PRAGMA busy_timeout = 5000"
    assert cursor.statements.count("PRAGMA journal_mode = WAL") == 4
    assert cursor.statements[-1] == "PRAGMA synchronous = FULL"


def test_other_errors_and_a_lock_that_never_clears_are_raised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("time.sleep", lambda _: None)
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        sqlite_settings.configure_wal(
            _Cursor(locked=1, message="disk I/O error"), busy_timeout_ms=1, synchronous="FULL"
        )
    forever = _Cursor(locked=10**6)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        sqlite_settings.configure_wal(forever, busy_timeout_ms=1, synchronous="FULL")
    assert forever.statements.count("PRAGMA journal_mode = WAL") == sqlite_settings.WAL_RETRIES


def test_a_real_connection_ends_in_wal(tmp_path: Path) -> None:
    connection = sqlite3.connect(str(tmp_path / "x.sqlite"))
    cursor = connection.cursor()
    sqlite_settings.configure_wal(cursor, busy_timeout_ms=1000, synchronous="NORMAL")
    assert cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    connection.close()
