"""Options shared by every command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from alphaforge.config import CONFIG_ENV_VAR, AppConfig, load_config

#: ``--config`` before the command's name; falls back to ``$ALPHAFORGE_CONFIG``.
GlobalConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        envvar=CONFIG_ENV_VAR,
        help="YAML configuration file (see alphaforge.example.yaml).",
        show_default=False,
    ),
]

#: ``--config`` after the command's name; it wins over the global option and the environment.
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="YAML configuration file (also accepted before the command, or ALPHAFORGE_CONFIG).",
        show_default=False,
    ),
]


def config_from(ctx: typer.Context, local: Path | None) -> AppConfig:
    """Load the configuration named after the command, else before it, else defaults."""
    path = local
    node: typer.Context | None = ctx
    while path is None and node is not None:
        obj = node.obj if isinstance(node.obj, dict) else {}
        path = obj.get("config")
        node = node.parent  # type: ignore[assignment]
    return load_config(path)
