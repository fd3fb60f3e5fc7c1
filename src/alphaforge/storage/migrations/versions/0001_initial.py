"""The trading ledger's first schema: orders, fills, positions, cash and the node's records.

Revision ID: 0001
Revises:
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

_TIME = 30  # ledger_tables.TIME_WIDTH at this revision


def _time(name: str, *, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(_TIME), nullable=nullable)


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer, primary_key=True, autoincrement=True)


def _index(table: str, *columns: str, unique: bool = False) -> None:
    op.create_index(f"ix_{table}_{'_'.join(columns)}", table, list(columns), unique=unique)


def upgrade() -> None:
    """Create every table of the ledger (and the risk manager's saved states)."""
    op.create_table(
        "orders",
        sa.Column("client_id", sa.String(64), primary_key=True),
        sa.Column("venue_order_id", sa.String(128), nullable=True),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("quantity", sa.Double, nullable=False),
        sa.Column("order_type", sa.String(16), nullable=False),
        sa.Column("limit_price", sa.Double, nullable=True),
        sa.Column("stop_price", sa.Double, nullable=True),
        sa.Column("trail_percent", sa.Double, nullable=True),
        sa.Column("time_in_force", sa.String(8), nullable=False),
        sa.Column("strategy", sa.String(128), nullable=False),
        sa.Column("oco_group", sa.String(128), nullable=True),
        sa.Column("has_bracket", sa.Boolean, nullable=False),
        sa.Column("bracket_stop_price", sa.Double, nullable=True),
        sa.Column("bracket_take_profit", sa.Double, nullable=True),
        sa.Column("bracket_trail_percent", sa.Double, nullable=True),
        sa.Column("reduce_only", sa.Boolean, nullable=False),
        sa.Column("intent_reason", sa.String(128), nullable=False),
        sa.Column("sizing", sa.Text, nullable=False),
        _time("created_at"),
        _time("updated_at", nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("filled_quantity", sa.Double, nullable=False),
        sa.Column("average_price", sa.Double, nullable=True),
        sa.Column("status_reason", sa.Text, nullable=False),
        sa.Column("parent_id", sa.String(64), nullable=True),
        sa.Column("trail_stop", sa.Double, nullable=True),
        sa.Column("replaces", sa.String(64), nullable=True),
    )
    _index("orders", "symbol")
    _index("orders", "status")
    op.create_table(
        "order_events",
        _id(),
        sa.Column("client_id", sa.String(64), nullable=False),
        _time("time"),
        sa.Column("from_status", sa.String(32), nullable=True),
        sa.Column("to_status", sa.String(32), nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
    )
    _index("order_events", "client_id")
    op.create_table(
        "fills",
        _id(),
        sa.Column("execution_id", sa.String(128), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        _time("time"),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("quantity", sa.Double, nullable=False),
        sa.Column("price", sa.Double, nullable=False),
        sa.Column("cost", sa.Double, nullable=False),
        sa.Column("costs", sa.Text, nullable=False),
        sa.Column("strategy", sa.String(128), nullable=False),
        sa.Column("reason", sa.String(128), nullable=False),
        _time("recorded_at"),
        sa.UniqueConstraint("execution_id", name="uq_fills_execution_id"),
    )
    _index("fills", "client_id")
    _index("fills", "time")
    op.create_table(
        "positions",
        sa.Column("symbol", sa.String(64), primary_key=True),
        sa.Column("quantity", sa.Double, nullable=False),
        _time("updated_at"),
    )
    op.create_table(
        "cash",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("amount", sa.Double, nullable=False),
        _time("updated_at"),
    )
    op.create_table(
        "checkpoints",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        _time("updated_at"),
    )
    op.create_table(
        "trading_states",
        _id(),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        _time("since"),
    )
    op.create_table(
        "commands",
        _id(),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("args", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        _time("created_at"),
        _time("completed_at", nullable=True),
        sa.Column("result", sa.Text, nullable=False),
    )
    _index("commands", "status")
    op.create_table(
        "job_runs",
        _id(),
        sa.Column("name", sa.String(128), nullable=False),
        _time("scheduled_for"),
        _time("started_at"),
        _time("finished_at", nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
    )
    _index("job_runs", "name")
    op.create_table(
        "alerts",
        _id(),
        _time("time"),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("source", sa.String(128), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
    )
    _index("alerts", "time")
    op.create_table(
        "heartbeats",
        sa.Column("node", sa.String(128), primary_key=True),
        _time("time"),
        sa.Column("details", sa.Text, nullable=False),
    )
    op.create_table(
        "risk_decisions",
        _id(),
        _time("time"),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("intent_id", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("piece", sa.String(128), nullable=False),
        sa.Column("rule", sa.Text, nullable=False),
        sa.Column("limit_value", sa.Double, nullable=True),
        sa.Column("observed", sa.Double, nullable=True),
        sa.Column("before_qty", sa.Double, nullable=False),
        sa.Column("after_qty", sa.Double, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("strategy", sa.String(128), nullable=False),
    )
    _index("risk_decisions", "time")
    op.create_table(
        "audit",
        _id(),
        _time("time"),
        sa.Column("client_id", sa.String(64), nullable=True),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("model", sa.String(128), nullable=True),
        sa.Column("model_version", sa.String(128), nullable=True),
        sa.Column("prediction", sa.Double, nullable=True),
        sa.Column("signal", sa.Double, nullable=True),
        sa.Column("target_weight", sa.Double, nullable=True),
        sa.Column("decision", sa.Text, nullable=False),
    )
    _index("audit", "time")
    _index("audit", "client_id")
    op.create_table(
        "reconcile_events",
        _id(),
        _time("time"),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=True),
        sa.Column("client_id", sa.String(64), nullable=True),
        sa.Column("before", sa.Text, nullable=True),
        sa.Column("after", sa.Text, nullable=True),
        sa.Column("rule", sa.Text, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
    )
    _index("reconcile_events", "time")
    # RiskStateStore creates the same table where it has a file of its own; here it joins the
    # ledger's database, so the node keeps one database.
    op.create_table(
        "risk_state",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String, nullable=False),
        sa.Column("saved_at", sa.String, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        if_not_exists=True,
    )
    op.create_index("ix_risk_state_key", "risk_state", ["key"], if_not_exists=True)


def downgrade() -> None:
    """Drop every table (the ledger's history is lost)."""
    for table in (
        "risk_state",
        "reconcile_events",
        "audit",
        "risk_decisions",
        "heartbeats",
        "alerts",
        "job_runs",
        "commands",
        "trading_states",
        "checkpoints",
        "cash",
        "positions",
        "fills",
        "order_events",
        "orders",
    ):
        op.drop_table(table)
