"""``alphaforge trade``: parse the options and call :mod:`alphaforge.pipeline.trade`.

Reads (status, positions, orders, fills, jobs) open the mode's ledger; controls (pause,
resume, flatten, cancel, reconcile) are ledger rows that the running node carries out.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from alphaforge.cli.console import cells, console, print_warning
from alphaforge.cli.options import ConfigOption, config_from
from alphaforge.config import AppConfig
from alphaforge.core.errors import ConfigError

trade_app = typer.Typer(
    help="Trade on paper or live through a broker, or dry-run on live bars.", no_args_is_help=True
)

ModeOption = Annotated[
    str | None,
    typer.Option("--mode", help="dry-run, paper or live (default: live.mode in the config)."),
]


def _config(
    ctx: typer.Context, path: object, mode: str | None, broker: str | None = None
) -> tuple[AppConfig, str]:
    config = config_from(ctx, path)  # type: ignore[arg-type]
    chosen = mode or config.live.mode
    if chosen not in ("dry-run", "paper", "live"):
        raise ConfigError(f"Unknown mode {chosen!r}.", hint="Use --mode dry-run, paper or live.")
    if broker is not None:
        if broker not in ("alpaca", "ccxt"):
            raise ConfigError(f"Unknown broker {broker!r}.", hint="Use --broker alpaca or ccxt.")
        config = config.model_copy(
            update={"execution": config.execution.model_copy(update={"broker": broker})}
        )
    return config, chosen


@trade_app.command("run")
def run(
    ctx: typer.Context,
    mode: ModeOption = None,
    broker: Annotated[
        str | None, typer.Option("--broker", help="alpaca or ccxt (paper and live).")
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Decide and execute once, then stop.")
    ] = False,
    config_path: ConfigOption = None,
) -> None:
    """Trade unattended, or (--once) recover, reconcile, decide on the last bar and execute."""
    from alphaforge.pipeline.trade_session import run_trade_once
    from alphaforge.scheduler.trading import run_scheduled

    config, chosen = _config(ctx, config_path, mode, broker)

    def confirm(question: str) -> str:
        try:
            return str(typer.prompt(question, default="", show_default=False))
        except (typer.Abort, EOFError):
            return ""  # no terminal or no answer: nothing typed back, nothing traded

    if not once:
        run_scheduled(config, chosen, confirm=confirm)
        return
    result = run_trade_once(config, chosen, confirm=confirm)
    execution = result.execution
    console.print(f"Mode: {result.mode}  decision bar: {result.decision_time}")
    if execution is not None and execution.blocked:
        print_warning(f"no orders placed: {execution.blocked}")
    for order in execution.placed if execution is not None else []:
        console.print(f"  {order.id}  {order.symbol}  {order.intent.quantity:+g}  {order.status}")
    console.print(f"Reconcile: {result.repairs} repairs, {result.unresolved} unresolved")
    for line in result.commands:
        console.print(f"Command {line}")
    console.print(f"Run: {result.run.path}")


@trade_app.command("status")
def status(ctx: typer.Context, mode: ModeOption = None, config_path: ConfigOption = None) -> None:
    """Print the trading state, heartbeat, cash, positions and open orders."""
    from alphaforge.pipeline.trade_views import ledger_status

    config, chosen = _config(ctx, config_path, mode)
    info = ledger_status(config, chosen)
    for key, value in info.items():
        console.print(f"{key}: {value}")


@trade_app.command("positions")
def positions(
    ctx: typer.Context, mode: ModeOption = None, config_path: ConfigOption = None
) -> None:
    """Print the ledger's positions."""
    from alphaforge.pipeline.trade_views import ledger_positions

    config, chosen = _config(ctx, config_path, mode)
    _print_frame(ledger_positions(config, chosen), f"Positions ({chosen})")


@trade_app.command("orders")
def orders(
    ctx: typer.Context,
    mode: ModeOption = None,
    open_only: Annotated[
        bool, typer.Option("--open", help="Only orders that can still fill.")
    ] = False,
    config_path: ConfigOption = None,
) -> None:
    """Print the ledger's orders (newest last)."""
    from alphaforge.pipeline.trade_views import ledger_orders

    config, chosen = _config(ctx, config_path, mode)
    _print_frame(ledger_orders(config, chosen, open_only), f"Orders ({chosen})")


@trade_app.command("fills")
def fills(
    ctx: typer.Context,
    mode: ModeOption = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only fills from this date (YYYY-MM-DD).")
    ] = None,
    config_path: ConfigOption = None,
) -> None:
    """Print the ledger's fills."""
    from alphaforge.pipeline.trade_views import ledger_fills

    config, chosen = _config(ctx, config_path, mode)
    start = None
    if since is not None:
        try:
            start = pd.Timestamp(date.fromisoformat(since), tz="UTC")
        except ValueError:
            raise ConfigError(
                f"--since {since!r} is not a date.", hint="Write it as YYYY-MM-DD."
            ) from None
    _print_frame(ledger_fills(config, chosen, start), f"Fills ({chosen})")


@trade_app.command("jobs")
def jobs(ctx: typer.Context, mode: ModeOption = None, config_path: ConfigOption = None) -> None:
    """Print the scheduler's recent job runs."""
    from alphaforge.pipeline.trade_views import ledger_jobs

    config, chosen = _config(ctx, config_path, mode)
    _print_frame(ledger_jobs(config, chosen), f"Job runs ({chosen})")


def _command(
    ctx: typer.Context, kind: str, mode: str | None, config_path: object, **args: str
) -> None:
    from alphaforge.pipeline.trade_views import queue_command

    config, chosen = _config(ctx, config_path, mode)
    number = queue_command(config, chosen, kind, args)
    console.print(f"Command {kind} #{number} queued for the {chosen} node (it polls the ledger).")


@trade_app.command("pause")
def pause(ctx: typer.Context, mode: ModeOption = None, config_path: ConfigOption = None) -> None:
    """Halt new orders (cancels still go) until resume."""
    _command(ctx, "pause", mode, config_path)


@trade_app.command("resume")
def resume(ctx: typer.Context, mode: ModeOption = None, config_path: ConfigOption = None) -> None:
    """Lift a pause or a flatten: trading is active again."""
    _command(ctx, "resume", mode, config_path)


@trade_app.command("flatten")
def flatten(
    ctx: typer.Context,
    mode: ModeOption = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    config_path: ConfigOption = None,
) -> None:
    """Cancel every order and close every position, then trade only to reduce."""
    if not yes and not typer.confirm("Cancel every order and close every position?"):
        console.print("Nothing done.")
        return
    _command(ctx, "flatten", mode, config_path)


@trade_app.command("cancel")
def cancel(
    ctx: typer.Context,
    client_id: Annotated[str, typer.Argument(help="The order's client id (trade orders --open).")],
    mode: ModeOption = None,
    config_path: ConfigOption = None,
) -> None:
    """Cancel one working order."""
    _command(ctx, "cancel", mode, config_path, client_id=client_id)


@trade_app.command("reconcile")
def reconcile(
    ctx: typer.Context, mode: ModeOption = None, config_path: ConfigOption = None
) -> None:
    """Reconcile the ledger with the broker now."""
    _command(ctx, "reconcile", mode, config_path)


@trade_app.command("costs")
def costs(
    ctx: typer.Context,
    mode: ModeOption = None,
    fit: Annotated[
        str | None,
        typer.Option("--fit", help="Re-fit this cost model (linear, slippage, ...) to the fills."),
    ] = None,
    config_path: ConfigOption = None,
) -> None:
    """Compare each fill with the backtest's predicted costs (price, delay, slippage)."""
    import yaml

    from alphaforge.pipeline.trade_views import trade_costs

    config, chosen = _config(ctx, config_path, mode)
    report = trade_costs(config, chosen, fit)
    _print_frame(report.summary, f"Execution quality ({chosen}): realised vs predicted, bps")
    if report.fit is not None:
        entry = report.fit.config().model_dump(mode="json")
        console.print("Re-fitted cost model (for backtest.costs):")
        console.print(yaml.safe_dump([entry], sort_keys=False).rstrip())
    console.print(f"Figure: {report.figure_path}")


def _print_frame(frame: pd.DataFrame, title: str) -> None:
    if frame.empty:
        console.print(f"{title}: none")
        return
    table = Table(title=title)
    for column in frame.columns:
        table.add_column(str(column), overflow="fold")
    for row in frame.itertuples(index=False):
        table.add_row(*cells(*(_cell(v) for v in row)))
    console.print(table)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
