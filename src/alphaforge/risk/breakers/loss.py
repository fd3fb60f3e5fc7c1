"""What the daily and weekly loss breakers share: a loss from the window's starting equity.

The window is a trading day or a trading week (:mod:`alphaforge.risk.breakers.days`). Its
starting equity is the last equity marked before the window began (the previous close), or
its first mark when there was none. The loss at a mark is ``(start - equity) / start``; it
trips the breaker when it reaches ``max_loss``. A trip lasts until its reset (by default the
end of the window). After a manual reset inside the window the loss counts from the equity
at the reset (still as a fraction of the starting equity), so a further loss of ``max_loss``
trips it again.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from typing import ClassVar

import pandas as pd
from pydantic import Field

from alphaforge.risk.breakers.common import TripBreaker
from alphaforge.risk.pieces import RiskEvent, State

#: Slack for float noise when a loss is compared with its limit.
_EPS = 1e-12


class LossBreaker(TripBreaker):
    """Trips when equity falls ``max_loss`` below the window's starting equity."""

    #: Words for the window in reasons ("day", "week").
    window_name: ClassVar[str] = ""

    max_loss: float = Field(0.03, gt=0, lt=1, description="Loss that trips it, of start equity.")

    @abstractmethod
    def window(self, time: pd.Timestamp) -> str:
        """Return the window ``time`` falls in (an ISO date)."""

    def initial_state(self) -> State:
        """Return no window yet, no trip."""
        return {
            **super().initial_state(),
            "window": None,
            "start_equity": None,
            "anchor": None,
            "last_equity": None,
        }

    def observe(self, state: State, event: RiskEvent) -> State:
        """Return the state after a mark (equity) or a manual reset; other events change nothing.

        A mark with non-finite equity is ignored.
        """
        if event.kind == "reset":
            out = self.reset_by_hand(state, event)
            if out is None:
                return dict(state)
            out["anchor"] = out.get("last_equity")
            return out
        if event.kind != "mark" or not math.isfinite(event.equity):
            return dict(state)
        equity = float(event.equity)
        out = self.current(state, event.time)
        window = self.window(event.time)
        if out.get("window") != window:
            last = out.get("last_equity")
            start = float(last) if last is not None else equity
            out.update(window=window, start_equity=start, anchor=start)
        start = float(out["start_equity"])
        anchor = float(out["anchor"]) if out.get("anchor") is not None else start
        out["last_equity"] = equity
        if start > 0 and not self.active(out.get("trip"), event.time):
            loss = (anchor - equity) / start
            if loss >= self.max_loss - _EPS:
                out["trip"] = self.trip(
                    event.time,
                    f"{self.piece_name.replace('_', ' ')} {loss:.2%} of the {self.window_name}'s "
                    f"starting "
                    f"equity {start:,.2f} reached {self.max_loss:.2%}",
                )
        return out


__all__ = ["LossBreaker"]
