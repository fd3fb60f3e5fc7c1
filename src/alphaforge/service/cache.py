"""Short-lived caches that let one service process answer many reads a second.

A read's answer is kept until the data behind it changes (the ledger's newest row ids, the
bar store's, registry's, runs' and predictions' modification times) and for at most
``ttl_s`` seconds (what depends on the clock alone, such as a heartbeat's age, is at most
that old). A verified token is kept ``ttl_s`` too: a revocation takes effect within it.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import func, select

from alphaforge.storage import ledger_tables as tables
from alphaforge.storage.ledger import Ledger

__all__ = ["TtlCache", "data_version"]

T = TypeVar("T")

#: Ledger tables whose newest id changes when anything a read shows changes.
_VERSIONED = (
    tables.fills,
    tables.order_events,
    tables.reconcile_events,
    tables.alerts,
    tables.audit,
    tables.job_runs,
    tables.commands,
    tables.risk_decisions,
    tables.trading_states,
    tables.risk_state,
)


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def data_version(ledger: Ledger | None, paths: tuple[Path, ...]) -> tuple[Any, ...]:
    """A value that changes whenever the ledger gains a row (or a heartbeat or a command
    completes) or one of ``paths`` (files or folders) is modified."""
    files = tuple(_mtime(p) for p in paths)
    if ledger is None:
        return files
    maxima = [select(func.max(t.c.id)).scalar_subquery() for t in _VERSIONED]
    beats = select(func.max(tables.heartbeats.c.time)).scalar_subquery()
    done = select(func.max(tables.commands.c.completed_at)).scalar_subquery()
    with ledger.engine.connect() as conn:
        row = conn.execute(select(*maxima, beats, done)).one()
    return (*tuple(row), *files)


class TtlCache:
    """Values by key, each kept while its version holds and for at most ``ttl_s`` seconds
    (monotonic time); bounded to ``size`` entries; thread-safe."""

    def __init__(self, ttl_s: float = 1.0, size: int = 512) -> None:
        self.ttl_s = ttl_s
        self.size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, tuple[Hashable, float, Any]] = OrderedDict()

    def peek(self, key: Hashable, version: Hashable) -> Any | None:
        """Return the kept value of ``key`` if its version is ``version`` and it is fresh."""
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] == version and now - entry[1] <= self.ttl_s:
                return entry[2]
        return None

    def get(self, key: Hashable, version: Hashable, build: Callable[[], T]) -> T:
        """Return the kept value of ``key`` if its version is ``version`` and it is fresh,
        else build, keep and return it (``build`` runs outside the lock)."""
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] == version and now - entry[1] <= self.ttl_s:
                self._entries.move_to_end(key)
                value: T = entry[2]
                return value
        value = build()
        with self._lock:
            self._entries[key] = (version, now, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return value
