"""Per-asset-class limit: gross value per class (stocks 60 %, crypto 30 %, forex 20 %)."""

from __future__ import annotations

from typing import Annotated, ClassVar

import numpy as np
from pydantic import Field, field_validator

from alphaforge.config.pieces import register_piece
from alphaforge.portfolio.book import Book, IntentBatch, cap_position
from alphaforge.risk.limits._common import (
    UNBOUND,
    PerClassLimit,
    check_classes,
    class_groups,
    equity_ok,
    group_cap,
    group_usage,
    pct,
    price_per_unit,
    refuse_opening,
    split_steps,
)
from alphaforge.risk.pieces import LIMITS, LimitCheck

Fraction = Annotated[float, Field(gt=0)]


@register_piece(LIMITS, "asset_class")
class AssetClassLimit(PerClassLimit):
    """``sum over a class of |units x price| <= caps[class] x equity``, per asset class.

    ETFs count with stocks (``pooled``); a class without a cap is not bounded. Altcoins
    (crypto other than BTC and ETH, ``Universe.altcoins``) together hold at most
    ``altcoin_share`` of the crypto cap (40 % of 30 % = 12 % of equity by default), on top of
    the crypto cap itself. Intents are checked in the batch's order against the book the
    earlier ones leave; a class beyond its cap (prices moved) takes no opening order until it
    is back under it. The two crypto bounds are applied one after the other (altcoins first):
    when an altcoin order is cut by the crypto cap after the altcoin cap, later altcoin orders
    of the same batch do not get the altcoin room it left (conservative, never a breach).
    """

    summary: ClassVar[str] = (
        "Gross per asset class (stock 60 %, crypto 30 % with altcoins 40 % of it, forex 20 %)."
    )

    caps: dict[str, Fraction] = Field(
        default_factory=lambda: {"stock": 0.60, "crypto": 0.30, "forex": 0.20},
        description="Largest gross / equity per asset class.",
    )
    altcoin_share: float = Field(
        0.40, gt=0, le=1, description="Largest altcoin gross as a share of the crypto cap."
    )

    @field_validator("caps")
    @classmethod
    def _known_caps(cls, value: dict[str, float]) -> dict[str, float]:
        check_classes(list(value), "caps")
        return value

    def _rule(self) -> str:
        parts = [f"{name} {pct(cap)}" for name, cap in self.caps.items()]
        if "crypto" in self.caps:
            parts.append(f"altcoins {pct(self.altcoin_share * self.caps['crypto'])}")
        return f"asset-class gross <= its cap of equity ({', '.join(parts)})"

    def _altcoin_bound(self) -> float:
        return self.altcoin_share * self.caps["crypto"] if "crypto" in self.caps else np.inf

    def check(self, batch: IntentBatch, book: Book) -> LimitCheck:
        """Return each intent's largest |position| (units) and its class's gross as asked."""
        rule = self._rule()
        if not equity_ok(book):
            return refuse_opening(batch, rule)
        unit = price_per_unit(book)
        alt = np.where(book.universe.altcoins(), 0, UNBOUND).astype(np.int64)
        alt_bound = np.array([self._altcoin_bound()])
        first = group_cap(batch, book, alt, alt_bound, unit, unit[batch.index], rule)
        held = batch.held(book)
        cut = batch.with_quantity(cap_position(held, batch.quantity, first.max_abs))
        group, bound = class_groups(book, self.caps, self.pooled)
        second = group_cap(cut, book, group, bound, unit, unit[batch.index], rule)
        # The class level if this intent went through as asked (earlier ones as approved).
        extra = split_steps(held, batch.quantity).open - split_steps(held, cut.quantity).open
        by_class = second.observed + extra * unit[batch.index]
        # Report the bound the intent, as asked, is furthest beyond.
        with np.errstate(divide="ignore", invalid="ignore"):
            alt_worse = np.nan_to_num(first.observed / first.limit, nan=-1.0) > np.nan_to_num(
                by_class / second.limit, nan=-1.0
            )
        return LimitCheck(
            np.minimum(first.max_abs, second.max_abs),
            np.where(alt_worse, first.observed, by_class),
            np.where(alt_worse, first.limit, second.limit),
            rule,
        )

    def usage(self, book: Book) -> float:
        """Return the largest class (or altcoin) gross / its cap."""
        if not equity_ok(book):
            return 0.0
        unit = price_per_unit(book)
        group, bound = class_groups(book, self.caps, self.pooled)
        alt = np.where(book.universe.altcoins(), 0, UNBOUND).astype(np.int64)
        return max(
            group_usage(book, group, bound, unit),
            group_usage(book, alt, np.array([self._altcoin_bound()]), unit),
        )
