"""Forex in the Asian session: leverage halved, as opening forex orders x 0.5
(seed 004: "if session == 'asian': reduce leverage by 50 %"; the Asian session is
22:00-09:00 GMT there)."""

from __future__ import annotations

from typing import ClassVar, Self

import numpy as np
from pydantic import Field, model_validator

from alphaforge.config.pieces import register_piece
from alphaforge.core.types import AssetClass
from alphaforge.portfolio.book import Book, IntentBatch
from alphaforge.risk.filters.common import (
    class_names,
    in_classes,
    opening_sides,
    passes,
    scaled,
    utc,
)
from alphaforge.risk.pieces import FILTERS, FilterCheck, RegimeFilter


@register_piece(FILTERS, "forex_session")
class ForexSessionFilter(RegimeFilter):
    """Cut opening forex orders during the Asian session.

    Reads only ``book.time`` (a naive time is taken as UTC). The session runs from
    ``start_hour`` to ``end_hour`` UTC (fractional hours, start included, end excluded); a
    start after the end wraps midnight, as the default 22:00-09:00 does. Inside it every
    opening order (long or short) in ``asset_classes`` keeps ``1 - cut`` of its opening part:
    with the same margin per unit, half the units is half the leverage. Reducing orders and
    other asset classes pass; positions opened before the session are not cut. Its input,
    the clock, is never missing.
    """

    summary: ClassVar[str] = "Asian session (22:00-09:00 UTC): forex opening orders x 0.5"
    inputs: ClassVar[tuple[str, ...]] = ("time",)

    start_hour: float = Field(22.0, ge=0, lt=24, description="Session start, hour of day UTC.")
    end_hour: float = Field(9.0, ge=0, lt=24, description="Session end, hour of day UTC.")
    cut: float = Field(0.5, ge=0, le=1, description="Fraction of the opening part removed.")
    asset_classes: tuple[AssetClass, ...] = Field(
        (AssetClass.FOREX,), min_length=1, description="Asset classes the cut applies to."
    )

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if self.start_hour == self.end_hour:
            raise ValueError("start_hour and end_hour are equal: the session would be empty")
        return self

    def in_session(self, hour: float) -> bool:
        """Return True when ``hour`` (of day, UTC, fractional) is inside the session."""
        if self.start_hour < self.end_hour:
            return self.start_hour <= hour < self.end_hour
        return hour >= self.start_hour or hour < self.end_hour

    @property
    def window(self) -> str:
        """Return the session as ``22:00-09:00 UTC``."""
        return f"{_clock(self.start_hour)}-{_clock(self.end_hour)} UTC"

    @property
    def rule(self) -> str:
        """Return the rule in words."""
        return (
            f"Asian session ({self.window}): "
            f"{class_names(self.asset_classes)} opening orders x {1 - self.cut:g}"
        )

    def check(self, batch: IntentBatch, book: Book) -> FilterCheck:
        """Return ``1 - cut`` for opening orders in ``asset_classes`` inside the session."""
        n = len(batch)
        now = utc(book.time)
        hour = now.hour + now.minute / 60 + (now.second + now.microsecond / 1e6) / 3600
        if not self.in_session(hour):
            reason = f"{now:%H:%M} UTC is outside the Asian session ({self.window})"
            return passes(n, hour, self.start_hour, self.rule, reason)
        long_, short = opening_sides(batch, book)
        cut = (long_ | short) & in_classes(batch, book, self.asset_classes)
        reason = (
            f"{now:%H:%M} UTC is in the Asian session ({self.window}): "
            f"{class_names(self.asset_classes)} opening orders x {1 - self.cut:g}"
        )
        return scaled(np.where(cut, 1.0 - self.cut, 1.0), hour, self.start_hour, self.rule, reason)


def _clock(hour: float) -> str:
    minutes = int(hour * 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


__all__ = ["ForexSessionFilter"]
