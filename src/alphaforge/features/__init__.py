"""Causal features: pure trailing-window kernels registered by name.

Importing this package registers the built-in features. ``compute(bars, names)`` computes
per-symbol features and ``compute_panel(bars_by_symbol, names)`` adds the cross-sectional,
cross-asset and market-regime ones; see :mod:`alphaforge.features.registry` for the contract
and ``docs/features.md`` for names, the NaN policy and cross-asset alignment.
"""

from alphaforge.features import library as _library  # registers the built-in features
from alphaforge.features import panel_library as _panel_library  # registers panel features
from alphaforge.features.panel import (
    PANEL_FEATURES,
    PanelContext,
    PanelFeatureSpec,
    add_panel,
    compute_panel,
    register_panel,
)
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
    "PANEL_FEATURES",
    "BarArrays",
    "FeatureSpec",
    "PanelContext",
    "PanelFeatureSpec",
    "add_panel",
    "compute",
    "compute_panel",
    "feature_set_version",
    "register",
    "register_panel",
    "scale_free_names",
]

del _library, _panel_library
