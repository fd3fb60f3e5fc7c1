"""ML analytics: one train run's importances, fold metrics, calibration, controls and trials,
beside the registry's champions and their drift checks.

Everything is read from what ``alphaforge train`` wrote (``feature_importance.csv``,
``folds.csv``, ``calibration.csv``, ``summary.json``), the trial ledger and the model registry;
nothing is recomputed except the deflated Sharpe ratio of each recorded trial, which the
ledger feeds with its current trial count (it can only have grown since the run).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from alphaforge.backtest.charts import BENCHMARK_COLOR, PALETTE, format_metric, style_figure
from alphaforge.core.errors import NotFoundError
from alphaforge.models.drift import PSI_SHIFT
from alphaforge.models.registry_store import INDEX_FILE, ModelRegistry, ModelVersion
from alphaforge.service.pages.base import Chart, Page, PageTable
from alphaforge.service.pages.run_index import RunInfo, find_run, list_runs
from alphaforge.service.sources import ServiceSources
from alphaforge.validation.ledger import TrialLedger, deflated_sharpe_from_ledger

__all__ = ["TRAIN_COMMANDS", "build_ml_page"]

#: Commands whose run folders hold a training run's files.
TRAIN_COMMANDS = ("train", "reproduce")
#: Trials listed on the page (the newest); the ledger keeps them all.
MAX_TRIALS = 200
#: Metrics of the run and its controls shown side by side.
CONTROL_METRICS = ("auc", "ic", "sharpe", "deflated_sharpe", "total_return")
_CONTROL_LABELS = {
    "random_walk": "random-walk control",
    "permuted_labels": "permuted-label control",
}
_TRAIN_HINT = "alphaforge train --config CONFIG"


def _finite(value: object) -> float | None:
    """Return ``value`` as a float, or None for NaN, infinities and non-numbers (JSON null)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _read_csv(path: Path) -> pd.DataFrame | None:
    """Return a run's CSV (pandas reads each float back exactly as written), or None."""
    if not path.is_file():
        return None
    frame = pd.read_csv(path)
    return None if frame.empty else frame


def build_ml_page(sources: ServiceSources, params: Mapping[str, str]) -> Page:
    """Build the ML analytics page of the newest train run, or of ``params["run"]``.

    Raises
    ------
    NotFoundError
        If ``params["run"]`` names no run folder, or one that is not a train run.
    """
    page = Page(name="ml", title="ML analytics")
    runs = [r for r in list_runs(sources.runs_dir, TRAIN_COMMANDS) if r.is_train]
    page.twin["runs"] = [r.name for r in runs]
    run = _chosen_run(sources, params, runs)
    page.twin["run"] = None if run is None else run.name
    if run is None:
        page.notes.append(
            f"No finished train run in {sources.runs_dir} yet: run `{_TRAIN_HINT}` for "
            "importances, fold metrics, calibration, controls and trials."
        )
        experiment = sources.config.train.experiment
    else:
        _importance(page, run)
        _folds(page, run)
        _calibration(page, run)
        _controls(page, run)
        overfitting = run.summary.get("overfitting")
        at_run = overfitting if isinstance(overfitting, Mapping) else {}
        experiment = str(at_run.get("experiment") or sources.config.train.experiment)
    _trials(page, sources, experiment, run)
    _registry(page, sources, run)
    return page


def _chosen_run(
    sources: ServiceSources, params: Mapping[str, str], runs: list[RunInfo]
) -> RunInfo | None:
    name = params.get("run")
    if not name:
        return runs[0] if runs else None
    run = find_run(sources.runs_dir, name)
    if not run.is_train:
        raise NotFoundError(
            f"Run {name!r} is a {run.state} {run.command} run, not a finished train run.",
            hint="Pick a train run (alphaforge train writes them).",
        )
    return run


# --- the run's files -----------------------------------------------------------------------------


def _importance(page: Page, run: RunInfo) -> None:
    """Feature importance by (model, fold) from ``feature_importance.csv``, as written."""
    frame = _read_csv(run.path / "feature_importance.csv")
    if frame is None or not {"model", "fold"} <= set(frame.columns):
        page.twin["importance"] = None
        page.notes.append(
            f"Run {run.name} has no feature_importance.csv (its models report no importances); "
            f"a tree model (train.models: [lightgbm]) in `{_TRAIN_HINT}` writes one."
        )
        return
    features = [str(c) for c in frame.columns if c not in ("model", "fold")]
    by_fold = [
        {
            "model": str(row["model"]),
            "fold": int(row["fold"]),
            "importance": {f: _finite(row[f]) for f in features},
        }
        for _, row in frame.iterrows()
    ]
    grouped = frame.groupby("model", sort=False)[features]
    mean, std = grouped.mean(), grouped.std(ddof=1)
    order = list(mean.mean(axis=0).sort_values(ascending=False).index)
    page.twin["importance"] = {
        "features": features,
        "by_fold": by_fold,
        "mean": {str(m): {f: _finite(mean.loc[m, f]) for f in features} for m in mean.index},
    }
    bars = go.Figure()
    for i, model in enumerate(mean.index):
        bars.add_trace(
            go.Bar(
                x=order,
                y=[mean.loc[model, f] for f in order],
                error_y={"type": "data", "array": [std.loc[model, f] for f in order]},
                name=str(model),
                marker={"color": PALETTE[i % len(PALETTE)]},
            )
        )
    bars.update_yaxes(title="mean importance over folds (± std)")
    page.charts.append(
        Chart("importance_mean", "Feature importance across folds", style_figure(bars))
    )
    heat = go.Figure(
        go.Heatmap(
            z=frame[order].to_numpy(dtype=float),
            x=order,
            y=[f"{r['model']} fold {r['fold']}" for r in by_fold],
            colorscale="Blues",
            colorbar={"title": {"text": "importance"}, "thickness": 12},
        )
    )
    heat.update_yaxes(autorange="reversed", type="category")
    page.charts.append(
        Chart(
            "importance_folds",
            "Feature importance by fold (time runs down)",
            style_figure(heat, height=max(260, 60 + 22 * len(frame)), legend=False),
        )
    )


def _folds(page: Page, run: RunInfo) -> None:
    """Out-of-sample AUC of each walk-forward fold, per model, from ``folds.csv``."""
    frame = _read_csv(run.path / "folds.csv")
    if frame is None or not {"model", "test_start", "test_auc"} <= set(frame.columns):
        page.twin["folds"] = []
        page.notes.append(f"Run {run.name} has no folds.csv: rerun `{_TRAIN_HINT}`.")
        return
    records = [
        {str(k): (_finite(v) if isinstance(v, float) else v) for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]
    page.twin["folds"] = records
    figure = go.Figure()
    for i, (model, part) in enumerate(frame.groupby("model", sort=False)):
        figure.add_trace(
            go.Scatter(
                x=pd.to_datetime(part["test_start"], utc=True),
                y=part["test_auc"].to_numpy(dtype=float),
                name=str(model),
                mode="lines+markers",
                line={"color": PALETTE[i % len(PALETTE)]},
            )
        )
    figure.add_hline(y=0.5, line={"color": BENCHMARK_COLOR, "dash": "dash", "width": 1})
    figure.update_yaxes(title="test AUC")
    figure.update_xaxes(title="test block start")
    page.charts.append(
        Chart("fold_auc", "Model metrics over time (per fold)", style_figure(figure))
    )
    columns = [str(c) for c in frame.columns]
    page.tables.append(
        PageTable(
            "folds", "Walk-forward folds", columns, [[r[c] for c in columns] for r in records]
        )
    )


def _calibration(page: Page, run: RunInfo) -> None:
    """Reliability diagram: observed frequency against mean predicted probability per bin."""
    frame = _read_csv(run.path / "calibration.csv")
    needed = {"mean_predicted", "observed", "run", "class"}
    if frame is None or not needed <= set(frame.columns):
        page.twin["calibration"] = []
        page.notes.append(f"Run {run.name} has no calibration.csv: rerun `{_TRAIN_HINT}`.")
        return
    page.twin["calibration"] = [
        {str(k): (_finite(v) if isinstance(v, float) else v) for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=[0.0, 1.0],
            y=[0.0, 1.0],
            name="perfectly calibrated",
            mode="lines",
            line={"color": BENCHMARK_COLOR, "dash": "dash", "width": 1},
        )
    )
    for i, ((name, label), part) in enumerate(frame.groupby(["run", "class"], sort=False)):
        figure.add_trace(
            go.Scatter(
                x=part["mean_predicted"].to_numpy(dtype=float),
                y=part["observed"].to_numpy(dtype=float),
                name=f"{name} ({label})",
                mode="lines+markers",
                line={"color": PALETTE[i % len(PALETTE)]},
            )
        )
    figure.update_xaxes(title="mean predicted probability")
    figure.update_yaxes(title="observed frequency")
    page.charts.append(Chart("reliability", "Reliability diagram", style_figure(figure)))


def _controls(page: Page, run: RunInfo) -> None:
    """The run's ensemble beside its random-walk and permuted-label controls."""
    controls = run.summary.get("controls")
    ensemble = run.summary.get("ensemble")
    if not isinstance(controls, Mapping) or not isinstance(ensemble, Mapping):
        page.twin["controls"] = None
        page.notes.append(f"Run {run.name} records no controls: rerun `{_TRAIN_HINT}`.")
        return
    sides: dict[str, Mapping[str, Any]] = {"run (ensemble)": ensemble}
    for key, metrics in controls.items():
        if isinstance(metrics, Mapping):
            sides[_CONTROL_LABELS.get(str(key), str(key))] = metrics
    warnings = run.summary.get("warnings")
    alarms = [w for w in warnings if "LEAKAGE ALARM" in w] if isinstance(warnings, list) else []
    page.twin["controls"] = {
        "metrics": {
            label: {k: _finite(m.get(k)) for k in CONTROL_METRICS} for label, m in sides.items()
        },
        "alarms": alarms,
    }
    page.notes.extend(alarms)
    aucs = {label: _finite(m.get("auc")) for label, m in sides.items()}
    shown = {label: auc for label, auc in aucs.items() if auc is not None}
    if shown:
        figure = go.Figure(
            go.Bar(
                x=list(shown),
                y=list(shown.values()),
                name="out-of-sample AUC",
                marker={"color": [PALETTE[i % len(PALETTE)] for i in range(len(shown))]},
            )
        )
        figure.add_hline(y=0.5, line={"color": BENCHMARK_COLOR, "dash": "dash", "width": 1})
        figure.update_yaxes(title="AUC (0.5 = chance)")
        page.charts.append(
            Chart("controls", "The run beside its controls", style_figure(figure, legend=False))
        )
    page.tables.append(
        PageTable(
            "controls",
            "Run and controls",
            ["", *CONTROL_METRICS],
            [
                [label, *(format_metric(k, _finite(m.get(k))) for k in CONTROL_METRICS)]
                for label, m in sides.items()
            ],
        )
    )


# --- the trial ledger ----------------------------------------------------------------------------


def _trials(page: Page, sources: ServiceSources, experiment: str, run: RunInfo | None) -> None:
    """Every trial of the experiment and its deflated Sharpe ratio with today's trial count."""
    overfitting = run.summary.get("overfitting") if run is not None else None
    at_run = overfitting if isinstance(overfitting, Mapping) else {}
    dsr_at_run = at_run.get("deflated_sharpe")
    twin: dict[str, Any] = {
        "experiment": experiment,
        "at_run": {
            "n_trials": at_run.get("n_trials"),
            "deflated_sharpe": {str(k): _finite(v) for k, v in dsr_at_run.items()}
            if isinstance(dsr_at_run, Mapping)
            else {},
            "pbo": _finite(at_run.get("pbo")),
            "pbo_undefined_reason": at_run.get("pbo_undefined_reason"),
        },
        "n_trials": None,
        "trials": [],
    }
    page.twin["trials"] = twin
    if not sources.trials_path.is_file():
        page.notes.append(
            f"No trial ledger at {sources.trials_path} yet: `{_TRAIN_HINT}` and "
            "`alphaforge backtest` record every configuration they try."
        )
        return
    with TrialLedger(sources.trials_path) as ledger:
        twin["n_trials"] = ledger.n_trials(experiment)
        trials = ledger.trials(experiment)[-MAX_TRIALS:]
        rows = []
        for trial in trials:
            dsr = None
            if trial.returns is not None and len(trial.returns) > 1:
                try:
                    dsr = _finite(deflated_sharpe_from_ledger(ledger, experiment, trial.returns))
                except ValueError:
                    dsr = None  # the variance of the trials' Sharpe ratios is unknown
            rows.append(
                {
                    "config_hash": trial.config_hash,
                    "kind": trial.kind,
                    "seed": trial.seed,
                    "evaluated_at": trial.evaluated_at.isoformat(),
                    "sharpe": _finite(trial.metrics.get("sharpe")),
                    "auc": _finite(trial.metrics.get("auc", trial.metrics.get("inner_auc"))),
                    "deflated_sharpe": dsr,
                }
            )
    twin["trials"] = rows
    if not rows:
        page.notes.append(
            f"The trial ledger holds no trial of experiment {experiment!r}: run `{_TRAIN_HINT}`."
        )
        return
    page.tables.append(
        PageTable(
            "trials",
            f"Trials of {experiment} ({twin['n_trials']} distinct configurations)",
            ["evaluated_at", "kind", "config_hash", "seed", "sharpe", "auc", "deflated_sharpe"],
            [
                [
                    r["evaluated_at"],
                    r["kind"],
                    str(r["config_hash"])[:12],
                    r["seed"],
                    r["sharpe"],
                    r["auc"],
                    r["deflated_sharpe"],
                ]
                for r in rows
            ],
        )
    )
    figure = go.Figure()
    now = [(f"{r['kind']} {str(r['config_hash'])[:8]}", r["deflated_sharpe"]) for r in rows]
    now = [(label, v) for label, v in now if v is not None]
    if now:
        figure.add_trace(
            go.Bar(
                x=[label for label, _ in now],
                y=[v for _, v in now],
                name=f"now ({twin['n_trials']} trials)",
                marker={"color": PALETTE[0]},
            )
        )
    then = {k: v for k, v in twin["at_run"]["deflated_sharpe"].items() if v is not None}
    if then:
        figure.add_trace(
            go.Bar(
                x=list(then),
                y=list(then.values()),
                name=f"at the run ({twin['at_run']['n_trials']} trials)",
                marker={"color": PALETTE[1]},
            )
        )
    if figure.data:
        figure.update_yaxes(title="deflated Sharpe ratio (probability)", range=[0, 1])
        page.charts.append(Chart("deflated_sharpe", "Deflated Sharpe ratio", style_figure(figure)))


# --- the model registry --------------------------------------------------------------------------


def _registry(page: Page, sources: ServiceSources, run: RunInfo | None) -> None:
    """Champions, the run's training curves (deep models) and the recorded drift checks."""
    page.twin["champions"] = []
    page.twin["curves"] = {}
    page.twin["drift"] = {"psi_threshold": PSI_SHIFT, "updates": []}
    if not (sources.models_dir / INDEX_FILE).is_file():
        page.notes.append(
            f"No model registry in {sources.models_dir} yet: `{_TRAIN_HINT}` registers the "
            "champions."
        )
        return
    with ModelRegistry(sources.models_dir) as registry:
        versions = registry.list()
        registered = run.summary.get("registered") if run is not None else None
        trained: list[ModelVersion] = []
        if isinstance(registered, Mapping):
            for entry in registered.values():
                if isinstance(entry, Mapping) and "name" in entry and "version" in entry:
                    trained.extend(
                        v
                        for v in versions
                        if v.name == entry["name"] and v.version == entry["version"]
                    )
    _champions(page, [v for v in versions if v.stage == "champion"])
    _curves(page, trained, run)
    _drift(page, versions)


def _champions(page: Page, champions: list[ModelVersion]) -> None:
    rows: list[dict[str, Any]] = [
        {
            "name": v.name,
            "version": v.version,
            "kind": v.kind,
            "created_at": v.created_at.isoformat(),
            "data_start": v.data_start.isoformat(),
            "data_end": v.data_end.isoformat(),
            "label": v.label,
            "metrics": {k: _finite(x) for k, x in v.metrics.items()},
        }
        for v in champions
    ]
    page.twin["champions"] = rows
    if not rows:
        page.notes.append(f"The model registry holds no champion yet: run `{_TRAIN_HINT}`.")
        return
    keys = sorted({k for r in rows for k in r["metrics"]})[:8]
    page.tables.append(
        PageTable(
            "champions",
            "Registered champions",
            ["name", "version", "kind", "trained on", *keys],
            [
                [
                    r["name"],
                    r["version"],
                    r["kind"],
                    f"{r['data_start'][:10]} .. {r['data_end'][:10]}",
                    *(r["metrics"].get(k) for k in keys),
                ]
                for r in rows
            ],
        )
    )


def _history(version: ModelVersion) -> dict[str, list[float | None]] | None:
    """Return the per-epoch losses a deep model saved with its artifact, or None."""
    for path in sorted(version.path.glob("**/*.json")):
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        learned = payload.get("learned") if isinstance(payload, dict) else None
        history = learned.get("history") if isinstance(learned, dict) else None
        if isinstance(history, dict) and history:
            return {str(k): [_finite(x) for x in v] for k, v in history.items()}
    return None


def _curves(page: Page, trained: list[ModelVersion], run: RunInfo | None) -> None:
    curves = {f"{v.name} v{v.version}": h for v in trained if (h := _history(v)) is not None}
    page.twin["curves"] = curves
    if not curves:
        if run is not None:
            page.notes.append(
                f"Run {run.name}'s registered models keep no training/validation curves (the "
                "deep sequence models record them per epoch; the folds table shows each "
                "boosted model's best iteration)."
            )
        return
    figure = go.Figure()
    for i, (name, history) in enumerate(curves.items()):
        for key, values in history.items():
            figure.add_trace(
                go.Scatter(
                    x=list(range(1, len(values) + 1)),
                    y=values,
                    name=f"{name} {key}",
                    mode="lines",
                    line={
                        "color": PALETTE[i % len(PALETTE)],
                        "dash": "dash" if key.startswith("val") else "solid",
                    },
                )
            )
    figure.update_xaxes(title="epoch")
    figure.update_yaxes(title="loss")
    page.charts.append(Chart("curves", "Training and validation loss", style_figure(figure)))


def _drift(page: Page, versions: list[ModelVersion]) -> None:
    updates: list[dict[str, Any]] = []
    for v in versions:
        online = v.config.get("online")
        if not isinstance(online, Mapping):
            continue
        drifted = online.get("drifted_features")
        updates.append(
            {
                "name": v.name,
                "version": v.version,
                "continued_from": online.get("continued_from"),
                "rows": online.get("rows"),
                "first_row": online.get("first_row"),
                "last_row": online.get("last_row"),
                "drift_checked": drifted is not None,
                "drifted_features": list(drifted) if isinstance(drifted, list) else [],
            }
        )
    page.twin["drift"]["updates"] = updates
    if not updates:
        page.notes.append(
            "No drift check recorded yet: `alphaforge models update NAME` compares a "
            f"champion's newer features with its training data (PSI >= {PSI_SHIFT} counts as "
            "drift) and records the drifted features."
        )
        return
    page.tables.append(
        PageTable(
            "drift",
            f"Online updates and drifted features (PSI >= {PSI_SHIFT})",
            ["name", "version", "continued from", "rows", "drifted features"],
            [
                [
                    u["name"],
                    u["version"],
                    u["continued_from"],
                    u["rows"],
                    ", ".join(u["drifted_features"])
                    if u["drift_checked"]
                    else "not checked (too few rows)",
                ]
                for u in updates
            ],
        )
    )
    counts: dict[str, int] = {}
    for u in updates:
        for name in u["drifted_features"]:
            counts[name] = counts.get(name, 0) + 1
    if counts:
        figure = go.Figure(
            go.Bar(x=list(counts), y=list(counts.values()), marker={"color": PALETTE[4]})
        )
        figure.update_yaxes(title="updates in which it drifted")
        page.charts.append(
            Chart("drift", "Feature drift (PSI)", style_figure(figure, legend=False))
        )
