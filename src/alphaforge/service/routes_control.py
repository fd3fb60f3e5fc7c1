"""Actions under ``/api/v1``: pause, resume, flatten, cancel an order, run a job, acknowledge an
alert, and the WebSocket ticket.

An action is never carried out here: it is a command row in the trading ledger that the node
carries out with its own code (as ``alphaforge trade pause`` does). Each needs a ``trade``
token, ``confirm: true`` and a reason; its command row and audit row (token name, action,
reason) are committed in one transaction before the 2xx, so a ``kill -9`` after the answer
loses nothing.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field

from alphaforge.core.errors import AlphaForgeError
from alphaforge.scheduler.jobs import default_jobs
from alphaforge.service.auth import Scope, TokenInfo
from alphaforge.service.errors import NotFoundError
from alphaforge.service.security import require_scope
from alphaforge.service.sources import ServiceSources
from alphaforge.storage.ledger import Ledger

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["actions"])
Trader = Annotated[TokenInfo, Depends(require_scope(Scope.TRADE))]
Reader = Annotated[TokenInfo, Depends(require_scope(Scope.READ))]


class NoLedgerError(AlphaForgeError):
    """An action needs the trading ledger the node writes (answered 409)."""


class Action(BaseModel):
    """What every action carries: an explicit confirmation and why it is done."""

    confirm: Literal[True] = Field(description="Must be true: the user confirmed the action.")
    reason: str = Field(min_length=3, max_length=500, description="Why (kept in the audit).")


class Queued(BaseModel):
    """The command row written for the node."""

    command_id: int
    kind: str
    status: str = "pending"
    message: str


def _ledger(request: Request) -> tuple[ServiceSources, Ledger]:
    sources: ServiceSources = request.app.state.service.sources
    ledger = sources.ledger()
    if ledger is None:
        raise NoLedgerError(
            f"No {sources.mode} trading ledger yet: no node to carry the action out.",
            hint=f"Start it with alphaforge trade run --mode {sources.mode}.",
        )
    return sources, ledger


def _queue(
    request: Request,
    token: TokenInfo,
    kind: str,
    body: Action,
    args: dict[str, str] | None = None,
) -> Queued:
    sources, ledger = _ledger(request)
    audit = {
        "source": "service",
        "action": kind,
        "token": token.name,
        "reason": body.reason,
        **(args or {}),
    }
    number = ledger.add_command(kind, args or {}, audit=audit)
    return Queued(
        command_id=number,
        kind=kind,
        message=f"{kind} queued for the {sources.mode} node (it polls the ledger).",
    )


@router.post("/controls/pause", response_model=Queued)
def pause(request: Request, body: Action, token: Trader) -> Queued:
    """Halt new orders (cancels still go) until resume."""
    return _queue(request, token, "pause", body)


@router.post("/controls/resume", response_model=Queued)
def resume(request: Request, body: Action, token: Trader) -> Queued:
    """Lift a pause or a flatten: trading is active again."""
    return _queue(request, token, "resume", body)


@router.post("/controls/flatten", response_model=Queued)
def flatten(request: Request, body: Action, token: Trader) -> Queued:
    """Cancel every order and close every position, then trade only to reduce."""
    return _queue(request, token, "flatten", body)


OrderId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


@router.post("/orders/{client_id}/cancel", response_model=Queued)
def cancel(request: Request, client_id: OrderId, body: Action, token: Trader) -> Queued:
    """Cancel one working order (its client id, from /api/v1/orders?open=true)."""
    _, ledger = _ledger(request)
    if ledger.order(client_id) is None:
        raise NotFoundError(
            f"No order {client_id} in the ledger.", hint="See /api/v1/orders?open=true."
        )
    return _queue(request, token, "cancel", body, {"client_id": client_id})


JobName = Annotated[str, Path(min_length=1, max_length=128)]


@router.post("/jobs/{name}/run", response_model=Queued)
def run_job(request: Request, name: JobName, body: Action, token: Trader) -> Queued:
    """Run one job of the scheduler's table now (the running scheduler carries it out)."""
    sources: ServiceSources = request.app.state.service.sources
    names = [job.name for job in default_jobs(sources.config.scheduler)]
    if name not in names:
        raise NotFoundError(f"No job {name!r}.", hint="Jobs: " + ", ".join(names) + ".")
    return _queue(request, token, "run_job", body, {"job": name})


class Acknowledged(BaseModel):
    """An alert acknowledged (an audit row: who and why)."""

    alert_id: int
    acknowledged: bool


@router.post("/alerts/{alert_id}/ack", response_model=Acknowledged)
def acknowledge(
    request: Request,
    alert_id: Annotated[int, Path(ge=1, le=2**62)],
    body: Action,
    token: Trader,
) -> Acknowledged:
    """Mark an alert as seen; the audit keeps who acknowledged it and why."""
    sources, ledger = _ledger(request)
    if not any(a.id == alert_id for a in ledger.alerts()):
        raise NotFoundError(f"No alert {alert_id}.", hint="See /api/v1/alerts.")
    ledger.add_audit(
        sources.clock.now(),
        None,
        "",
        {
            "source": "service",
            "action": "acknowledge",
            "alert_id": alert_id,
            "token": token.name,
            "reason": body.reason,
        },
    )
    return Acknowledged(alert_id=alert_id, acknowledged=True)


class Ticket(BaseModel):
    """A one-time ticket for ``/ws?ticket=...`` (valid for 30 seconds)."""

    ticket: str


@router.post("/ws-ticket", response_model=Ticket)
def ws_ticket(request: Request, token: Reader) -> Ticket:
    """Issue a one-time WebSocket ticket for clients that cannot send the cookie."""
    return Ticket(ticket=request.app.state.service.tickets.issue(token.id))
