"""Sequence models: windows end at t, every architecture trains on CPU, the contract holds."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from alphaforge.config import ModelConfig
from alphaforge.models import create_model
from alphaforge.models import device as device_module
from alphaforge.models.base import MODELS, Classifier, Model
from alphaforge.models.deep import SEQUENCE_MODELS, gather_windows, trailing_positions
from alphaforge.models.deep.model import SequenceModel
from alphaforge.models.deep.networks import (
    ARCHITECTURES,
    NetworkSpec,
    SequenceNetwork,
    sinusoidal_encoding,
)
from alphaforge.models.deep.trainer import Scaler

TINY = {
    "hidden_size": 8,
    "num_layers": 1,
    "num_heads": 2,
    "kernel_sizes": (2, 3),
    "dropout": 0.1,
    "batch_size": 64,
    "max_epochs": 3,
    "early_stopping_rounds": 2,
    "device": "cpu",
    "random_state": 0,
    "n_jobs": 1,
}


def _noise(seed: int, n: int = 200, lookback: int = 4, f: int = 3) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, lookback, f)).astype(np.float32)
    y = rng.integers(0, 2, n).astype(np.float64)
    return X, y


# ------------------------------------------------------------------------------------ windows


def test_windows_match_a_hand_built_example() -> None:
    # Two interleaved symbols; rows in time order within each symbol.
    values = np.arange(14, dtype=np.float64).reshape(7, 2)
    groups = np.array(["a", "b", "a", "b", "a", "a", "b"])
    positions = trailing_positions(groups, 3)
    windows = gather_windows(values, positions)
    assert windows.shape == (7, 3, 2)
    np.testing.assert_array_equal(windows[4], values[[0, 2, 4]])
    np.testing.assert_array_equal(windows[5], values[[2, 4, 5]])
    np.testing.assert_array_equal(windows[6], values[[1, 3, 6]])
    # Before a symbol's third bar the window is NaN-padded at the front.
    assert np.isnan(windows[3, 0]).all()
    np.testing.assert_array_equal(windows[3, 1:], values[[1, 3]])
    # Chosen rows and columns, in the order asked for.
    picked = gather_windows(values, positions, rows=[6, 4], columns=[1, 0])
    np.testing.assert_array_equal(picked[0], values[[1, 3, 6]][:, [1, 0]])
    np.testing.assert_array_equal(picked[1], values[[0, 2, 4]][:, [1, 0]])
    with pytest.raises(ValueError, match="2-D"):
        gather_windows(values[:, 0], positions)


# ----------------------------------------------------------------------------------- networks


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_every_network_maps_windows_to_task_logits(architecture: str) -> None:
    spec = NetworkSpec(
        architecture,
        n_features=3,
        n_classes=3,
        n_tasks=4,
        hidden_size=8,
        num_heads=2,
        kernel_sizes=(3, 5, 7),
    )
    torch.manual_seed(0)
    network = SequenceNetwork(spec).eval()
    logits = network(torch.randn(5, 7, 3))
    assert logits.shape == (5, 4, 3)
    assert torch.isfinite(logits).all()


def test_sinusoidal_encoding_matches_the_formula() -> None:
    code = sinusoidal_encoding(5, 6, torch.device("cpu")).numpy()
    position, i = 3, 2  # columns 2i and 2i+1 use the frequency 10000 ** (-2i / width)
    angle = position / 10000 ** (2 * i / 6)
    np.testing.assert_allclose(code[position, 2 * i], np.sin(angle), rtol=1e-6)
    np.testing.assert_allclose(code[position, 2 * i + 1], np.cos(angle), rtol=1e-6)


def test_bad_specifications_are_refused() -> None:
    with pytest.raises(ValueError, match="divide"):
        NetworkSpec("transformer", 3, 2, hidden_size=6, num_heads=4).check()
    with pytest.raises(ValueError, match="Unknown architecture"):
        SequenceModel(architecture="lstn").fit(*_noise(0))


# ------------------------------------------------------------------------------ SequenceModel


def test_init_is_keyword_only_and_stores_params_unchanged() -> None:
    params = [
        p for p in inspect.signature(SequenceModel.__init__).parameters.values() if p.name != "self"
    ]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params)
    model = SequenceModel(architecture="tcn", **TINY)  # type: ignore[arg-type]
    assert model.get_params() == {
        "architecture": "tcn",
        **{p.name: p.default for p in params if p.name not in TINY and p.name != "architecture"},
        **TINY,
    }
    assert not [a for a in vars(model) if a.endswith("_")]


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_every_architecture_trains_and_predicts_on_cpu(architecture: str) -> None:
    X, _ = _noise(1, n=240, lookback=6)
    y = np.random.default_rng(2).integers(0, 3, 240).astype(np.float64)  # three classes
    model = SequenceModel(architecture=architecture, **TINY)  # type: ignore[arg-type]
    before = dict(vars(model))
    assert model.fit(X[:180], y[:180], eval_set=(X[180:], y[180:])) is model
    assert {a for a in vars(model) if a not in before} >= {
        "network_",
        "classes_",
        "best_iteration_",
    }
    assert all(a.endswith("_") for a in vars(model) if a not in before)
    assert isinstance(model, Model)
    np.testing.assert_array_equal(model.classes_, [0.0, 1.0, 2.0])
    proba = model.predict_proba(X[180:])
    assert proba.shape == (60, 3)
    assert proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    assert ((proba > 0) & (proba < 1)).all()
    np.testing.assert_array_equal(model.predict(X[180:]), np.argmax(proba, axis=1))
    assert model.device == "cpu"
    assert 1 <= model.best_iteration_ <= model.n_epochs_ <= 3


def _planted(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Label = sign of feature 0 two bars before t, in windows over one random series."""
    rng = np.random.default_rng(seed)
    series = rng.normal(size=(n + 4, 2))
    windows = gather_windows(series, trailing_positions(np.zeros(n + 4), 5))[4:]
    return windows, (windows[:, -3, 0] > 0).astype(np.float64)


@pytest.mark.parametrize("architecture", ["gru", "lstm_attention"])
def test_learns_the_sign_two_bars_back(architecture: str) -> None:
    X, y = _planted(0, 800)
    params = {
        **TINY,
        "hidden_size": 16,
        "dropout": 0.0,
        "max_epochs": 15,
        "restart_epochs": 15,
        "learning_rate": 1e-2,
        "batch_size": 32,
    }
    model = SequenceModel(architecture=architecture, **params).fit(X[:600], y[:600])  # type: ignore[arg-type]
    accuracy = (model.predict(X[600:]) == y[600:]).mean()
    # Chance is about 0.5 (the label is a fair coin); the rule is exact.
    assert accuracy > 0.85


def test_same_seed_same_predictions_other_seed_differs() -> None:
    X, y = _noise(3)
    a = SequenceModel(architecture="cnn_lstm", **TINY).fit(X, y)  # type: ignore[arg-type]
    b = SequenceModel(architecture="cnn_lstm", **TINY).fit(X, y)  # type: ignore[arg-type]
    c = SequenceModel(architecture="cnn_lstm", **{**TINY, "random_state": 1}).fit(X, y)  # type: ignore[arg-type]
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert not np.array_equal(a.predict_proba(X), c.predict_proba(X))
    # Fitting leaves torch's global RNG where it was.
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    SequenceModel(architecture="gru", **TINY).fit(X, y)  # type: ignore[arg-type]
    torch.testing.assert_close(torch.rand(3), expected)


def test_save_and_load_give_identical_outputs(tmp_path: Path) -> None:
    X, y = _noise(4)
    model = SequenceModel(architecture="lstm_attention", **TINY).fit(X, y)  # type: ignore[arg-type]
    model.save(tmp_path / "m")
    assert json.loads((tmp_path / "m" / "config.json").read_text())["params"]["architecture"] == (
        "lstm_attention"
    )
    loaded = SequenceModel.load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(loaded.classes_, model.classes_)
    assert loaded.get_params() == model.get_params()
    assert loaded.best_iteration_ == model.best_iteration_


def test_early_stopping_on_noise_stops_early_and_restores_the_best_epoch() -> None:
    X, y = _noise(5, n=300)
    Xv, yv = _noise(6, n=150)
    params = {
        **TINY,
        "max_epochs": 40,
        "early_stopping_rounds": 2,
        "learning_rate": 3e-2,
        "dropout": 0.0,
    }
    model = SequenceModel(architecture="gru", **params).fit(X, y, eval_set=(Xv, yv))  # type: ignore[arg-type]
    losses = model.history_["val_loss"]
    assert model.n_epochs_ < 40
    assert len(losses) == model.n_epochs_
    assert model.best_iteration_ == int(np.argmin(losses)) + 1
    assert (
        model.n_epochs_ == model.best_iteration_ + 2
    )  # stopped after early_stopping_rounds worse epochs
    # The kept weights are the best epoch's: their validation log loss is the recorded minimum.
    proba = model.predict_proba(Xv)
    log_loss = -np.mean(np.log(proba[np.arange(len(yv)), yv.astype(int)]))
    assert log_loss == pytest.approx(min(losses), rel=1e-5)
    assert log_loss < losses[-1]


def test_scaler_uses_training_rows_only_and_imputes_medians() -> None:
    X, y = _noise(7)
    X[::5, -1, 1] = np.nan
    shifted = X[:50] * 10 + 100
    model = SequenceModel(architecture="gru", **TINY).fit(X, y, eval_set=(shifted, y[:50]))  # type: ignore[arg-type]
    last = X[:, -1, :].astype(np.float64)
    median = np.nanmedian(last, axis=0)
    filled = np.where(np.isnan(last), median, last)
    np.testing.assert_allclose(model.scaler_.median, median, rtol=1e-6)
    np.testing.assert_allclose(model.scaler_.mean, filled.mean(axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.scaler_.scale, filled.std(axis=0), rtol=1e-5)
    assert np.isfinite(model.predict_proba(X)).all()
    scaled = Scaler.fit(np.array([[1.0, 5.0], [3.0, 5.0], [np.nan, 5.0]])).transform(
        np.array([[np.nan, 5.0]])
    )
    # Median 2 imputed, then standardised by mean 2 and std sqrt(2/3); a constant column -> 0.
    np.testing.assert_allclose(scaled, [[0.0, 0.0]], atol=1e-7)


def test_weights_shift_the_predicted_class_rate() -> None:
    X, y = _noise(8, n=300)
    y = np.where(np.arange(300) < 60, 1.0, 0.0)  # 20 % positives, unrelated to X
    base = {**TINY, "max_epochs": 5, "learning_rate": 1e-2}
    plain = SequenceModel(architecture="gru", **base).fit(X, y)  # type: ignore[arg-type]
    balanced = SequenceModel(architecture="gru", **base, class_weight="balanced").fit(X, y)  # type: ignore[arg-type]
    weighted = SequenceModel(architecture="gru", **base).fit(
        X, y, sample_weight=np.where(y == 1, 4.0, 1.0)
    )  # type: ignore[arg-type]
    p_plain = plain.predict_proba(X)[:, 1].mean()
    assert p_plain < 0.35
    assert balanced.predict_proba(X)[:, 1].mean() > 0.4
    assert weighted.predict_proba(X)[:, 1].mean() > 0.4


def test_multi_task_head_predicts_every_horizon() -> None:
    X, _ = _noise(9, n=160)
    rng = np.random.default_rng(10)
    y = rng.integers(0, 3, size=(160, 4)).astype(np.float64)  # 1/5/10/21-bar labels
    y[-21:, 3] = np.nan  # the longest label is not known yet for the last rows
    model = SequenceModel(architecture="transformer", **TINY).fit(X, y, eval_set=(X[:40], y[:40]))  # type: ignore[arg-type]
    tasks = model.predict_proba_tasks(X[:7])
    assert tasks.shape == (7, 4, 3)
    np.testing.assert_allclose(tasks.sum(axis=2), 1.0, atol=1e-12)
    np.testing.assert_array_equal(model.predict_proba(X[:7]), tasks[:, 0, :])


def test_two_d_rows_are_flattened_windows() -> None:
    X, y = _noise(11, lookback=4, f=3)
    flat = X.reshape(len(X), -1)  # each window flattened, oldest bar first
    three_d = SequenceModel(architecture="gru", **TINY).fit(X, y)  # type: ignore[arg-type]
    two_d = SequenceModel(architecture="gru", lookback=4, **TINY).fit(flat, y)  # type: ignore[arg-type]
    np.testing.assert_array_equal(three_d.predict_proba(X), two_d.predict_proba(flat))
    # lookback=1: a plain matrix is a batch of length-1 sequences.
    rows = SequenceModel(architecture="tcn", **TINY).fit(X[:, -1, :].astype(np.float64), y)  # type: ignore[arg-type]
    assert rows.lookback_ == 1
    assert rows.predict_proba(X[:5, -1, :]).shape == (5, 2)
    with pytest.raises(ValueError, match="lookback=5"):
        SequenceModel(architecture="gru", lookback=5, **TINY).fit(flat, y)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="features per bar"):
        three_d.predict_proba(X[:, :, :2])


def test_cuda_requested_without_a_gpu_falls_back_to_the_cpu_with_a_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Pretend torch has no GPU, so the fallback is exercised on GPU machines as well.
    monkeypatch.setattr(device_module, "library_cuda_available", lambda library: False)
    X, y = _noise(12, n=80)
    with pytest.warns(RuntimeWarning, match="cannot use a GPU"):
        model = SequenceModel(architecture="gru", **{**TINY, "device": "cuda"})  # type: ignore[arg-type]
    assert model.device == "cpu"
    model.fit(X, y)
    assert next(model.network_.parameters()).device == torch.device("cpu")
    assert model.predict_proba(X).shape == (80, 2)
    assert SequenceModel(device="auto").device == "cpu"
    with pytest.raises(ValueError, match="device"):
        SequenceModel(device="tpu")


def test_no_early_stopping_rounds_ignores_the_eval_set() -> None:
    X, y = _noise(14, n=150)
    Xv, yv = _noise(15, n=60)
    params = {**TINY, "early_stopping_rounds": 0, "max_epochs": 4}
    with_eval = SequenceModel(architecture="tcn", **params).fit(X, y, eval_set=(Xv, yv))  # type: ignore[arg-type]
    without = SequenceModel(architecture="tcn", **params).fit(X, y)  # type: ignore[arg-type]
    np.testing.assert_array_equal(with_eval.predict_proba(Xv), without.predict_proba(Xv))
    assert with_eval.best_iteration_ == with_eval.n_epochs_ == 4


def test_bad_labels_and_weights_are_refused() -> None:
    X, y = _noise(13, n=50)
    model = SequenceModel(architecture="gru", **TINY)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="class codes"):
        model.fit(X, y - 0.5)
    with pytest.raises(ValueError, match="no known label"):
        model.fit(X, np.full(50, np.nan))
    with pytest.raises(ValueError, match="sample_weight"):
        model.fit(X, y, sample_weight=-np.ones(50))
    with pytest.raises(ValueError, match="rows"):
        model.fit(X, y[:10])
    with pytest.raises(ValueError, match="max_epochs"):
        SequenceModel(architecture="gru", **{**TINY, "max_epochs": 0}).fit(X, y)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------- registry


def test_registry_builds_every_architecture_from_config() -> None:
    assert set(SEQUENCE_MODELS) == set(ARCHITECTURES)
    for name in SEQUENCE_MODELS:
        assert name in MODELS
        model = create_model(ModelConfig(name=name), seed=7, n_jobs=1)
        assert isinstance(model, SequenceModel)
        assert isinstance(model, Classifier)
        assert model.architecture == name
        assert model.random_state == 7


def test_importing_the_package_does_not_import_torch_and_names_the_extra() -> None:
    code = (
        "import sys\n"
        "class NoTorch:  # behave as if torch were not installed\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'torch':\n"
        "            raise ImportError('No module named torch')\n"
        "sys.meta_path.insert(0, NoTorch())\n"
        "import alphaforge.models.deep\n"
        "assert 'torch' not in sys.modules\n"
        "from alphaforge.config import ModelConfig\n"
        "from alphaforge.core.errors import ConfigError\n"
        "from alphaforge.models.base import create_model\n"
        "try:\n"
        "    create_model(ModelConfig(name='gru'), seed=0)\n"
        "except ConfigError as error:\n"
        "    print(error.one_line())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert "pip install 'alphaforge[deep]'" in result.stdout
