"""The engine's SMA crossover equals backtesting.py's, run through ``alphaforge backtest``.

The configuration is the YAML block that ``docs/backtest.md`` prints, so the documented
comparison is the tested one. Trade lists must agree bar for bar (entry and exit bar, prices,
signed size) and the final equity to 1e-6 relative, in both forms.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from tests.golden.backtesting_py_reference import MODES, Mode, run_reference

from alphaforge.data.sources import sample_bars

DOCS = Path(__file__).resolve().parents[2] / "docs" / "backtest.md"


def _documented_config() -> dict[str, object]:
    text = DOCS.read_text(encoding="utf-8")
    match = re.search(r"<!-- golden-config:.*?-->\s*```yaml\n(.*?)```", text, re.S)
    assert match, "docs/backtest.md lost its golden-config YAML block"
    loaded = yaml.safe_load(match.group(1))
    assert isinstance(loaded, dict)
    return loaded


def _cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALPHAFORGE_")}
    return subprocess.run(
        [sys.executable, "-m", "alphaforge", *args],
        cwd=cwd,
        env=env | {"COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def goog_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("golden")
    fetched = _cli(["data", "fetch", "GOOG", "--source", "sample"], workdir)
    assert fetched.returncode == 0, fetched.stderr
    return workdir


@pytest.mark.parametrize("mode", MODES)
def test_sma_crossover_matches_backtesting_py(goog_workdir: Path, mode: Mode) -> None:
    config = _documented_config()
    strategy = config["strategy"]
    assert isinstance(strategy, dict)
    strategy["params"]["mode"] = mode
    path = goog_workdir / f"{mode}.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    out = goog_workdir / f"run-{mode}"
    result = _cli(["backtest", "--config", str(path), "--out", str(out)], goog_workdir)
    assert result.returncode == 0, result.stderr

    bars = sample_bars("GOOG")
    params = strategy["params"]
    reference = run_reference(
        bars, params["fast"], params["slow"], mode, commission=0.002, cash=10_000.0
    )
    ours = pd.read_parquet(out / "trades.parquet")
    theirs = reference.trades
    assert len(ours) == len(theirs) > 20
    position = {t: i for i, t in enumerate(bars.index)}
    assert [position[t] for t in ours["entry_time"]] == list(theirs["entry_bar"])
    closed = ours["exit_time"].notna().to_numpy()
    assert list(closed) == list(~theirs["is_open"].to_numpy(bool))
    assert [position[t] for t in ours["exit_time"][closed]] == list(
        theirs["exit_bar"][closed].astype(int)
    )
    np.testing.assert_array_equal(ours["quantity"], theirs["quantity"])
    np.testing.assert_allclose(ours["entry_price"], theirs["entry_price"], rtol=1e-12, atol=0)
    np.testing.assert_allclose(
        ours["exit_price"][closed], theirs["exit_price"][closed], rtol=1e-12, atol=0
    )
    equity = pd.read_parquet(out / "equity.parquet")["equity"].iloc[-1]
    assert equity == pytest.approx(reference.final_equity, rel=1e-6)
    if mode == "long_only":
        assert (ours["quantity"] > 0).all()
