"""``alphaforge backtest``: parse the options and call :mod:`alphaforge.pipeline.backtest_run`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from alphaforge.cli.console import cells, console, print_warning
from alphaforge.cli.options import ConfigOption, config_from
from alphaforge.config import AppConfig
from alphaforge.core.errors import ConfigError

#: Metrics printed after a run, in this order (summary.json has them all).
SHOWN = (
    "total_return",
    "cagr",
    "volatility",
    "sharpe",
    "psr",
    "max_drawdown",
    "turnover",
    "costs",
)


def backtest(
    ctx: typer.Context,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write the run here instead of runs/<time>-backtest."),
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Override run.seed.")] = None,
    predictions: Annotated[
        Path | None,
        typer.Option(
            "--predictions",
            help="A train run folder: the oof_scores strategy trades its out-of-fold scores.",
        ),
    ] = None,
    model: Annotated[
        str, typer.Option("--model", help="Which model's scores of --predictions.")
    ] = "ensemble",
    champion: Annotated[
        str | None,
        typer.Option(
            "--champion",
            help="A registered model: its champion scores the bars after its training data.",
        ),
    ] = None,
    sweep: Annotated[
        Path | None,
        typer.Option(
            "--sweep",
            help="A grid YAML ({strategy: NAME, params: {PARAM: [values]}}): run every "
            "combination through the vectorized path and write sweep.csv.",
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Backtest the configured strategy on stored bars (event-driven engine), or sweep a
    parameter grid (vectorized path)."""
    from alphaforge.backtest.report import format_metric
    from alphaforge.cli.console import RichReporter
    from alphaforge.pipeline.backtest_run import run_backtest_command

    cfg = config_from(ctx, config)
    if seed is not None:
        cfg = cfg.model_copy(update={"run": cfg.run.model_copy(update={"seed": seed})})
    if sweep is not None:
        if predictions is not None or champion is not None:
            raise ConfigError(
                "--sweep runs rule strategies on stored bars; it takes no --predictions or "
                "--champion.",
                hint="Drop them, or backtest the model's scores without --sweep.",
            )
        _sweep(cfg, sweep, out)
        return
    with RichReporter() as reporter:
        outcome = run_backtest_command(
            cfg,
            out=out,
            predictions=predictions,
            model=model,
            champion=champion,
            reporter=reporter,
        )
    summary = outcome.summary
    table = Table(title=f"Backtest: {summary.strategy}, net of costs")
    table.add_column("metric")
    table.add_column("strategy", justify="right")
    table.add_column("benchmark (equal weight)", justify="right")
    for key in SHOWN:
        table.add_row(
            *cells(
                key,
                format_metric(key, summary.metrics.get(key)),
                format_metric(key, summary.benchmark_metrics.get(key)),
            )
        )
    console.print(table)
    console.print(
        f"{summary.trades} closed trades, {summary.open_trades} open at the end; "
        f"{summary.audit_rows} orders refused, resized or trimmed (audit.parquet)."
    )
    for warning in summary.warnings:
        print_warning(warning)
    console.print(Text.assemble("\nRun directory: ", (str(outcome.run.path), "bold")))


def _sweep(cfg: AppConfig, grid: Path, out: Path | None) -> None:
    from alphaforge.backtest.report import format_metric
    from alphaforge.cli.console import RichReporter
    from alphaforge.pipeline.sweep_run import run_sweep_command

    with RichReporter() as reporter:
        outcome = run_sweep_command(cfg, grid, out=out, reporter=reporter)
    summary = outcome.summary
    table = Table(title=f"Sweep of {summary.strategy}: best set {summary.best}")
    table.add_column("metric")
    table.add_column("best set", justify="right")
    for key, value in summary.best_metrics.items():
        table.add_row(*cells(key, format_metric(key, value)))
    console.print(table)
    pbo = "not computed" if summary.pbo is None else f"{summary.pbo:.2f}"
    console.print(
        f"{summary.parameter_sets} parameter sets ({summary.skipped} skipped); "
        f"{summary.trials_in_experiment} trials in {summary.experiment}; "
        f"probability of backtest overfitting: {pbo}."
    )
    for warning in summary.warnings:
        print_warning(warning)
    console.print(Text.assemble("\nsweep.csv: ", (str(outcome.run.path / "sweep.csv"), "bold")))
