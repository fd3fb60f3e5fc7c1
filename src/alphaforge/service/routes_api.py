"""Read routes under ``/api/v1``: account, positions, orders, fills, equity, signals,
predictions, models, runs, risk, data health, jobs, alerts and every page's JSON twin.

All need a ``read`` token. Times are ISO-8601 UTC; money in the account's currency.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Annotated, Any, TypeVar

import pandas as pd
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from alphaforge.models.registry_store import ModelRegistry
from alphaforge.service.auth import Scope, TokenInfo
from alphaforge.service.pages import build_page
from alphaforge.service.security import require_scope
from alphaforge.service.sources import ServiceSources
from alphaforge.service.views import (
    heartbeat,
    positions_table,
)
from alphaforge.storage.bar_store import BarStore
from alphaforge.storage.ledger import Ledger

__all__ = ["acknowledged_alerts", "clean", "clean_map", "router", "vars_of"]

router = APIRouter(prefix="/api/v1", tags=["read"])
T = TypeVar("T")
Reader = Annotated[TokenInfo, Depends(require_scope(Scope.READ))]


def clean(value: Any) -> Any:
    """Return ``value`` JSON-ready: NaN and infinities as None, times as ISO text."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, pd.Timestamp):
        return None if value is pd.NaT else value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        return clean(value.item())
    return value


def clean_map(value: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`clean` of a mapping, typed as the dict it returns."""
    cleaned: dict[str, Any] = clean(value)
    return cleaned


def cached_read(handler: Callable[..., T]) -> Callable[..., Awaitable[T]]:
    """Serve ``handler``'s answers through the read cache: kept until the data change and
    for at most a second (FastAPI passes ``request``; authentication runs first, as a
    dependency, on every request).

    A kept answer is returned on the event loop; only a rebuild goes to a worker thread, so
    many clients reading the same data do not queue behind the thread pool.
    """

    @functools.wraps(handler)
    async def answer(*args: Any, **kwargs: Any) -> T:
        request: Request = kwargs["request"]
        state = request.app.state.service
        key = (request.url.path, tuple(sorted(request.query_params.multi_items())))
        version = state.sources.version()
        kept = state.reads.peek(key, version)
        if kept is not None:
            return kept  # type: ignore[no-any-return]
        return await run_in_threadpool(
            state.reads.get, key, version, lambda: handler(*args, **kwargs)
        )

    return answer


def _sources(request: Request) -> ServiceSources:
    sources: ServiceSources = request.app.state.service.sources
    return sources


def _ledger_or_empty(request: Request) -> Ledger | None:
    return _sources(request).ledger()


class Account(BaseModel):
    """The account as the ledger knows it."""

    mode: str
    ledger: bool
    state: str | None
    state_reason: str | None
    cash: float | None
    positions_value: float | None
    equity: float | None
    heartbeat: str
    node_alive: bool
    hint: str | None = None


@router.get("/account", response_model=Account)
@cached_read
def account(request: Request, token: Reader) -> Account:
    """Trading state, cash, marked positions and equity, and the node's heartbeat."""
    sources = _sources(request)
    ledger = sources.ledger()
    if ledger is None:
        return Account(
            mode=sources.mode,
            ledger=False,
            state=None,
            state_reason=None,
            cash=None,
            positions_value=None,
            equity=None,
            heartbeat="no ledger",
            node_alive=False,
            hint=f"alphaforge trade run --mode {sources.mode}",
        )
    now = sources.clock.now()
    held = ledger.positions()
    marks = sources.closes.last(list(held), now)
    value = sum(q * marks.get(s, math.nan) for s, q in held.items())
    state = ledger.trading_state()
    beat = heartbeat(ledger, now, sources.config.service.heartbeat_stale_s)
    cash = ledger.cash()
    return Account(
        mode=sources.mode,
        ledger=True,
        state=state.state,
        state_reason=state.reason,
        cash=cash,
        positions_value=clean(value),
        equity=clean(cash + value),
        heartbeat=beat.text(),
        node_alive=beat.alive,
    )


def _table(frame: pd.DataFrame) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = clean(frame.to_dict("records"))
    return records


@router.get("/positions")
@cached_read
def positions(request: Request, token: Reader) -> list[dict[str, Any]]:
    """Held positions with their average cost, mark, value and unrealised P&L."""
    sources = _sources(request)
    ledger = sources.ledger()
    if ledger is None:
        return []
    held = ledger.positions()
    now = sources.clock.now()
    marks = sources.closes.last(list(held), now)
    return _table(positions_table(ledger, marks, sources.instruments(held)))


@router.get("/orders")
@cached_read
def orders(
    request: Request, token: Reader, open_only: Annotated[bool, Query(alias="open")] = False
) -> list[dict[str, Any]]:
    """The ledger's orders, oldest first (``open=true``: only those that can still fill)."""
    ledger = _ledger_or_empty(request)
    if ledger is None:
        return []
    return [
        clean(
            {
                "client_id": o.id,
                "created": o.created_at,
                "symbol": o.symbol,
                "quantity": o.intent.quantity,
                "type": str(o.intent.order_type),
                "status": str(o.status),
                "filled": o.filled_quantity,
                "average_price": o.average_price,
                "stop_price": o.intent.stop_price,
                "limit_price": o.intent.limit_price,
                "strategy": o.intent.strategy,
                "reason": o.status_reason,
            }
        )
        for o in ledger.load_orders(open_only=open_only)
    ]


@router.get("/fills")
@cached_read
def fills(request: Request, token: Reader, since: datetime | None = None) -> list[dict[str, Any]]:
    """The ledger's fills from ``since`` (inclusive, ISO time), oldest first."""
    ledger = _ledger_or_empty(request)
    if ledger is None:
        return []
    start = None if since is None else pd.Timestamp(since)
    if start is not None and start.tzinfo is None:
        start = start.tz_localize("UTC")
    return _table(ledger.fills(start))


@router.get("/equity")
@cached_read
def equity(request: Request, token: Reader) -> dict[str, Any]:
    """The account's value over time, recomputed from the ledger's cash settings and fills."""
    sources = _sources(request)
    ledger = sources.ledger()
    if ledger is None:
        return {"time": [], "equity": [], "cash": [], "drawdown": []}
    curve = sources.equity(ledger)
    frame = curve.frame
    return clean_map(
        {
            "time": [t.isoformat() for t in frame.index],
            "equity": frame["equity"].tolist(),
            "cash": frame["cash"].tolist(),
            "drawdown": frame["drawdown"].tolist(),
        }
    )


@router.get("/signals")
@cached_read
def signals(
    request: Request, token: Reader, limit: Annotated[int, Query(ge=1, le=5000)] = 200
) -> list[dict[str, Any]]:
    """The newest decisions' audit rows: model, prediction, signal, target weight, components."""
    ledger = _ledger_or_empty(request)
    if ledger is None:
        return []
    rows = ledger.audits()[-limit:]
    return [
        clean(
            {
                "id": r.id,
                "time": r.time,
                "client_id": r.client_id,
                "symbol": r.symbol,
                "model": r.model,
                "model_version": r.model_version,
                "prediction": r.prediction,
                "signal": r.signal,
                "target_weight": r.target_weight,
                "decision": r.decision,
            }
        )
        for r in rows
    ]


@router.get("/models")
@cached_read
def models(request: Request, token: Reader) -> list[dict[str, Any]]:
    """Every registered model version (metrics, data range, stage)."""
    root = _sources(request).models_dir
    if not (root / "registry.sqlite").exists():
        return []
    registry = ModelRegistry(root)
    try:
        return [clean(v.to_dict()) for v in registry.list()]
    finally:
        registry.close()


@router.get("/data-health")
@cached_read
def data_health(request: Request, token: Reader) -> list[dict[str, Any]]:
    """Each stored series: rows, first and last bar, and how old the last bar is (hours)."""
    sources = _sources(request)
    now = sources.clock.now()
    try:
        entries = BarStore(sources.store_dir).entries()
    except Exception:  # no store yet
        return []
    rows = []
    for entry in entries:
        end = pd.Timestamp(entry.end)
        end = end.tz_localize("UTC") if end.tzinfo is None else end
        rows.append(
            {
                "series": str(entry.key),
                "rows": entry.rows,
                "start": entry.start,
                "end": entry.end,
                "age_hours": (now - end).total_seconds() / 3600.0,
            }
        )
    cleaned: list[dict[str, Any]] = clean(rows)
    return cleaned


@router.get("/jobs")
@cached_read
def jobs(request: Request, token: Reader) -> list[dict[str, Any]]:
    """The scheduler's recent job runs, newest first."""
    ledger = _ledger_or_empty(request)
    if ledger is None:
        return []
    return [clean(vars_of(r)) for r in ledger.job_runs()]


@router.get("/alerts")
@cached_read
def alerts(request: Request, token: Reader) -> list[dict[str, Any]]:
    """Alerts, oldest first, each with whether someone acknowledged it here."""
    ledger = _ledger_or_empty(request)
    if ledger is None:
        return []
    acknowledged = acknowledged_alerts(ledger)
    return [clean({**vars_of(a), "acknowledged": a.id in acknowledged}) for a in ledger.alerts()]


def acknowledged_alerts(ledger: Ledger) -> set[int]:
    """Ids of the alerts acknowledged through the service (its audit rows say so)."""
    done = set()
    for row in ledger.audits():
        decision = row.decision
        if decision.get("source") == "service" and decision.get("action") == "acknowledge":
            done.add(int(decision.get("alert_id", -1)))
    return done


def vars_of(row: Any) -> dict[str, Any]:
    """A ledger row dataclass as a dict."""
    return {name: getattr(row, name) for name in row.__dataclass_fields__}


@router.get("/pages/{name}")
@cached_read
def page_twin(request: Request, name: str, token: Reader) -> dict[str, Any]:
    """The numbers a page draws (its JSON twin). Query parameters go to the page."""
    params = dict(request.query_params.items())
    page = build_page(name, _sources(request), params)
    return clean_map({"name": page.name, "title": page.title, "notes": page.notes, **page.twin})


@router.get("/predictions")
@cached_read
def predictions(request: Request, token: Reader, symbol: str | None = None) -> dict[str, Any]:
    """The newest predictions (watchlist) and one symbol's quantile fan."""
    params = {"symbol": symbol} if symbol else {}
    page = build_page("predictions", _sources(request), params)
    return clean_map({"notes": page.notes, **page.twin})


@router.get("/runs")
@cached_read
def runs(request: Request, token: Reader) -> dict[str, Any]:
    """Backtest and train runs (from the run directories)."""
    page = build_page("runs", _sources(request), {})
    return clean_map({"notes": page.notes, **page.twin})


@router.get("/risk")
@cached_read
def risk(request: Request, token: Reader) -> dict[str, Any]:
    """Limits used and allowed, VaR and ES, heat, breakers and the trading state."""
    page = build_page("risk", _sources(request), {})
    return clean_map({"notes": page.notes, **page.twin})
