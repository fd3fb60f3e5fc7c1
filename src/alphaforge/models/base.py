"""The estimator protocol every model follows, and the model registry.

Models follow scikit-learn's conventions: hyperparameters are stored by a keyword-only
``__init__`` with no logic, ``fit`` returns ``self``, learned attributes end in ``_``, and every
model takes an explicit ``random_state``. ``eval_set`` carries the validation block for early
stopping; it must never contain test rows.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol, Self, runtime_checkable

import numpy as np
import numpy.typing as npt

from alphaforge.config.models import ModelConfig
from alphaforge.core.registry import Registry

Matrix = npt.NDArray[np.float64]
Vector = npt.NDArray[np.float64]


@runtime_checkable
class Classifier(Protocol):
    """A binary or multi-class probabilistic classifier (the minimum the walk-forward needs)."""

    def fit(
        self,
        X: Matrix,
        y: Vector,
        *,
        sample_weight: Vector | None = None,
        eval_set: tuple[Matrix, Vector] | None = None,
    ) -> Self: ...

    def predict_proba(self, X: Matrix) -> Matrix: ...


@runtime_checkable
class Model(Classifier, Protocol):
    """The full model interface every registered model implements.

    ``fit`` takes the training rows, optional per-row ``sample_weight`` and an optional
    ``eval_set`` (the validation block, for early stopping; never test rows). Labels are class
    codes ``0..K-1`` as floats; ``classes_`` holds the codes seen in training.
    ``predict_proba`` returns one column per class in ``classes_`` order; ``predict`` the most
    probable class. ``device`` is ``"cpu"`` or ``"cuda"``: the model uses the GPU when asked
    (``device="auto"`` at construction picks CUDA when present) and falls back to the CPU
    when it is not. ``save`` writes everything needed to predict to one directory;
    ``load`` restores it.
    """

    classes_: Vector
    device: str

    def predict(self, X: Matrix) -> Vector: ...

    def save(self, directory: Path) -> None: ...

    @classmethod
    def load(cls, directory: Path) -> Self: ...


ModelFactory = Callable[[ModelConfig, int, int], Classifier]
"""Build a model from its configuration, a seed and a thread count."""

#: Every model, by name.
MODELS: Registry[ModelFactory] = Registry("model")


def create_model(config: ModelConfig, *, seed: int, n_jobs: int = 1) -> Classifier:
    """Return an unfitted model of the configured kind."""
    return MODELS.get(config.name)(config, seed, n_jobs)
