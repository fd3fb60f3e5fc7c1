"""Probability of backtest overfitting by CSCV against a plain loop and known answers."""

from __future__ import annotations

import itertools
import math
import statistics

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alphaforge.validation.overfitting import probability_of_backtest_overfitting


def _sharpe(values: list[float]) -> float:
    return statistics.mean(values) / statistics.stdev(values)


def _cscv_loop(
    m: list[list[float]], s: int
) -> tuple[float, list[float], list[tuple[float, float]]]:
    """CSCV written out for T divisible by S: blocks of T/S rows, Sharpe on each half."""
    t, n = len(m), len(m[0])
    size = t // s
    blocks = [list(range(b * size, (b + 1) * size)) for b in range(s)]
    logits, pairs = [], []
    for chosen in itertools.combinations(range(s), s // 2):
        rows_in = [r for b in chosen for r in blocks[b]]
        rows_out = [r for b in range(s) if b not in chosen for r in blocks[b]]
        perf_in = [_sharpe([m[r][j] for r in rows_in]) for j in range(n)]
        perf_out = [_sharpe([m[r][j] for r in rows_out]) for j in range(n)]
        best = max(range(n), key=lambda j: perf_in[j])
        # Rank 1 = worst; ties share the average rank.
        below = sum(1 for v in perf_out if v < perf_out[best])
        equal = sum(1 for v in perf_out if v == perf_out[best])
        rank = below + (equal + 1) / 2
        w = rank / (n + 1)
        logits.append(math.log(w / (1 - w)))
        pairs.append((perf_in[best], perf_out[best]))
    return sum(1 for x in logits if x <= 0) / len(logits), logits, pairs


def test_tiny_case_by_hand() -> None:
    """T = 4 periods, S = 4 blocks of one period, N = 2 trials: six combinations."""
    m = [[0.01, 0.03], [0.02, -0.01], [-0.01, 0.02], [0.03, 0.00]]
    pbo, logits, pairs = _cscv_loop(m, 4)
    got = probability_of_backtest_overfitting(np.array(m), n_partitions=4)
    assert got.n_combinations == 6
    np.testing.assert_allclose(got.logits, logits, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got.in_sample, [p[0] for p in pairs], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got.out_of_sample, [p[1] for p in pairs], rtol=1e-12, atol=1e-12)
    assert got.pbo == pytest.approx(pbo)
    # With N = 2 a logit is log(2) (winner stays best), -log(2) (winner becomes worst) or 0
    # (an out-of-sample tie, as in combination (0, 3), where both trials have SR 1/sqrt(2)).
    assert set(np.round(np.abs(got.logits), 12)) <= {0.0, round(math.log(2), 12)}
    assert got.logits[2] == 0.0
    assert got.pbo == pytest.approx(5 / 6)


def test_tiny_case_first_combination_written_out() -> None:
    # Combination (0, 1) in sample: trial 0 has rows 0.01, 0.02 (SR = 0.015 / 0.00707 = 2.12),
    # trial 1 has 0.03, -0.01 (SR = 0.01 / 0.0283 = 0.35): trial 0 wins. Out of sample (rows 2
    # and 3): trial 0 has -0.01, 0.03 (SR 0.35), trial 1 has 0.02, 0.00 (SR 0.71): the winner
    # ranks 1 of 2, w = 1/3, logit = log(1/2) < 0.
    m = np.array([[0.01, 0.03], [0.02, -0.01], [-0.01, 0.02], [0.03, 0.00]])
    got = probability_of_backtest_overfitting(m, n_partitions=4)
    assert got.logits[0] == pytest.approx(math.log(0.5))
    assert got.in_sample[0] == pytest.approx(0.015 / math.sqrt(0.00005))
    assert got.out_of_sample[0] == pytest.approx(0.01 / math.sqrt(0.0008))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_the_loop_on_random_data(seed: int) -> None:
    m = np.random.default_rng(seed).normal(0.0005, 0.01, (48, 7))
    pbo, logits, pairs = _cscv_loop(m.tolist(), 6)
    got = probability_of_backtest_overfitting(m, n_partitions=6)
    assert got.pbo == pytest.approx(pbo)
    np.testing.assert_allclose(got.logits, logits, rtol=1e-10)
    np.testing.assert_allclose(got.in_sample, [p[0] for p in pairs], rtol=1e-9)
    np.testing.assert_allclose(got.out_of_sample, [p[1] for p in pairs], rtol=1e-9)


def test_pure_noise_gives_pbo_near_one_half() -> None:
    """With exchangeable skill-less trials and N even, the out-of-sample rank of the in-sample
    winner is uniform on 1..N (the halves are independent), so each logit is <= 0 with
    probability exactly 1/2 and E[PBO] = 1/2. The C(S, S/2) = 70 logits of one matrix share
    their data, so they are far from independent: a binomial standard error sqrt(0.25 / 70)
    = 0.06 would understate the spread (measured: ~0.22 per matrix). Averaging 64 independent
    matrices gives a standard error of ~0.22 / 8 = 0.028 (at most 0.5 / 8 = 0.0625 for any
    [0, 1] variable); the tolerance 0.1 is 3.6 measured standard errors."""
    values = [
        probability_of_backtest_overfitting(
            np.random.default_rng(seed).normal(0.0, 0.01, (240, 10)), n_partitions=8
        ).pbo
        for seed in range(64)
    ]
    assert statistics.mean(values) == pytest.approx(0.5, abs=0.1)


def test_a_true_edge_gives_pbo_near_zero() -> None:
    rng = np.random.default_rng(7)
    m = rng.normal(0.0, 0.01, (480, 20))
    m[:, 5] += 0.004  # per-period Sharpe 0.4: ~4 standard errors on a half of 240 periods
    got = probability_of_backtest_overfitting(m, n_partitions=8)
    assert got.pbo < 0.05
    assert got.probability_of_loss == 0.0


def test_pandas_input_and_uneven_blocks() -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.normal(0, 0.01, (50, 4)), columns=list("abcd"))
    got = probability_of_backtest_overfitting(frame, n_partitions=4)
    assert got.n_combinations == 6
    assert got.logits.shape == (6,)


def test_constant_trial_is_ranked_by_its_sign() -> None:
    m = np.random.default_rng(0).normal(0.0, 0.01, (40, 3))
    m[:, 0] = 0.001  # a riskless gain: always the best, in and out of sample
    got = probability_of_backtest_overfitting(m, n_partitions=4)
    assert got.pbo == 0.0
    np.testing.assert_allclose(got.logits, math.log(3))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 6), s=st.sampled_from([2, 4, 6]))
def test_logits_lie_on_the_rank_grid(seed: int, n: int, s: int) -> None:
    m = np.random.default_rng(seed).normal(0, 1, (4 * s, n))
    got = probability_of_backtest_overfitting(m, n_partitions=s)
    w = 1 / (1 + np.exp(-got.logits))
    ranks = w * (n + 1)
    # Without ties the rank is an integer 1..N.
    np.testing.assert_allclose(ranks, np.round(ranks), atol=1e-9)
    assert ((ranks > 0.5) & (ranks < n + 0.5)).all()
    assert got.pbo == pytest.approx(np.mean(got.logits <= 0))


@pytest.mark.parametrize(
    ("shape", "s", "match"),
    [((20, 1), 4, "2 trials"), ((20, 3), 3, "even"), ((3, 3), 2, "too few"), ((20,), 4, "2-D")],
)
def test_bad_input_raises(shape: tuple[int, ...], s: int, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        probability_of_backtest_overfitting(np.zeros(shape), n_partitions=s)


def test_non_finite_input_raises() -> None:
    m = np.zeros((20, 3))
    m[4, 1] = np.nan
    with pytest.raises(ValueError, match="finite"):
        probability_of_backtest_overfitting(m, n_partitions=4)
