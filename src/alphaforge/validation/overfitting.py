"""Probability of backtest overfitting by combinatorially symmetric cross-validation (CSCV).

Bailey, Borwein, López de Prado and Zhu (2015), "The probability of backtest overfitting".
The input is a matrix of per-period out-of-sample returns, one row per period in time order and
one column per trial (every configuration that was evaluated, from the trial ledger). The rows
are cut into ``S`` contiguous blocks; each way of choosing ``S/2`` blocks as the in-sample half
(the rest is the out-of-sample half) gives one experiment: pick the trial with the best in-sample
performance, find its relative rank out of sample, and take the logit of that rank. PBO is the
share of experiments whose logit is at most 0, i.e. where the in-sample winner ranks at or below
the out-of-sample median.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

_CHUNK = 512


@dataclass(frozen=True)
class PBOResult:
    """The outcome of CSCV.

    Attributes
    ----------
    pbo
        Share of the combinations whose logit is <= 0.
    logits
        ``log(w / (1 - w))`` per combination, ``w = rank / (N + 1)`` the out-of-sample rank of
        the in-sample winner (1 = worst, N = best; ties share their average rank).
    in_sample, out_of_sample
        The in-sample winner's performance in and out of sample, per combination: the
        performance-degradation pairs.
    degradation_slope
        Least-squares slope of ``out_of_sample`` on ``in_sample`` (NaN if undefined); negative
        values mean a better in-sample pick does worse out of sample.
    probability_of_loss
        Share of combinations where the winner's out-of-sample performance is below 0.
    n_combinations
        ``C(S, S/2)``.
    """

    pbo: float
    logits: npt.NDArray[np.float64]
    in_sample: npt.NDArray[np.float64]
    out_of_sample: npt.NDArray[np.float64]
    degradation_slope: float
    probability_of_loss: float
    n_combinations: int


def _performance(
    total: npt.NDArray[np.float64],
    total_sq: npt.NDArray[np.float64],
    count: npt.NDArray[np.float64],
    centre: npt.NDArray[np.float64],
    metric: Literal["sharpe", "mean"],
) -> npt.NDArray[np.float64]:
    """Performance per (combination, trial) from sums of CENTRED returns over chosen blocks.

    ``total`` and ``total_sq`` are sums of ``r - centre`` and its square; the variance is
    shift-invariant, so centring only buys numerical stability.
    """
    centred_mean = total / count
    mean = centred_mean + centre
    if metric == "mean":
        return mean
    variance = np.maximum(total_sq - total * centred_mean, 0.0) / (count - 1.0)
    sd = np.sqrt(variance)
    # A trial with constant returns on a half has no Sharpe ratio; rank it by the sign of its
    # mean (a riskless gain beats everything, a riskless loss loses to everything).
    safe = sd > 1e-14 * np.maximum(np.abs(mean), 1.0)
    out = np.divide(mean, sd, out=np.zeros_like(mean), where=safe)
    riskless = np.select([mean > 0, mean < 0], [np.inf, -np.inf], default=0.0)
    return np.where(safe, out, riskless)


def probability_of_backtest_overfitting(
    returns: npt.ArrayLike | pd.DataFrame,
    *,
    n_partitions: int = 16,
    metric: Literal["sharpe", "mean"] = "sharpe",
) -> PBOResult:
    """Return the probability of backtest overfitting of the trials in ``returns`` by CSCV.

    Parameters
    ----------
    returns
        T x N per-period returns (rows in time order, one column per trial), all finite; the
        same periods for every trial (``TrialLedger.returns_matrix`` aligns them).
    n_partitions
        ``S``, even and at least 2: the number of contiguous row blocks. Blocks differ in size
        by at most one row when T is not a multiple of S. The cost grows as ``C(S, S/2)``
        (12,870 combinations for S = 16).
    metric
        ``"sharpe"``: per-period Sharpe ratio (mean / sample std) on each half, as in the
        paper; ``"mean"``: mean return.
    """
    m = np.asarray(returns, dtype=np.float64)
    if m.ndim != 2:
        raise ValueError(f"returns must be a 2-D (periods x trials) matrix, got shape {m.shape}")
    n_rows, n_trials = m.shape
    if n_trials < 2:
        raise ValueError("PBO needs at least 2 trials (columns)")
    if n_partitions < 2 or n_partitions % 2:
        raise ValueError(f"n_partitions must be even and >= 2, got {n_partitions}")
    if not np.isfinite(m).all():
        raise ValueError("returns must be finite; align the trials and drop missing periods")
    half = n_partitions // 2
    blocks = np.array_split(np.arange(n_rows), n_partitions)
    smallest_half = sum(sorted(len(b) for b in blocks)[:half])
    if smallest_half < 2:
        raise ValueError(
            f"{n_rows} periods are too few for {n_partitions} partitions: "
            "each half needs at least 2 periods"
        )
    if metric not in ("sharpe", "mean"):
        raise ValueError(f"metric must be 'sharpe' or 'mean', got {metric!r}")

    # Centring each column leaves its variance unchanged and keeps sum-of-squares stable.
    centre = m.mean(axis=0)
    centred = m - centre
    block_sum = np.stack([centred[b].sum(axis=0) for b in blocks])  # S x N
    block_sq = np.stack([(centred[b] ** 2).sum(axis=0) for b in blocks])
    block_n = np.array([len(b) for b in blocks], dtype=np.float64)
    all_sum, all_sq, all_n = block_sum.sum(axis=0), block_sq.sum(axis=0), block_n.sum()

    combos = np.array(list(itertools.combinations(range(n_partitions), half)), dtype=np.int64)
    n_comb = len(combos)
    logits = np.empty(n_comb)
    best_in = np.empty(n_comb)
    best_out = np.empty(n_comb)
    for start in range(0, n_comb, _CHUNK):
        chosen = np.zeros((min(_CHUNK, n_comb - start), n_partitions))
        np.put_along_axis(chosen, combos[start : start + _CHUNK], 1.0, axis=1)
        is_sum, is_sq, is_n = chosen @ block_sum, chosen @ block_sq, chosen @ block_n
        is_n2 = is_n[:, None]
        perf_in = _performance(is_sum, is_sq, is_n2, centre, metric)
        perf_out = _performance(all_sum - is_sum, all_sq - is_sq, all_n - is_n2, centre, metric)
        # Equal in-sample performance (up to rounding of the block sums) goes to the lowest
        # trial index, so a tie does not hang on the last bit.
        best = perf_in.max(axis=1, keepdims=True)
        slack = np.where(np.isfinite(best), 1e-12 * np.abs(best), 0.0)
        winner = np.argmax(perf_in >= best - slack, axis=1)
        rows = np.arange(len(winner))
        rank = stats.rankdata(perf_out, axis=1, method="average")[rows, winner]
        w = rank / (n_trials + 1.0)
        logits[start : start + len(winner)] = np.log(w / (1.0 - w))
        best_in[start : start + len(winner)] = perf_in[rows, winner]
        best_out[start : start + len(winner)] = perf_out[rows, winner]

    finite = np.isfinite(best_in) & np.isfinite(best_out)
    slope = float("nan")
    if finite.sum() >= 2 and np.ptp(best_in[finite]) > 0:
        slope = float(np.polyfit(best_in[finite], best_out[finite], 1)[0])
    return PBOResult(
        pbo=float(np.mean(logits <= 0.0)),
        logits=logits,
        in_sample=best_in,
        out_of_sample=best_out,
        degradation_slope=slope,
        probability_of_loss=float(np.mean(best_out < 0.0)),
        n_combinations=math.comb(n_partitions, half),
    )
