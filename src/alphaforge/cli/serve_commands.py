"""``alphaforge serve``: run the dashboard and API, and manage its access tokens.

``serve`` alone starts :func:`alphaforge.service.server.run_server`; ``serve token create``,
``list`` and ``revoke`` call :class:`alphaforge.service.auth.TokenStore` on
``<data.store_dir>/service/tokens.sqlite``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import pandas as pd
import typer
from rich.table import Table

from alphaforge.cli.console import cells, console, print_warning
from alphaforge.cli.options import ConfigOption, config_from
from alphaforge.config import AppConfig
from alphaforge.core.clock import SystemClock
from alphaforge.core.errors import ConfigError

if TYPE_CHECKING:
    from alphaforge.service.auth import TokenStore

serve_app = typer.Typer(
    help="Run the dashboard and HTTP API (alphaforge serve), and manage its access tokens."
)
token_app = typer.Typer(
    help="Create, list and revoke the tokens that let users into the service.",
    no_args_is_help=True,
)
serve_app.add_typer(token_app, name="token")

_MODES = ("dry-run", "paper", "live")


@serve_app.callback(invoke_without_command=True)
def serve(
    ctx: typer.Context,
    host: Annotated[
        str | None,
        typer.Option("--host", help="Interface to bind (default: service.host, 127.0.0.1)."),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option("--port", min=1, max=65535, help="TCP port (default: service.port, 8765)."),
    ] = None,
    allow_remote: Annotated[
        bool,
        typer.Option("--allow-remote", help="Allow binding an interface other than loopback."),
    ] = False,
    mode: Annotated[
        str | None,
        typer.Option(
            "--mode", help="Ledger to show: dry-run, paper or live (default: service.mode)."
        ),
    ] = None,
    config_path: ConfigOption = None,
) -> None:
    """Serve the dashboard and HTTP API until interrupted; trading is not affected."""
    if config_path is not None:  # serve -c FILE token ...: the subcommand reads it too
        ctx.obj = {**(ctx.obj if isinstance(ctx.obj, dict) else {}), "config": config_path}
    if ctx.invoked_subcommand is not None:
        return
    if mode is not None and mode not in _MODES:
        raise ConfigError(f"Unknown mode {mode!r}.", hint="Use --mode dry-run, paper or live.")
    from alphaforge.service.server import (
        run_server,
    )

    run_server(
        config_from(ctx, config_path), host=host, port=port, allow_remote=allow_remote, mode=mode
    )


def _store(ctx: typer.Context, config_path: Path | None) -> TokenStore:
    # Imported when used, as every command does: ``alphaforge --help`` stays quick.
    from alphaforge.service.auth import TokenStore, tokens_path
    from alphaforge.service.sources import SERVICE_DIR

    config: AppConfig = config_from(ctx, config_path)
    service_dir = Path(config.data.store_dir) / SERVICE_DIR
    return TokenStore(tokens_path(service_dir), SystemClock())


@token_app.command("create")
def token_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", help="Who holds it, e.g. laptop.")],
    scope: Annotated[str, typer.Option("--scope", help="read, trade or admin.")],
    expires: Annotated[
        str | None,
        typer.Option("--expires", help="Lifetime such as 12h, 90d or 2w (default: never)."),
    ] = None,
    config_path: ConfigOption = None,
) -> None:
    """Create a token and print it once."""
    from alphaforge.service.auth import parse_duration, parse_scope

    chosen = parse_scope(scope)
    lifetime = None if expires is None else parse_duration(expires)
    store = _store(ctx, config_path)
    token = store.create(name, chosen, lifetime)
    console.print(token, soft_wrap=True)
    console.print(
        f"Token {name!r} ({chosen.value}) created. It is shown only this once: store it now."
    )
    if lifetime is None:
        print_warning("this token never expires; revoke it when it is no longer needed")


@token_app.command("list")
def token_list(ctx: typer.Context, config_path: ConfigOption = None) -> None:
    """List the tokens (never the tokens themselves)."""
    store = _store(ctx, config_path)
    now = SystemClock().now()
    table = Table(title=f"Tokens ({store.path})")
    for column in ("name", "scope", "created", "expires", "revoked", "last used", "state"):
        table.add_column(column)
    for info in store.list():
        state = "revoked" if info.revoked else "expired" if info.expired(now) else "active"
        table.add_row(
            *cells(
                info.name,
                info.scope.value,
                _when(info.created_at),
                _when(info.expires_at, "never"),
                _when(info.revoked_at, "no"),
                _when(info.last_used_at, "never"),
                state,
            )
        )
    console.print(table)


@token_app.command("revoke")
def token_revoke(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The token's name.")],
    config_path: ConfigOption = None,
) -> None:
    """Revoke a token by name; its holders and their sessions are refused from now on."""
    if not _store(ctx, config_path).revoke(name):
        raise ConfigError(
            f"No unrevoked token is named {name!r}.", hint="See alphaforge serve token list."
        )
    console.print(f"Token {name!r} revoked.")


def _when(stamp: pd.Timestamp | None, missing: str = "") -> str:
    return missing if stamp is None else stamp.strftime("%Y-%m-%d %H:%M UTC")
