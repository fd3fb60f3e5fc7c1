"""Configuration models: the training label and the weights of its rows.

Units are stated per field. Times are UTC.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from alphaforge.config.base import FrozenModel

__all__ = ["LabelsConfig"]


class LabelsConfig(FrozenModel):
    """The training label."""

    kind: Literal["cross_sectional", "direction", "triple_barrier", "three_class", "meta"] = Field(
        "cross_sectional",
        description=(
            "Target: beats the cross-sectional median, rises, takes profit first (triple "
            "barrier), BUY/HOLD/SELL (three_class), or whether trading the sign of "
            "labels.primary_feature takes profit first (meta)."
        ),
    )
    horizon: int = Field(
        5, ge=1, description="Forward horizon, in bars (the vertical barrier for barriers)."
    )
    barrier_multiplier: float = Field(
        2.0, gt=0, description="Triple barrier, meta: barriers at +-this x trailing volatility."
    )
    threshold: float = Field(
        0.012, gt=0, description="three_class: BUY above +this, SELL below -this simple return."
    )
    volatility_multiplier: float | None = Field(
        None,
        gt=0,
        description="three_class: thresholds of this x volatility x sqrt(horizon) instead.",
    )
    primary_feature: str = Field(
        "ret_log_20", description="meta: the primary signal goes long when this feature > 0."
    )
    entry: Literal["next_open", "close"] = Field(
        "next_open", description="Reference price at decision: next bar's open or bar t's close."
    )
    exit: Literal["open", "close"] = Field("open", description="Exit price h bars later.")
    uniqueness_weights: bool = Field(
        True, description="Weight training rows by label uniqueness (overlapping labels share)."
    )
    weight_half_life_days: float | None = Field(
        60.0, gt=0, description="Age decay of training weights, days; null disables it."
    )
    catalyst_file: Path | None = Field(
        None,
        description=(
            "CSV of scheduled events (column time, optional symbol): training rows within "
            "catalyst_window_bars of one are weighted by catalyst_weight; null = none."
        ),
    )
    catalyst_window_bars: int = Field(
        1, ge=0, description="Bars before and after an event that count as near it."
    )
    catalyst_weight: float = Field(
        1.0, gt=0, description="Weight factor of rows near an event (>1 up-weights them)."
    )
