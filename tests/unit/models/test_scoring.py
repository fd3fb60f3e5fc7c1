"""``models.scoring``: champions picked from a registry folder passed in, scored at the latest
bar, and the scores under ``oof_predictions.parquet``'s names."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphaforge.config.models import LabelsConfig
from alphaforge.core.errors import ConfigError
from alphaforge.models import LogisticRegressionModel
from alphaforge.models.registry_store import ModelRegistry
from alphaforge.models.scoring import (
    COMBINER_FILE,
    LatestScores,
    combiner_folder,
    load_champions,
    prediction_row,
    score_latest,
)

FEATURES = ["ret_log_1", "rsi_14"]


def _registry(root: Path, seed: int, labels: LabelsConfig) -> None:
    """Register two logistic models of experiment ``exp`` fitted on seeded data."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(300, 2))
    with ModelRegistry(root) as registry:
        for k, name in enumerate(("a", "b")):
            y = (X[:, k] + 0.3 * rng.normal(size=300) > 0).astype(float)
            registry.register(
                LogisticRegressionModel(random_state=seed).fit(X, y),
                name=f"exp.{name}",
                kind="logistic",
                feature_names=FEATURES,
                data_start="2020-01-02",
                data_end="2020-12-31",
                symbols=["A", "B", "C"],
                label="rises",
                splitter="walk-forward",
                metrics={},
                seed=seed,
                code_version="test",
                config={"labels": labels.model_dump(mode="json")},
            )
            registry.promote(f"exp.{name}", 1, reason="first version")


def _features(seed: int) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed + 1)
    index = pd.date_range("2021-01-04", periods=4, freq="D", tz="UTC")
    return {s: pd.DataFrame(rng.normal(size=(4, 2)), index, FEATURES) for s in ("A", "B", "C")}


@pytest.mark.parametrize("seed", [0, 1])
def test_scores_each_symbols_latest_bar_with_the_champions(tmp_path: Path, seed: int) -> None:
    labels = LabelsConfig(kind="direction")
    _registry(tmp_path, seed, labels)
    champions = load_champions(tmp_path, "exp", ["a", "b"], labels)
    assert champions.feature_names == FEATURES
    features = _features(seed)
    latest = score_latest(champions, features, labels)
    table = latest.scores
    last = np.vstack([f.iloc[-1].to_numpy() for f in features.values()])
    with ModelRegistry(tmp_path) as registry:
        expected = {
            m: pd.Series(
                registry.load(f"exp.{m}", 1, expected_features=FEATURES).predict_proba(last)[:, 1],
                list(features),
            )
            for m in ("a", "b")
        }
    for m in ("a", "b"):
        np.testing.assert_allclose(table[m], expected[m].loc[table.index])
    # No combiner saved: the ensemble is the mean of the models' probabilities.
    mean = (expected["a"] + expected["b"]) / 2
    np.testing.assert_allclose(table["ensemble"], mean.loc[table.index])
    both = (table[["a", "b"]] > 0.5).eq(table["ensemble"] > 0.5, axis=0).mean(axis=1)
    pd.testing.assert_series_equal(table["agreement"], both, check_names=False)
    assert list(table["rank"]) == [1, 2, 3]
    assert "no combiner" in latest.ensemble

    # A saved combiner fitted on these versions weighs them as trained.
    folder = combiner_folder(tmp_path, "exp")
    folder.mkdir(parents=True)
    record = {
        "method": "performance",
        "models": ["a", "b"],
        "versions": {"a": 1, "b": 1},
        "weights": {"a": 0.75, "b": 0.25},
    }
    (folder / COMBINER_FILE).write_text(json.dumps(record))
    weighted = score_latest(champions, features, labels)
    combined = 0.75 * expected["a"] + 0.25 * expected["b"]
    np.testing.assert_allclose(weighted.scores["ensemble"], combined.loc[weighted.scores.index])
    assert weighted.ensemble.startswith("performance, as trained")


def test_refuses_a_missing_registry_and_other_labels(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="No model registry"):
        load_champions(tmp_path, "exp", ["a"], LabelsConfig())
    _registry(tmp_path, 0, LabelsConfig(kind="direction", horizon=5))
    with pytest.raises(ConfigError, match="other labels: horizon 5"):
        load_champions(tmp_path, "exp", ["a"], LabelsConfig(kind="direction", horizon=10))
    with pytest.raises(ConfigError, match="not in the registry"):
        load_champions(tmp_path, "exp", ["c"], LabelsConfig(kind="direction", horizon=5))


def test_prediction_row_names_columns_as_oof_predictions() -> None:
    symbols = pd.Index(["A", "B"], name="symbol")
    classes = ["SELL", "HOLD", "BUY"]
    proba = {
        "lightgbm": pd.DataFrame([[0.1, 0.3, 0.6], [0.5, 0.3, 0.2]], symbols, classes),
        "ensemble": pd.DataFrame([[0.2, 0.3, 0.5], [0.4, 0.4, 0.2]], symbols, classes),
    }
    table = pd.DataFrame(
        {
            "timestamp": pd.Timestamp("2021-01-04", tz="UTC"),
            "lightgbm": [0.5, -0.3],
            "ensemble": [0.3, -0.2],
            "agreement": [1.0, 1.0],
            "rank": [1, 2],
            "q10": [-0.02, -0.03],
            "q90": [0.03, 0.01],
        },
        index=symbols,
    )
    row = prediction_row(LatestScores(table, proba, "average"))
    assert list(row.columns) == [
        "score_lightgbm",
        "p_SELL_lightgbm",
        "p_HOLD_lightgbm",
        "p_BUY_lightgbm",
        "score_ensemble",
        "p_SELL_ensemble",
        "p_HOLD_ensemble",
        "p_BUY_ensemble",
        "agreement",
        "q10",
        "q90",
    ]
    np.testing.assert_allclose(row["p_BUY_ensemble"], [0.5, 0.2])
    np.testing.assert_allclose(row["score_lightgbm"], [0.5, -0.3])
