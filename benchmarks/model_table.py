"""Regenerate the model benchmark table: every registered model and the ensemble, honestly.

Run: ``.venv/bin/python benchmarks/model_table.py [--out FILE.md]`` (``--quick`` for a small
check). The universe is fixed: the synthetic market of ``alphaforge train``
(``train.universe: synthetic``, a planted-signal cross-section; no package ships a real
OHLCV cross-section). Only the models' seeds change between repeats. For each seed every
registered model is trained by purged walk-forward through ``train_panel`` (the pipeline of
``alphaforge train``), its out-of-fold scores are traded by the configured top-k long/short
book with costs on (commission and slippage from ``BacktestConfig``), and the same is done on
the two controls: a random-walk market with the same calendar and volatility, and the real
panel with labels permuted in blocks. Rows are mean +- std over seeds.

Deflated Sharpe ratios come from a trial ledger in a temporary directory. Every (model,
seed) pair and every ensemble is recorded as its own configuration, so the trial count the
deflation uses is the number of variants really tried here (models x seeds + ensembles), not
a number typed in. Controls are recorded in experiments of their own (they do not inflate
the real count) but deflated with the real experiment's trial count and Sharpe variance, as
``alphaforge train`` does: a control stands for what the same search reports on data
without signal, so it pays for the same number of tries.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True, slots=True)
class Size:
    """What one table costs: universe, walk-forward blocks, model budgets and seeds."""

    symbols: int
    start: date
    end: date
    test_months: int
    trees: int
    learning_rate: float
    colsample: float
    epochs: int
    lookback: int
    seeds: int
    n_jobs: int


#: The published table: sized to finish within 60 minutes on 2 cores.
FULL = Size(
    symbols=16,
    start=date(2014, 1, 1),
    end=date(2019, 12, 31),
    test_months=12,
    trees=30,
    learning_rate=0.1,
    colsample=0.3,
    epochs=2,
    lookback=10,
    seeds=5,
    n_jobs=2,
)
#: ``--quick``: a look that the script works end to end (about a quarter of the full work).
QUICK = Size(
    symbols=8,
    start=date(2015, 1, 1),
    end=date(2017, 12, 31),
    test_months=6,
    trees=20,
    learning_rate=0.15,
    colsample=0.3,
    epochs=1,
    lookback=5,
    seeds=2,
    n_jobs=2,
)
MARKET_SEED = 42
EXPERIMENT = "model-table"
ENSEMBLE_ROW = "ensemble (average)"
CONTROLS = {"random_walk": "control: random walk", "permuted": "control: permuted labels"}
COLUMNS = ("AUC", "IC", "rank IC", "annual return", "Sharpe", "max drawdown", "deflated Sharpe")


@dataclass(slots=True)
class Trial:
    """One row's result for one seed."""

    metrics: dict[str, float]
    returns: pd.Series
    experiment: str
    config: dict[str, Any]


@dataclass(slots=True)
class Results:
    """Every row's trials, in table order."""

    rows: dict[str, list[Trial]] = field(default_factory=dict)

    def add(self, row: str, trial: Trial) -> None:
        self.rows.setdefault(row, []).append(trial)


def make_configs(size: Size) -> list[Any]:
    """Return ``alphaforge train`` configurations covering every registered model.

    The boosting/classical models and the deep ones get one configuration each (trees and
    epochs are budgeted apart; same data, labels, splitter, book and costs), and the ensemble
    averages all of them.
    """
    from alphaforge.config import (
        AppConfig,
        DeepConfig,
        DemoConfig,
        ModelConfig,
        RunConfig,
        TrainConfig,
        TreesConfig,
        WalkForwardConfig,
    )
    from alphaforge.models import MODELS
    from alphaforge.models.deep import SEQUENCE_MODELS

    names = list(MODELS.names())
    groups = [
        [n for n in names if n not in SEQUENCE_MODELS],
        [n for n in names if n in SEQUENCE_MODELS],
    ]
    return [
        AppConfig(
            demo=DemoConfig(n_symbols=size.symbols, start=size.start, end=size.end),
            walk_forward=WalkForwardConfig(test_months=size.test_months),
            model=ModelConfig(
                trees=TreesConfig(
                    n_estimators=size.trees,
                    learning_rate=size.learning_rate,
                    colsample_bytree=size.colsample,
                ),
                deep=DeepConfig(epochs=size.epochs, lookback=size.lookback),
            ),
            train=TrainConfig(universe="synthetic", models=models, experiment=EXPERIMENT),
            run=RunConfig(seed=MARKET_SEED, n_jobs=size.n_jobs),
        )
        for models in groups
        if models
    ]


def train_all(
    label: str,
    panel: Any,
    bars: Mapping[str, pd.DataFrame],
    interval: Any,
    configs: Sequence[Any],
    seed: int,
) -> tuple[dict[str, Any], Any]:
    """Train every model of every configuration through ``train_panel``; return the models'
    scored runs and the equal-weight ensemble of all of them, traded like ``train_panel``'s."""
    from alphaforge.backtest import performance
    from alphaforge.pipeline.ensembling import combine_probabilities
    from alphaforge.pipeline.research import backtest_scores, periods_per_year, prediction_metrics
    from alphaforge.pipeline.train import ENSEMBLE, ScoredRun, ensemble_weights, train_panel
    from alphaforge.validation.walk_forward import class_score

    runs: dict[str, Any] = {}
    for config in configs:
        runs |= train_panel(label, panel, bars, interval, config, seed=seed).models
    config = configs[0]
    weights = ensemble_weights(runs, "average")
    probabilities = combine_probabilities({n: r.probabilities for n, r in runs.items()}, weights)
    combined = pd.Series(
        class_score(probabilities.to_numpy()), index=probabilities.index, name="score"
    )
    result, _ = backtest_scores(panel.trading_scores(combined), bars, config)
    periods = periods_per_year(result.returns.index, interval)
    metrics = performance(result, periods, config.backtest.initial_capital)
    prediction = prediction_metrics(panel, combined, probabilities)
    ensemble = ScoredRun(
        ENSEMBLE, combined, result.returns, metrics, prediction, None, probabilities
    )
    return runs, ensemble


def _metrics(run: Any, panel: Any) -> dict[str, float]:
    from alphaforge.validation.metrics import information_coefficient

    scored = run.scores.notna()
    stamps = panel.timestamps[scored.to_numpy()]
    ic = {
        method: information_coefficient(
            panel.forward_return[scored], run.scores[scored], by=stamps, method=method
        )
        for method in ("pearson", "spearman")
    }
    return {
        "AUC": run.prediction["auc"],
        "IC": ic["pearson"],
        "rank IC": ic["spearman"],
        "annual return": run.metrics["cagr"],
        "Sharpe": run.metrics["sharpe"],
        "max drawdown": run.metrics["max_drawdown"],
    }


def _trial_config(
    configs: Sequence[Any], name: str, seed: int, control: str | None
) -> dict[str, Any]:
    """What makes this trial a distinct configuration: model, budget, seed, data, costs."""
    config = next((c for c in configs if name in c.train.models), configs[0])
    return {
        "model": config.model.model_copy(update={"name": name}).model_dump(mode="json"),
        "ensemble_of": [m for c in configs for m in c.train.models] if name == "ensemble" else None,
        "seed": seed,
        "control": control,
        "demo": config.demo.model_dump(mode="json"),
        "walk_forward": config.walk_forward.model_dump(mode="json"),
        "labels": config.labels.model_dump(mode="json"),
        "portfolio": config.portfolio.model_dump(mode="json"),
        "backtest": config.backtest.model_dump(mode="json"),
    }


def run_table(size: Size, say: Any = print) -> tuple[Results, dict[str, Any]]:
    """Train every model and the controls for every seed; return the trials and run facts."""
    from alphaforge.core.types import Interval
    from alphaforge.data.synthetic import random_walk_market
    from alphaforge.models.dataset import build_panel
    from alphaforge.pipeline.demo import synthetic_spec
    from alphaforge.pipeline.research import prepare_training_data
    from alphaforge.pipeline.train import (
        ENSEMBLE,
        load_training_universe,
        permute_labels_in_blocks,
    )

    configs = make_configs(size)
    config = configs[0]
    raw, instruments, interval, _kind = load_training_universe(config, MARKET_SEED)
    data = prepare_training_data(raw, instruments, interval, config)
    first = min(b.index[0] for b in data.bars.values())
    last = max(b.index[-1] for b in data.bars.values())
    spec = replace(
        synthetic_spec(config),
        n_symbols=len(data.bars),
        start=first.date(),
        end=last.date(),
        interval=Interval.D1,
    )
    walk_market = random_walk_market(spec, MARKET_SEED + 1)
    walk = prepare_training_data(walk_market.bars, walk_market.instruments, interval, config)

    def panel_of(bars: Mapping[str, pd.DataFrame]) -> Any:
        return build_panel(
            bars,
            interval,
            config.labels,
            config.features.names,
            min_history=config.features.min_history,
        )

    panel = panel_of(data.bars)
    walk_panel = panel_of(walk.bars)
    say(
        f"panel: {len(panel.X):,} rows x {panel.X.shape[1]} features, "
        f"{len(data.bars)} symbols, {first.date()}..{last.date()}"
    )
    results = Results()
    folds = 0
    for seed in range(size.seeds):
        started = time.perf_counter()
        permuted = permute_labels_in_blocks(panel, config.train.control_block_bars, 1_000 + seed)
        models, ensemble = train_all("universe", panel, data.bars, interval, configs, seed)
        controls = {
            "random_walk": (
                walk_panel,
                train_all("rw", walk_panel, walk.bars, interval, configs, seed)[1],
            ),
            "permuted": (
                permuted,
                train_all("perm", permuted, data.bars, interval, configs, seed)[1],
            ),
        }
        folds = max(
            (len(r.walk_forward.folds) for r in models.values() if r.walk_forward), default=0
        )
        for name, run in models.items():
            results.add(
                name,
                Trial(
                    _metrics(run, panel),
                    run.returns,
                    EXPERIMENT,
                    _trial_config(configs, name, seed, None),
                ),
            )
        results.add(
            ENSEMBLE_ROW,
            Trial(
                _metrics(ensemble, panel),
                ensemble.returns,
                EXPERIMENT,
                _trial_config(configs, ENSEMBLE, seed, None),
            ),
        )
        for control, label in CONTROLS.items():
            ctrl_panel, ctrl = controls[control]
            results.add(
                label,
                Trial(
                    _metrics(ctrl, ctrl_panel),
                    ctrl.returns,
                    f"{EXPERIMENT}/control/{control}",
                    _trial_config(configs, ENSEMBLE, seed, control),
                ),
            )
        say(f"seed {seed}: {time.perf_counter() - started:.0f} s")
    facts = {
        "symbols": len(data.bars),
        "first": first.date(),
        "last": last.date(),
        "rows": len(panel.X),
        "features": panel.X.shape[1],
        "folds": folds,
        "config": config,
    }
    return results, facts


def deflate(results: Results) -> dict[str, int]:
    """Record every trial in a fresh ledger, then set each one's deflated Sharpe from it.

    Returns the trial count of each experiment.
    """
    from alphaforge.pipeline.rundir import code_version
    from alphaforge.validation import TrialLedger, default_ledger_path
    from alphaforge.validation.ledger import deflated_sharpe_from_ledger

    version = code_version()
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp, TrialLedger(default_ledger_path(tmp)) as ledger:
        for row, trials in results.rows.items():
            for trial in trials:
                ledger.record(
                    experiment=trial.experiment,
                    config=trial.config,
                    kind="variant" if "ensemble" in row or "control" in row else "manual",
                    seed=int(trial.config["seed"]),
                    code_version=version,
                    metrics=trial.metrics,
                    returns=trial.returns,
                )
        # Deflate only once everything is recorded: the count is every variant tried here.
        for trials in results.rows.values():
            for trial in trials:
                counts[trial.experiment] = ledger.n_trials(trial.experiment)
                try:
                    dsr = deflated_sharpe_from_ledger(ledger, EXPERIMENT, trial.returns)
                except ValueError:
                    dsr = float("nan")
                trial.metrics["deflated Sharpe"] = dsr
    return counts


def _cell(values: Sequence[float], column: str) -> str:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return "n/a"
    mean = statistics.fmean(finite)
    std = statistics.stdev(finite) if len(finite) > 1 else float("nan")
    percent = column in ("annual return", "max drawdown")
    scale, unit, digits = (100.0, "%", 1) if percent else (1.0, "", 3)
    if column in ("Sharpe",):
        digits = 2
    text = f"{scale * mean:.{digits}f}{unit}"
    if math.isfinite(std):
        text += f" ± {scale * std:.{digits}f}{unit}"
    return text


def table_rows(results: Results) -> list[list[str]]:
    """Return the table's cells: row name, seeds, then every column as mean ± std."""
    cells = []
    for row, trials in results.rows.items():
        cells.append(
            [row, str(len(trials))]
            + [_cell([t.metrics.get(c, float("nan")) for t in trials], c) for c in COLUMNS]
        )
    return cells


def notes(size: Size, facts: Mapping[str, Any], counts: Mapping[str, int]) -> list[str]:
    """Return the lines printed under the table: what was measured, and how."""
    from alphaforge.validation.splits import default_embargo_bars

    config = facts["config"]
    bt = config.backtest
    pf = config.portfolio
    wf = config.walk_forward
    embargo = wf.embargo_bars
    if embargo is None:
        embargo = default_embargo_bars(config.labels.horizon)
    controls = ", ".join(f"{counts.get(f'{EXPERIMENT}/control/{c}', 0)}" for c in CONTROLS)
    return [
        f"Universe: the synthetic market of `alphaforge train` (train.universe: synthetic, seed "
        f"{MARKET_SEED}), {facts['symbols']} symbols, daily, {facts['first']}..{facts['last']}, "
        f"{facts['rows']:,} panel rows x {facts['features']} features. A planted-signal "
        "cross-section: no package ships a real OHLCV one, so these numbers say how the models "
        "compare on a known signal, not what they would earn on a real market.",
        f"Validation: purged walk-forward, {wf.train_months} months train / "
        f"{wf.validation_months} validation / {wf.test_months} test, embargo "
        f"{embargo} bars, {facts['folds']} folds; label: {config.labels.horizon}-bar "
        "forward return above the cross-sectional median.",
        f"Budgets: boosting and forests <= {size.trees} trees (learning rate "
        f"{size.learning_rate}, feature fraction {size.colsample}, early stopping on the "
        f"validation block where the model supports it); deep models <= {size.epochs} epochs "
        f"on windows of {size.lookback} bars "
        "(their registered defaults otherwise); logistic and SVM at their defaults. Every "
        f"model fits on {size.n_jobs} threads.",
        f"Trading: top {pf.top_k} long / bottom {pf.top_k} short, rebalanced every "
        f"{pf.rebalance_every} bars at the next open, costs on: {bt.commission_bps:g} bp "
        f"commission + {bt.slippage_bps:g} bp slippage per traded notional.",
        f"Mean ± std over {size.seeds} model seeds (the market is fixed). Deflated Sharpe: "
        f"trial ledger in a temporary directory, {counts.get(EXPERIMENT, 0)} configurations "
        f"recorded (every model x seed and each seed's ensemble); controls are recorded "
        f"apart ({controls} trials) and deflated with the same {counts.get(EXPERIMENT, 0)}.",
        "Controls: the same pipeline and ensemble on a random-walk market (same calendar and "
        "volatility, no signal) and on the real panel with labels permuted in blocks of "
        f"{config.train.control_block_bars} bars. Their AUC should be near 0.5; if not, "
        "something leaks.",
    ]


def print_table(cells: list[list[str]], title: str, lines: Sequence[str]) -> None:
    """Print the table and its notes with rich."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    table.add_column("model")
    table.add_column("seeds", justify="right")
    for column in COLUMNS:
        table.add_column(column, justify="right")
    for row in cells:
        style = "dim" if row[0].startswith("control") else None
        table.add_row(*row, style=style)
    console = Console(width=max(Console().width, 200))
    console.print(table)
    for line in lines:
        console.print(f"- {line}", highlight=False)


def markdown(cells: list[list[str]], title: str, lines: Sequence[str]) -> str:
    """Return the table and its notes as Markdown."""
    header = ["model", "seeds", *COLUMNS]
    out = [f"### {title}", "", "| " + " | ".join(header) + " |"]
    out.append("|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|")
    out += ["| " + " | ".join(row) + " |" for row in cells]
    out.append("")
    out += [f"- {line}" for line in lines]
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Build the table, print it (and write Markdown with ``--out``); print the runtime."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 seeds on a tiny universe.")
    parser.add_argument("--seeds", type=int, default=None, help="Override the seed count.")
    parser.add_argument("--out", type=Path, default=None, help="Also write the table as Markdown.")
    parser.add_argument(
        "--verbose", action="store_true", help="Log each model's walk-forward as it finishes."
    )
    args = parser.parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    size = QUICK if args.quick else FULL
    if args.seeds is not None:
        if args.seeds < 1:
            parser.error("--seeds must be >= 1")
        size = replace(size, seeds=args.seeds)
    # Passive OpenMP waiting: busy-waiting threads of XGBoost/LightGBM slow everything down
    # badly when the machine has other work. Set before the libraries load.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    started = time.perf_counter()
    results, facts = run_table(size)
    counts = deflate(results)
    elapsed = time.perf_counter() - started
    title = (
        f"Model benchmark: synthetic universe, {facts['symbols']} symbols x "
        f"{facts['first'].year}-{facts['last'].year}, costs on, mean ± std over {size.seeds} seeds"
    )
    lines = [
        *notes(size, facts, counts),
        f"Regenerate: .venv/bin/python benchmarks/model_table.py{' --quick' if args.quick else ''}"
        f"; total runtime {elapsed / 60:.1f} min on this machine.",
    ]
    cells = table_rows(results)
    print_table(cells, title, lines)
    if args.out is not None:
        args.out.write_text(markdown(cells, title, lines), encoding="utf-8")
        print(f"wrote {args.out}")
    print(f"total runtime: {elapsed:.0f} s ({elapsed / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
