"""``alphaforge risk``: list the sizers, constructors, limits, stops, breakers and filters."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from alphaforge.cli.console import cells, console

risk_app = typer.Typer(
    help="List the portfolio and risk pieces and the shipped presets.", no_args_is_help=True
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _catalogue() -> list[dict[str, Any]]:
    """Every registered piece: kind, name, one line, parameters with their defaults."""
    from alphaforge.portfolio.pieces import CONSTRUCTORS
    from alphaforge.risk.setup import SECTIONS, load_members

    load_members()
    registries = {"constructor": CONSTRUCTORS} | {
        section.removesuffix("s"): registry for section, registry in SECTIONS.items()
    }
    rows = []
    for kind, registry in registries.items():
        for name in registry.names():
            cls = registry.get(name)
            rows.append(
                {
                    "kind": kind,
                    "name": name,
                    "summary": cls.summary or (cls.__doc__ or "").strip().split("\n")[0],
                    "params": _jsonable(cls.defaults()),
                }
            )
    return rows


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(params, default=str))  # type: ignore[no-any-return]


@risk_app.command("list")
def list_pieces(as_json: JsonOption = False) -> None:
    """Print every sizer, constructor, limit, stop, breaker and filter with its defaults."""
    from alphaforge.risk.setup import preset_names

    rows = _catalogue()
    if as_json:
        console.print_json(json.dumps({"pieces": rows, "presets": preset_names()}))
        return
    table = Table(title="Portfolio and risk pieces (configure under portfolio: and risk:)")
    for column in ("kind", "name", "defaults", "what it does"):
        table.add_column(column, overflow="fold")
    for row in rows:
        defaults = ", ".join(f"{k}={v}" for k, v in row["params"].items())
        table.add_row(*cells(row["kind"], row["name"], defaults, row["summary"]))
    console.print(table)
    console.print(f"Presets (risk.preset): {', '.join(preset_names())}")
