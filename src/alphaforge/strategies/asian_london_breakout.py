"""``asian_london_breakout``: stop entries beyond the Asian range from the London open."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
from pydantic import Field

from alphaforge.core.types import AssetClass, Interval
from alphaforge.strategies._clock import (
    DAY_BARS_FINEST,
    DAY_NS,
    HOUR_NS,
    bar_length_ns,
    blank,
    put,
    served,
    stamps_ns,
)
from alphaforge.strategies.base import STRATEGIES, Family, MarketFrames, Signals, StrategyParams

#: The Asian range runs 22:00-07:00 UTC; the trading day is keyed so that 22:00 starts it.
_DAY_SHIFT = 2 * HOUR_NS
_LONDON_OPEN = 9 * HOUR_NS  # 07:00 UTC on the shifted clock


@dataclass(slots=True)
class _Day:
    """One trading day's state, rebuilt from its bars (nothing kept between calls)."""

    high: float = -np.inf
    low: float = np.inf
    first_open: int | None = None
    last_close: int = 0
    atr: float = np.nan
    side: float = 0.0  # +1 long, -1 short once a stop entry filled, else 0
    done: bool = False  # traded and closed (stop or target hit): nothing more today
    entry: float = np.nan
    stop: float = np.nan
    target: float = np.nan
    issued: bool = False  # the previous bar asked for stop entries


@dataclass(slots=True)
class _Frames:
    value: pd.DataFrame
    stop: pd.DataFrame
    target: pd.DataFrame
    above: pd.DataFrame
    below: pd.DataFrame
    above_stop: pd.DataFrame
    above_target: pd.DataFrame
    below_stop: pd.DataFrame
    below_target: pd.DataFrame


@STRATEGIES.register("asian_london_breakout")
class AsianLondonBreakout(StrategyParams):
    """Break of the Asian session's range (22:00-07:00 UTC) from the London open (07:00 UTC).

    Each trading day starts at 22:00 UTC. Its Asian range is the high and low of the bars
    opening in 22:00-07:00 UTC, complete at the close of the bar that closes at 07:00 (a
    bar's timestamp is its open; its values are known at its close, open plus the bar length,
    the market's spacing: its interval in a run). ATR(14) is read at that bar. From that close
    until ``window_end_hour`` UTC the strategy asks, at each bar's close, for a buy stop at
    ``high + atr_mult x ATR`` and a sell stop at ``low - atr_mult x ATR`` for the next bar
    (``entry_above`` / ``entry_below``, one cancelling the other; ``value`` is the size).

    The fill is recomputed from the day's bars, so the strategy keeps no state: the first bar
    after an asking bar whose high reaches the buy stop (or whose low reaches the sell stop)
    fills it, at the stop or at the bar's open when it gaps through; when one bar reaches
    both, the buy stop is taken to have filled (the engine's rule: bars say nothing about the
    path inside them). Each leg carries its own bracket (``above_stop`` / ``above_target``,
    ``below_stop`` / ``below_target``): the stop at the range's opposite extreme, the target
    ``target_mult x range`` beyond the leg's stop price, so the broker exits at those prices.
    From the fill on, no entry is asked for again that day and the signal is NaN (the position
    is left to its bracket; ``stop`` and ``target`` still show the levels), until a later bar
    of the day touches the stop or the target (then 0) or the bar closing at or after
    ``window_end_hour`` (0: out at the next bar's open). Saying NaN while held keeps a
    rebalancing constructor from trading the held position back to a weight, and a
    restarted node from re-entering what its bracket closed. Outside the window the signal
    is 0; it is NaN for the first ``warmup`` bars and for symbols other than forex and
    crypto.

    The range needs bars spanning ``min_asian_hours`` of the session (forex opens Sunday
    22:00 UTC, so Monday's range is whole; a gap in the data leaves that day flat).
    """

    family: ClassVar[Family] = Family.BREAKOUT
    uses_entries: ClassVar[bool] = True
    asset_classes: ClassVar[frozenset[AssetClass] | None] = frozenset(
        {AssetClass.FOREX, AssetClass.CRYPTO}
    )
    interval: ClassVar[Interval | None] = Interval.H1
    needs: ClassVar[tuple[str, ...]] = ("open", "high", "low", "close")
    summary: ClassVar[str] = (
        "Asian range (22:00-07:00 UTC) breakout by stop entries from the London open."
    )

    atr_mult: float = Field(0.5, ge=0.0, description="Stop entries beyond the range, ATRs.")
    target_mult: float = Field(1.5, gt=0.0, description="Target from entry, Asian ranges.")
    window_end_hour: int = Field(
        16, ge=8, le=21, description="Trading window end, UTC hour (London-New York overlap end)."
    )
    min_asian_hours: float = Field(
        6.0, gt=0.0, le=9.0, description="Hours the Asian bars must span for a range."
    )
    size: float = Field(1.0, gt=0.0, le=1.0, description="Signal size of an entry, [0, 1].")

    @property
    def warmup(self) -> int:
        """Return 14 bars: ATR(14) exists from the 15th bar."""
        return 14

    @property
    def features(self) -> tuple[str, ...]:
        """Return ``atr_14`` (the stop entries' distance beyond the range)."""
        return ("atr_14",)

    @property
    def lookback(self) -> int:
        """Return ATR's memory plus a day of 1-minute bars (a day's range, fill and exit)."""
        return super().lookback + DAY_BARS_FINEST

    def signals(self, market: MarketFrames) -> Signals:
        """Return stop entries, then the held side with its stop and target, per bar."""
        frames = _Frames(*(blank(market) for _ in range(9)))
        atr = market.feature("atr_14")
        for symbol in served(market, frozenset(type(self).asset_classes or ())):
            bars = market.symbol_bars(symbol)
            self._one_symbol(bars, atr[symbol].reindex(bars.index).to_numpy(), symbol, frames)
        return Signals(
            frames.value,
            stop=frames.stop,
            target=frames.target,
            entry_above=frames.above,
            entry_below=frames.below,
            above_stop=frames.above_stop,
            above_target=frames.above_target,
            below_stop=frames.below_stop,
            below_target=frames.below_target,
        )

    def _one_symbol(
        self, bars: pd.DataFrame, atr: np.ndarray, symbol: str, frames: _Frames
    ) -> None:
        index = pd.DatetimeIndex(bars.index)
        n = len(index)
        length = bar_length_ns(bars)
        shifted = stamps_ns(index) + _DAY_SHIFT
        days = np.floor_divide(shifted, DAY_NS)
        opens_at = shifted - days * DAY_NS  # time of day of the bar's open, shifted clock
        end = self.window_end_hour * HOUR_NS + _DAY_SHIFT
        o, h, lo = (bars[f].to_numpy() for f in ("open", "high", "low"))
        out = np.zeros((9, n))
        out[1:] = np.nan
        day = _Day()
        for i in range(n):
            if i == 0 or days[i] != days[i - 1]:
                day = _Day()
            if opens_at[i] < _LONDON_OPEN:
                day.high, day.low = max(day.high, h[i]), min(day.low, lo[i])
                day.first_open = opens_at[i] if day.first_open is None else day.first_open
                day.last_close, day.atr = opens_at[i] + length, atr[i]
            if day.issued and day.side == 0.0 and not day.done:
                self._fill(day, o[i], h[i], lo[i])
            elif day.side != 0.0:
                self._exit(day, h[i], lo[i])
            closes_at = opens_at[i] + length
            in_window = _LONDON_OPEN <= closes_at < end
            day.issued = False
            if day.side != 0.0 and in_window:
                out[:3, i] = np.nan, day.stop, day.target
            elif day.side == 0.0 and not day.done and in_window and self._ready(day):
                up, down = self._stops(day)
                out[0, i], out[3, i], out[4, i] = self.size, up, down
                # Each leg's own bracket: the opposite extreme, and 1.5 ranges from its stop
                # price (the broker's exits, so a touch closes at its price).
                width = self.target_mult * (day.high - day.low)
                out[5:, i] = day.low, up + width, day.high, down - width
                day.issued = True
            if day.side != 0.0 and not in_window:
                day.side, day.done = 0.0, True
        out[:, : self.warmup] = np.nan
        for frame, row in zip(
            (
                frames.value,
                frames.stop,
                frames.target,
                frames.above,
                frames.below,
                frames.above_stop,
                frames.above_target,
                frames.below_stop,
                frames.below_target,
            ),
            out,
            strict=True,
        ):
            put(frame, symbol, index, row)

    def _ready(self, day: _Day) -> bool:
        if day.first_open is None or not np.isfinite(day.atr) or day.high <= day.low:
            return False
        return day.last_close - day.first_open >= self.min_asian_hours * HOUR_NS

    def _stops(self, day: _Day) -> tuple[float, float]:
        return day.high + self.atr_mult * day.atr, day.low - self.atr_mult * day.atr

    def _fill(self, day: _Day, open_: float, high: float, low: float) -> None:
        up, down = self._stops(day)
        long_hit, short_hit = high >= up, low <= down
        if not (long_hit or short_hit):
            return
        # Both reached in one bar: the buy stop counts as first, as the engine fills it.
        width = day.high - day.low
        # The target counts from the stop price, as the broker's bracket does (a bar that
        # gaps through the stop fills at its open, and the bracket was set before it).
        if long_hit:
            day.side, day.entry, day.stop = 1.0, max(open_, up), day.low
            day.target = up + self.target_mult * width
        else:
            day.side, day.entry, day.stop = -1.0, min(open_, down), day.high
            day.target = down - self.target_mult * width

    @staticmethod
    def _exit(day: _Day, high: float, low: float) -> None:
        if day.side > 0.0:
            hit = low <= day.stop or high >= day.target
        else:
            hit = high >= day.stop or low <= day.target
        if hit:
            day.side, day.done = 0.0, True
