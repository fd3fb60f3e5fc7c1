"""The trading ledger: the live node's durable record, on SQLite or PostgreSQL.

Orders and their journal of transitions, fills keyed by the venue's execution id, positions,
cash, checkpoints, the trading state, manual commands, job runs, alerts, heartbeats, risk
decisions, the audit of each decision's prediction and the reconciliation log, in one database
that the dashboard and the CLI read without importing :mod:`alphaforge.execution`.

Every write is one transaction, durable when the method returns: SQLite runs in WAL mode with
``synchronous = FULL``; PostgreSQL commits synchronously. A process killed during a write
leaves the state before it. The schema is kept by the Alembic migrations in
``storage/migrations``, applied on open. A database error (disk full, locked beyond the busy
timeout, corrupt file, server gone) raises :class:`LedgerError`, one line without the URL's
password; the node halts new orders on it. Times are stored in UTC and returned as tz-aware UTC
``pd.Timestamp``. The tables are in :mod:`~alphaforge.storage.ledger_tables`, the values the
readers return in :mod:`~alphaforge.storage.ledger_rows`.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from typing import Any

import pandas as pd
from sqlalchemy import Connection, func, select, update

from alphaforge.core.clock import Clock, SystemClock
from alphaforge.core.orders import Fill, Order, OrderStatus, OrderStep
from alphaforge.storage import ledger_tables as tables
from alphaforge.storage.ledger_db import (
    BUSY_TIMEOUT_MS,
    MIGRATIONS_DIR,
    Insert,
    LedgerError,
    alembic_config,
    ledger_error,
    log_reconcile,
    make_engine,
    migrate,
    parse_url,
    since_filter,
)
from alphaforge.storage.ledger_records import RISK_DECISION_COLUMNS, LedgerRecords
from alphaforge.storage.ledger_rows import (
    OrderEventRow,
    fill_from_row,
    fill_values,
    order_from_row,
    order_values,
)

#: Columns of :meth:`Ledger.fills` (``cost``: the fill's total cost; ``costs``: by component).
FILL_COLUMNS = (
    "time",
    "client_id",
    "execution_id",
    "symbol",
    "quantity",
    "price",
    "cost",
    "costs",
    "strategy",
    "reason",
)
#: A position smaller than this (in units) is flat: float sums of fills leave dust.
FLAT = 1e-12
_OPEN_STATUSES = tuple(str(s) for s in OrderStatus if s.is_open)
_CASH_ROW = 1


class Ledger(LedgerRecords):
    """The trading node's durable record; open it with :meth:`open`.

    The records that are not about orders and money (checkpoints, trading state, commands, job
    runs, alerts, heartbeats, risk decisions, audit, reconciliation log) are the methods of
    :class:`~alphaforge.storage.ledger_records.LedgerRecords`.
    """

    @classmethod
    def open(
        cls, url: str, *, clock: Clock | None = None, busy_timeout_ms: int = BUSY_TIMEOUT_MS
    ) -> Ledger:
        """Open (creating and migrating as needed) the ledger at ``url``.

        Parameters
        ----------
        url
            ``sqlite:///path/to/ledger.sqlite`` (its folder is created) or
            ``postgresql+psycopg://user:password@host:port/database`` (``postgresql://`` uses
            psycopg too).
        clock
            Stamps the rows the ledger times; the system clock when None.
        busy_timeout_ms
            How long an SQLite writer waits for another's lock before failing, milliseconds.

        Raises
        ------
        ConfigError
            When ``url`` is not an SQLite or PostgreSQL URL.
        LedgerError
            When the database cannot be reached, created or migrated.
        """
        parsed = parse_url(url)
        try:
            engine = make_engine(parsed, busy_timeout_ms)
        except OSError as exc:  # the SQLite file's folder cannot be created
            raise ledger_error("open", exc, parsed) from exc
        ledger = cls(engine, parsed, clock or SystemClock())
        try:
            with ledger._guard("open"):
                migrate(ledger._engine)
                ledger._seed_trading_state()
        except BaseException:
            ledger.close()
            raise
        return ledger

    # -- orders (the journal) ----------------------------------------------------------------

    def record_order(
        self, order: Order, event: str, reason: str = "", *, venue_order_id: str | None = None
    ) -> None:
        """Store ``order`` as it is now and journal the transition, in one transaction.

        Parameters
        ----------
        order
            The order after the transition (the order manager's object).
        event
            What happened (``submit``, ``ack``, ``cancel_requested``, ``reject`` ...).
        reason
            One line for a person.
        venue_order_id
            The venue's id of the order, when known (kept when None).
        """
        now = self._now()
        with self._write("record an order") as conn:
            before = self._upsert_order(conn, order, venue_order_id)
            _journal(conn, order.id, before, str(order.status), event, reason, now)

    def record_steps(self, order: Order, steps: Sequence[OrderStep]) -> None:
        """Store ``order`` as it is now and journal each of ``steps``, in one transaction.

        One commit (one fsync) for the transitions one venue answer caused, where
        :meth:`record_order` per step would commit each.

        Parameters
        ----------
        order
            The order after the last step (the order manager's object).
        steps
            The transitions since the order was last stored, oldest first; each is journalled
            from the status before it.

        Raises
        ------
        ValueError
            When ``steps`` is empty or its last status is not ``order.status``.
        """
        if not steps or steps[-1].status is not order.status:
            last = steps[-1].status if steps else None
            raise ValueError(f"steps of {order.id} end at {last}, the order is {order.status}")
        now = self._now()
        with self._write("record an order") as conn:
            before = self._upsert_order(conn, order, None)
            for step in steps:
                _journal(conn, order.id, before, str(step.status), step.event, step.reason, now)
                before = str(step.status)

    def set_venue_id(self, client_id: str, venue_order_id: str) -> None:
        """Store the venue's id of an order already recorded.

        Raises
        ------
        KeyError
            When no order has ``client_id``.
        """
        with self._write("store a venue order id") as conn:
            result = conn.execute(
                update(tables.orders)
                .where(tables.orders.c.client_id == client_id)
                .values(venue_order_id=venue_order_id)
            )
            if result.rowcount == 0:
                raise KeyError(f"no order {client_id!r} in the ledger")

    def order(self, client_id: str) -> Order | None:
        """Return the order with ``client_id``, or None."""
        with self._read("read an order") as conn:
            row = conn.execute(
                select(tables.orders).where(tables.orders.c.client_id == client_id)
            ).first()
        return None if row is None else order_from_row(row._mapping)

    def venue_order_id(self, client_id: str) -> str | None:
        """Return the venue's id of an order, or None when unknown."""
        with self._read("read an order") as conn:
            value: str | None = conn.execute(
                select(tables.orders.c.venue_order_id).where(tables.orders.c.client_id == client_id)
            ).scalar()
        return value

    def client_id_of(self, venue_order_id: str) -> str | None:
        """Return the client id of the order the venue knows as ``venue_order_id``, or None."""
        with self._read("read an order") as conn:
            value: str | None = conn.execute(
                select(tables.orders.c.client_id).where(
                    tables.orders.c.venue_order_id == venue_order_id
                )
            ).scalar()
        return value

    def load_orders(self, open_only: bool = False) -> list[Order]:
        """Return the stored orders, oldest first (only those that can still fill if asked)."""
        query = select(tables.orders).order_by(
            tables.orders.c.created_at, tables.orders.c.client_id
        )
        if open_only:
            query = query.where(tables.orders.c.status.in_(_OPEN_STATUSES))
        with self._read("read orders") as conn:
            rows = conn.execute(query).all()
        return [order_from_row(row._mapping) for row in rows]

    def order_events(self, client_id: str) -> list[OrderEventRow]:
        """Return the journal of one order, oldest first."""
        table = tables.order_events
        with self._read("read order events") as conn:
            rows = conn.execute(
                select(table).where(table.c.client_id == client_id).order_by(table.c.id)
            ).all()
        return [_event_row(r) for r in rows]

    def order_journal(self, to_statuses: Collection[str] | None = None) -> list[OrderEventRow]:
        """Return the journal of every order, oldest first, in one read.

        ``to_statuses``: only the transitions into one of these statuses (all when None); the
        metrics read the submits, acknowledgments and rejections this way.
        """
        table = tables.order_events
        query = select(table).order_by(table.c.id)
        if to_statuses is not None:
            query = query.where(table.c.to_status.in_([str(s) for s in to_statuses]))
        with self._read("read order events") as conn:
            rows = conn.execute(query).all()
        return [_event_row(r) for r in rows]

    # -- fills, positions, cash --------------------------------------------------------------

    def record_fill(
        self, order: Order, fill: Fill, *, checkpoint: tuple[str, str] | None = None
    ) -> bool:
        """Store a fill with its effect on the order, position and cash, in one transaction.

        Parameters
        ----------
        order
            The filled order, already updated by the order manager (status, filled quantity,
            average price); stored as it is.
        fill
            The execution; its ``execution_id`` keys it.
        checkpoint
            ``(name, value)`` of a checkpoint to advance in the same transaction.

        Returns
        -------
        bool
            False when the execution id was already stored: nothing is changed then (not the
            checkpoint either).

        Raises
        ------
        ValueError
            When the fill has no execution id or belongs to another order.
        """
        if not fill.execution_id:
            raise ValueError(f"fill of {fill.order_id} has no execution id; the ledger keys on it")
        if fill.order_id != order.id:
            raise ValueError(f"fill of {fill.order_id} recorded with order {order.id}")
        now = self._now()
        with self._write("record a fill") as conn:
            inserted = conn.execute(
                self._insert(tables.fills)
                .values(fill_values(fill, now))
                .on_conflict_do_nothing(index_elements=["execution_id"])
                .returning(tables.fills.c.id)
            ).first()
            if inserted is None:  # a repeat of a stored execution
                return False
            before = self._upsert_order(conn, order, None)
            execution = f"execution {fill.execution_id}"
            _journal(conn, order.id, before, str(order.status), "fill", execution, now)
            _add_position(conn, self._insert(tables.positions), fill.symbol, fill.quantity, now)
            _add_cash(
                conn, self._insert(tables.cash), -fill.quantity * fill.price - fill.total_cost, now
            )
            if checkpoint is not None:
                self._put_checkpoint(conn, checkpoint[0], checkpoint[1], now)
        return True

    def fill_count(self) -> int:
        """Return how many fills are stored (each venue execution once)."""
        with self._read("read fills") as conn:
            count = conn.execute(select(func.count()).select_from(tables.fills)).scalar()
        return int(count or 0)

    def has_fill(self, execution_id: str) -> bool:
        """Return True when the execution id is stored."""
        with self._read("read fills") as conn:
            found = conn.execute(
                select(tables.fills.c.id).where(tables.fills.c.execution_id == execution_id)
            ).first()
        return found is not None

    def load_fills(
        self, since: pd.Timestamp | None = None, client_id: str | None = None
    ) -> list[Fill]:
        """Return the stored fills as :class:`Fill` values, by time (``since`` inclusive)."""
        return [fill_from_row(row._mapping) for row in self._fill_rows(since, client_id)]

    def fills(self, since: pd.Timestamp | None = None) -> pd.DataFrame:
        """Return one row per fill with :data:`FILL_COLUMNS`, by time (``since`` inclusive).

        ``time`` is UTC; ``costs`` maps each cost component to its amount (quote currency).
        """
        records = [
            {
                **{name: row._mapping[name] for name in FILL_COLUMNS},
                "time": tables.parse_time(row.time),
                "costs": dict(json.loads(row.costs)),
            }
            for row in self._fill_rows(since, None)
        ]
        frame = pd.DataFrame(records, columns=list(FILL_COLUMNS))
        frame["time"] = pd.to_datetime(frame["time"], utc=True)
        for name in ("quantity", "price", "cost"):
            frame[name] = frame[name].astype("float64")
        return frame

    def positions(self) -> dict[str, float]:
        """Return the signed units held per symbol (flat symbols left out)."""
        with self._read("read positions") as conn:
            rows = conn.execute(
                select(tables.positions.c.symbol, tables.positions.c.quantity).order_by(
                    tables.positions.c.symbol
                )
            ).all()
        return {symbol: quantity for symbol, quantity in rows if abs(quantity) > FLAT}

    def cash(self) -> float:
        """Return the cash balance (quote currency; 0 before any funding or fill)."""
        with self._read("read cash") as conn:
            amount = conn.execute(
                select(tables.cash.c.amount).where(tables.cash.c.id == _CASH_ROW)
            ).scalar()
        return 0.0 if amount is None else float(amount)

    def set_cash(self, amount: float, reason: str) -> None:
        """Set the cash balance (initial funding, or the broker's figure) and log the change."""
        now = self._now()
        with self._write("set cash") as conn:
            before = conn.execute(
                select(tables.cash.c.amount).where(tables.cash.c.id == _CASH_ROW)
            ).scalar()
            values = {"id": _CASH_ROW, "amount": float(amount), "updated_at": tables.time_text(now)}
            statement = self._insert(tables.cash).values(values)
            conn.execute(
                statement.on_conflict_do_update(
                    index_elements=["id"],
                    set_={"amount": statement.excluded.amount, "updated_at": values["updated_at"]},
                )
            )
            log_reconcile(conn, now, "cash", None, None, before, amount, "set_cash", reason)

    def adjust_position(
        self, symbol: str, quantity: float, reason: str, *, rule: str = "position changed by hand"
    ) -> None:
        """Set the position of ``symbol`` to ``quantity`` (the broker's) and log before/after."""
        now = self._now()
        with self._write("adjust a position") as conn:
            before = conn.execute(
                select(tables.positions.c.quantity).where(tables.positions.c.symbol == symbol)
            ).scalar()
            values = {
                "symbol": symbol,
                "quantity": float(quantity),
                "updated_at": tables.time_text(now),
            }
            statement = self._insert(tables.positions).values(values)
            conn.execute(
                statement.on_conflict_do_update(
                    index_elements=["symbol"],
                    set_={"quantity": values["quantity"], "updated_at": values["updated_at"]},
                )
            )
            log_reconcile(
                conn, now, "position", symbol, None, before or 0.0, quantity, rule, reason
            )

    def _upsert_order(self, conn: Connection, order: Order, venue_id: str | None) -> str | None:
        """Store ``order``; return its status before (None when it is new)."""
        table = tables.orders
        before: str | None = conn.execute(
            select(table.c.status).where(table.c.client_id == order.id).with_for_update()
        ).scalar()
        values = order_values(order)
        if venue_id is not None:
            values["venue_order_id"] = venue_id
        if before is None:
            conn.execute(table.insert().values(values))
        else:
            conn.execute(update(table).where(table.c.client_id == order.id).values(values))
        return before

    def _fill_rows(self, since: pd.Timestamp | None, client_id: str | None) -> list[Any]:
        table = tables.fills
        query = since_filter(select(table), table, since).order_by(table.c.time, table.c.id)
        if client_id is not None:
            query = query.where(table.c.client_id == client_id)
        with self._read("read fills") as conn:
            return list(conn.execute(query).all())


def _event_row(row: Any) -> OrderEventRow:
    return OrderEventRow(
        id=row.id,
        client_id=row.client_id,
        time=tables.parse_time(row.time),
        from_status=row.from_status,
        to_status=row.to_status,
        event=row.event,
        reason=row.reason,
    )


def _journal(
    conn: Connection,
    client_id: str,
    before: str | None,
    after: str,
    event: str,
    reason: str,
    now: pd.Timestamp,
) -> None:
    """Append one transition ``before -> after`` of order ``client_id`` to its journal."""
    conn.execute(
        tables.order_events.insert().values(
            client_id=client_id,
            time=tables.time_text(now),
            from_status=before,
            to_status=after,
            event=event,
            reason=reason,
        )
    )


def _add_position(
    conn: Connection, statement: Insert, symbol: str, quantity: float, now: pd.Timestamp
) -> None:
    """Add ``quantity`` units to the position of ``symbol`` (in the database, no read first)."""
    stamp = tables.time_text(now)
    statement = statement.values(symbol=symbol, quantity=float(quantity), updated_at=stamp)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["symbol"],
            set_={"quantity": tables.positions.c.quantity + float(quantity), "updated_at": stamp},
        )
    )


def _add_cash(conn: Connection, statement: Insert, delta: float, now: pd.Timestamp) -> None:
    """Add ``delta`` (quote currency) to the cash balance."""
    stamp = tables.time_text(now)
    statement = statement.values(id=_CASH_ROW, amount=float(delta), updated_at=stamp)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["id"],
            set_={"amount": tables.cash.c.amount + float(delta), "updated_at": stamp},
        )
    )


__all__ = [
    "BUSY_TIMEOUT_MS",
    "FILL_COLUMNS",
    "FLAT",
    "MIGRATIONS_DIR",
    "RISK_DECISION_COLUMNS",
    "Ledger",
    "LedgerError",
    "alembic_config",
]
