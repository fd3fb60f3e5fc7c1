"""Leverage per asset class: gross value per class at most a multiple of equity."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field, field_validator

from alphaforge.config.pieces import register_piece
from alphaforge.portfolio.book import Book, IntentBatch
from alphaforge.risk.limits._common import (
    PerClassLimit,
    check_classes,
    class_groups,
    equity_ok,
    group_cap,
    group_usage,
    price_per_unit,
    refuse_opening,
)
from alphaforge.risk.pieces import LIMITS, LimitCheck

Multiple = Annotated[float, Field(gt=0)]


@register_piece(LIMITS, "leverage")
class LeverageLimit(PerClassLimit):
    """``sum over a class of |units x price| <= multiples[class] x equity``, per asset class.

    Stocks 1x, crypto 1x, forex 2x by default; ETFs count with stocks (``pooled``); a class
    without a multiple is not bounded. Intents are checked in the batch's order against the
    book the earlier ones leave; a class beyond its multiple (prices moved) takes no opening
    order until it is back under it. Buying power over the whole account stays the base
    check's job.
    """

    summary: ClassVar[str] = "Gross per asset class at most a multiple of equity (1x, 1x, 2x)."

    multiples: dict[str, Multiple] = Field(
        default_factory=lambda: {"stock": 1.0, "crypto": 1.0, "forex": 2.0},
        description="Largest gross / equity per asset class.",
    )

    @field_validator("multiples")
    @classmethod
    def _known_multiples(cls, value: dict[str, float]) -> dict[str, float]:
        check_classes(list(value), "multiples")
        return value

    def _rule(self) -> str:
        parts = ", ".join(f"{name} {m:g}x" for name, m in self.multiples.items())
        return f"asset-class gross <= its multiple of equity ({parts})"

    def check(self, batch: IntentBatch, book: Book) -> LimitCheck:
        """Return each intent's largest |position| (units) and its class's leverage as asked."""
        if not equity_ok(book):
            return refuse_opening(batch, self._rule())
        unit = price_per_unit(book)
        group, bound = class_groups(book, self.multiples, self.pooled)
        return group_cap(batch, book, group, bound, unit, unit[batch.index], self._rule())

    def usage(self, book: Book) -> float:
        """Return the largest class gross / its multiple."""
        if not equity_ok(book):
            return 0.0
        group, bound = class_groups(book, self.multiples, self.pooled)
        return group_usage(book, group, bound, price_per_unit(book))
