"""The trading ledger's database plumbing: engines, migrations, transactions and errors.

:class:`LedgerBase` holds the engine and runs each read and write of
:class:`~alphaforge.storage.ledger.Ledger`: a write is one transaction (on SQLite it starts with
``BEGIN IMMEDIATE``, taking the write lock first, so a writer waits the busy timeout for another
instead of failing at once), and every database error becomes a :class:`LedgerError`, one line
without the URL's password.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

import pandas as pd
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from alphaforge.core.clock import Clock
from alphaforge.core.errors import AlphaForgeError, ConfigError
from alphaforge.storage import ledger_tables as tables
from alphaforge.storage.sqlite import configure_wal

#: How long a writer waits for another process's lock before failing, milliseconds.
BUSY_TIMEOUT_MS = 30_000
#: The Alembic environment and revisions, shipped inside the package.
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
#: Connection execution option: start the transaction with BEGIN IMMEDIATE (SQLite writes).
_IMMEDIATE = "alphaforge_immediate"

#: An INSERT that can say ON CONFLICT, on either database.
Insert = sqlite.Insert | postgresql.Insert


class LedgerError(AlphaForgeError):
    """The ledger's database failed (disk full, locked, corrupt, server gone); exit code 3."""

    exit_code = 3


class LedgerBase:
    """The engine of a ledger and the transactions its methods run in.

    Parameters
    ----------
    engine
        An engine made by :func:`make_engine` (SQLite with WAL, or PostgreSQL), migrated.
    url
        The database URL, for messages (its password is never shown).
    clock
        Stamps every row the ledger times itself (UTC).
    """

    def __init__(self, engine: Engine, url: URL, clock: Clock) -> None:
        self._engine = engine
        self._url = url
        self.clock = clock
        self._postgres = engine.dialect.name == "postgresql"

    @property
    def engine(self) -> Engine:
        """Return the engine, e.g. for ``RiskStateStore(ledger.engine)`` on the same database."""
        return self._engine

    @property
    def url(self) -> str:
        """Return the database URL with its password hidden."""
        return self._url.render_as_string(hide_password=True)

    def close(self) -> None:
        """Release the database connections."""
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Ledger({self.url!r})"

    def _now(self) -> pd.Timestamp:
        return pd.Timestamp(self.clock.now()).tz_convert("UTC")

    def _insert(self, table: Table) -> Insert:
        return postgresql.insert(table) if self._postgres else sqlite.insert(table)

    @contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        try:
            yield
        except (SQLAlchemyError, CommandError, OSError) as exc:
            raise ledger_error(what, exc, self._url) from exc

    @contextmanager
    def _write(self, what: str) -> Iterator[Connection]:
        with self._guard(what), self._engine.connect() as conn:
            conn.execution_options(**{_IMMEDIATE: True})
            with conn.begin():
                yield conn

    @contextmanager
    def _read(self, what: str) -> Iterator[Connection]:
        with self._guard(what), self._engine.connect() as conn:
            yield conn


def log_reconcile(
    conn: Connection,
    now: pd.Timestamp,
    kind: str,
    symbol: str | None,
    client_id: str | None,
    before: object,
    after: object,
    rule: str,
    message: str,
) -> int:
    """Insert a ``reconcile_events`` row (``before``/``after`` as text) and return its id."""
    values = {
        "time": tables.time_text(now),
        "kind": kind,
        "symbol": symbol,
        "client_id": client_id,
        "before": None if before is None else str(before),
        "after": None if after is None else str(after),
        "rule": rule,
        "message": message,
    }
    return inserted_id(conn, tables.reconcile_events, values)


def inserted_id(conn: Connection, table: Table, values: Mapping[str, Any]) -> int:
    """Insert one row into ``table`` and return its autoincremented id."""
    key = conn.execute(table.insert().values(dict(values))).inserted_primary_key
    if key is None:  # pragma: no cover - every table with an id column autoincrements
        raise RuntimeError(f"no id came back from {table.name}")
    return int(key[0])


def since_filter(query: Any, table: Table, since: pd.Timestamp | None) -> Any:
    """Return ``query`` restricted to rows whose ``time`` is at or after ``since`` (if given)."""
    return query if since is None else query.where(table.c.time >= tables.time_text(since))


# -- engine, migrations, errors --------------------------------------------------------------


def parse_url(url: str) -> URL:
    """Return ``url`` parsed; ``postgresql://`` means psycopg 3.

    Raises
    ------
    ConfigError
        When the URL cannot be parsed or names another database than SQLite or PostgreSQL.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(
            "The ledger URL cannot be parsed.",
            hint="Set execution.ledger_url to sqlite:///path or postgresql+psycopg://...",
        ) from exc
    backend = parsed.get_backend_name()
    if backend == "postgresql" and parsed.drivername == "postgresql":
        return parsed.set(drivername="postgresql+psycopg")
    if backend not in ("sqlite", "postgresql"):
        raise ConfigError(
            f"The ledger supports SQLite and PostgreSQL, not {backend}.",
            hint="Set execution.ledger_url to sqlite:///path or postgresql+psycopg://...",
        )
    return parsed


def make_engine(url: URL, busy_timeout_ms: int) -> Engine:
    """Return an engine for ``url``: SQLite in WAL mode with ``synchronous = FULL``, or PostgreSQL.

    Statement parameters are kept out of SQLAlchemy's errors and logs (``hide_parameters``), so
    no row value reaches a log line. An SQLite file's folder is created.
    """
    if url.get_backend_name() == "postgresql":
        return create_engine(
            url,
            pool_pre_ping=True,  # a connection the server dropped is replaced, not an error
            hide_parameters=True,
            connect_args={"connect_timeout": 10},
        )
    database = url.database or ""
    if database.startswith("file:"):  # an SQLite URI (?uri=true, e.g. mode=ro): a file path
        database = database.removeprefix("file:").split("?", 1)[0]
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, hide_parameters=True)

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # SQLAlchemy issues BEGIN itself (below), so that DDL (migrations) is transactional
        # and writes can take the lock first; pysqlite's own BEGIN handling is switched off.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # FULL: a row that a method returned from survives power loss, not just a crash.
            configure_wal(cursor, busy_timeout_ms=busy_timeout_ms, synchronous="FULL")
        finally:
            cursor.close()

    def on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "begin", on_begin)
    return engine


def alembic_config() -> Config:
    """Return the Alembic configuration of the ledger's packaged migrations (no ini file)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    return config


def migrate(engine: Engine) -> None:
    """Upgrade the database to the newest revision (nothing is written when it is there)."""
    config = alembic_config()
    heads = set(ScriptDirectory.from_config(config).get_heads())
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    if current == heads:
        return
    with engine.connect() as conn:
        conn.execution_options(**{_IMMEDIATE: True})
        with conn.begin():
            config.attributes["connection"] = conn
            command.upgrade(config, "head")


def ledger_error(what: str, exc: BaseException, url: URL) -> LedgerError:
    """Return the one-line :class:`LedgerError` for a database failure (password hidden)."""
    detail = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = [line.strip() for line in str(detail).splitlines() if line.strip()]
    reason = lines[0] if lines else type(detail).__name__
    if url.password:
        reason = reason.replace(str(url.password), "***")
    where = url.render_as_string(hide_password=True)
    return LedgerError(
        f"The trading ledger failed to {what} ({where}): {reason}.", hint=_hint(reason, exc)
    )


def _hint(reason: str, exc: BaseException) -> str:
    text = reason.lower()
    if isinstance(exc, CommandError):
        return "The database was written by a newer AlphaForge: upgrade AlphaForge to use it."
    if "locked" in text or "busy" in text:
        return "Another process holds the database longer than the busy timeout; stop it or retry."
    if "full" in text or "no space" in text:
        return "Free disk space where the ledger lives; new orders stay halted until then."
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return (
            "The ledger file is damaged: move it aside, restore a backup, and reconcile "
            "with the broker."
        )
    if "readonly" in text or "read-only" in text or "permission" in text:
        return "Make the ledger file and its folder writable by this user."
    if (isinstance(exc, DBAPIError) and exc.connection_invalidated) or "connect" in text:
        return "Check that the database server is running and reachable, then restart."
    return "New orders stay halted until the ledger is writable again; check the database."


__all__ = [
    "BUSY_TIMEOUT_MS",
    "MIGRATIONS_DIR",
    "Insert",
    "LedgerBase",
    "LedgerError",
    "alembic_config",
    "inserted_id",
    "ledger_error",
    "log_reconcile",
    "make_engine",
    "migrate",
    "parse_url",
    "since_filter",
]
