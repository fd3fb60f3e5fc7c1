"""The model registry: versioned artifacts, feature-set checks, promotions, crash safety."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Self

import numpy as np
import pandas as pd
import pytest

from alphaforge.core import AlphaForgeError
from alphaforge.features import feature_set_version
from alphaforge.models import LightGBMClassifier
from alphaforge.models import registry_store as rs
from alphaforge.models.registry_store import ModelRegistry, ModelRegistryError

FEATURES = ["f_a", "f_b", "f_c"]
FSET = "test-fset-1"
REPO = Path(__file__).resolve().parents[3]


class LinearDummy:
    """A tiny model: a weight vector saved as .npy."""

    def __init__(self, *, weights: list[float] | None = None) -> None:
        self.weights = weights

    def fit(self, X: np.ndarray, y: np.ndarray) -> Self:
        self.coef_ = np.linalg.lstsq(X, y, rcond=None)[0]
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X @ self.coef_)

    def save(self, directory: Path) -> None:
        np.save(directory / "coef.npy", self.coef_)

    @classmethod
    def load(cls, directory: Path) -> Self:
        model = cls()
        model.coef_ = np.load(directory / "coef.npy")
        return model


class ExplodingDummy(LinearDummy):
    """Writes part of its artifact, then fails (a crash inside ``save``)."""

    def save(self, directory: Path) -> None:
        (directory / "part.bin").write_bytes(b"half")
        raise OSError("disk full")


def _fitted(seed: int) -> LinearDummy:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(50, 3))
    return LinearDummy().fit(X, X @ np.array([1.0, -2.0, 0.5]) + rng.normal(size=50) * 0.1)


def _register(
    registry: ModelRegistry, model: object, name: str = "alpha", **changes: object
) -> rs.ModelVersion:
    kwargs: dict[str, object] = {
        "name": name,
        "feature_names": FEATURES,
        "feature_set_version": FSET,
        "data_start": "2020-01-02",
        "data_end": pd.Timestamp("2023-12-29 05:00", tz="America/New_York"),
        "symbols": ["AAA", "BBB"],
        "label": "updown_5 (next open to open +5)",
        "splitter": "PurgedWalkForward(train=252, test=21, embargo=5)",
        "metrics": {"auc": 0.55, "log_loss": 0.69},
        "seed": 7,
        "code_version": "abc1234",
        "config": {"n_estimators": 10, "nested": {"lr": 0.1}},
    }
    kwargs.update(changes)
    return registry.register(model, **kwargs)  # type: ignore[arg-type]


def test_register_get_load_round_trip(tmp_path: Path) -> None:
    model = _fitted(0)
    with ModelRegistry(tmp_path / "reg") as registry:
        info = _register(registry, model)
        assert (info.name, info.version, info.stage, info.kind) == (
            "alpha",
            1,
            "candidate",
            "LinearDummy",
        )
        got = registry.get("alpha", 1)
        assert got == info
        assert got.feature_names == tuple(FEATURES)
        assert got.feature_set_version == FSET
        assert got.data_start == pd.Timestamp("2020-01-02", tz="UTC")
        assert got.data_end == pd.Timestamp("2023-12-29 10:00", tz="UTC")  # converted to UTC
        assert got.symbols == ("AAA", "BBB")
        assert got.metrics == {"auc": 0.55, "log_loss": 0.69}
        assert got.config == {"n_estimators": 10, "nested": {"lr": 0.1}}
        assert (got.seed, got.code_version) == (7, "abc1234")
        assert got.created_at.tzinfo is not None
        assert got.class_path.endswith(":LinearDummy")
        assert registry.list() == [info]

        # The artifact directory holds the model's files and the metadata.
        on_disk = json.loads((info.path / "metadata.json").read_text())
        assert on_disk == info.to_dict()
        assert (info.path / "coef.npy").is_file()

        loaded = registry.load(
            "alpha", 1, expected_features=FEATURES, expected_feature_set_version=FSET
        )
        X = np.random.default_rng(1).normal(size=(5, 3))
        assert isinstance(loaded, LinearDummy)
        np.testing.assert_array_equal(loaded.predict(X), model.predict(X))

    # A fresh registry object on the same root reads the same index (the files are the truth).
    with ModelRegistry(tmp_path / "reg") as again:
        assert again.get("alpha") == info


def test_index_uses_wal_journal(tmp_path: Path) -> None:
    with ModelRegistry(tmp_path) as registry:
        _register(registry, _fitted(0))
    connection = sqlite3.connect(tmp_path / "registry.sqlite")
    try:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        connection.close()


def test_versions_increase_per_name(tmp_path: Path) -> None:
    with ModelRegistry(tmp_path) as registry:
        versions = [_register(registry, _fitted(i)).version for i in range(3)]
        other = _register(registry, _fitted(9), name="beta").version
        assert versions == [1, 2, 3]
        assert other == 1
        assert registry.get("alpha").version == 3  # latest by default
        assert [v.version for v in registry.list("alpha")] == [1, 2, 3]
        assert [(v.name, v.version) for v in registry.list()] == [
            ("alpha", 1),
            ("alpha", 2),
            ("alpha", 3),
            ("beta", 1),
        ]
        with pytest.raises(ModelRegistryError, match="no version 4"):
            registry.get("alpha", 4)
        with pytest.raises(ModelRegistryError, match="no any version"):
            registry.get("gamma")


@pytest.mark.parametrize(
    ("features", "fset", "match"),
    [
        (["f_a", "f_b"], FSET, "missing"),
        (["f_a", "f_b", "f_c", "f_d"], FSET, "unexpected"),
        (["f_b", "f_a", "f_c"], FSET, "different order"),
        (FEATURES, "test-fset-2", "feature-set version"),
    ],
)
def test_load_refuses_a_different_feature_set(
    tmp_path: Path, features: list[str], fset: str, match: str
) -> None:
    with ModelRegistry(tmp_path) as registry:
        _register(registry, _fitted(0))
        with pytest.raises(ModelRegistryError, match=match) as caught:
            registry.load("alpha", 1, expected_features=features, expected_feature_set_version=fset)
        assert isinstance(caught.value, AlphaForgeError)
        assert caught.value.hint


def test_feature_set_version_defaults_to_the_feature_registry(tmp_path: Path) -> None:
    names = ["dow_sin", "dow_cos"]
    with ModelRegistry(tmp_path) as registry:
        info = _register(registry, _fitted(0), feature_names=names, feature_set_version=None)
        assert info.feature_set_version == feature_set_version(names)
        # The default check recomputes the version from the live feature registry.
        assert isinstance(registry.load("alpha", expected_features=names), LinearDummy)
        with pytest.raises(ModelRegistryError, match="Unknown feature"):
            _register(
                registry, _fitted(0), feature_names=["no_such_feature"], feature_set_version=None
            )


def test_bad_inputs_raise_clear_errors(tmp_path: Path) -> None:
    with ModelRegistry(tmp_path) as registry:
        with pytest.raises(ModelRegistryError, match="name"):
            _register(registry, _fitted(0), name="../escape")
        with pytest.raises(ModelRegistryError, match="before data_start"):
            _register(registry, _fitted(0), data_start="2024-01-01", data_end="2023-01-01")
        with pytest.raises(ModelRegistryError, match="JSON"):
            _register(registry, _fitted(0), config={"bad": object()})
        with pytest.raises(ModelRegistryError, match="unique"):
            _register(registry, _fitted(0), feature_names=["x", "x"])
        assert registry.list() == []


def test_promotion_records_every_decision(tmp_path: Path) -> None:
    with ModelRegistry(tmp_path) as registry:
        for i in range(3):
            _register(registry, _fitted(i))
        with pytest.raises(ModelRegistryError, match="no version champion"):
            registry.get("alpha", "champion")
        first = registry.promote("alpha", 1, reason="initial", numbers={"p_value": None})
        assert (first.promoted, first.previous_champion) == (True, None)
        second = registry.promote("alpha", 2, reason="won", numbers={"p_value": 0.01, "n": 250})
        assert (second.previous_champion, second.numbers) == (1, {"p_value": 0.01, "n": 250})
        refused = registry.promote(
            "alpha", 3, reason="lost", numbers={"p_value": 0.4}, promoted=False
        )
        assert (refused.promoted, refused.previous_champion) == (False, 2)

        stages = {v.version: v.stage for v in registry.list("alpha")}
        assert stages == {1: "retired", 2: "champion", 3: "candidate"}
        assert registry.get("alpha", "champion").version == 2
        decisions = registry.decisions("alpha")
        assert [(d.version, d.promoted, d.reason) for d in decisions] == [
            (1, True, "initial"),
            (2, True, "won"),
            (3, False, "lost"),
        ]
        assert decisions[2].numbers == {"p_value": 0.4}
        assert all(d.decided_at.tzinfo is not None for d in decisions)
        # metadata.json follows the index.
        assert (
            json.loads((registry.get("alpha", 1).path / "metadata.json").read_text())["stage"]
            == "retired"
        )
        loaded = registry.load(
            "alpha", "champion", expected_features=FEATURES, expected_feature_set_version=FSET
        )
        assert isinstance(loaded, LinearDummy)
        with pytest.raises(ModelRegistryError):
            registry.promote("alpha", 9, reason="no such version")
        assert len(registry.decisions()) == 3


def _artifact_entries(root: Path, name: str = "alpha") -> list[str]:
    directory = root / "artifacts" / name
    return sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []


def test_failure_inside_save_leaves_nothing_half_registered(tmp_path: Path) -> None:
    with ModelRegistry(tmp_path) as registry:
        _register(registry, _fitted(0))
        with pytest.raises(OSError, match="disk full"):
            _register(registry, ExplodingDummy().fit(np.eye(3), np.ones(3)))
        assert [v.version for v in registry.list()] == [1]
        assert _artifact_entries(tmp_path) == ["v1"]
        assert _register(registry, _fitted(1)).version == 2


def test_failure_after_the_rename_rolls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def rename_then_fail(staging: Path, final: Path) -> None:
        os.replace(staging, final)
        raise KeyboardInterrupt  # interrupted between the rename and the commit

    with ModelRegistry(tmp_path) as registry:
        _register(registry, _fitted(0))
        monkeypatch.setattr(rs, "_move_into_place", rename_then_fail)
        with pytest.raises(KeyboardInterrupt):
            _register(registry, _fitted(1))
        monkeypatch.undo()
        assert [v.version for v in registry.list()] == [1]
        assert _artifact_entries(tmp_path) == ["v1"]


_CRASH_SCRIPT = """
import os, sys
from pathlib import Path
import numpy as np
from alphaforge.models import registry_store as rs

class Model:
    def save(self, directory):
        np.save(Path(directory) / "coef.npy", np.full(3, 99.0))
    @classmethod
    def load(cls, directory):
        return cls()

def rename_then_die(staging, final):
    os.replace(staging, final)
    os._exit(17)  # a hard kill: no handler, no rollback, no cleanup

rs._move_into_place = rename_then_die
rs.ModelRegistry(sys.argv[1]).register(
    Model(), name="alpha", feature_names=["f_a", "f_b", "f_c"],
    feature_set_version="test-fset-1", data_start="2020-01-01", data_end="2020-06-01",
    symbols=["AAA"], label="l", splitter="s", metrics={}, seed=0, code_version="x")
"""


def _check_recovers(root: Path, first: rs.ModelVersion) -> None:
    with ModelRegistry(root) as registry:
        assert registry.list() == [first]
        assert registry.get("alpha") == first
        # The next writer sweeps the debris and reuses the number.
        second = _register(registry, _fitted(1))
        assert second.version == 2
        assert _artifact_entries(root) == ["v1", "v2"]
        loaded = registry.load(
            "alpha", 2, expected_features=FEATURES, expected_feature_set_version=FSET
        )
        np.testing.assert_array_equal(loaded.coef_, _fitted(1).coef_)


def test_hard_kill_between_rename_and_commit_leaves_the_registry_consistent(
    tmp_path: Path,
) -> None:
    with ModelRegistry(tmp_path) as registry:
        first = _register(registry, _fitted(0))
    script = tmp_path / "crash.py"
    script.write_text(textwrap.dedent(_CRASH_SCRIPT))
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    result = subprocess.run(
        [sys.executable, str(script), str(tmp_path)], env=env, capture_output=True, check=False
    )
    assert result.returncode == 17, result.stderr.decode()
    # The killed writer left a complete-looking v2 on disk, but the index never saw it.
    assert _artifact_entries(tmp_path) == ["v1", "v2"]
    assert (tmp_path / "artifacts" / "alpha" / "v2" / "coef.npy").is_file()
    _check_recovers(tmp_path, first)


def test_debris_of_a_killed_save_is_swept(tmp_path: Path) -> None:
    # What a writer killed inside ``save`` leaves: a staging directory with part of a model.
    with ModelRegistry(tmp_path) as registry:
        first = _register(registry, _fitted(0))
    staging = tmp_path / "artifacts" / "alpha" / ".staging-0123abcd"
    staging.mkdir()
    (staging / "part.bin").write_bytes(b"half")
    assert _artifact_entries(tmp_path) == [".staging-0123abcd", "v1"]
    _check_recovers(tmp_path, first)


def test_unimportable_class_is_a_clear_error(tmp_path: Path) -> None:
    with ModelRegistry(tmp_path) as registry:
        info = _register(registry, _fitted(0))
    with sqlite3.connect(tmp_path / "registry.sqlite") as connection:
        connection.execute("UPDATE model_versions SET class_path = 'nowhere.module:Gone'")
    connection.close()
    with ModelRegistry(tmp_path) as registry, pytest.raises(ModelRegistryError, match="import"):
        registry.load(
            "alpha", info.version, expected_features=FEATURES, expected_feature_set_version=FSET
        )


def test_real_lightgbm_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = (X[:, 0] > 0).astype(np.float64)
    model = LightGBMClassifier(n_estimators=10, min_child_samples=10, random_state=0).fit(X, y)
    with ModelRegistry(tmp_path) as registry:
        info = _register(registry, model, name="lgbm")
        assert info.kind == "LightGBMClassifier"
        loaded = registry.load(
            "lgbm", expected_features=FEATURES, expected_feature_set_version=FSET
        )
        np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X))
