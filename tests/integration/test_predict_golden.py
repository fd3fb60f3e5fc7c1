"""`alphaforge predict` on ``fast.yaml`` prints and writes what it did before its scoring core
moved to :mod:`alphaforge.models.scoring`.

The golden files under ``tests/golden/predict_fast/`` were captured from ``alphaforge train``
then ``alphaforge predict --out scores.csv`` on ``fast.yaml`` before the move.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from conftest import RunCli

GOLDEN = Path(__file__).parents[1] / "golden" / "predict_fast"


def test_predict_output_equals_its_pre_move_output(
    run_cli: RunCli, tmp_path: Path, fast_config: Path
) -> None:
    trained = run_cli(["train", "--config", str(fast_config), "--out", "run"], tmp_path)
    assert trained.returncode == 0, trained.stderr
    scored = run_cli(["predict", "--config", str(fast_config), "--out", "scores.csv"], tmp_path)
    assert scored.returncode == 0, scored.stderr
    assert scored.stdout == (GOLDEN / "stdout.txt").read_text(encoding="utf-8")
    written = pd.read_csv(tmp_path / "scores.csv", index_col="symbol")
    expected = pd.read_csv(GOLDEN / "scores.csv", index_col="symbol")
    # LightGBM's sums may differ in the last bits with the thread count: the printed table
    # (3 decimals) is compared exactly, the CSV's full-precision floats to 1e-9.
    pd.testing.assert_frame_equal(written, expected, check_exact=False, atol=1e-9, rtol=0)
