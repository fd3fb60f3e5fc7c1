"""Prediction metrics on out-of-fold scores.

AUC (binary, one-vs-rest macro, up/down), log loss, accuracy, Brier score, the information
coefficient and rank IC per period, hit rate by confidence bucket, and the reliability curve
with the expected calibration error. Every function is a pure function of arrays; rows are
out-of-fold predictions made at a bar's close, compared with outcomes realised later.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.metrics import roc_auc_score


def auc(y_true: pd.Series, score: pd.Series) -> float:
    """Return the ROC AUC of ``score`` for binary ``y_true`` over rows where both are known."""
    known = y_true.notna() & score.notna()
    y = y_true[known].to_numpy()
    if known.sum() < 2 or len(np.unique(y)) < 2:
        return float("nan")
    return float(roc_auc_score(y, score[known].to_numpy()))


def information_coefficient(
    forward_return: pd.Series,
    score: pd.Series,
    *,
    by: pd.Index | pd.Series,
    method: Literal["pearson", "spearman"] = "spearman",
) -> float:
    """Return the mean cross-sectional correlation of ``score`` with ``forward_return``.

    ``by`` holds the period of each row (the bar timestamp); periods with fewer than three
    names are skipped, as are periods where either side is constant. See
    :func:`information_coefficient_by_period` for the per-period values and their t-stat.
    """
    return information_coefficient_by_period(forward_return, score, by=by, method=method).mean


# --- classification metrics over probabilities -----------------------------------------------
#
# Conventions shared by the functions below. ``y_true`` holds integer class indices 0..K-1 (the
# columns of ``proba`` in the same order); a 1-D ``proba`` is binary and holds P(class 1). Rows
# where the label or any probability is not finite are dropped (out-of-fold frames leave rows
# unscored before the first fold). Every metric is a plain average over rows: no time weighting.


def _as_labels_and_proba(
    y_true: npt.ArrayLike, proba: npt.ArrayLike
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Return finite rows as (integer labels, probabilities) with the shapes checked."""
    y = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(proba, dtype=np.float64)
    if y.ndim != 1:
        raise ValueError(f"y_true must be 1-D, got shape {y.shape}")
    if p.ndim not in (1, 2) or p.shape[0] != y.shape[0]:
        raise ValueError(
            f"proba must be 1-D or 2-D with one row per label: {p.shape} vs {y.shape[0]} labels"
        )
    finite = np.isfinite(y) & (np.isfinite(p) if p.ndim == 1 else np.isfinite(p).all(axis=1))
    y, p = y[finite], p[finite]
    n_classes = 2 if p.ndim == 1 else p.shape[1]
    if y.size and (np.any(y != np.round(y)) or y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"y_true must hold class indices 0..{n_classes - 1}")
    if p.size and (p.min() < 0.0 or p.max() > 1.0):
        raise ValueError("proba must lie in [0, 1]")
    return y.astype(np.int64), p


def _one_hot(y: npt.NDArray[np.int64], n_classes: int) -> npt.NDArray[np.float64]:
    out = np.zeros((y.size, n_classes), dtype=np.float64)
    out[np.arange(y.size), y] = 1.0
    return out


def log_loss(y_true: npt.ArrayLike, proba: npt.ArrayLike, *, eps: float = 1e-15) -> float:
    """Return the mean negative log-likelihood (natural log, nats per row).

    Probabilities are clipped to ``[eps, 1 - eps]`` so a confident miss costs a large but finite
    amount; 2-D rows are used as given (not renormalised). NaN when no row is usable.
    """
    y, p = _as_labels_and_proba(y_true, proba)
    if y.size == 0:
        return float("nan")
    p_true = np.where(y == 1, p, 1.0 - p) if p.ndim == 1 else p[np.arange(y.size), y]
    return float(-np.mean(np.log(np.clip(p_true, eps, 1.0 - eps))))


def predicted_class(proba: npt.ArrayLike, *, threshold: float = 0.5) -> npt.NDArray[np.int64]:
    """Return the predicted class: ``P(1) >= threshold`` for 1-D input, else the argmax.

    Ties in the argmax go to the lowest class index.
    """
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim == 1:
        return np.asarray(p >= threshold, dtype=np.int64)
    return np.asarray(np.argmax(p, axis=1), dtype=np.int64)


def accuracy(y_true: npt.ArrayLike, proba: npt.ArrayLike, *, threshold: float = 0.5) -> float:
    """Return the share of rows whose :func:`predicted_class` equals the label."""
    y, p = _as_labels_and_proba(y_true, proba)
    if y.size == 0:
        return float("nan")
    return float(np.mean(predicted_class(p, threshold=threshold) == y))


def brier_score(y_true: npt.ArrayLike, proba: npt.ArrayLike) -> float:
    """Return the Brier score (lower is better).

    Binary (1-D ``proba``): mean of ``(P(1) - y)^2``, in [0, 1]. Multi-class (2-D): Brier's
    original definition, the mean over rows of the SUM over classes of ``(p_k - 1[y = k])^2``,
    in [0, 2]; for two columns it is twice the binary score.
    """
    y, p = _as_labels_and_proba(y_true, proba)
    if y.size == 0:
        return float("nan")
    if p.ndim == 1:
        return float(np.mean((p - y) ** 2))
    return float(np.mean(np.sum((p - _one_hot(y, p.shape[1])) ** 2, axis=1)))


def macro_auc_ovr(y_true: npt.ArrayLike, proba: npt.ArrayLike) -> float:
    """Return the one-vs-rest macro AUC: the unweighted mean over classes of AUC(1[y=k], p_k).

    ``proba`` is 2-D (rows x classes). A class that is absent from (or is all of) the usable
    rows has no AUC and is left out of the mean; NaN when no class has one.
    """
    y, p = _as_labels_and_proba(y_true, proba)
    if p.ndim != 2:
        raise ValueError("macro_auc_ovr needs a 2-D proba (rows x classes)")
    per_class = []
    for k in range(p.shape[1]):
        positive = y == k
        if 0 < positive.sum() < y.size:
            per_class.append(float(roc_auc_score(positive, p[:, k])))
    return float(np.mean(per_class)) if per_class else float("nan")


def up_down_auc(forward_return: npt.ArrayLike, p_up: npt.ArrayLike, p_down: npt.ArrayLike) -> float:
    """Return the AUC of ``P(up) - P(down)`` as a score for the sign of the realised return.

    For a 3-class BUY/HOLD/SELL model, ``p_up`` is P(BUY) and ``p_down`` is P(SELL). Rows
    with a zero or non-finite return (no direction) or non-finite probabilities are dropped.
    """
    r = np.asarray(forward_return, dtype=np.float64)
    score = np.asarray(p_up, dtype=np.float64) - np.asarray(p_down, dtype=np.float64)
    if r.shape != score.shape or r.ndim != 1:
        raise ValueError("forward_return, p_up and p_down must be 1-D and of equal length")
    keep = np.isfinite(r) & np.isfinite(score) & (r != 0.0)
    up = r[keep] > 0
    if keep.sum() < 2 or up.all() or not up.any():
        return float("nan")
    return float(roc_auc_score(up, score[keep]))


# --- per-period information coefficient ------------------------------------------------------


@dataclass(frozen=True)
class ICSummary:
    """Per-period cross-sectional correlations and their summary over periods.

    Attributes
    ----------
    per_period
        One correlation per usable period (index: the period, sorted).
    mean, std
        Mean and sample standard deviation (ddof=1) of ``per_period``.
    t_stat
        ``mean / (std / sqrt(n_periods))``: assumes the periods' ICs are independent, which
        overlapping forward returns (horizon > 1 bar) violate; read it as optimistic then.
    n_periods
        The number of usable periods.
    """

    per_period: pd.Series
    mean: float
    std: float
    t_stat: float
    n_periods: int


def information_coefficient_by_period(
    forward_return: pd.Series | npt.ArrayLike,
    score: pd.Series | npt.ArrayLike,
    *,
    by: pd.Index | pd.Series | npt.ArrayLike,
    method: Literal["pearson", "spearman"] = "pearson",
    min_names: int = 3,
) -> ICSummary:
    """Return the cross-sectional IC per period (``pearson``) or rank IC (``spearman``).

    ``by`` holds each row's period (the bar timestamp of the decision). Rows with a missing
    return or score are dropped first; a period is skipped when fewer than ``min_names`` rows
    remain or when either side is constant in it (no correlation is defined). Spearman uses
    average ranks for ties within the period.
    """
    frame = pd.DataFrame(
        {
            "r": np.asarray(forward_return, dtype=np.float64),
            "s": np.asarray(score, dtype=np.float64),
            # pd.Index keeps a tz-aware dtype (np.asarray would give objects) and is placed by
            # position, never aligned on a Series' index.
            "t": pd.Index(np.asarray(by) if not isinstance(by, pd.Index | pd.Series) else by),
        }
    )
    frame = frame[np.isfinite(frame["r"]) & np.isfinite(frame["s"])]
    grouped = frame.groupby("t", sort=True)
    if method == "spearman":
        frame = frame.assign(r=grouped["r"].rank(), s=grouped["s"].rank())
        grouped = frame.groupby("t", sort=True)
    elif method != "pearson":
        raise ValueError(f"method must be 'pearson' or 'spearman', got {method!r}")
    # Centre within each period, then correlate from sums: one pass, no Python loop per period.
    dr = frame["r"] - grouped["r"].transform("mean")
    ds = frame["s"] - grouped["s"].transform("mean")
    sums = pd.DataFrame({"rs": dr * ds, "rr": dr * dr, "ss": ds * ds, "t": frame["t"]}).groupby(
        "t", sort=True
    )
    totals = sums.sum()
    size = grouped.size()
    spread = grouped[["r", "s"]].max() - grouped[["r", "s"]].min()
    usable = (size >= min_names) & (spread["r"] > 0) & (spread["s"] > 0)
    totals = totals[usable]
    per_period = (totals["rs"] / np.sqrt(totals["rr"] * totals["ss"])).clip(-1.0, 1.0)
    per_period = per_period[np.isfinite(per_period)].rename("ic")
    n = int(per_period.size)
    mean = float(per_period.mean()) if n else float("nan")
    std = float(per_period.std(ddof=1)) if n >= 2 else float("nan")
    t_stat = mean / (std / np.sqrt(n)) if n >= 2 and std > 0 else float("nan")
    return ICSummary(per_period=per_period, mean=mean, std=std, t_stat=float(t_stat), n_periods=n)


# --- hit rate by confidence and calibration ---------------------------------------------------


def hit_rate_by_confidence(
    hit: npt.ArrayLike, confidence: npt.ArrayLike, *, n_buckets: int = 5
) -> pd.DataFrame:
    """Return the hit rate per quantile bucket of ``confidence``.

    ``hit`` is 1/True where the prediction was right. Buckets are equal-count quantiles of the
    finite confidences, closed on the right; tied confidences can merge buckets, so fewer than
    ``n_buckets`` rows may come back. Columns: ``lower``, ``upper`` (bucket edges),
    ``mean_confidence``, ``hit_rate``, ``count``; one row per non-empty bucket, low to high.
    """
    if n_buckets < 1:
        raise ValueError("n_buckets must be at least 1")
    h = np.asarray(hit, dtype=np.float64)
    c = np.asarray(confidence, dtype=np.float64)
    if h.shape != c.shape or h.ndim != 1:
        raise ValueError("hit and confidence must be 1-D and of equal length")
    keep = np.isfinite(h) & np.isfinite(c)
    h, c = h[keep], c[keep]
    columns = ["lower", "upper", "mean_confidence", "hit_rate", "count"]
    if c.size == 0:
        return pd.DataFrame(columns=columns)
    edges = np.unique(np.quantile(c, np.linspace(0.0, 1.0, n_buckets + 1)))
    if edges.size == 1:
        edges = np.repeat(edges, 2)
    # Right-closed buckets, the first also holding the minimum (as pd.qcut).
    codes = np.searchsorted(edges[1:-1], c, side="left")
    rows = []
    for b in np.unique(codes):
        inside = codes == b
        rows.append((edges[b], edges[b + 1], c[inside].mean(), h[inside].mean(), int(inside.sum())))
    return pd.DataFrame(rows, columns=columns)


def hit_rate_by_probability(
    y_true: npt.ArrayLike, proba: npt.ArrayLike, *, n_buckets: int = 5
) -> pd.DataFrame:
    """Hit rate of the predicted class by buckets of its probability (max P for 2-D input).

    For 1-D (binary) input the confidence is ``max(p, 1 - p)``.
    """
    y, p = _as_labels_and_proba(y_true, proba)
    confidence = np.maximum(p, 1.0 - p) if p.ndim == 1 else p.max(axis=1)
    return hit_rate_by_confidence(predicted_class(p) == y, confidence, n_buckets=n_buckets)


def hit_rate_by_score(
    forward_return: npt.ArrayLike, score: npt.ArrayLike, *, n_buckets: int = 5
) -> pd.DataFrame:
    """Directional hit rate (sign of score == sign of return) by buckets of ``|score|``.

    Rows with a zero return or zero score (no direction) are dropped.
    """
    r = np.asarray(forward_return, dtype=np.float64)
    s = np.asarray(score, dtype=np.float64)
    keep = np.isfinite(r) & np.isfinite(s) & (r != 0.0) & (s != 0.0)
    hit = np.sign(r[keep]) == np.sign(s[keep])
    return hit_rate_by_confidence(hit, np.abs(s[keep]), n_buckets=n_buckets)


def _calibration_pairs(
    y_true: npt.ArrayLike, proba: npt.ArrayLike
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(predicted probability, outcome): P(1) vs y for 1-D, top-label for 2-D."""
    y, p = _as_labels_and_proba(y_true, proba)
    if p.ndim == 1:
        return p, y.astype(np.float64)
    return p.max(axis=1), (np.argmax(p, axis=1) == y).astype(np.float64)


def reliability_curve(
    y_true: npt.ArrayLike,
    proba: npt.ArrayLike,
    *,
    n_bins: int = 10,
    strategy: Literal["uniform", "quantile"] = "uniform",
) -> pd.DataFrame:
    """Return the reliability curve: mean predicted probability vs observed frequency per bin.

    Binary (1-D ``proba``): P(1) against the label. Multi-class (2-D): top-label calibration,
    the max probability against whether the argmax class was right. ``uniform`` bins split
    [0, 1] evenly; ``quantile`` bins hold equal counts. Bins are closed on the right (the first
    also holds 0), as in scikit-learn's ``calibration_curve``. Columns: ``lower``, ``upper``,
    ``mean_predicted``, ``observed``, ``count``; empty bins are left out.
    """
    if n_bins < 1:
        raise ValueError("n_bins must be at least 1")
    pred, outcome = _calibration_pairs(y_true, proba)
    columns = ["lower", "upper", "mean_predicted", "observed", "count"]
    if pred.size == 0:
        return pd.DataFrame(columns=columns)
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    elif strategy == "quantile":
        edges = np.unique(np.quantile(pred, np.linspace(0.0, 1.0, n_bins + 1)))
    else:
        raise ValueError(f"strategy must be 'uniform' or 'quantile', got {strategy!r}")
    codes = np.searchsorted(edges[1:-1], pred, side="left")
    rows = []
    for b in np.unique(codes):
        inside = codes == b
        rows.append(
            (edges[b], edges[b + 1], pred[inside].mean(), outcome[inside].mean(), inside.sum())
        )
    out = pd.DataFrame(rows, columns=columns)
    return out.astype({"count": np.int64})


def expected_calibration_error(
    y_true: npt.ArrayLike,
    proba: npt.ArrayLike,
    *,
    n_bins: int = 10,
    strategy: Literal["uniform", "quantile"] = "uniform",
) -> float:
    """Return the ECE: count-weighted mean of ``|observed - mean_predicted|`` over the bins.

    Uses the bins of :func:`reliability_curve` (top-label for multi-class input).
    """
    curve = reliability_curve(y_true, proba, n_bins=n_bins, strategy=strategy)
    if curve.empty:
        return float("nan")
    weights = curve["count"].to_numpy(dtype=np.float64)
    gaps = np.abs(curve["observed"].to_numpy() - curve["mean_predicted"].to_numpy())
    return float(np.sum(weights * gaps) / weights.sum())
