"""weekend_crypto_reversal on constructed hourly crypto bars whose right action is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaforge.core.types import AssetClass, Instrument
from alphaforge.strategies import STRATEGIES, MarketFrames

SUNDAY_18 = pd.Timestamp("2024-01-07 18:00", tz="UTC")


def _bars(path: np.ndarray, start: str = "2024-01-04 00:00") -> pd.DataFrame:
    index = pd.date_range(start, periods=path.size, freq="1h", tz="UTC", name="timestamp")
    return pd.DataFrame(
        {
            "open": path,
            "high": path * 1.001,
            "low": path * 0.999,
            "close": path,
            "volume": 1e3,
        },
        index=index,
    )


def _weekend_dump(until: pd.Timestamp = SUNDAY_18) -> pd.DataFrame:
    """Flat at 100 to Friday, down 0.2 % an hour to the bar opening at ``until``, then flat."""
    index = pd.date_range("2024-01-04 00:00", periods=24 * 6, freq="1h", tz="UTC")
    falling = (index >= pd.Timestamp("2024-01-05", tz="UTC")) & (index <= until)
    path = 100.0 * np.cumprod(np.where(falling, 0.998, 1.0))
    return _bars(path)


def _market(bars: pd.DataFrame, asset_class: AssetClass = AssetClass.CRYPTO) -> MarketFrames:
    return MarketFrames.from_bars(
        {"BTC-USD": bars}, {"BTC-USD": Instrument("BTC-USD", asset_class)}
    )


def _column(frame: pd.DataFrame) -> pd.Series:
    return frame["BTC-USD"]


def test_a_sunday_evening_low_with_rsi_oversold_buys_until_monday() -> None:
    bars = _weekend_dump()
    sig = STRATEGIES.get("weekend_crypto_reversal")().signals(_market(bars))
    value = _column(sig.value)
    entry = float(bars.loc[SUNDAY_18, "close"])
    assert value[SUNDAY_18] == 1.0
    assert _column(sig.stop)[SUNDAY_18] == pytest.approx(entry * 0.98)
    assert _column(sig.target)[SUNDAY_18] == pytest.approx(entry * 1.04)
    # Before the Sunday window: flat, with no stop or target.
    assert (value[value.index < SUNDAY_18].dropna() == 0.0).all()
    # Held through the night; the bar closing at Monday 12:00 UTC turns it flat.
    held = value[
        (value.index >= SUNDAY_18) & (value.index < pd.Timestamp("2024-01-08 11:00", tz="UTC"))
    ]
    assert (held == 1.0).all()
    assert (value[value.index >= pd.Timestamp("2024-01-08 11:00", tz="UTC")] == 0.0).all()


def test_a_touched_stop_ends_the_trade_and_no_second_entry_follows() -> None:
    bars = _weekend_dump()
    drop = pd.Timestamp("2024-01-07 20:00", tz="UTC")
    bars.loc[drop:, ["open", "high", "low", "close"]] *= 0.97  # 3 % lower: through the stop
    sig = STRATEGIES.get("weekend_crypto_reversal")().signals(_market(bars))
    value = _column(sig.value)
    assert value[SUNDAY_18] == 1.0
    assert value[pd.Timestamp("2024-01-07 19:00", tz="UTC")] == 1.0
    # The 20:00 bar touched the stop: flat, and the next Sunday-window bars (still near the
    # low, RSI still low) do not enter again.
    assert (value[value.index >= drop] == 0.0).all()


def test_each_condition_is_needed() -> None:
    cls = STRATEGIES.get("weekend_crypto_reversal")
    # Rising prices: RSI is high, so even a wide closeness band enters nothing.
    rising = _bars(100.0 * np.cumprod(np.full(24 * 6, 1.001)))
    assert (_column(cls(near_pct=0.2).signals(_market(rising)).value).dropna() == 0.0).all()
    # A dump that bottoms Saturday and is 3 % higher by Sunday: not near the weekend low,
    # even with the RSI condition switched off.
    index = rising.index
    path = np.where(index < pd.Timestamp("2024-01-06 12:00", tz="UTC"), 100.0, 97.0)
    path = np.where(index >= pd.Timestamp("2024-01-07 06:00", tz="UTC"), 100.0, path)
    rebound = _market(_bars(path))
    assert (_column(cls(rsi_below=99.9).signals(rebound).value).dropna() == 0.0).all()
    # A dump that ends on Saturday 18:00 leaves the close at the low and RSI at 0 (flat bars
    # keep Wilder's averages) all Sunday: the entry still waits for Sunday 18:00 UTC.
    early = _weekend_dump(until=pd.Timestamp("2024-01-06 18:00", tz="UTC"))
    value = _column(cls().signals(_market(early)).value)
    assert value.index[(value == 1.0).to_numpy()][0] == SUNDAY_18


def test_a_stock_gets_no_signal() -> None:
    sig = STRATEGIES.get("weekend_crypto_reversal")().signals(
        _market(_weekend_dump(), AssetClass.STOCK)
    )
    assert sig.value.isna().all().all()
