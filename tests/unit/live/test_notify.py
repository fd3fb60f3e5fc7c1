"""Alerts reach a local SMTP server and a local webhook; a failing channel never raises."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pandas as pd
import pytest
from aiosmtpd import smtp as aiosmtp
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from pydantic import SecretStr

from alphaforge.config.live import NotifyConfig
from alphaforge.config.run import SecretsConfig
from alphaforge.core.clock import SimulatedClock
from alphaforge.core.errors import ConfigError
from alphaforge.live.notify import Alert, Notifier

PASSWORD = "canary-smtp-Zq81xw"
TOKEN = "canary-token-Hk27vb"
NOW = pd.Timestamp("2024-11-29 17:45", tz="UTC")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class _Mailbox:
    envelopes: list[Envelope] = field(default_factory=list)
    logins: list[tuple[bytes, bytes]] = field(default_factory=list)

    async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
        self, server: aiosmtp.SMTP, session: Session, envelope: Envelope
    ) -> str:
        self.envelopes.append(envelope)
        return "250 OK"

    def authenticate(
        self, server: aiosmtp.SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.logins.append((data.login, data.password))
        return AuthResult(success=data.password == PASSWORD.encode())


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, _Mailbox]]:
    box = _Mailbox()
    port = _free_port()
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=port,
        authenticator=box.authenticate,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield port, box
    finally:
        controller.stop()


@dataclass
class _Hook:
    status: int = 200
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def webhook() -> Iterator[tuple[str, _Hook]]:
    hook = _Hook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            hook.requests.append((self.path, dict(self.headers), body))
            # An error page that echoes the credentials: it must not reach our logs.
            text = f"boom {self.headers.get('Authorization')}".encode()
            self.send_response(hook.status)
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", hook
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _secrets() -> SecretsConfig:
    return SecretsConfig(smtp_password=SecretStr(PASSWORD), webhook_token=SecretStr(TOKEN))


def _notifier(**fields: Any) -> Notifier:
    return Notifier(NotifyConfig(**fields), _secrets(), clock=SimulatedClock(NOW))


def _assert_no_secret(caplog: pytest.LogCaptureFixture, *texts: str) -> None:
    everything = [r.getMessage() for r in caplog.records] + [caplog.text, *texts]
    for text in everything:
        assert PASSWORD not in text and TOKEN not in text


def test_an_email_reaches_the_smtp_server_with_login(
    smtp_server: tuple[int, _Mailbox], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    port, box = smtp_server
    notifier = _notifier(
        channels=["email"],
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_user="bot",
        email_from="bot@example.test",
        email_to=["desk@example.test", "risk@example.test"],
    )
    delivery = notifier.notify("error", "scheduler.nightly_refresh", "refresh failed\nsecond line")
    assert delivery.ok and delivery.sent == ("log", "email")
    assert box.logins == [(b"bot", PASSWORD.encode())]
    [envelope] = box.envelopes
    assert envelope.mail_from == "bot@example.test"
    assert envelope.rcpt_tos == ["desk@example.test", "risk@example.test"]
    content = envelope.content
    assert isinstance(content, bytes)
    text = content.decode()
    assert "Subject: [AlphaForge ERROR] scheduler.nightly_refresh: refresh failed" in text
    assert "second line" in text and "2024-11-29T17:45:00+00:00" in text
    _assert_no_secret(caplog)


def test_the_webhook_gets_the_json_body_and_the_bearer_token(
    webhook: tuple[str, _Hook], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url, hook = webhook
    delivery = _notifier(channels=["webhook"], webhook_url=url).notify(
        "warning", "live.node", "feed silent for 900 s"
    )
    assert delivery.ok and delivery.sent == ("log", "webhook")
    [(path, headers, body)] = hook.requests
    assert path == "/hook"
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {
        "level": "warning",
        "source": "live.node",
        "message": "feed silent for 900 s",
        "time": "2024-11-29T17:45:00+00:00",
    }
    assert any(
        r.name == "alphaforge.alerts" and "feed silent" in r.getMessage() for r in caplog.records
    )
    _assert_no_secret(caplog)


def test_failing_channels_do_not_raise_and_do_not_stop_the_others(
    webhook: tuple[str, _Hook],
    smtp_server: tuple[int, _Mailbox],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    url, hook = webhook
    hook.status = 500
    notifier = _notifier(
        channels=["email", "webhook"],
        smtp_host="127.0.0.1",
        smtp_port=_free_port(),  # nothing listens: connection refused
        smtp_user="bot",
        email_to=["desk@example.test"],
        webhook_url=url,
    )
    delivery = notifier.notify("error", "risk", "drawdown breaker tripped")
    assert delivery.sent == ("log",)
    assert set(delivery.failed) == {"email", "webhook"}
    assert "HTTP 500" in delivery.failed["webhook"]
    assert "Connection" in delivery.failed["email"] or "refused" in delivery.failed["email"]
    assert len(hook.requests) == 1  # the webhook was still tried
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("not delivered by webhook" in w for w in warnings)
    assert any("not delivered by email" in w for w in warnings)
    _assert_no_secret(caplog, *delivery.failed.values())

    # The e-mail channel still works next to a failing webhook.
    port, box = smtp_server
    mixed = _notifier(
        channels=["email", "webhook"],
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_user="bot",
        email_to=["desk@example.test"],
        webhook_url=url,
    )
    delivery = mixed.notify("error", "risk", "again")
    assert delivery.sent == ("log", "email") and list(delivery.failed) == ["webhook"]
    assert len(box.envelopes) == 1


def test_a_silent_server_is_given_up_after_the_timeout(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as listener:  # accepts connections, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        notifier = _notifier(
            channels=["email", "webhook"],
            smtp_host="127.0.0.1",
            smtp_port=port,
            email_to=["desk@example.test"],
            webhook_url=f"http://127.0.0.1:{port}/hook",
            timeout_s=0.3,
        )
        began = time.monotonic()
        delivery = notifier.notify("error", "scheduler", "late")
        elapsed = time.monotonic() - began
    assert set(delivery.failed) == {"email", "webhook"}
    assert elapsed < 2.0


def test_below_min_level_only_the_log_gets_the_alert(webhook: tuple[str, _Hook]) -> None:
    url, hook = webhook
    notifier = _notifier(channels=["webhook"], webhook_url=url, min_level="warning")
    assert notifier.notify("info", "scheduler", "nightly chain done").sent == ("log",)
    assert hook.requests == []
    assert notifier.notify("error", "scheduler", "failed").sent == ("log", "webhook")


def test_secrets_are_masked_out_of_channel_errors(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    class Leaky:
        name = "leaky"

        def send(self, alert: Alert) -> None:
            raise RuntimeError(f"auth failed for password {PASSWORD} and token {TOKEN}")

    notifier = Notifier(NotifyConfig(), _secrets(), clock=SimulatedClock(NOW), channels=[Leaky()])
    delivery = notifier.notify("error", "x", "y")
    assert delivery.failed == {"leaky": "RuntimeError: auth failed for password *** and token ***"}
    _assert_no_secret(caplog, *delivery.failed.values())


def test_starttls_against_a_server_without_it_fails_quietly(
    smtp_server: tuple[int, _Mailbox],
) -> None:
    port, box = smtp_server
    notifier = _notifier(
        channels=["email"],
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_starttls=True,
        email_to=["desk@example.test"],
    )
    delivery = notifier.notify("error", "x", "y")
    assert "STARTTLS" in delivery.failed["email"] and box.envelopes == []


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"channels": ["email"]}, "no recipients"),
        ({"channels": ["webhook"]}, "no URL"),
    ],
)
def test_an_incomplete_channel_is_a_config_error(fields: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        Notifier(NotifyConfig(**fields))


def test_a_login_without_a_password_is_reported_not_raised(
    smtp_server: tuple[int, _Mailbox],
) -> None:
    port, _ = smtp_server
    config = NotifyConfig(
        channels=["email"],
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_user="bot",
        email_to=["desk@example.test"],
    )
    delivery = Notifier(config, SecretsConfig(), clock=SimulatedClock(NOW)).notify(
        "error", "x", "y"
    )
    assert "no SMTP password" in delivery.failed["email"]
