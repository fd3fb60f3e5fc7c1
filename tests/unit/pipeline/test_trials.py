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
    out = record_trials(config, main, controls={"random_walk": control})  # type: ignore[arg-type]
    assert out["n_trials"] == 4  # three models and the ensemble; the control is not counted
    sharpes = [r.returns.mean() / r.returns.std(ddof=1) for r in [*models.values(), main.ensemble]]
    expected = deflated_sharpe_ratio(
        control_returns, n_trials=4, sharpe_variance=float(np.var(sharpes, ddof=1))
    )
    assert out["control_deflated_sharpe"]["random_walk"] == pytest.approx(expected)
    # Deflated by its own single trial, the same returns would read far better.
    own = deflated_sharpe_ratio(control_returns, n_trials=1, sharpe_variance=0.0)
    assert own > out["control_deflated_sharpe"]["random_walk"]
