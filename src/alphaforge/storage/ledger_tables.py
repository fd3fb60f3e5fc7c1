"""Tables of the trading ledger (:mod:`alphaforge.storage.ledger`) and how values are stored.

The schema here is what the Alembic migrations in ``storage/migrations`` build; a test compares
the two, so a change here needs a new migration. Times are stored as fixed-width ISO 8601 text
in UTC with nanoseconds (``2024-01-02T15:00:00.000000000Z``): exact for ``pd.Timestamp``,
ordered as text on SQLite and PostgreSQL alike, and readable in any SQL browser. Quantities,
prices and money are IEEE doubles (``float``, as the order values carry them); a NaN is
stored as NULL.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd
from sqlalchemy import (
    Boolean,
    Column,
    Double,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

#: Width of a stored time: ``YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ``.
TIME_WIDTH = 30

metadata = MetaData()


def _time(name: str, *, nullable: bool = False, index: bool = False) -> Column[str]:
    return Column(name, String(TIME_WIDTH), nullable=nullable, index=index)


def _id() -> Column[int]:
    return Column("id", Integer, primary_key=True, autoincrement=True)


orders = Table(
    "orders",
    metadata,
    Column("client_id", String(64), primary_key=True),
    Column("venue_order_id", String(128), nullable=True),
    Column("symbol", String(64), nullable=False, index=True),
    Column("quantity", Double, nullable=False),
    Column("order_type", String(16), nullable=False),
    Column("limit_price", Double, nullable=True),
    Column("stop_price", Double, nullable=True),
    Column("trail_percent", Double, nullable=True),
    Column("time_in_force", String(8), nullable=False),
    Column("strategy", String(128), nullable=False),
    Column("oco_group", String(128), nullable=True),
    Column("has_bracket", Boolean, nullable=False),
    Column("bracket_stop_price", Double, nullable=True),
    Column("bracket_take_profit", Double, nullable=True),
    Column("bracket_trail_percent", Double, nullable=True),
    Column("reduce_only", Boolean, nullable=False),
    Column("intent_reason", String(128), nullable=False),
    Column("sizing", Text, nullable=False),
    _time("created_at"),
    _time("updated_at", nullable=True),
    Column("status", String(32), nullable=False, index=True),
    Column("filled_quantity", Double, nullable=False),
    Column("average_price", Double, nullable=True),
    Column("status_reason", Text, nullable=False),
    Column("parent_id", String(64), nullable=True),
    Column("trail_stop", Double, nullable=True),
    Column("replaces", String(64), nullable=True),
)

order_events = Table(
    "order_events",
    metadata,
    _id(),
    Column("client_id", String(64), nullable=False, index=True),
    _time("time"),
    Column("from_status", String(32), nullable=True),
    Column("to_status", String(32), nullable=False),
    Column("event", String(64), nullable=False),
    Column("reason", Text, nullable=False),
)

fills = Table(
    "fills",
    metadata,
    _id(),
    Column("execution_id", String(128), nullable=False),
    Column("client_id", String(64), nullable=False, index=True),
    _time("time", index=True),
    Column("symbol", String(64), nullable=False),
    Column("quantity", Double, nullable=False),
    Column("price", Double, nullable=False),
    Column("cost", Double, nullable=False),
    Column("costs", Text, nullable=False),
    Column("strategy", String(128), nullable=False),
    Column("reason", String(128), nullable=False),
    _time("recorded_at"),
    UniqueConstraint("execution_id", name="uq_fills_execution_id"),
)

positions = Table(
    "positions",
    metadata,
    Column("symbol", String(64), primary_key=True),
    Column("quantity", Double, nullable=False),
    _time("updated_at"),
)

cash = Table(
    "cash",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("amount", Double, nullable=False),
    _time("updated_at"),
)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("value", Text, nullable=False),
    _time("updated_at"),
)

trading_states = Table(
    "trading_states",
    metadata,
    _id(),
    Column("state", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    _time("since"),
)

commands = Table(
    "commands",
    metadata,
    _id(),
    Column("kind", String(32), nullable=False),
    Column("args", Text, nullable=False),
    Column("status", String(16), nullable=False, index=True),
    _time("created_at"),
    _time("completed_at", nullable=True),
    Column("result", Text, nullable=False),
)

job_runs = Table(
    "job_runs",
    metadata,
    _id(),
    Column("name", String(128), nullable=False, index=True),
    _time("scheduled_for"),
    _time("started_at"),
    _time("finished_at", nullable=True),
    Column("status", String(16), nullable=False),
    Column("message", Text, nullable=False),
)

alerts = Table(
    "alerts",
    metadata,
    _id(),
    _time("time", index=True),
    Column("level", String(16), nullable=False),
    Column("source", String(128), nullable=False),
    Column("message", Text, nullable=False),
)

heartbeats = Table(
    "heartbeats",
    metadata,
    Column("node", String(128), primary_key=True),
    _time("time"),
    Column("details", Text, nullable=False),
)

risk_decisions = Table(
    "risk_decisions",
    metadata,
    _id(),
    _time("time", index=True),
    Column("symbol", String(64), nullable=False),
    Column("intent_id", String(64), nullable=False),
    Column("action", String(16), nullable=False),
    Column("piece", String(128), nullable=False),
    Column("rule", Text, nullable=False),
    Column("limit_value", Double, nullable=True),
    Column("observed", Double, nullable=True),
    Column("before_qty", Double, nullable=False),
    Column("after_qty", Double, nullable=False),
    Column("reason", Text, nullable=False),
    Column("strategy", String(128), nullable=False),
)

audit = Table(
    "audit",
    metadata,
    _id(),
    _time("time", index=True),
    Column("client_id", String(64), nullable=True, index=True),
    Column("symbol", String(64), nullable=False),
    Column("model", String(128), nullable=True),
    Column("model_version", String(128), nullable=True),
    Column("prediction", Double, nullable=True),
    Column("signal", Double, nullable=True),
    Column("target_weight", Double, nullable=True),
    Column("decision", Text, nullable=False),
)

reconcile_events = Table(
    "reconcile_events",
    metadata,
    _id(),
    _time("time", index=True),
    Column("kind", String(64), nullable=False),
    Column("symbol", String(64), nullable=True),
    Column("client_id", String(64), nullable=True),
    Column("before", Text, nullable=True),
    Column("after", Text, nullable=True),
    Column("rule", Text, nullable=False),
    Column("message", Text, nullable=False),
)

#: The risk manager's saved states (:class:`alphaforge.risk.state.RiskStateStore`), defined
#: here too so that the migrations create it in the ledger's database.
risk_state = Table(
    "risk_state",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String, nullable=False),
    Column("saved_at", String, nullable=False),
    Column("state", Text, nullable=False),
    Index("ix_risk_state_key", "key"),
)


def time_text(when: pd.Timestamp) -> str:
    """Return ``when`` as stored: fixed-width ISO 8601 in UTC with nanoseconds.

    Raises
    ------
    ValueError
        When ``when`` is naive (the ledger never guesses a time zone).
    """
    stamp = pd.Timestamp(when)
    if stamp.tzinfo is None:
        raise ValueError(f"ledger times must be timezone-aware, got {stamp}")
    stamp = stamp.tz_convert("UTC")
    fraction = stamp.microsecond * 1000 + stamp.nanosecond
    return f"{stamp.strftime('%Y-%m-%dT%H:%M:%S')}.{fraction:09d}Z"


def parse_time(text: str) -> pd.Timestamp:
    """Return a stored time as a tz-aware UTC timestamp."""
    return pd.Timestamp(text).tz_convert("UTC")


def parse_optional_time(text: str | None) -> pd.Timestamp | None:
    """Return a stored time, or None for NULL."""
    return None if text is None else parse_time(text)


def to_db_float(value: float | None) -> float | None:
    """Return ``value`` for a nullable double column (NaN and None become NULL)."""
    if value is None or math.isnan(value):
        return None
    return float(value)


def from_db_nan(value: float | None) -> float:
    """Return a nullable double column as a float (NULL becomes NaN)."""
    return math.nan if value is None else float(value)


def dumps(value: Any) -> str:
    """Return ``value`` as JSON text (sorted keys, so equal values give equal text)."""
    return json.dumps(value, sort_keys=True, default=str)


__all__ = [
    "TIME_WIDTH",
    "alerts",
    "audit",
    "cash",
    "checkpoints",
    "commands",
    "dumps",
    "fills",
    "from_db_nan",
    "heartbeats",
    "job_runs",
    "metadata",
    "order_events",
    "orders",
    "parse_optional_time",
    "parse_time",
    "positions",
    "reconcile_events",
    "risk_decisions",
    "risk_state",
    "time_text",
    "to_db_float",
    "trading_states",
]
