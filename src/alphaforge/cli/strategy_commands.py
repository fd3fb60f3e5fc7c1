"""``alphaforge strategies``: list the registered strategies, or show one in full."""

from __future__ import annotations

import json
import typing
from typing import Annotated, Any, Literal

import typer
from rich.table import Table

from alphaforge.cli.console import cells, console

strategies_app = typer.Typer(
    help="List the registered strategies (strategy.name in a config), or show one.",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _parameters(cls: Any) -> list[dict[str, Any]]:
    """Each parameter: name, type, default and description (from the strategy's model)."""
    out = []
    for name, info in cls.model_fields.items():
        annotation = info.annotation
        choices = typing.get_args(annotation) if typing.get_origin(annotation) is Literal else ()
        if choices:
            kind = " | ".join(str(c) for c in choices)
        else:
            kind = getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")
        default = info.get_default(call_default_factory=True)
        out.append(
            {
                "name": name,
                "type": kind,
                "default": json.loads(json.dumps(default, default=str)),
                "description": info.description or "",
            }
        )
    return out


def _row(name: str) -> dict[str, Any]:
    from alphaforge.strategies import STRATEGIES

    cls = STRATEGIES.get(name)
    described = cls().describe()
    return {
        "name": name,
        **described,
        "params": {p["name"]: p["default"] for p in _parameters(cls)},
    }


@strategies_app.command("list")
def list_strategies(as_json: JsonOption = False) -> None:
    """Print every strategy: family, asset classes, bar interval, data needs, warm-up and
    parameter defaults."""
    from alphaforge.strategies import STRATEGIES

    rows = [_row(name) for name in STRATEGIES.names()]
    if as_json:
        console.print_json(json.dumps({"strategies": rows}))
        return
    table = Table(title="Strategies (strategy: {name: NAME, params: {...}})")
    for column in ("name", "family", "assets", "interval", "needs", "warm-up", "defaults"):
        table.add_column(column, overflow="fold")
    for row in rows:
        needs = [*row["needs"], *row["requires"]]
        defaults = ", ".join(f"{k}={v}" for k, v in row["params"].items())
        table.add_row(
            *cells(
                row["name"],
                row["family"],
                ", ".join(row["asset_classes"]),
                row["interval"],
                ", ".join(needs),
                str(row["warmup"]),
                defaults,
            )
        )
    console.print(table)
    console.print("alphaforge strategies show NAME prints one strategy's rule and parameters.")


@strategies_app.command("show")
def show_strategy(
    name: Annotated[str, typer.Argument(help="A registered strategy name.")],
    as_json: JsonOption = False,
) -> None:
    """Print one strategy: its rule, what it declares and each parameter
    (``aggregate``: the aggregator's settings and presets)."""
    from alphaforge.strategies import STRATEGIES

    if name == "aggregate":
        _show_aggregate(as_json)
        return
    cls = STRATEGIES.get(name)  # an unknown name: one line with the closest names
    row = _row(name) | {"doc": " ".join((cls.__doc__ or "").split()), "parameters": []}
    row["parameters"] = _parameters(cls)
    if as_json:
        console.print_json(json.dumps(row))
        return
    console.print(f"{name}: {row['summary']}")
    if row["doc"]:
        console.print(row["doc"])
    facts = (
        ("family", row["family"]),
        ("asset classes", ", ".join(row["asset_classes"])),
        ("bar interval", row["interval"]),
        ("reads", ", ".join(row["needs"]) or "-"),
        ("other instruments", ", ".join(row["requires"]) or "-"),
        ("warm-up (bars)", str(row["warmup"])),
        ("lookback (bars)", str(row["lookback"])),
    )
    for label, value in facts:
        console.print(f"  {label}: {value}")
    table = Table(title="Parameters")
    for column in ("name", "type", "default", "description"):
        table.add_column(column, overflow="fold")
    for p in row["parameters"]:
        table.add_row(*cells(p["name"], p["type"], str(p["default"]), p["description"]))
    console.print(table)


def _show_aggregate(as_json: bool) -> None:
    from alphaforge.strategies.aggregate import PRESETS, Aggregator

    parameters = _parameters(Aggregator)
    doc = " ".join((Aggregator.__doc__ or "").split())
    if as_json:
        console.print_json(json.dumps({"doc": doc, "parameters": parameters, "presets": PRESETS}))
        return
    console.print("aggregate: several strategies combined into one signal (strategy.aggregate).")
    console.print(doc)
    table = Table(title="Settings (strategy.aggregate, or its params)")
    for column in ("name", "type", "default", "description"):
        table.add_column(column, overflow="fold")
    for p in parameters:
        table.add_row(*cells(p["name"], p["type"], str(p["default"]), p["description"]))
    console.print(table)
    for preset, weights in PRESETS.items():
        listed = ", ".join(f"{k} {v:g}" for k, v in weights.items())
        console.print(f"preset {preset}: {listed}")
