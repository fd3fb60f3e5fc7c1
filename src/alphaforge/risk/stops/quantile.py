"""``quantile``: a stop at the return quantile a quantile model predicts."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from alphaforge.config.pieces import register_piece
from alphaforge.portfolio.book import Book, IntentBatch
from alphaforge.risk.pieces import STOPS, ExitLevels, StopRule
from alphaforge.risk.stops.common import stop_at, trades, weekend_scale, weekend_tighten_field


@register_piece(STOPS, "quantile")
class QuantileStop(StopRule):
    """Stop each opened trade at the predicted adverse return quantile.

    A long's stop is ``price x (1 + q10)`` where the predicted 10 % quantile of the return
    ``q10`` is negative; a short's ``price x (1 + q90)`` where the 90 % quantile ``q90`` is
    positive. The quantiles are the features ``lower`` and ``upper`` of the book (simple
    returns over the model's horizon, predicted from data known at ``Book.time``, e.g. by
    ``models/quantile.py::QuantileGBM``). Where they are missing (no quantile model
    registered), or the quantile is on the wrong side of zero, the trade gets no stop from
    this rule. On Saturdays and Sundays (UTC) crypto distances are multiplied by
    ``1 - weekend_crypto_tighten``, as for the other distance rules.

    Parameters
    ----------
    lower
        Feature holding the predicted lower quantile, read for longs (default ``q10``).
    upper
        Feature holding the predicted upper quantile, read for shorts (default ``q90``).
    weekend_crypto_tighten
        Fraction by which crypto distances shrink on weekends (0.3 = 30 % tighter).
    """

    summary: ClassVar[str] = (
        "Stop at the predicted 10 % return quantile (90 % for shorts), when a model gives one."
    )

    lower: str = Field("q10", min_length=1, description="Lower return quantile, for longs.")
    upper: str = Field("q90", min_length=1, description="Upper return quantile, for shorts.")
    weekend_crypto_tighten: float = weekend_tighten_field()

    def levels(self, batch: IntentBatch, book: Book) -> ExitLevels:
        """Return a stop for every opening intent with an adverse predicted quantile."""
        t = trades(batch, book)
        lower = book.feature(self.lower)[batch.index]
        upper = book.feature(self.upper)[batch.index]
        # The adverse return of each side, as a positive fraction (NaN-safe: NaN stays NaN).
        adverse = np.where(t.side > 0, -lower, upper)
        scale = weekend_scale(batch, book, self.weekend_crypto_tighten)
        none = np.full(len(batch), np.nan)
        return ExitLevels(stop_at(t, adverse * scale * t.price), none, none.copy())


__all__ = ["QuantileStop"]
