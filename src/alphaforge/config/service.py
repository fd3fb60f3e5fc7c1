"""Configuration of ``alphaforge serve``: where it listens, whom it lets in, how often it looks.

The service reads what the other stages wrote (ledger, run directories, registry, stores) and
writes only its tokens and the command and audit rows of the actions it is asked for. Durations
are seconds.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from alphaforge.config.base import FrozenModel

__all__ = ["ServiceConfig"]


class ServiceConfig(FrozenModel):
    """The dashboard and API server."""

    host: str = Field("127.0.0.1", description="Interface to bind (loopback by default).")
    port: int = Field(8765, ge=1, le=65535, description="TCP port.")
    allow_remote: bool = Field(
        False,
        description="Allow binding an interface other than loopback (also --allow-remote).",
    )
    allowed_hosts: list[str] = Field(
        default_factory=lambda: ["127.0.0.1", "localhost"],
        description="Host header values accepted (the bound host is always added).",
    )
    origins: list[str] = Field(
        default_factory=list,
        description="Extra origins allowed for CORS and mutations (empty: same origin only).",
    )
    mode: Literal["dry-run", "paper", "live"] | None = Field(
        None, description="Which trading ledger the pages show (unset: live.mode)."
    )
    poll_interval_s: float = Field(
        0.5, gt=0, le=60, description="How often the live updates read the ledger for new rows."
    )
    ws_queue_size: int = Field(
        256, ge=1, description="Messages queued per WebSocket client before it is dropped (1013)."
    )
    login_attempts_per_minute: int = Field(
        5, ge=1, description="Failed logins a client may make in a minute before 429."
    )
    heartbeat_stale_s: float = Field(
        120.0, gt=0, description="A node heartbeat older than this shows as 'no heartbeat since'."
    )
