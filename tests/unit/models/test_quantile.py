"""Quantile regression: calibrated coverage, non-crossing quantiles, pinball loss by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics import mean_pinball_loss

from alphaforge.models.quantile import DEFAULT_QUANTILES, QuantileGBM, pinball_loss, pinball_losses

SMALL = {
    "n_estimators": 120,
    "learning_rate": 0.1,
    "num_leaves": 7,
    "min_child_samples": 40,
    "random_state": 0,
}


def _heteroscedastic(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """y = x0 + (0.2 + 0.8 x1) * N(0, 1): location and spread both depend on the features."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(n, 3))
    y = X[:, 0] + (0.2 + 0.8 * X[:, 1]) * rng.normal(size=n)
    return X, y


@pytest.fixture(scope="module", params=["lightgbm", "sklearn"])
def fitted(request: pytest.FixtureRequest) -> QuantileGBM:
    X, y = _heteroscedastic(0, 4000)
    return QuantileGBM(backend=request.param, **SMALL).fit(X, y)  # type: ignore[arg-type]


def test_each_quantile_covers_its_level_on_held_out_rows(fitted: QuantileGBM) -> None:
    X_test, y_test = _heteroscedastic(1, 4000)
    predictions = fitted.predict(X_test)
    assert predictions.shape == (4000, len(DEFAULT_QUANTILES))
    np.testing.assert_array_equal(fitted.quantiles_, DEFAULT_QUANTILES)
    coverage = (y_test[:, None] <= predictions).mean(axis=0)
    np.testing.assert_allclose(coverage, DEFAULT_QUANTILES, atol=0.05)


def test_quantiles_never_cross_after_sorting(fitted: QuantileGBM) -> None:
    X_test, _ = _heteroscedastic(2, 2000)
    raw = fitted.predict_unsorted(X_test)
    sorted_ = fitted.predict(X_test)
    assert (np.diff(sorted_, axis=1) >= 0).all()
    np.testing.assert_array_equal(sorted_, np.sort(raw, axis=1))
    # The spread follows the planted noise scale: wider where x1 is large.
    width = sorted_[:, -1] - sorted_[:, 0]
    wide, narrow = X_test[:, 1] > 0.8, X_test[:, 1] < 0.2
    assert width[wide].mean() > 2.5 * width[narrow].mean()


def test_crossing_predictions_are_reordered() -> None:
    # Few rows and rounds make independently fitted curves cross; sorting must repair them.
    X, y = _heteroscedastic(3, 120)
    model = QuantileGBM(quantiles=(0.4, 0.45, 0.5, 0.55, 0.6), **SMALL).fit(X, y)  # type: ignore[arg-type]
    X_test, _ = _heteroscedastic(4, 500)
    raw = model.predict_unsorted(X_test)
    assert (np.diff(raw, axis=1) < 0).any()
    assert (np.diff(model.predict(X_test), axis=1) >= 0).all()


def test_sorting_never_worsens_the_total_pinball_loss(fitted: QuantileGBM) -> None:
    X_test, y_test = _heteroscedastic(5, 2000)
    raw = pinball_losses(y_test, fitted.predict_unsorted(X_test), DEFAULT_QUANTILES).sum()
    assert pinball_losses(y_test, fitted.predict(X_test), DEFAULT_QUANTILES).sum() <= raw + 1e-12


def test_early_stopping_on_eval_set() -> None:
    rng = np.random.default_rng(6)
    X, y = rng.normal(size=(600, 3)), rng.normal(size=600)
    X_val, y_val = rng.normal(size=(300, 3)), rng.normal(size=300)
    params = {**SMALL, "n_estimators": 200, "early_stopping_rounds": 5}
    model = QuantileGBM(**params).fit(X, y, eval_set=(X_val, y_val))  # type: ignore[arg-type]
    assert all(1 <= m.best_iteration_ < 200 for m in model.models_)


def test_nan_features_and_save_load(tmp_path: Path) -> None:
    X, y = _heteroscedastic(7, 800)
    X[::5, 2] = np.nan
    for backend in ("lightgbm", "sklearn"):
        model = QuantileGBM(backend=backend, **SMALL).fit(X, y)  # type: ignore[arg-type]
        assert np.isfinite(model.predict(X)).all()
        model.save(tmp_path / backend)
        restored = QuantileGBM.load(tmp_path / backend)
        np.testing.assert_array_equal(restored.predict(X), model.predict(X))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"quantiles": (0.5, 0.1)}, "strictly increasing"),
        ({"quantiles": (0.0, 0.5)}, r"lie in \(0, 1\)"),
        ({"quantiles": ()}, "non-empty"),
        ({"backend": "torch"}, "backend must be one of"),
    ],
)
def test_invalid_settings_are_clear_errors(kwargs: dict[str, object], message: str) -> None:
    X, y = _heteroscedastic(8, 50)
    with pytest.raises(ValueError, match=message):
        QuantileGBM(**kwargs).fit(X, y)  # type: ignore[arg-type]


# --- pinball loss ----------------------------------------------------------------------------


def test_pinball_loss_by_hand() -> None:
    y = np.array([1.0, 2.0, 3.0])
    pred = np.array([2.0, 2.0, 2.0])
    # Residuals -1, 0, +1 at q = 0.9: losses 0.1 (over-prediction costs 1 - q), 0, 0.9.
    assert pinball_loss(y, pred, 0.9) == pytest.approx((0.1 + 0.0 + 0.9) / 3, abs=1e-15)
    assert pinball_loss(y, pred, 0.9, sample_weight=np.array([1.0, 1.0, 2.0])) == pytest.approx(
        (0.1 + 0.0 + 2 * 0.9) / 4, abs=1e-15
    )
    # At the median the pinball loss is half the mean absolute error.
    assert pinball_loss(y, pred, 0.5) == pytest.approx(0.5 * 2 / 3, abs=1e-15)
    np.testing.assert_allclose(
        pinball_losses(y, np.column_stack([pred, pred]), [0.1, 0.9]), [1 / 3, 1 / 3]
    )
    with pytest.raises(ValueError, match=r"lie in \(0, 1\)"):
        pinball_loss(y, pred, 1.0)
    with pytest.raises(ValueError, match="one column per quantile"):
        pinball_losses(y, pred[:, None], [0.1, 0.9])


finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(
    y=arrays(np.float64, st.integers(1, 30), elements=finite),
    shift=finite,
    q=st.floats(0.01, 0.99),
)
def test_pinball_loss_matches_scikit_learn(y: np.ndarray, shift: float, q: float) -> None:
    pred = y + shift
    expected = mean_pinball_loss(y, pred, alpha=q)
    assert pinball_loss(y, pred, q) == pytest.approx(expected, rel=1e-12, abs=1e-12)
    assert pinball_loss(y, y, q) == 0.0
    assert pinball_loss(y, pred, q) >= 0.0


@settings(max_examples=60, deadline=None)
@given(y=arrays(np.float64, st.integers(1, 40), elements=finite), q=st.floats(0.05, 0.95))
def test_a_sample_quantile_minimises_the_pinball_loss(y: np.ndarray, q: float) -> None:
    # The mean pinball loss over constants is minimised at the smallest sample value whose
    # empirical CDF reaches q (a closed form of the q-quantile).
    ordered = np.sort(y)
    k = int(np.ceil(q * len(y))) - 1
    best = pinball_loss(y, np.full_like(y, ordered[max(k, 0)]), q)
    candidates = np.concatenate([y, y + 0.5, y - 0.5])
    losses = [pinball_loss(y, np.full_like(y, c), q) for c in candidates]
    assert best <= min(losses) + 1e-9
