"""Candlestick features: hand-built bars with known shapes, and the TA-Lib pattern scores.

The TA-Lib pattern features themselves are checked against TA-Lib by the generic golden test
(``test_talib_golden.py``); here the own patterns are checked on textbook bars and against
plain-loop references, and the net score and count against a direct sum over TA-Lib.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
import talib
from talib import abstract

from alphaforge.features import FEATURES, compute
from alphaforge.features.testing import random_bars, real_bars

FloatArray = npt.NDArray[np.float64]
_GROUPS: Any = getattr(talib, "get_function_groups")  # noqa: B009
_Function: Any = getattr(abstract, "Function")  # noqa: B009
CANDLES: list[str] = sorted(_GROUPS()["Pattern Recognition"])


def _frame(open_: list[float], high: list[float], low: list[float], close: list[float]) -> Any:
    n = len(close)
    index = pd.date_range("2021-01-04", periods=n, freq="D", tz="UTC", name="timestamp")
    return pd.DataFrame(
        {
            "open": np.asarray(open_, dtype=np.float64),
            "high": np.asarray(high, dtype=np.float64),
            "low": np.asarray(low, dtype=np.float64),
            "close": np.asarray(close, dtype=np.float64),
            "volume": np.full(n, 1e6),
        },
        index=index.as_unit("ns"),
    )


def _hl_frame(high: list[float], low: list[float]) -> Any:
    mid = [(h + lo) / 2 for h, lo in zip(high, low, strict=True)]
    return _frame(mid, high, low, mid)


def _close_frame(close: list[float]) -> Any:
    return _frame(close, [c + 0.5 for c in close], [c - 0.5 for c in close], close)


# --- pin bar ----------------------------------------------------------------------------------


def test_pin_bar_textbook_bars() -> None:
    bars = _frame(
        # hammer, shooting star, marubozu, flat, lower shadow exactly 2/3, just under 2/3
        open_=[10.0, 10.2, 10.0, 10.0, 2.0, 1.9],
        high=[10.25, 12.0, 12.0, 10.0, 3.0, 3.0],
        low=[8.0, 10.0, 10.0, 10.0, 0.0, 0.0],
        close=[10.2, 10.1, 12.0, 10.0, 2.0, 1.9],
    )
    got = compute(bars, ["pin_bar"])["pin_bar"].tolist()
    assert got == [1.0, -1.0, 0.0, 0.0, 1.0, 0.0]


def _pin_bar_by_loop(bars: pd.DataFrame) -> list[float]:
    out = []
    for o, h, lo, c in bars[["open", "high", "low", "close"]].itertuples(index=False):
        span = h - lo
        value = 0.0
        if span > 0:
            if (min(o, c) - lo) / span >= 2 / 3:
                value = 1.0
            elif (h - max(o, c)) / span >= 2 / 3:
                value = -1.0
            # Either shadow taking 2/3 of the range leaves at most 1/3 to the body.
            assert value == 0.0 or abs(c - o) <= span / 3 + 1e-12
        out.append(value)
    return out


def test_pin_bar_matches_a_loop_on_random_bars() -> None:
    bars = random_bars(3, 800)
    got = compute(bars, ["pin_bar"])["pin_bar"]
    expected = _pin_bar_by_loop(bars)
    assert got.tolist() == expected
    assert 0 < (got != 0).sum() < len(bars)


# --- inside / outside bars ----------------------------------------------------------------------


def test_inside_and_outside_bars() -> None:
    bars = _hl_frame(high=[10.0, 9.5, 10.0, 10.0, 10.5, 10.2], low=[8.0, 8.5, 8.0, 8.5, 7.5, 7.5])
    out = compute(bars, ["inside_bar", "outside_bar"])
    # bar 1 inside bar 0; bar 2 engulfs bar 1; bar 3 equal high (neither); bar 4 engulfs;
    # bar 5 equal low (neither).
    np.testing.assert_array_equal(out["inside_bar"], [np.nan, 1, 0, 0, 0, 0])
    np.testing.assert_array_equal(out["outside_bar"], [np.nan, 0, 1, 0, 1, 0])


# --- consecutive closes -------------------------------------------------------------------------


def _run_by_loop(close: FloatArray, up: bool, cap: int = 10) -> list[float]:
    out = [np.nan]
    for i in range(1, len(close)):
        count = 0
        j = i
        while j >= 1 and ((close[j] > close[j - 1]) if up else (close[j] < close[j - 1])):
            count += 1
            j -= 1
        out.append(float(min(count, cap)))
    return out


def test_consecutive_closes_hand_case() -> None:
    bars = _close_frame([10.0, 11.0, 12.0, 11.0, 11.0, 12.0, 13.0, 14.0, 13.0])
    out = compute(bars, ["consec_up", "consec_down"])
    np.testing.assert_array_equal(out["consec_up"], [np.nan, 1, 2, 0, 0, 1, 2, 3, 0])
    np.testing.assert_array_equal(out["consec_down"], [np.nan, 0, 0, 1, 0, 0, 0, 0, 1])


def test_consecutive_closes_are_capped_at_ten() -> None:
    rising = [100.0 + i for i in range(15)]
    bars = _close_frame([*rising, 113.0, *(113.0 - 0.5 * i for i in range(1, 14))])
    out = compute(bars, ["consec_up", "consec_down"])
    assert out["consec_up"].iloc[1:15].tolist() == [*range(1, 11), 10, 10, 10, 10]
    assert out["consec_down"].iloc[15:].tolist() == [1, *range(2, 11), 10, 10, 10, 10]
    assert FEATURES.get("consec_up").memory == 10


def test_consecutive_closes_match_a_loop_on_random_bars() -> None:
    bars = random_bars(4, 600)
    out = compute(bars, ["consec_up", "consec_down"])
    close = bars["close"].to_numpy()
    np.testing.assert_array_equal(out["consec_up"], _run_by_loop(close, up=True))
    np.testing.assert_array_equal(out["consec_down"], _run_by_loop(close, up=False))


# --- TA-Lib pattern score and count -------------------------------------------------------------


def _direct_signals(bars: pd.DataFrame) -> list[FloatArray]:
    o, h, lo, c = (bars[x].to_numpy() for x in ("open", "high", "low", "close"))
    return [np.asarray(getattr(talib, fn)(o, h, lo, c), dtype=np.float64) for fn in CANDLES]


@pytest.mark.parametrize("kind", ["random", "goog"])
def test_pattern_strength_and_count_are_the_direct_sum(kind: str) -> None:
    bars = random_bars(6, 1200) if kind == "random" else real_bars("GOOG")[0]
    out = compute(bars, ["pattern_strength", "pattern_count"])
    signals = _direct_signals(bars)
    total = np.zeros(len(bars))
    count = np.zeros(len(bars))
    for values in signals:
        total += values / 100.0
        count += values != 0
    warmup = FEATURES.get("pattern_strength").warmup
    assert warmup == 14  # the longest candle lookback
    assert FEATURES.get("pattern_count").warmup == warmup
    for name in ("pattern_strength", "pattern_count"):
        assert out[name].iloc[:warmup].isna().all()
    np.testing.assert_allclose(out["pattern_strength"].to_numpy()[warmup:], total[warmup:])
    np.testing.assert_array_equal(out["pattern_count"].to_numpy()[warmup:], count[warmup:])
    strength = out["pattern_strength"].to_numpy()[warmup:]
    assert (strength > 0).any()
    assert (strength < 0).any()
    assert (out["pattern_count"].to_numpy()[warmup:] >= np.abs(strength) / 2).all()


def test_candle_features_are_talib_signals_with_nan_warmup() -> None:
    bars = random_bars(8, 1000)
    names = [fn.lower() for fn in CANDLES]
    out = compute(bars, names)
    for fn, values in zip(CANDLES, _direct_signals(bars), strict=True):
        spec = FEATURES.get(fn.lower())
        got = out[fn.lower()].to_numpy()
        assert spec.warmup == _Function(fn).lookback
        assert np.isnan(got[: spec.warmup]).all()
        np.testing.assert_array_equal(got[spec.warmup :], values[spec.warmup :])
        assert set(np.unique(got[spec.warmup :])) <= {-200.0, -100.0, 0.0, 100.0, 200.0}
    assert out.iloc[20:].notna().all().all()
