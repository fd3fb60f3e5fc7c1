"""Alerts to people: the log always; e-mail (SMTP) and a webhook (JSON POST) when configured.

:meth:`Notifier.notify` never raises into its caller: a trading node must keep trading when the
mail server is down. Every channel is tried; each failure (refused connection, timeout, an HTTP
error status, a refused login) is logged in one line and reported in the returned
:class:`Delivery`. The channels run side by side, and ``notify`` waits at most
``NotifyConfig.timeout_s`` for them (each network operation has the same timeout, so a channel
left behind finishes on its own shortly after).

Secrets (``SecretsConfig.smtp_password``, ``SecretsConfig.webhook_token``) are read only when
a message is sent, are handed only to ``smtplib`` and ``requests``, and are masked out of every
error text this module logs or returns.

Times are timezone-aware UTC, from the injected clock.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Literal, Protocol

import pandas as pd
import requests
from pydantic import SecretStr

from alphaforge.config.live import NotifyConfig
from alphaforge.config.run import SecretsConfig
from alphaforge.core.clock import Clock, SystemClock
from alphaforge.core.errors import ConfigError

__all__ = [
    "LEVELS",
    "Alert",
    "Channel",
    "Delivery",
    "EmailChannel",
    "Level",
    "LogChannel",
    "Notifier",
    "WebhookChannel",
]

Level = Literal["info", "warning", "error"]
#: Alert levels from least to most severe.
LEVELS: tuple[Level, ...] = ("info", "warning", "error")
_LOG_LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
_MASK = "***"

logger = logging.getLogger(__name__)
#: Where the log channel writes alerts (a logger of their own, so they can be routed).
alert_logger = logging.getLogger("alphaforge.alerts")


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert: how severe, which component raised it, what happened, when (UTC)."""

    level: Level
    source: str
    message: str
    time: pd.Timestamp

    def to_json(self) -> dict[str, str]:
        """Return the webhook body: level, source, message and ISO 8601 UTC time."""
        return {
            "level": self.level,
            "source": self.source,
            "message": self.message,
            "time": self.time.isoformat(),
        }

    @property
    def subject(self) -> str:
        """Return a one-line e-mail subject."""
        first = self.message.splitlines()[0] if self.message else ""
        return f"[AlphaForge {self.level.upper()}] {self.source}: {first}"[:200]


@dataclass(frozen=True, slots=True)
class Delivery:
    """What became of one alert: the channels it reached and a one-line error per failure."""

    alert: Alert
    sent: tuple[str, ...]
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether every channel it was sent to took it."""
        return not self.failed


class Channel(Protocol):
    """A way an alert reaches a person; ``send`` raises on failure (the notifier catches)."""

    name: str

    def send(self, alert: Alert) -> None:
        """Deliver ``alert`` or raise."""
        ...


class LogChannel:
    """Write the alert to the ``alphaforge.alerts`` logger at its level."""

    name = "log"

    def send(self, alert: Alert) -> None:
        """Log ``alert``."""
        alert_logger.log(_LOG_LEVELS[alert.level], "[%s] %s", alert.source, alert.message)


class EmailChannel:
    """Send the alert as a plain-text e-mail through an SMTP server (``smtplib``).

    Parameters
    ----------
    config
        Server, port, login, STARTTLS, sender and recipients; ``timeout_s`` bounds every
        socket operation.
    password
        The SMTP password (``SecretsConfig.smtp_password``); needed when ``smtp_user`` is set.
    """

    name = "email"

    def __init__(self, config: NotifyConfig, password: SecretStr | None) -> None:
        if not config.email_to:
            raise ConfigError(
                "The email notification channel has no recipients.",
                hint="Set notify.email_to, or drop email from notify.channels.",
            )
        self._config = config
        self._password = password

    def send(self, alert: Alert) -> None:
        """Send ``alert`` to every recipient."""
        cfg = self._config
        message = EmailMessage()
        message["Subject"] = alert.subject
        message["From"] = cfg.email_from
        message["To"] = ", ".join(cfg.email_to)
        message.set_content(
            f"{alert.message}\n\nlevel: {alert.level}\nsource: {alert.source}\n"
            f"time: {alert.time.isoformat()}\n"
        )
        with smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=cfg.timeout_s) as smtp:
            if cfg.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if cfg.smtp_user is not None:
                if self._password is None:
                    raise ConfigError(
                        "notify.smtp_user is set but no SMTP password is configured.",
                        hint="Set ALPHAFORGE_SECRETS__SMTP_PASSWORD in the environment or .env.",
                    )
                smtp.login(cfg.smtp_user, self._password.get_secret_value())
            smtp.send_message(message)


class WebhookChannel:
    """POST the alert as JSON (level, source, message, time) with a bearer token if set.

    Parameters
    ----------
    config
        ``webhook_url`` and ``timeout_s`` (connect and read timeout).
    token
        The bearer token (``SecretsConfig.webhook_token``), or None for no ``Authorization``.
    """

    name = "webhook"

    def __init__(self, config: NotifyConfig, token: SecretStr | None) -> None:
        if not config.webhook_url:
            raise ConfigError(
                "The webhook notification channel has no URL.",
                hint="Set notify.webhook_url, or drop webhook from notify.channels.",
            )
        self._url = config.webhook_url
        self._timeout = config.timeout_s
        self._token = token

    def send(self, alert: Alert) -> None:
        """POST ``alert``; an error status raises."""
        headers = {"User-Agent": "alphaforge-notify"}
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"
        response = requests.post(
            self._url, json=alert.to_json(), headers=headers, timeout=self._timeout
        )
        if response.status_code >= 400:
            # Not raise_for_status(): its text would carry the URL's query string.
            raise RuntimeError(f"webhook answered HTTP {response.status_code}")


class Notifier:
    """Send alerts to the configured channels; a failing channel never raises into the caller.

    Parameters
    ----------
    config
        Channels, servers, ``min_level`` and ``timeout_s``.
    secrets
        The SMTP password and webhook token.
    clock
        Stamps each alert (default: the wall clock, UTC).
    channels
        Channels to use instead of those ``config`` names (tests, extra sinks); the log
        channel is always added.

    Raises
    ------
    ConfigError
        A configured channel lacks what it needs (no recipients, no webhook URL).
    """

    def __init__(
        self,
        config: NotifyConfig,
        secrets: SecretsConfig | None = None,
        *,
        clock: Clock | None = None,
        channels: Sequence[Channel] | None = None,
    ) -> None:
        secrets = secrets if secrets is not None else SecretsConfig()
        self._config = config
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._secrets = tuple(
            s.get_secret_value()
            for s in (secrets.smtp_password, secrets.webhook_token)
            if s is not None and s.get_secret_value()
        )
        if channels is None:
            built: list[Channel] = []
            if "email" in config.channels:
                built.append(EmailChannel(config, secrets.smtp_password))
            if "webhook" in config.channels:
                built.append(WebhookChannel(config, secrets.webhook_token))
            channels = built
        self._log = LogChannel()
        self._channels = tuple(c for c in channels if c.name != "log")

    @property
    def channels(self) -> tuple[str, ...]:
        """Return the names of the channels alerts go to (the log first)."""
        return ("log", *(c.name for c in self._channels))

    def notify(self, level: Level, source: str, message: str) -> Delivery:
        """Log an alert and send it to every channel if ``level`` is at least ``min_level``.

        Parameters
        ----------
        level
            ``info``, ``warning`` or ``error``.
        source
            What raised it (``scheduler.nightly_refresh``, ``live.node`` ...).
        message
            What happened, for a person.

        Returns
        -------
        Delivery
            The channels that took the alert and a one-line, secret-free error per failure.
            Never raises for a channel's failure.
        """
        if level not in LEVELS:
            raise ValueError(f"unknown alert level {level!r}; use one of {', '.join(LEVELS)}")
        alert = Alert(level, source, message, self._clock.now().tz_convert("UTC"))
        failed: dict[str, str] = {}
        sent: list[str] = []
        try:
            self._log.send(alert)
            sent.append(self._log.name)
        except Exception as exc:  # a broken log handler must not stop the other channels
            failed[self._log.name] = self._scrub(exc)
        if LEVELS.index(level) >= LEVELS.index(self._config.min_level) and self._channels:
            outcomes = self._send_all(alert)
            for name, error in outcomes.items():
                if error is None:
                    sent.append(name)
                else:
                    failed[name] = error
                    logger.warning(
                        "alert from %s not delivered by %s: %s", alert.source, name, error
                    )
        return Delivery(alert, tuple(sent), failed)

    def _send_all(self, alert: Alert) -> dict[str, str | None]:
        """Send to every channel side by side; wait at most ``timeout_s`` for them."""
        pool = ThreadPoolExecutor(max_workers=len(self._channels), thread_name_prefix="notify")
        try:
            futures = {c.name: pool.submit(c.send, alert) for c in self._channels}
            wait(futures.values(), timeout=self._config.timeout_s)
            return {name: self._outcome(future) for name, future in futures.items()}
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _outcome(self, future: Future[None]) -> str | None:
        if not future.done():
            return f"no answer within {self._config.timeout_s:g} s"
        exc = future.exception()
        return None if exc is None else self._scrub(exc)

    def _scrub(self, exc: BaseException) -> str:
        """Return a one-line description of ``exc`` with every secret masked."""
        text = f"{type(exc).__name__}: {exc}".replace("\n", " ")
        for secret in self._secrets:
            text = text.replace(secret, _MASK)
        return text
