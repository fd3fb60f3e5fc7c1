"""SQLite connection settings shared by the project's small databases (ledger, registry)."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

#: Attempts to switch a file that another process is creating to WAL (about 25 s in all).
WAL_RETRIES = 30


def configure_wal(cursor: Any, *, busy_timeout_ms: int, synchronous: str) -> None:
    """Set the busy timeout, WAL journal mode and ``synchronous`` level on a new connection.

    Switching a new file to WAL needs an exclusive lock, and SQLite may answer "locked" at
    once, without calling its busy handler, while another process is creating the same file
    (two runs starting on a fresh store): that is retried for a while instead of failing.
    """
    cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    for attempt in range(WAL_RETRIES):
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == WAL_RETRIES - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    cursor.execute(f"PRAGMA synchronous = {synchronous}")


__all__ = ["WAL_RETRIES", "configure_wal"]
