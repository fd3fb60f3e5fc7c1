"""``gap``: fade (or follow) an opening gap of more than 2 % from the previous close."""

from __future__ import annotations

import math
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

from alphaforge.strategies._rules import latest_event, on_own_bars
from alphaforge.strategies.base import STRATEGIES, Family, MarketFrames, Signals, StrategyParams

GAP_FEATURE = "gap_log"


@STRATEGIES.register("gap")
class Gap(StrategyParams):
    """Trade the bar after an opening gap: ``open_t / close_(t-1) - 1`` beyond ``threshold``.

    The gap is the ``gap_log`` feature (log of the bar's open over the symbol's previous
    close, on its own bars). A gap up of more than ``threshold`` (a fraction: 0.02 is 2 %)
    gives -1 with ``mode: fade`` (seed 004: "fade the gap") or +1 with ``mode: follow``; a
    gap down the mirror.

    Time: a bar's open is known only when the bar is, at its close, so the signal of the gap
    bar ``t`` is decided at the close of ``t`` and trades from ``t + 1``'s open; it does not
    (and cannot, on bars) fade the gap within day ``t``. It bets that the move continues to
    revert (or to run) after the gap day. The signal holds for ``hold_bars`` bars (the gap
    bar and the ones after it; a newer gap replaces it) and is 0 (flat) on every other bar,
    so each gap trade is closed ``hold_bars`` bars after it opened; the signal depends only
    on the last ``hold_bars + 1`` bars.

    Markets that trade around the clock (crypto) open each bar at the last close and so
    rarely gap; on intraday stock bars the session's first bar carries the overnight gap.
    """

    summary: ClassVar[str] = "Opening gap over 2 %: fade it (or follow it) from the next bar."
    family: ClassVar[Family] = Family.MEAN_REVERSION
    needs: ClassVar[tuple[str, ...]] = ("open", "close")

    threshold: float = Field(0.02, gt=0, lt=1, description="Gap size that counts, a fraction.")
    mode: Literal["fade", "follow"] = Field("fade", description="Trade against or with the gap.")
    hold_bars: int = Field(1, ge=1, description="Bars the signal holds, the gap bar included.")

    @property
    def features(self) -> tuple[str, ...]:
        """Return the gap feature."""
        return (GAP_FEATURE,)

    @property
    def warmup(self) -> int:
        """Return 1: the first bar has no previous close."""
        return 1

    @property
    def lookback(self) -> int:
        """Return ``hold_bars`` bars before the bar (as a feature's memory counts): the oldest
        gap still held needs the close before it."""
        return max(super().lookback, self.hold_bars)

    def signals(self, market: MarketFrames) -> Signals:
        """Return the gap trade's side on the gap bar and the next ``hold_bars - 1`` bars."""
        gap = market.feature(GAP_FEATURE).to_numpy()
        side = -1.0 if self.mode == "fade" else 1.0
        events = np.full(gap.shape, np.nan)
        with np.errstate(invalid="ignore"):
            events[gap > math.log1p(self.threshold)] = side
            events[gap < math.log1p(-self.threshold)] = -side
        value = np.full(gap.shape, np.nan)
        for k, symbol in enumerate(market.symbols):
            rows = np.flatnonzero(market.close[symbol].notna().to_numpy())
            own = events[rows, k]
            # The latest gap within the last hold_bars own bars, else flat once the gap exists.
            held = latest_event(own, self.hold_bars)
            held[~np.isfinite(held) & np.isfinite(gap[rows, k])] = 0.0
            value[rows, k] = held
        return Signals(on_own_bars(market, value))
