"""``alphaforge backtest``: parse the options and call :mod:`alphaforge.pipeline.backtest_run`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from alphaforge.cli.console import cells, console, print_warning
from alphaforge.cli.options import ConfigOption, config_from

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
    config: ConfigOption = None,
) -> None:
    """Backtest the configured strategy on stored bars (event-driven engine)."""
    from alphaforge.backtest.report import format_metric
    from alphaforge.cli.console import RichReporter
    from alphaforge.pipeline.backtest_run import run_backtest_command

    cfg = config_from(ctx, config)
    if seed is not None:
        cfg = cfg.model_copy(update={"run": cfg.run.model_copy(update={"seed": seed})})
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
        f"{summary.audit_rows} orders refused or resized (audit.parquet)."
    )
    for warning in summary.warnings:
        print_warning(warning)
    console.print(Text.assemble("\nRun directory: ", (str(outcome.run.path), "bold")))
