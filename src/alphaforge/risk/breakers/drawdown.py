"""Drawdown tiers from peak equity: warn at 10 %, halve and stop opening at 15 %, flatten and
pause 30 days at 20 %."""

from __future__ import annotations

import math
from typing import Any, ClassVar, Self

import pandas as pd
from pydantic import Field, model_validator

from alphaforge.config.pieces import register_piece
from alphaforge.risk.breakers.common import iso
from alphaforge.risk.pieces import BREAKERS, Breaker, BreakerStatus, RiskEvent, State

#: Slack for float noise when a drawdown is compared with a tier's threshold.
_EPS = 1e-12


@register_piece(BREAKERS, "drawdown")
class Drawdown(Breaker):
    """Act on the drawdown of marked equity from its peak, in three tiers.

    - Tier 1, drawdown >= ``warn``: a warning (``BreakerStatus.tier`` 1); nothing blocked.
    - Tier 2, drawdown >= ``reduce``: holdings are cut to ``reduce_to`` of themselves once per
      trip and opening orders are blocked. It holds until equity recovers to a drawdown below
      ``warn`` (not merely below ``reduce``: a bounce to just under the threshold and a dip
      back would halve the book again), or a manual reset.
    - Tier 3, drawdown >= ``flatten``: every position is closed once and opening orders are
      blocked for ``pause_days`` calendar days from the trip (``until``). Marks during the
      pause change neither the peak nor the tier. The first mark after the pause starts a new
      peak at its equity: the flattened account starts over (measured from the old peak, it
      would trip again at once).

    The peak is the highest equity marked since the start, the last pause or the last manual
    reset. A manual reset clears tier 2 or 3 at once and starts the peak again at the last
    marked equity. Marks with non-finite equity are ignored; a peak at or below zero counts
    as a full drawdown. ``BreakerStatus.until`` is the end of the pause at tier 3 and None at
    tier 2 (it ends with a recovery, not at a time).
    """

    summary: ClassVar[str] = (
        "Drawdown from peak: warn 10 %, halve and stop opening 15 %, flatten and pause 30 days 20 %"
    )

    warn: float = Field(0.10, gt=0, lt=1, description="Drawdown that warns (tier 1).")
    reduce: float = Field(0.15, gt=0, lt=1, description="Drawdown that cuts holdings (tier 2).")
    flatten: float = Field(0.20, gt=0, lt=1, description="Drawdown that flattens (tier 3).")
    reduce_to: float = Field(
        0.5, ge=0, lt=1, description="Fraction of holdings kept at tier 2 (0.5 halves)."
    )
    pause_days: float = Field(
        30.0, gt=0, description="Calendar days opening stays blocked after flattening."
    )

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.warn < self.reduce < self.flatten:
            raise ValueError(
                f"tiers must grow: warn {self.warn} < reduce {self.reduce} < flatten {self.flatten}"
            )
        return self

    def initial_state(self) -> State:
        """Return no peak yet, tier 0."""
        return {
            "peak": None,
            "last_equity": None,
            "drawdown": 0.0,
            "tier": 0,
            "trip": None,
            "last_reset": None,
        }

    def observe(self, state: State, event: RiskEvent) -> State:
        """Return the state after a mark (equity) or a manual reset."""
        if event.kind == "reset":
            return self._reset(state, event)
        if event.kind != "mark" or not math.isfinite(event.equity):
            return dict(state)
        equity = float(event.equity)
        out = dict(state)
        out["last_equity"] = equity
        trip = out.get("trip")
        if out.get("tier") == 3 and trip:
            if event.time < pd.Timestamp(trip["until"]):
                return out
            out.update(peak=None, tier=0, trip=None)
        peak = equity if out.get("peak") is None else max(float(out["peak"]), equity)
        drawdown = (peak - equity) / peak if peak > 0 else 1.0
        old = int(out.get("tier", 0))
        tier = self._tier(drawdown, old)
        out.update(peak=peak, drawdown=drawdown, tier=tier)
        if tier < 2:
            out["trip"] = None
        elif tier != old:
            out["trip"] = self._trip(tier, event.time, drawdown, peak)
        return out

    def _tier(self, drawdown: float, old: int) -> int:
        dd = drawdown + _EPS
        if dd >= self.flatten:
            return 3
        if dd >= self.reduce or (old == 2 and dd >= self.warn):
            return 2
        return 1 if dd >= self.warn else 0

    def _trip(self, tier: int, time: pd.Timestamp, drawdown: float, peak: float) -> dict[str, Any]:
        if tier == 3:
            until: str | None = iso(time + pd.Timedelta(days=self.pause_days))
            action = f"flatten, no opening until {until}"
            limit = self.flatten
        else:
            until = None
            action = (
                f"holdings cut to {self.reduce_to:g}, no opening until the drawdown is "
                f"below {self.warn:.0%}"
            )
            limit = self.reduce
        return {
            "id": f"{self.piece_name}:{tier}:{iso(time)}",
            "time": iso(time),
            "tier": tier,
            "until": until,
            "reason": f"drawdown {drawdown:.2%} from peak {peak:,.2f} reached {limit:.0%}: "
            + action,
        }

    def _reset(self, state: State, event: RiskEvent) -> State:
        if not self.status(state, event.time).tripped:
            return dict(state)
        last = state.get("last_equity")
        return {
            **state,
            "peak": last,
            "drawdown": 0.0,
            "tier": 0,
            "trip": None,
            "last_reset": {"time": iso(event.time), "reason": event.reason},
        }

    def status(self, state: State, time: pd.Timestamp) -> BreakerStatus:
        """Return the tier's demands at ``time`` (tier 3 ends when its pause does)."""
        tier = int(state.get("tier", 0))
        trip = state.get("trip")
        if tier == 0:
            return BreakerStatus(self.piece_name)
        if tier == 1:
            return BreakerStatus(
                self.piece_name,
                tier=1,
                reason=f"drawdown {float(state['drawdown']):.2%} reached {self.warn:.0%}: warning",
            )
        assert trip is not None
        if tier == 3 and time >= pd.Timestamp(trip["until"]):
            return BreakerStatus(self.piece_name)
        return BreakerStatus(
            self.piece_name,
            tripped=True,
            blocks_opening=True,
            reduce_to=0.0 if tier == 3 else self.reduce_to,
            tier=tier,
            trip_id=str(trip["id"]),
            reason=str(trip["reason"]),
            until=trip["until"],
        )


__all__ = ["Drawdown"]
