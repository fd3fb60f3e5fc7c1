"""``momentum_transfer``: a strong London morning carried into the New York session."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
from pydantic import Field

from alphaforge.core.types import AssetClass, Instrument, Interval
from alphaforge.strategies._clock import (
    DAY_BARS_FINEST,
    HOUR_NS,
    LONDON,
    NEW_YORK,
    bar_length_ns,
    blank,
    local_day_time,
    pair_currencies,
    put,
    served,
    stamps_ns,
)
from alphaforge.strategies.base import STRATEGIES, Family, MarketFrames, Signals, StrategyParams

#: One pip of a pair quoted in yen, and of any other pair (quote currency per unit).
JPY_PIP = 0.01
PIP = 0.0001


def pip_size(symbol: str, instrument: Instrument | None) -> float:
    """Return a forex pair's pip: 0.01 when it is quoted in yen, else 0.0001.

    The quote currency is read from a six-letter symbol (``USDJPY``, ``EUR/USD``,
    ``EURUSD=X``), else from the instrument's currency. (``risk/stops/forex_pips.py`` reads
    pairs the same way; the risk layer sits above strategies, so it cannot be imported here.)
    """
    return JPY_PIP if pair_currencies(symbol, instrument)[1] == "JPY" else PIP


@STRATEGIES.register("momentum_transfer")
class MomentumTransfer(StrategyParams):
    """Long a forex pair at the New York open after a London-morning gain of over 50 pips.

    Clocks are local and daylight-saving correct (``zoneinfo``): London opens at
    ``london_open_hour`` Europe/London (07:00 UTC in summer, 08:00 in winter) and New York at
    ``ny_open_hour`` America/New_York (12:00 or 13:00 UTC), as in the ``fx_sess_*`` features.
    A bar's timestamp is its open; its values are known at its close (open plus the median
    gap of the symbol's bars). The London move of a day (its London date) is the close of the
    bar that closes at the New York open, less the open of the day's first bar opening at or
    after the London open, in pips (0.01 for pairs quoted in yen, else 0.0001).

    From that bar's close the signal is +1 when the move exceeds ``min_pips`` (and -1 when it
    falls below ``-min_pips`` with ``short_on_loss``), held until the bar closing at or after
    ``exit_ny_hour`` New York, which says 0 (out at the next bar's open). A day whose data
    lack the bar closing at the New York open is not traded. The signal is 0 elsewhere, and
    NaN for assets other than forex. Recomputed from the day's bars: no state is kept.
    """

    family: ClassVar[Family] = Family.TREND
    asset_classes: ClassVar[frozenset[AssetClass] | None] = frozenset({AssetClass.FOREX})
    interval: ClassVar[Interval | None] = Interval.H1
    needs: ClassVar[tuple[str, ...]] = ("open", "close")
    summary: ClassVar[str] = "London gain over 50 pips: long forex at the New York open."

    min_pips: float = Field(50.0, gt=0.0, description="London move that triggers, pips.")
    london_open_hour: int = Field(8, ge=0, le=23, description="London open, Europe/London.")
    ny_open_hour: int = Field(8, ge=0, le=23, description="New York open, America/New_York.")
    exit_ny_hour: int = Field(12, ge=1, le=23, description="Exit, America/New_York hour.")
    short_on_loss: bool = Field(False, description="Also short after a London fall.")

    @property
    def lookback(self) -> int:
        """Return a day of 1-minute bars: the London open to the exit is under a day."""
        return DAY_BARS_FINEST

    def signals(self, market: MarketFrames) -> Signals:
        """Return +1 (or -1) from the New York open to the exit, 0 elsewhere."""
        value = blank(market)
        for symbol in served(market, frozenset(type(self).asset_classes or ())):
            bars = market.symbol_bars(symbol)
            pip = pip_size(symbol, market.instruments.get(symbol))
            put(value, symbol, pd.DatetimeIndex(bars.index), self._one_symbol(bars, pip))
        return Signals(value)

    def _one_symbol(self, bars: pd.DataFrame, pip: float) -> np.ndarray:
        stamps = stamps_ns(bars.index)
        length = bar_length_ns(bars)
        london_day, london_time = local_day_time(stamps, LONDON)
        _, ny_open_time = local_day_time(stamps, NEW_YORK)
        ny_close_time = ny_open_time + length
        ny_open, ny_exit = self.ny_open_hour * HOUR_NS, self.exit_ny_hour * HOUR_NS
        opens, closes = bars["open"].to_numpy(), bars["close"].to_numpy()
        out = np.zeros(stamps.size)
        start, side = np.nan, 0.0
        for i in range(stamps.size):
            if i == 0 or london_day[i] != london_day[i - 1]:
                start, side = np.nan, 0.0
            if np.isnan(start) and london_time[i] >= self.london_open_hour * HOUR_NS:
                start = opens[i]
            if ny_close_time[i] == ny_open and np.isfinite(start):
                pips = (closes[i] - start) / pip
                if pips > self.min_pips:
                    side = 1.0
                elif pips < -self.min_pips and self.short_on_loss:
                    side = -1.0
            if side != 0.0 and ny_close_time[i] >= ny_exit:
                side = 0.0
            out[i] = side
        return out
