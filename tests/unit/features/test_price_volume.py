"""Price, moving-average and volume features against independent computations.

References are plain Python loops over short series (textbook formulas written out bar by
bar), TA-Lib where it computes the same quantity another way (OBV), or hand-built bars with a
known answer.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import talib

from alphaforge.features import compute

N = 320


def _frame(
    open_: list[float] | np.ndarray,
    high: list[float] | np.ndarray,
    low: list[float] | np.ndarray,
    close: list[float] | np.ndarray,
    volume: list[float] | np.ndarray,
) -> pd.DataFrame:
    n = len(close)
    index = pd.date_range("2020-01-01", periods=n, freq="D", tz="UTC", name="timestamp")
    return pd.DataFrame(
        {
            "open": np.asarray(open_, dtype=np.float64),
            "high": np.asarray(high, dtype=np.float64),
            "low": np.asarray(low, dtype=np.float64),
            "close": np.asarray(close, dtype=np.float64),
            "volume": np.asarray(volume, dtype=np.float64),
        },
        index=index.as_unit("ns"),
    )


def _bars(seed: int = 0, n: int = N) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 60.0 * np.exp(np.cumsum(rng.normal(0.0003, 0.015, n)))
    open_ = close * np.exp(rng.normal(0, 0.006, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.007, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.007, n)))
    volume = rng.lognormal(12, 0.5, n)
    return _frame(open_, high, low, close, volume)


def _cols(bars: pd.DataFrame) -> tuple[list[float], ...]:
    return tuple(bars[c].tolist() for c in ("open", "high", "low", "close", "volume"))


def _check(got: pd.Series, expected: list[float], rtol: float = 1e-10) -> None:
    """Compare a feature with a reference list whose warm-up entries are NaN."""
    want = np.asarray(expected, dtype=np.float64)
    values = got.to_numpy()
    assert np.array_equal(np.isnan(values), np.isnan(want))
    np.testing.assert_allclose(values, want, rtol=rtol, atol=1e-13, equal_nan=True)


def _nan(n: int) -> list[float]:
    return [math.nan] * n


# --- price ------------------------------------------------------------------------------------


@pytest.mark.parametrize("lag", [2, 3, 120, 252])
def test_ret_log_matches_a_loop(lag: int) -> None:
    bars = _bars()
    _, _, _, c, _ = _cols(bars)
    expected = _nan(lag) + [math.log(c[i] / c[i - lag]) for i in range(lag, N)]
    _check(compute(bars, [f"ret_log_{lag}"])[f"ret_log_{lag}"], expected)


def test_ret_log_oc_and_clv_by_hand() -> None:
    # Bars: closes at the high, at the low, in the middle, and a flat bar.
    bars = _frame(
        [10.0, 12.0, 10.0, 5.0],
        [12.0, 12.0, 12.0, 5.0],
        [10.0, 10.0, 10.0, 5.0],
        [12.0, 10.0, 11.0, 5.0],
        [1.0, 1.0, 1.0, 1.0],
    )
    out = compute(bars, ["clv", "ret_log_oc"])
    assert out["clv"].tolist() == pytest.approx([1.0, -1.0, 0.0, 0.0])
    assert out["ret_log_oc"].tolist() == pytest.approx(
        [math.log(1.2), math.log(10 / 12), math.log(1.1), 0.0]
    )


def test_clv_matches_a_loop() -> None:
    bars = _bars(1)
    _, h, lo, c, _ = _cols(bars)
    expected = [((c[i] - lo[i]) - (h[i] - c[i])) / (h[i] - lo[i]) for i in range(N)]
    got = compute(bars, ["clv"])["clv"]
    _check(got, expected)
    assert got.between(-1, 1).all()


def _vwap_loop(
    h: list[float], lo: list[float], c: list[float], v: list[float], p: int
) -> list[float]:
    out = _nan(p - 1)
    for i in range(p - 1, len(c)):
        num = den = 0.0
        for j in range(i - p + 1, i + 1):
            tp = (h[j] + lo[j] + c[j]) / 3
            num += tp * v[j]
            den += v[j]
        out.append(num / den)
    return out


def test_vwap_and_distances_match_a_loop() -> None:
    bars = _bars(2)
    _, h, lo, c, v = _cols(bars)
    out = compute(bars, ["vwap_20", "dist_vwap_5", "dist_vwap_20", "dist_vwap_60"])
    _check(out["vwap_20"], _vwap_loop(h, lo, c, v, 20))
    for p in (5, 20, 60):
        ref = _vwap_loop(h, lo, c, v, p)
        _check(out[f"dist_vwap_{p}"], [c[i] / ref[i] - 1 for i in range(N)])


def test_vwap_without_volume_is_the_mean_typical_price() -> None:
    bars = _bars(3, 40)
    bars["volume"] = 0.0
    _, h, lo, c, _ = _cols(bars)
    got = compute(bars, ["vwap_20"])["vwap_20"]
    tp = [(h[j] + lo[j] + c[j]) / 3 for j in range(40)]
    assert got.iloc[-1] == pytest.approx(sum(tp[20:40]) / 20, rel=1e-12)


@pytest.mark.parametrize("period", [20, 50, 252])
def test_support_resistance_levels_match_a_loop(period: int) -> None:
    bars = _bars(4)
    _, h, lo, c, _ = _cols(bars)
    dist_high, dist_low, pos = _nan(period - 1), _nan(period - 1), _nan(period - 1)
    for i in range(period - 1, N):
        top = max(h[i - period + 1 : i + 1])
        bottom = min(lo[i - period + 1 : i + 1])
        dist_high.append(c[i] / top - 1)
        dist_low.append(c[i] / bottom - 1)
        pos.append((c[i] - bottom) / (top - bottom))
    names = [f"dist_high_{period}", f"dist_low_{period}", f"range_pos_{period}"]
    out = compute(bars, names)
    _check(out[names[0]], dist_high)
    _check(out[names[1]], dist_low)
    _check(out[names[2]], pos)
    assert (out[names[0]].dropna() <= 0).all()
    assert (out[names[1]].dropna() >= 0).all()


def test_range_position_of_a_flat_market_is_one_half() -> None:
    flat = [10.0] * 30
    out = compute(_frame(flat, flat, flat, flat, flat), ["range_pos_20", "donchian_pos_55"])
    assert out["range_pos_20"].iloc[19:].tolist() == [0.5] * 11
    assert out["donchian_pos_55"].isna().all()  # 30 bars: still in the warm-up


def test_sr_touches_50_by_hand_and_by_loop() -> None:
    # Highs at 100 except three near the top: 110 (the max), 109.5 (within 1%), 108 (not).
    high = [100.0] * 50
    high[10], high[20], high[30] = 110.0, 109.5, 108.0
    close = [h - 1 for h in high]
    out = compute(_frame(close, high, close, close, [1.0] * 50), ["sr_touches_50"])
    assert np.isnan(out["sr_touches_50"].iloc[48])
    assert out["sr_touches_50"].iloc[49] == 2.0

    bars = _bars(5)
    _, h, _, _, _ = _cols(bars)
    expected = _nan(49)
    for i in range(49, N):
        window = h[i - 49 : i + 1]
        top = max(window)
        expected.append(float(sum(1 for x in window if x >= 0.99 * top)))
    _check(compute(bars, ["sr_touches_50"])["sr_touches_50"], expected)


def _swing_bars(up: bool, last_close: float) -> pd.DataFrame:
    """100 bars between 100 and 200: the low first then the high (up), or the reverse."""
    close = [150.0] * 100
    high = [151.0] * 100
    low = [149.0] * 100
    first, second = (10, 60) if up else (60, 10)
    low[first], close[first] = 100.0, 100.5
    high[second], close[second] = 200.0, 199.5
    close[-1] = last_close
    high[-1] = max(high[-1], last_close)
    low[-1] = min(low[-1], last_close)
    return _frame(close, high, low, close, [1.0] * 100)


FIB = ["fib_pos_100", "dist_fib_382_100", "dist_fib_500_100", "dist_fib_618_100"]


def test_fibonacci_levels_of_an_up_swing() -> None:
    # Up-swing 100 -> 200: the 38.2% retracement level is 200 - 38.2 = 161.8.
    last = compute(_swing_bars(True, 161.8), FIB).iloc[-1]
    assert last["fib_pos_100"] == pytest.approx(0.382)
    assert last["dist_fib_382_100"] == pytest.approx(0.0, abs=1e-12)
    assert last["dist_fib_500_100"] == pytest.approx((161.8 - 150.0) / 100)
    assert last["dist_fib_618_100"] == pytest.approx((161.8 - 138.2) / 100)


def test_fibonacci_levels_of_a_down_swing() -> None:
    # Down-swing 200 -> 100: the 61.8% retracement level is 100 + 61.8 = 161.8.
    last = compute(_swing_bars(False, 161.8), FIB).iloc[-1]
    assert last["fib_pos_100"] == pytest.approx(0.618)
    assert last["dist_fib_382_100"] == pytest.approx((161.8 - 138.2) / 100)
    assert last["dist_fib_500_100"] == pytest.approx((161.8 - 150.0) / 100)
    assert last["dist_fib_618_100"] == pytest.approx(0.0, abs=1e-12)


def test_fibonacci_levels_match_a_loop() -> None:
    bars = _bars(6)
    _, h, lo, c, _ = _cols(bars)
    expected: dict[str, list[float]] = {name: _nan(99) for name in FIB}
    for i in range(99, N):
        start = i - 99
        top, bottom = max(h[start : i + 1]), min(lo[start : i + 1])
        when_top = max(j for j in range(start, i + 1) if h[j] == top)
        when_bottom = max(j for j in range(start, i + 1) if lo[j] == bottom)
        rng = top - bottom
        if when_top >= when_bottom:
            levels = {r: top - r * rng for r in (0.382, 0.5, 0.618)}
            retracement = (top - c[i]) / rng
        else:
            levels = {r: bottom + r * rng for r in (0.382, 0.5, 0.618)}
            retracement = (c[i] - bottom) / rng
        expected["fib_pos_100"].append(retracement)
        for r, name in zip((0.382, 0.5, 0.618), FIB[1:], strict=True):
            expected[name].append((c[i] - levels[r]) / rng)
    out = compute(bars, FIB)
    for name in FIB:
        _check(out[name], expected[name], rtol=1e-9)


def test_donchian_channels_match_a_loop() -> None:
    bars = _bars(7)
    _, h, lo, c, _ = _cols(bars)
    names = ["donchian_upper_20", "donchian_lower_20", "donchian_width_20", "donchian_pos_55"]
    out = compute(bars, names)
    upper = _nan(19) + [max(h[i - 19 : i + 1]) for i in range(19, N)]
    lower = _nan(19) + [min(lo[i - 19 : i + 1]) for i in range(19, N)]
    _check(out["donchian_upper_20"], upper)
    _check(out["donchian_lower_20"], lower)
    _check(out["donchian_width_20"], [(upper[i] - lower[i]) / c[i] for i in range(N)])
    pos = _nan(54)
    for i in range(54, N):
        top, bottom = max(h[i - 54 : i + 1]), min(lo[i - 54 : i + 1])
        pos.append((c[i] - bottom) / (top - bottom))
    _check(out["donchian_pos_55"], pos)


# --- moving averages --------------------------------------------------------------------------


def _sma_loop(c: list[float], p: int) -> list[float]:
    return _nan(p - 1) + [sum(c[i - p + 1 : i + 1]) / p for i in range(p - 1, len(c))]


def _ema_loop(c: list[float], p: int) -> list[float]:
    """EMA seeded with the mean of the first ``p`` values (TA-Lib's convention)."""
    alpha = 2 / (p + 1)
    out = _nan(p - 1)
    value = sum(c[:p]) / p
    out.append(value)
    for x in c[p:]:
        value = alpha * x + (1 - alpha) * value
        out.append(value)
    return out


@pytest.mark.parametrize("period", [5, 10, 100])
def test_dist_sma_matches_a_loop(period: int) -> None:
    bars = _bars(8)
    c = bars["close"].tolist()
    sma = _sma_loop(c, period)
    expected = [c[i] / sma[i] - 1 for i in range(N)]
    _check(compute(bars, [f"dist_sma_{period}"])[f"dist_sma_{period}"], expected, rtol=1e-9)


@pytest.mark.parametrize("period", [5, 10, 20, 50, 100, 200])
def test_dist_ema_matches_a_loop(period: int) -> None:
    bars = _bars(9)
    c = bars["close"].tolist()
    ema = _ema_loop(c, period)
    expected = [c[i] / ema[i] - 1 for i in range(N)]
    _check(compute(bars, [f"dist_ema_{period}"])[f"dist_ema_{period}"], expected, rtol=1e-9)


def test_sma_ratios_and_ema_slopes_match_a_loop() -> None:
    bars = _bars(10)
    c = bars["close"].tolist()
    names = [
        "sma_ratio_5_20",
        "sma_ratio_20_50",
        "sma_ratio_50_200",
        "ema_slope_20",
        "ema_slope_50",
    ]
    out = compute(bars, names)
    for fast, slow in ((5, 20), (20, 50), (50, 200)):
        a, b = _sma_loop(c, fast), _sma_loop(c, slow)
        _check(out[f"sma_ratio_{fast}_{slow}"], [math.log(a[i] / b[i]) for i in range(N)], 1e-8)
    for p in (20, 50):
        ema = _ema_loop(c, p)
        expected = _nan(5) + [math.log(ema[i] / ema[i - 5]) for i in range(5, N)]
        _check(out[f"ema_slope_{p}"], expected, rtol=1e-8)
        assert out[f"ema_slope_{p}"].first_valid_index() == bars.index[p - 1 + 5]


def test_ma_alignment_by_hand_and_by_loop() -> None:
    rising = [100.0 + i for i in range(260)]
    falling = rising[::-1]
    up = compute(_frame(rising, rising, rising, rising, [1.0] * 260), ["ma_alignment"])
    down = compute(_frame(falling, falling, falling, falling, [1.0] * 260), ["ma_alignment"])
    assert up["ma_alignment"].iloc[199:].tolist() == [1.0] * 61
    assert down["ma_alignment"].iloc[199:].tolist() == [-1.0] * 61
    assert up["ma_alignment"].iloc[:199].isna().all()

    bars = _bars(11)
    c = bars["close"].tolist()
    periods = (5, 10, 20, 50, 100, 200)
    smas = {p: _sma_loop(c, p) for p in periods}
    expected = _nan(199)
    for i in range(199, N):
        bull = bear = 0
        for a in range(len(periods)):
            for b in range(a + 1, len(periods)):
                short, long = smas[periods[a]][i], smas[periods[b]][i]
                bull += short > long
                bear += short < long
        expected.append((bull - bear) / 15)
    _check(compute(bars, ["ma_alignment"])["ma_alignment"], expected)


# --- volume -----------------------------------------------------------------------------------


def test_volume_ratios_z_and_dollar_volume_match_a_loop() -> None:
    bars = _bars(12)
    _, _, _, c, v = _cols(bars)
    names = ["volume_ratio_5_20", "volume_ratio_20_60", "volume_z_60", "dollar_volume_log_20"]
    out = compute(bars, names)
    for fast, slow in ((5, 20), (20, 60)):
        expected = _nan(slow - 1)
        for i in range(slow - 1, N):
            short = sum(v[i - fast + 1 : i + 1]) / fast
            long = sum(v[i - slow + 1 : i + 1]) / slow
            expected.append(math.log(short / long))
        _check(out[f"volume_ratio_{fast}_{slow}"], expected)
    z = _nan(59)
    for i in range(59, N):
        window = [math.log(1 + x) for x in v[i - 59 : i + 1]]
        mean = sum(window) / 60
        std = math.sqrt(sum((x - mean) ** 2 for x in window) / 59)
        z.append((window[-1] - mean) / std)
    _check(out["volume_z_60"], z, rtol=1e-8)
    dollar = _nan(19)
    for i in range(19, N):
        dollar.append(math.log(sum(c[j] * v[j] for j in range(i - 19, i + 1)) / 20))
    _check(out["dollar_volume_log_20"], dollar)


def test_cmf_matches_a_loop_and_a_hand_case() -> None:
    bars = _bars(13)
    _, h, lo, c, v = _cols(bars)
    expected = _nan(19)
    for i in range(19, N):
        flow = sum(
            ((c[j] - lo[j]) - (h[j] - c[j])) / (h[j] - lo[j]) * v[j] for j in range(i - 19, i + 1)
        )
        expected.append(flow / sum(v[i - 19 : i + 1]))
    _check(compute(bars, ["cmf_20"])["cmf_20"], expected)
    # Every bar closing at its high: all money flows in, CMF = 1.
    close = [10.0 + i for i in range(25)]
    low = [x - 1 for x in close]
    hand = compute(_frame(low, close, low, close, [5.0] * 25), ["cmf_20"])["cmf_20"]
    assert hand.iloc[19:].tolist() == pytest.approx([1.0] * 6)


def test_vpt_and_its_slope_match_a_loop() -> None:
    bars = _bars(14)
    _, _, _, c, v = _cols(bars)
    vpt = [math.nan]
    total = 0.0
    for i in range(1, N):
        total += v[i] * (c[i] - c[i - 1]) / c[i - 1]
        vpt.append(total)
    out = compute(bars, ["vpt", "vpt_slope_20"])
    _check(out["vpt"], vpt, rtol=1e-9)
    # Slope: change of the cumulative VPT over 20 bars over those bars' volume.
    slope = _nan(20)
    for i in range(20, N):
        before = vpt[i - 20] if i - 20 >= 1 else 0.0
        slope.append((vpt[i] - before) / sum(v[i - 19 : i + 1]))
    _check(out["vpt_slope_20"], slope, rtol=1e-6)


def test_obv_slope_matches_talib_obv() -> None:
    bars = _bars(15)
    c = bars["close"].to_numpy()
    v = bars["volume"].to_numpy()
    obv = talib.OBV(c, v)
    expected = _nan(20) + [
        (obv[i] - obv[i - 20]) / float(v[i - 19 : i + 1].sum()) for i in range(20, N)
    ]
    got = compute(bars, ["obv_slope_20"])["obv_slope_20"]
    _check(got, expected, rtol=1e-8)
    assert got.dropna().between(-1, 1).all()


@pytest.mark.parametrize("period", [10, 20])
def test_vw_mom_matches_a_loop(period: int) -> None:
    bars = _bars(16)
    _, _, _, c, v = _cols(bars)
    expected = _nan(period)
    for i in range(period, N):
        num = sum(v[j] * math.log(c[j] / c[j - 1]) for j in range(i - period + 1, i + 1))
        expected.append(num / sum(v[i - period + 1 : i + 1]))
    _check(compute(bars, [f"vw_mom_{period}"])[f"vw_mom_{period}"], expected, rtol=1e-9)


def test_force_index_matches_a_loop() -> None:
    bars = _bars(17)
    _, _, _, c, v = _cols(bars)
    flow = [v[i] * math.log(c[i] / c[i - 1]) for i in range(1, N)]
    num = _ema_loop(flow, 13)
    den = _ema_loop(v[1:], 13)
    expected = [math.nan] + [num[i] / den[i] for i in range(N - 1)]
    got = compute(bars, ["force_index_13"])["force_index_13"]
    _check(got, expected, rtol=1e-9)
    assert got.first_valid_index() == bars.index[13]


def test_emv_matches_a_loop() -> None:
    bars = _bars(18)
    _, h, lo, _, v = _cols(bars)
    mid = [(h[i] + lo[i]) / 2 for i in range(N)]
    expected = _nan(14)
    for i in range(14, N):
        window = range(i - 13, i + 1)
        mean_volume = sum(v[j] for j in window) / 14
        terms = [
            math.log(mid[j] / mid[j - 1]) * ((h[j] - lo[j]) / mid[j]) / (v[j] / mean_volume)
            for j in window
        ]
        expected.append(sum(terms) / 14)
    _check(compute(bars, ["emv_14"])["emv_14"], expected, rtol=1e-9)


# --- volume profile ---------------------------------------------------------------------------

PROFILE = ["volume_profile_poc_dist_50", "volume_profile_va_pos_50"]


def _profile_loop(bars: pd.DataFrame) -> tuple[list[float], list[float]]:
    _, h, lo, c, v = _cols(bars)
    n = len(c)
    dist, side = _nan(49), _nan(49)
    for i in range(49, n):
        idx = range(i - 49, i + 1)
        top, bottom = max(h[j] for j in idx), min(lo[j] for j in idx)
        width = (top - bottom) / 20
        volume_at = [0.0] * 20
        for j in idx:
            tp = (h[j] + lo[j] + c[j]) / 3
            k = 0 if width == 0 else min(19, max(0, math.floor((tp - bottom) / width)))
            volume_at[k] += v[j]
        poc = volume_at.index(max(volume_at))
        dist.append((c[i] - (bottom + (poc + 0.5) * width)) / c[i])
        first = last = poc
        held = volume_at[poc]
        while held < 0.7 * sum(volume_at):
            below = volume_at[first - 1] if first > 0 else -1.0
            above = volume_at[last + 1] if last < 19 else -1.0
            if above >= below:
                last += 1
                held += above
            else:
                first -= 1
                held += below
        va_low, va_high = bottom + first * width, bottom + (last + 1) * width
        side.append(-1.0 if c[i] < va_low else (1.0 if c[i] > va_high else 0.0))
    return dist, side


def test_volume_profile_matches_a_loop() -> None:
    bars = _bars(19)
    dist, side = _profile_loop(bars)
    out = compute(bars, PROFILE)
    _check(out[PROFILE[0]], dist, rtol=1e-9)
    _check(out[PROFILE[1]], side)
    assert set(out[PROFILE[1]].dropna().unique()) == {-1.0, 0.0, 1.0}


def _one_price_window(last_close: float) -> pd.DataFrame:
    """50 bars spanning 100..120 (bins of 1.0); all the volume trades at 110.5."""
    price = [110.5] * 50
    high, low = list(price), list(price)
    volume = [1000.0] * 50
    high[0], low[0], volume[0] = 120.0, 100.0, 0.0  # sets the range, trades nothing
    high[-1] = low[-1] = price[-1] = last_close
    volume[-1] = 0.0
    return _frame(price, high, low, price, volume)


@pytest.mark.parametrize(
    ("last_close", "side"), [(110.5, 0.0), (110.2, 0.0), (115.0, 1.0), (105.0, -1.0)]
)
def test_volume_profile_with_all_volume_at_one_price(last_close: float, side: float) -> None:
    out = compute(_one_price_window(last_close), PROFILE)
    assert out[PROFILE[0]].iloc[:49].isna().all()
    # The POC is the bin 110..111, priced at its centre 110.5; the value area is that bin.
    assert out[PROFILE[0]].iloc[-1] == pytest.approx((last_close - 110.5) / last_close)
    assert out[PROFILE[1]].iloc[-1] == side


def test_value_area_grows_towards_the_fuller_neighbour() -> None:
    # Bins (width 1 over 100..120): 110 holds 50, 111 holds 30, 109 holds 20 of 100 in all.
    # From the POC (50) the area adds bin 111 (30 > 20) and reaches 80 >= 70: area 110..112.
    price = [110.5] * 5 + [111.5] * 3 + [109.5] * 2 + [115.0] * 40
    volume = [10.0] * 10 + [0.0] * 40
    high, low = list(price), list(price)
    high[10], low[10] = 120.0, 100.0
    for last_close, side in ((109.8, -1.0), (111.9, 0.0), (112.5, 1.0)):
        price[-1] = high[-1] = low[-1] = last_close
        out = compute(_frame(price, high, low, price, volume), PROFILE)
        assert out[PROFILE[1]].iloc[-1] == side
        assert out[PROFILE[0]].iloc[-1] == pytest.approx((last_close - 110.5) / last_close)
