"""``alphaforge trade`` on paper against the fake Alpaca server (the real alpaca-py client):
data fetch, one trading run, the ledger read back, and the live-mode refusals."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml
from tests.integration.test_backtest_cli import assert_ok, assert_one_line_error

from alphaforge.features.testing import real_bars
from alphaforge.testing.fake_alpaca import LIVE_KEY, PAPER_KEY, FakeAlpaca

if TYPE_CHECKING:
    from conftest import RunCli

#: The CLI's environment points every proxy at a closed port; the fake is reached directly.
LOCAL = {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}

CONFIG = {
    "strategy": {"name": "momentum"},
    "portfolio": {"constructor": "target_weights", "sizing": "weights", "units": "whole"},
    "risk": {"preset": "none"},
    "live": {"symbols": ["GOOG"]},
}


@pytest.fixture(scope="module")
def paper(
    tmp_path_factory: pytest.TempPathFactory, run_cli: RunCli
) -> Iterator[tuple[Path, FakeAlpaca]]:
    root = tmp_path_factory.mktemp("paper")
    bars, _ = real_bars("GOOG", 400)
    # Alpaca stamps a daily bar at midnight New York time.
    bars.index = bars.index.tz_localize(None).tz_localize("America/New_York").tz_convert("UTC")
    with FakeAlpaca(paper=True) as fake:
        fake.set_bars("GOOG", bars)
        fake.set_price("GOOG", float(bars["close"].iloc[-1]))
        fetched = run_cli(
            [
                "data",
                "fetch",
                "GOOG",
                "--source",
                "alpaca",
                "--start",
                "2011-08-01",
                "--end",
                "2013-03-01",
            ],
            root,
            env={**fake.env(), **LOCAL},
        )
        assert_ok(fetched)
        (root / "c.yaml").write_text(yaml.safe_dump(CONFIG), encoding="utf-8")
        yield root, fake


def test_a_paper_run_trades_at_the_broker_and_the_ledger_says_so(
    paper: tuple[Path, FakeAlpaca], run_cli: RunCli
) -> None:
    root, fake = paper
    env = {**fake.env(), **LOCAL}
    ran = run_cli(["trade", "run", "--mode", "paper", "--once", "-c", "c.yaml"], root, env=env)
    assert_ok(ran)
    venue = fake.orders()
    assert len(venue) == 1 and venue[0]["status"] == "filled" and venue[0]["symbol"] == "GOOG"
    client_id = venue[0]["client_order_id"]
    assert client_id in ran.stdout
    # The run folder holds the run's log.
    run = root / ran.stdout.split("Run: ", 1)[1].split()[0]
    logged = (run / "run.log").read_text(encoding="utf-8")
    assert "INFO alphaforge.pipeline.trade_session: paper node started" in logged
    assert "decision at" in logged and "1 orders placed" in logged
    orders = run_cli(["trade", "orders", "--mode", "paper", "-c", "c.yaml"], root, env=env)
    assert_ok(orders)
    assert client_id in orders.stdout and "filled" in orders.stdout
    status = run_cli(["trade", "status", "--mode", "paper", "-c", "c.yaml"], root, env=env)
    assert_ok(status)
    held = float(venue[0]["filled_qty"]) * (1 if venue[0]["side"] == "buy" else -1)
    assert f"GOOG {held:+g}" in status.stdout and "state: active" in status.stdout
    fills = run_cli(["trade", "fills", "--mode", "paper", "-c", "c.yaml"], root, env=env)
    assert_ok(fills)
    assert client_id in fills.stdout
    # A restart decides the same bar: nothing more reaches the broker.
    assert_ok(run_cli(["trade", "run", "--mode", "paper", "--once", "-c", "c.yaml"], root, env=env))
    assert len(fake.orders()) == 1


def test_live_without_keys_is_one_line(paper: tuple[Path, FakeAlpaca], run_cli: RunCli) -> None:
    root, fake = paper
    env: dict[str, str | None] = {**fake.env(), **LOCAL}
    env["ALPHAFORGE_SECRETS__ALPACA_API_KEY"] = None
    env["ALPHAFORGE_SECRETS__ALPACA_SECRET_KEY"] = None
    ran = run_cli(["trade", "run", "--mode", "live", "--once", "-c", "c.yaml"], root, env=env)
    assert_one_line_error(ran, "key")


def test_a_paper_key_on_the_live_endpoint_is_one_line(
    paper: tuple[Path, FakeAlpaca], run_cli: RunCli
) -> None:
    root, _ = paper
    with FakeAlpaca(paper=False) as live:
        live.set_bars("GOOG", real_bars("GOOG", 10)[0])
        env = {**live.env(), **LOCAL, "ALPHAFORGE_SECRETS__ALPACA_API_KEY": PAPER_KEY}
        ran = run_cli(["trade", "run", "--mode", "live", "--once", "-c", "c.yaml"], root, env=env)
        assert_one_line_error(ran, "live")
        assert live.orders() == []


def test_live_without_the_account_number_typed_back_is_one_line(
    paper: tuple[Path, FakeAlpaca], run_cli: RunCli
) -> None:
    root, _ = paper
    with FakeAlpaca(paper=False) as live:
        env = {**live.env(), **LOCAL, "ALPHAFORGE_SECRETS__ALPACA_API_KEY": LIVE_KEY}
        ran = run_cli(["trade", "run", "--mode", "live", "--once", "-c", "c.yaml"], root, env=env)
        assert_one_line_error(ran, "account number")
        assert live.orders() == []
