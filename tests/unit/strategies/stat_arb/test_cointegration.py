"""Pair selection: planted pairs are found, random walks are flagged at the test's size."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.stats import binom
from statsmodels.tsa.stattools import coint

from alphaforge.data.synthetic_pairs import ar1, planted_pairs
from alphaforge.features.testing import random_bars
from alphaforge.strategies.stat_arb.cointegration import (
    engle_granger_pvalue,
    engle_granger_pvalues,
    half_life,
    johansen,
    return_correlation,
)
from alphaforge.strategies.stat_arb.kalman import DIFFUSE_BARS, kalman_regression
from alphaforge.strategies.stat_arb.scan import (
    ScanSettings,
    retest_rows,
    scan_pairs,
    scan_window,
)

#: The 99th percentile of the number of false positives among 190 independent tests at 5 %.
FLAG_LIMIT = binom.ppf(0.99, 190, 0.05)


def _closes(bars: dict[str, pd.DataFrame]) -> pd.DataFrame:
    return pd.DataFrame({s: b["close"] for s, b in sorted(bars.items())})


@pytest.mark.parametrize("seed", [0, 1])
def test_every_planted_pair_is_found_at_every_retest(seed: int) -> None:
    universe = planted_pairs(seed, n_pairs=4, n_free=8, n=600, phi=0.8)
    scan = scan_pairs(_closes(universe.bars))
    retests = sorted(scan["row"].unique())
    assert len(retests) >= 10
    chosen = scan[scan["selected"]]
    for pair in universe.pairs:
        found = chosen[(chosen["y"] == pair.y) & (chosen["x"] == pair.x)]
        assert sorted(found["row"]) == retests, pair
        assert found["hedge"].sub(pair.hedge).abs().max() < 0.15
    # Nothing else is chosen: every other leg is a free walk or a planted leg's stranger.
    planted = {(p.y, p.x) for p in universe.pairs}
    assert set(zip(chosen["y"], chosen["x"], strict=True)) <= planted


def test_independent_walks_are_flagged_below_the_binomial_99th_percentile() -> None:
    # The scan as the strategy runs it (pre-filter on) over 20 walks: 190 pairs per re-test.
    closes = pd.DataFrame({f"S{k:02d}": random_bars(500 + k, 400)["close"] for k in range(20)})
    retests = [r for r in retest_rows(pd.DatetimeIndex(closes.index), 21) if r >= 251]
    assert len(retests) >= 5
    scan = scan_pairs(closes)
    flagged = scan.groupby("row")["cointegrated"].sum().reindex(retests, fill_value=0)
    assert (flagged <= FLAG_LIMIT).all()


def test_engle_granger_size_on_190_independent_pairs() -> None:
    # The test alone, pre-filter off: 190 pairs of independent walks, each pair disjoint so
    # the count is Binomial(190, 0.05) when the test has its nominal size.
    walks = np.log(
        np.column_stack([random_bars(9_000 + k, 252)["close"].to_numpy() for k in range(380)])
    )
    pvalues = engle_granger_pvalues(walks[:, 0::2], walks[:, 1::2])
    assert np.isfinite(pvalues).all()
    assert (pvalues < 0.05).sum() <= FLAG_LIMIT


def test_pre_filter_off_tests_every_pair() -> None:
    closes = pd.DataFrame({f"S{k:02d}": random_bars(700 + k, 252)["close"] for k in range(20)})
    settings = ScanSettings(min_correlation=None)
    records = scan_window(np.log(closes.to_numpy()), list(closes.columns), settings)
    assert len(records) == 190
    chosen = [r for r in records if r["selected"]]
    legs = [r["y"] for r in chosen] + [r["x"] for r in chosen]
    assert len(legs) == len(set(legs))  # disjoint


@pytest.mark.parametrize("lags", [0, 1, 3])
def test_batch_engle_granger_equals_statsmodels_coint(lags: int) -> None:
    rng = np.random.default_rng(lags)
    x = np.cumsum(rng.normal(size=(252, 40)), axis=0)
    y = np.cumsum(rng.normal(size=(252, 40)), axis=0)
    y[:, :20] = 0.7 * x[:, :20] + rng.normal(size=(252, 20))  # half cointegrated
    batch = engle_granger_pvalues(y, x, lags=lags)
    single = [engle_granger_pvalue(y[:, k], x[:, k], lags=lags) for k in range(40)]
    reference = [coint(y[:, k], x[:, k], maxlag=lags, autolag=None)[1] for k in range(40)]
    np.testing.assert_allclose(batch, reference, rtol=0, atol=1e-10)
    np.testing.assert_allclose(single, reference, rtol=0, atol=1e-12)
    assert (batch[:20] < 0.01).all()


def test_half_life_of_an_ar1_spread() -> None:
    rng = np.random.default_rng(3)
    phi = 0.9
    spread = ar1(rng, 20_000, phi, 0.01)
    assert half_life(spread) == pytest.approx(np.log(0.5) / np.log(phi), rel=0.05)
    assert half_life(ar1(rng, 500, -0.5, 0.01)) == np.inf  # oscillating
    assert half_life(np.cumprod(np.full(100, 1.05))) == np.inf  # explosive


def test_slow_pairs_are_skipped() -> None:
    universe = planted_pairs(4, n_pairs=2, n_free=0, n=400, phi=0.8)
    closes = _closes(universe.bars)
    fast = scan_pairs(closes)
    slow = scan_pairs(closes, ScanSettings(max_half_life=1.0))
    assert fast["selected"].all() and (fast["half_life"] > 1.0).all()
    assert not slow["selected"].any()


def test_johansen_finds_a_planted_basket() -> None:
    rng = np.random.default_rng(5)
    n = 500
    x1 = np.cumsum(rng.normal(0, 0.01, n))
    x2 = np.cumsum(rng.normal(0, 0.01, n))
    y = 0.8 * x1 + 0.5 * x2 + ar1(rng, n, 0.7, 0.004)
    basket = johansen(np.column_stack([y, x1, x2]))
    assert basket.rank >= 1
    np.testing.assert_allclose(basket.weights, [1.0, -0.8, -0.5], atol=0.05)
    walks = johansen(np.column_stack([x1, x2, np.cumsum(rng.normal(0, 0.01, n))]), level=0.99)
    assert walks.rank == 0


def test_johansen_scan_finds_planted_pairs() -> None:
    universe = planted_pairs(6, n_pairs=2, n_free=2, n=400, phi=0.8)
    scan = scan_pairs(_closes(universe.bars), ScanSettings(test="johansen"))
    chosen = scan[scan["selected"]]
    for pair in universe.pairs:
        found = chosen[(chosen["y"] == pair.y) & (chosen["x"] == pair.x)]
        assert len(found) == scan["row"].nunique()
        assert found["hedge"].sub(pair.hedge).abs().max() < 0.15


def test_kalman_without_process_noise_equals_recursive_ls() -> None:
    rng = np.random.default_rng(11)
    n = 300
    x = np.log(50.0) + np.cumsum(rng.normal(0, 0.01, n))
    y = 0.3 + 0.9 * x + ar1(rng, n, 0.8, 0.005)
    ours = kalman_regression(y, x, delta=0.0, obs_var=2.5e-5)
    fit = sm.RecursiveLS(y, np.column_stack([np.ones(n), x])).fit()
    reference = fit.recursive_coefficients.filtered
    start = fit.nobs_diffuse
    assert start == DIFFUSE_BARS
    np.testing.assert_allclose(ours.intercept[start:], reference[0, start:], rtol=0, atol=1e-8)
    np.testing.assert_allclose(ours.hedge[start:], reference[1, start:], rtol=0, atol=1e-8)
    # The end of a constant-coefficient filter is the full-sample OLS fit.
    ols = np.polyfit(x, y, 1)
    assert ours.hedge[-1] == pytest.approx(ols[0], abs=1e-8)


def test_kalman_with_process_noise_tracks_a_moving_hedge() -> None:
    rng = np.random.default_rng(12)
    n = 2_000
    x = rng.normal(1.0, 0.5, n)  # varies enough to tell the intercept from the slope
    hedge = np.linspace(0.5, 1.5, n)
    y = hedge * x + rng.normal(0, 0.002, n)
    tracked = kalman_regression(y, x, delta=1e-3).hedge
    frozen = kalman_regression(y, x, delta=0.0).hedge
    late = slice(n - 200, n)
    assert np.abs(tracked[late] - hedge[late]).mean() < np.abs(frozen[late] - hedge[late]).mean()
    assert np.abs(tracked[late] - hedge[late]).mean() < 0.05


def test_return_correlation_with_missing_bars_matches_pandas() -> None:
    closes = pd.DataFrame({f"S{k}": random_bars(k, 120)["close"] for k in range(4)})
    closes.iloc[::5, 1] = np.nan
    closes.iloc[:30, 2] = np.nan
    log_prices = np.log(closes.to_numpy())
    ours = return_correlation(log_prices, min_periods=10)
    returns = pd.DataFrame(
        {c: np.log(closes[c].dropna()).diff().reindex(closes.index) for c in closes}
    )
    np.testing.assert_allclose(ours, returns.corr(min_periods=10).to_numpy(), atol=1e-12)


@pytest.mark.parametrize("freq", ["B", "1D", "1h"])
def test_retest_rows_do_not_depend_on_where_the_data_start(freq: str) -> None:
    index = pd.date_range("2019-01-01", periods=800, freq=freq, tz="UTC")
    full = retest_rows(index, 21)
    for k in (1, 37, 400):
        later = retest_rows(index[k:], 21) + k
        np.testing.assert_array_equal(later, full[full > k])
    # 21 bars a block, on weekdays only (B) as on every day (1D) or hour.
    assert set(np.diff(full)) == {21}
