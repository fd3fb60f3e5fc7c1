"""Read-only DuckDB over the bar store: views registered through Arrow, then no file access.

DuckDB's ``enable_external_access = false`` forbids every file operation, including the
``read_parquet`` that views over the store would run when queried. So the store's files are
handed to DuckDB as a pyarrow dataset (scanned lazily, filters and projections pushed down),
the views are created over it, and only then is file access switched off and the
configuration locked (``lock_configuration``), so no statement can turn it back on.
:func:`check_read_only` also refuses every statement that is not a query, so nothing is
written even in memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.dataset as pa_ds

from alphaforge.core.bars import BAR_COLUMNS, INDEX_NAME
from alphaforge.core.errors import DataError
from alphaforge.storage.series import SeriesEntry

__all__ = ["READ_ONLY_STATEMENTS", "check_read_only", "read_only_connection"]

#: Statement types a query may hold; everything else (COPY, ATTACH, SET, INSERT...) is refused.
READ_ONLY_STATEMENTS = frozenset({"SELECT", "EXPLAIN"})

_EMPTY_BARS = (
    "CREATE VIEW bars AS SELECT NULL::VARCHAR AS asset_class, "
    "NULL::VARCHAR AS symbol, NULL::VARCHAR AS interval, "
    'NULL::TIMESTAMPTZ AS "timestamp", NULL::DOUBLE AS open, '
    "NULL::DOUBLE AS high, NULL::DOUBLE AS low, NULL::DOUBLE AS close, "
    "NULL::DOUBLE AS volume WHERE false"
)


def read_only_connection(
    root: Path, files: Sequence[Path], entries: Sequence[SeriesEntry]
) -> duckdb.DuckDBPyConnection:
    """Return an in-memory DuckDB connection with ``bars`` and ``series``, locked down.

    Parameters
    ----------
    root
        The store directory: the Hive partitions of ``files`` are read relative to it.
    files
        The series' ``bars.parquet`` files.
    entries
        The manifest entries, for the ``series`` table.

    Returns
    -------
    duckdb.DuckDBPyConnection
        Session time zone UTC; no file can be read or written through it. The caller closes
        it.
    """
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        if files:
            con.register("_bar_files", _bar_dataset(root, files))
            con.execute(
                # DuckDB reads Arrow's ns stamps as naive TIMESTAMP_NS: make them UTC.
                "CREATE VIEW bars AS SELECT asset_class, symbol, interval, "
                'CAST("timestamp" AS TIMESTAMPTZ) AS "timestamp", open, high, low, close, '
                "volume FROM _bar_files"
            )
        else:
            con.execute(_EMPTY_BARS)
        con.execute(
            "CREATE TEMP TABLE series (asset_class VARCHAR, symbol VARCHAR, "
            "interval VARCHAR, rows BIGINT, first_bar TIMESTAMPTZ, last_bar TIMESTAMPTZ, "
            "content_hash VARCHAR, source VARCHAR, updated_at TIMESTAMPTZ, "
            "health_score DOUBLE, version BIGINT)"
        )
        rows = [
            (
                e.key.asset_class.value,
                e.key.symbol,
                e.key.interval.value,
                e.rows,
                e.start,
                e.end,
                e.content_hash,
                e.source,
                e.updated_at,
                e.health_score,
                e.version,
            )
            for e in entries
        ]
        if rows:
            con.executemany("INSERT INTO series VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        # Views first, then no file access at all, and no way to turn it back on.
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


def check_read_only(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Refuse ``sql`` unless it holds a statement and every statement in it only reads.

    Raises
    ------
    DataError
        For an empty query or any statement whose type is not in
        :data:`READ_ONLY_STATEMENTS`. Invalid SQL raises DuckDB's parser error.
    """
    statements = con.extract_statements(sql)
    if not statements:
        raise DataError(
            "The query is empty.", hint="Write a SELECT over the views bars and series."
        )
    for statement in statements:
        kind = str(statement.type).rsplit(".", 1)[-1]
        if kind not in READ_ONLY_STATEMENTS:
            raise DataError(
                f"The query is refused: {kind} statements cannot run; the store is read-only.",
                hint="Write a SELECT over the views bars and series.",
            )


def _bar_dataset(root: Path, files: Sequence[Path]) -> Any:
    """Return a pyarrow dataset over bar files, with the Hive keys as string columns."""
    keys = pa.schema(
        [("asset_class", pa.string()), ("symbol", pa.string()), ("interval", pa.string())]
    )
    # One schema for all files: an index stored in seconds or microseconds reads as ns.
    schema = pa.schema(
        [
            pa.field(INDEX_NAME, pa.timestamp("ns", tz="UTC")),
            *(pa.field(column, pa.float64()) for column in BAR_COLUMNS),
            *keys,
        ]
    )
    return pa_ds.dataset(
        [str(p) for p in files],
        schema=schema,
        format="parquet",
        partitioning=pa_ds.partitioning(keys, flavor="hive"),
        partition_base_dir=str(root),
    )
