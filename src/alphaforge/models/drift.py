"""Drift detection: feature distribution shift (PSI) and degrading hit rate.

Population stability index
    ``PSI = sum_i (q_i - p_i) ln(q_i / p_i)`` over bins, with ``p_i`` the reference (training)
    share and ``q_i`` the recent share of bin ``i``. Bin edges are the reference's quantiles
    (``n_bins`` equally populated reference bins, outer bins open-ended); an empty bin's share is
    raised to ``epsilon`` so the logarithm stays finite. PSI is the symmetrised Kullback-Leibler
    divergence of the binned distributions. The customary reading (credit-scoring practice):
    below :data:`PSI_STABLE` (0.1) no meaningful shift, 0.1 to :data:`PSI_SHIFT` (0.25) a
    moderate shift worth watching, above 0.25 a major shift.

Hit-rate degradation
    The share of recent predictions that were right, over the last ``window`` resolved
    predictions, against the hit rate the model scored on its validation block. Under "no
    degradation" the number of hits in the window is Binomial(window, validation hit rate); the
    one-sided exact binomial p-value ``P(X <= hits)`` says how surprising the recent window is.
    One window is tested per call, so the level ``alpha`` is the false-alarm rate per check.

Time: the reference window must end before the recent window starts; predictions count only
once their label has resolved (its ``end`` has passed). Nothing here looks at the future.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

__all__ = [
    "PSI_SHIFT",
    "PSI_STABLE",
    "DriftReport",
    "HitRateDrift",
    "drift_report",
    "feature_psi",
    "hit_rate_degradation",
    "population_stability_index",
    "rolling_hit_rate",
]

#: Below this PSI a feature's distribution is taken as unchanged.
PSI_STABLE = 0.1
#: Above this PSI a feature's distribution has shifted materially (default retrain trigger).
PSI_SHIFT = 0.25


def _finite(values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    array = np.asarray(values, dtype=np.float64).ravel()
    return array[np.isfinite(array)]


def population_stability_index(
    reference: npt.ArrayLike,
    recent: npt.ArrayLike,
    *,
    n_bins: int = 10,
    epsilon: float = 1e-4,
) -> float:
    """Return the PSI of ``recent`` against ``reference`` (non-finite values ignored).

    Parameters
    ----------
    reference
        The training-window values of one feature.
    recent
        The recent-window values of the same feature.
    n_bins
        Number of reference-quantile bins; tied quantiles (discrete features) merge bins.
    epsilon
        Floor for a bin's share, so an empty bin contributes a large but finite term.

    Returns
    -------
    float
        ``>= 0``; ``nan`` when either window has no finite value.
    """
    if n_bins < 2:
        raise ValueError(f"n_bins must be at least 2, got {n_bins}.")
    if not 0 < epsilon < 1:
        raise ValueError(f"epsilon must lie in (0, 1), got {epsilon}.")
    ref = _finite(reference)
    new = _finite(recent)
    if ref.size == 0 or new.size == 0:
        return float("nan")
    inner = np.unique(np.quantile(ref, np.arange(1, n_bins) / n_bins))
    # Bin i holds [edge_{i-1}, edge_i): a value equal to an edge goes to the bin above it.
    ref_counts = np.bincount(np.searchsorted(inner, ref, side="right"), minlength=inner.size + 1)
    new_counts = np.bincount(np.searchsorted(inner, new, side="right"), minlength=inner.size + 1)
    p = np.maximum(ref_counts / ref.size, epsilon)
    q = np.maximum(new_counts / new.size, epsilon)
    return float(np.sum((q - p) * np.log(q / p)))


def feature_psi(
    reference: pd.DataFrame,
    recent: pd.DataFrame,
    *,
    n_bins: int = 10,
    epsilon: float = 1e-4,
) -> pd.Series:
    """Return the PSI of every column of ``reference`` (which ``recent`` must also hold)."""
    missing = [c for c in reference.columns if c not in recent.columns]
    if missing:
        raise ValueError(f"recent window lacks the reference columns {missing[:5]}.")
    values = {
        str(c): population_stability_index(
            reference[c].to_numpy(dtype=np.float64, na_value=np.nan),
            recent[c].to_numpy(dtype=np.float64, na_value=np.nan),
            n_bins=n_bins,
            epsilon=epsilon,
        )
        for c in reference.columns
    }
    return pd.Series(values, dtype=np.float64, name="psi")


def _as_hits(hits: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Return ``hits`` as booleans; anything but 0/1 (an unresolved NaN) is refused."""
    raw = np.asarray(hits).ravel()
    if raw.dtype == np.bool_:
        return raw
    values = raw.astype(np.float64)
    if not np.all((values == 0.0) | (values == 1.0)):
        raise ValueError("hits must be booleans or 0/1 (drop unresolved predictions first).")
    return np.asarray(values == 1.0, dtype=np.bool_)


def rolling_hit_rate(hits: npt.ArrayLike, window: int) -> npt.NDArray[np.float64]:
    """Return the trailing ``window`` hit rate at each prediction (``nan`` until full)."""
    h = _as_hits(hits).astype(np.float64)
    if window < 1:
        raise ValueError(f"window must be positive, got {window}.")
    out = np.full(h.size, np.nan)
    if h.size >= window:
        csum = np.concatenate([[0.0], np.cumsum(h)])
        out[window - 1 :] = (csum[window:] - csum[:-window]) / window
    return out


@dataclass(frozen=True)
class HitRateDrift:
    """The recent window's hit rate against the validation hit rate.

    ``p_value`` is the one-sided exact binomial ``P(X <= hits)`` with
    ``X ~ Binomial(window, baseline)``; ``degraded`` is ``p_value < alpha``.
    """

    baseline: float
    recent: float
    hits: int
    window: int
    p_value: float
    alpha: float
    degraded: bool


def hit_rate_degradation(
    hits: npt.ArrayLike,
    baseline_hit_rate: float,
    *,
    window: int = 100,
    alpha: float = 0.01,
) -> HitRateDrift:
    """Test whether the last ``window`` resolved predictions hit less often than validation.

    Parameters
    ----------
    hits
        One boolean per resolved prediction (right or wrong), oldest first.
    baseline_hit_rate
        The model's hit rate on its validation block, in (0, 1).
    window
        Number of most recent predictions tested (all of them when fewer exist).
    alpha
        False-alarm rate of one check.
    """
    if not 0 < baseline_hit_rate < 1:
        raise ValueError(f"baseline_hit_rate must lie in (0, 1), got {baseline_hit_rate}.")
    h = _as_hits(hits)
    if h.size == 0:
        raise ValueError("No resolved predictions to test.")
    recent = h[-window:]
    n = int(recent.size)
    k = int(recent.sum())
    p_value = float(stats.binom.cdf(k, n, baseline_hit_rate))
    return HitRateDrift(
        baseline=float(baseline_hit_rate),
        recent=k / n,
        hits=k,
        window=n,
        p_value=p_value,
        alpha=alpha,
        degraded=p_value < alpha,
    )


@dataclass(frozen=True)
class DriftReport:
    """Feature PSIs, the hit-rate check, and whether to retrain (with the reasons)."""

    psi: dict[str, float]
    psi_threshold: float
    drifted_features: tuple[str, ...]
    hit_rate: HitRateDrift | None
    should_retrain: bool
    reasons: tuple[str, ...] = field(default_factory=tuple)


def drift_report(
    reference: pd.DataFrame,
    recent: pd.DataFrame,
    *,
    hits: Sequence[bool] | npt.ArrayLike | None = None,
    baseline_hit_rate: float | None = None,
    psi_threshold: float = PSI_SHIFT,
    min_drifted_features: int = 1,
    window: int = 100,
    alpha: float = 0.01,
    n_bins: int = 10,
) -> DriftReport:
    """Check features and (optionally) the hit rate; decide whether to retrain.

    Retraining is advised when at least ``min_drifted_features`` features have
    ``PSI >= psi_threshold``, or when the hit rate over the last ``window`` predictions is
    significantly below ``baseline_hit_rate`` (one-sided binomial test at ``alpha``).
    """
    psi = feature_psi(reference, recent, n_bins=n_bins)
    drifted = tuple(str(c) for c, v in psi.items() if math.isfinite(v) and v >= psi_threshold)
    reasons: list[str] = []
    if len(drifted) >= min_drifted_features:
        worst = ", ".join(f"{c} ({psi[c]:.3f})" for c in sorted(drifted, key=lambda c: -psi[c]))
        reasons.append(f"{len(drifted)} feature(s) with PSI >= {psi_threshold}: {worst}")
    hit_check: HitRateDrift | None = None
    if hits is not None:
        if baseline_hit_rate is None:
            raise ValueError("baseline_hit_rate is needed to test the hit rate.")
        hit_check = hit_rate_degradation(
            np.asarray(hits), baseline_hit_rate, window=window, alpha=alpha
        )
        if hit_check.degraded:
            reasons.append(
                f"hit rate {hit_check.recent:.3f} over the last {hit_check.window} predictions "
                f"is below the validation {hit_check.baseline:.3f} "
                f"(binomial p = {hit_check.p_value:.2g} < {alpha})"
            )
    return DriftReport(
        psi={str(k): float(v) for k, v in psi.items()},
        psi_threshold=psi_threshold,
        drifted_features=drifted,
        hit_rate=hit_check,
        should_retrain=bool(reasons),
        reasons=tuple(reasons),
    )
