"""Stored versions: a replacing write archives the previous bars first; restore brings them back.

Also the read-only query connection: no statement but a query runs, and no file outside the
store can be read or written.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from alphaforge.core import AssetClass, DataError, Instrument, Interval, content_hash
from alphaforge.storage import BarStore, SeriesKey, bar_store

AAPL = Instrument("AAPL", AssetClass.STOCK, sector="Technology")
KEY = SeriesKey(AssetClass.STOCK, "AAPL", Interval.D1)


def make_bars(n: int = 30, start: str = "2024-01-01", *, seed: int = 0) -> pd.DataFrame:
    """Return a canonical daily bar frame with coherent random OHLCV values."""
    rng = np.random.default_rng(seed)
    index = pd.DatetimeIndex(
        pd.date_range(start, periods=n, freq="D", tz="UTC", unit="ns"), freq=None, name="timestamp"
    )
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    return pd.DataFrame(
        {
            "open": close,
            "high": close * 1.01,
            "low": close * 0.99,
            "close": close,
            "volume": rng.integers(1_000, 100_000, n).astype(np.float64),
        },
        index=index,
    )


class Clock:
    """A settable clock, one minute per call, so every write has its own time."""

    def __init__(self) -> None:
        self.now = datetime(2025, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now = self.now + pd.Timedelta(minutes=1)
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> BarStore:
    return BarStore(tmp_path / "store", clock=Clock())


def test_first_write_is_version_one_and_an_unchanged_rewrite_keeps_it(store: BarStore) -> None:
    bars = make_bars()
    first = store.write(AAPL, Interval.D1, bars, source="a")
    again = store.write(AAPL, Interval.D1, bars, source="a", keep_previous=True)
    assert (first.version, again.version) == (1, 1)
    assert [v.version for v in store.history("AAPL", Interval.D1)] == [1]
    # Nothing changed, so nothing was archived.
    assert not store.history_path(KEY, 1).exists()


def test_replacing_write_keeps_the_previous_version_restorable(store: BarStore) -> None:
    original = make_bars(30, seed=1)
    v1 = store.write(
        AAPL, Interval.D1, original, source="file:a.csv", validation={"x": 1}, health_score=0.9
    )
    v2 = store.write(
        AAPL, Interval.D1, make_bars(5, seed=2), source="file:b.csv", keep_previous=True
    )
    assert v2.version == 2
    assert store.history_path(KEY, 1).is_file()

    versions = store.history("AAPL", Interval.D1)
    assert [(v.version, v.current) for v in versions] == [(1, False), (2, True)]
    assert versions[0].content_hash == v1.content_hash
    assert versions[0].rows == 30
    assert versions[0].source == "file:a.csv"
    assert versions[0].saved_at == v1.updated_at
    assert (versions[0].start, versions[0].end) == (v1.start, v1.end)
    assert versions[1].content_hash == v2.content_hash

    restored = store.restore("AAPL", Interval.D1, 1)
    assert restored.version == 3
    assert restored.content_hash == v1.content_hash
    assert restored.source == "file:a.csv"
    assert restored.validation == {"x": 1}
    assert restored.health_score == pytest.approx(0.9)
    assert restored.to_instrument() == AAPL
    pd.testing.assert_frame_equal(store.read("AAPL", Interval.D1, verify=True), original)
    # The replaced version 2 was archived by the restore: nothing is ever lost.
    assert [(v.version, v.current) for v in store.history("AAPL", Interval.D1)] == [
        (1, False),
        (2, False),
        (3, True),
    ]
    assert store.verify() == []


def test_write_without_keep_previous_counts_versions_but_keeps_no_copy(store: BarStore) -> None:
    store.write(AAPL, Interval.D1, make_bars(10, seed=1), source="t")
    entry = store.write(AAPL, Interval.D1, make_bars(12, seed=1), source="t")
    assert entry.version == 2
    assert [v.version for v in store.history("AAPL", Interval.D1)] == [2]


def test_version_numbers_survive_a_manifest_rewrite(store: BarStore) -> None:
    store.write(AAPL, Interval.D1, make_bars(10, seed=1), source="t")
    store.write(AAPL, Interval.D1, make_bars(10, seed=2), source="t", keep_previous=True)
    document = store.manifest_path.read_text(encoding="utf-8")
    assert '"version": 2' in document
    fresh = BarStore(store.root)
    entry = fresh.entry("AAPL", Interval.D1)
    assert entry is not None
    assert entry.version == 2


def test_crash_while_writing_the_new_bars_keeps_both_copies_of_the_old(
    store: BarStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = make_bars(30, seed=1)
    v1 = store.write(AAPL, Interval.D1, original, source="t")

    def crash(*args: object, **kwargs: object) -> None:
        raise OSError("killed while writing the new bars")

    monkeypatch.setattr(bar_store.pq, "write_table", crash)
    with pytest.raises(OSError, match="killed"):
        store.write(AAPL, Interval.D1, make_bars(3, seed=2), source="t", keep_previous=True)
    monkeypatch.undo()

    # The current file is untouched and the archive, written first, holds the same bars.
    pd.testing.assert_frame_equal(store.read("AAPL", Interval.D1, verify=True), original)
    assert store.history_path(KEY, 1).is_file()
    assert [(v.version, v.current) for v in store.history("AAPL", Interval.D1)] == [(1, True)]
    # A retry archives version 1 again (the same bytes) and moves on.
    v2 = store.write(AAPL, Interval.D1, make_bars(3, seed=2), source="t", keep_previous=True)
    assert v2.version == 2
    assert store.restore("AAPL", Interval.D1, 1).content_hash == v1.content_hash


def test_history_lists_archived_versions_of_a_deleted_series(store: BarStore) -> None:
    v1 = store.write(AAPL, Interval.D1, make_bars(10, seed=1), source="t")
    store.write(AAPL, Interval.D1, make_bars(10, seed=2), source="t", keep_previous=True)
    assert store.delete("AAPL", Interval.D1)
    assert [(v.version, v.current) for v in store.history("AAPL", Interval.D1)] == [(1, False)]
    restored = store.restore("AAPL", Interval.D1, 1)
    assert restored.content_hash == v1.content_hash
    assert restored.version == 2


def test_unknown_versions_and_series_are_one_line_errors(store: BarStore) -> None:
    store.write(AAPL, Interval.D1, make_bars(10, seed=1), source="t")
    store.write(AAPL, Interval.D1, make_bars(10, seed=2), source="t", keep_previous=True)
    with pytest.raises(DataError, match="has no version 7") as err:
        store.restore("AAPL", Interval.D1, 7)
    assert "(1, 2)" in err.value.hint
    with pytest.raises(DataError, match="No 1d bars are stored for MSFT"):
        store.history("MSFT", Interval.D1)


def test_restoring_the_current_version_changes_nothing(store: BarStore) -> None:
    entry = store.write(AAPL, Interval.D1, make_bars(10), source="t")
    manifest = store.manifest_path.read_bytes()
    assert store.restore("AAPL", Interval.D1, 1) == entry
    assert store.manifest_path.read_bytes() == manifest


def test_a_tampered_archive_is_not_restored(store: BarStore) -> None:
    store.write(AAPL, Interval.D1, make_bars(10, seed=1), source="t")
    store.write(AAPL, Interval.D1, make_bars(10, seed=2), source="t", keep_previous=True)
    archive = store.history_path(KEY, 1)
    # Rewrite the archive with other bars but the old embedded entry.
    table = bar_store.pq.read_table(archive)
    other = bar_store.pa.Table.from_pandas(make_bars(10, seed=3), preserve_index=True)
    bar_store.pq.write_table(other.replace_schema_metadata(table.schema.metadata), archive)
    with pytest.raises(DataError, match="do not match their recorded hash"):
        store.restore("AAPL", Interval.D1, 1)


def test_archived_versions_are_not_in_the_query_views(store: BarStore) -> None:
    store.write(AAPL, Interval.D1, make_bars(10, seed=1), source="t")
    store.write(AAPL, Interval.D1, make_bars(4, seed=2), source="t", keep_previous=True)
    assert int(store.query("SELECT count(*) AS n FROM bars")["n"].iloc[0]) == 4
    assert store.query("SELECT version FROM series")["version"].tolist() == [2]
    assert store.verify() == []


# --------------------------------------------------------------------------- read-only queries


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("COPY (SELECT * FROM bars) TO '{out}'", "COPY"),
        ("ATTACH '{out}' AS other", "ATTACH"),
        ("SET enable_external_access = true", "SET"),
        ("INSERT INTO series SELECT * FROM series", "INSERT"),
        ("CREATE TABLE t AS SELECT * FROM bars", "CREATE"),
        ("SELECT 1; COPY (SELECT 1) TO '{out}'", "COPY"),
        ("INSTALL httpfs", "LOAD"),
    ],
)
def test_query_refuses_every_statement_that_is_not_a_query(
    store: BarStore, tmp_path: Path, sql: str, kind: str
) -> None:
    store.write(AAPL, Interval.D1, make_bars(5), source="t")
    out = tmp_path / "out.csv"
    with pytest.raises(DataError, match=f"{kind} statements cannot run"):
        store.query(sql.format(out=out))
    assert not out.exists()


def test_query_cannot_read_files_outside_the_store(store: BarStore, tmp_path: Path) -> None:
    store.write(AAPL, Interval.D1, make_bars(5), source="t")
    outside = tmp_path / "secret.csv"
    outside.write_text("a,b\n1,2\n", encoding="utf-8")
    for sql in (
        f"SELECT * FROM read_csv('{outside}')",
        f"SELECT * FROM '{outside}'",
        f"SELECT * FROM read_parquet('{store.path(KEY)}')",
        f"SELECT * FROM glob('{tmp_path}/*')",
    ):
        with pytest.raises(duckdb.Error, match="disabled by configuration"):
            store.query(sql)


def test_connection_cannot_turn_file_access_back_on(store: BarStore) -> None:
    store.write(AAPL, Interval.D1, make_bars(5), source="t")
    with store.connect() as con:
        with pytest.raises(duckdb.Error, match="locked"):
            con.execute("SET enable_external_access = true")
        assert con.execute("SELECT count(*) FROM bars").fetchone() == (5,)


def test_query_arrow_keeps_null_and_float_width(store: BarStore) -> None:
    store.write(AAPL, Interval.D1, make_bars(5), source="t")
    table = store.query_arrow("SELECT 0.1::FLOAT AS f, NULL::DOUBLE AS n, count(*) AS c FROM bars")
    assert str(table.schema.field("f").type) == "float"
    assert table.column("n").to_pylist() == [None]
    assert table.column("c").to_pylist() == [5]
    assert content_hash(store.read("AAPL", Interval.D1)) == store.entries()[0].content_hash


@pytest.mark.parametrize("sql", ["", "  ", "-- nothing"])
def test_an_empty_query_is_a_one_line_error(store: BarStore, sql: str) -> None:
    with pytest.raises(DataError, match="empty"):
        store.query_arrow(sql)
