"""What ``alphaforge trade status | positions | orders | fills | jobs`` read from the ledger,
and the manual commands it queues there for the running node."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from alphaforge.config.models import AppConfig
from alphaforge.core.errors import ConfigError
from alphaforge.pipeline.trade import read_ledger

#: Commands the node carries out (``TradingNode.poll_commands``).
COMMANDS = ("pause", "resume", "flatten", "cancel", "reconcile")


def ledger_status(config: AppConfig, mode: str) -> dict[str, str]:
    """Return the trading state, last heartbeat, cash, positions and open orders, as lines."""
    ledger = read_ledger(config, mode)
    try:
        state = ledger.trading_state()
        beats = ledger.heartbeats()
        last = max((b.time for b in beats), default=None)
        open_orders = ledger.load_orders(open_only=True)
        pending = ledger.pending_commands()
        return {
            "mode": mode,
            "state": f"{state.state} ({state.reason}, since {state.since:%Y-%m-%d %H:%M:%S} UTC)",
            "heartbeat": "none yet" if last is None else f"{last:%Y-%m-%d %H:%M:%S} UTC",
            "cash": f"{ledger.cash():,.2f}",
            "positions": ", ".join(f"{s} {q:+g}" for s, q in sorted(ledger.positions().items()))
            or "flat",
            "open orders": str(len(open_orders)),
            "pending commands": ", ".join(c.kind for c in pending) or "none",
        }
    finally:
        ledger.close()


def ledger_positions(config: AppConfig, mode: str) -> pd.DataFrame:
    """Return the positions (symbol, signed units)."""
    ledger = read_ledger(config, mode)
    try:
        held = ledger.positions()
        return pd.DataFrame({"symbol": list(held), "quantity": list(held.values())})
    finally:
        ledger.close()


def ledger_orders(config: AppConfig, mode: str, open_only: bool) -> pd.DataFrame:
    """Return the orders, oldest first."""
    ledger = read_ledger(config, mode)
    try:
        rows = [
            {
                "client_id": o.id,
                "created": o.created_at,
                "symbol": o.symbol,
                "quantity": o.intent.quantity,
                "type": str(o.intent.order_type),
                "status": str(o.status),
                "filled": o.filled_quantity,
                "avg_price": o.average_price,
                "reason": o.status_reason,
            }
            for o in ledger.load_orders(open_only=open_only)
        ]
        return pd.DataFrame(rows)
    finally:
        ledger.close()


def ledger_fills(config: AppConfig, mode: str, since: pd.Timestamp | None) -> pd.DataFrame:
    """Return the fills since ``since`` (UTC), oldest first."""
    ledger = read_ledger(config, mode)
    try:
        return ledger.fills(since)
    finally:
        ledger.close()


def ledger_jobs(config: AppConfig, mode: str) -> pd.DataFrame:
    """Return the scheduler's recent job runs."""
    ledger = read_ledger(config, mode)
    try:
        return pd.DataFrame(
            [
                {
                    "job": r.name,
                    "scheduled_for": r.scheduled_for,
                    "status": r.status,
                    "message": r.message,
                }
                for r in ledger.job_runs()
            ]
        )
    finally:
        ledger.close()


def queue_command(config: AppConfig, mode: str, kind: str, args: Mapping[str, str]) -> int:
    """Write a manual command row for the node; return its number."""
    if kind not in COMMANDS:
        raise ConfigError(f"Unknown command {kind!r}.", hint=", ".join(COMMANDS) + ".")
    ledger = read_ledger(config, mode)
    try:
        return ledger.add_command(kind, dict(args))
    finally:
        ledger.close()


__all__ = [
    "COMMANDS",
    "ledger_fills",
    "ledger_jobs",
    "ledger_orders",
    "ledger_positions",
    "ledger_status",
    "queue_command",
]
