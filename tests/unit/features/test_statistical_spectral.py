"""Statistical, spectral and fracdiff features against independent references.

References are pandas / scipy / numpy computations, plain loops over single windows, closed
forms, or series with a known answer (a constant series has zero entropy, a sine of period 16
has its dominant period at 16, a straight line has fractal dimension 1).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from scipy.special import binom

from alphaforge.features import FEATURES, compute
from alphaforge.features.library.fracdiff import fracdiff, fracdiff_weights
from alphaforge.features.testing import random_bars

N = 400


def _bars_from_close(close: np.ndarray, volume: np.ndarray | None = None) -> pd.DataFrame:
    n = len(close)
    index = pd.date_range("2010-01-04", periods=n, freq="D", tz="UTC", name="timestamp")
    return pd.DataFrame(
        {
            "open": close,
            "high": close * 1.001,
            "low": close * 0.999,
            "close": close,
            "volume": np.full(n, 1e6) if volume is None else volume,
        },
        index=index.as_unit("ns"),
    )


def _close_from_returns(returns: np.ndarray) -> np.ndarray:
    return np.asarray(100.0 * np.exp(np.concatenate(([0.0], np.cumsum(returns)))))


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return random_bars(5, N)


@pytest.fixture(scope="module")
def rets(bars: pd.DataFrame) -> np.ndarray:
    return np.asarray(np.log(bars["close"]).diff().to_numpy())


def _one(bars: pd.DataFrame, name: str) -> np.ndarray:
    return np.asarray(compute(bars, [name])[name].to_numpy())


def _assert_same(got: np.ndarray, expected: np.ndarray, rtol: float = 1e-9) -> None:
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=1e-12)


def _window(values: np.ndarray, end: int, width: int) -> np.ndarray:
    return values[end - width + 1 : end + 1]


# --- moments ----------------------------------------------------------------------------------


@pytest.mark.parametrize("window", [5, 10, 20, 50])
def test_skew_matches_pandas(bars: pd.DataFrame, rets: np.ndarray, window: int) -> None:
    expected = pd.Series(rets).rolling(window).skew().to_numpy()
    _assert_same(_one(bars, f"skew_ret_{window}"), expected, rtol=1e-6)


@pytest.mark.parametrize("window", [5, 10, 20, 50])
def test_kurt_matches_pandas(bars: pd.DataFrame, rets: np.ndarray, window: int) -> None:
    expected = pd.Series(rets).rolling(window).kurt().to_numpy()
    _assert_same(_one(bars, f"kurt_ret_{window}"), expected, rtol=1e-6)


def test_skew_5_by_hand_on_one_window(bars: pd.DataFrame, rets: np.ndarray) -> None:
    x = _window(rets, 123, 5)
    n = len(x)
    mean = sum(x) / n
    m2 = sum((v - mean) ** 2 for v in x) / n
    m3 = sum((v - mean) ** 3 for v in x) / n
    expected = math.sqrt(n * (n - 1)) / (n - 2) * m3 / m2**1.5
    assert _one(bars, "skew_ret_5")[123] == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("window", [20, 50])
def test_jarque_bera_matches_scipy(bars: pd.DataFrame, rets: np.ndarray, window: int) -> None:
    got = _one(bars, f"jb_ret_{window}")
    assert np.isnan(got[window - 1])
    for end in (window, 150, 299, N - 1):
        expected = scipy.stats.jarque_bera(_window(rets, end, window)).statistic
        assert got[end] == pytest.approx(expected, rel=1e-9)


def test_moments_of_a_flat_window_are_zero() -> None:
    close = np.full(80, 50.0)
    out = compute(_bars_from_close(close), ["skew_ret_5", "kurt_ret_10", "jb_ret_20"])
    assert (out.iloc[30:] == 0.0).all().all()


# --- autocorrelation --------------------------------------------------------------------------


@pytest.mark.parametrize(("lag", "window"), [(1, 20), (1, 60), (2, 60), (5, 60), (10, 60)])
def test_acf_matches_corrcoef(bars: pd.DataFrame, rets: np.ndarray, lag: int, window: int) -> None:
    got = _one(bars, f"acf_ret_{lag}_{window}")
    assert np.isnan(got[window - 1])
    assert np.isfinite(got[window:]).all()
    for end in (window, 200, N - 1):
        x = _window(rets, end, window)
        expected = np.corrcoef(x[lag:], x[:-lag])[0, 1]
        assert got[end] == pytest.approx(expected, rel=1e-9)


def test_acf_of_an_alternating_series_is_minus_one() -> None:
    returns = np.where(np.arange(200) % 2 == 0, 0.01, -0.01) + np.linspace(0, 1e-3, 200)
    got = _one(_bars_from_close(_close_from_returns(returns)), "acf_ret_1_20")
    np.testing.assert_allclose(got[30:], -1.0, atol=1e-3)


# --- Hurst ------------------------------------------------------------------------------------


def test_hurst_of_white_noise_returns_is_near_one_half() -> None:
    returns = np.random.default_rng(1).normal(0.0, 0.01, 3000)
    got = _one(_bars_from_close(_close_from_returns(returns)), "hurst_100")
    assert np.isfinite(got[100:]).all()
    assert 0.4 <= float(np.median(got[100:])) <= 0.6


def test_hurst_of_a_persistent_series_is_above_0_65() -> None:
    rng = np.random.default_rng(2)
    shocks = rng.normal(0.0, 0.01, 3000)
    returns = np.zeros(3000)
    for t in range(1, 3000):
        returns[t] = 0.9 * returns[t - 1] + shocks[t]
    got = _one(_bars_from_close(_close_from_returns(returns)), "hurst_100")
    assert float(np.median(got[100:])) > 0.65


# --- entropies --------------------------------------------------------------------------------


def test_entropy_of_a_constant_series_is_zero() -> None:
    got = _one(_bars_from_close(np.full(60, 20.0)), "entropy_shannon_20")
    assert np.isnan(got[19])
    np.testing.assert_array_equal(got[20:], 0.0)


def test_entropy_of_balanced_signs_is_one_bit() -> None:
    returns = np.where(np.arange(100) % 2 == 0, 0.01, -0.01)
    got = _one(_bars_from_close(_close_from_returns(returns)), "entropy_shannon_20")
    np.testing.assert_allclose(got[20:], 1.0, rtol=1e-12)


def test_entropy_by_counting_one_window(bars: pd.DataFrame, rets: np.ndarray) -> None:
    x = _window(rets, 250, 20)
    counts = [sum(1 for v in x if v > 0), sum(1 for v in x if v < 0), sum(1 for v in x if v == 0)]
    expected = -sum(c / 20 * math.log2(c / 20) for c in counts if c > 0)
    assert _one(bars, "entropy_shannon_20")[250] == pytest.approx(expected, rel=1e-12)


def _sampen_by_hand(x: np.ndarray, m: int, r: float) -> float:
    n = len(x)
    tol = r * float(np.std(x))

    def matches(length: int) -> int:
        count = 0
        for i in range(n - m):
            for j in range(i + 1, n - m):
                if max(abs(x[i + q] - x[j + q]) for q in range(length)) <= tol:
                    count += 1
        return count

    b, a = matches(m), matches(m + 1)
    return -math.log((a + 1) / (b + 1))


def test_sample_entropy_matches_a_direct_loop() -> None:
    rng = np.random.default_rng(3)
    returns = rng.normal(0.0, 0.01, 300)
    bars = _bars_from_close(_close_from_returns(returns))
    got = _one(bars, "sampen_50")
    assert np.isnan(got[49])
    assert np.isfinite(got[50:]).all()
    for end in (50, 170, 300):
        expected = _sampen_by_hand(returns[end - 50 : end], 2, 0.2)
        assert got[end] == pytest.approx(expected, rel=1e-12)


def test_sample_entropy_of_a_periodic_series_is_low() -> None:
    returns = 0.01 * np.sin(2 * np.pi * np.arange(200) / 5)
    got = _one(_bars_from_close(_close_from_returns(returns)), "sampen_50")
    assert float(np.max(got[60:])) < 0.2


# --- z-scores and ranks -----------------------------------------------------------------------


@pytest.mark.parametrize("window", [20, 50, 100])
def test_zscore_close_matches_pandas(bars: pd.DataFrame, window: int) -> None:
    close = bars["close"]
    roll = close.rolling(window)
    expected = ((close - roll.mean()) / roll.std()).to_numpy()
    _assert_same(_one(bars, f"zscore_close_{window}"), expected, rtol=1e-7)


def test_zscore_ret_matches_pandas(bars: pd.DataFrame, rets: np.ndarray) -> None:
    r = pd.Series(rets)
    expected = ((r - r.rolling(20).mean()) / r.rolling(20).std()).to_numpy()
    _assert_same(_one(bars, "zscore_ret_20"), expected, rtol=1e-7)


def _pct_rank_by_hand(values: np.ndarray, window: int, first: int) -> np.ndarray:
    out = np.full(len(values), np.nan)
    for i in range(first, len(values)):
        x = values[i - window + 1 : i + 1]
        out[i] = sum(1 for v in x if v <= values[i]) / window
    return out


@pytest.mark.parametrize("window", [20, 50, 252])
def test_pct_rank_close_by_hand(bars: pd.DataFrame, window: int) -> None:
    close = bars["close"].to_numpy()
    expected = _pct_rank_by_hand(close, window, window - 1)
    _assert_same(_one(bars, f"pct_rank_close_{window}"), expected)


def test_pct_rank_ret_and_volume_by_hand(bars: pd.DataFrame, rets: np.ndarray) -> None:
    _assert_same(_one(bars, "pct_rank_ret_20"), _pct_rank_by_hand(rets, 20, 20))
    volume = bars["volume"].to_numpy()
    _assert_same(_one(bars, "pct_rank_volume_20"), _pct_rank_by_hand(volume, 20, 19))


def test_pct_rank_of_a_new_high_is_one() -> None:
    got = _one(_bars_from_close(np.linspace(10.0, 20.0, 300)), "pct_rank_close_252")
    np.testing.assert_array_equal(got[251:], 1.0)


# --- spectral ---------------------------------------------------------------------------------


def _sine_bars(period: float, n: int = 300) -> pd.DataFrame:
    t = np.arange(n)
    return _bars_from_close(100.0 * np.exp(0.05 * np.sin(2 * np.pi * t / period)))


def test_fft_period_of_a_sine_of_period_16() -> None:
    out = compute(_sine_bars(16.0), ["fft_period_64", "fft_power_64", "fft_lowpow_64"])
    np.testing.assert_array_equal(out["fft_period_64"].to_numpy()[63:], 16.0)
    assert np.isnan(out["fft_period_64"].to_numpy()[62])
    assert (out["fft_power_64"].iloc[63:] > 0.9).all()
    # Period 16 is frequency 4/64, inside the lowest quarter (1..8 of 32 frequencies).
    assert (out["fft_lowpow_64"].iloc[63:] > 0.95).all()


def test_fft_of_a_fast_sine_has_no_low_power() -> None:
    out = compute(_sine_bars(4.0), ["fft_period_64", "fft_lowpow_64"])
    np.testing.assert_array_equal(out["fft_period_64"].to_numpy()[63:], 4.0)
    assert (out["fft_lowpow_64"].iloc[63:] < 0.05).all()


def test_fft_power_by_hand_on_one_window(bars: pd.DataFrame) -> None:
    x = np.log(bars["close"].to_numpy())[300 - 63 : 301]
    t = np.arange(64.0)
    slope, intercept = np.polyfit(t, x, 1)
    resid = x - (slope * t + intercept)
    # Power at frequency k/64 from the definition of the discrete Fourier transform.
    power = np.array(
        [
            abs(sum(resid[s] * np.exp(-2j * np.pi * k * s / 64) for s in range(64))) ** 2
            for k in range(33)
        ]
    )
    two_sided = np.concatenate((2 * power[1:32], power[32:]))
    top = int(np.argmax(two_sided))
    out = compute(bars, ["fft_period_64", "fft_power_64", "fft_lowpow_64"]).iloc[300]
    assert out["fft_period_64"] == 64 / (top + 1)
    assert out["fft_power_64"] == pytest.approx(two_sided[top] / two_sided.sum(), rel=1e-8)
    assert out["fft_lowpow_64"] == pytest.approx(two_sided[:8].sum() / two_sided.sum(), rel=1e-8)


def _haar_detail_energy(x: np.ndarray, levels: int) -> list[float]:
    energies = []
    approx = list(x)
    for _ in range(levels):
        pairs = [(approx[2 * i], approx[2 * i + 1]) for i in range(len(approx) // 2)]
        energies.append(sum(((a - b) / math.sqrt(2)) ** 2 for a, b in pairs))
        approx = [(a + b) / math.sqrt(2) for a, b in pairs]
    return energies


def test_wavelet_energy_matches_a_hand_haar_transform(bars: pd.DataFrame, rets: np.ndarray) -> None:
    names = [f"wavelet_energy_{level}_64" for level in range(1, 5)]
    out = compute(bars, names)
    assert out.iloc[63].isna().all()
    np.testing.assert_allclose(out.iloc[64:].sum(axis=1), 1.0, rtol=1e-12)
    for end in (64, 333):
        energies = _haar_detail_energy(_window(rets, end, 64), 4)
        expected = np.array(energies) / sum(energies)
        np.testing.assert_allclose(out.iloc[end].to_numpy(), expected, rtol=1e-9)


def test_wavelet_energy_of_white_noise_follows_the_coefficient_count() -> None:
    returns = np.random.default_rng(4).normal(0.0, 0.01, 3000)
    names = [f"wavelet_energy_{level}_64" for level in range(1, 5)]
    out = compute(_bars_from_close(_close_from_returns(returns)), names)
    # 32, 16, 8 and 4 detail coefficients of equal expected energy.
    np.testing.assert_allclose(out.iloc[64:].mean(), np.array([32, 16, 8, 4]) / 60, atol=0.02)


def test_katz_of_a_straight_line_is_one() -> None:
    got = _one(_bars_from_close(np.exp(np.linspace(3.0, 4.0, 100))), "fractal_dim_katz_30")
    assert np.isnan(got[28])
    np.testing.assert_allclose(got[29:], 1.0, rtol=1e-12)


def test_katz_by_hand_on_one_window(bars: pd.DataFrame) -> None:
    x = _window(np.log(bars["close"].to_numpy()), 222, 30)
    length = sum(abs(x[i + 1] - x[i]) for i in range(29))
    extent = max(abs(v - x[0]) for v in x)
    expected = math.log10(29) / (math.log10(29) + math.log10(extent / length))
    assert _one(bars, "fractal_dim_katz_30")[222] == pytest.approx(expected, rel=1e-10)


def _higuchi_by_hand(x: np.ndarray, kmax: int) -> float:
    n = len(x)
    log_k, log_len = [], []
    for k in range(1, kmax + 1):
        lengths = []
        for m in range(k):
            idx = list(range(m, n, k))
            path = sum(abs(x[idx[i]] - x[idx[i - 1]]) for i in range(1, len(idx)))
            lengths.append(path * (n - 1) / ((len(idx) - 1) * k) / k)
        log_k.append(math.log(1.0 / k))
        log_len.append(math.log(sum(lengths) / k))
    return float(np.polyfit(log_k, log_len, 1)[0])


def test_higuchi_by_hand_and_on_a_line(bars: pd.DataFrame) -> None:
    got = _one(bars, "fractal_dim_higuchi_64")
    assert np.isnan(got[62])
    x = _window(np.log(bars["close"].to_numpy()), 390, 64)
    assert got[390] == pytest.approx(_higuchi_by_hand(x, 8), rel=1e-9)
    line = _one(_bars_from_close(np.exp(np.linspace(3.0, 4.0, 100))), "fractal_dim_higuchi_64")
    np.testing.assert_allclose(line[63:], 1.0, rtol=1e-9)


# --- fracdiff ---------------------------------------------------------------------------------


@pytest.mark.parametrize("d", [0.2, 0.4, 0.6, 1.0, 0.0])
def test_fracdiff_weights_match_the_binomial_closed_form(d: float) -> None:
    weights = fracdiff_weights(d)
    k = np.arange(len(weights))
    np.testing.assert_allclose(weights, (-1.0) ** k * binom(d, k), rtol=1e-10, atol=1e-15)
    assert (np.abs(weights) >= 1e-4).all()
    if len(weights) < 500:
        # The first dropped weight is below the threshold.
        nxt = (-1.0) ** len(weights) * binom(d, len(weights))
        assert abs(nxt) < 1e-4


def test_fracdiff_limits_are_the_series_and_its_difference() -> None:
    x = np.log(random_bars(6, 200)["close"].to_numpy())
    np.testing.assert_array_equal(fracdiff(x, 0.0), x)
    first_difference = np.concatenate(([np.nan], np.diff(x)))
    _assert_same(fracdiff(x, 1.0), first_difference, rtol=1e-12)


@pytest.mark.parametrize("d", [0.2, 0.4, 0.6])
def test_fracdiff_features_by_hand(d: float) -> None:
    bars = random_bars(7, 700)
    name = f"fracdiff_{str(d).replace('.', 'p')}"
    spec = FEATURES.get(name)
    weights = fracdiff_weights(d)
    assert spec.warmup == len(weights) - 1
    assert not spec.scale_free
    x = np.log(bars["close"].to_numpy())
    got = _one(bars, name)
    assert np.isnan(got[spec.warmup - 1])
    for i in (spec.warmup, 650, 699):
        expected = sum(weights[k] * x[i - k] for k in range(len(weights)))
        assert got[i] == pytest.approx(expected, rel=1e-9)


def test_fracdiff_zscore_matches_pandas() -> None:
    bars = random_bars(8, 700)
    series = pd.Series(fracdiff(np.log(bars["close"].to_numpy()), 0.4))
    roll = series.rolling(100)
    expected = ((series - roll.mean()) / roll.std()).to_numpy()
    got = _one(bars, "fracdiff_0p4_z_100")
    assert FEATURES.get("fracdiff_0p4_z_100").warmup == int(np.argmax(np.isfinite(expected)))
    _assert_same(got, expected, rtol=1e-6)


def test_every_new_feature_has_a_value_after_its_warmup() -> None:
    bars = random_bars(9, 700)
    modules = {
        "alphaforge.features.library.statistical",
        "alphaforge.features.library.spectral",
        "alphaforge.features.library.fracdiff",
    }
    names = [n for n in FEATURES.names() if FEATURES.get(n).kernel.__module__ in modules]
    assert len(names) >= 40
    out = compute(bars, names)
    for name in names:
        warmup = FEATURES.get(name).warmup
        assert out[name].iloc[:warmup].isna().all(), name
        assert out[name].iloc[warmup:].notna().all(), name
