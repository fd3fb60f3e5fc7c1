"""Configuration of live trading: the venue and ledger, the node, the scheduler, notifications.

Times of day are wall-clock in ``scheduler.timezone`` (America/New_York); durations are
seconds. Keys and passwords are never here: they live in :class:`SecretsConfig`, read only
from the environment or ``.env``.
"""

from __future__ import annotations

import zoneinfo
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from alphaforge.config.base import FrozenModel

__all__ = ["ExecutionConfig", "LiveConfig", "NotifyConfig", "SchedulerConfig"]

BrokerName = Literal["simulated", "alpaca", "ccxt"]
TradingMode = Literal["dry-run", "paper", "live"]
NotifyChannel = Literal["log", "email", "webhook"]


class ExecutionConfig(FrozenModel):
    """Which venue orders go to, how they are sent, and where the trading ledger lives."""

    broker: BrokerName = Field(
        "alpaca", description="Venue for paper and live trading (dry-run always simulates)."
    )
    ledger_url: str | None = Field(
        None,
        description=(
            "SQLAlchemy URL of the trading ledger (sqlite:///... or postgresql+psycopg://...). "
            "Unset: an SQLite file per mode under ledger_dir."
        ),
    )
    ledger_dir: Path = Field(
        Path(".alphaforge/ledger"), description="Folder of the default per-mode SQLite ledgers."
    )
    alpaca_url: str | None = Field(
        None,
        description=(
            "Override of Alpaca's trading endpoint (a local fake in tests). Unset: the paper "
            "or live endpoint, by mode."
        ),
    )
    alpaca_stream_url: str | None = Field(
        None, description="Override of Alpaca's WebSocket endpoints (a local fake in tests)."
    )
    ccxt_exchange: str = Field("binance", description="ccxt exchange id.")
    ccxt_sandbox: bool = Field(True, description="Use the exchange's test network.")
    ccxt_url: str | None = Field(
        None, description="Override of the exchange's REST endpoint (a local fake in tests)."
    )
    submit_timeout_s: float = Field(
        10.0, gt=0, description="An order submit without an answer by then is UNKNOWN."
    )
    read_timeout_s: float = Field(10.0, gt=0, description="Timeout of each read request.")
    read_retries: int = Field(
        3, ge=0, description="Retries of a read (backoff with jitter); submits never retry."
    )
    requests_per_minute: int = Field(
        200, ge=1, description="Token bucket per venue (Alpaca allows 200 a minute)."
    )
    limit_offset_spreads: float = Field(
        0.0,
        ge=0,
        description=(
            "Entries as limit orders this many half-spreads inside the quote (0 = market orders)."
        ),
    )

    def ledger_url_for(self, mode: str) -> str:
        """Return ``ledger_url`` if set, else the SQLite file of ``mode`` under ``ledger_dir``."""
        if self.ledger_url:
            return self.ledger_url
        return f"sqlite:///{(self.ledger_dir / f'{mode}.sqlite').as_posix()}"


class LiveConfig(FrozenModel):
    """The trading node: what it trades, how often it checks, when data count as stale."""

    mode: TradingMode = Field("dry-run", description="dry-run (simulated fills), paper or live.")
    symbols: list[str] = Field(
        default_factory=list,
        description="Instruments traded; empty: the data section's universe.",
    )
    stale_after_s: float = Field(
        900.0, gt=0, description="A feed connected but silent this long blocks new entries."
    )
    reconcile_every_s: float = Field(
        300.0, gt=0, description="Reconcile positions, orders and fills with the broker."
    )
    heartbeat_every_s: float = Field(10.0, gt=0, description="Heartbeat row in the ledger.")
    command_poll_s: float = Field(
        1.0, gt=0, description="How often the node reads manual commands from the ledger."
    )
    warmup_bars: int = Field(
        300, ge=1, description="Trailing bars loaded before the first live decision."
    )
    fill_wait_s: float = Field(
        60.0,
        gt=0,
        description="How long the execution window waits for market orders to fill, seconds.",
    )


class SchedulerConfig(FrozenModel):
    """Jobs of the trading day (New York time, NYSE holidays and early closes).

    The job table itself is data in :mod:`alphaforge.scheduler.jobs`; each job carries its own
    window (how late a missed run may still start). See ``docs/scheduler.md``.
    """

    timezone: str = Field("America/New_York", description="Time zone of the job times.")
    calendar: str = Field("XNYS", description="Exchange calendar of the market-day jobs.")
    nightly_days: Literal["every_day", "market_days"] = Field(
        "market_days",
        description=(
            "Run the nightly jobs (02:00-06:00) every night, or only before market days "
            "(in the early morning of each session)."
        ),
    )
    retrain: Literal["weekly", "drift", "off"] = Field(
        "weekly",
        description=(
            "Retrain on the first night of each week, every night only when drift is "
            "detected, or never."
        ),
    )
    universe: str | None = Field(
        None,
        description=(
            "Universe the nightly jobs refresh, check and build features for; None: train.universe."
        ),
    )
    recent_backtest_days: int = Field(
        365, ge=1, description="Calendar days of history the nightly recent-period backtest covers."
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}: use an IANA name such as America/New_York"
            ) from None
        return value


class NotifyConfig(FrozenModel):
    """Where alerts go: the log always; e-mail and a webhook when configured."""

    channels: list[NotifyChannel] = Field(
        default_factory=lambda: list[NotifyChannel](["log"]),
        description="Channels each alert is sent to.",
    )
    smtp_host: str = Field("localhost", description="SMTP server.")
    smtp_port: int = Field(25, ge=1, le=65535, description="SMTP port.")
    smtp_user: str | None = Field(None, description="SMTP login (password in secrets).")
    smtp_starttls: bool = Field(False, description="Upgrade the SMTP connection with STARTTLS.")
    email_from: str = Field("alphaforge@localhost", description="Sender address.")
    email_to: list[str] = Field(default_factory=list, description="Recipients.")
    webhook_url: str | None = Field(None, description="JSON POST target.")
    timeout_s: float = Field(5.0, gt=0, description="Per-channel send timeout.")
    min_level: Literal["info", "warning", "error"] = Field(
        "info", description="Alerts below this level are logged only."
    )
