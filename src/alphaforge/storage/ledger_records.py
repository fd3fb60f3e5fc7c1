"""The trading node's records in the ledger: checkpoints, trading state, commands, job runs,
alerts, heartbeats, risk decisions, the audit of predictions and the reconciliation log.

:class:`LedgerRecords` is the part of :class:`~alphaforge.storage.ledger.Ledger` that is not
about orders and money; each write is one transaction, each reader returns frozen values with
tz-aware UTC times.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from sqlalchemy import Connection, func, select, update

from alphaforge.storage import ledger_tables as tables
from alphaforge.storage.ledger_db import LedgerBase, inserted_id, log_reconcile, since_filter
from alphaforge.storage.ledger_rows import (
    COMMAND_KINDS,
    TRADING_STATES,
    AlertRow,
    AuditRow,
    CommandRow,
    HeartbeatRow,
    JobRunRow,
    ReconcileRow,
    TradingState,
    TradingStateRow,
    audit_values,
    risk_decision_values,
)

#: Columns of :meth:`LedgerRecords.risk_decisions` (those of ``risk.audit.AUDIT_COLUMNS``).
RISK_DECISION_COLUMNS = (
    "time",
    "symbol",
    "intent_id",
    "action",
    "piece",
    "rule",
    "limit",
    "observed",
    "before",
    "after",
    "reason",
    "strategy",
)


class LedgerRecords(LedgerBase):
    """Checkpoints, trading state, commands, job runs, alerts, heartbeats, risk and audit."""

    # -- checkpoints and trading state -------------------------------------------------------

    def checkpoint(self, name: str) -> str | None:
        """Return the value of a checkpoint (e.g. a venue's fills-since cursor), or None."""
        with self._read("read a checkpoint") as conn:
            value: str | None = conn.execute(
                select(tables.checkpoints.c.value).where(tables.checkpoints.c.name == name)
            ).scalar()
        return value

    def set_checkpoint(self, name: str, value: str) -> None:
        """Store a checkpoint's value."""
        now = self._now()
        with self._write("store a checkpoint") as conn:
            self._put_checkpoint(conn, name, value, now)

    def trading_state(self) -> TradingStateRow:
        """Return the trading state (``active`` on a new ledger)."""
        return self.trading_state_history(limit=1)[0]

    def trading_state_history(self, limit: int = 50) -> list[TradingStateRow]:
        """Return the newest ``limit`` trading states, newest first."""
        table = tables.trading_states
        with self._read("read the trading state") as conn:
            rows = conn.execute(select(table).order_by(table.c.id.desc()).limit(limit)).all()
        return [TradingStateRow(r.state, r.reason, tables.parse_time(r.since)) for r in rows]

    def set_trading_state(self, state: TradingState, reason: str) -> None:
        """Persist a new trading state (``active``, ``reducing`` or ``halted``) and why."""
        if state not in TRADING_STATES:
            raise ValueError(f"trading state must be one of {TRADING_STATES}, got {state!r}")
        now = self._now()
        with self._write("set the trading state") as conn:
            conn.execute(
                tables.trading_states.insert().values(
                    state=state, reason=reason, since=tables.time_text(now)
                )
            )

    # -- commands, job runs, alerts, heartbeats ----------------------------------------------

    def add_command(
        self,
        kind: str,
        args: Mapping[str, Any] | None = None,
        *,
        audit: Mapping[str, Any] | None = None,
    ) -> int:
        """Queue a manual command for the running node and return its id.

        ``kind`` is one of :data:`~alphaforge.storage.ledger_rows.COMMAND_KINDS`. ``audit``
        (who asked and why) is stored as an audit row in the same transaction, so the
        command and its audit exist together or not at all.
        """
        if kind not in COMMAND_KINDS:
            raise ValueError(f"command must be one of {COMMAND_KINDS}, got {kind!r}")
        values = {
            "kind": kind,
            "args": tables.dumps(dict(args or {})),
            "status": "pending",
            "created_at": tables.time_text(self._now()),
            "completed_at": None,
            "result": "",
        }
        with self._write("queue a command") as conn:
            number = inserted_id(conn, tables.commands, values)
            if audit is not None:
                row = audit_values(self._now(), None, "", {**audit, "command_id": number})
                conn.execute(tables.audit.insert().values(row))
            return number

    def pending_commands(self) -> list[CommandRow]:
        """Return the commands not yet done, oldest first."""
        return self._commands(pending=True, limit=None)

    def commands(self, limit: int = 50) -> list[CommandRow]:
        """Return the newest ``limit`` commands of any status, newest first."""
        return self._commands(pending=False, limit=limit)

    def complete_command(self, command_id: int, status: str, result: str = "") -> bool:
        """Mark a pending command ``done`` or ``failed``; False when it was not pending."""
        if status not in ("done", "failed"):
            raise ValueError(f"a command completes as 'done' or 'failed', got {status!r}")
        table = tables.commands
        now = tables.time_text(self._now())
        with self._write("complete a command") as conn:
            changed = conn.execute(
                update(table)
                .where(table.c.id == command_id, table.c.status == "pending")
                .values(status=status, result=result, completed_at=now)
            )
        return changed.rowcount == 1

    def start_job(self, name: str, scheduled_for: pd.Timestamp) -> int:
        """Record that a job run starts (status ``running``) and return its id."""
        values = {
            "name": name,
            "scheduled_for": tables.time_text(scheduled_for),
            "started_at": tables.time_text(self._now()),
            "finished_at": None,
            "status": "running",
            "message": "",
        }
        with self._write("record a job run") as conn:
            return inserted_id(conn, tables.job_runs, values)

    def finish_job(self, run_id: int, status: str, message: str = "") -> None:
        """Record how a job run ended (``done``, ``failed``, ``skipped`` ...)."""
        table = tables.job_runs
        now = tables.time_text(self._now())
        with self._write("finish a job run") as conn:
            conn.execute(
                update(table)
                .where(table.c.id == run_id)
                .values(status=status, message=message, finished_at=now)
            )

    def job_runs(self, name: str | None = None, limit: int = 50) -> list[JobRunRow]:
        """Return the newest ``limit`` job runs (of ``name`` if given), newest first."""
        table = tables.job_runs
        query = select(table).order_by(table.c.id.desc()).limit(limit)
        if name is not None:
            query = query.where(table.c.name == name)
        with self._read("read job runs") as conn:
            rows = conn.execute(query).all()
        return [
            JobRunRow(
                id=r.id,
                name=r.name,
                scheduled_for=tables.parse_time(r.scheduled_for),
                started_at=tables.parse_time(r.started_at),
                finished_at=tables.parse_optional_time(r.finished_at),
                status=r.status,
                message=r.message,
            )
            for r in rows
        ]

    def job_run_counts(self) -> dict[tuple[str, str], int]:
        """Return how many runs each job has had, by ``(job name, status)``."""
        table = tables.job_runs
        query = select(table.c.name, table.c.status, func.count()).group_by(
            table.c.name, table.c.status
        )
        with self._read("read job runs") as conn:
            rows = conn.execute(query).all()
        return {(name, status): int(count) for name, status, count in rows}

    def last_job_run(self, name: str) -> JobRunRow | None:
        """Return the newest run of a job, or None."""
        runs = self.job_runs(name, limit=1)
        return runs[0] if runs else None

    def add_alert(self, level: str, source: str, message: str) -> int:
        """Store an alert and return its id."""
        values = {"time": tables.time_text(self._now()), "level": level, "source": source}
        with self._write("store an alert") as conn:
            return inserted_id(conn, tables.alerts, {**values, "message": message})

    def alerts(self, since: pd.Timestamp | None = None) -> list[AlertRow]:
        """Return the alerts from ``since`` (inclusive), oldest first."""
        table = tables.alerts
        with self._read("read alerts") as conn:
            rows = conn.execute(
                since_filter(select(table), table, since).order_by(table.c.id)
            ).all()
        return [
            AlertRow(r.id, tables.parse_time(r.time), r.level, r.source, r.message) for r in rows
        ]

    def beat(self, node: str, details: Mapping[str, Any]) -> None:
        """Store the heartbeat of ``node`` (one row per node, replaced)."""
        values = {
            "node": node,
            "time": tables.time_text(self._now()),
            "details": tables.dumps(details),
        }
        with self._write("store a heartbeat") as conn:
            statement = self._insert(tables.heartbeats).values(values)
            conn.execute(
                statement.on_conflict_do_update(
                    index_elements=["node"],
                    set_={"time": values["time"], "details": values["details"]},
                )
            )

    def heartbeats(self) -> list[HeartbeatRow]:
        """Return every node's newest heartbeat, by node name."""
        table = tables.heartbeats
        with self._read("read heartbeats") as conn:
            rows = conn.execute(select(table).order_by(table.c.node)).all()
        return [
            HeartbeatRow(r.node, tables.parse_time(r.time), json.loads(r.details)) for r in rows
        ]

    # -- risk decisions, audit, reconciliation -----------------------------------------------

    def add_risk_decisions(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Store risk decisions (``RiskDecision.row()`` dicts, ``strategy`` optional) at once."""
        values = [risk_decision_values(row) for row in rows]
        if not values:
            return
        with self._write("store risk decisions") as conn:
            conn.execute(tables.risk_decisions.insert(), values)

    def risk_decisions(self, since: pd.Timestamp | None = None) -> pd.DataFrame:
        """Return the risk decisions with :data:`RISK_DECISION_COLUMNS`, oldest first."""
        table = tables.risk_decisions
        with self._read("read risk decisions") as conn:
            rows = conn.execute(
                since_filter(select(table), table, since).order_by(table.c.id)
            ).all()
        records = [
            {
                "time": tables.parse_time(r.time),
                "symbol": r.symbol,
                "intent_id": r.intent_id,
                "action": r.action,
                "piece": r.piece,
                "rule": r.rule,
                "limit": tables.from_db_nan(r.limit_value),
                "observed": tables.from_db_nan(r.observed),
                "before": r.before_qty,
                "after": r.after_qty,
                "reason": r.reason,
                "strategy": r.strategy,
            }
            for r in rows
        ]
        frame = pd.DataFrame(records, columns=list(RISK_DECISION_COLUMNS))
        frame["time"] = pd.to_datetime(frame["time"], utc=True)
        for name in ("limit", "observed", "before", "after"):
            frame[name] = frame[name].astype("float64")
        return frame

    def add_audit(
        self,
        time: pd.Timestamp,
        client_id: str | None,
        symbol: str,
        decision: Mapping[str, Any],
    ) -> int:
        """Store the audit row of a decision and return its id.

        ``decision`` is stored whole (JSON); its keys ``model``, ``model_version``,
        ``prediction``, ``signal`` and ``target_weight`` are also columns of their own.
        """
        values = audit_values(time, client_id, symbol, decision)
        with self._write("store an audit row") as conn:
            return inserted_id(conn, tables.audit, values)

    def audits(
        self, since: pd.Timestamp | None = None, client_id: str | None = None
    ) -> list[AuditRow]:
        """Return the audit rows from ``since`` (inclusive; of one order if given), oldest first."""
        table = tables.audit
        query = since_filter(select(table), table, since).order_by(table.c.id)
        if client_id is not None:
            query = query.where(table.c.client_id == client_id)
        with self._read("read audit rows") as conn:
            rows = conn.execute(query).all()
        return [
            AuditRow(
                id=r.id,
                time=tables.parse_time(r.time),
                client_id=r.client_id,
                symbol=r.symbol,
                model=r.model,
                model_version=r.model_version,
                prediction=r.prediction,
                signal=r.signal,
                target_weight=r.target_weight,
                decision=json.loads(r.decision),
            )
            for r in rows
        ]

    def add_reconcile_event(
        self,
        kind: str,
        symbol: str | None,
        client_id: str | None,
        before: object,
        after: object,
        rule: str,
        message: str,
    ) -> int:
        """Log a difference reconciliation found and the rule that repaired it; return its id.

        ``before`` and ``after`` are stored as text (None stays NULL).
        """
        now = self._now()
        with self._write("log a reconciliation") as conn:
            return log_reconcile(conn, now, kind, symbol, client_id, before, after, rule, message)

    def reconcile_events(self, since: pd.Timestamp | None = None) -> list[ReconcileRow]:
        """Return the reconciliation log from ``since`` (inclusive), oldest first."""
        table = tables.reconcile_events
        with self._read("read the reconciliation log") as conn:
            rows = conn.execute(
                since_filter(select(table), table, since).order_by(table.c.id)
            ).all()
        return [
            ReconcileRow(
                id=r.id,
                time=tables.parse_time(r.time),
                kind=r.kind,
                symbol=r.symbol,
                client_id=r.client_id,
                before=r.before,
                after=r.after,
                rule=r.rule,
                message=r.message,
            )
            for r in rows
        ]

    def _put_checkpoint(self, conn: Connection, name: str, value: str, now: pd.Timestamp) -> None:
        values = {"name": name, "value": value, "updated_at": tables.time_text(now)}
        statement = self._insert(tables.checkpoints).values(values)
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=["name"], set_={"value": value, "updated_at": values["updated_at"]}
            )
        )

    def _commands(self, *, pending: bool, limit: int | None) -> list[CommandRow]:
        table = tables.commands
        if pending:
            query = select(table).where(table.c.status == "pending").order_by(table.c.id)
        else:
            query = select(table).order_by(table.c.id.desc()).limit(limit)
        with self._read("read commands") as conn:
            rows = conn.execute(query).all()
        return [
            CommandRow(
                id=r.id,
                kind=r.kind,
                args=json.loads(r.args),
                status=r.status,
                created_at=tables.parse_time(r.created_at),
                completed_at=tables.parse_optional_time(r.completed_at),
                result=r.result,
            )
            for r in rows
        ]

    def _seed_trading_state(self) -> None:
        """Give a new ledger its first trading state, ``active`` (an existing one is kept)."""
        count = select(func.count()).select_from(tables.trading_states)
        with self._read("open") as conn:
            if conn.execute(count).scalar():
                return
        with self._write("open") as conn:
            if not conn.execute(count).scalar():  # another process may have seeded it
                conn.execute(
                    tables.trading_states.insert().values(
                        state="active", reason="new ledger", since=tables.time_text(self._now())
                    )
                )


__all__ = ["RISK_DECISION_COLUMNS", "LedgerRecords"]
