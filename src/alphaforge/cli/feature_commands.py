"""``alphaforge features``: list the registered features and build the feature store."""

from __future__ import annotations

import json
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
    import pandas as pd

    from alphaforge.features import FeatureSpec, PanelFeatureSpec
    from alphaforge.features.store import UpdateStats

# The feature library (TA-Lib, numba) is imported inside the commands, so that other commands
# of the CLI start without loading it.

features_app = typer.Typer(
    help="List the registered features and build the feature store.", no_args_is_help=True
)

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


def _row(spec: FeatureSpec | PanelFeatureSpec) -> _Row:
    """Return the listing row of a per-symbol or panel feature spec."""
    from alphaforge.features import PanelFeatureSpec

    if isinstance(spec, PanelFeatureSpec):
        return _Row(
            name=spec.name,
            category=spec.category,
            warmup=spec.warmup,
            memory=None,
            inputs=(),
            scale_free=spec.scale_free,
            description=spec.description,
            params=dict(spec.params),
            talib=None,
            panel=True,
        )
    return _Row(
        name=spec.name,
        category=spec.category,
        warmup=spec.warmup,
        memory=spec.memory,
        inputs=spec.inputs,
        scale_free=spec.scale_free,
        description=spec.description,
        params=dict(spec.params),
        talib=spec.talib[0] if spec.talib else None,
        panel=False,
    )


def _rows() -> list[_Row]:
    from alphaforge.features import CATEGORIES, FEATURES, PANEL_FEATURES

    rows = [_row(FEATURES.get(name)) for name in FEATURES.names()]
    rows.extend(_row(PANEL_FEATURES.get(name)) for name in PANEL_FEATURES.names())
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


def _names(
    text: str | None, configured: list[str] | None
) -> tuple[list[str] | None, list[str] | None]:
    """Return the requested (per-symbol, panel) feature names, checked.

    ``None`` for either means every applicable one; naming only per-symbol features builds no
    panel features and the reverse.
    """
    from alphaforge.features import FEATURES, PANEL_FEATURES

    if text is None:
        names = configured
    else:
        names = list(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
        if not names:
            raise RegistryError("--names is empty.", hint="Pass names separated by commas.")
    if names is None:
        return None, None
    unknown = [n for n in names if n not in FEATURES and n not in PANEL_FEATURES]
    if unknown:
        suggestions = "; ".join(f"{n}: {FEATURES.suggest(n)}" for n in unknown)
        raise RegistryError(
            f"Unknown feature(s) {', '.join(unknown)} ({suggestions}).",
            hint="Run alphaforge features list to see the names.",
        )
    return [n for n in names if n in FEATURES], [n for n in names if n in PANEL_FEATURES]


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
    loaded = load_universe(universe)
    members = loaded.members
    wanted, wanted_panel = _names(names, cfg.features.names)
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
    built: dict[str, pd.DataFrame] = {}
    with RichReporter() as reporter:
        task = reporter.task(f"building features of {len(jobs)} series", total=len(jobs))
        for job in jobs:
            symbol = job.instrument.symbol
            try:
                bars = bar_store.read(symbol, job.interval, asset_class=job.instrument.asset_class)
                if wanted is None or wanted:
                    stats = feature_store.ensure(
                        symbol, job.interval, bars, wanted, job.instrument, full=full
                    )
                    results.append((job, stats))
                built[symbol] = bars
            except AlphaForgeError as exc:
                errors.append(f"{symbol} {job.interval.value}: {exc.one_line()}")
            task.advance()
        task.done()
        panel = None
        if len(built) >= 2 and (wanted_panel is None or wanted_panel):
            task = reporter.task(
                "panel features (cross-sectional, cross-asset, regime)", total=None
            )
            instruments = {j.instrument.symbol: j.instrument for j in jobs}
            try:
                _, panel = feature_store.update_panel(
                    loaded.name, iv, built, wanted_panel, instruments, full=full
                )
            except (AlphaForgeError, ValueError) as exc:
                message = exc.one_line() if isinstance(exc, AlphaForgeError) else str(exc)
                errors.append(f"panel features: {message}")
            task.done()
    if results:
        _print_build(results)
    if panel is not None:
        console.print(
            f"Panel features: {len(panel.features)} for {len(panel.members)} members "
            f"({panel.path}, {panel.seconds:.2f} s) in {panel.file.resolve()}"
        )
    if errors and not results and panel is None:
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
