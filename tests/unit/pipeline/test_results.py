"""Typed run results: one model per file, NaN as null, user-facing errors for foreign files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from alphaforge.core.errors import AlphaForgeError
from alphaforge.pipeline.results import (
    Overfitting,
    RunManifest,
    TrainData,
    TrainSummary,
    read_result,
    write_result,
)


def _summary() -> TrainSummary:
    nan = float("nan")
    return TrainSummary(
        run_id="r",
        command="train",
        created="2026-01-01T00:00:00+00:00",
        config={"run": {"seed": 1}},
        seed=1,
        data=TrainData(
            universe="synthetic",
            kind="synthetic",
            interval="1d",
            symbols=["A"],
            first="2020-01-01",
            last="2020-12-31",
            hashes={"A": "abc"},
        ),
        code_version="0.1.0",
        models={"lightgbm": {"auc": 0.55, "sharpe": nan}},
        ensemble={"auc": 0.55, "up_down_auc": 0.6},
        ensemble_weights={"lightgbm": 1.0},
        mean_agreement=1.0,
        search_trials=0,
        quantiles=None,
        multi_task=None,
        catalysts=None,
        overfitting=Overfitting(
            experiment="default",
            ledger="l.sqlite",
            n_trials=1,
            deflated_sharpe={"lightgbm": nan},
            control_deflated_sharpe={},
            pbo=None,
            pbo_undefined_reason="one configuration",
        ),
        diagnostics={},
        registered={},
        benchmark_metrics={"cagr": 0.1},
        controls={"random_walk": {"auc": 0.5}},
        warnings=["w"],
        report="report.html",
    )


def test_a_summary_round_trips_with_nan_written_as_null(tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    write_result(path, _summary())
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert raw["models"]["lightgbm"]["sharpe"] is None
    assert raw["overfitting"]["pbo"] is None
    back = read_result(path, TrainSummary)
    assert math.isnan(back.models["lightgbm"]["sharpe"])
    assert back.three_class
    assert set(back.metric_sections()) == {
        "models.lightgbm",
        "ensemble",
        "benchmark",
        "controls.random_walk",
    }


def test_reading_another_kind_of_file_fails_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    path.write_text(json.dumps({"run_id": "r", "metrics": {}}), encoding="utf-8")
    with pytest.raises(AlphaForgeError, match="is not a TrainSummary") as info:
        read_result(path, TrainSummary)
    assert "\n" not in info.value.one_line()
    with pytest.raises(AlphaForgeError, match="is not a RunManifest"):
        read_result(path, RunManifest)


def test_a_training_record_of_an_older_version_reads_with_what_it_has() -> None:
    from alphaforge.pipeline.results import training_record

    old = {"interval": "1d", "labels": {"horizon": 10}, "model": {"name": "lightgbm"}}
    record = training_record(old, what="default.lightgbm v1")
    assert record.labels is not None
    assert record.labels.horizon == 10
    assert record.labels.model_fields_set == {"horizon"}
    assert record.walk_forward is None
    assert record.features is None


def test_an_unreadable_training_record_fails_in_one_line() -> None:
    from alphaforge.core.errors import ConfigError
    from alphaforge.pipeline.results import training_record

    with pytest.raises(ConfigError, match=r"default\.lightgbm v3 has a training record") as info:
        training_record({"labels": {"horizon": "soon"}}, what="default.lightgbm v3")
    assert "labels.horizon" in info.value.message
    assert "alphaforge train" in (info.value.hint or "")
