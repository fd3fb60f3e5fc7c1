"""Configuration models: purged walk-forward splitting.

Units are stated per field. Times are UTC.
"""

from __future__ import annotations

from pydantic import Field

from alphaforge.config.base import FrozenModel

__all__ = ["WalkForwardConfig"]


class WalkForwardConfig(FrozenModel):
    """Rolling purged walk-forward splitting (lengths in calendar months)."""

    train_months: int = Field(12, ge=1, description="Training block, calendar months.")
    validation_months: int = Field(
        3, ge=0, description="Validation block for early stopping; 0 disables it."
    )
    test_months: int = Field(1, ge=1, description="Out-of-sample block; the window rolls by it.")
    embargo_bars: int | None = Field(
        None,
        ge=0,
        description="Bars a fitted label must end before the next block; null = the label horizon.",
    )
    expanding: bool = Field(
        False, description="Grow the training block from the first bar instead of rolling it."
    )
