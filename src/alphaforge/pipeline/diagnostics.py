"""Model diagnostics of a training run: calibration, hit rate by confidence, importance over time.

Everything here is computed from out-of-fold rows only. The page is one self-contained HTML
file (plotly's JavaScript embedded once), so it opens offline.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import plotly.graph_objects as go

from alphaforge.models.dataset import Panel
from alphaforge.validation import (
    brier_score,
    expected_calibration_error,
    hit_rate_by_probability,
    information_coefficient_by_period,
    log_loss,
    reliability_curve,
)


def _metric_input(
    panel: Panel, probabilities: pd.DataFrame
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Return (labels, probabilities) of scored rows with known labels, as the metrics take
    them: P(class 1) for a binary target, rows x classes for 3 classes."""
    values = probabilities.to_numpy(np.float64)
    rows = np.isfinite(values).all(axis=1) & panel.target.notna().to_numpy()
    proba = values[rows]
    y = panel.target.to_numpy(np.float64)[rows]
    return y, np.clip(proba[:, 1] if proba.shape[1] == 2 else proba, 0.0, 1.0)


def score_diagnostics(
    panel: Panel, scores: pd.Series, probabilities: pd.DataFrame
) -> dict[str, float]:
    """Return log loss, Brier score, calibration error (top-label for 3 classes) and the rank
    IC of what the portfolio ranks by, over out-of-fold rows."""
    y, proba = _metric_input(panel, probabilities)
    trade = panel.trading_scores(scores)
    traded = trade.notna().to_numpy()
    rank_ic = information_coefficient_by_period(
        panel.forward_return[traded],
        trade[traded],
        by=panel.timestamps[traded],
        method="spearman",
    )
    return {
        "log_loss": log_loss(y, proba),
        "brier": brier_score(y, proba),
        "ece": expected_calibration_error(y, proba),
        "rank_ic": rank_ic.mean,
        "rank_ic_t": rank_ic.t_stat,
    }


def calibration_table(panel: Panel, probabilities: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Return the reliability curve of each run (out-of-fold rows), stacked.

    Binary: P(class 1) against the label. Three classes: one curve per class, P(class)
    against whether the row was that class (one-vs-rest), in the ``class`` column.
    """
    pieces = []
    for name, frame in probabilities.items():
        y, proba = _metric_input(panel, frame)
        if proba.ndim == 1:
            curve = reliability_curve(y, proba, n_bins=10, strategy="quantile")
            pieces.append(curve.assign(run=name, **{"class": frame.columns[1]}))
            continue
        for k, label in enumerate(frame.columns):
            curve = reliability_curve(
                (y == k).astype(np.float64), proba[:, k], n_bins=10, strategy="quantile"
            )
            pieces.append(curve.assign(run=name, **{"class": label}))
    return pd.concat(pieces, ignore_index=True) if pieces else pd.DataFrame()


def hit_rate_table(panel: Panel, probabilities: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Return the hit rate of each run's predicted class by quintile of its probability."""
    pieces = []
    for name, frame in probabilities.items():
        y, proba = _metric_input(panel, frame)
        pieces.append(hit_rate_by_probability(y, proba).assign(run=name))
    return pd.concat(pieces, ignore_index=True) if pieces else pd.DataFrame()


def write_diagnostics(
    path: Path,
    *,
    calibration: pd.DataFrame,
    hit_rates: pd.DataFrame,
    importances: pd.DataFrame,
    title: str,
) -> Path:
    """Write the diagnostics page: reliability curves, hit rates, importance over folds."""
    figures: list[tuple[str, go.Figure]] = []
    reliability = go.Figure()
    reliability.add_trace(
        go.Scatter(x=[0, 1], y=[0, 1], name="perfect", line={"dash": "dot", "color": "grey"})
    )
    several = not calibration.empty and calibration["class"].nunique() > 1
    for (name, label), part in (
        calibration.groupby(["run", "class"], sort=False) if not calibration.empty else []
    ):
        reliability.add_trace(
            go.Scatter(
                x=part["mean_predicted"],
                y=part["observed"],
                name=f"{name}: {label}" if several else str(name),
                mode="lines+markers",
            )
        )
    reliability.update_layout(xaxis_title="predicted probability", yaxis_title="observed frequency")
    figures.append(("Reliability (out-of-fold, quantile bins)", reliability))
    if not hit_rates.empty:
        hits = go.Figure()
        for name, part in hit_rates.groupby("run", sort=False):
            labels = [
                f"{lo:.2f}-{hi:.2f}" for lo, hi in zip(part["lower"], part["upper"], strict=True)
            ]
            hits.add_trace(go.Bar(x=labels, y=part["hit_rate"], name=str(name)))
        hits.update_layout(xaxis_title="confidence bucket", yaxis_title="hit rate")
        figures.append(("Hit rate by confidence", hits))
    if not importances.empty:
        top = importances.mean().sort_values(ascending=False).index[:25]
        heat = go.Figure(
            go.Heatmap(
                z=importances[top].to_numpy().T,
                x=[f"{m} fold {f}" for m, f in importances.index],
                y=list(top),
                colorscale="Viridis",
            )
        )
        figures.append(("Feature importance over folds (top 25 by mean)", heat))
    body = []
    for i, (heading, figure) in enumerate(figures):
        figure.update_layout(height=420, template="plotly_white", margin={"t": 30})
        body.append(f"<h2>{html.escape(heading)}</h2>")
        body.append(str(figure.to_html(full_html=False, include_plotlyjs=i == 0)))
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "</head><body style='font-family: sans-serif; max-width: 1100px; margin: auto'>"
        f"<h1>{html.escape(title)}</h1>{''.join(body)}</body></html>"
    )
    path.write_text(page, encoding="utf-8")
    return path


__all__ = [
    "calibration_table",
    "hit_rate_table",
    "score_diagnostics",
    "write_diagnostics",
]
