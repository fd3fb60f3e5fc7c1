"""VaR / ES: hand quantile, scipy's normal, Monte Carlo vs parametric, ES >= VaR, seeds."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats
from sklearn.covariance import LedoitWolf

from alphaforge.core.errors import ConfigError, DataError
from alphaforge.risk.var import (
    RiskMeasure,
    book_returns,
    bootstrap_var_es,
    cornish_fisher_var_es,
    cornish_fisher_var_es_from_moments,
    historical_var_es,
    monte_carlo_normal_var_es,
    normal_var_es,
    normal_var_es_from_moments,
    risk_table,
)

# Twenty daily book returns, in percent.
SAMPLE_PCT = [1.2, -0.5, 0.3, -2.1, 0.8, -1.4, 0.0, 2.5, -0.9, 1.1,
              -3.0, 0.4, -0.2, 1.6, -1.8, 0.7, -0.6, 0.9, -2.6, 0.5]  # fmt: skip
SAMPLE = np.array(SAMPLE_PCT) / 100.0


def test_historical_equals_the_hand_quantile_of_twenty_points() -> None:
    # Losses (%) sorted ascending end with ..., 1.4, 1.8, 2.1, 2.6, 3.0.
    # 95 %: k = ceil(0.95 x 20) = 19th smallest of 20 = 2nd largest = 2.6 %;
    #       ES = mean of losses >= 2.6 = (2.6 + 3.0) / 2 = 2.8 %.
    # 90 %: k = ceil(0.90 x 20) = 18th smallest = 3rd largest = 2.1 %;
    #       ES = (2.1 + 2.6 + 3.0) / 3 = 7.7 / 3 %.
    m95 = historical_var_es(SAMPLE, 0.95)
    assert (m95.var, m95.es) == pytest.approx((0.026, 0.028), rel=1e-12)
    m90 = historical_var_es(SAMPLE, 0.90)
    assert (m90.var, m90.es) == pytest.approx((0.021, 0.077 / 3), rel=1e-12)
    assert m95 == RiskMeasure("historical", 0.95, 1, m95.var, m95.es)


def test_historical_ten_days_uses_overlapping_sums() -> None:
    # 20 days give 11 overlapping 10-day sums; 95 %: ceil(0.95 x 11) = 11th = the largest loss.
    sums = [sum(SAMPLE[i : i + 10]) for i in range(11)]
    worst = max(-s for s in sums)
    m = historical_var_es(SAMPLE, 0.95, horizon_days=10)
    assert (m.var, m.es, m.horizon_days) == pytest.approx((worst, worst, 10), rel=1e-12)


@pytest.mark.parametrize("confidence", [0.95, 0.99])
@pytest.mark.parametrize("horizon", [1, 10])
def test_parametric_equals_scipy_norm(confidence: float, horizon: int) -> None:
    mu, sigma = float(SAMPLE.mean()), float(SAMPLE.std(ddof=1))
    law = stats.norm(loc=mu * horizon, scale=sigma * math.sqrt(horizon))
    cutoff = law.ppf(1.0 - confidence)
    tail_mean = law.expect(lambda x: x, ub=cutoff, conditional=True)  # numerical integral
    m = normal_var_es(SAMPLE, confidence, horizon)
    assert m.var == pytest.approx(-cutoff, rel=1e-12)
    assert m.es == pytest.approx(-tail_mean, rel=1e-7)
    z = stats.norm.ppf(confidence)
    s_h, mu_h = sigma * math.sqrt(horizon), mu * horizon
    assert m.es == pytest.approx(s_h * stats.norm.pdf(z) / (1 - confidence) - mu_h, rel=1e-12)


def _assets(seed: int = 7, n: int = 500) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    cov = np.array([[1.0, 0.3, 0.1], [0.3, 2.0, -0.2], [0.1, -0.2, 0.5]]) * 1e-4
    returns = rng.multivariate_normal([3e-4, 1e-4, 2e-4], cov, size=n)
    return returns, np.array([0.5, 0.3, 0.2])


@pytest.mark.parametrize("confidence", [0.95, 0.99])
@pytest.mark.parametrize("horizon", [1, 10])
def test_monte_carlo_within_two_percent_of_parametric(confidence: float, horizon: int) -> None:
    returns, w = _assets()
    cov = LedoitWolf().fit(returns).covariance_
    mu, sigma = float(returns.mean(axis=0) @ w), float(np.sqrt(w @ cov @ w))
    expected = normal_var_es_from_moments(mu, sigma, confidence, horizon)
    start = time.perf_counter()
    m = monte_carlo_normal_var_es(w, returns, confidence, horizon, n_draws=100_000, seed=11)
    assert time.perf_counter() - start < 1.0
    assert m.var == pytest.approx(expected.var, rel=0.02)
    assert m.es == pytest.approx(expected.es, rel=0.02)


def test_same_seed_same_monte_carlo_result() -> None:
    returns, w = _assets()
    a = monte_carlo_normal_var_es(w, returns, 0.99, 10, n_draws=20_000, seed=3)
    assert a == monte_carlo_normal_var_es(w, returns, 0.99, 10, n_draws=20_000, seed=3)
    assert a != monte_carlo_normal_var_es(w, returns, 0.99, 10, n_draws=20_000, seed=4)
    book = book_returns(w, returns)
    b = bootstrap_var_es(book, 0.99, 10, block_length=5, n_paths=5_000, seed=3)
    assert b == bootstrap_var_es(book, 0.99, 10, block_length=5, n_paths=5_000, seed=3)
    assert b != bootstrap_var_es(book, 0.99, 10, block_length=5, n_paths=5_000, seed=4)


def test_cornish_fisher_equals_normal_at_zero_skew_and_kurtosis() -> None:
    for c in (0.95, 0.99):
        for h in (1, 10):
            normal = normal_var_es_from_moments(1e-4, 0.012, c, h)
            cf = cornish_fisher_var_es_from_moments(1e-4, 0.012, 0.0, 0.0, c, h)
            assert (cf.var, cf.es) == pytest.approx((normal.var, normal.es), rel=1e-12)
    # Negative skew and fat tails raise the 99 % loss above the normal one.
    fat = cornish_fisher_var_es_from_moments(1e-4, 0.012, -0.5, 3.0, 0.99, 1)
    assert fat.var > normal_var_es_from_moments(1e-4, 0.012, 0.99, 1).var


def test_block_bootstrap_with_one_day_blocks_resamples_the_history() -> None:
    # One-day blocks are the i.i.d. bootstrap of the 20 days: 90 % of them lose <= 2.1 %, 95 %
    # lose <= 2.6 %, so the 92 % quantile of many draws is 2.6 %, and the tail mean nears 2.8 %.
    m = bootstrap_var_es(SAMPLE, 0.92, 1, block_length=1, n_paths=200_000, seed=1)
    assert m.var == pytest.approx(0.026, rel=1e-12)
    assert m.es == pytest.approx(0.028, rel=0.01)


def test_book_returns_from_weights_and_from_values() -> None:
    returns = np.array([[0.01, -0.02], [0.03, 0.00]])
    assert book_returns([0.5, 0.5], returns) == pytest.approx([-0.005, 0.015])
    # $6,000 and $4,000 in a $10,000 book: weights 0.6 and 0.4.
    got = book_returns([6_000.0, 4_000.0], returns, book_value=10_000.0)
    assert got == pytest.approx([0.6 * 0.01 - 0.4 * 0.02, 0.6 * 0.03])


def test_risk_table_covers_every_method_confidence_and_horizon_in_currency() -> None:
    returns, w = _assets(n=300)
    fractions = risk_table(w, returns, seed=5, n_draws=20_000, n_paths=5_000)
    dollars = risk_table(w, returns, seed=5, n_draws=20_000, n_paths=5_000, book_value=1e6)
    keys = {(m.method, m.confidence, m.horizon_days) for m in fractions}
    assert len(keys) == 20
    assert {k[0] for k in keys} == {
        "historical", "normal", "cornish_fisher", "monte_carlo_normal", "bootstrap"
    }  # fmt: skip
    for f, d in zip(fractions, dollars, strict=True):
        assert (d.var, d.es) == pytest.approx((f.var * 1e6, f.es * 1e6))


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: historical_var_es(SAMPLE, 1.0), ConfigError),
        (lambda: historical_var_es(SAMPLE, 0.0), ConfigError),
        (lambda: historical_var_es(SAMPLE, float("nan")), ConfigError),
        (lambda: historical_var_es(SAMPLE, 0.95, 0), ConfigError),
        (lambda: historical_var_es([], 0.95), DataError),
        (lambda: historical_var_es(SAMPLE[:5], 0.95, 10), DataError),
        (lambda: normal_var_es([0.01, float("nan"), 0.02], 0.95), DataError),
        (lambda: book_returns([0.5, 0.5, 0.0], np.zeros((4, 2))), DataError),
        (lambda: book_returns([0.5], np.zeros(4)), DataError),
        (lambda: bootstrap_var_es(SAMPLE, 0.95, block_length=0, seed=1), ConfigError),
        (lambda: monte_carlo_normal_var_es([1.0], np.zeros((4, 1)), 0.95, n_draws=0, seed=1),
         ConfigError),
    ],
)  # fmt: skip
def test_bad_input_raises_one_line_with_a_hint(call: object, error: type[Exception]) -> None:
    with pytest.raises(error) as info:
        call()  # type: ignore[operator]
    assert "\n" not in str(info.value) and info.value.hint  # type: ignore[attr-defined]


@settings(max_examples=60, deadline=None)
@given(
    returns=arrays(
        np.float64,
        st.tuples(st.integers(12, 80), st.integers(1, 3)),
        elements=st.floats(-0.2, 0.2, allow_subnormal=False),
    ),
    confidence=st.floats(0.5, 0.995),
    seed=st.integers(0, 2**16),
)
def test_es_is_never_below_var(returns: np.ndarray, confidence: float, seed: int) -> None:
    w = np.full(returns.shape[1], 1.0 / returns.shape[1])
    book = book_returns(w, returns)
    for h in (1, 10):
        measures = [
            historical_var_es(book, confidence, h),
            normal_var_es(book, confidence, h),
            cornish_fisher_var_es(book, confidence, h),
            monte_carlo_normal_var_es(w, returns, confidence, h, n_draws=2_000, seed=seed),
            bootstrap_var_es(book, confidence, h, block_length=3, n_paths=2_000, seed=seed),
        ]
        for m in measures:
            assert m.es >= m.var, m
