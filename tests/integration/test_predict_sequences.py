"""`predict` gives a sequence model the latest bar's trailing window, laid out as in training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphaforge.config import AppConfig, ModelConfig
from alphaforge.features import compute
from alphaforge.models import create_model
from alphaforge.models.calibration import CalibratedModel
from alphaforge.models.dataset import Panel, build_panel
from alphaforge.models.registry_store import ModelRegistry
from alphaforge.pipeline import registration
from alphaforge.pipeline.predict import fitted_lookback, latest_windows, predict_latest
from alphaforge.pipeline.research import prepare_training_data
from alphaforge.pipeline.sequences import design_for
from alphaforge.pipeline.train import load_training_universe, run_training

NAMES = ["ret_log_1", "ret_log_5", "vol_std_20"]
LOOKBACK = 5


def _config(tmp_path: Path, models: list[str]) -> AppConfig:
    return AppConfig.model_validate(
        {
            "demo": {"n_symbols": 8, "n_sectors": 2, "start": "2014-01-01", "end": "2016-12-31"},
            "portfolio": {"top_k": 2},
            "features": {"names": NAMES, "min_history": 30},
            "model": {
                "trees": {"n_estimators": 20},
                "deep": {"hidden_size": 8, "epochs": 2, "lookback": LOOKBACK, "batch_size": 128},
                "device": "cpu",
            },
            "walk_forward": {"train_months": 12, "validation_months": 3, "test_months": 6},
            "train": {"models": models},
            "data": {"store_dir": str(tmp_path / "store")},
            "run": {"runs_dir": str(tmp_path / "runs")},
        }
    )


def _universe(config: AppConfig) -> tuple[dict[str, pd.DataFrame], Panel]:
    raw, instruments, interval, _ = load_training_universe(config, config.run.seed)
    data = prepare_training_data(raw, instruments, interval, config)
    panel = build_panel(data.bars, interval, config.labels, NAMES, min_history=30)
    return dict(data.bars), panel


def test_latest_windows_are_the_training_windows_of_each_symbols_last_row(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path, ["gru"])
    bars, panel = _universe(config)
    design = design_for("gru", config.model.model_copy(update={"name": "gru"}), panel)
    assert design is not None
    symbols = panel.X.index.get_level_values("symbol")
    last_rows = np.array([np.flatnonzero(symbols == s)[-1] for s in bars], dtype=np.int64)
    trained = design(last_rows, np.arange(len(NAMES), dtype=np.int64))
    computed = {s: compute(b, NAMES) for s, b in bars.items()}
    latest = latest_windows(computed, NAMES, LOOKBACK)
    assert list(latest.index) == list(bars)
    assert latest.shape == (len(bars), LOOKBACK * len(NAMES))
    np.testing.assert_allclose(latest.to_numpy(), trained, rtol=0, atol=1e-12)
    # Oldest bar first; the last block is the latest bar's own features.
    assert list(latest.columns[-len(NAMES) :]) == [f"{n}@t-0" for n in NAMES]
    first = next(iter(bars))
    np.testing.assert_array_equal(
        latest.loc[first].to_numpy()[-len(NAMES) :], computed[first][NAMES].iloc[-1].to_numpy()
    )
    # A symbol with fewer bars than the lookback is NaN-padded at the front.
    short = {first: computed[first].iloc[:2]}
    padded = latest_windows(short, NAMES, LOOKBACK).to_numpy()[0]
    assert np.isnan(padded[: 3 * len(NAMES)]).all()
    np.testing.assert_array_equal(
        padded[3 * len(NAMES) :], computed[first][NAMES].iloc[:2].to_numpy().ravel()
    )
    with pytest.raises(ValueError, match="lookback"):
        latest_windows(computed, NAMES, 0)


def test_fitted_lookback_reads_through_calibration() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3 * 4))
    y = (X[:, -1] > 0).astype(np.float64)
    config = ModelConfig.model_validate(
        {"name": "gru", "device": "cpu", "deep": {"lookback": 4, "epochs": 1, "hidden_size": 4}}
    )
    gru = create_model(config, seed=0).fit(X, y)
    assert fitted_lookback(gru) == 4
    calibrated = CalibratedModel(model=create_model(config, seed=0)).fit(X, y, eval_set=(X, y))
    assert fitted_lookback(calibrated) == 4
    logistic = create_model(config.model_copy(update={"name": "logistic"}), seed=0).fit(X, y)
    assert fitted_lookback(logistic) == 1


def test_predict_scores_a_trained_gru_on_its_trailing_windows(tmp_path: Path) -> None:
    # train registers the final gru fitted on windows (registration.py uses design_for).
    config = _config(tmp_path, ["logistic", "gru"])
    outcome = run_training(config, out=tmp_path / "run")
    assert set(outcome.summary.registered) == {"logistic", "gru"}
    assert outcome.summary.models["gru"]["oos_rows"] > 0

    prediction = predict_latest(config)
    scores = prediction.scores
    assert len(scores) == 8
    assert scores[["logistic", "gru"]].apply(np.isfinite).all().all()
    assert scores["gru"].between(0, 1).all()

    # Recompute by hand: the gru reads each symbol's last LOOKBACK feature rows, the
    # logistic regression (unchanged) its latest row.
    bars, _ = _universe(config)
    computed = {s: compute(b, NAMES) for s, b in bars.items()}
    with ModelRegistry(registration.registry_root(config)) as registry:
        gru = registry.load("default.gru", "champion", expected_features=NAMES)
        logistic = registry.load("default.logistic", "champion", expected_features=NAMES)
    assert fitted_lookback(gru) == LOOKBACK and fitted_lookback(logistic) == 1
    windows = latest_windows(computed, NAMES, LOOKBACK).loc[scores.index].to_numpy()
    np.testing.assert_allclose(scores["gru"], gru.predict_proba(windows)[:, 1], rtol=1e-12)
    rows = np.array([computed[s][NAMES].iloc[-1].to_numpy() for s in scores.index])
    np.testing.assert_allclose(scores["logistic"], logistic.predict_proba(rows)[:, 1], rtol=1e-12)
    # One row per symbol is not what the gru was trained on.
    with pytest.raises(ValueError, match="lookback=5"):
        gru.predict_proba(rows)
