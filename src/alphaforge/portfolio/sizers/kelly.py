"""Fractional Kelly sizing from a calibrated probability and a payoff ratio."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from alphaforge.config.pieces import register_piece
from alphaforge.portfolio.book import FloatArray
from alphaforge.portfolio.pieces import SIZERS, Sizer, SizingRequest
from alphaforge.portfolio.sizers.common import priced, resize
from alphaforge.portfolio.sizing import fractional_kelly, payoff_ratio_from_bracket


@register_piece(SIZERS, "kelly")
class KellySizer(Sizer):
    """Hold ``f x equity / price`` units with ``f = c (p b - (1 - p)) / b`` (fractional Kelly).

    ``p`` is the calibrated probability that the trade's direction is right
    (``request.probability``). The payoff ratio ``b`` is the signal's bracket,
    ``|take - price| / |price - stop|`` at the price the order is checked at, where the stop
    and take lie on the correct sides of the price for the target's side; otherwise the mean
    win over the mean loss of the trades closed strictly before the decision
    (``request.avg_win / request.avg_loss``). Both are known at ``book.time``.

    Where ``f <= 0`` (no edge) the target becomes 0: no position, never a short from a
    negative Kelly bet. Where ``p`` or ``b`` is unknown (NaN: no calibrated model, no bracket
    and no closed trade yet), or the name has no price, the target is left unchanged: the
    sizer is inactive for that name. The side always comes from the proposed target.
    """

    summary: ClassVar[str] = (
        "Fractional Kelly: |position| = c x (p b - (1 - p)) / b of equity; none when f <= 0."
    )

    fraction: float = Field(0.25, gt=0, le=1, description="Share c of the full Kelly bet.")

    def size(self, request: SizingRequest, target: FloatArray) -> FloatArray:
        """Return Kelly-sized targets (unchanged where p or b is unknown)."""
        if not np.isfinite(request.probability).any():
            return target  # no probability: inactive for every name (the common rule case)
        price = request.prices
        b = self.payoff(request, target)
        p = request.probability
        known = priced(request) & np.isfinite(p) & np.isfinite(b)
        f = fractional_kelly(np.where(known, p, np.nan), np.where(known, b, np.nan), self.fraction)
        magnitude = f * request.book.equity / np.where(known, price, 1.0)
        return resize(target, magnitude, known)

    @staticmethod
    def payoff(request: SizingRequest, target: FloatArray) -> FloatArray:
        """Return each name's payoff ratio: its bracket's, else the closed trades' (or NaN)."""
        price = request.prices
        side = np.sign(target)
        stop, take = request.stop, request.take
        # A long's stop below and take above the price, a short's the other way round.
        valid = (
            np.isfinite(price)
            & np.isfinite(stop)
            & np.isfinite(take)
            & ((price - stop) * side > 0.0)
            & ((take - price) * side > 0.0)
        )
        nan = np.full(len(price), np.nan)
        bracket = payoff_ratio_from_bracket(
            np.where(valid, price, nan), np.where(valid, stop, nan), np.where(valid, take, nan)
        )
        win, loss = request.avg_win, request.avg_loss
        trades = (
            win / loss
            if np.isfinite(win) and np.isfinite(loss) and win > 0 and loss > 0
            else np.nan
        )
        out: FloatArray = np.where(valid, bracket, trades)
        return out


__all__ = ["KellySizer"]
