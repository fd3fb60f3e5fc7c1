"""The drift check of `alphaforge predict`: new bars against the model's training bars."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

from alphaforge.pipeline.predict import MIN_DRIFT_ROWS, feature_drift


def _features(shift_after: float, n_after: int) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(0)
    stamps = pd.date_range("2020-01-01", periods=400 + n_after, freq="D", tz="UTC")
    frames = {}
    for symbol in ("A", "B"):
        values = rng.normal(size=len(stamps))
        values[400:] += shift_after
        frames[symbol] = pd.DataFrame(
            {"rsi_14": values, "month": stamps.month.to_numpy(dtype=float)}, index=stamps
        )
    return frames


VERSION = SimpleNamespace(
    data_start=pd.Timestamp("2020-01-01", tz="UTC"),
    data_end=pd.Timestamp("2020-01-01", tz="UTC") + pd.Timedelta(days=399),
    metrics={"validation_hit_rate": 0.6},
)


def test_a_shifted_feature_triggers_retraining_but_calendar_features_are_left_out() -> None:
    report = feature_drift(_features(2.0, 200), VERSION)  # type: ignore[arg-type]
    assert report is not None
    assert report.should_retrain
    assert report.drifted_features == ("rsi_14",)
    assert "month" not in report.psi


def test_a_stable_feature_does_not() -> None:
    report = feature_drift(_features(0.0, 200), VERSION)  # type: ignore[arg-type]
    assert report is not None
    assert not report.should_retrain


def test_too_few_new_rows_are_not_checked() -> None:
    assert feature_drift(_features(2.0, MIN_DRIFT_ROWS // 2 - 1), VERSION) is None  # type: ignore[arg-type]


def test_a_falling_hit_rate_triggers_retraining_without_feature_drift() -> None:
    # 100 resolved predictions, 45 right, against a validation hit rate of 0.6: the binomial
    # P(X <= 45 | n=100, p=0.6) is about 0.0017 (below the 0.01 level).
    hits = np.zeros(100, dtype=bool)
    hits[:45] = True
    report = feature_drift(_features(0.0, 200), VERSION, hits=hits)  # type: ignore[arg-type]
    assert report is not None and report.hit_rate is not None
    assert report.hit_rate.recent == 0.45 and report.hit_rate.baseline == 0.6
    assert report.should_retrain and not report.drifted_features
    steady = feature_drift(_features(0.0, 200), VERSION, hits=np.ones(100, dtype=bool))  # type: ignore[arg-type]
    assert steady is not None and not steady.should_retrain


def test_no_baseline_means_no_hit_rate_check() -> None:
    version = SimpleNamespace(data_start=VERSION.data_start, data_end=VERSION.data_end, metrics={})
    report = feature_drift(_features(0.0, 200), version, hits=np.zeros(100, dtype=bool))  # type: ignore[arg-type]
    assert report is not None and report.hit_rate is None
