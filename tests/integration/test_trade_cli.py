"""``alphaforge trade`` end to end in dry-run: run, restart, read the ledger, commands, refusals."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml
from tests.integration.test_backtest_cli import assert_ok, assert_one_line_error

if TYPE_CHECKING:
    from conftest import RunCli

CONFIG = {
    "strategy": {"name": "momentum"},
    "portfolio": {"constructor": "target_weights", "sizing": "weights", "units": "whole"},
    "risk": {"preset": "none"},
    "live": {"symbols": ["GOOG"]},
}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory, run_cli: RunCli) -> Path:
    root = tmp_path_factory.mktemp("trade")
    assert_ok(run_cli(["data", "fetch", "GOOG", "--source", "sample"], root))
    (root / "c.yaml").write_text(yaml.safe_dump(CONFIG), encoding="utf-8")
    return root


def test_a_dry_run_places_once_and_a_restart_duplicates_nothing(
    workdir: Path, run_cli: RunCli
) -> None:
    first = run_cli(["trade", "run", "--mode", "dry-run", "--once", "-c", "c.yaml"], workdir)
    assert_ok(first)
    assert "af-1303010000-" in first.stdout and "GOOG" in first.stdout
    again = run_cli(["trade", "run", "--mode", "dry-run", "--once", "-c", "c.yaml"], workdir)
    assert_ok(again)
    assert "already executed" in again.stdout + again.stderr
    orders = run_cli(["trade", "orders", "--mode", "dry-run", "-c", "c.yaml"], workdir)
    assert_ok(orders)
    assert orders.stdout.count("af-1303010000-") == 1
    status = run_cli(["trade", "status", "--mode", "dry-run", "-c", "c.yaml"], workdir)
    assert_ok(status)
    assert "state: active" in status.stdout and "open orders: 1" in status.stdout
    runs = sorted((workdir / "runs").glob("*-trade"))
    assert len(runs) == 2 and (runs[0] / "manifest.json").exists()
    assert (runs[0] / "decision.json").exists() and (runs[0] / "execution.json").exists()


def test_a_pause_is_a_ledger_row_the_node_carries_out(workdir: Path, run_cli: RunCli) -> None:
    assert_ok(run_cli(["trade", "run", "--mode", "dry-run", "--once", "-c", "c.yaml"], workdir))
    queued = run_cli(["trade", "pause", "--mode", "dry-run", "-c", "c.yaml"], workdir)
    assert_ok(queued)
    assert "queued" in queued.stdout
    status = run_cli(["trade", "status", "--mode", "dry-run", "-c", "c.yaml"], workdir)
    assert "pending commands: pause" in status.stdout
    ran = run_cli(["trade", "run", "--mode", "dry-run", "--once", "-c", "c.yaml"], workdir)
    assert_ok(ran)
    assert "pause: paused" in ran.stdout
    status = run_cli(["trade", "status", "--mode", "dry-run", "-c", "c.yaml"], workdir)
    assert "state: halted" in status.stdout and "pending commands: none" in status.stdout
    assert_ok(run_cli(["trade", "resume", "--mode", "dry-run", "-c", "c.yaml"], workdir))


def test_reading_a_ledger_that_does_not_exist_is_one_line(tmp_path: Path, run_cli: RunCli) -> None:
    assert_one_line_error(
        run_cli(["trade", "orders", "--mode", "paper"], tmp_path), "No paper ledger"
    )


def test_live_without_keys_is_one_line(workdir: Path, run_cli: RunCli) -> None:
    result = run_cli(["trade", "run", "--mode", "live", "--once", "-c", "c.yaml"], workdir)
    assert_one_line_error(result, "key")


def test_an_unknown_mode_is_one_line(workdir: Path, run_cli: RunCli) -> None:
    assert_one_line_error(
        run_cli(["trade", "status", "--mode", "real", "-c", "c.yaml"], workdir), "mode"
    )
