"""``alphaforge serve`` for real: the CLI starts uvicorn on 127.0.0.1 against a world made by
real code (train, predict and demo runs, a ledger filled by replaying bars through the live
node), and headless Chromium (Debian's, driven by Playwright) opens every page.

On every page: each Plotly chart has a trace with data, no console or page error, nothing
requested beyond 127.0.0.1, a screenshot in ``test-artifacts/pages/``. A new ledger fill shows
in the trades table and the equity within 2 s; pause and flatten go through their
confirmation; a ``kill -9`` of the service after its 2xx loses no command (the node, run
afterwards, carries it out).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pandas as pd
import pytest
from tests.integration.browser import CHROMIUM, CHROMIUM_ARGS
from tests.integration.service_world import MODE, World, build_world

from alphaforge.core.orders import Fill, Order, OrderIntent, OrderStatus
from alphaforge.core.types import Interval
from alphaforge.service.pages import PAGES
from alphaforge.storage.bar_store import BarStore
from alphaforge.storage.ledger import Ledger

if TYPE_CHECKING:
    from conftest import RunCli

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "pages"
LOCAL = {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}

#: For each plotted div: how many traces have at least one finite point.
_TRACES_WITH_POINTS = """
() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(gd => {
  const finite = v => typeof v === 'number' && Number.isFinite(v);
  const flat = a => (a == null ? [] : Array.from(a).flatMap(v =>
      (v != null && typeof v === 'object' && v.length !== undefined) ? Array.from(v) : [v]));
  const drawn = gd._fullData.filter(t => t.visible !== false && (
      flat(t.y).some(finite) || flat(t.z).some(finite) ||
      ((t.type === 'histogram' || t.orientation === 'h') && flat(t.x).some(finite))));
  return {id: gd.id, traces: gd._fullData.length, drawn: drawn.length};
})
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _token(run_cli: RunCli, world: World, name: str, scope: str) -> str:
    made = run_cli(
        [
            "serve",
            "token",
            "create",
            "--name",
            name,
            "--scope",
            scope,
            "--config",
            str(world.config_path),
        ],
        world.root,
    )
    assert made.returncode == 0, made.stderr
    return next(w for w in made.stdout.split() if w.startswith("af_"))


class Served:
    """A running ``alphaforge serve`` process."""

    def __init__(self, world: World, base_env: dict[str, str]) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**base_env, **LOCAL}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "alphaforge.cli.app",
                "serve",
                "--port",
                str(self.port),
                "--config",
                str(world.config_path),
            ],
            cwd=world.root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                if self.process.poll() is not None:
                    output = self.process.stdout.read() if self.process.stdout else ""
                    raise AssertionError(output) from None
                time.sleep(0.2)
        raise AssertionError("alphaforge serve did not start within 60 s")

    def kill(self) -> str:
        self.process.send_signal(signal.SIGKILL)
        out, _ = self.process.communicate(timeout=10)
        return out or ""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, run_cli: RunCli) -> World:
    return build_world(tmp_path_factory.mktemp("service-world"), run_cli)


@pytest.fixture(scope="module")
def tokens(world: World, run_cli: RunCli) -> dict[str, str]:
    return {
        "trade": _token(run_cli, world, "browser", "trade"),
        "read": _token(run_cli, world, "reader", "read"),
    }


@pytest.fixture(scope="module")
def served(world: World, tokens: dict[str, str], base_env: dict[str, str]) -> Iterator[Served]:
    server = Served(world, base_env)
    yield server
    if server.process.poll() is None:
        server.kill()


def _record_fill(world: World, n: int, symbol: str, quantity: float, price: float) -> None:
    """What the node does on an execution: the order and its fill, in the ledger."""
    ledger = Ledger.open(world.ledger_url)
    try:
        time_ = pd.Timestamp.now(tz="UTC")
        intent = OrderIntent(symbol, quantity, strategy="browser-test")
        order = Order(
            f"browser-{n}",
            intent,
            created_at=time_,
            status=OrderStatus.FILLED,
            filled_quantity=quantity,
            average_price=price,
        )
        ledger.record_order(order, "fill")
        ledger.record_fill(
            order,
            Fill(
                order_id=order.id,
                symbol=symbol,
                timestamp=time_,
                quantity=quantity,
                price=price,
                costs=(("commission", 1.0),),
                strategy="browser-test",
                execution_id=f"browser-exec-{n}",
            ),
        )
    finally:
        ledger.close()


def test_the_api_answers_on_the_world(world: World, tokens: dict[str, str], served: Served) -> None:
    headers = {"Authorization": f"Bearer {tokens['read']}"}
    with httpx.Client(base_url=served.url, headers=headers, trust_env=False) as client:
        portfolio = client.get("/api/v1/pages/portfolio").json()
        ledger = Ledger.open(world.ledger_url)
        try:
            fills = ledger.fills()
            cash = ledger.cash()
        finally:
            ledger.close()
        assert portfolio["cash"] == pytest.approx(cash)
        # Cash recomputed from the funding and the fills equals the ledger's.
        recomputed = (
            100_000.0
            - float((fills["quantity"] * fills["price"]).sum())
            - float(fills["cost"].sum())
        )
        assert cash == pytest.approx(recomputed)
        # Equity: the cash and each position marked at its last stored close (recomputed
        # here from the ledger and the store, not through the service's code).
        store = BarStore(world.config.data.store_dir)
        held = fills.groupby("symbol")["quantity"].sum()
        marked = sum(
            quantity * float(store.read(str(symbol), Interval.D1)["close"].iloc[-1])
            for symbol, quantity in held.items()
            if abs(quantity) > 1e-9
        )
        assert portfolio["equity"] == pytest.approx(cash + marked)
        assert portfolio["equity_curve"]["equity"][-1] == pytest.approx(cash + marked)
        trades = client.get("/api/v1/pages/trades", params={"symbol": "SYN00"}).json()
        assert trades["symbol_view"]["fills"]
        assert all(t["symbol"] == "SYN00" for t in trades["trades"])
        predictions = client.get("/api/v1/predictions", params={"symbol": "SYN00"}).json()
        files = sorted((Path(world.config.data.store_dir) / "predictions").glob("*.parquet"))
        table = pd.read_parquet(files[-1])
        for q in ("q10", "q50", "q90"):
            # The fan is the quantile model's output, as predict persisted it.
            assert predictions["fan"]["quantiles"][q] == pytest.approx(float(table.loc["SYN00", q]))
        assert client.get("/api/v1/predictions", params={"symbol": "NOPE"}).status_code == 404
        for path in ("/api/v1/account", "/api/v1/risk", "/api/v1/models", "/api/v1/runs"):
            assert client.get(path).status_code == 200, path


@pytest.mark.skipif(
    not CHROMIUM.exists() and os.environ.get("CI") != "true",
    reason="Debian's chromium is not installed at /usr/bin/chromium "
    "(make test installs it: apt-get install -y chromium)",
)
def test_every_page_draws_in_chromium_and_follows_the_ledger(
    world: World, tokens: dict[str, str], served: Served
) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    foreign: list[str] = []
    errors: list[str] = []

    def guard(route: Any) -> None:
        url = route.request.url
        if url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")):
            route.continue_()
        else:
            foreign.append(url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.route("**/*", guard)
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{served.url}/pages/portfolio")
        assert page.url.endswith("/login")
        page.fill("#token", "af_not-a-token")
        page.click("#login")
        assert "not valid" in page.inner_text("#login-error")
        errors.clear()  # the refused login's 401 is logged by Chromium as a console error
        page.fill("#token", tokens["trade"])
        page.click("#login")
        page.wait_for_url("**/pages/portfolio")
        for name in PAGES:
            page.goto(f"{served.url}/pages/{name}")
            page.wait_for_load_state("networkidle")
            charts = page.evaluate(_TRACES_WITH_POINTS)
            assert all(c["drawn"] >= 1 for c in charts), (name, charts)
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        assert errors == []
        assert foreign == []

        # A new fill shows in the trades table and in the equity within 2 s.
        page.goto(f"{served.url}/pages/trades")
        page.wait_for_function("document.getElementById('live').textContent.includes('on')")
        _record_fill(world, 1, "SYN03", 7.0, 50.0)
        page.wait_for_function(
            "document.getElementById('fills').textContent.includes('browser-exec-1')",
            timeout=2000,
        )
        page.goto(f"{served.url}/pages/portfolio")
        page.wait_for_function("document.getElementById('live').textContent.includes('on')")
        before = page.evaluate("JSON.parse(document.getElementById('twin').textContent).cash")
        _record_fill(world, 2, "SYN03", -7.0, 60.0)
        page.wait_for_function(
            f"JSON.parse(document.getElementById('twin').textContent).cash > {before} + 60",
            timeout=2000,
        )

        # Pause and flatten, each confirmed and with a reason.
        page.goto(f"{served.url}/pages/risk")
        answers = iter([None, "pause for the browser test", None, "flatten for the browser test"])

        def answer(dialog: Any) -> None:
            reply = next(answers)
            if reply is None:
                dialog.accept()
            else:
                dialog.accept(reply)

        page.on("dialog", answer)
        for action in ("pause", "flatten"):
            page.click(f"#{action}")
            page.wait_for_function(
                "document.getElementById('control-result').dataset.status === '200'"
            )
            assert "queued" in page.inner_text("#control-result")
            page.evaluate("delete document.getElementById('control-result').dataset.status")
        assert errors == []
        browser.close()
    ledger = Ledger.open(world.ledger_url)
    try:
        kinds = [c.kind for c in ledger.pending_commands()]
    finally:
        ledger.close()
    assert kinds[-2:] == ["pause", "flatten"]


def test_a_command_answered_2xx_survives_kill_9_and_the_node_applies_it(
    world: World, tokens: dict[str, str], base_env: dict[str, str], run_cli: RunCli
) -> None:
    server = Served(world, base_env)
    headers = {"Authorization": f"Bearer {tokens['trade']}"}
    with httpx.Client(base_url=server.url, headers=headers, trust_env=False) as client:
        answer = client.post(
            "/api/v1/controls/resume", json={"confirm": True, "reason": "kill test"}
        )
    assert answer.status_code == 200
    number = answer.json()["command_id"]
    server.kill()
    done = run_cli(
        ["trade", "run", "--mode", MODE, "--once", "--config", str(world.config_path)],
        world.root,
        env=LOCAL,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "Command resume: resumed" in done.stdout
    ledger = Ledger.open(world.ledger_url)
    try:
        applied = {c.id: c for c in ledger.commands()}
    finally:
        ledger.close()
    assert applied[number].status == "done"
