"""Sharpe statistics, AUC and the information coefficient against independent references."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from alphaforge.validation import (
    auc,
    information_coefficient,
    probabilistic_sharpe_ratio,
    sharpe_ratio,
)

# --- references -------------------------------------------------------------------------------


def _mean_std(x: list[float]) -> tuple[float, float]:
    n = len(x)
    mean = sum(x) / n
    var = sum((v - mean) ** 2 for v in x) / (n - 1)
    return mean, math.sqrt(var)


def _phi(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def _psr_reference(x: list[float], sr_star: float) -> float:
    """Bailey & López de Prado (2012), eq. (3): PSR with the plain sample skewness m3 / m2^1.5
    and Pearson (non-excess) kurtosis m4 / m2^2, written out with loops (no scipy)."""
    mean, sd = _mean_std(x)
    sr = mean / sd
    n = len(x)
    m2 = sum((v - mean) ** 2 for v in x) / n
    m3 = sum((v - mean) ** 3 for v in x) / n
    m4 = sum((v - mean) ** 4 for v in x) / n
    g3 = m3 / m2**1.5
    g4 = m4 / m2**2
    return _phi((sr - sr_star) * math.sqrt(n - 1) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr**2))


# --- sharpe_ratio -----------------------------------------------------------------------------


def test_sharpe_hand_case() -> None:
    # mean 0.02, deviations (-0.01, 0, 0.01) -> var = 0.0002 / 2 = 0.0001 -> sd 0.01 -> SR 2.
    assert sharpe_ratio([0.01, 0.02, 0.03]) == pytest.approx(2.0, rel=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sharpe_matches_plain_loop(seed: int) -> None:
    x = np.random.default_rng(seed).normal(0.001, 0.02, 250).tolist()
    mean, sd = _mean_std(x)
    assert sharpe_ratio(x) == pytest.approx(mean / sd, rel=1e-10)


def test_sharpe_ignores_non_finite() -> None:
    assert sharpe_ratio([0.01, np.nan, 0.02, np.inf, 0.03, -np.inf]) == pytest.approx(2.0)


@pytest.mark.parametrize("returns", [[], [0.01], [0.01, 0.01, 0.01], [np.nan, 0.1]])
def test_sharpe_undefined_is_nan(returns: list[float]) -> None:
    assert math.isnan(sharpe_ratio(returns))


# --- probabilistic_sharpe_ratio ---------------------------------------------------------------


@pytest.mark.parametrize(("seed", "sr_star"), [(0, 0.0), (1, 0.0), (2, 0.05), (3, -0.05)])
def test_psr_matches_reference(seed: int, sr_star: float) -> None:
    # Skewed, fat-tailed returns, so the skew and kurtosis terms matter.
    rng = np.random.default_rng(seed)
    x = (0.002 + 0.01 * rng.standard_t(5, 300) + 0.004 * rng.exponential(1, 300)).tolist()
    expected = _psr_reference(x, sr_star)
    assert 0.0 < expected < 1.0
    assert probabilistic_sharpe_ratio(x, sr_star) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("seed", [0, 5, 9])
def test_psr_is_one_half_at_the_sample_sharpe(seed: int) -> None:
    x = np.random.default_rng(seed).normal(0.0005, 0.01, 500)
    assert probabilistic_sharpe_ratio(x, sharpe_ratio(x)) == pytest.approx(0.5, abs=1e-12)


def test_psr_normal_iid_is_close_to_the_textbook_z() -> None:
    # For normal returns g3 ~ 0 and g4 ~ 3: PSR ~ Phi(SR sqrt(n-1) / sqrt(1 + SR^2 / 2)).
    rng = np.random.default_rng(11)
    x = rng.normal(0.0, 1.0, 20_000)
    x = (x - x.mean()) / x.std(ddof=1) * 0.01 + 0.001  # sample SR exactly 0.1
    sr = 0.1
    assert sharpe_ratio(x) == pytest.approx(sr, rel=1e-10)
    approx = _phi(sr * math.sqrt(len(x) - 1) / math.sqrt(1 + sr**2 / 2))
    assert probabilistic_sharpe_ratio(x) == pytest.approx(approx, abs=1e-3)


def test_psr_decreases_with_the_benchmark() -> None:
    x = np.random.default_rng(4).normal(0.001, 0.01, 400)
    values = [probabilistic_sharpe_ratio(x, b) for b in (-0.1, 0.0, 0.05, 0.1, 0.2)]
    assert all(a > b for a, b in itertools.pairwise(values))


def test_psr_grows_with_sample_length_for_a_fixed_positive_sharpe() -> None:
    base = np.random.default_rng(8).normal(0, 1, 100)
    base = (base - base.mean()) / base.std(ddof=1) * 0.01 + 0.001
    short = probabilistic_sharpe_ratio(base)
    long = probabilistic_sharpe_ratio(np.tile(base, 4))
    assert 0.5 < short < long < 1.0


@pytest.mark.parametrize("returns", [[], [0.01, 0.02], [0.01, 0.01, 0.01, 0.01]])
def test_psr_undefined_is_nan(returns: list[float]) -> None:
    assert math.isnan(probabilistic_sharpe_ratio(returns))


# --- auc --------------------------------------------------------------------------------------


def test_auc_hand_case() -> None:
    # Positive/negative pairs ranked correctly: (0.35>0.1), (0.8>0.1), (0.8>0.4); wrong (0.35<0.4).
    y = pd.Series([0.0, 0.0, 1.0, 1.0])
    s = pd.Series([0.1, 0.4, 0.35, 0.8])
    assert auc(y, s) == pytest.approx(0.75)


def test_auc_matches_sklearn_and_drops_nan_rows() -> None:
    rng = np.random.default_rng(0)
    n = 200
    y = pd.Series(rng.integers(0, 2, n).astype(float))
    s = pd.Series(y * 0.5 + rng.normal(0, 1, n))
    y.iloc[[3, 10, 50]] = np.nan
    s.iloc[[10, 70, 199]] = np.nan
    keep = y.notna() & s.notna()
    expected = roc_auc_score(y[keep].to_numpy(), s[keep].to_numpy())
    assert 0.55 < expected < 0.95
    assert auc(y, s) == pytest.approx(expected, rel=1e-12)


def test_auc_of_a_perfect_and_an_inverted_score() -> None:
    y = pd.Series([0.0, 1.0, 0.0, 1.0, 1.0])
    s = pd.Series([0.1, 0.9, 0.2, 0.8, 0.7])
    assert auc(y, s) == 1.0
    assert auc(y, -s) == 0.0


@pytest.mark.parametrize(
    ("y", "s"),
    [
        ([1.0, 1.0, 1.0], [0.1, 0.2, 0.3]),  # one class only
        ([1.0, np.nan, 0.0], [0.1, 0.2, np.nan]),  # one row left
        ([np.nan, np.nan], [0.1, 0.2]),
    ],
)
def test_auc_undefined_is_nan(y: list[float], s: list[float]) -> None:
    assert math.isnan(auc(pd.Series(y), pd.Series(s)))


# --- information_coefficient ------------------------------------------------------------------


def _pearson(a: list[float], b: list[float]) -> float:
    ma, sa = _mean_std(a)
    mb, sb = _mean_std(b)
    if sa == 0 or sb == 0:
        return math.nan
    cov = sum((x - ma) * (y - mb) for x, y in zip(a, b, strict=True)) / (len(a) - 1)
    return cov / (sa * sb)


def _ranks(a: list[float]) -> list[float]:
    """Average ranks (1-based), ties sharing the mean of their positions."""
    order = sorted(range(len(a)), key=lambda i: a[i])
    ranks = [0.0] * len(a)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and a[order[j + 1]] == a[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def _ic_reference(r: pd.Series, s: pd.Series, t: pd.Series, method: str) -> float:
    per_period = []
    for period in sorted(set(t)):
        rows = [
            (ri, si)
            for ri, si, ti in zip(r, s, t, strict=True)
            if ti == period and not (math.isnan(ri) or math.isnan(si))
        ]
        if len(rows) < 3:
            continue
        a = [x for x, _ in rows]
        b = [y for _, y in rows]
        c = _pearson(_ranks(a), _ranks(b)) if method == "spearman" else _pearson(a, b)
        if math.isfinite(c):
            per_period.append(c)
    return sum(per_period) / len(per_period) if per_period else math.nan


def _ic_panel(seed: int) -> tuple[pd.Series, pd.Series, pd.Series]:
    rng = np.random.default_rng(seed)
    periods = pd.date_range("2024-01-01", periods=8, freq="D", tz="UTC")
    t = pd.Series(np.repeat(periods, 7))
    n = len(t)
    s = pd.Series(rng.normal(0, 1, n))
    r = pd.Series(0.3 * s + rng.normal(0, 1, n))
    s.iloc[3] = s.iloc[4]  # a tie
    r.iloc[rng.choice(n, 6, replace=False)] = np.nan
    s.iloc[rng.choice(n, 6, replace=False)] = np.nan
    # Period 2 keeps only two names: it must be skipped.
    r.iloc[14:19] = np.nan
    return r, s, t


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("method", ["spearman", "pearson"])
def test_ic_matches_a_per_period_loop(seed: int, method: str) -> None:
    r, s, t = _ic_panel(seed)
    expected = _ic_reference(r, s, t, method)
    got = information_coefficient(r, s, by=t, method=method)  # type: ignore[arg-type]
    assert got == pytest.approx(expected, rel=1e-10)


def test_ic_default_is_spearman_and_accepts_an_index() -> None:
    r, s, t = _ic_panel(5)
    expected = _ic_reference(r, s, t, "spearman")
    assert information_coefficient(r, s, by=pd.Index(t)) == pytest.approx(expected, rel=1e-10)


def test_ic_hand_case() -> None:
    # Period A: perfectly ranked (+1); period B: perfectly inverted (-1); period C: two names.
    t = pd.Series(["A"] * 3 + ["B"] * 4 + ["C"] * 2)
    s = pd.Series([1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 4.0, 1.0, 2.0])
    r = pd.Series([0.1, 0.5, 0.9, 4.0, 3.0, 2.0, 1.0, 0.0, 1.0])
    assert information_coefficient(r, s, by=t) == pytest.approx(0.0)
    only_a = t == "A"
    assert information_coefficient(r[only_a], s[only_a], by=t[only_a]) == pytest.approx(1.0)


def test_ic_with_nothing_usable_is_nan() -> None:
    t = pd.Series(["A", "A", "B", "B"])
    r = pd.Series([0.1, 0.2, 0.3, 0.4])
    s = pd.Series([1.0, 2.0, 3.0, 4.0])
    assert math.isnan(information_coefficient(r, s, by=t))
    assert math.isnan(information_coefficient(r * np.nan, s, by=t))


@pytest.mark.parametrize("method", ["spearman", "pearson"])
def test_ic_skips_a_period_with_constant_scores(method: str) -> None:
    """A period where every name has the same score has no IC; it is skipped, silently."""
    t = pd.Series(["A"] * 3 + ["B"] * 3)
    s = pd.Series([1.0, 2.0, 3.0, 5.0, 5.0, 5.0])
    r = pd.Series([0.1, 0.5, 0.9, 0.3, 0.1, 0.2])
    assert information_coefficient(r, s, by=t, method=method) == pytest.approx(1.0)  # type: ignore[arg-type]
