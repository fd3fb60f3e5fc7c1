"""Trial recording: controls stay out of the real trial count but pay for it when deflated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from alphaforge.config import AppConfig
from alphaforge.pipeline.ensembling import ENSEMBLE, ScoredRun
from alphaforge.pipeline.trials import record_trials
from alphaforge.validation.stats import deflated_sharpe_ratio


def _run(name: str, returns: np.ndarray) -> ScoredRun:
    index = pd.date_range("2020-01-01", periods=len(returns), freq="D", tz="UTC")
    empty = pd.Series(dtype=float)
    return ScoredRun(name, empty, pd.Series(returns, index=index), {}, {}, None, pd.DataFrame())


class _Runs:
    """The parts of PanelRuns that record_trials reads."""

    def __init__(self, models: dict[str, ScoredRun], ensemble: ScoredRun) -> None:
        self.models = models
        self.ensemble = ensemble
        self.search_trials: list[Any] = []


def test_controls_are_deflated_by_the_main_experiments_trials(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    config = AppConfig.model_validate(
        {"data": {"store_dir": str(tmp_path)}, "train": {"models": ["a", "b", "c"]}}
    )
    models = {m: _run(m, rng.normal(0.001, 0.01, 500)) for m in ("a", "b", "c")}
    main = _Runs(models, _run(ENSEMBLE, rng.normal(0.001, 0.01, 500)))
    control_returns = rng.normal(0.0008, 0.01, 500)  # a lucky noise Sharpe
    control = _Runs({}, _run(ENSEMBLE, control_returns))
    out, _ = record_trials(config, main, controls={"random_walk": control})  # type: ignore[arg-type]
    assert out.n_trials == 4  # three models and the ensemble; the control is not counted
    sharpes = [r.returns.mean() / r.returns.std(ddof=1) for r in [*models.values(), main.ensemble]]
    expected = deflated_sharpe_ratio(
        control_returns, n_trials=4, sharpe_variance=float(np.var(sharpes, ddof=1))
    )
    assert out.control_deflated_sharpe["random_walk"] == pytest.approx(expected)
    # Deflated by its own single trial, the same returns would read far better.
    own = deflated_sharpe_ratio(control_returns, n_trials=1, sharpe_variance=0.0)
    assert own > out.control_deflated_sharpe["random_walk"]


def test_a_one_model_ensemble_is_one_trial_and_pbo_is_undefined(tmp_path: Path) -> None:
    """The one-model "ensemble" has its model's returns: recording both made a tie that gave
    PBO 1.0 on a planted edge and counted two trials."""
    rng = np.random.default_rng(1)
    config = AppConfig.model_validate({"data": {"store_dir": str(tmp_path)}})
    returns = rng.normal(0.002, 0.01, 400)
    main = _Runs({"lightgbm": _run("lightgbm", returns)}, _run(ENSEMBLE, returns.copy()))
    out, notes = record_trials(config, main, controls={})  # type: ignore[arg-type]
    assert out.n_trials == 1
    assert out.pbo is None
    assert "2 distinct configurations" in (out.pbo_undefined_reason or "")
    assert any("PBO undefined" in note for note in notes)
    # One trial: the deflated Sharpe is the PSR against zero, for model and ensemble alike.
    psr = deflated_sharpe_ratio(returns, n_trials=1, sharpe_variance=0.0)
    assert out.deflated_sharpe["lightgbm"] == pytest.approx(psr)
    assert out.deflated_sharpe[ENSEMBLE] == pytest.approx(psr)


def test_two_distinct_models_give_a_defined_pbo(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    config = AppConfig.model_validate(
        {"data": {"store_dir": str(tmp_path)}, "train": {"models": ["a", "b"]}}
    )
    models = {m: _run(m, rng.normal(0.001, 0.01, 400)) for m in ("a", "b")}
    main = _Runs(models, _run(ENSEMBLE, rng.normal(0.001, 0.01, 400)))
    out, _ = record_trials(config, main, controls={})  # type: ignore[arg-type]
    assert out.n_trials == 3
    assert out.pbo_undefined_reason is None
    assert out.pbo is not None
    assert 0.0 <= out.pbo <= 1.0
