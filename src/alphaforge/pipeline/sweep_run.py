"""``alphaforge backtest --sweep GRID``: every parameter set of a grid through the vectorized
path, each recorded as a trial in the ledger, with the probability of backtest overfitting.

A grid file names the strategy (default: the configured one) and lists values per parameter::

    strategy: ma_crossover
    params:
      fast: [5, 10, 15]
      slow: [20, 30, 50]

Each combination is merged over ``strategy.params``; combinations the strategy refuses (a fast
average longer than the slow one) are skipped and listed. The run folder holds ``sweep.csv``
(one row per set: its parameters and metrics, with the deflated Sharpe that counts every
trial of the experiment), ``sweep_equity.parquet``, ``manifest.json``, ``run.log`` and, last,
``summary.json``.
"""

from __future__ import annotations

import itertools
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from alphaforge.backtest.costs import CostSchedule
from alphaforge.backtest.metrics import deflated_sharpe, full_metrics, performance, sweep_pbo
from alphaforge.backtest.runner import market_context
from alphaforge.backtest.vectorized import run_sweep
from alphaforge.config import AppConfig, StrategyConfig, masked_dump
from alphaforge.core.errors import AlphaForgeError, ConfigError
from alphaforge.core.progress import SILENT, Reporter
from alphaforge.core.types import Interval
from alphaforge.pipeline.backtest_run import (
    backtest_experiment,
    load_backtest_bars,
    trial_config,
    write_manifest,
)
from alphaforge.pipeline.research import periods_per_year, prepare_training_data
from alphaforge.pipeline.results import SweepSummary, write_result
from alphaforge.pipeline.rundir import (
    RunDir,
    attach_log,
    code_version,
    create_run_dir,
    detach_log,
)
from alphaforge.portfolio import create_constructor
from alphaforge.risk.setup import resolve
from alphaforge.storage.atomic import atomic_path, atomic_write_text
from alphaforge.strategies import MarketFrames, create_strategy
from alphaforge.validation.ledger import TrialLedger, default_ledger_path

log = logging.getLogger(__name__)

#: Metrics written per parameter set (sweep.csv), besides its parameters.
SWEEP_METRICS = (
    "total_return",
    "cagr",
    "volatility",
    "sharpe",
    "psr",
    "deflated_sharpe",
    "max_drawdown",
    "sortino",
    "calmar",
    "turnover",
    "costs",
)


class SweepGrid(BaseModel):
    """A parameter grid file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategy: str | None = Field(None, description="Strategy to sweep; default strategy.name.")
    params: dict[str, list[float | int | str | bool]] = Field(
        description="Values to try per parameter; every combination is one parameter set."
    )


@dataclass(frozen=True, slots=True)
class SweepOutcome:
    """A finished sweep: its run folder and summary."""

    run: RunDir
    summary: SweepSummary


def read_grid(path: Path) -> SweepGrid:
    """Read a grid file; a missing file, bad YAML or an empty grid is a one-line error."""
    if not path.is_file():
        raise ConfigError(f"Grid file {path} does not exist.", hint="Pass --sweep GRID.yaml.")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        grid = SweepGrid.model_validate(raw)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML ({exc.__class__.__name__}).") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the top level"
        raise ConfigError(
            f"{path}: {where}: {first['msg']}.",
            hint="A grid is {strategy: NAME, params: {PARAM: [v1, v2, ...], ...}}.",
        ) from None
    empty = [name for name, values in grid.params.items() if not values]
    if not grid.params or empty:
        raise ConfigError(
            f"{path}: the grid has no values{' for ' + ', '.join(empty) if empty else ''}.",
            hint="List at least one value per parameter.",
        )
    return grid


def expand_grid(
    grid: SweepGrid, config: AppConfig
) -> tuple[list[StrategyConfig], list[str], list[str]]:
    """Return the valid parameter sets, their labels, and one note per skipped combination."""
    if config.strategy.aggregate is not None and not grid.strategy:
        raise ConfigError(
            "The sweep varies one strategy's parameters; strategy.aggregate combines several.",
            hint="Name the strategy to sweep in the grid (strategy: NAME), or drop aggregate.",
        )
    name = grid.strategy or config.strategy.name
    keys = list(grid.params)
    sets: list[StrategyConfig] = []
    labels: list[str] = []
    skipped: list[str] = []
    for values in itertools.product(*(grid.params[k] for k in keys)):
        params = dict(config.strategy.params) | dict(zip(keys, values, strict=True))
        label = ",".join(f"{k}={v}" for k, v in zip(keys, values, strict=True))
        candidate = StrategyConfig(name=name, params=params)
        try:
            create_strategy(candidate)
        except ConfigError as exc:
            skipped.append(f"{label}: {exc.one_line()}")
            continue
        sets.append(candidate)
        labels.append(label)
    if not sets:
        raise ConfigError(
            f"No combination of the grid is a valid {name} parameter set.",
            hint=skipped[0] if skipped else "Check the grid's values.",
        )
    return sets, labels, skipped


def run_sweep_command(
    config: AppConfig, grid_path: Path, *, out: Path | None = None, reporter: Reporter = SILENT
) -> SweepOutcome:
    """Run every parameter set of the grid on stored bars and write the sweep's run folder."""
    grid = read_grid(grid_path)
    sets, labels, skipped = expand_grid(grid, config)
    run = create_run_dir(config.run.runs_dir, "sweep", out)
    handler = attach_log(run, config.run.log_level)
    try:
        return _run(config, run, grid_path, sets, labels, skipped, reporter)
    except Exception:
        log.exception("sweep failed")
        raise
    finally:
        detach_log(handler)


def _run(
    config: AppConfig,
    run: RunDir,
    grid_path: Path,
    sets: list[StrategyConfig],
    labels: list[str],
    skipped: list[str],
    reporter: Reporter,
) -> SweepOutcome:
    interval = Interval(config.data.interval)
    task = reporter.task("load and validate bars", total=None)
    raw, instruments = load_backtest_bars(config, interval, config.backtest.symbols)
    data = prepare_training_data(raw, instruments, interval, config)
    bars = {s: b for s, b in data.bars.items() if not b.empty}
    market = MarketFrames.from_bars(bars, instruments, interval=interval)
    task.done()
    warnings = list(data.warnings) + [f"skipped {note}" for note in skipped]
    # The vectorized path has no volume cap: it equals the engine without one.
    backtest = config.backtest.model_copy(update={"participation": None})
    if config.backtest.participation is not None:
        warnings.append(
            "The sweep has no volume participation cap (backtest.participation is ignored); "
            "rerun the chosen set with alphaforge backtest to apply it."
        )
    setup = resolve(config.portfolio, config.risk)
    pieces = [p.piece_name for p in (*setup.sizers, *setup.limits, *setup.stops, *setup.breakers)]
    pieces += [p.piece_name for p in setup.filters]
    if pieces:
        warnings.append(
            f"The sweep applies no risk pieces (risk.preset {config.risk.preset}: "
            f"{', '.join(pieces)} are ignored); rerun the chosen set with alphaforge backtest "
            "to apply them."
        )
    task = reporter.task(f"signals of {len(sets)} parameter sets", total=len(sets))
    signals = []
    for strategy_config in sets:
        strategy = create_strategy(strategy_config)
        strategy.check_data(market)
        signals.append(strategy.signals(market))
        task.advance()
    task.done()
    task = reporter.task("vectorized sweep", total=None)
    sweep = run_sweep(
        market,
        signals,
        create_constructor(config.portfolio),
        CostSchedule.from_config(backtest),
        backtest,
        config.portfolio,
        labels=labels,
        context=market_context(market),
    )
    task.done()
    periods = periods_per_year(market.index, interval)
    capital = config.backtest.initial_capital
    experiment = backtest_experiment(
        config.model_copy(update={"strategy": sets[0]}), market.symbols, interval
    )
    results = sweep.results()
    rows: list[dict[str, Any]] = []
    with TrialLedger(default_ledger_path(config.data.store_dir)) as ledger:
        for strategy_config, result in zip(sets, results, strict=True):
            trial = config.model_copy(update={"strategy": strategy_config, "backtest": backtest})
            ledger.record(
                experiment=experiment,
                config=trial_config(trial),
                kind="search",
                seed=config.run.seed,
                code_version=code_version(),
                metrics=performance(result, periods, capital),
                returns=result.returns,
            )
        n_trials = ledger.n_trials(experiment)
        for label, strategy_config, result in zip(labels, sets, results, strict=True):
            metrics = full_metrics(result, periods_per_year=periods, initial_capital=capital)
            try:
                metrics["deflated_sharpe"] = deflated_sharpe(result.returns, ledger, experiment)
            except AlphaForgeError as exc:
                metrics["deflated_sharpe"] = math.nan
                log.warning("%s: %s", label, exc.one_line())
            rows.append(
                {"set": label}
                | dict(strategy_config.params)
                | {k: metrics.get(k, math.nan) for k in SWEEP_METRICS}
            )
    table = pd.DataFrame(rows)
    returns = pd.DataFrame({label: r.returns for label, r in zip(labels, results, strict=True)})
    pbo: float | None = None
    pbo_note = ""
    try:
        pbo = float(sweep_pbo(returns).pbo)
    except AlphaForgeError as exc:
        pbo_note = exc.one_line()
        warnings.append(f"PBO not computed: {pbo_note}")
    atomic_write_text(run.path / "sweep.csv", table.to_csv(index=False))
    with atomic_path(run.path / "sweep_equity.parquet") as temp:
        sweep.equity_frame().reset_index(names="timestamp").to_parquet(temp, index=False)
    sharpe = table["sharpe"].to_numpy(dtype=float)
    best = table.iloc[int(pd.Series(sharpe).fillna(-math.inf).to_numpy().argmax())]
    dumped = masked_dump(config)
    data_record = write_manifest(
        run, "sweep", config, market, bars, interval, {"grid": str(grid_path)}
    )
    summary = SweepSummary(
        run_id=run.run_id,
        command="sweep",
        created=run.created.isoformat(),
        config=dumped,
        seed=config.run.seed,
        data=data_record,
        code_version=code_version(),
        strategy=sets[0].name,
        parameter_sets=len(sets),
        skipped=len(skipped),
        experiment=experiment,
        trials_in_experiment=n_trials,
        pbo=pbo,
        best=str(best["set"]),
        best_metrics={k: float(best[k]) for k in SWEEP_METRICS},
        warnings=warnings,
    )
    write_result(run.summary, summary)
    log.info("sweep finished: %s", run.path)
    return SweepOutcome(run, summary)


__all__ = [
    "SWEEP_METRICS",
    "SweepGrid",
    "SweepOutcome",
    "expand_grid",
    "read_grid",
    "run_sweep_command",
]
