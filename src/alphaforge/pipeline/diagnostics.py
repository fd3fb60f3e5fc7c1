"""Model diagnostics of a training run: calibration, hit rate by confidence, importance over time.

Everything here is computed from out-of-fold rows only. The page is one self-contained HTML
file (plotly's JavaScript embedded once), so it opens offline.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from pathlib import Path

import numpy as np
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


def score_diagnostics(panel: Panel, scores: pd.Series) -> dict[str, float]:
    """Return log loss, Brier score, calibration error and rank IC of out-of-fold scores."""
    scored = scores.notna() & panel.target.notna()
    y = panel.target[scored].to_numpy(np.float64)
    p = np.clip(scores[scored].to_numpy(np.float64), 0.0, 1.0)
    rank_ic = information_coefficient_by_period(
        panel.forward_return[scored],
        scores[scored],
        by=panel.timestamps[scored.to_numpy()],
        method="spearman",
    )
    return {
        "log_loss": log_loss(y, p),
        "brier": brier_score(y, p),
        "ece": expected_calibration_error(y, p),
        "rank_ic": rank_ic.mean,
        "rank_ic_t": rank_ic.t_stat,
    }


def calibration_table(panel: Panel, scores: Mapping[str, pd.Series]) -> pd.DataFrame:
    """Return the reliability curve of each scored run (out-of-fold rows), stacked."""
    pieces = []
    for name, series in scores.items():
        scored = series.notna() & panel.target.notna()
        curve = reliability_curve(
            panel.target[scored].to_numpy(np.float64),
            np.clip(series[scored].to_numpy(np.float64), 0.0, 1.0),
            n_bins=10,
            strategy="quantile",
        )
        pieces.append(curve.assign(run=name))
    return pd.concat(pieces, ignore_index=True) if pieces else pd.DataFrame()


def hit_rate_table(panel: Panel, scores: Mapping[str, pd.Series]) -> pd.DataFrame:
    """Return the hit rate of each run by quintile of its confidence (out-of-fold rows)."""
    pieces = []
    for name, series in scores.items():
        scored = series.notna() & panel.target.notna()
        table = hit_rate_by_probability(
            panel.target[scored].to_numpy(np.float64),
            np.clip(series[scored].to_numpy(np.float64), 0.0, 1.0),
        )
        pieces.append(table.assign(run=name))
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
    for name, part in calibration.groupby("run", sort=False) if not calibration.empty else []:
        reliability.add_trace(
            go.Scatter(
                x=part["mean_predicted"], y=part["observed"], name=str(name), mode="lines+markers"
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
