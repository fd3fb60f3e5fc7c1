"""Recording every evaluated configuration in the trial ledger, and the statistics it feeds.

The deflated Sharpe ratio and the probability of backtest overfitting are computed from the
ledger, so the number of trials is the number ever tried in the experiment, never typed in.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alphaforge.config import AppConfig
from alphaforge.pipeline.ensembling import ENSEMBLE
from alphaforge.pipeline.results import Overfitting
from alphaforge.pipeline.rundir import code_version
from alphaforge.validation import (
    TrialLedger,
    default_ledger_path,
    deflated_sharpe_from_ledger,
    probability_of_backtest_overfitting,
)

if TYPE_CHECKING:
    from alphaforge.pipeline.train import PanelRuns


def snapshot_ledger(config: AppConfig, destination: Path) -> Path:
    """Copy the project's trial ledger to ``destination`` (an empty one when there is none).

    A reproduction records its trials in the copy: its deflated Sharpe then counts the same
    history as the original run did (plus whatever was recorded since), and the real ledger
    is left as it was. SQLite's backup API copies a consistent state even in WAL mode.
    """
    source_path = default_ledger_path(config.data.store_dir)
    if source_path.exists():
        source = sqlite3.connect(str(source_path))
        target = sqlite3.connect(str(destination))
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
    return destination


def trial_config(config: AppConfig, model: str) -> dict[str, Any]:
    """Return what makes one trial a different configuration (not the seed or the run)."""
    return {
        "model": config.model.model_copy(update={"name": model}).model_dump(mode="json"),
        "ensemble_of": list(config.train.models) if model == ENSEMBLE else None,
        "ensemble": config.train.ensemble if model == ENSEMBLE else None,
        "universe": config.train.universe,
        "interval": config.data.interval,
        "features": config.features.model_dump(mode="json"),
        "selection": config.selection.model_dump(mode="json"),
        "labels": config.labels.model_dump(mode="json"),
        "walk_forward": config.walk_forward.model_dump(mode="json"),
        "portfolio": config.portfolio.model_dump(mode="json"),
        "backtest": config.backtest.model_dump(mode="json"),
        "search_trials": config.train.search_trials,
    }


def record_trials(
    config: AppConfig,
    main: PanelRuns,
    controls: Mapping[str, PanelRuns],
    *,
    ledger_path: Path | None = None,
) -> tuple[Overfitting, list[str]]:
    """Record every evaluated configuration in the trial ledger; return DSR and PBO from it,
    and notes on what could not be computed.

    The deflated Sharpe ratio of each model and of the ensemble uses the number of distinct
    configurations ever recorded in ``train.experiment`` (this run's and earlier runs'),
    never a number typed in. Controls go to their own experiment so they do not inflate it,
    but they are deflated with the main experiment's trial count and Sharpe variance: a
    control stands for what the same search would report on data without signal, so it must
    pay for the same number of tries (deflated only by its own few trials, a random walk's
    lucky Sharpe read as skill).
    """
    experiment = config.train.experiment
    seed = config.run.seed
    version = code_version()
    notes: list[str] = []
    path = ledger_path or default_ledger_path(config.data.store_dir)
    with TrialLedger(path) as ledger:
        for trial in main.search_trials:
            ledger.record(
                experiment=experiment,
                config={
                    "search": trial.params,
                    "base": trial_config(config, trial.model or "lightgbm"),
                },
                kind="search",
                seed=seed + trial.fold,
                code_version=version,
                metrics={"inner_auc": trial.inner_auc},
            )
        for name, run in (main.models | {ENSEMBLE: main.ensemble}).items():
            ledger.record(
                experiment=experiment,
                config=trial_config(config, name),
                kind="variant" if name == ENSEMBLE else "manual",
                seed=seed,
                code_version=version,
                metrics=run.metrics | run.prediction,
                returns=run.returns,
            )
        for label, runs in controls.items():
            ledger.record(
                experiment=f"{experiment}/control/{label}",
                config=trial_config(config, ENSEMBLE),
                kind="variant",
                seed=seed,
                code_version=version,
                metrics=runs.ensemble.metrics | runs.ensemble.prediction,
                returns=runs.ensemble.returns,
            )
        n_trials = ledger.n_trials(experiment)
        dsr: dict[str, float] = {}
        for name, run in (main.models | {ENSEMBLE: main.ensemble}).items():
            try:
                dsr[name] = deflated_sharpe_from_ledger(ledger, experiment, run.returns)
            except ValueError as exc:
                dsr[name] = float("nan")
                notes.append(f"deflated Sharpe of {name} not computed: {exc}")
        control_dsr: dict[str, float] = {}
        for label, runs in controls.items():
            try:
                control_dsr[label] = deflated_sharpe_from_ledger(
                    ledger, experiment, runs.ensemble.returns
                )
            except ValueError:
                control_dsr[label] = float("nan")
        matrix = ledger.returns_matrix(experiment)
    pbo: float | None = None
    pbo_reason: str | None = None
    if matrix.shape[1] >= 2 and len(matrix) >= 32:
        pbo = probability_of_backtest_overfitting(matrix.to_numpy()).pbo
    else:
        # One configuration has nothing to be overfitted against: PBO is undefined, not 0 or 1.
        pbo_reason = (
            "PBO undefined: it needs at least 2 distinct configurations with returns in the "
            f"experiment ({matrix.shape[1]} so far) and 32 common periods ({len(matrix)})."
        )
        notes.append(pbo_reason)
    overfitting = Overfitting(
        experiment=experiment,
        ledger=str(path),
        n_trials=n_trials,
        deflated_sharpe=dict(dsr),
        control_deflated_sharpe=dict(control_dsr),
        pbo=pbo,
        pbo_undefined_reason=pbo_reason,
    )
    return overfitting, notes


__all__ = ["record_trials", "snapshot_ledger", "trial_config"]
