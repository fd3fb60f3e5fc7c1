"""High-beta names: opening orders x 0.7 where beta is above 1.5
(seed 004: "if beta > 1.5: position_size *= 0.7")."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from alphaforge.config.pieces import register_piece
from alphaforge.portfolio.book import Book, IntentBatch
from alphaforge.risk.filters.common import opening_sides, scaled
from alphaforge.risk.pieces import FILTERS, FilterCheck, RegimeFilter

#: How many names a reason lists before it says "and N more".
NAMED = 3


@register_piece(FILTERS, "beta")
class BetaFilter(RegimeFilter):
    """Cut opening orders in names whose beta to the benchmark is high.

    Reads the per-symbol feature ``feature`` (``beta_60``: the 60-bar beta to the benchmark,
    from bars closed before ``book.time``). An opening order (long or short) in a name whose
    beta is above ``beta_above`` keeps ``1 - cut`` of its opening part. Reducing orders pass;
    a name with no beta (feature absent or NaN) passes.
    """

    summary: ClassVar[str] = "Beta above 1.5: opening orders x 0.7"
    inputs: ClassVar[tuple[str, ...]] = ("features.beta_60",)

    feature: str = Field("beta_60", min_length=1, description="Feature holding each beta.")
    beta_above: float = Field(1.5, description="Beta above which opening orders are cut.")
    cut: float = Field(0.3, ge=0, le=1, description="Fraction of the opening part removed.")

    @property
    def rule(self) -> str:
        """Return the rule in words."""
        return f"{self.feature} above {self.beta_above:g}: opening orders x {1 - self.cut:g}"

    def check(self, batch: IntentBatch, book: Book) -> FilterCheck:
        """Return ``1 - cut`` for opening orders in names with beta above ``beta_above``."""
        beta = book.feature(self.feature)[batch.index]
        long_, short = opening_sides(batch, book)
        with np.errstate(invalid="ignore"):
            high = beta > self.beta_above  # NaN compares False: no beta, no cut
        cut = (long_ | short) & high
        if not cut.any():
            reason = f"no opening order in a name with {self.feature} above {self.beta_above:g}"
        else:
            symbols = book.universe.symbols
            named = [
                f"{symbols[int(batch.index[k])]} {float(beta[k]):.2f}"
                for k in np.flatnonzero(cut)[:NAMED].tolist()
            ]
            more = int(cut.sum()) - len(named)
            reason = (
                f"{self.feature} above {self.beta_above:g} ({', '.join(named)}"
                f"{f' and {more} more' if more else ''}): opening orders x {1 - self.cut:g}"
            )
        return scaled(np.where(cut, 1.0 - self.cut, 1.0), beta, self.beta_above, self.rule, reason)


__all__ = ["BetaFilter"]
