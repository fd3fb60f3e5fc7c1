"""``alphaforge data``: fetch, import, validate and list stored bars."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from alphaforge.cli.console import RichReporter, cells, console, print_error
from alphaforge.cli.options import ConfigOption, config_from
from alphaforge.core.errors import AlphaForgeError, DataError
from alphaforge.core.types import AssetClass, Instrument, Interval
from alphaforge.data.service import make_validator
from alphaforge.data.sources import create_source, import_file, sample_catalog, sample_instrument
from alphaforge.data.universe import load_universe
from alphaforge.data.update import update_many
from alphaforge.data.validation import ValidationReport, validate_bars
from alphaforge.storage import BarStore

data_app = typer.Typer(help="Fetch, import, validate and list market data.", no_args_is_help=True)

IntervalOption = Annotated[
    str, typer.Option("--interval", "-i", help="Bar interval: 1m 5m 15m 1h 1d 1wk 1mo.")
]
AssetClassOption = Annotated[
    str,
    typer.Option("--asset-class", "-a", help="stock, etf, index, crypto, forex, future or macro."),
]


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
    start: Annotated[str | None, typer.Option(help="First date, YYYY-MM-DD.")] = None,
    end: Annotated[str | None, typer.Option(help="Last date, YYYY-MM-DD.")] = None,
    config: ConfigOption = None,
) -> None:
    """Fetch bars into the store; only what the store lacks is downloaded."""
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
    lo = _date(
        start,
        cfg.data.start
        or (date(1980, 1, 1) if source_name == "sample" else today - timedelta(days=3650)),
    )
    hi = _date(end, cfg.data.end or today)
    if lo > hi:
        raise AlphaForgeError(f"Start {lo} is after end {hi}.", hint="Swap --start and --end.")
    store = BarStore(cfg.data.store_dir)
    src = create_source(source_name, cfg.data)
    with RichReporter() as reporter:
        task = reporter.task(f"fetching {len(instruments)} series from {source_name}", total=None)
        outcome = update_many(
            store, src, instruments, iv, lo, hi, validate=make_validator(cfg.validation_rules)
        )
        task.done()
    table = Table(title=f"Fetched into {cfg.data.store_dir}")
    for column in ("symbol", "new rows", "first", "last", "health"):
        table.add_column(column)
    for symbol, result in outcome.results.items():
        health = result.entry.health_score
        table.add_row(
            *cells(
                symbol,
                result.new_rows,
                result.entry.start[:10],
                result.entry.end[:10],
                "n/a" if health is None else f"{health:.2f}",
            )
        )
    if outcome.results:
        console.print(table)
    for symbol, reason in outcome.errors.items():
        print_error(f"{symbol}: {reason}")
    if outcome.errors:
        raise typer.Exit(1)


@data_app.command("import")
def import_(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV or Parquet file with OHLCV columns.")],
    symbol: Annotated[str, typer.Option("--symbol", help="Symbol to store the bars under.")],
    asset_class: AssetClassOption = "stock",
    interval: IntervalOption = "1d",
    sector: Annotated[str | None, typer.Option(help="Sector, for equities.")] = None,
    config: ConfigOption = None,
) -> None:
    """Import a CSV or Parquet file into the store, validated."""
    cfg = config_from(ctx, config)
    instrument = Instrument(symbol=symbol, asset_class=_asset_class(asset_class), sector=sector)
    iv = _interval(interval)
    raw = import_file(file, symbol=symbol)
    bars, report = validate_bars(raw, instrument, iv, cfg.validation_rules)
    if report.rejected:
        raise DataError(
            f"{file}: rejected by validation: {'; '.join(report.reasons())}.",
            hint="Fix the file; nothing was stored.",
        )
    entry = BarStore(cfg.data.store_dir).write(
        instrument,
        iv,
        bars,
        source=f"file:{file.name}",
        validation=report.to_dict(),
        health_score=report.health_score,
    )
    _print_reports({symbol: report})
    console.print(
        f"Stored {entry.rows} bars of {symbol} ({entry.start[:10]} .. {entry.end[:10]}) "
        f"in {cfg.data.store_dir}."
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
    for entry in entries:
        bars = store.read(entry.key.symbol, entry.key.interval, asset_class=entry.key.asset_class)
        _, reports[f"{entry.key.symbol} {entry.key.interval}"] = validate_bars(
            bars, entry.to_instrument(), entry.key.interval, cfg.validation_rules
        )
    if not reports:
        console.print("The store is empty.")
        return
    _print_reports(reports)
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
                "n/a" if e.health_score is None else f"{e.health_score:.2f}",
                e.source,
                e.content_hash[:12],
            )
        )
    console.print(table)


def _print_reports(reports: dict[str, ValidationReport]) -> None:
    table = Table(title="Validation")
    for column in ("series", "rows in", "rows out", "health", "issues"):
        table.add_column(column)
    for name, report in reports.items():
        table.add_row(
            *cells(
                name,
                report.rows_in,
                report.rows_out,
                f"{report.health_score:.2f}" + (" REJECTED" if report.rejected else ""),
                "\n".join(report.reasons()) or "none",
            )
        )
    console.print(table)


@data_app.command("query")
def query(
    ctx: typer.Context,
    sql: Annotated[str, typer.Argument(help="DuckDB SQL over the views `bars` and `series`.")],
    limit: Annotated[int, typer.Option(help="Rows shown at most.")] = 50,
    config: ConfigOption = None,
) -> None:
    """Query the whole store with SQL (DuckDB): SELECT symbol, count(*) FROM bars GROUP BY 1."""
    import duckdb

    cfg = config_from(ctx, config)
    store = BarStore(cfg.data.store_dir)
    if not store.entries():
        raise DataError(
            f"The store at {cfg.data.store_dir} is empty.",
            hint="Run alphaforge data fetch or data import first.",
        )
    try:
        result = store.query(sql)
    except duckdb.Error as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"The query failed: {first_line}", hint="Check the SQL.") from None
    table = Table(
        title=f"{len(result)} row(s)" + (f", first {limit}" if len(result) > limit else "")
    )
    for column in result.columns:
        table.add_column(str(column))
    for row in result.head(limit).itertuples(index=False):
        table.add_row(*cells(*row))
    console.print(table)
