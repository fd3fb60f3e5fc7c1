"""Values the trading ledger returns, and the translation of orders and fills to and from rows.

Every reader of :class:`alphaforge.storage.ledger.Ledger` returns these frozen dataclasses or
the core order values, never database rows; times are tz-aware UTC ``pd.Timestamp``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from alphaforge.core.orders import (
    Bracket,
    Fill,
    Order,
    OrderIntent,
    OrderStatus,
    OrderType,
    SizingStep,
    TimeInForce,
)
from alphaforge.storage.ledger_tables import (
    dumps,
    from_db_nan,
    parse_optional_time,
    parse_time,
    time_text,
    to_db_float,
)

#: The node's trading states: all orders allowed, only orders that shrink positions, none.
TradingState = Literal["active", "reducing", "halted"]
TRADING_STATES: tuple[TradingState, ...] = ("active", "reducing", "halted")

#: Manual controls a person (CLI, dashboard) asks of the running node.
COMMAND_KINDS = ("pause", "resume", "flatten", "cancel", "run_job", "reconcile")


@dataclass(frozen=True, slots=True)
class OrderEventRow:
    """One journalled transition of an order (``from_status`` None: the order was new)."""

    id: int
    client_id: str
    time: pd.Timestamp
    from_status: str | None
    to_status: str
    event: str
    reason: str


@dataclass(frozen=True, slots=True)
class TradingStateRow:
    """The node's trading state, why, and since when (UTC)."""

    state: TradingState
    reason: str
    since: pd.Timestamp


@dataclass(frozen=True, slots=True)
class CommandRow:
    """A manual command: ``status`` is ``pending``, ``done`` or ``failed``."""

    id: int
    kind: str
    args: dict[str, Any]
    status: str
    created_at: pd.Timestamp
    completed_at: pd.Timestamp | None
    result: str


@dataclass(frozen=True, slots=True)
class JobRunRow:
    """One run of a scheduled job: ``status`` is ``running`` until it is finished."""

    id: int
    name: str
    scheduled_for: pd.Timestamp
    started_at: pd.Timestamp
    finished_at: pd.Timestamp | None
    status: str
    message: str


@dataclass(frozen=True, slots=True)
class AlertRow:
    """An alert raised by the node (``level``: info, warning, error, critical)."""

    id: int
    time: pd.Timestamp
    level: str
    source: str
    message: str


@dataclass(frozen=True, slots=True)
class HeartbeatRow:
    """The newest heartbeat of a node, with what it reported."""

    node: str
    time: pd.Timestamp
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One trading decision and the prediction behind it (``decision`` as given)."""

    id: int
    time: pd.Timestamp
    client_id: str | None
    symbol: str
    model: str | None
    model_version: str | None
    prediction: float | None
    signal: float | None
    target_weight: float | None
    decision: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ReconcileRow:
    """One difference reconciliation found and the rule that repaired it (or a hand change)."""

    id: int
    time: pd.Timestamp
    kind: str
    symbol: str | None
    client_id: str | None
    before: str | None
    after: str | None
    rule: str
    message: str


def order_values(order: Order) -> dict[str, Any]:
    """Return the ``orders`` row of ``order`` (every field of the order and its intent)."""
    intent = order.intent
    bracket = intent.bracket
    return {
        "client_id": order.id,
        "symbol": intent.symbol,
        "quantity": float(intent.quantity),
        "order_type": str(intent.order_type),
        "limit_price": intent.limit_price,
        "stop_price": intent.stop_price,
        "trail_percent": intent.trail_percent,
        "time_in_force": str(intent.time_in_force),
        "strategy": intent.strategy,
        "oco_group": intent.oco_group,
        "has_bracket": bracket is not None,
        "bracket_stop_price": None if bracket is None else bracket.stop_price,
        "bracket_take_profit": None if bracket is None else bracket.take_profit,
        "bracket_trail_percent": None if bracket is None else bracket.trail_percent,
        "reduce_only": intent.reduce_only,
        "intent_reason": intent.reason,
        "sizing": json.dumps([[s.step, s.before, s.after, s.reason] for s in intent.sizing]),
        "created_at": time_text(order.created_at),
        "updated_at": None if order.updated_at is None else time_text(order.updated_at),
        "status": str(order.status),
        "filled_quantity": float(order.filled_quantity),
        "average_price": to_db_float(order.average_price),
        "status_reason": order.status_reason,
        "parent_id": order.parent_id,
        "trail_stop": order.trail_stop,
        "replaces": order.replaces,
    }


def order_from_row(row: Mapping[Any, Any]) -> Order:
    """Return the :class:`Order` an ``orders`` row stores."""
    bracket = None
    if row["has_bracket"]:
        bracket = Bracket(
            stop_price=row["bracket_stop_price"],
            take_profit=row["bracket_take_profit"],
            trail_percent=row["bracket_trail_percent"],
        )
    intent = OrderIntent(
        symbol=row["symbol"],
        quantity=row["quantity"],
        order_type=OrderType(row["order_type"]),
        limit_price=row["limit_price"],
        stop_price=row["stop_price"],
        trail_percent=row["trail_percent"],
        time_in_force=TimeInForce(row["time_in_force"]),
        strategy=row["strategy"],
        oco_group=row["oco_group"],
        bracket=bracket,
        reduce_only=bool(row["reduce_only"]),
        reason=row["intent_reason"],
        sizing=tuple(SizingStep(*step) for step in json.loads(row["sizing"])),
    )
    return Order(
        id=row["client_id"],
        intent=intent,
        created_at=parse_time(row["created_at"]),
        status=OrderStatus(row["status"]),
        filled_quantity=row["filled_quantity"],
        average_price=from_db_nan(row["average_price"]),
        updated_at=parse_optional_time(row["updated_at"]),
        status_reason=row["status_reason"],
        parent_id=row["parent_id"],
        trail_stop=row["trail_stop"],
        replaces=row["replaces"],
    )


def fill_values(fill: Fill, recorded_at: pd.Timestamp) -> dict[str, Any]:
    """Return the ``fills`` row of ``fill`` (costs kept in order, with their total)."""
    return {
        "execution_id": fill.execution_id,
        "client_id": fill.order_id,
        "time": time_text(fill.timestamp),
        "symbol": fill.symbol,
        "quantity": float(fill.quantity),
        "price": float(fill.price),
        "cost": fill.total_cost,
        "costs": json.dumps([[name, value] for name, value in fill.costs]),
        "strategy": fill.strategy,
        "reason": fill.reason,
        "recorded_at": time_text(recorded_at),
    }


def fill_from_row(row: Mapping[Any, Any]) -> Fill:
    """Return the :class:`Fill` a ``fills`` row stores."""
    return Fill(
        order_id=row["client_id"],
        symbol=row["symbol"],
        timestamp=parse_time(row["time"]),
        quantity=row["quantity"],
        price=row["price"],
        costs=tuple((name, value) for name, value in json.loads(row["costs"])),
        strategy=row["strategy"],
        reason=row["reason"],
        execution_id=row["execution_id"],
    )


def risk_decision_values(decision: Mapping[str, Any]) -> dict[str, Any]:
    """Return the ``risk_decisions`` row of a ``RiskDecision.row()`` dict.

    ``action`` defaults to ``refuse`` when nothing is left (``after == 0``), else ``resize``;
    ``strategy`` defaults to empty.
    """
    after = float(decision["after"])
    return {
        "time": time_text(decision["time"]),
        "symbol": str(decision["symbol"]),
        "intent_id": str(decision["intent_id"]),
        "action": str(decision.get("action") or ("refuse" if after == 0 else "resize")),
        "piece": str(decision["piece"]),
        "rule": str(decision["rule"]),
        "limit_value": to_db_float(float(decision["limit"])),
        "observed": to_db_float(float(decision["observed"])),
        "before_qty": float(decision["before"]),
        "after_qty": after,
        "reason": str(decision["reason"]),
        "strategy": str(decision.get("strategy") or ""),
    }


def audit_values(
    time: pd.Timestamp, client_id: str | None, symbol: str, decision: Mapping[str, Any]
) -> dict[str, Any]:
    """Return the ``audit`` row of a decision; its well-known keys are indexed columns too."""

    def number(key: str) -> float | None:
        value = decision.get(key)
        return None if value is None else to_db_float(float(value))

    def text(key: str) -> str | None:
        value = decision.get(key)
        return None if value is None else str(value)

    return {
        "time": time_text(time),
        "client_id": client_id,
        "symbol": symbol,
        "model": text("model"),
        "model_version": text("model_version"),
        "prediction": number("prediction"),
        "signal": number("signal"),
        "target_weight": number("target_weight"),
        "decision": dumps(dict(decision)),
    }


__all__ = [
    "COMMAND_KINDS",
    "TRADING_STATES",
    "AlertRow",
    "AuditRow",
    "CommandRow",
    "HeartbeatRow",
    "JobRunRow",
    "OrderEventRow",
    "ReconcileRow",
    "TradingState",
    "TradingStateRow",
    "audit_values",
    "fill_from_row",
    "fill_values",
    "order_from_row",
    "order_values",
    "risk_decision_values",
]
