"""Configuration models: which features a run computes and how each fold selects among them.

Units are stated per field. Times are UTC.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from alphaforge.config.base import FrozenModel

__all__ = ["FeaturesConfig", "SelectionConfig"]


class FeaturesConfig(FrozenModel):
    """Which registered features a run computes."""

    names: list[str] | None = Field(
        None,
        description=(
            "Features the model receives, per-symbol and panel (cs_rank_ret_20, vix_z_60...); "
            "None = every scale-free per-symbol feature and every scale-free panel feature "
            "the universe has the inputs for."
        ),
    )
    min_history: int = Field(
        200,
        ge=0,
        description="Bars of each symbol's history used only to warm features up, never as rows.",
    )


class SelectionConfig(FrozenModel):
    """Feature selection, fitted inside each walk-forward fold on its training rows only."""

    method: Literal["none", "importance", "mutual_info"] = Field(
        "none", description="Ranking: none (keep all), importance (LightGBM gain), mutual_info."
    )
    top_k: int = Field(40, ge=1, description="Features kept per fold after pruning.")
    correlation_threshold: float = Field(
        0.95,
        gt=0,
        le=1,
        description="Drop a feature whose |rank correlation| with a better one exceeds this.",
    )
