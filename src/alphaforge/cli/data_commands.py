"""``alphaforge data``: fetch, import, validate and list stored bars."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.table import Table

from alphaforge.cli.console import RichReporter, cells, console, print_error
from alphaforge.cli.options import ConfigOption, config_from
from alphaforge.config import AppConfig
from alphaforge.core.errors import AlphaForgeError, DataError
from alphaforge.core.types import AssetClass, Instrument, Interval
from alphaforge.data.service import SAMPLE_START, make_validator
from alphaforge.data.sources import create_source, import_file, sample_catalog, sample_instrument
from alphaforge.data.universe import load_universe
from alphaforge.data.update import EARLIER_KEY, Validator, import_bars, update_many
from alphaforge.data.validation import ValidationReport, validate_bars
from alphaforge.storage import BarStore, SeriesEntry

data_app = typer.Typer(help="Fetch, import, validate and list market data.", no_args_is_help=True)

IntervalOption = Annotated[
    str, typer.Option("--interval", "-i", help="Bar interval: 1m 5m 15m 1h 1d 1wk 1mo.")
]
AssetClassOption = Annotated[
    str,
    typer.Option("--asset-class", "-a", help="stock, etf, index, crypto, forex, future or macro."),
]
StoredAssetClassOption = Annotated[
    str | None,
    typer.Option(
        "--asset-class", "-a", help="Needed only when the symbol is stored under several."
    ),
]
ReplaceOption = Annotated[
    bool,
    typer.Option(
        "--replace",
        help="Store the new bars instead of the stored series when they differ; the stored "
        "version is kept (alphaforge data history / data restore).",
    ),
]
AllowUnhealthyOption = Annotated[
    bool,
    typer.Option(
        "--allow-unhealthy",
        help="Store a series below data.min_health_score anyway, marked as unhealthy.",
    ),
]

#: Sources whose whole history is local and finite: without a start date, all of it is kept.
_WHOLE_HISTORY_START: dict[str, date] = {
    "csv": date(1678, 1, 1),  # the earliest day a nanosecond timestamp can hold
    "sample": SAMPLE_START,
}
#: Default look-back for online (and generated) sources when no start date is given.
_DEFAULT_LOOK_BACK_YEARS = 10


def _interval(text: str) -> Interval:
    try:
        return Interval(text)
    except ValueError:
        raise AlphaForgeError(
            f"Unknown interval {text!r}.",
            hint=f"Use one of {', '.join(i.value for i in Interval)}.",
        ) from None


def _asset_class(text: str) -> AssetClass:
    try:
        return AssetClass(text.lower())
    except ValueError:
        raise AlphaForgeError(
            f"Unknown asset class {text!r}.",
            hint=f"Use one of {', '.join(a.value for a in AssetClass)}.",
        ) from None


def _zone(text: str) -> str:
    try:
        zoneinfo.ZoneInfo(text)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise AlphaForgeError(
            f"Unknown time zone {text!r}.",
            hint="Use an IANA name such as America/New_York, Europe/London or UTC.",
        ) from None
    return text


def _store_validator(cfg: AppConfig, *, allow_unhealthy: bool) -> Validator:
    """Return the validator imports and fetches store through: the health gate applies."""
    return make_validator(
        cfg.validation_rules,
        min_health_score=cfg.data.min_health_score,
        allow_unhealthy=allow_unhealthy or cfg.data.allow_unhealthy,
    )


def _health(entry: SeriesEntry) -> str:
    if entry.health_score is None:
        return "n/a"
    return f"{entry.health_score:.2f}" + (" unhealthy" if entry.stored_unhealthy else "")


def _fetch_start(source_name: str, start: str | None, configured: date | None, today: date) -> date:
    """Return the first date to fetch; say so when a default look-back is applied."""
    if start is not None or configured is not None:
        return _date(start, configured or today)
    if source_name in _WHOLE_HISTORY_START:
        return _WHOLE_HISTORY_START[source_name]
    try:
        lo = today.replace(year=today.year - _DEFAULT_LOOK_BACK_YEARS)
    except ValueError:  # 29 February
        lo = today.replace(year=today.year - _DEFAULT_LOOK_BACK_YEARS, day=28)
    console.print(
        f"No start date (--start or data.start): fetching the default look-back of "
        f"{_DEFAULT_LOOK_BACK_YEARS} years, from {lo}."
    )
    return lo


def _date(text: str | None, default: date) -> date:
    if text is None:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise AlphaForgeError(
            f"Invalid date {text!r}.", hint="Write dates as YYYY-MM-DD."
        ) from None


@data_app.command("fetch")
def fetch(
    ctx: typer.Context,
    symbols: Annotated[list[str] | None, typer.Argument(help="Symbols to fetch.")] = None,
    universe: Annotated[
        str | None, typer.Option("--universe", "-u", help="Fetch every member of a universe.")
    ] = None,
    source: Annotated[
        str | None, typer.Option("--source", "-s", help="Data source (default: data.source).")
    ] = None,
    asset_class: AssetClassOption = "stock",
    interval: IntervalOption = "1d",
    start: Annotated[
        str | None,
        typer.Option(
            help="First date, YYYY-MM-DD (default data.start; else a file's or sample's whole "
            "history, or 10 years back for online sources)."
        ),
    ] = None,
    end: Annotated[str | None, typer.Option(help="Last date, YYYY-MM-DD.")] = None,
    replace: ReplaceOption = False,
    allow_unhealthy: AllowUnhealthyOption = False,
    config: ConfigOption = None,
) -> None:
    """Fetch bars into the store; only what the store lacks is downloaded.

    New bars are merged with the stored ones; a fetched bar that differs from a stored one
    by more than a relative 1e-6 is refused (nothing stored) unless --replace, and so is a
    series below the health gate unless --allow-unhealthy.
    """
    cfg = config_from(ctx, config)
    source_name = source or cfg.data.source
    if not symbols and universe is None:
        raise AlphaForgeError("Nothing to fetch.", hint="Name symbols or pass --universe NAME.")
    asset = _asset_class(asset_class)
    instruments: list[Instrument] = []
    if universe is not None:
        instruments.extend(load_universe(universe).instruments)
    for symbol in symbols or []:
        if source_name == "sample":
            instruments.append(sample_instrument(symbol))
        else:
            instruments.append(Instrument(symbol=symbol, asset_class=asset))
    iv = _interval(interval)
    today = datetime.now(UTC).date()
    hi = _date(end, cfg.data.end or today)
    lo = _fetch_start(source_name, start, cfg.data.start, today)
    if lo > hi:
        raise AlphaForgeError(f"Start {lo} is after end {hi}.", hint="Swap --start and --end.")
    store = BarStore(cfg.data.store_dir)
    versions = {
        e.key.symbol: e.version
        for e in store.entries()
        if e.key.interval == iv and e.key.symbol in {i.symbol for i in instruments}
    }
    src = create_source(source_name, cfg.data, cfg.secrets)
    with RichReporter() as reporter:
        task = reporter.task(f"fetching {len(instruments)} series from {source_name}", total=None)
        outcome = update_many(
            store,
            src,
            instruments,
            iv,
            lo,
            hi,
            validate=_store_validator(cfg, allow_unhealthy=allow_unhealthy),
            replace=replace,
        )
        task.done()
    table = Table(title=f"Fetched into {cfg.data.store_dir}")
    for column in ("symbol", "new rows", "first", "last", "health"):
        table.add_column(column)
    for symbol, result in outcome.results.items():
        table.add_row(
            *cells(
                symbol,
                result.new_rows,
                result.entry.start[:10],
                result.entry.end[:10],
                _health(result.entry),
            )
        )
    if outcome.results:
        console.print(table)
    for symbol, result in outcome.results.items():
        kept = versions.get(symbol)
        if replace and kept is not None and kept != result.entry.version:
            console.print(
                f"{symbol}: version {kept} is kept: alphaforge data restore {symbol} "
                f"--version {kept}"
            )
    for symbol, reason in outcome.errors.items():
        print_error(f"{symbol}: {reason}")
    if outcome.errors:
        raise typer.Exit(max(outcome.exit_codes.values(), default=1))


@data_app.command("import")
def import_(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV or Parquet file with OHLCV columns.")],
    symbol: Annotated[str, typer.Option("--symbol", help="Symbol to store the bars under.")],
    asset_class: AssetClassOption = "stock",
    interval: IntervalOption = "1d",
    sector: Annotated[str | None, typer.Option(help="Sector, for equities.")] = None,
    tz: Annotated[
        str | None,
        typer.Option(
            "--tz",
            help="Time zone the file's naive intraday timestamps were recorded in "
            "(America/New_York); they are converted to UTC. Naive daily dates stay dates.",
        ),
    ] = None,
    replace: ReplaceOption = False,
    allow_unhealthy: AllowUnhealthyOption = False,
    config: ConfigOption = None,
) -> None:
    """Import a CSV or Parquet file into the store, validated and merged with stored bars.

    A bar that differs from the stored one at its timestamp by more than a relative 1e-6 is
    refused (nothing stored) unless --replace, and so is a series below the health gate
    unless --allow-unhealthy.
    """
    cfg = config_from(ctx, config)
    instrument = Instrument(symbol=symbol, asset_class=_asset_class(asset_class), sector=sector)
    iv = _interval(interval)
    zone = None if tz is None else _zone(tz)
    # A daily file's naive dates name sessions, not instants: they stay dates.
    raw = import_file(file, symbol=symbol, tz=zone if iv.is_intraday else None)
    store = BarStore(cfg.data.store_dir)
    before = store.entry(symbol, iv, asset_class=instrument.asset_class)
    result = import_bars(
        store,
        instrument,
        iv,
        raw,
        source=f"file:{file.name}",
        validate=_store_validator(cfg, allow_unhealthy=allow_unhealthy),
        replace=replace,
    )
    entry = result.entry
    if entry.validation:
        _print_reports({symbol: ValidationReport.from_dict(entry.validation)})
    console.print(
        f"Stored {entry.rows} bars of {symbol} ({entry.start[:10]} .. {entry.end[:10]}) "
        f"in {cfg.data.store_dir}: {result.new_rows} new, version {entry.version}"
        + (", unhealthy (stored by override)." if entry.stored_unhealthy else ".")
    )
    if before is not None and before.version != entry.version and replace:
        console.print(
            f"Version {before.version} is kept: alphaforge data restore {symbol} "
            f"--version {before.version}"
        )


@data_app.command("history")
def history(
    ctx: typer.Context,
    symbol: Annotated[str, typer.Argument(help="A stored symbol.")],
    interval: IntervalOption = "1d",
    asset_class: StoredAssetClassOption = None,
    config: ConfigOption = None,
) -> None:
    """List the stored versions of a series (kept when a write replaced or changed bars)."""
    cfg = config_from(ctx, config)
    where = None if asset_class is None else _asset_class(asset_class)
    versions = BarStore(cfg.data.store_dir).history(symbol, _interval(interval), asset_class=where)
    table = Table(title=f"Versions of {symbol} {interval}")
    for column in ("version", "saved (UTC)", "rows", "first", "last", "source", "health", "hash"):
        table.add_column(column)
    for v in versions:
        table.add_row(
            *cells(
                f"{v.version} (current)" if v.current else v.version,
                v.saved_at[:19].replace("T", " "),
                v.rows,
                v.start[:10],
                v.end[:10],
                v.source,
                "n/a" if v.health_score is None else f"{v.health_score:.2f}",
                v.content_hash[:12],
            )
        )
    console.print(table)


@data_app.command("restore")
def restore(
    ctx: typer.Context,
    symbol: Annotated[str, typer.Argument(help="A stored symbol.")],
    version: Annotated[int, typer.Option("--version", help="Version to bring back.")],
    interval: IntervalOption = "1d",
    asset_class: StoredAssetClassOption = None,
    config: ConfigOption = None,
) -> None:
    """Bring back a stored version of a series; the current one is kept as a version."""
    cfg = config_from(ctx, config)
    iv = _interval(interval)
    where = None if asset_class is None else _asset_class(asset_class)
    store = BarStore(cfg.data.store_dir)
    before = store.entry(symbol, iv, asset_class=where)
    entry = store.restore(symbol, iv, version, asset_class=where)
    if before is not None and before.version == entry.version:
        console.print(f"Version {version} of {symbol} {iv.value} is already the current one.")
        return
    console.print(
        f"Restored version {version} of {symbol} {iv.value} as version {entry.version}: "
        f"{entry.rows} bars ({entry.start[:10]} .. {entry.end[:10]}), hash "
        f"{entry.content_hash[:12]}."
        + ("" if before is None else f" Version {before.version} is kept.")
    )


@data_app.command("validate")
def validate(
    ctx: typer.Context,
    symbols: Annotated[
        list[str] | None, typer.Argument(help="Stored symbols (default all).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Re-validate stored series and print a health report per series."""
    cfg = config_from(ctx, config)
    store = BarStore(cfg.data.store_dir)
    entries = store.entries()
    if symbols:
        wanted = set(symbols)
        missing = wanted - {e.key.symbol for e in entries}
        if missing:
            raise DataError(
                f"Not in the store: {', '.join(sorted(missing))}.",
                hint="Run alphaforge data fetch or data import first.",
            )
        entries = [e for e in entries if e.key.symbol in wanted]
    reports: dict[str, ValidationReport] = {}
    stored: dict[str, SeriesEntry] = {}
    for entry in entries:
        name = f"{entry.key.symbol} {entry.key.interval}"
        bars = store.read(entry.key.symbol, entry.key.interval, asset_class=entry.key.asset_class)
        _, reports[name] = validate_bars(
            bars, entry.to_instrument(), entry.key.interval, cfg.validation_rules
        )
        stored[name] = entry
    if not reports:
        console.print("The store is empty.")
        return
    _print_reports(reports, stored=stored)
    problems = store.verify()
    for problem in problems:
        print_error(problem, label="integrity")
    if problems:
        raise typer.Exit(1)


@data_app.command("list")
def list_(ctx: typer.Context, config: ConfigOption = None) -> None:
    """List the stored series with their ranges, health scores and content hashes."""
    cfg = config_from(ctx, config)
    store = BarStore(cfg.data.store_dir)
    entries = store.entries()
    if not entries:
        console.print(
            f"The store at {cfg.data.store_dir} is empty. Try: alphaforge data fetch --source "
            f"sample {' '.join(list(sample_catalog())[:3])}"
        )
        return
    table = Table(title=f"Store {cfg.data.store_dir}")
    for column in (
        "asset class",
        "symbol",
        "interval",
        "rows",
        "first",
        "last",
        "health",
        "source",
        "hash",
    ):
        table.add_column(column)
    for e in entries:
        table.add_row(
            *cells(
                e.key.asset_class.value,
                e.key.symbol,
                e.key.interval.value,
                e.rows,
                e.start[:10],
                e.end[:10],
                _health(e),
                e.source,
                e.content_hash[:12],
            )
        )
    console.print(table)


def _print_reports(
    reports: dict[str, ValidationReport], *, stored: dict[str, SeriesEntry] | None = None
) -> None:
    """Print one row per report; with ``stored``, beside the report kept when it was stored.

    The stored report is the one the last import or fetch wrote into the manifest: it lists
    the repairs and drops made then, which a re-validation of the repaired bars cannot see.
    """
    table = Table(title="Validation")
    columns = ["series", "rows in", "rows out", "health", "issues"]
    if stored is not None:
        columns += ["health when stored", "issues when stored"]
    for column in columns:
        table.add_column(column)
    for name, report in reports.items():
        row: list[object] = [
            name,
            report.rows_in,
            report.rows_out,
            f"{report.health_score:.2f}" + (" REJECTED" if report.rejected else ""),
            "\n".join(report.reasons()) or "none",
        ]
        if stored is not None:
            row += _stored_report(stored[name])
        table.add_row(*cells(*row))
    console.print(table)


def _stored_report(entry: SeriesEntry) -> list[object]:
    if not entry.validation:
        return ["n/a", "not validated when stored"]
    try:
        kept = ValidationReport.from_dict(entry.validation)
    except DataError:
        return [_health(entry), "the stored report is unreadable"]
    lines = kept.reasons()
    for issue in entry.validation.get(EARLIER_KEY) or []:
        if isinstance(issue, dict):
            lines.append(
                f"earlier ({str(issue.get('stored_at'))[:10]}, {issue.get('source')}): "
                f"{issue.get('kind')} ({issue.get('action')}, {issue.get('count')}): "
                f"{issue.get('detail')}"
            )
    return [_health(entry), "\n".join(lines) or "none"]


@data_app.command("query")
def query(
    ctx: typer.Context,
    sql: Annotated[str, typer.Argument(help="DuckDB SQL over the views `bars` and `series`.")],
    limit: Annotated[int, typer.Option(help="Rows shown at most.")] = 50,
    config: ConfigOption = None,
) -> None:
    """Query the store with read-only SQL (DuckDB): SELECT symbol, count(*) FROM bars GROUP BY 1.

    Only SELECT (and EXPLAIN) statements run, on a connection that can read no file but the
    store's and write none: COPY, ATTACH, SET, INSERT or read_csv('...') fail in one line.
    """
    import duckdb

    cfg = config_from(ctx, config)
    store = BarStore(cfg.data.store_dir)
    if not store.entries():
        raise DataError(
            f"The store at {cfg.data.store_dir} is empty.",
            hint="Run alphaforge data fetch or data import first.",
        )
    try:
        result = store.query_arrow(sql)
    except duckdb.Error as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"The query failed: {first_line}", hint="Check the SQL.") from None
    table = Table(
        title=f"{result.num_rows} row(s)" + (f", first {limit}" if result.num_rows > limit else "")
    )
    for name in result.column_names:
        table.add_column(str(name))
    shown = result.slice(0, max(limit, 0))
    columns = [[_sql_value(v, column.type) for v in column.to_pylist()] for column in shown.columns]
    for row in zip(*columns, strict=True):
        table.add_row(*cells(*row))
    console.print(table)


def _sql_value(value: Any, kind: Any) -> str:
    """Format one result value: NULL as NULL, a float as the shortest text that reads back.

    A FLOAT (32-bit) reaches Python as a 64-bit float whose repr shows binary noise
    (0.10000000149011612): it is printed at its own precision (0.1).
    """
    import pyarrow as pa

    if value is None:
        return "NULL"
    if isinstance(value, float):
        if pa.types.is_float32(kind) or pa.types.is_float16(kind):
            return str(np.float32(value))
        return repr(value)
    return str(value)
