"""``alphaforge backtest`` end to end: the run folder, one-line errors, and hard kills."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pytest
import yaml
from tests.integration.test_tearsheet_browser import (
    _TRACES_WITH_POINTS as TRACES_WITH_POINTS,
)
from tests.integration.test_tearsheet_browser import CHROMIUM, CHROMIUM_ARGS
from tests.integration.test_tearsheet_browser import _open as open_offline

from alphaforge.pipeline.backtest_run import TABLES
from alphaforge.storage.atomic import TEMP_SUFFIX

if TYPE_CHECKING:
    from conftest import CliResult, RunCli

MA_CONFIG = {
    "strategy": {"name": "ma_crossover", "params": {"fast": 10, "slow": 20}},
    "portfolio": {"constructor": "target_weights", "sizing": "all_in", "units": "whole"},
    "backtest": {"symbols": ["GOOG"], "initial_capital": 10_000},
    # Base checks only: the sweep (no risk pieces) must end where the engine ends.
    "risk": {"preset": "none"},
}


def assert_ok(result: CliResult) -> None:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stdout + result.stderr


def assert_one_line_error(result: CliResult, *fragments: str) -> None:
    assert result.returncode == 2, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    for fragment in fragments:
        assert fragment in errors[0], f"{fragment!r} not in {errors[0]!r}"


def _write(path: Path, config: dict[str, object]) -> Path:
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory, run_cli: RunCli) -> Path:
    root = tmp_path_factory.mktemp("backtest")
    assert_ok(run_cli(["data", "fetch", "GOOG", "--source", "sample"], root))
    _write(root / "ma.yaml", MA_CONFIG)
    return root


@pytest.fixture(scope="module")
def unbroken(workdir: Path, run_cli: RunCli) -> Path:
    out = workdir / "unbroken"
    assert_ok(run_cli(["backtest", "--config", "ma.yaml", "--out", str(out)], workdir))
    return out


def test_a_run_writes_every_file(unbroken: Path) -> None:
    for name in TABLES:
        assert (unbroken / f"{name}.parquet").is_file(), name
    for name in ("summary.json", "manifest.json", "run.log"):
        assert (unbroken / name).is_file(), name
    for name in ("strategy", "asset_class", "sector", "regime", "costs"):
        assert (unbroken / "attribution" / f"{name}.csv").is_file(), name
    assert (unbroken / "tearsheet.html").is_file()
    assert any((unbroken / "tearsheet_data").iterdir())
    equity = pd.read_parquet(unbroken / "equity.parquet")
    assert list(equity.columns) == ["timestamp", "equity", "cash", "gross_exposure", "net_exposure"]
    trades = pd.read_parquet(unbroken / "trades.parquet")
    for column in (
        "symbol",
        "entry_time",
        "exit_time",
        "quantity",
        "entry_price",
        "exit_price",
        "pnl",
        "costs",
        "strategy",
        "exit_reason",
    ):
        assert column in trades.columns, column
    # Net trade P&L adds up to the change in equity (every cost is charged to a trade).
    final = float(equity["equity"].iloc[-1])
    assert trades["pnl"].sum() == pytest.approx(final - 10_000.0, rel=1e-9)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")
def test_the_tear_sheet_of_a_cli_run_draws_every_chart(unbroken: Path, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page, errors, requests = open_offline(browser, unbroken / "tearsheet.html")
            plots = page.evaluate(TRACES_WITH_POINTS)
            assert len(plots) >= 8
            for plot in plots:
                assert plot["drawn"] >= 1, plot
            page.screenshot(path=str(tmp_path / "bt1_tearsheet.png"), full_page=True)
        finally:
            browser.close()
    assert errors == []
    assert requests == []


@pytest.mark.parametrize(
    ("change", "fragments"),
    [
        ({"strategy": {"name": "ma_crosover"}}, ("Unknown strategy", "ma_crossover")),
        (
            {"strategy": {"name": "ma_crossover", "params": {"fast": 30, "slow": 20}}},
            ("ma_crossover", "fast"),
        ),
        (
            {"backtest": {"symbols": ["GOOG"], "costs": {"stock": [{"name": "percnt"}]}}},
            ("Unknown cost model", "percent"),
        ),
        ({"backtest": {"symbols": ["MSFT"]}}, ("MSFT", "alphaforge data fetch MSFT")),
        ({"backtest": {"symbols": ["GOOG"], "participation": 1.5}}, ("participation",)),
        ({"strategy": {"name": "oof_scores"}}, ("--predictions",)),
    ],
)
def test_bad_input_is_one_line(
    workdir: Path,
    run_cli: RunCli,
    change: dict[str, object],
    fragments: tuple[str, ...],
    tmp_path: Path,
) -> None:
    config = _write(tmp_path / "bad.yaml", MA_CONFIG | change)
    result = run_cli(["backtest", "--config", str(config), "--out", str(tmp_path / "run")], workdir)
    assert_one_line_error(result, *fragments)
    assert not (tmp_path / "run" / "summary.json").exists()


# A killer wrapped around the real CLI: SIGKILL at one dangerous point, from inside the process,
# so the kill lands exactly there (after the N-th bar, between two files, mid-file).
KILLER = r"""
import contextlib, os, signal, sys
from alphaforge.pipeline import backtest_run
from alphaforge.execution import simulated

point, at = sys.argv[1], int(sys.argv[2])

def die():
    os.kill(os.getpid(), signal.SIGKILL)

if point == "bar":
    real_match = simulated.SimulatedBroker.match
    seen = {"n": 0}
    def match(self, bar):
        seen["n"] += 1
        if seen["n"] == at:
            die()
        return real_match(self, bar)
    simulated.SimulatedBroker.match = match
elif point in ("file", "mid-file"):
    real_path = backtest_run.atomic_path
    written = {"n": 0}
    @contextlib.contextmanager
    def atomic_path(path):
        with real_path(path) as temp:
            yield temp
            if point == "mid-file" and written["n"] + 1 == at:
                die()  # the temporary file is complete, the rename has not happened
        written["n"] += 1
        if point == "file" and written["n"] == at:
            die()
    backtest_run.atomic_path = atomic_path
elif point == "summary":
    real_write = backtest_run.write_result
    def write_result(path, result):
        if path.name == "summary.json":
            die()
        real_write(path, result)
    backtest_run.write_result = write_result

sys.argv = ["alphaforge", *sys.argv[3:]]
from alphaforge.cli.app import main
main()
"""


@pytest.mark.parametrize(
    ("point", "at"),
    [("bar", 1000), ("file", 1), ("mid-file", 3), ("file", len(TABLES)), ("summary", 0)],
)
def test_a_killed_run_never_looks_complete_and_a_rerun_equals_an_unbroken_one(
    workdir: Path, unbroken: Path, run_cli: RunCli, point: str, at: int
) -> None:
    out = workdir / f"killed-{point}-{at}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALPHAFORGE_")}
    killed = subprocess.run(
        [sys.executable, "-c", KILLER, point, str(at), "backtest", "--config", "ma.yaml",
         "--out", str(out)],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip
    assert killed.returncode == -9, killed.stderr
    assert not (out / "summary.json").exists()
    for table in out.glob("*.parquet"):
        pd.read_parquet(table)  # whole, or not there at all
    # Only a kill between writing a temporary file and its rename leaves one; it is hidden.
    leftovers = [p.name for p in out.iterdir() if p.name.startswith(".")]
    expected = 1 if point == "mid-file" else 0
    assert len(leftovers) == expected and all(n.endswith(TEMP_SUFFIX) for n in leftovers)

    if point not in ("bar", "summary"):
        return  # one rerun per phase (engine, files) is enough: each CLI call costs seconds
    rerun = workdir / f"rerun-{point}-{at}"
    assert_ok(run_cli(["backtest", "--config", "ma.yaml", "--out", str(rerun)], workdir))
    for name in TABLES:
        pd.testing.assert_frame_equal(
            pd.read_parquet(rerun / f"{name}.parquet"),
            pd.read_parquet(unbroken / f"{name}.parquet"),
        )


def test_a_sweep_records_every_set_and_its_best_equals_the_engine(
    workdir: Path, unbroken: Path, run_cli: RunCli
) -> None:
    grid = workdir / "grid.yaml"
    grid.write_text(
        yaml.safe_dump(
            {"strategy": "ma_crossover", "params": {"fast": [5, 10, 25], "slow": [20, 40]}}
        ),
        encoding="utf-8",
    )
    out = workdir / "sweep"
    result = run_cli(
        ["backtest", "--config", "ma.yaml", "--sweep", str(grid), "--out", str(out)], workdir
    )
    assert_ok(result)
    table = pd.read_csv(out / "sweep.csv")
    # fast=25, slow=20 is not a crossover the strategy accepts: skipped and said so.
    assert len(table) == 5
    assert "skipped fast=25,slow=20" in result.stderr + result.stdout
    summary = yaml.safe_load((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["parameter_sets"] == 5 and summary["skipped"] == 1
    assert summary["trials_in_experiment"] >= 5
    assert 0.0 <= summary["pbo"] <= 1.0
    assert table["deflated_sharpe"].between(0.0, 1.0).all()
    # The documented set through the vectorized path ends where the engine ended.
    row = table.set_index("set").loc["fast=10,slow=20"]
    engine_equity = pd.read_parquet(unbroken / "equity.parquet")["equity"].iloc[-1]
    assert 10_000.0 * (1.0 + row["total_return"]) == pytest.approx(engine_equity, rel=1e-9)


def test_reproducing_a_backtest_gives_identical_metrics(tmp_path: Path, run_cli: RunCli) -> None:
    assert_ok(run_cli(["data", "fetch", "GOOG", "--source", "sample"], tmp_path))
    _write(tmp_path / "ma.yaml", MA_CONFIG)
    assert_ok(run_cli(["backtest", "--config", "ma.yaml", "--out", "first"], tmp_path))
    result = run_cli(["reproduce", "first"], tmp_path)
    assert_ok(result)
    assert "Metrics are identical" in result.stdout
