"""overlap_reversal on a constructed forex series: a weakening rally to a 20-bar high, then a
bearish engulfing bar in the London-New York overlap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaforge.core.types import AssetClass, Instrument
from alphaforge.strategies import STRATEGIES, MarketFrames

ENGULFING_AT = pd.Timestamp("2024-01-08 13:00", tz="UTC")


def _rally_then_engulfing(engulfing_at: pd.Timestamp = ENGULFING_AT) -> pd.DataFrame:
    """A strong rally, a dip, a slow creep to a new 20-bar high (RSI lower than at the rally:
    a bearish divergence), then a bearish engulfing bar at ``engulfing_at`` and flat bars."""
    closes = [1.10 + 0.001 * k for k in range(40)]
    closes += [closes[-1] - 0.0005 * (k + 1) for k in range(5)]
    while closes[-1] <= closes[39]:
        closes.append(closes[-1] + 0.0003)
    opens = [closes[0], *closes[:-1]]
    engulfing = len(closes)
    opens.append(closes[-1] + 0.0001)  # opens above the last white bar's close ...
    closes.append(opens[-2] - 0.0002)  # ... and closes below its open
    opens += [closes[-1]] * 10
    closes += [closes[-1]] * 10
    o, c = np.array(opens), np.array(closes)
    start = engulfing_at - pd.Timedelta(hours=engulfing)
    index = pd.date_range(start, periods=c.size, freq="1h", tz="UTC", name="timestamp")
    return pd.DataFrame(
        {
            "open": o,
            "high": np.maximum(o, c) + 0.0002,
            "low": np.minimum(o, c) - 0.0002,
            "close": c,
            "volume": 1e6,
        },
        index=index,
    )


def _market(bars: pd.DataFrame, asset_class: AssetClass = AssetClass.FOREX) -> MarketFrames:
    return MarketFrames.from_bars({"EURUSD": bars}, {"EURUSD": Instrument("EURUSD", asset_class)})


def _mirror(bars: pd.DataFrame) -> pd.DataFrame:
    """Reflect prices about 2.3: rallies become sell-offs, bearish bars bullish."""
    out = bars.copy()
    out["open"], out["close"] = 2.3 - bars["open"], 2.3 - bars["close"]
    out["high"], out["low"] = 2.3 - bars["low"], 2.3 - bars["high"]
    return out


def test_a_bearish_engulfing_after_a_bearish_divergence_in_the_overlap_goes_short() -> None:
    bars = _rally_then_engulfing()
    market = _market(bars)
    # The construction: divergence on the bar before, engulfing on the bar itself.
    before = ENGULFING_AT - pd.Timedelta(hours=1)
    assert market.feature("rsi_div_14_20").loc[before, "EURUSD"] == -1.0
    assert market.feature("cdlengulfing").loc[ENGULFING_AT, "EURUSD"] < 0.0
    sig = STRATEGIES.get("overlap_reversal")().signals(market)
    value = sig.value["EURUSD"]
    atr = float(market.feature("atr_14").loc[ENGULFING_AT, "EURUSD"])
    highest = float(bars["high"].loc[:ENGULFING_AT].iloc[-20:].max())
    close = float(bars.loc[ENGULFING_AT, "close"])
    assert value[before] == 0.0
    assert value[ENGULFING_AT] == -1.0
    assert sig.stop.loc[ENGULFING_AT, "EURUSD"] == pytest.approx(highest + 1.5 * atr)
    assert sig.target.loc[ENGULFING_AT, "EURUSD"] == pytest.approx(close - 3.0 * atr)
    # Held to the overlap's end: the bar closing at 16:00 UTC turns it flat.
    assert value[pd.Timestamp("2024-01-08 14:00", tz="UTC")] == -1.0
    assert (value[value.index >= pd.Timestamp("2024-01-08 15:00", tz="UTC")] == 0.0).all()


def test_the_mirror_goes_long() -> None:
    bars = _mirror(_rally_then_engulfing())
    sig = STRATEGIES.get("overlap_reversal")().signals(_market(bars))
    assert sig.value.loc[ENGULFING_AT, "EURUSD"] == 1.0
    lowest = float(bars["low"].loc[:ENGULFING_AT].iloc[-20:].min())
    assert sig.stop.loc[ENGULFING_AT, "EURUSD"] < lowest


def test_outside_the_overlap_or_without_the_divergence_nothing_happens() -> None:
    late = _rally_then_engulfing(pd.Timestamp("2024-01-08 18:00", tz="UTC"))
    sig = STRATEGIES.get("overlap_reversal")().signals(_market(late))
    assert (sig.value["EURUSD"].dropna() == 0.0).all()
    # With the divergence required on the engulfing bar itself, it never comes.
    strict = STRATEGIES.get("overlap_reversal")(confirm_bars=1)
    assert (strict.signals(_market(_rally_then_engulfing())).value["EURUSD"].dropna() == 0.0).all()


def test_crypto_gets_no_signal() -> None:
    sig = STRATEGIES.get("overlap_reversal")().signals(
        _market(_rally_then_engulfing(), AssetClass.CRYPTO)
    )
    assert sig.value.isna().all().all()
