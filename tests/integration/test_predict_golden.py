"""`alphaforge predict` on ``fast.yaml`` prints and writes what it did before its scoring core
moved to :mod:`alphaforge.models.scoring`.

The golden files under ``tests/golden/predict_fast/`` were captured from ``alphaforge train``
then ``alphaforge predict --out scores.csv`` on ``fast.yaml`` before the move.
"""

from __future__ import annotations

import re
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
    # The trained model differs across CPUs (the golden files were captured on one machine; an
    # AVX2-only machine's champion scores the same bars up to 0.033 away, ranks swapping): the
    # printed table is compared with its numbers masked, the scores to 0.05, ranks as ranks.
    golden = (GOLDEN / "stdout.txt").read_text(encoding="utf-8")
    # Since the dashboard, predict also keeps its scores in the store and says where (a line
    # the pre-move output did not have).
    kept = [
        line for line in scored.stdout.splitlines() if line.startswith("Kept for the dashboard")
    ]
    assert kept == ["Kept for the dashboard: store/predictions/default_20161230T000000Z.parquet"]
    assert (tmp_path / "store" / "predictions" / "default_20161230T000000Z.parquet").exists()
    printed = "\n".join(x for x in scored.stdout.splitlines() if not x.startswith("Kept for"))
    assert _masked(printed) == _masked(golden)
    written = pd.read_csv(tmp_path / "scores.csv", index_col="symbol").sort_index()
    expected = pd.read_csv(GOLDEN / "scores.csv", index_col="symbol").sort_index()
    assert list(written.columns) == list(expected.columns)
    assert (written["timestamp"] == expected["timestamp"]).all()
    for column in ("lightgbm", "ensemble", "agreement"):
        assert (written[column] - expected[column]).abs().max() < 0.05, column
    assert sorted(written["rank"]) == sorted(expected["rank"])
    assert (written.sort_values("rank")["lightgbm"].diff().dropna() <= 0).all()


def _masked(text: str) -> str:
    """Return the table's text with its scores and ranks replaced, and its rows sorted."""
    lines = [re.sub(r"\b\d+\.\d{3}\b", "#.###", line) for line in text.splitlines()]
    lines = [re.sub(r"^│\s+\d+ │", "│ # │", line) for line in lines]
    return "\n".join(sorted(lines))
