"""Classification, IC, hit-rate, calibration and deflated-Sharpe metrics against independent
references: scikit-learn, scipy per-period loops, plain-Python formulas and the worked example
of Bailey and López de Prado (2014)."""

from __future__ import annotations

import itertools
import math
import statistics

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn.calibration import calibration_curve
from sklearn.metrics import accuracy_score, brier_score_loss, roc_auc_score
from sklearn.metrics import log_loss as sk_log_loss

from alphaforge.validation.metrics import (
    accuracy,
    brier_score,
    expected_calibration_error,
    hit_rate_by_confidence,
    hit_rate_by_probability,
    hit_rate_by_score,
    information_coefficient,
    information_coefficient_by_period,
    log_loss,
    macro_auc_ovr,
    reliability_curve,
    up_down_auc,
)
from alphaforge.validation.stats import (
    EULER_MASCHERONI,
    deflated_sharpe_from_moments,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    probabilistic_sharpe_ratio,
    psr_from_moments,
    sharpe_ratio,
)

# --- fixtures ---------------------------------------------------------------------------------


def _three_class(seed: int, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    logits = rng.normal(0, 1, (n, 3))
    logits[np.arange(n), y] += 0.8  # some skill
    p = np.exp(logits)
    return y, p / p.sum(axis=1, keepdims=True)


def _binary(seed: int, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    p = 1.0 / (1.0 + np.exp(-(1.2 * (y - 0.5) + rng.normal(0, 1, n))))
    return y, p


# --- log loss, accuracy, Brier ----------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_log_loss_matches_sklearn(seed: int) -> None:
    y, p = _three_class(seed)
    assert log_loss(y, p) == pytest.approx(sk_log_loss(y, p, labels=[0, 1, 2]), rel=1e-10)
    yb, pb = _binary(seed)
    assert log_loss(yb, pb) == pytest.approx(sk_log_loss(yb, pb), rel=1e-10)


def test_log_loss_hand_case() -> None:
    # -(ln 0.8 + ln 0.6) / 2 for labels (1, 0) with P(1) = (0.8, 0.4).
    expected = -(math.log(0.8) + math.log(0.6)) / 2
    assert log_loss([1, 0], [0.8, 0.4]) == pytest.approx(expected, rel=1e-12)


def test_log_loss_is_finite_for_a_confident_miss() -> None:
    assert log_loss([1], [0.0]) == pytest.approx(-math.log(1e-15))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_accuracy_matches_sklearn(seed: int) -> None:
    y, p = _three_class(seed)
    assert accuracy(y, p) == pytest.approx(accuracy_score(y, p.argmax(axis=1)))
    yb, pb = _binary(seed)
    assert accuracy(yb, pb) == pytest.approx(accuracy_score(yb, (pb >= 0.5).astype(int)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_brier_matches_sklearn(seed: int) -> None:
    yb, pb = _binary(seed)
    assert brier_score(yb, pb) == pytest.approx(brier_score_loss(yb, pb), rel=1e-12)
    y, p = _three_class(seed)
    # scikit-learn's multi-class Brier is the sum over classes, unscaled.
    expected = brier_score_loss(y, p, labels=[0, 1, 2], scale_by_half=False)
    assert brier_score(y, p) == pytest.approx(expected, rel=1e-12)


def test_brier_hand_case_and_two_column_relation() -> None:
    # ((0.8 - 1)^2 + (0.4 - 0)^2) / 2 = (0.04 + 0.16) / 2 = 0.1
    assert brier_score([1, 0], [0.8, 0.4]) == pytest.approx(0.1)
    two_col = np.array([[0.2, 0.8], [0.6, 0.4]])
    assert brier_score([1, 0], two_col) == pytest.approx(0.2)


def test_metrics_drop_non_finite_rows() -> None:
    y = np.array([1.0, 0.0, np.nan, 1.0])
    p = np.array([0.8, 0.4, 0.5, np.nan])
    assert log_loss(y, p) == pytest.approx(log_loss([1, 0], [0.8, 0.4]))
    assert brier_score(y, p) == pytest.approx(0.1)
    assert accuracy(y, p) == 1.0
    assert math.isnan(log_loss([np.nan], [0.5]))


@pytest.mark.parametrize(
    ("y", "p"),
    [([0, 3], [[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]]), ([0, 1], [1.2, 0.3]), ([0.5], [0.4])],
)
def test_bad_inputs_raise(y: list[float], p: list[float]) -> None:
    with pytest.raises(ValueError, match=r"proba|class indices"):
        log_loss(y, p)


# --- AUCs -------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_macro_auc_matches_sklearn(seed: int) -> None:
    y, p = _three_class(seed)
    expected = roc_auc_score(y, p, multi_class="ovr", average="macro")
    assert 0.6 < expected < 0.95
    assert macro_auc_ovr(y, p) == pytest.approx(expected, rel=1e-12)


def test_macro_auc_skips_an_absent_class() -> None:
    y, p = _three_class(7)
    keep = y != 2
    manual = np.mean([roc_auc_score(y[keep] == k, p[keep, k]) for k in (0, 1)])
    assert macro_auc_ovr(y[keep], p[keep]) == pytest.approx(manual)


def test_up_down_auc_against_a_pair_count() -> None:
    rng = np.random.default_rng(3)
    n = 120
    r = rng.normal(0, 1, n)
    r[::10] = 0.0  # no direction: dropped
    p_up = rng.uniform(0, 0.5, n) + 0.2 * (r > 0)
    p_down = rng.uniform(0, 0.5, n)
    score = p_up - p_down
    up = [s for s, x in zip(score, r, strict=True) if x > 0]
    down = [s for s, x in zip(score, r, strict=True) if x < 0]
    # AUC = P(score of an up row > score of a down row), ties counting half.
    pairs = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in up for b in down)
    assert up_down_auc(r, p_up, p_down) == pytest.approx(pairs / (len(up) * len(down)))


def test_up_down_auc_undefined_without_both_directions() -> None:
    assert math.isnan(up_down_auc([0.1, 0.2, 0.0], [0.5, 0.6, 0.7], [0.1, 0.1, 0.1]))


# --- per-period IC ----------------------------------------------------------------------------


def _panel(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.repeat(pd.date_range("2024-01-01", periods=12, freq="D", tz="UTC"), 9)
    s = rng.normal(0, 1, t.size)
    r = 0.4 * s + rng.normal(0, 1, t.size)
    r[rng.choice(t.size, 10, replace=False)] = np.nan
    s[rng.choice(t.size, 10, replace=False)] = np.nan
    s[9:18] = 1.0  # period 1: constant score, skipped
    r[20:27] = np.nan  # period 2: two names left, skipped
    s[40] = s[41]  # a tie
    return pd.DataFrame({"t": t, "r": r, "s": s})


def _ic_loop(frame: pd.DataFrame, method: str) -> list[float]:
    out = []
    for _, g in frame.dropna().groupby("t", sort=True):
        if len(g) < 3 or g["r"].nunique() < 2 or g["s"].nunique() < 2:
            continue
        fn = stats.pearsonr if method == "pearson" else stats.spearmanr
        out.append(float(fn(g["r"].to_numpy(), g["s"].to_numpy())[0]))
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("method", ["pearson", "spearman"])
def test_ic_by_period_matches_scipy_loop(seed: int, method: str) -> None:
    frame = _panel(seed)
    expected = _ic_loop(frame, method)
    got = information_coefficient_by_period(frame["r"], frame["s"], by=frame["t"], method=method)  # type: ignore[arg-type]
    assert got.n_periods == len(expected) == 10
    np.testing.assert_allclose(got.per_period.to_numpy(), expected, rtol=1e-10)
    assert got.mean == pytest.approx(statistics.mean(expected), rel=1e-10)
    assert got.std == pytest.approx(statistics.stdev(expected), rel=1e-10)
    t_ref = statistics.mean(expected) / (statistics.stdev(expected) / math.sqrt(len(expected)))
    assert got.t_stat == pytest.approx(t_ref, rel=1e-10)
    assert got.per_period.index[0] == pd.Timestamp("2024-01-01", tz="UTC")
    # The original mean-only function agrees.
    assert information_coefficient(
        frame["r"],
        frame["s"],
        by=frame["t"],
        method=method,  # type: ignore[arg-type]
    ) == pytest.approx(got.mean, rel=1e-12)


def test_ic_by_period_accepts_plain_arrays_and_ignores_series_index() -> None:
    frame = _panel(4)
    shuffled_index = frame.set_index(np.arange(len(frame))[::-1])
    got = information_coefficient_by_period(
        shuffled_index["r"], shuffled_index["s"].to_numpy(), by=frame["t"].to_numpy()
    )
    assert got.per_period.to_numpy() == pytest.approx(_ic_loop(frame, "pearson"), rel=1e-10)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n_periods=st.integers(1, 6),
    n_names=st.integers(3, 8),
)
def test_ic_lies_in_unit_interval_and_is_rank_invariant(
    seed: int, n_periods: int, n_names: int
) -> None:
    rng = np.random.default_rng(seed)
    t = np.repeat(np.arange(n_periods), n_names)
    s = rng.normal(0, 1, t.size)
    r = rng.normal(0, 1, t.size) + s
    rank_ic = information_coefficient_by_period(r, s, by=t, method="spearman")
    # A strictly increasing transform leaves the rank IC unchanged.
    rank_ic2 = information_coefficient_by_period(r, np.exp(s), by=t, method="spearman")
    assert ((rank_ic.per_period >= -1) & (rank_ic.per_period <= 1)).all()
    np.testing.assert_allclose(rank_ic.per_period, rank_ic2.per_period, atol=1e-12)


# --- hit rate by confidence -------------------------------------------------------------------


def test_hit_rate_by_confidence_hand_case() -> None:
    confidence = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8])
    hit = np.array([0, 0, 1, 0, 1, 1, 1, 1])
    table = hit_rate_by_confidence(hit, confidence, n_buckets=4)
    assert table["count"].tolist() == [2, 2, 2, 2]
    assert table["hit_rate"].tolist() == pytest.approx([0.0, 0.5, 1.0, 1.0])
    assert table["mean_confidence"].tolist() == pytest.approx([0.15, 0.35, 0.55, 0.75])


def test_hit_rate_by_probability_and_by_score() -> None:
    y, p = _three_class(5, n=400)
    table = hit_rate_by_probability(y, p, n_buckets=4)
    assert table["count"].sum() == 400
    conf, hit = p.max(axis=1), p.argmax(axis=1) == y
    top = conf >= np.quantile(conf, 0.75)
    assert table["hit_rate"].iloc[-1] == pytest.approx(hit[top].mean())
    # A more confident bucket of a skilled model hits more often.
    assert table["hit_rate"].iloc[-1] > table["hit_rate"].iloc[0]
    r = np.array([0.1, -0.2, 0.3, -0.4, 0.0, 0.2])
    s = np.array([1.0, 2.0, -3.0, -4.0, 5.0, 0.0])
    by_score = hit_rate_by_score(r, s, n_buckets=2)
    # Kept rows: |s| = 1 (hit), 2 (miss), 3 (miss), 4 (hit).
    assert by_score["count"].tolist() == [2, 2]
    assert by_score["hit_rate"].tolist() == pytest.approx([0.5, 0.5])


def test_hit_rate_ties_merge_buckets() -> None:
    table = hit_rate_by_confidence([1, 0, 1, 1], [0.5, 0.5, 0.5, 0.5], n_buckets=3)
    assert table["count"].tolist() == [4]
    assert table["hit_rate"].iloc[0] == pytest.approx(0.75)


# --- reliability curve and ECE ----------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
@pytest.mark.parametrize("seed", [0, 1])
def test_reliability_curve_matches_sklearn(seed: int, strategy: str) -> None:
    y, p = _binary(seed, n=500)
    p[:3] = [0.0, 0.5, 1.0]  # edges
    prob_true, prob_pred = calibration_curve(y, p, n_bins=8, strategy=strategy)
    curve = reliability_curve(y, p, n_bins=8, strategy=strategy)  # type: ignore[arg-type]
    np.testing.assert_allclose(curve["observed"], prob_true, rtol=1e-12)
    np.testing.assert_allclose(curve["mean_predicted"], prob_pred, rtol=1e-12)
    assert curve["count"].sum() == 500


def test_ece_hand_case() -> None:
    # Bins of width 0.5: [0, 0.5] holds p = 0.2, 0.4 (y = 0, 1); (0.5, 1] holds 0.9, 0.9 (1, 1).
    # |0.5 - 0.3| * 2/4 + |1.0 - 0.9| * 2/4 = 0.1 + 0.05.
    assert expected_calibration_error([0, 1, 1, 1], [0.2, 0.4, 0.9, 0.9], n_bins=2) == (
        pytest.approx(0.15)
    )


def test_ece_of_a_calibrated_forecaster_is_small() -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 1, 200_000)
    y = (rng.uniform(0, 1, p.size) < p).astype(int)
    # Per-bin sampling noise is ~ sqrt(0.25 / 20,000) = 0.0035; the within-bin spread of p
    # averages out in a bin's mean.
    assert expected_calibration_error(y, p, n_bins=10) < 0.01
    assert expected_calibration_error(y, np.clip(p + 0.2, 0, 1), n_bins=10) > 0.1


def test_multiclass_reliability_is_top_label() -> None:
    y, p = _three_class(2)
    curve = reliability_curve(y, p, n_bins=5)
    conf, right = p.max(axis=1), (p.argmax(axis=1) == y).astype(float)
    prob_true, prob_pred = calibration_curve(right, conf, n_bins=5)
    np.testing.assert_allclose(curve["observed"], prob_true)
    np.testing.assert_allclose(curve["mean_predicted"], prob_pred)


# --- deflated Sharpe ratio --------------------------------------------------------------------


def _phi_inv(q: float) -> float:
    """Inverse normal CDF by bisection on erf (independent of scipy.stats.norm.ppf)."""
    lo, hi = -40.0, 40.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if 0.5 * (1 + math.erf(mid / math.sqrt(2))) < q:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def test_dsr_reproduces_the_papers_worked_example() -> None:
    """Bailey and López de Prado (2014), section "A numerical example": N = 100 trials,
    V[SR] = 1/2 and SR = 2.5 annualised, T = 1,250 daily returns (250 a year), skew -3,
    kurtosis 10; the paper reports SR0 ~ 0.1132 (daily) and DSR ~ 0.9004."""
    variance = 0.5 / 250
    sr0 = expected_max_sharpe(100, variance)
    assert sr0 == pytest.approx(0.1132, abs=1e-4)
    dsr = deflated_sharpe_from_moments(
        2.5 / math.sqrt(250), 1250, n_trials=100, sharpe_variance=variance, skew=-3, kurtosis=10
    )
    assert dsr == pytest.approx(0.9004, abs=1e-4)


@pytest.mark.parametrize(("n", "variance"), [(2, 0.01), (10, 0.004), (1000, 0.2)])
def test_expected_max_sharpe_formula_written_out(n: int, variance: float) -> None:
    g = 0.5772156649015329
    assert g == EULER_MASCHERONI
    expected = math.sqrt(variance) * (
        (1 - g) * _phi_inv(1 - 1 / n) + g * _phi_inv(1 - 1 / (n * math.e))
    )
    assert expected_max_sharpe(n, variance) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("n", [10, 100, 1000])
def test_expected_max_sharpe_vs_monte_carlo(n: int) -> None:
    """The approximation's error vs the exact expected maximum of N iid normals is ~2.3 % at
    N = 10, ~0.9 % at N = 100 and ~0.4 % at N = 1000; the Monte Carlo standard error with
    4,000 replications is < 0.5 %. A 4 % tolerance covers both."""
    sd = 0.05
    rng = np.random.default_rng(n)
    draws = rng.normal(0.0, sd, (4000, n)).max(axis=1)
    assert expected_max_sharpe(n, sd**2) == pytest.approx(draws.mean(), rel=0.04)


def test_expected_max_sharpe_vs_simulated_strategies() -> None:
    """Skill-less strategies: the best sample Sharpe of 50 trials on 500 periods, with the
    variance measured across the trials, as a ledger would measure it."""
    rng = np.random.default_rng(1)
    best, predicted = [], []
    for _ in range(200):
        r = rng.normal(0.0, 0.01, (500, 50))
        sharpes = r.mean(axis=0) / r.std(axis=0, ddof=1)
        best.append(sharpes.max())
        predicted.append(expected_max_sharpe(50, float(np.var(sharpes, ddof=1))))
    # Standard error of the mean of the maxima ~ 0.018 / sqrt(200) ~ 0.0013 (~1.3 %); formula
    # error at N = 50 ~ 1.2 %.
    assert np.mean(predicted) == pytest.approx(np.mean(best), rel=0.05)


def test_dsr_with_one_trial_is_psr_against_zero() -> None:
    x = np.random.default_rng(3).normal(0.0008, 0.01, 600)
    assert expected_max_sharpe(1, 0.3) == 0.0
    assert deflated_sharpe_ratio(x, n_trials=1, sharpe_variance=0.3) == pytest.approx(
        probabilistic_sharpe_ratio(x, 0.0), rel=1e-12
    )


def test_dsr_decreases_with_the_number_of_trials() -> None:
    x = np.random.default_rng(4).normal(0.001, 0.01, 1000)
    values = [
        deflated_sharpe_ratio(x, n_trials=n, sharpe_variance=0.001)
        for n in (1, 2, 5, 10, 100, 1000, 10_000)
    ]
    assert all(a > b for a, b in itertools.pairwise(values))
    assert values[0] > 0.9 > values[-1]


def test_dsr_equals_psr_against_the_expected_max_written_out() -> None:
    rng = np.random.default_rng(9)
    x = 0.0015 + 0.01 * rng.standard_t(4, 800)
    sr0 = expected_max_sharpe(20, 0.002)
    sr = sharpe_ratio(x)
    # The paper's moments: plain sample skewness and Pearson kurtosis, no bias correction.
    d = x - x.mean()
    g3 = float(np.mean(d**3) / np.mean(d**2) ** 1.5)
    g4 = float(np.mean(d**4) / np.mean(d**2) ** 2)
    z = (sr - sr0) * math.sqrt(len(x) - 1) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr**2)
    expected = 0.5 * math.erfc(-z / math.sqrt(2))
    assert deflated_sharpe_ratio(x, n_trials=20, sharpe_variance=0.002) == pytest.approx(
        expected, rel=1e-10
    )
    assert psr_from_moments(sr, len(x), skew=g3, kurtosis=g4, benchmark_sharpe=sr0) == (
        pytest.approx(expected, rel=1e-10)
    )


@pytest.mark.parametrize(("n", "variance"), [(0, 0.1), (5, -1.0), (5, math.nan)])
def test_expected_max_sharpe_rejects_bad_input(n: int, variance: float) -> None:
    with pytest.raises(ValueError, match=r"n_trials|sharpe_variance"):
        expected_max_sharpe(n, variance)
