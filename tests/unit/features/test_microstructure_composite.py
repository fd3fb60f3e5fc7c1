"""Microstructure and composite features against textbook loops, closed forms and known series."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import talib
from scipy.stats import norm

from alphaforge.features import FEATURES, compute
from alphaforge.features.library.composite import divergence, signed_run
from alphaforge.features.registry import BarArrays, FloatArray
from alphaforge.features.testing import random_bars

MICRO = (
    "roll_spread_20",
    "roll_spread_60",
    "cs_spread_20",
    "amihud_20",
    "amihud_60",
    "kyle_lambda_20",
    "kyle_lambda_60",
    "ofi_bvc_20",
    "noise_ratio_10",
    "noise_ratio_20",
    "variance_ratio_2_20",
    "variance_ratio_5_60",
    "intraday_ret_day",
    "intraday_rvol_day",
    "intraday_range_pos_day",
)
COMPOSITE = (
    "golden_cross_50_200",
    "days_since_cross_50_200",
    "cross_5_20",
    "days_since_cross_5_20",
    "cross_20_50",
    "days_since_cross_20_50",
    "rsi_div_14_20",
    "macd_div_20",
    "vol_price_confirm_20",
    "ttm_squeeze_20",
    "ttm_fire_20",
    "sr_breakout_20",
    "mtf_mom_align",
    "bull_market_score",
    "mean_reversion_setup",
    "breakout_setup",
    "trend_exhaustion",
)


def _arrays(
    close: FloatArray,
    *,
    high: FloatArray | None = None,
    low: FloatArray | None = None,
    open_: FloatArray | None = None,
    volume: FloatArray | None = None,
) -> BarArrays:
    n = len(close)
    stamps = pd.date_range("2020-01-01", periods=n, freq="D", tz="UTC").as_unit("ns").asi8
    return BarArrays(
        close.copy() if open_ is None else open_,
        close.copy() if high is None else high,
        close.copy() if low is None else low,
        close,
        np.ones(n) if volume is None else volume,
        np.asarray(stamps, dtype=np.int64),
    )


def _random(seed: int = 3, n: int = 400) -> BarArrays:
    return BarArrays.from_frame(random_bars(seed, n))


def _kernel(name: str, b: BarArrays) -> FloatArray:
    with np.errstate(all="ignore"):
        return np.asarray(FEATURES.get(name).kernel(b), dtype=np.float64)


def test_registered_with_categories() -> None:
    for name in MICRO:
        assert FEATURES.get(name).category == "microstructure"
    for name in COMPOSITE:
        assert FEATURES.get(name).category == "composite"
    assert FEATURES.get("obv_div_20").category == "volume"
    for name in ("intraday_ret_day", "intraday_rvol_day", "intraday_range_pos_day"):
        spec = FEATURES.get(name)
        assert spec.intraday_only
        assert spec.memory is None
    for name in COMPOSITE:
        if name.startswith("days_since_cross_"):
            assert FEATURES.get(name).memory is None


# --- Roll --------------------------------------------------------------------------------------


def test_roll_spread_recovers_a_bid_ask_bounce() -> None:
    rng = np.random.default_rng(1)
    ask, bid = 100.05, 99.95
    close = np.where(rng.random(4000) < 0.5, ask, bid)
    expected = math.log(ask / bid)  # 2 x half-spread in log price around a constant mid
    for name in ("roll_spread_20", "roll_spread_60"):
        values = _kernel(name, _arrays(close))
        finite = values[np.isfinite(values)]
        assert finite.size == 4000 - FEATURES.get(name).warmup
        assert abs(finite.mean() / expected - 1.0) < 0.06
    # Sixty pairs are enough for every window to see the negative autocovariance.
    assert np.median(_kernel("roll_spread_60", _arrays(close))[61:]) == pytest.approx(
        expected, rel=0.05
    )


def test_roll_spread_matches_a_loop_and_is_zero_on_a_trend() -> None:
    b = _random()
    values = _kernel("roll_spread_20", b)
    lp = np.log(b.close)
    dp = np.diff(lp)  # dp[j] is the return at row j + 1
    for t in range(21, len(b)):
        x = dp[t - 20 : t]  # returns at rows t-19..t
        y = dp[t - 21 : t - 1]  # returns at rows t-20..t-1
        cov = float(np.cov(x, y, ddof=1)[0, 1])
        assert values[t] == pytest.approx(2.0 * math.sqrt(max(-cov, 0.0)), rel=1e-9, abs=1e-14)
    trend = _kernel("roll_spread_20", _arrays(np.exp(np.linspace(0.0, 1.0, 80) ** 2)))
    assert np.all(trend[21:] == 0.0)


# --- Corwin-Schultz ----------------------------------------------------------------------------


def test_corwin_schultz_matches_a_textbook_loop() -> None:
    b = _random(5)
    values = _kernel("cs_spread_20", b)
    k = 3.0 - 2.0 * math.sqrt(2.0)
    daily = [math.nan]
    for t in range(1, len(b)):
        beta = math.log(b.high[t] / b.low[t]) ** 2 + math.log(b.high[t - 1] / b.low[t - 1]) ** 2
        gamma = math.log(max(b.high[t], b.high[t - 1]) / min(b.low[t], b.low[t - 1])) ** 2
        alpha = (math.sqrt(2.0 * beta) - math.sqrt(beta)) / k - math.sqrt(gamma / k)
        spread = 2.0 * (math.exp(alpha) - 1.0) / (1.0 + math.exp(alpha))
        daily.append(max(spread, 0.0))
    assert np.isnan(values[:20]).all()
    for t in range(20, len(b)):
        assert values[t] == pytest.approx(sum(daily[t - 19 : t + 1]) / 20.0, rel=1e-10)
    assert (values[20:] >= 0.0).all()


# --- Amihud ------------------------------------------------------------------------------------


def test_amihud_60_matches_a_loop() -> None:
    b = _random(6)
    values = _kernel("amihud_60", b)
    t = 250
    ratios = [
        abs(math.log(b.close[s] / b.close[s - 1])) / (b.close[s] * b.volume[s]) * 1e9
        for s in range(t - 59, t + 1)
    ]
    assert values[t] == pytest.approx(sum(ratios) / 60.0, rel=1e-10)


# --- Kyle's lambda -----------------------------------------------------------------------------


@pytest.mark.parametrize(("window", "t"), [(20, 123), (60, 333)])
def test_kyle_lambda_matches_polyfit_on_one_window(window: int, t: int) -> None:
    b = _random(7)
    values = _kernel(f"kyle_lambda_{window}", b)
    rows = np.arange(t - window + 1, t + 1)
    r = np.log(b.close[rows] / b.close[rows - 1])
    dollar = b.close[rows] * b.volume[rows]
    slope = np.polyfit(np.sign(r) * np.sqrt(dollar), r, 1)[0]
    assert values[t] == pytest.approx(slope * math.sqrt(dollar.mean()), rel=1e-8)
    assert np.isnan(values[:window]).all()
    assert np.isfinite(values[window:]).all()


def test_kyle_lambda_is_scale_free() -> None:
    b = _random(8)
    scaled = b.with_prices(b.open * 7, b.high * 7, b.low * 7, b.close * 7, b.volume * 50)
    np.testing.assert_allclose(
        _kernel("kyle_lambda_20", scaled)[20:], _kernel("kyle_lambda_20", b)[20:], rtol=1e-8
    )


# --- Bulk volume classification ----------------------------------------------------------------


def test_ofi_bvc_matches_norm_cdf_in_a_loop() -> None:
    b = _random(9, 200)
    values = _kernel("ofi_bvc_20", b)
    r = np.full(len(b), np.nan)
    r[1:] = np.log(b.close[1:] / b.close[:-1])
    share = np.full(len(b), np.nan)
    for s in range(21, len(b)):
        sigma = float(np.std(r[s - 20 : s], ddof=1))  # the 20 returns before s
        share[s] = norm.cdf(r[s] / sigma)
    assert np.isnan(values[:40]).all()
    for t in range(40, len(b)):
        num = sum((2.0 * share[s] - 1.0) * b.volume[s] for s in range(t - 19, t + 1))
        den = sum(b.volume[s] for s in range(t - 19, t + 1))
        assert values[t] == pytest.approx(num / den, rel=1e-9, abs=1e-12)
    assert (np.abs(values[40:]) <= 1.0).all()


# --- Noise ratio and variance ratio ------------------------------------------------------------


def test_noise_ratio_of_a_monotone_series_is_zero_and_of_a_zigzag_is_one() -> None:
    rising = np.exp(np.cumsum(np.abs(np.random.default_rng(2).normal(0, 0.01, 120))) + 3.0)
    for name in ("noise_ratio_10", "noise_ratio_20"):
        values = _kernel(name, _arrays(rising))
        w = FEATURES.get(name).warmup
        assert np.isnan(values[:w]).all()
        np.testing.assert_allclose(values[w:], 0.0, atol=1e-12)
    zigzag = np.exp(np.where(np.arange(60) % 2 == 0, 0.0, 0.01) + 4.0)
    values = _kernel("noise_ratio_20", _arrays(zigzag))
    np.testing.assert_allclose(values[20:], 1.0, atol=1e-12)


def test_noise_ratio_matches_a_loop() -> None:
    b = _random(10)
    values = _kernel("noise_ratio_10", b)
    lp = np.log(b.close)
    for t in range(10, len(b)):
        path = sum(abs(lp[s] - lp[s - 1]) for s in range(t - 9, t + 1))
        assert values[t] == pytest.approx(1.0 - abs(lp[t] - lp[t - 10]) / path, abs=1e-12)


def _variance_ratio_loop(lp: FloatArray, t: int, q: int, w: int) -> float:
    r = [lp[s] - lp[s - 1] for s in range(t - w + 1, t + 1)]
    mu = sum(r) / w
    var_a = sum((x - mu) ** 2 for x in r) / (w - 1)
    rq = [lp[s] - lp[s - q] for s in range(t - w + q, t + 1)]
    m = q * (w - q + 1) * (1.0 - q / w)
    var_c = sum((x - q * mu) ** 2 for x in rq) / m
    return float(var_c / var_a)


@pytest.mark.parametrize(("q", "w"), [(2, 20), (5, 60)])
def test_variance_ratio_matches_lo_mackinlay_loop(q: int, w: int) -> None:
    b = _random(11, 200)
    values = _kernel(f"variance_ratio_{q}_{w}", b)
    lp = np.log(b.close)
    assert np.isnan(values[:w]).all()
    for t in range(w, len(b)):
        assert values[t] == pytest.approx(_variance_ratio_loop(lp, t, q, w), rel=1e-9)


def test_variance_ratio_of_a_random_walk_is_near_one() -> None:
    rng = np.random.default_rng(12)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, 40_000)))
    for name in ("variance_ratio_2_20", "variance_ratio_5_60"):
        values = _kernel(name, _arrays(close))
        assert np.nanmean(values) == pytest.approx(1.0, abs=0.04)
    # Negatively autocorrelated returns (mean reversion) give a ratio well below one.
    alternating = 100.0 * np.exp(
        np.cumsum(rng.normal(0.0, 0.01, 2000) * 0.2 + 0.01 * np.tile([1.0, -1.0], 1000))
    )
    assert np.nanmean(_kernel("variance_ratio_2_20", _arrays(alternating))) < 0.3


# --- Intraday ----------------------------------------------------------------------------------


def test_intraday_features_on_five_minute_bars_over_two_days() -> None:
    index = pd.DatetimeIndex(
        [
            "2024-03-04 23:45",
            "2024-03-04 23:50",
            "2024-03-04 23:55",
            "2024-03-05 00:00",
            "2024-03-05 00:05",
            "2024-03-05 00:10",
        ],
        tz="UTC",
        name="timestamp",
    ).as_unit("ns")
    bars = pd.DataFrame(
        {
            "open": [100.0, 101.0, 103.0, 104.0, 102.0, 98.0],
            "high": [102.0, 104.0, 105.0, 106.0, 103.0, 101.0],
            "low": [99.0, 100.0, 101.0, 101.0, 97.0, 96.0],
            "close": [101.0, 103.0, 102.0, 102.0, 98.0, 100.0],
            "volume": [1.0] * 6,
        },
        index=index,
    )
    out = compute(bars)  # intraday bars: the intraday features are in the default set
    ret = out["intraday_ret_day"].to_numpy()
    np.testing.assert_allclose(
        ret,
        [
            math.log(101 / 100),
            math.log(103 / 100),
            math.log(102 / 100),
            math.log(102 / 104),
            math.log(98 / 104),
            math.log(100 / 104),
        ],
        rtol=1e-12,
    )
    day1 = [math.log(101 / 100), math.log(103 / 101), math.log(102 / 103)]
    day2 = [math.log(102 / 104), math.log(98 / 102), math.log(100 / 98)]
    expected_rvol = [
        math.sqrt(sum(x * x for x in day[: i + 1])) for day in (day1, day2) for i in range(3)
    ]
    np.testing.assert_allclose(out["intraday_rvol_day"].to_numpy(), expected_rvol, rtol=1e-12)
    np.testing.assert_allclose(
        out["intraday_range_pos_day"].to_numpy(),
        [2 / 3, 4 / 5, 3 / 6, 1 / 5, 1 / 9, 4 / 10],
        rtol=1e-12,
    )
    # On daily bars they are not part of the default set.
    assert "intraday_ret_day" not in compute(random_bars(0, 300)).columns


# --- Crossovers --------------------------------------------------------------------------------


def _cross_series() -> FloatArray:
    # Flat for 30 bars, up 1 a bar for 30, then down 1 a bar for 40.
    parts = [np.full(30, 100.0), 100.0 + np.arange(1, 31), 130.0 - np.arange(1, 41)]
    return np.concatenate(parts).astype(np.float64)


def test_sma_cross_state_and_days_since_on_a_known_series() -> None:
    b = _arrays(_cross_series())
    state = _kernel("cross_5_20", b)
    since = _kernel("days_since_cross_5_20", b)
    assert np.isnan(state[:19]).all()
    assert np.isnan(since[:19]).all()
    # Equal SMAs on the flat part count as "not above": -1. Golden cross on bar 30 (SMA5 100.2
    # > SMA20 100.05); death cross on bar 67 (SMA5 124 < SMA20 124.9; on 66: 125 > 124.7).
    expected_state = np.r_[np.full(11, -1.0), np.full(37, 1.0), np.full(33, -1.0)]
    np.testing.assert_array_equal(state[19:], expected_state)
    expected_since = np.r_[-np.arange(1, 12), np.arange(1, 38), -np.arange(1, 34)]
    np.testing.assert_array_equal(since[19:], expected_since.astype(float))
    changes = np.flatnonzero(np.diff(state[19:]) != 0) + 20
    assert changes.tolist() == [30, 67]
    # The same against plain-loop SMAs.
    close = b.close
    for t in range(19, len(close)):
        above = close[t - 4 : t + 1].mean() > close[t - 19 : t + 1].mean()
        assert state[t] == (1.0 if above else -1.0)


def test_golden_cross_50_200_counts() -> None:
    close = np.r_[np.full(220, 50.0), 50.0 + np.arange(1, 81) * 0.5, 90.0 - np.arange(1, 201) * 0.3]
    b = _arrays(close)
    state = _kernel("golden_cross_50_200", b)
    since = _kernel("days_since_cross_50_200", b)
    assert np.isnan(state[:199]).all()
    assert state[199] == -1.0
    crosses = np.flatnonzero(np.diff(state[199:]) != 0) + 200
    # Golden on the first rising bar (SMA50 lifts above the flat SMA200), death on bar 391.
    assert crosses.tolist() == [220, 391]
    for t in range(199, len(close)):
        above = close[t - 49 : t + 1].mean() > close[t - 199 : t + 1].mean()
        assert state[t] == (1.0 if above else -1.0)
    np.testing.assert_array_equal(since[199:220], -np.arange(1.0, 22.0))
    np.testing.assert_array_equal(since[220:391], np.arange(1.0, 172.0))
    np.testing.assert_array_equal(since[391:], -np.arange(1.0, 110.0))


def test_signed_run_counts_from_each_change() -> None:
    state = np.array([np.nan, np.nan, 1.0, 1.0, -1.0, -1.0, -1.0, 1.0])
    np.testing.assert_array_equal(
        signed_run(state), [np.nan, np.nan, 1.0, 2.0, -1.0, -2.0, -3.0, 1.0]
    )


# --- Divergences -------------------------------------------------------------------------------


def test_divergence_on_a_hand_built_case() -> None:
    close = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 4.0, 3.0, 4.0, 5.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.5])
    ind = np.array(
        [10.0, 20.0, 30.0, 40.0, 50.0, 40.0, 30.0, 35.0, 40.0, 45.0, 30.0, 20.0, 10.0, 15.0, 25.0]
    )
    values = divergence(close, ind, 5)
    assert np.isnan(values[:4]).all()
    # Row 8: close 5 equals its 5-bar high, the indicator (40) is below its 5-bar high (50).
    # Row 9: close 6 is a new high and the indicator (45) is its own 5-bar high: no divergence.
    # Rows 6 and 12: new lows with the indicator at its own low: none. Rows 13 and 14: close
    # at a new 5-bar low while the indicator is above its 5-bar low (10): bullish.
    expected = [0.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0]
    np.testing.assert_array_equal(values[4:], expected)


def test_rsi_macd_obv_divergence_use_talib_values() -> None:
    b = _random(13, 300)
    rsi = talib.RSI(b.close, timeperiod=14)
    hist = talib.MACD(b.close, fastperiod=12, slowperiod=26, signalperiod=9)[2]
    obv = talib.OBV(b.close, b.volume)
    np.testing.assert_array_equal(_kernel("rsi_div_14_20", b), divergence(b.close, rsi, 20))
    np.testing.assert_array_equal(_kernel("macd_div_20", b), divergence(b.close, hist, 20))
    np.testing.assert_array_equal(_kernel("obv_div_20", b), divergence(b.close, obv, 20))


def test_rsi_bearish_divergence_on_a_slowing_rally() -> None:
    # A strong rally, a pull-back, then a weak push to a marginally higher close.
    steps = np.r_[np.full(40, 0.0), np.full(12, 0.02), np.full(4, -0.01), np.full(6, 0.008)]
    close = 100.0 * np.exp(np.cumsum(steps + np.tile([0.0005, -0.0005], 31)))
    b = _arrays(close)
    values = _kernel("rsi_div_14_20", b)
    rsi = talib.RSI(close, timeperiod=14)
    last = len(close) - 1
    assert close[last] >= close[last - 19 : last + 1].max()
    assert rsi[last] < rsi[last - 19 : last + 1].max()
    assert values[last] == -1.0
    # During the strong rally itself RSI keeps making highs: no divergence.
    assert (values[41:52] == 0.0).all()


# --- Other composite states --------------------------------------------------------------------


def test_ttm_squeeze_and_fire_match_an_independent_computation() -> None:
    b = _random(14, 600)
    upper, _, lower = talib.BBANDS(b.close, timeperiod=20, nbdevup=2.0, nbdevdn=2.0)
    ema = talib.EMA(b.close, timeperiod=20)
    atr = talib.ATR(b.high, b.low, b.close, timeperiod=20)
    squeeze = _kernel("ttm_squeeze_20", b)
    fire = _kernel("ttm_fire_20", b)
    assert np.isnan(squeeze[:20]).all()
    assert np.isnan(fire[:21]).all()
    for t in range(20, len(b)):
        inside = upper[t] < ema[t] + 1.5 * atr[t] and lower[t] > ema[t] - 1.5 * atr[t]
        assert squeeze[t] == float(inside)
        if t >= 21:
            released = squeeze[t - 1] == 1.0 and squeeze[t] == 0.0
            mom = math.copysign(1.0, b.close[t] - b.close[t - 20])
            assert fire[t] == (mom if released else 0.0)


def test_sr_breakout_vol_confirm_and_momentum_alignment_loops() -> None:
    b = _random(15, 300)
    brk = _kernel("sr_breakout_20", b)
    conf = _kernel("vol_price_confirm_20", b)
    align = _kernel("mtf_mom_align", b)
    for t in range(20, len(b)):
        hi, lo = b.high[t - 20 : t].max(), b.low[t - 20 : t].min()
        assert brk[t] == (1.0 if b.close[t] > hi else -1.0 if b.close[t] < lo else 0.0)
    for t in range(19, len(b)):
        heavy = b.volume[t] > b.volume[t - 19 : t + 1].mean()
        move = np.sign(b.close[t] - b.close[t - 1])
        assert conf[t] == (move if heavy else 0.0)
    for t in range(60, len(b)):
        signs = [np.sign(math.log(b.close[t] / b.close[t - lag])) for lag in (5, 20, 60)]
        assert align[t] == pytest.approx(sum(signs) / 3.0)
    assert np.isnan(align[:60]).all()


def test_bull_market_score_matches_its_definition() -> None:
    b = _random(16, 400)
    score = _kernel("bull_market_score", b)
    sma50 = talib.SMA(b.close, 50)
    sma200 = talib.SMA(b.close, 200)
    rsi = talib.RSI(b.close, 14)
    for t in range(199, len(b)):
        parts = [
            b.close[t] > sma200[t],
            sma50[t] > sma200[t],
            b.close[t] > b.close[t - 60],
            rsi[t] > 50.0,
        ]
        assert score[t] == sum(parts) / 4.0
    assert np.isnan(score[:199]).all()
    rising = _arrays(100.0 * np.exp(np.linspace(0.0, 1.0, 300) + 0.001 * np.sin(np.arange(300))))
    assert _kernel("bull_market_score", rising)[-1] == 1.0


def test_trend_exhaustion_streak_and_extremes() -> None:
    # Ten straight up bars of 1%: the run term saturates, RSI is 100, close far above SMA20.
    close = 100.0 * np.exp(np.r_[np.zeros(30), np.cumsum(np.full(10, 0.01))])
    close[:30] *= np.exp(np.tile([0.001, -0.001], 15))
    high = close * 1.001
    low = close * 0.999
    b = _arrays(close, high=high, low=low)
    values = _kernel("trend_exhaustion", b)
    assert values[-1] == pytest.approx(1.0)
    mirrored = _arrays(1e4 / close, high=1e4 / low, low=1e4 / high)
    assert _kernel("trend_exhaustion", mirrored)[-1] == pytest.approx(-1.0)


def test_scores_stay_in_their_ranges() -> None:
    b = BarArrays.from_frame(random_bars(17, 2520))
    ranges = {
        "bull_market_score": (0.0, 1.0),
        "mean_reversion_setup": (-1.0, 1.0),
        "breakout_setup": (-1.0, 1.0),
        "trend_exhaustion": (-1.0, 1.0),
        "mtf_mom_align": (-1.0, 1.0),
    }
    for name, (lo, hi) in ranges.items():
        values = _kernel(name, b)[FEATURES.get(name).warmup :]
        assert np.isfinite(values).all()
        assert values.min() >= lo
        assert values.max() <= hi
        assert values.std() > 0.0


def test_mean_reversion_setup_signs() -> None:
    # A steady slide: oversold (+); a steady climb: overbought (-).
    wiggle = 0.002 * np.tile([1.0, -1.0], 40)
    down = _arrays(100.0 * np.exp(np.cumsum(np.full(80, -0.01) + wiggle)))
    up = _arrays(100.0 * np.exp(np.cumsum(np.full(80, 0.01) + wiggle)))
    assert _kernel("mean_reversion_setup", down)[-1] > 0.5
    assert _kernel("mean_reversion_setup", up)[-1] < -0.5
