"""Causal features: pure trailing-window kernels registered by name.

Importing this package registers the built-in features. ``compute(bars, names)`` is the
entry point; see :mod:`alphaforge.features.registry` for the contract.
"""

from alphaforge.features import library as _library  # registers the built-in features
from alphaforge.features.registry import (
    CATEGORIES,
    FEATURES,
    BarArrays,
    FeatureSpec,
    compute,
    feature_set_version,
    register,
    scale_free_names,
)

__all__ = [
    "CATEGORIES",
    "FEATURES",
    "BarArrays",
    "FeatureSpec",
    "compute",
    "feature_set_version",
    "register",
    "scale_free_names",
]

del _library
