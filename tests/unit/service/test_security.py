"""Who gets in: every mutating route refuses missing, garbled, expired and revoked tokens and a
JWT with ``alg: none`` (401) and a read token (403); reads need a token; Host and Origin are
checked (also on the WebSocket handshake, against a real uvicorn); failed logins are limited;
the start-up refusals; schemathesis finds no 500 and no schema violation; a canary secret
appears in no response, page or log line."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import schemathesis
import uvicorn
import websockets
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance
from tests.unit.service.test_app import BASE, T0, auth, make_tokens, service_config

from alphaforge.config import AppConfig
from alphaforge.core.clock import SimulatedClock
from alphaforge.core.errors import ConfigError
from alphaforge.service.app import create_app
from alphaforge.service.auth import Scope, TokenStore
from alphaforge.service.server import check_bind, run_server
from alphaforge.service.sources import SERVICE_DIR, TOKENS_FILE
from alphaforge.storage.ledger import Ledger

CANARY = "canary-secret-7f3a9c"
#: Public on purpose: /login takes the token itself; /logout only drops the cookie.
PUBLIC_POSTS = {"/login", "/logout"}
#: A valid action body, so that only the credentials decide the answer.
ACTION = {"confirm": True, "reason": "security test"}
PATH_VALUES = {"client_id": "c1", "name": "nightly_refresh", "alert_id": "1"}


def _alg_none_jwt() -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part({'sub': 'admin', 'scope': 'admin'})}."


@pytest.fixture
def app_world(tmp_path: Path) -> Iterator[tuple[Any, dict[str, str], AppConfig, SimulatedClock]]:
    clock = SimulatedClock(T0)
    config = service_config(tmp_path)
    config = config.model_copy(
        update={"secrets": config.secrets.model_copy(update={"alpaca_secret_key": CANARY})}
    )
    ledger = Ledger.open(config.execution.ledger_url_for("paper"), clock=clock)
    ledger.set_cash(1_000.0, "funding")
    ledger.add_alert("info", "test", "an alert")
    ledger.close()
    tokens = make_tokens(config, clock)
    store = TokenStore(Path(config.data.store_dir) / SERVICE_DIR / TOKENS_FILE, clock)
    tokens["expired"] = store.create("short", Scope.TRADE, pd.Timedelta(minutes=1))
    tokens["revoked"] = store.create("gone", Scope.TRADE)
    store.revoke("gone")
    store.close()
    app = create_app(config, clock=clock)
    return app, tokens, config, clock


def _api_routes(routes: Any) -> list[APIRoute]:
    """Every APIRoute of ``app.routes``, those of included routers too (FastAPI keeps an
    included router as one entry holding the router's own routes)."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            found.extend(_api_routes(route.original_router.routes))
    return found


def _mutating(app: Any) -> list[tuple[str, str]]:
    found = []
    for route in _api_routes(app.routes):
        for method in route.methods & {"POST", "PUT", "PATCH", "DELETE"}:
            if route.path not in PUBLIC_POSTS:
                found.append((method, route.path.format(**PATH_VALUES)))
    return found


def test_every_mutating_route_refuses_bad_credentials_and_a_read_token(app_world: Any) -> None:
    app, tokens, _, clock = app_world
    clock.advance_to(T0 + pd.Timedelta(minutes=5))  # "short" has expired
    routes = _mutating(app)
    assert len(routes) >= 7, routes
    bad = {
        "none": {},
        "garbled": {"Authorization": "Bearer af_garbage"},
        "not bearer": {"Authorization": f"Basic {tokens['trade']}"},
        "expired": auth(tokens["expired"]),
        "revoked": auth(tokens["revoked"]),
        "jwt alg none": {"Authorization": f"Bearer {_alg_none_jwt()}"},
    }
    with TestClient(app, base_url=BASE) as client:
        for method, path in routes:
            for what, headers in bad.items():
                answer = client.request(method, path, json=ACTION, headers=headers)
                assert answer.status_code == 401, (method, path, what, answer.text)
            answer = client.request(method, path, json=ACTION, headers=auth(tokens["read"]))
            if path != "/api/v1/ws-ticket":  # a read token may open the live updates
                assert answer.status_code == 403, (method, path, answer.text)


def test_reads_need_a_valid_token(app_world: Any) -> None:
    app, tokens, _, _ = app_world
    with TestClient(app, base_url=BASE) as client:
        for route in _api_routes(app.routes):
            if "GET" in route.methods:
                path = route.path.format(name="portfolio")
                if not path.startswith("/api/"):
                    continue
                assert client.get(path).status_code == 401, path
                assert client.get(path, headers=auth(tokens["read"])).status_code == 200, path
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers=auth(tokens["read"])).status_code == 200
        # Pages without a session go to the login form.
        assert client.get("/pages/portfolio", follow_redirects=False).status_code == 303


def test_host_and_origin_are_checked(app_world: Any) -> None:
    app, tokens, _, _ = app_world
    with TestClient(app, base_url=BASE) as client:
        foreign_host = client.get(
            "/api/v1/account", headers={**auth(tokens["read"]), "Host": "evil.example"}
        )
        assert foreign_host.status_code == 403
        foreign_origin = client.post(
            "/api/v1/controls/pause",
            json=ACTION,
            headers={**auth(tokens["trade"]), "Origin": "http://evil.example"},
        )
        assert foreign_origin.status_code == 403
        same_origin = client.post(
            "/api/v1/controls/pause",
            json=ACTION,
            headers={**auth(tokens["trade"]), "Origin": BASE},
        )
        assert same_origin.status_code == 200


def test_login_sets_a_strict_http_only_cookie_and_limits_failures(app_world: Any) -> None:
    app, tokens, _, clock = app_world
    with TestClient(app, base_url=BASE) as client:
        for _ in range(5):
            assert client.post("/login", data={"token": "af_wrong"}).status_code == 401
        assert client.post("/login", data={"token": tokens["read"]}).status_code == 429
        clock.advance_to(T0 + pd.Timedelta(seconds=61))
        good = client.post("/login", data={"token": tokens["read"]}, follow_redirects=False)
        assert good.status_code == 303
        cookie = good.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        assert tokens["read"] not in good.headers["set-cookie"]  # the cookie names, not holds
        page = client.get("/pages/risk")
        assert page.status_code == 200 and "Risk monitor" in page.text
        # A read session sees no controls and cannot act.
        assert 'id="pause"' not in page.text
        assert client.post("/api/v1/controls/pause", json=ACTION).status_code == 403


def _serve(app: Any) -> tuple[uvicorn.Server, threading.Thread, int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    return server, thread, port


def test_the_websocket_handshake_needs_credentials_and_our_host_and_origin(
    app_world: Any,
) -> None:
    app, tokens, _, _ = app_world
    server, thread, port = _serve(app)
    url = f"ws://127.0.0.1:{port}/ws"

    async def status(target: str, **headers: str) -> int:
        try:
            async with websockets.connect(target, additional_headers=headers) as socket_:
                await socket_.recv()
                return 101
        except websockets.InvalidStatus as refused:
            return int(refused.response.status_code)

    async def ticket() -> str:
        import httpx

        async with httpx.AsyncClient(trust_env=False) as client:
            answer = await client.post(
                f"http://127.0.0.1:{port}/api/v1/ws-ticket", headers=auth(tokens["read"])
            )
            return str(answer.json()["ticket"])

    async def scenario() -> list[int]:
        return [
            await status(url),
            await status(f"{url}?ticket=nope"),
            await status(f"{url}?ticket={await ticket()}", Origin="http://evil.example"),
            await status(f"{url}?ticket={await ticket()}", Host="evil.example"),
            await status(f"{url}?ticket={await ticket()}", Origin=f"http://127.0.0.1:{port}"),
        ]

    try:
        assert asyncio.run(scenario()) == [403, 403, 403, 403, 101]
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_start_is_refused_without_a_token_off_loopback_or_on_a_taken_port(tmp_path: Path) -> None:
    config = service_config(tmp_path)
    with pytest.raises(ConfigError, match="No token yet"):
        run_server(config, port=_free_port())
    with pytest.raises(ConfigError, match="--allow-remote"):
        check_bind("0.0.0.0", 8765, allow_remote=False)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        with pytest.raises(ConfigError, match=f"Cannot listen on 127.0.0.1:{port}"):
            check_bind("127.0.0.1", port, allow_remote=False)
    key = Path(config.data.store_dir) / SERVICE_DIR / "cookie.key"
    key.chmod(0o644)
    with pytest.raises(ConfigError, match="open to other users"):
        run_server(config, port=_free_port())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_canary_secret_is_in_no_response_page_or_log(
    app_world: Any, caplog: pytest.LogCaptureFixture
) -> None:
    app, tokens, _, _ = app_world
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    with TestClient(app, base_url=BASE) as client:
        client.post("/login", data={"token": tokens["trade"]})
        for route in _api_routes(app.routes):
            if "GET" in route.methods:
                for name in ("portfolio", "predictions", "ml", "trades", "market", "risk", "runs"):
                    answer = client.get(route.path.format(name=name), headers=auth(tokens["read"]))
                    seen.append(answer.text + str(answer.headers))
                    if "{name}" not in route.path:
                        break
        for path in ("/pages/risk", "/pages/portfolio", "/metrics", "/docs", "/openapi.json"):
            seen.append(client.get(path).text)
        seen.append(client.post("/api/v1/controls/pause", json=ACTION).text)
    assert all(CANARY not in text for text in seen)
    assert CANARY not in caplog.text


def test_schemathesis_finds_no_500_and_no_schema_violation(tmp_path: Path) -> None:
    """Every operation of /openapi.json with generated parameters and bodies, as a trade
    token: no 5xx, and every answer matches its documented schema."""
    clock = SimulatedClock(T0)
    # Schemathesis calls the app in-process with the Host "testserver".
    config = service_config(tmp_path, allowed_hosts=["127.0.0.1", "localhost", "testserver"])
    ledger = Ledger.open(config.execution.ledger_url_for("paper"), clock=clock)
    ledger.set_cash(1_000.0, "funding")
    ledger.add_alert("info", "test", "an alert")
    ledger.close()
    tokens = make_tokens(config, clock)
    app = create_app(config, clock=clock)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    headers = auth(tokens["trade"])
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=15,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            case.call_and_validate(
                headers=headers, checks=[not_a_server_error, response_schema_conformance]
            )

        check()
