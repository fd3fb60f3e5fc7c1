"""The estimator protocol every model follows, and the model registry.

Models follow scikit-learn's conventions: hyperparameters are stored by a keyword-only
``__init__`` with no logic, ``fit`` returns ``self``, learned attributes end in ``_``, and every
model takes an explicit ``random_state``. ``eval_set`` carries the validation block for early
stopping; it must never contain test rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, Self, runtime_checkable

import numpy as np
import numpy.typing as npt

from alphaforge.config.models import ModelConfig
from alphaforge.core.registry import Registry

Matrix = npt.NDArray[np.float64]
Vector = npt.NDArray[np.float64]


@runtime_checkable
class Classifier(Protocol):
    """A binary or multi-class probabilistic classifier."""

    def fit(
        self,
        X: Matrix,
        y: Vector,
        *,
        sample_weight: Vector | None = None,
        eval_set: tuple[Matrix, Vector] | None = None,
    ) -> Self: ...

    def predict_proba(self, X: Matrix) -> Matrix: ...


ModelFactory = Callable[[ModelConfig, int, int], Classifier]
"""Build a model from its configuration, a seed and a thread count."""

#: Every model, by name.
MODELS: Registry[ModelFactory] = Registry("model")


def create_model(config: ModelConfig, *, seed: int, n_jobs: int = 1) -> Classifier:
    """Return an unfitted model of the configured kind."""
    return MODELS.get(config.name)(config, seed, n_jobs)
