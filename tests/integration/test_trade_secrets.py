"""A canary secret in the environment reaches no log, report, ledger row or HTTP body (DEBUG).

Every secret of :class:`~alphaforge.config.run.SecretsConfig` gets a distinct canary value.
``data fetch`` and ``trade run --mode paper --once`` against the fake Alpaca, then against
the fake Binance through ccxt (each accepts only the canary keys, so they did travel, in the
key headers where the venue wants them), ``trade status``, ``orders``, ``fills`` and
``positions``, then the scheduled ``trade run --mode paper`` (its live bar feed started, until
SIGTERM) run with
``run.log_level: DEBUG`` and every Python logger (alphaforge, alpaca-py, urllib3 ...)
printing DEBUG records to stderr (a ``sitecustomize`` the CLI's interpreter loads).
Afterwards no canary is in their output, in any file they wrote (run folders with their
``run.log``, the bar store, the ledger database and its WAL), in any ledger row, or in the
body, query string or non-key header of any request the fakes received. A notification that
fails (SMTP with a login to a closed port, a webhook with a token that answers an error
echoing the token) leaks neither into its error text, the log nor the alert row stored from
it.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import pandas as pd
import pytest
import yaml
from pydantic import SecretStr
from tests.integration.test_backtest_cli import assert_ok

from alphaforge.config.live import NotifyConfig
from alphaforge.config.run import SecretsConfig
from alphaforge.core.clock import SimulatedClock
from alphaforge.features.testing import real_bars
from alphaforge.live.notify import Notifier
from alphaforge.storage.ledger import Ledger
from alphaforge.testing.fake_alpaca import FakeAlpaca
from alphaforge.testing.fake_binance import Answer, FakeBinance

if TYPE_CHECKING:
    from conftest import CliResult, RunCli

#: One canary per secret; the Alpaca key starts ``PK`` as a paper key must.
CANARIES = {
    "ALPACA_API_KEY": "PKCANARYq7W2alpacaKEY",
    "ALPACA_SECRET_KEY": "canary-alpaca-secret-Jx93Lm",
    "CCXT_API_KEY": "canary-ccxt-key-Ur55Qa",
    "CCXT_SECRET": "canary-ccxt-secret-Vb21Po",
    "SMTP_PASSWORD": "canary-smtp-password-Kd48Zn",
    "WEBHOOK_TOKEN": "canary-webhook-token-Ty67Ew",
    "FRED_API_KEY": "canary-fred-key-Hs03Rk",
    "FINNHUB_API_KEY": "canary-finnhub-key-Gm12Xc",
    "OPENAI_API_KEY": "canary-openai-key-Nq80Bv",
}
CONFIG = {
    "strategy": {"name": "momentum"},
    "portfolio": {"constructor": "target_weights", "sizing": "weights", "units": "whole"},
    "risk": {"preset": "none"},
    "run": {"log_level": "DEBUG"},
    # A nightly refresh the scheduled run catches up fails at once instead of backing off.
    "data": {"max_retries": 0},
}
#: What the scheduled run logs once its feed and job table are up.
SCHEDULED = "on the schedule"
#: Loaded at the CLI's start (``sitecustomize``): every logger prints DEBUG records to stderr.
DEBUG_LOGGING = (
    "import logging, sys\n"
    "logging.basicConfig(level=logging.DEBUG, stream=sys.stderr,\n"
    "                    format='LOG %(levelname)s %(name)s: %(message)s')\n"
)


def _leaks(text: str | bytes) -> list[str]:
    """Return the names of the canaries found in ``text`` (as text, or as UTF-8 bytes)."""
    data = text.encode("utf-8", "replace") if isinstance(text, str) else text
    return [name for name, value in CANARIES.items() if value.encode() in data]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Request:
    """A request a fake venue received: target (path and query), body, non-key headers."""

    target: str
    body: bytes
    headers: dict[str, str]
    key: str | None


class Ran(NamedTuple):
    """What a CLI process stopped by SIGTERM returned (the fields of ``CliResult``)."""

    returncode: int
    stdout: str
    stderr: str


@dataclass
class Session:
    """What the commands against one fake venue printed, wrote and sent."""

    root: Path
    results: list[CliResult | Ran]
    requests: list[Request]
    orders: int


class RecordingBinance(FakeBinance):
    """The fake Binance, keeping every request it answers (ccxt signs; keys go in a header)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.received: list[Request] = []

    def respond(self, method: str, target: str, body: str, api_key: str | None) -> Answer:
        self.received.append(Request(target, body.encode(), {}, api_key))
        return super().respond(method, target, body, api_key)


def _commands(fetch: list[str]) -> list[list[str]]:
    paper = ["--mode", "paper", "-c", "c.yaml"]
    return [
        [*fetch, "-c", "c.yaml"],
        ["trade", "run", "--once", *paper],
        ["trade", "status", *paper],
        ["trade", "orders", *paper],
        ["trade", "fills", *paper],
        ["trade", "positions", *paper],
    ]


def _scheduled_logs(root: Path) -> list[str]:
    """Return the run logs of scheduled runs under ``root/runs``."""
    logs = [p.read_text(encoding="utf-8") for p in (root / "runs").glob("*-trade/run.log")]
    return [text for text in logs if SCHEDULED in text]


def _scheduled(root: Path, env: dict[str, str], ready: Callable[[], bool]) -> Ran:
    """Run ``trade run --mode paper`` on the schedule until ``ready()``, then SIGTERM it.

    Its output goes to files: a pipe nobody reads fills up with DEBUG records and blocks it.
    """
    out_path, err_path = root / "scheduled.out", root / "scheduled.err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "alphaforge.cli.app", "trade", "run", "--mode", "paper"]
            + ["-c", "c.yaml"],
            cwd=root,
            env=env,
            stdout=out,
            stderr=err,
        )
        try:
            deadline = time.monotonic() + 120
            while process.poll() is None and time.monotonic() < deadline:
                if _scheduled_logs(root) and ready():
                    break
                time.sleep(0.2)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in (out_path, err_path)]
    out_path.unlink()
    err_path.unlink()
    return Ran(process.returncode, *texts)


def _alpaca(root: Path, env: dict[str, str], run_cli: RunCli, base: dict[str, str]) -> Session:
    bars, _ = real_bars("GOOG", 400)
    bars.index = bars.index.tz_localize(None).tz_localize("America/New_York").tz_convert("UTC")
    (root / "c.yaml").write_text(yaml.safe_dump({**CONFIG, "live": {"symbols": ["GOOG"]}}))
    keys = {"api_key": CANARIES["ALPACA_API_KEY"], "secret_key": CANARIES["ALPACA_SECRET_KEY"]}
    with FakeAlpaca(paper=True, **keys) as fake:
        fake.set_bars("GOOG", bars)
        fake.set_price("GOOG", float(bars["close"].iloc[-1]))
        fetch = ["data", "fetch", "GOOG", "--source", "alpaca"]
        commands = _commands([*fetch, "--start", "2011-08-01", "--end", "2013-03-01"])
        results: list[CliResult | Ran] = [
            run_cli(c, root, env={**fake.env(), **env}) for c in commands
        ]
        pushed: list[bool] = []

        def bar_delivered() -> bool:
            # Once the feed is subscribed, a bar goes to it (its handler runs at DEBUG too).
            if fake.bar_subscribers("GOOG") < 1:
                return False
            if not pushed:
                fake.push_bar("GOOG", datetime.now(UTC), (1.0, 1.0, 1.0, 1.0, 1.0))
                pushed.append(True)
                return False
            return True

        results.append(_scheduled(root, {**base, **fake.env(), **env}, bar_delivered))
        requests = [
            Request(
                r.target,
                r.body,
                {k: v for k, v in r.headers.items() if not k.upper().startswith("APCA-")},
                r.headers.get("APCA-API-KEY-ID"),
            )
            for r in fake.received()
        ]
        return Session(root, results, requests, len(fake.orders()))


def _ccxt(root: Path, env: dict[str, str], run_cli: RunCli, base: dict[str, str]) -> Session:
    (root / "c.yaml").write_text(yaml.safe_dump({**CONFIG, "live": {"symbols": ["BTC-USD"]}}))
    keys = {"api_key": CANARIES["CCXT_API_KEY"], "secret": CANARIES["CCXT_SECRET"]}
    with RecordingBinance(**keys) as fake:
        fetch = ["data", "fetch", "BTC-USD", "--source", "ccxt", "-a", "crypto"]
        commands = _commands([*fetch, "--start", "2024-01-01", "--end", "2024-12-31"])
        results: list[CliResult | Ran] = [
            run_cli(c, root, env={**fake.env(), **env}) for c in commands
        ]
        results.append(_scheduled(root, {**base, **fake.env(), **env}, lambda: True))
        orders = sum(n for (method, path), n in fake.requests.items() if method == "POST")
        return Session(root, results, list(fake.received), orders)


@pytest.fixture(scope="module", params=["alpaca", "ccxt"])
def session(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    base_env: dict[str, str],
    run_cli: RunCli,
) -> Session:
    root = tmp_path_factory.mktemp(f"secrets-{request.param}")
    site = tmp_path_factory.mktemp("debug-logging")
    (site / "sitecustomize.py").write_text(DEBUG_LOGGING, encoding="utf-8")
    path = os.pathsep.join(p for p in (str(site), base_env.get("PYTHONPATH", "")) if p)
    env = {
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
        "PYTHONPATH": path,
        **{f"ALPHAFORGE_SECRETS__{name}": value for name, value in CANARIES.items()},
    }
    venue = _alpaca if request.param == "alpaca" else _ccxt
    return venue(root, env, run_cli, base_env)


def test_the_canary_keys_were_used(session: Session) -> None:
    # Guard against a vacuous pass: the commands worked, at DEBUG, with the canary keys.
    for result in session.results:
        assert_ok(result)
    logged = "".join(r.stderr for r in session.results)
    assert "LOG DEBUG" in logged and "LOG DEBUG alphaforge" in logged
    assert session.orders >= 1
    keys = {r.key for r in session.requests} - {None}
    assert keys <= {CANARIES["ALPACA_API_KEY"], CANARIES["CCXT_API_KEY"]} and keys
    assert any(r.body for r in session.requests)  # an order went out with a body


def test_no_canary_in_any_output(session: Session) -> None:
    for result in session.results:
        assert _leaks(result.stdout) == [], result.stdout
        assert _leaks(result.stderr) == [], result.stderr


def test_no_canary_in_any_file_written(session: Session) -> None:
    files = [p for p in session.root.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    # What must be looked at is there: the run folders, the store, the ledger.
    assert any(p.suffix == ".parquet" for p in files), names
    assert any(p.name == "paper.sqlite" for p in files), names
    assert any(p.name == "manifest.json" and "trade" in p.parent.name for p in files), names
    for path in files:
        assert _leaks(path.read_bytes()) == [], path


def test_the_runs_logged_to_their_folders_without_a_secret(session: Session) -> None:
    logs = list((session.root / "runs").glob("*-trade/run.log"))
    texts = [p.read_text(encoding="utf-8") for p in logs]
    # The --once run and the scheduled run with its feed (run.log_level DEBUG).
    assert sum("paper node started" in t for t in texts) == 2, texts
    (scheduled,) = _scheduled_logs(session.root)
    assert "bar feed started" in scheduled and "stopped trading paper" in scheduled
    for path, text in zip(logs, texts, strict=True):
        assert _leaks(text) == [], path


def test_no_canary_in_the_ledger_rows(session: Session) -> None:
    database = session.root / ".alphaforge" / "ledger" / "paper.sqlite"
    with closing(sqlite3.connect(database)) as connection:
        tables = [
            name
            for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        rows = {t: connection.execute(f'SELECT * FROM "{t}"').fetchall() for t in tables}
    assert rows["orders"] and rows["fills"]
    for table, content in rows.items():
        assert _leaks(repr(content)) == [], table


def test_no_canary_in_a_request_body_query_or_other_header(session: Session) -> None:
    # Keys travel only in the venue's key headers (Alpaca's APCA-* pair, Binance's
    # X-MBX-APIKEY); ccxt's secret only signs, it is never sent.
    for request in session.requests:
        assert _leaks(request.target) == [], request.target
        assert _leaks(request.body) == [], request.body
        assert _leaks(json.dumps(request.headers)) == [], request.headers


class _EchoingHook(BaseHTTPRequestHandler):
    """A webhook that refuses the alert and echoes the Authorization header in its answer."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        raw = f"denied: {self.headers.get('Authorization')}".encode()
        self.send_response(401, f"bad token {self.headers.get('Authorization')}")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format: str, *args: Any) -> None:
        del format, args


@pytest.fixture
def echoing_hook() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoingHook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.mark.parametrize("webhook", ["closed", "echoing"])
def test_a_failing_notification_leaks_no_secret(
    webhook: str, echoing_hook: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secrets = SecretsConfig(
        smtp_password=SecretStr(CANARIES["SMTP_PASSWORD"]),
        webhook_token=SecretStr(CANARIES["WEBHOOK_TOKEN"]),
    )
    url = echoing_hook if webhook == "echoing" else f"http://127.0.0.1:{_closed_port()}/hook"
    config = NotifyConfig(
        channels=["log", "email", "webhook"],
        smtp_host="127.0.0.1",
        smtp_port=_closed_port(),
        smtp_user="bot",
        email_to=["ops@example.com"],
        webhook_url=url,
        timeout_s=2.0,
    )
    clock = SimulatedClock(pd.Timestamp("2024-11-29 17:45", tz="UTC"))
    caplog.set_level(logging.DEBUG)
    delivery = Notifier(config, secrets, clock=clock).notify(
        "error", "live.node", "the broker is unreachable"
    )
    assert set(delivery.failed) == {"email", "webhook"}, delivery
    # The alert row the node keeps of a failed delivery (what the dashboard shows).
    ledger = Ledger.open(f"sqlite:///{(tmp_path / 'l.sqlite').as_posix()}", clock=clock)
    try:
        for channel, error in delivery.failed.items():
            ledger.add_alert("warning", f"notify.{channel}", error)
        stored = [str(a) for a in ledger.alerts()]
    finally:
        ledger.close()
    assert len(stored) == 2 and _leaks(" ".join(stored)) == []
    assert _leaks(json.dumps(delivery.failed)) == []
    assert _leaks(caplog.text) == [], caplog.text
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert _leaks(path.read_bytes()) == [], path


def test_the_canaries_are_distinct() -> None:
    assert len(set(CANARIES.values())) == len(CANARIES)
    assert all(os.environ.get(f"ALPHAFORGE_SECRETS__{n}") is None for n in CANARIES)
