"""Every registered model honours the ``Model`` contract (a new registration is tested too).

Synthetic data: 6 standard-normal features, only the first informative; the label is the sign
(binary) or tercile band (3 classes) of ``x0`` plus noise, so a model that learns anything
ranks held-out rows well above chance (the Bayes AUC is about 0.9).
"""

from __future__ import annotations

import inspect
import warnings
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from alphaforge.config import DeepConfig, ModelConfig, TreesConfig
from alphaforge.core import DataError
from alphaforge.models import MODELS, LightGBMClassifier, Model, SVMModel, create_model
from alphaforge.models import device as device_module
from alphaforge.models.device import resolve_device
from alphaforge.models.gbm import focal_grad_hess

NAMES = MODELS.names()
SMALL = ModelConfig(
    trees=TreesConfig(
        n_estimators=40,
        learning_rate=0.1,
        num_leaves=7,
        min_child_samples=10,
        subsample=0.9,
        colsample_bytree=0.8,
        early_stopping_rounds=5,
    ),
    # PyTorch models: the data here are plain rows (length-1 windows) and epochs play rounds.
    deep=DeepConfig(lookback=1, epochs=40, early_stopping_rounds=5),
)
N_FEATURES = 6


def _data(seed: int, n: int, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, N_FEATURES))
    latent = X[:, 0] + 0.7 * rng.normal(size=n)
    if n_classes == 2:
        return X, (latent > 0).astype(np.float64)
    # Terciles of latent ~ N(0, 1.22^2) sit near +-0.53: three balanced classes.
    return X, np.digitize(latent, [-0.53, 0.53]).astype(np.float64)


def _build(name: str, config: ModelConfig = SMALL, seed: int = 7) -> Model:
    # Unfitted models lack ``classes_``, so the runtime protocol check runs after fit.
    return MODELS.get(name)(config, seed, 1)  # type: ignore[return-value]


def _auc(y: np.ndarray, proba: np.ndarray) -> float:
    if proba.shape[1] == 2:
        return float(roc_auc_score(y, proba[:, 1]))
    return float(roc_auc_score(y, proba, multi_class="ovr"))


@cache
def _fitted(name: str, n_classes: int) -> Model:
    X, y = _data(0, 600, n_classes)
    return _build(name).fit(X, y)


def test_every_requested_model_is_registered() -> None:
    expected = {
        "logistic",
        "svm",
        "random_forest",
        "xgboost",
        "lightgbm",
        "lightgbm_dart",
        "catboost",
    }
    assert expected <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_factory_and_sklearn_conventions(name: str) -> None:
    configured = MODELS.get(name)(ModelConfig(name=name), 13, 2)
    assert create_model(ModelConfig(name=name), seed=13, n_jobs=2).__class__ is type(configured)
    assert getattr(configured, "random_state", 13) == 13
    assert getattr(configured, "n_jobs", 2) == 2
    params = list(inspect.signature(type(configured).__init__).parameters.values())[1:]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params)
    model = _build(name)
    before = dict(vars(model))
    assert not [a for a in before if a.endswith("_")]
    X, y = _data(1, 300, 2)
    assert model.fit(X, y) is model
    learned = set(vars(model)) - set(before)
    assert learned
    assert all(a.endswith("_") for a in learned)
    assert {k: getattr(model, k) for k in before} == before  # fitting leaves parameters alone


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("name", NAMES)
def test_probabilities_and_held_out_skill(name: str, n_classes: int) -> None:
    model = _fitted(name, n_classes)
    assert isinstance(model, Model)
    X_test, y_test = _data(1, 400, n_classes)
    np.testing.assert_array_equal(model.classes_, np.arange(n_classes, dtype=np.float64))
    proba = model.predict_proba(X_test)
    assert proba.shape == (400, len(model.classes_))
    assert proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    assert ((proba >= 0) & (proba <= 1)).all()
    predicted = model.predict(X_test)
    np.testing.assert_array_equal(predicted, model.classes_[np.argmax(proba, axis=1)])
    assert _auc(y_test, proba) > 0.75


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_probabilities(name: str) -> None:
    X, y = _data(2, 600, 3)
    X_val, y_val = _data(3, 200, 3)
    a = _build(name).fit(X, y, eval_set=(X_val, y_val))
    b = _build(name).fit(X, y, eval_set=(X_val, y_val))
    np.testing.assert_array_equal(a.predict_proba(X_val), b.predict_proba(X_val))


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("name", NAMES)
def test_save_load_round_trip(name: str, n_classes: int, tmp_path: Path) -> None:
    model = _fitted(name, n_classes)
    X_test, _ = _data(4, 200, n_classes)
    model.save(tmp_path / "model")
    restored = type(model).load(tmp_path / "model")
    assert type(restored) is type(model)
    np.testing.assert_array_equal(restored.predict_proba(X_test), model.predict_proba(X_test))
    np.testing.assert_array_equal(restored.classes_, model.classes_)
    assert restored.device == model.device


def test_load_refuses_a_missing_or_foreign_directory(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="No saved model"):
        LightGBMClassifier.load(tmp_path)
    _fitted("logistic", 2).save(tmp_path / "logistic")
    with pytest.raises(DataError, match="not a LightGBMClassifier"):
        LightGBMClassifier.load(tmp_path / "logistic")


@pytest.mark.parametrize("name", NAMES)
def test_nan_features_are_accepted(name: str) -> None:
    X, y = _data(5, 600, 2)
    X_test, y_test = _data(6, 400, 2)
    rng = np.random.default_rng(0)
    X[rng.random(X.shape) < 0.1] = np.nan
    X_test[rng.random(X_test.shape) < 0.1] = np.nan
    X[:, 5] = np.nan  # a feature missing on every training row (e.g. not yet warmed up)
    proba = _build(name).fit(X, y).predict_proba(X_test)
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    assert _auc(y_test, proba) > 0.7


@pytest.mark.parametrize("name", NAMES)
def test_sample_weight_changes_the_fit(name: str) -> None:
    X, y = _data(7, 600, 2)
    weights = np.ones_like(y)
    positives = np.flatnonzero(y == 1)
    weights[positives[: int(0.8 * len(positives))]] = 0.0  # most positives carry no weight
    plain = _build(name).fit(X, y).predict_proba(X)[:, 1].mean()
    weighted = _build(name).fit(X, y, sample_weight=weights).predict_proba(X)[:, 1].mean()
    # About half the rows are positive; dropping 80 % of them leaves a ~17 % positive rate.
    assert weighted < plain - 0.15


@pytest.mark.parametrize("name", NAMES)
def test_bad_sample_weight_is_a_clear_error(name: str) -> None:
    X, y = _data(8, 100, 2)
    with pytest.raises(ValueError, match=r"sample_weight|weight"):
        _build(name).fit(X, y, sample_weight=np.ones(7))


def _early_stops(model: object) -> bool:
    return getattr(model, "early_stopping_rounds", 0) > 0 and (
        getattr(model, "boosting", "gbdt") != "dart"
    )


@pytest.mark.parametrize("name", NAMES)
def test_eval_set_drives_early_stopping_or_is_ignored(name: str) -> None:
    rng = np.random.default_rng(9)
    X, y = rng.normal(size=(600, N_FEATURES)), rng.integers(0, 2, 600).astype(np.float64)
    X_val, y_val = rng.normal(size=(300, N_FEATURES)), rng.integers(0, 2, 300).astype(np.float64)
    config = SMALL.model_copy(
        update={
            "trees": SMALL.trees.model_copy(update={"n_estimators": 150}),
            "deep": SMALL.deep.model_copy(update={"epochs": 150}),
        }
    )
    stopped = _build(name, config).fit(X, y, eval_set=(X_val, y_val))
    free = _build(name, config).fit(X, y)
    if _early_stops(stopped):
        # On pure noise the validation loss stops improving long before 150 rounds.
        assert 1 <= stopped.best_iteration_ < 150  # type: ignore[attr-defined]
        assert free.best_iteration_ == 150  # type: ignore[attr-defined]
        empty = (np.empty((0, N_FEATURES)), np.empty(0))
        assert _build(name, config).fit(X, y, eval_set=empty).best_iteration_ == 150  # type: ignore[attr-defined]
    else:
        np.testing.assert_array_equal(stopped.predict_proba(X_val), free.predict_proba(X_val))


@pytest.mark.parametrize("name", NAMES)
def test_validation_rows_of_an_unseen_class_are_tolerated(name: str) -> None:
    X, y = _data(14, 400, 2)
    X_val, y_val = _data(15, 150, 3)  # class 2 never occurs in training
    model = _build(name).fit(X, y, eval_set=(X_val, y_val))
    assert model.predict_proba(X_val).shape == (150, 2)


@pytest.mark.parametrize("name", NAMES)
def test_runs_on_the_cpu_here(name: str) -> None:
    model = _build(name)
    assert model.device == "cpu"
    assert _fitted(name, 2).device == "cpu"


def test_resolve_device_falls_back_to_the_cpu() -> None:
    assert resolve_device() == "cpu"
    assert resolve_device("cpu", "xgboost") == "cpu"
    assert resolve_device(" AUTO ", "catboost") == "cpu"
    with pytest.warns(RuntimeWarning, match="cannot use a GPU"):
        assert resolve_device("cuda", "torch") == "cpu"
    for library in ("torch", "xgboost", "catboost", "lightgbm", "sklearn", "any"):
        assert not device_module.library_cuda_available(library)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="device must be one of"):
        resolve_device("gpu")
    with pytest.raises(ValueError, match="library must be one of"):
        resolve_device("auto", "jax")  # type: ignore[arg-type]


def test_resolve_device_picks_cuda_when_a_library_can_use_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(device_module, "library_cuda_available", lambda library: True)
    assert resolve_device("auto", "xgboost") == "cuda"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_device("cuda", "xgboost") == "cuda"
    assert resolve_device("cpu", "xgboost") == "cpu"


def test_hidden_devices_mean_no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    for probe in (
        device_module.gpu_visible,
        device_module.torch_cuda_available,
        device_module.xgboost_cuda_available,
        device_module.catboost_gpu_available,
    ):
        probe.cache_clear()
        assert probe() is False
        probe.cache_clear()


# --- LightGBM focal loss (binary) -------------------------------------------------------------


def _focal_reference(y: np.ndarray, z: np.ndarray, gamma: float) -> np.ndarray:
    """Focal loss written from Lin et al. 2017 eq. 5 (alpha = 1), independently of the module."""
    p = 1.0 / (1.0 + np.exp(-z))
    p_true = np.where(y == 1, p, 1.0 - p)
    return -((1.0 - p_true) ** gamma) * np.log(p_true)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
def test_focal_gradient_and_hessian_match_finite_differences(gamma: float) -> None:
    z = np.linspace(-4.0, 4.0, 33)
    for label in (0.0, 1.0):
        y = np.full_like(z, label)
        grad, hess = focal_grad_hess(y, z, gamma)
        h = 1e-4
        numeric_grad = (_focal_reference(y, z + h, gamma) - _focal_reference(y, z - h, gamma)) / (
            2 * h
        )
        numeric_hess = (
            _focal_reference(y, z + h, gamma)
            - 2 * _focal_reference(y, z, gamma)
            + _focal_reference(y, z - h, gamma)
        ) / h**2
        np.testing.assert_allclose(grad, numeric_grad, atol=1e-6)
        np.testing.assert_allclose(hess, numeric_hess, atol=1e-4)


def test_focal_with_gamma_zero_is_the_log_loss() -> None:
    z = np.array([-2.0, -0.3, 0.0, 1.5])
    y = np.array([1.0, 0.0, 1.0, 0.0])
    p = 1.0 / (1.0 + np.exp(-z))
    grad, hess = focal_grad_hess(y, z, 0.0)
    np.testing.assert_allclose(grad, p - y, atol=1e-12)
    np.testing.assert_allclose(hess, p * (1 - p), atol=1e-12)


def test_focal_lightgbm_learns_and_round_trips(tmp_path: Path) -> None:
    X, y = _data(10, 600, 2)
    X_val, y_val = _data(11, 300, 2)
    X_test, y_test = _data(12, 400, 2)
    params = {"n_estimators": 150, "learning_rate": 0.1, "num_leaves": 7}
    model = LightGBMClassifier(**params, min_child_samples=10, focal_gamma=2.0, random_state=1)  # type: ignore[arg-type]
    model.fit(X, y, eval_set=(X_val, y_val))
    assert 1 <= model.best_iteration_ < 150
    proba = model.predict_proba(X_test)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    assert _auc(y_test, proba) > 0.8
    model.save(tmp_path)
    np.testing.assert_array_equal(LightGBMClassifier.load(tmp_path).predict_proba(X_test), proba)
    with pytest.raises(ValueError, match="binary labels only"):
        LightGBMClassifier(focal_gamma=2.0).fit(*_data(13, 300, 3))
    with pytest.raises(ValueError, match="focal_gamma must be >= 0"):
        LightGBMClassifier(focal_gamma=-1.0).fit(X, y)


def test_focal_down_weights_easy_rows() -> None:
    # Focal gamma > 0 shrinks the loss of confidently right rows far more than of wrong ones.
    y = np.array([1.0, 1.0])
    z = np.array([3.0, -3.0])  # p(true) = sigmoid(3) = 0.9525741268 and 0.0474258732
    ratio = _focal_reference(y, z, 2.0) / _focal_reference(y, z, 0.0)
    np.testing.assert_allclose(ratio, [0.0474258732**2, 0.9525741268**2], rtol=1e-8)


def test_svm_calibration_needs_two_rows_per_class() -> None:
    X, y = _data(16, 200, 2)
    y[0] = 2.0  # a class with a single training row cannot be calibrated by CV
    with pytest.raises(ValueError, match="at least 2 training rows of every class"):
        SVMModel().fit(X, y)


def test_factories_read_the_shared_model_settings() -> None:
    from alphaforge.config.models import ModelConfig
    from alphaforge.models import create_model

    config = ModelConfig.model_validate(
        {
            "linear": {"regularization": 0.25},
            "trees": {"focal_gamma": 2.0},
            "device": "cpu",
            "deep": {"hidden_size": 8},
        }
    )
    assert create_model(config.model_copy(update={"name": "logistic"}), seed=0).C == 0.25  # type: ignore[attr-defined]
    assert create_model(config.model_copy(update={"name": "svm"}), seed=0).C == 0.25  # type: ignore[attr-defined]
    assert create_model(config, seed=0).focal_gamma == 2.0  # type: ignore[attr-defined]
    assert create_model(config.model_copy(update={"name": "xgboost"}), seed=0).device == "cpu"  # type: ignore[attr-defined]
    deep = config.model_copy(
        update={
            "deep": config.deep.model_copy(
                update={"lookback": 7, "epochs": 11, "learning_rate": 0.005, "batch_size": 32}
            )
        }
    )
    gru = create_model(deep.model_copy(update={"name": "gru"}), seed=0)
    assert gru.hidden_size == 8  # type: ignore[attr-defined]
    assert gru.device == "cpu"  # type: ignore[attr-defined]
    assert gru.lookback == 7  # type: ignore[attr-defined]
    assert gru.max_epochs == 11  # type: ignore[attr-defined]
    assert gru.learning_rate == 0.005  # type: ignore[attr-defined]
    assert gru.batch_size == 32  # type: ignore[attr-defined]
