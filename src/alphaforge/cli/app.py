"""The ``alphaforge`` command line: parse, load configuration, call a stage, print.

Every command accepts ``--config FILE`` before or after its name (or ``ALPHAFORGE_CONFIG``).
A user's mistake ends with one line on stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.text import Text
from typer.exceptions import TyperException

from alphaforge.cli.backtest_commands import backtest as backtest_command
from alphaforge.cli.console import cells, console, err_console, print_error, print_warning
from alphaforge.cli.data_commands import data_app
from alphaforge.cli.feature_commands import features_app
from alphaforge.cli.model_commands import models_app
from alphaforge.cli.model_commands import predict as predict_command
from alphaforge.cli.options import ConfigOption, GlobalConfigOption, config_from
from alphaforge.cli.risk_commands import risk_app
from alphaforge.cli.serve_commands import serve_app
from alphaforge.cli.strategy_commands import strategies_app
from alphaforge.cli.trade_commands import trade_app
from alphaforge.config import AppConfig, masked_dump
from alphaforge.core.bootstrap import bootstrap_process
from alphaforge.core.errors import AlphaForgeError
from alphaforge.pipeline.results import DemoSummary

app = typer.Typer(
    name="alphaforge",
    help="AlphaForge: leakage-proof multi-asset ML trading research, backtests and trading.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
config_app = typer.Typer(help="Inspect the effective configuration.", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(features_app, name="features")
app.add_typer(models_app, name="models")
app.add_typer(risk_app, name="risk")
app.add_typer(strategies_app, name="strategies")
app.add_typer(trade_app, name="trade")
app.add_typer(serve_app, name="serve")
app.command("predict")(predict_command)
app.command("backtest")(backtest_command)
app.add_typer(config_app, name="config")


@app.callback()
def main_options(ctx: typer.Context, config: GlobalConfigOption = None) -> None:
    """Options that apply to every command."""
    ctx.obj = {"config": config}


SeedOption = Annotated[int | None, typer.Option("--seed", help="Override run.seed.")]
AllowUnhealthyOption = Annotated[
    bool,
    typer.Option(
        "--allow-unhealthy",
        help="Train even on series below data.min_health_score (recorded in the run).",
    ),
]


def _run_overrides(cfg: AppConfig, seed: int | None, *, allow_unhealthy: bool) -> AppConfig:
    """Apply the --seed and --allow-unhealthy options shared by demo and train."""
    if seed is not None:
        cfg = cfg.model_copy(update={"run": cfg.run.model_copy(update={"seed": seed})})
    if allow_unhealthy:
        cfg = cfg.model_copy(update={"data": cfg.data.model_copy(update={"allow_unhealthy": True})})
    return cfg


@app.command()
def demo(
    ctx: typer.Context,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the run here instead of runs/<time>-demo.")
    ] = None,
    seed: SeedOption = None,
    allow_unhealthy: AllowUnhealthyOption = False,
    config: ConfigOption = None,
) -> None:
    """Run the whole pipeline offline on bundled data and write a report."""
    from alphaforge.cli.console import RichReporter
    from alphaforge.pipeline.demo import run_demo

    cfg = _run_overrides(config_from(ctx, config), seed, allow_unhealthy=allow_unhealthy)
    with RichReporter() as reporter:
        outcome = run_demo(cfg, out=out, reporter=reporter)
    _print_summary(outcome.summary)
    console.print(Text.assemble("\nReport: ", (str(outcome.run.report), "bold")))
    console.print(f"Run directory: {outcome.run.path}")


@app.command()
def train(
    ctx: typer.Context,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the run here instead of runs/<time>-train.")
    ] = None,
    seed: SeedOption = None,
    allow_unhealthy: AllowUnhealthyOption = False,
    config: ConfigOption = None,
) -> None:
    """Train the configured models by purged walk-forward, with the control runs."""
    from rich.table import Table

    from alphaforge.backtest.report import format_metric
    from alphaforge.cli.console import RichReporter
    from alphaforge.pipeline.train import run_training

    cfg = _run_overrides(config_from(ctx, config), seed, allow_unhealthy=allow_unhealthy)
    with RichReporter() as reporter:
        outcome = run_training(cfg, out=out, reporter=reporter)
    summary = outcome.summary
    table = Table(title="Out-of-fold results (purged walk-forward, costs on)")
    keys: tuple[str, ...] = ("auc", "ic", "sharpe", "deflated_sharpe", "cagr", "max_drawdown")
    if summary.three_class:  # auc is then the one-vs-rest macro AUC
        keys = ("auc", "up_down_auc", *keys[1:])
    table.add_column("run")
    for key in keys:
        table.add_column(
            "macro auc (ovr)" if summary.three_class and key == "auc" else key, justify="right"
        )
    rows = {**summary.models, "ensemble": summary.ensemble}
    rows |= {f"control: {k}": v for k, v in summary.controls.items()}
    for name, values in rows.items():
        table.add_row(*cells(name, *(format_metric(k, values.get(k)) for k in keys)))
    console.print(table)
    for warning in summary.warnings:
        print_warning(warning)
    console.print(Text.assemble("\nReport: ", (str(outcome.run.report), "bold")))
    console.print(f"Run directory: {outcome.run.path}")


@app.command()
def reproduce(
    ctx: typer.Context,
    run_dir: Annotated[Path, typer.Argument(help="A run directory written by alphaforge.")],
    config: ConfigOption = None,
) -> None:
    """Re-run a recorded run and print how its metrics differ from the original."""
    from alphaforge.cli.console import RichReporter
    from alphaforge.pipeline.reproduce import reproduce_run

    del ctx, config  # the recorded configuration is used, not the current one
    with RichReporter() as reporter:
        result = reproduce_run(run_dir, reporter=reporter)
    from rich.table import Table

    # A train run compares every model's and control's metrics: list only what differs.
    many = any(row.section.startswith("models.") for row in result.rows)
    shown = [row for row in result.rows if not row.identical] if many else result.rows
    title = f"Reproduction of {run_dir.name}"
    if many:
        title += f": {len(shown)} of {len(result.rows)} metrics differ"
    table = Table(title=title)
    for column in ("section", "metric", "original", "reproduced", "difference"):
        table.add_column(column, justify="right" if column not in ("section", "metric") else "left")
    for row in shown:
        table.add_row(
            *cells(
                row.section,
                row.metric,
                _fmt(row.original),
                _fmt(row.reproduced),
                _fmt(row.difference),
            )
        )
    console.print(table)
    for note in result.notes:
        print_warning(note)
    verdict = "identical" if result.identical else "DIFFERENT"
    console.print(f"Metrics are {verdict}. New run: {result.new_run}")


@config_app.command("show")
def config_show(ctx: typer.Context, config: ConfigOption = None) -> None:
    """Print the effective configuration (defaults < YAML < .env < environment), secrets masked."""
    from alphaforge.risk.setup import resolve

    cfg = config_from(ctx, config)
    dumped = masked_dump(cfg)
    # The pieces as they apply: the preset merged with the file, every parameter filled in.
    effective = resolve(cfg.portfolio, cfg.risk).describe()
    dumped["portfolio"]["sizers"] = effective.pop("sizers")
    dumped["risk"].update(effective)
    console.print(yaml.safe_dump(dumped, sort_keys=False), end="", markup=False)


def _fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.6g}"


def _print_summary(summary: DemoSummary) -> None:
    from rich.table import Table

    from alphaforge.backtest.report import format_metric

    control = summary.control
    table = Table(title="Out-of-sample results, net of costs (strategy universe: SYNTHETIC)")
    for column in ("metric", "strategy", "benchmark (equal weight)", "control (random walk)"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for key in ("cagr", "volatility", "sharpe", "psr", "max_drawdown", "turnover", "costs"):
        table.add_row(
            *cells(
                key,
                format_metric(key, summary.metrics.get(key)),
                format_metric(key, summary.benchmark_metrics.get(key)),
                format_metric(key, control.metrics.get(key)),
            )
        )
    for key, label in (("auc", "auc"), ("oracle_auc", "oracle auc")):
        table.add_row(
            *cells(
                label,
                format_metric(key, summary.prediction_metrics.get(key)),
                "",
                format_metric(key, control.prediction_metrics.get(key)),
            )
        )
    console.print(table)
    console.print(
        f"The strategy universe is synthetic with a planted signal explaining "
        f"{summary.signal_strength:.1%} of daily return variance; the control is a random walk. "
        "No result here is a promise. The oracle AUC is the generator's own forecast scored on "
        "the same rows."
    )
    for line in summary.verdicts.values():
        console.print(Text(line, style="bold"))
    for warning in summary.warnings:
        print_warning(warning)


def _show_usage_error(exc: TyperException, argv: list[str]) -> None:
    """Print a usage mistake with the usage line of the command it concerns.

    Some parser errors (an option missing its value) carry no context, so typer would print
    the problem alone; the command is then found by walking ``argv`` through the command tree.
    """
    if getattr(exc, "ctx", True) is None and exc.exit_code == 2:
        command = typer.main.get_command(app)
        context = typer.Context(command, info_name="alphaforge")
        for token in argv:
            children = getattr(command, "commands", None) or {}
            if token not in children:
                continue
            command = children[token]
            context = typer.Context(command, info_name=token, parent=context)
        err_console.print(context.get_usage(), markup=False, highlight=False)
        err_console.print(
            f"Try '{context.command_path} --help' for help.\n", markup=False, highlight=False
        )
    show = getattr(exc, "show", None)
    if callable(show):
        show()
    else:
        err_console.print(f"Error: {exc.format_message()}", markup=False, highlight=False)


def main() -> None:
    """Entry point: run the app and turn user errors into one line and an exit code."""
    # Warnings belong in run logs, not on the terminal beside the one-line error.
    logging.getLogger("alphaforge").addHandler(logging.NullHandler())
    bootstrap_process(os.environ)
    try:
        code = app(standalone_mode=False)
    except AlphaForgeError as exc:
        print_error(exc.one_line())
        sys.exit(exc.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except TyperException as exc:
        # Typer (0.29+) parses with its own copy of click, whose exceptions are not click's: a
        # usage mistake (unknown command or flag, missing or mistyped value) prints typer's usage
        # line and the problem, exit 2, never "internal error".
        _show_usage_error(exc, sys.argv[1:])
        sys.exit(exc.exit_code)
    except OSError as exc:
        # The file system refused (a store path that is a file, a read-only folder, a full disk).
        where = f" ({exc.filename})" if exc.filename else ""
        print_error(
            f"{exc.strerror or exc}{where}.",
        )
        sys.exit(74)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    except Exception as exc:
        # A bug, not a user mistake: keep the traceback for the log and for ALPHAFORGE_DEBUG=1.
        logging.getLogger("alphaforge").exception("unexpected error")
        if os.environ.get("ALPHAFORGE_DEBUG"):
            raise
        print_error(
            f"{type(exc).__name__}: {exc}. This is a bug in AlphaForge; rerun with "
            "ALPHAFORGE_DEBUG=1 for the traceback and report it.",
            label="internal error",
        )
        sys.exit(70)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
