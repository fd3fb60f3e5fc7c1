"""Isotonic calibration: fitted on the validation block only, reliable on held-out rows."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Self

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.isotonic import IsotonicRegression

from alphaforge.models.base import Model
from alphaforge.models.calibration import CalibratedModel, IsotonicCalibrator


class CubeModel:
    """A deliberately miscalibrated binary model: column 0 of X is the true P(up), and the
    model reports its cube. It records every matrix it is fitted on or asked to score."""

    def __init__(self, *, random_state: int = 0) -> None:
        self.random_state = random_state

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        *,
        sample_weight: np.ndarray | None = None,
        eval_set: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> Self:
        self.fit_X_ = X.copy()
        self.fit_eval_ = eval_set
        self.scored_: list[np.ndarray] = []
        self.classes_ = np.array([0.0, 1.0])
        self.device = "cpu"
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        self.scored_.append(X.copy())
        p = np.clip(X[:, 0], 0.0, 1.0) ** 3
        return np.column_stack([1.0 - p, p])

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.argmax(self.predict_proba(X), axis=1).astype(np.float64)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "cube.json").write_text(json.dumps({"random_state": self.random_state}))

    @classmethod
    def load(cls, directory: Path) -> Self:
        params = json.loads((directory / "cube.json").read_text())
        model = cls(random_state=params["random_state"])
        model.classes_ = np.array([0.0, 1.0])
        model.scored_ = []
        model.device = "cpu"
        return model


class SpyCalibrator(IsotonicCalibrator):
    """Records exactly what it was fitted on."""

    def fit(
        self,
        validation_proba: np.ndarray,
        validation_y: np.ndarray,
        *,
        sample_weight: np.ndarray | None = None,
    ) -> Self:
        self.seen_proba_ = np.array(validation_proba, copy=True)
        self.seen_y_ = np.array(validation_y, copy=True)
        return super().fit(validation_proba, validation_y, sample_weight=sample_weight)


def _bernoulli(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """True P(up) uniform on [0, 1] and labels drawn from it."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.0, 1.0, n)
    y = (rng.uniform(0.0, 1.0, n) < p).astype(np.float64)
    return p, y


def _reliability_gap(pred: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """Mean over equal-width bins of |mean prediction - observed frequency|."""
    index = np.minimum((pred * bins).astype(int), bins - 1)
    gaps = [
        abs(pred[index == b].mean() - y[index == b].mean())
        for b in range(bins)
        if (index == b).sum() >= 30
    ]
    return float(np.mean(gaps))


def test_isotonic_fixes_a_cubed_score_on_held_out_rows() -> None:
    p_val, y_val = _bernoulli(0, 6000)
    p_test, y_test = _bernoulli(1, 6000)
    raw_val = np.column_stack([1 - p_val**3, p_val**3])
    raw_test = np.column_stack([1 - p_test**3, p_test**3])
    calibrator = IsotonicCalibrator().fit(raw_val, y_val)
    calibrated = calibrator.transform(raw_test)
    # The cube under-states P(up) by E[p - p^3] = 1/2 - 1/4 = 0.25 on average.
    assert np.mean(p_test - p_test**3) == pytest.approx(0.25, abs=0.01)
    assert _reliability_gap(raw_test[:, 1], y_test) > 0.15
    assert _reliability_gap(calibrated[:, 1], y_test) < 0.03
    # The calibrated score tracks the true probability it was distorted from.
    assert np.mean(np.abs(calibrated[:, 1] - p_test)) < 0.05
    np.testing.assert_allclose(calibrated.sum(axis=1), 1.0, atol=1e-12)
    # The stored thresholds reproduce scikit-learn's own clipped isotonic prediction.
    reference = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
    reference.fit(raw_val[:, 1], y_val)
    np.testing.assert_allclose(calibrated[:, 1], reference.predict(raw_test[:, 1]), atol=1e-12)


def test_outside_the_fitted_range_the_map_is_clipped() -> None:
    proba = np.array([[0.8, 0.2], [0.6, 0.4], [0.4, 0.6], [0.2, 0.8]])
    y = np.array([0.0, 1.0, 0.0, 1.0])
    calibrator = IsotonicCalibrator().fit(proba, y)
    # Pool-adjacent-violators on (0.2:0, 0.4:1, 0.6:0, 0.8:1) pools the middle pair to 0.5.
    out = calibrator.transform(np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]]))
    np.testing.assert_allclose(out[:, 1], [0.0, 0.5, 1.0])
    np.testing.assert_allclose(out[:, 0], 1.0 - out[:, 1])


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_multiclass_is_one_vs_rest_then_renormalised() -> None:
    rng = np.random.default_rng(5)
    n = 4000
    logits = rng.normal(0.0, 1.0, (2 * n, 3))
    truth = _softmax(logits)
    y = np.array([rng.choice(3, p=row) for row in truth], dtype=np.float64)
    overconfident = _softmax(3.0 * logits)
    calibrator = IsotonicCalibrator().fit(overconfident[:n], y[:n])
    out = calibrator.transform(overconfident[n:])
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-12)
    assert ((out >= 0) & (out <= 1)).all()
    # Independent: three one-vs-rest isotonic fits, stacked, divided by the row sum.
    columns = []
    for k in range(3):
        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
        iso.fit(overconfident[:n, k], (y[:n] == k).astype(float))
        columns.append(iso.predict(overconfident[n:, k]))
    expected = np.column_stack(columns)
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(out, expected, atol=1e-12)

    def log_loss(p: np.ndarray) -> float:
        codes = y[n:].astype(int)
        return float(-np.mean(np.log(np.clip(p[np.arange(n), codes], 1e-15, 1))))

    assert log_loss(out) < log_loss(overconfident[n:]) - 0.05


def test_multiclass_row_with_no_calibrated_mass_keeps_its_raw_probabilities() -> None:
    # Each class is observed only at P >= 0.5, and seen absent at P up to 0.45, so every
    # class's map is 0 on [0.05, 0.45]: a row inside that box has nothing to renormalise.
    proba = np.array(
        [
            [0.8, 0.1, 0.1],
            [0.1, 0.8, 0.1],
            [0.1, 0.1, 0.8],
            [0.45, 0.5, 0.05],
            [0.05, 0.45, 0.5],
            [0.5, 0.05, 0.45],
        ]
    )
    y = np.array([0.0, 1.0, 2.0, 1.0, 2.0, 0.0])
    calibrator = IsotonicCalibrator().fit(proba, y)
    fresh = np.array([[1 / 3, 1 / 3, 1 / 3], [0.3, 0.3, 0.4], [0.7, 0.2, 0.1]])
    out = calibrator.transform(fresh)
    np.testing.assert_allclose(out[:2], fresh[:2])
    # Class 0 at 0.7 interpolates between (0.5, 1) and (0.8, 1): 1; the others map to 0.
    np.testing.assert_allclose(out[2], [1.0, 0.0, 0.0])


def test_calibrated_model_calibrates_on_exactly_the_eval_set_rows() -> None:
    p_train, y_train = _bernoulli(10, 300)
    p_val, y_val = _bernoulli(11, 2000)
    X_train, X_val = p_train[:, None], p_val[:, None]
    spy = SpyCalibrator()
    wrapper = CalibratedModel(model=CubeModel(), calibrator=spy)
    assert wrapper.fit(X_train, y_train, eval_set=(X_val, y_val)) is wrapper
    base = wrapper.model_
    np.testing.assert_array_equal(base.fit_X_, X_train)
    # The base model was asked to score the validation rows, and only them.
    assert len(base.scored_) == 1
    np.testing.assert_array_equal(base.scored_[0], X_val)
    # The calibrator saw the base model's validation predictions and the validation labels.
    seen = wrapper.calibrator_
    assert isinstance(seen, SpyCalibrator)
    np.testing.assert_allclose(seen.seen_proba_[:, 1], p_val**3)
    np.testing.assert_array_equal(seen.seen_y_, y_val)
    assert seen.n_rows_ == len(y_val)
    # The parameters are untouched copies' templates: nothing was fitted on them.
    assert not hasattr(spy, "seen_proba_")
    assert not hasattr(wrapper.model, "fit_X_")
    assert isinstance(wrapper, Model)


def test_early_stop_on_eval_controls_what_the_base_model_receives() -> None:
    p, y = _bernoulli(12, 400)
    X = p[:, None]
    on = CalibratedModel(model=CubeModel()).fit(X[:200], y[:200], eval_set=(X[200:], y[200:]))
    assert on.model_.fit_eval_ is not None
    off = CalibratedModel(model=CubeModel(), early_stop_on_eval=False)
    off.fit(X[:200], y[:200], eval_set=(X[200:], y[200:]))
    assert off.model_.fit_eval_ is None


def test_without_an_eval_set_it_refuses_instead_of_using_training_rows() -> None:
    p, y = _bernoulli(13, 200)
    wrapper = CalibratedModel(model=CubeModel())
    with pytest.raises(ValueError, match="eval_set"):
        wrapper.fit(p[:, None], y)
    with pytest.raises(ValueError, match="eval_set"):
        wrapper.fit(p[:, None], y, eval_set=(np.empty((0, 1)), np.empty(0)))


def test_held_out_reliability_through_the_wrapper() -> None:
    p_val, y_val = _bernoulli(20, 5000)
    p_test, y_test = _bernoulli(21, 5000)
    wrapper = CalibratedModel(model=CubeModel())
    wrapper.fit(p_val[:100, None], y_val[:100], eval_set=(p_val[:, None], y_val))
    proba = wrapper.predict_proba(p_test[:, None])
    assert _reliability_gap(proba[:, 1], y_test) < 0.03
    np.testing.assert_array_equal(wrapper.predict(p_test[:, None]), proba[:, 1] > 0.5)


def test_calibrator_refuses_a_class_missing_from_the_validation_block() -> None:
    proba = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.6, 0.3, 0.1]])
    with pytest.raises(ValueError, match="every class"):
        IsotonicCalibrator().fit(proba, np.array([0.0, 1.0, 0.0]))
    with pytest.raises(ValueError, match="class codes"):
        IsotonicCalibrator().fit(proba, np.array([0.0, 1.0, 5.0]))
    with pytest.raises(ValueError, match="probabilities"):
        IsotonicCalibrator().fit(proba * 3, np.array([0.0, 1.0, 2.0]))


def test_non_finite_rows_are_skipped_in_fit_and_nan_in_transform() -> None:
    p, y = _bernoulli(30, 500)
    proba = np.column_stack([1 - p, p])
    proba[:10] = np.nan
    calibrator = IsotonicCalibrator().fit(proba, y)
    assert calibrator.n_rows_ == 490
    out = calibrator.transform(proba[:20])
    assert np.isnan(out[:10]).all()
    assert np.isfinite(out[10:]).all()


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    p_val, y_val = _bernoulli(40, 1000)
    p_test, _ = _bernoulli(41, 300)
    wrapper = CalibratedModel(model=CubeModel(random_state=7))
    wrapper.fit(p_val[:50, None], y_val[:50], eval_set=(p_val[:, None], y_val))
    wrapper.save(tmp_path / "m")
    loaded = CalibratedModel.load(tmp_path / "m", model_cls=CubeModel)
    np.testing.assert_array_equal(
        loaded.predict_proba(p_test[:, None]), wrapper.predict_proba(p_test[:, None])
    )
    np.testing.assert_array_equal(loaded.classes_, [0.0, 1.0])
    assert loaded.model_.random_state == 7
    assert loaded.device == "cpu"
    # A header naming a class outside the package is data, not code to import.
    with pytest.raises(ValueError, match="outside alphaforge"):
        CalibratedModel.load(tmp_path / "m")
    with pytest.raises(FileNotFoundError):
        IsotonicCalibrator.load(tmp_path / "nothing")


def test_multiclass_calibrator_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(50)
    proba = rng.dirichlet([1.0, 1.0, 1.0], 600)
    y = rng.integers(0, 3, 600).astype(np.float64)
    calibrator = IsotonicCalibrator().fit(proba, y)
    calibrator.save(tmp_path)
    loaded = IsotonicCalibrator.load(tmp_path)
    np.testing.assert_array_equal(loaded.transform(proba), calibrator.transform(proba))


def test_init_is_keyword_only_and_stores_parameters() -> None:
    for cls in (CalibratedModel, IsotonicCalibrator):
        params = list(inspect.signature(cls.__init__).parameters.values())
        assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params[1:])
    base = CubeModel()
    wrapper = CalibratedModel(model=base)
    assert wrapper.model is base
    assert wrapper.calibrator is None
    assert not [a for a in vars(wrapper) if a.endswith("_")]


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(20, 200),
    n_classes=st.sampled_from([2, 3, 4]),
)
def test_output_is_a_distribution_and_binary_map_is_monotone(
    seed: int, n: int, n_classes: int
) -> None:
    rng = np.random.default_rng(seed)
    proba = rng.dirichlet(np.ones(n_classes), n)
    y = np.concatenate([np.arange(n_classes), rng.integers(0, n_classes, n - n_classes)])
    calibrator = IsotonicCalibrator().fit(proba, y.astype(np.float64))
    fresh = rng.dirichlet(np.ones(n_classes), 50)
    out = calibrator.transform(fresh)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-9)
    assert ((out >= -1e-12) & (out <= 1 + 1e-12)).all()
    if n_classes == 2:
        order = np.argsort(fresh[:, 1])
        assert (np.diff(out[order, 1]) >= -1e-12).all()


def test_a_validation_block_missing_a_class_keeps_the_raw_probabilities(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    p_train, y_train = _bernoulli(50, 300)
    p_val, _ = _bernoulli(51, 400)
    only_zeros = np.zeros(len(p_val))  # the block holds a single class
    wrapper = CalibratedModel(model=CubeModel())
    with caplog.at_level("WARNING"):
        wrapper.fit(p_train[:, None], y_train, eval_set=(p_val[:, None], only_zeros))
    assert not wrapper.calibrated
    assert "calibration skipped" in caplog.text
    raw = wrapper.model_.predict_proba(p_val[:, None])
    np.testing.assert_array_equal(wrapper.predict_proba(p_val[:, None]), raw)
    wrapper.save(tmp_path / "m")
    loaded = CalibratedModel.load(tmp_path / "m", model_cls=CubeModel)
    assert not loaded.calibrated
    np.testing.assert_array_equal(loaded.predict_proba(p_val[:, None]), raw)
