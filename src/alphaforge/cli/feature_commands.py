"""``alphaforge features``: list the registered features and build the feature store."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from alphaforge.cli.console import RichReporter, cells, console, print_error, print_warning
from alphaforge.cli.options import ConfigOption, config_from
from alphaforge.core.errors import AlphaForgeError, DataError, RegistryError
from alphaforge.core.types import Instrument, Interval
from alphaforge.data.universe import load_universe
from alphaforge.storage import BarStore

if TYPE_CHECKING:
    from alphaforge.features.store import UpdateStats

# The feature library (TA-Lib, numba) is imported inside the commands, so that other commands
# of the CLI start without loading it.

features_app = typer.Typer(
    help="List the registered features and build the feature store.", no_args_is_help=True
)

_PANEL_MODULE = "alphaforge.features.panel"
_PANEL_NOTE = "panel: needs compute_panel over the whole universe"


@dataclass(frozen=True, slots=True)
class _Row:
    """One feature as ``features list`` shows it."""

    name: str
    category: str
    warmup: int
    memory: int | None
    inputs: tuple[str, ...]
    scale_free: bool
    description: str
    params: dict[str, Any]
    talib: str | None
    panel: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "category": self.category,
            "warmup": self.warmup,
            "memory": self.memory,
            "inputs": list(self.inputs),
            "scale_free": self.scale_free,
            "description": self.description,
            "params": self.params,
            "talib": self.talib,
            "panel": self.panel,
        }


def _row(spec: Any, *, panel: bool) -> _Row:
    """Return the listing row of a feature spec (per-symbol or panel), tolerant of fields."""
    talib = getattr(spec, "talib", None)
    warmup = getattr(spec, "warmup", 0)
    memory = getattr(spec, "memory", None)
    return _Row(
        name=str(getattr(spec, "name", "?")),
        category=str(getattr(spec, "category", "cross_sectional" if panel else "?")),
        warmup=int(warmup) if isinstance(warmup, int) else 0,
        memory=int(memory) if isinstance(memory, int) else None,
        inputs=tuple(str(i) for i in (getattr(spec, "inputs", ()) or ())),
        scale_free=bool(getattr(spec, "scale_free", True)),
        description=str(getattr(spec, "description", "")),
        params={str(k): v for k, v in dict(getattr(spec, "params", {}) or {}).items()},
        talib=str(talib[0]) if isinstance(talib, tuple) and talib else None,
        panel=panel,
    )


def _panel_specs() -> list[Any]:
    """Return the panel feature specs if :mod:`alphaforge.features.panel` defines any."""
    try:
        module = importlib.import_module(_PANEL_MODULE)
    except Exception:  # absent or broken: list the per-symbol features only
        return []
    registry = getattr(module, "PANEL_FEATURES", None)
    if registry is None:
        return []
    try:
        if hasattr(registry, "names") and hasattr(registry, "get"):
            return [registry.get(name) for name in registry.names()]
        if isinstance(registry, Mapping):
            return list(registry.values())
        if isinstance(registry, Iterable):
            return list(registry)
    except Exception:
        return []
    return []


def _rows() -> list[_Row]:
    from alphaforge.features import CATEGORIES, FEATURES

    rows = [_row(FEATURES.get(name), panel=False) for name in FEATURES.names()]
    rows.extend(_row(spec, panel=True) for spec in _panel_specs())
    order = {category: i for i, category in enumerate(CATEGORIES)}
    return sorted(rows, key=lambda r: order.get(r.category, len(order)))


@features_app.command("list")
def list_(
    category: Annotated[
        str | None, typer.Option("--category", help="Show one category only.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print machine-readable rows (JSON) instead.")
    ] = False,
) -> None:
    """List every registered feature by category: warm-up, inputs, scale-free, description."""
    from alphaforge.features import CATEGORIES

    rows = _rows()
    if category is not None:
        known = sorted({r.category for r in rows} | set(CATEGORIES))
        if category not in known:
            raise RegistryError(
                f"Unknown feature category {category!r}.", hint=f"Use one of {', '.join(known)}."
            )
        rows = [r for r in rows if r.category == category]
    if as_json:
        typer.echo(json.dumps([r.to_json() for r in rows], indent=2, default=str))
        return
    if not rows:
        console.print(f"No feature is registered in category {category}.")
        return
    table = Table(title=f"{len(rows)} features")
    for column in ("category", "name", "warm-up", "inputs", "scale-free", "description"):
        table.add_column(column, justify="right" if column == "warm-up" else "left")
    counts: dict[str, int] = {}
    for i, row in enumerate(rows):
        first = counts.get(row.category, 0) == 0
        counts[row.category] = counts.get(row.category, 0) + 1
        last = i + 1 == len(rows) or rows[i + 1].category != row.category
        description = f"{row.description} [{_PANEL_NOTE}]" if row.panel else row.description
        table.add_row(
            *cells(
                row.category if first else "",
                row.name,
                row.warmup,
                ",".join(row.inputs),
                "yes" if row.scale_free else "no",
                description,
            ),
            end_section=last,
        )
    console.print(table)
    summary = Table(title="Features per category")
    for column in ("category", "per-symbol", "panel", "total"):
        summary.add_column(column, justify="left" if column == "category" else "right")
    for name, total in counts.items():
        panel = sum(1 for r in rows if r.category == name and r.panel)
        summary.add_row(*cells(name, total - panel, panel, total))
    n_panel = sum(1 for r in rows if r.panel)
    summary.add_row(*cells("total", len(rows) - n_panel, n_panel, len(rows)), style="bold")
    console.print(summary)


# --------------------------------------------------------------------------- build


def _interval(text: str) -> Interval:
    try:
        return Interval(text)
    except ValueError:
        raise AlphaForgeError(
            f"Unknown interval {text!r}.",
            hint=f"Use one of {', '.join(i.value for i in Interval)}.",
        ) from None


def _names(text: str | None, configured: list[str] | None) -> list[str] | None:
    """Return the requested feature names (None = every applicable one), checked."""
    from alphaforge.features import FEATURES

    if text is None:
        names = configured
    else:
        names = list(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
        if not names:
            raise RegistryError("--names is empty.", hint="Pass names separated by commas.")
    if names is None:
        return None
    unknown = [n for n in names if n not in FEATURES]
    if unknown:
        suggestions = "; ".join(f"{n}: {FEATURES.suggest(n)}" for n in unknown)
        raise RegistryError(
            f"Unknown feature(s) {', '.join(unknown)} ({suggestions}).",
            hint="Run alphaforge features list to see the names.",
        )
    return names


@dataclass(frozen=True, slots=True)
class _Job:
    instrument: Instrument
    interval: Interval


@features_app.command("build")
def build(
    ctx: typer.Context,
    universe: Annotated[str, typer.Option("--universe", "-u", help="Universe name or YAML file.")],
    interval: Annotated[
        str | None,
        typer.Option(
            "--interval",
            "-i",
            help="Bar interval: 1m 5m 15m 1h 1d 1wk 1mo (default: data.interval, 1d).",
        ),
    ] = None,
    names: Annotated[
        str | None,
        typer.Option(
            "--names",
            help="Features to build, comma-separated (default: features.names, else every "
            "feature that applies).",
        ),
    ] = None,
    full: Annotated[
        bool, typer.Option("--full", help="Recompute everything instead of only new bars.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Compute the features of a universe's stored bars; only new bars are computed."""
    from alphaforge.features.store import FeatureStore

    cfg = config_from(ctx, config)
    members = load_universe(universe).members
    wanted = _names(names, cfg.features.names)
    iv = _interval(interval or cfg.data.interval)
    bar_store = BarStore(cfg.data.store_dir)
    jobs: list[_Job] = []
    missing: list[str] = []
    for member in members:
        if bar_store.exists(member.symbol, iv, asset_class=member.instrument.asset_class):
            jobs.append(_Job(member.instrument, iv))
        else:
            missing.append(f"{member.symbol} {iv.value}")
    if not jobs:
        raise DataError(
            f"No bars of universe {universe} are stored in {cfg.data.store_dir}.",
            hint=f"Run alphaforge data fetch --universe {universe} first.",
        )
    for series in missing:
        print_warning(f"{series}: no bars in the store; skipped.")
    feature_store = FeatureStore(cfg.data.store_dir)
    results: list[tuple[_Job, UpdateStats]] = []
    errors: list[str] = []
    with RichReporter() as reporter:
        task = reporter.task(f"building features of {len(jobs)} series", total=len(jobs))
        for job in jobs:
            symbol = job.instrument.symbol
            try:
                bars = bar_store.read(symbol, job.interval, asset_class=job.instrument.asset_class)
                stats = feature_store.ensure(
                    symbol, job.interval, bars, wanted, job.instrument, full=full
                )
            except AlphaForgeError as exc:
                errors.append(f"{symbol} {job.interval.value}: {exc.one_line()}")
            else:
                results.append((job, stats))
            task.advance()
        task.done()
    if results:
        _print_build(results)
    if errors and not results:
        more = f" (and {len(errors) - 1} more series)" if len(errors) > 1 else ""
        raise AlphaForgeError(f"No series was built: {errors[0]}{more}")
    for error in errors:
        print_error(error)
    if errors:
        raise typer.Exit(1)


def _print_build(results: list[tuple[_Job, UpdateStats]]) -> None:
    table = Table(title="Feature store")
    for column in ("symbol", "interval", "rows", "features", "new rows computed", "path", "s"):
        table.add_column(column, justify="left" if column in ("symbol", "interval") else "right")
    for job, stats in results:
        table.add_row(
            *cells(
                job.instrument.symbol,
                job.interval.value,
                stats.rows,
                stats.features,
                stats.computed,
                stats.path,
                f"{stats.seconds:.3f}",
            )
        )
    console.print(table)
    paths: dict[str, int] = {}
    for _, stats in results:
        paths[stats.path] = paths.get(stats.path, 0) + 1
    computed = sum(stats.computed for _, stats in results)
    seconds = sum(stats.seconds for _, stats in results)
    done = ", ".join(f"{count} {path}" for path, count in sorted(paths.items()))
    console.print(f"{len(results)} series ({done}); {computed} rows computed in {seconds:.2f} s.")
    folders = sorted({str(stats.file.parent.resolve()) for _, stats in results})
    console.print("Feature files:")
    for folder in folders:
        console.print(f"  {folder}")
