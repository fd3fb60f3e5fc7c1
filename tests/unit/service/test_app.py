"""The service's API on a small ledger written with the ledger's own methods: reads, actions
as command and audit rows, 404/409/422 with reasons, live updates over the WebSocket."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from alphaforge.config import AppConfig
from alphaforge.core.clock import SimulatedClock
from alphaforge.core.orders import Fill, Order, OrderIntent, OrderStatus
from alphaforge.service.app import create_app
from alphaforge.service.auth import Scope, TokenStore
from alphaforge.service.sources import SERVICE_DIR, TOKENS_FILE
from alphaforge.storage.ledger import Ledger

BASE = "http://127.0.0.1:8765"
WS = "ws://127.0.0.1:8765"
T0 = pd.Timestamp("2024-03-01 15:00", tz="UTC")


def service_config(root: Path, **service: Any) -> AppConfig:
    """A configuration whose store, runs and paper ledger live under ``root``."""
    return AppConfig.model_validate(
        {
            "data": {"store_dir": str(root / "store")},
            "run": {"runs_dir": str(root / "runs")},
            "execution": {"ledger_url": f"sqlite:///{root / 'ledger.sqlite'}"},
            "service": {"mode": "paper", "poll_interval_s": 0.05, **service},
        }
    )


def make_tokens(config: AppConfig, clock: SimulatedClock) -> dict[str, str]:
    """Create a read, a trade and an admin token; return name -> plaintext."""
    store = TokenStore(Path(config.data.store_dir) / SERVICE_DIR / TOKENS_FILE, clock)
    return {
        "read": store.create("reader", Scope.READ),
        "trade": store.create("trader", Scope.TRADE),
        "admin": store.create("admin", Scope.ADMIN),
    }


def fill(ledger: Ledger, n: int, symbol: str, quantity: float, price: float) -> None:
    """Record one filled market order of ``quantity`` at ``price`` (commission 1 USD)."""
    time = T0 + pd.Timedelta(minutes=n)
    intent = OrderIntent(symbol, quantity, strategy="test")
    order = Order(
        f"c{n}",
        intent,
        created_at=time,
        status=OrderStatus.FILLED,
        filled_quantity=quantity,
        average_price=price,
    )
    ledger.record_order(order, "fill")
    ledger.record_fill(
        order,
        Fill(
            order_id=f"c{n}",
            symbol=symbol,
            timestamp=time,
            quantity=quantity,
            price=price,
            costs=(("commission", 1.0),),
            strategy="test",
            execution_id=f"e{n}",
        ),
    )


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str], Ledger, SimulatedClock]]:
    clock = SimulatedClock(T0)
    config = service_config(tmp_path)
    ledger = Ledger.open(config.execution.ledger_url_for("paper"), clock=clock)
    ledger.set_cash(10_000.0, "initial funding")
    tokens = make_tokens(config, clock)
    app = create_app(config, clock=clock)
    with TestClient(app, base_url=BASE) as client:
        yield client, tokens, ledger, clock
    ledger.close()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_reads_need_a_token_and_return_the_ledger(world: Any) -> None:
    client, tokens, _ledger, _ = world
    assert client.get("/api/v1/account").status_code == 401
    account = client.get("/api/v1/account", headers=auth(tokens["read"])).json()
    assert account["ledger"] is True and account["cash"] == 10_000.0
    assert account["heartbeat"].startswith("no heartbeat yet")
    for path in ("/api/v1/orders", "/api/v1/fills", "/api/v1/alerts", "/api/v1/jobs"):
        answer = client.get(path, headers=auth(tokens["read"]))
        assert answer.status_code == 200 and answer.json() == [], path


def test_pause_writes_the_command_and_its_audit_before_answering(world: Any) -> None:
    client, tokens, ledger, _ = world
    body = {"confirm": True, "reason": "earnings tonight"}
    answer = client.post("/api/v1/controls/pause", json=body, headers=auth(tokens["trade"]))
    assert answer.status_code == 200, answer.text
    number = answer.json()["command_id"]
    (pending,) = ledger.pending_commands()
    assert (pending.id, pending.kind) == (number, "pause")
    audit = [a.decision for a in ledger.audits() if a.decision.get("source") == "service"]
    assert audit == [
        {
            "source": "service",
            "action": "pause",
            "token": "trader",
            "reason": "earnings tonight",
            "command_id": number,
        }
    ]


def test_actions_need_confirmation_a_reason_and_a_known_target(world: Any) -> None:
    client, tokens, _, _ = world
    headers = auth(tokens["trade"])
    unconfirmed = {"confirm": False, "reason": "because"}
    assert (
        client.post("/api/v1/controls/flatten", json=unconfirmed, headers=headers).status_code
        == 422
    )
    no_reason = {"confirm": True, "reason": ""}
    assert (
        client.post("/api/v1/controls/flatten", json=no_reason, headers=headers).status_code == 422
    )
    good = {"confirm": True, "reason": "testing"}
    missing = client.post("/api/v1/orders/nope/cancel", json=good, headers=headers)
    assert missing.status_code == 404 and "No order nope" in missing.json()["detail"]
    job = client.post("/api/v1/jobs/no_job/run", json=good, headers=headers)
    assert job.status_code == 404 and "No job" in job.json()["detail"]
    ran = client.post("/api/v1/jobs/nightly_refresh/run", json=good, headers=headers)
    assert ran.status_code == 200 and ran.json()["kind"] == "run_job"
    page = client.get("/api/v1/pages/nope", headers=auth(tokens["read"]))
    assert page.status_code == 404 and "No page" in page.json()["detail"]


def test_an_action_without_a_ledger_says_which_command_creates_it(tmp_path: Path) -> None:
    clock = SimulatedClock(T0)
    config = service_config(tmp_path)
    tokens = make_tokens(config, clock)
    with TestClient(create_app(config, clock=clock), base_url=BASE) as client:
        answer = client.post(
            "/api/v1/controls/pause",
            json={"confirm": True, "reason": "test"},
            headers=auth(tokens["trade"]),
        )
        assert answer.status_code == 409
        assert "alphaforge trade run --mode paper" in answer.json()["detail"]
        page = client.get("/api/v1/pages/portfolio", headers=auth(tokens["read"])).json()
        assert any("alphaforge trade run" in n for n in page["notes"])


def test_acknowledging_an_alert_is_kept_in_the_audit(world: Any) -> None:
    client, tokens, ledger, _ = world
    alert = ledger.add_alert("error", "feed", "stale")
    body = {"confirm": True, "reason": "seen, feed restarted"}
    answer = client.post(f"/api/v1/alerts/{alert}/ack", json=body, headers=auth(tokens["trade"]))
    assert answer.status_code == 200
    (listed,) = client.get("/api/v1/alerts", headers=auth(tokens["read"])).json()
    assert listed["acknowledged"] is True


def test_the_portfolio_twin_follows_the_fills(world: Any) -> None:
    client, tokens, ledger, clock = world
    fill(ledger, 1, "AAPL", 10, 100.0)
    fill(ledger, 2, "AAPL", -10, 110.0)
    clock.advance_to(T0 + pd.Timedelta(hours=1))
    twin = client.get("/api/v1/pages/portfolio", headers=auth(tokens["read"])).json()
    # 10 000 - 1 000 - 1 + 1 100 - 1
    assert twin["cash"] == pytest.approx(10_098.0)
    assert twin["equity_curve"]["equity"][-1] == pytest.approx(10_098.0)
    trades = client.get("/api/v1/pages/trades", headers=auth(tokens["read"])).json()
    (trade,) = trades["trades"]
    assert trade["pnl"] == pytest.approx(98.0) and trade["side"] == "long"


def test_a_new_fill_reaches_a_websocket_client(world: Any) -> None:
    client, tokens, ledger, _ = world
    ticket = client.post("/api/v1/ws-ticket", headers=auth(tokens["read"])).json()["ticket"]
    with client.websocket_connect(f"{WS}/ws?ticket={ticket}") as socket:
        assert socket.receive_json()["type"] == "hello"
        import time

        time.sleep(0.3)  # the tail's first poll marks where the tables end
        fill(ledger, 3, "MSFT", 5, 400.0)
        kinds = set()
        for _ in range(10):
            message = socket.receive_json()
            kinds.add(message["type"])
            if {"fill", "equity"} <= kinds:
                break
        assert {"fill", "equity"} <= kinds
    # A ticket works once.
    with pytest.raises(Exception), client.websocket_connect(f"{WS}/ws?ticket={ticket}") as again:  # noqa: B017, PT011
        again.receive_json()


def test_a_client_whose_queue_is_full_is_dropped_and_counted() -> None:
    import asyncio

    from alphaforge.service.stream import Hub

    async def scenario() -> tuple[bool, bool, int, int]:
        hub = Hub(queue_size=2)
        slow, quick = hub.join(), hub.join()
        for n in range(3):
            hub.publish({"type": "fill", "data": {"n": n}})
            if n < 2:
                quick.queue.get_nowait()  # the quick client keeps up
        return slow.dropped, quick.dropped, hub.dropped_total, len(hub.clients)

    assert asyncio.run(scenario()) == (True, False, 1, 1)


def test_request_latency_is_kept_per_route_template(world: Any) -> None:
    client, tokens, _, _ = world
    client.get("/api/v1/pages/risk", headers=auth(tokens["read"]))
    scrape = client.get("/metrics", headers=auth(tokens["read"])).text
    assert 'route="/api/v1/pages/{name}"' in scrape
    assert 'route="/api/v1/pages/risk"' not in scrape


def test_the_service_loads_neither_the_node_nor_the_brokers() -> None:
    """Beyond the import-linter contract (static): at run time too, the app and every page
    load without ``alphaforge.live`` or ``alphaforge.execution``."""
    import subprocess
    import sys

    code = (
        "import sys, alphaforge.service.app, alphaforge.service.server\n"
        "from alphaforge.service.pages import PAGES, builder\n"
        "[builder(name) for name in PAGES]\n"
        "print(sorted(m for m in sys.modules if m.startswith(('alphaforge.live', "
        "'alphaforge.execution'))))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]"
