"""The risk manager's state on disk, so that a crash or restart resumes where it stopped.

:class:`RiskStateStore` keeps every saved state of the
:class:`~alphaforge.risk.manager.RiskManager` (breaker states: peak equity, day and week
anchors, trips with their reset rules and times, manual resets, reductions applied) in a
SQLite file through SQLAlchemy: WAL journal, ``synchronous = FULL``, one transaction per
save, so a state is either wholly written and durable when :meth:`RiskStateStore.save`
returns, or not written at all, even if the process is killed in the middle. The table is
append-only: the newest row of a key is the state, the older rows its history.

Live trading keeps it in the trading ledger's database (``RiskStateStore(ledger.engine)``, or
the ledger's URL), which the ledger's migrations give the same ``risk_state`` table.

The backtest keeps its state in memory and uses no store.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import pandas as pd
from sqlalchemy import Engine, Integer, String, Text, create_engine, event, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from alphaforge.core.clock import Clock, SystemClock
from alphaforge.risk.pieces import State
from alphaforge.storage.ledger_db import make_engine, parse_url
from alphaforge.storage.sqlite import configure_wal

#: How long a writer waits for another process's lock before failing, milliseconds.
_BUSY_TIMEOUT_MS = 30_000


class _Base(DeclarativeBase):
    pass


class _StateRow(_Base):
    __tablename__ = "risk_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String, index=True)
    saved_at: Mapped[str] = mapped_column(String)
    state: Mapped[str] = mapped_column(Text)


@dataclass(frozen=True, slots=True)
class StateRecord:
    """One saved state and when it was saved (UTC, from the store's clock)."""

    saved_at: pd.Timestamp
    state: State


class RiskStateStore:
    """Save and load the risk manager's state in a database (the manager's ``StateSink``).

    Parameters
    ----------
    target
        The SQLite file (created with its directory when missing); or a SQLAlchemy URL
        (``sqlite:///...``, ``postgresql+psycopg://...``, e.g. the trading ledger's); or an
        engine to share, such as ``Ledger.engine`` (the store does not dispose of it).
    key
        Whose state this is (an account or a trading node), so several can share a file.
    clock
        Stamps each save (UTC); the system clock when None.
    """

    def __init__(
        self, target: Path | str | Engine, *, key: str = "default", clock: Clock | None = None
    ) -> None:
        self.key = key
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.path: Path | None = None
        self._owns_engine = not isinstance(target, Engine)
        if isinstance(target, Engine):
            self._engine: Engine = target
        elif isinstance(target, str) and "://" in target:
            self._engine = make_engine(parse_url(target), _BUSY_TIMEOUT_MS)
        else:
            self.path = Path(target)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._engine = create_engine(f"sqlite:///{self.path}")
            event.listen(self._engine, "connect", _configure_connection)
        _Base.metadata.create_all(self._engine)

    def close(self) -> None:
        """Release the connections (of an engine the store made itself)."""
        if self._owns_engine:
            self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def save(self, state: State) -> None:
        """Append ``state`` as the current state, durably, in one transaction.

        Raises
        ------
        ValueError
            When ``state`` is not a JSON object of finite numbers, strings, lists and dicts.
        """
        if not isinstance(state, dict):
            raise ValueError(f"a risk state is a JSON object, got {type(state).__name__}")
        text = json.dumps(state, sort_keys=True, allow_nan=False)
        row = _StateRow(key=self.key, saved_at=self.clock.now().isoformat(), state=text)
        with self._session() as session:
            session.add(row)

    def load(self) -> State | None:
        """Return the newest saved state, or None when nothing was saved under this key."""
        with Session(self._engine) as session:
            text = session.scalars(
                select(_StateRow.state)
                .where(_StateRow.key == self.key)
                .order_by(_StateRow.id.desc())
                .limit(1)
            ).first()
        if text is None:
            return None
        loaded: State = json.loads(text)
        return loaded

    def history(self) -> list[StateRecord]:
        """Return every saved state of this key, oldest first."""
        with Session(self._engine) as session:
            rows = session.execute(
                select(_StateRow.saved_at, _StateRow.state)
                .where(_StateRow.key == self.key)
                .order_by(_StateRow.id)
            ).all()
        return [StateRecord(pd.Timestamp(saved), json.loads(text)) for saved, text in rows]

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with Session(self._engine) as session, session.begin():
            yield session


def _configure_connection(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # FULL: a state that save() returned from survives power loss, not just a crash.
        configure_wal(cursor, busy_timeout_ms=_BUSY_TIMEOUT_MS, synchronous="FULL")
    finally:
        cursor.close()


__all__ = ["RiskStateStore", "StateRecord"]
