"""The bar store: exact round trips, the manifest, crash consistency and DuckDB queries."""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alphaforge.core import AssetClass, DataError, Instrument, Interval, content_hash
from alphaforge.storage import (
    BAR_FILE_NAME,
    BarStore,
    SeriesEntry,
    SeriesKey,
    atomic,
    bar_store,
    decode_symbol,
    encode_symbol,
)
from alphaforge.storage.atomic import TEMP_SUFFIX

COLUMNS = ("open", "high", "low", "close", "volume")


def make_bars(
    n: int = 30,
    start: str = "2024-01-01",
    *,
    freq: str = "D",
    unit: str = "us",
    seed: int = 0,
) -> pd.DataFrame:
    """Return a canonical bar frame with random but coherent OHLCV values."""
    rng = np.random.default_rng(seed)
    index = pd.DatetimeIndex(
        pd.date_range(start, periods=n, freq=freq, tz="UTC", unit=unit),
        freq=None,
        name="timestamp",
    )
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    open_ = close * (1.0 + rng.normal(0.0, 0.002, n))
    high = np.maximum(open_, close) * (1.0 + rng.uniform(0.0, 0.01, n))
    low = np.minimum(open_, close) * (1.0 - rng.uniform(0.0, 0.01, n))
    volume = rng.integers(1_000, 100_000, n).astype(np.float64)
    values = (open_, high, low, close, volume)
    return pd.DataFrame(dict(zip(COLUMNS, values, strict=True)), index=index)


def instrument(symbol: str, asset_class: AssetClass = AssetClass.STOCK) -> Instrument:
    return Instrument(symbol, asset_class)


def temp_files(root: Path) -> list[Path]:
    return sorted(root.rglob(f"*{TEMP_SUFFIX}"))


@pytest.fixture
def store(tmp_path: Path) -> BarStore:
    return BarStore(tmp_path / "store")


# --------------------------------------------------------------------------- symbols


@pytest.mark.parametrize(
    ("symbol", "expected"),
    [
        ("AAPL", "AAPL"),
        ("BTC-USD", "BTC-USD"),
        ("EURUSD", "EURUSD"),
        ("BRK.B", "BRK.B"),
        ("^GSPC", "%5EGSPC"),
        ("EUR/USD", "EUR%2FUSD"),
        ("EURUSD=X", "EURUSD%3DX"),
        ("CON", "%43ON"),
        ("prn.x", "%70rn.x"),
        (".hidden", "%2Ehidden"),
        ("TRAIL.", "TRAIL%2E"),
        ("100%", "100%25"),
        ("A B", "A%20B"),
    ],
)
def test_encode_symbol_is_safe_and_reversible(symbol: str, expected: str) -> None:
    assert encode_symbol(symbol) == expected
    assert decode_symbol(expected) == symbol


@given(st.text(min_size=1, max_size=24).filter(lambda s: s.strip() != ""))
def test_any_symbol_maps_to_a_portable_directory_name(symbol: str) -> None:
    name = encode_symbol(symbol)
    assert decode_symbol(name) == symbol
    assert re.fullmatch(r"[A-Za-z0-9._~%-]+", name)
    assert not name.startswith(".")
    assert not name.endswith(".")
    assert name.split(".", 1)[0].upper() not in {"CON", "PRN", "AUX", "NUL", "COM1", "LPT1"}


def test_series_key_ids_and_parts() -> None:
    key = SeriesKey(AssetClass.FOREX, "EUR/USD", Interval.H1)
    assert key.parts == ("asset_class=forex", "symbol=EUR%2FUSD", "interval=1h")
    assert key.id == "forex/EUR%2FUSD/1h"
    assert SeriesKey.from_id(key.id) == key
    assert SeriesKey.from_parts(key.parts) == key
    assert SeriesKey.from_parts(("asset_class=x", "symbol=A", "interval=1d")) is None
    assert str(key) == "EUR/USD 1h (forex)"
    with pytest.raises(ValueError, match="not a series id"):
        SeriesKey.from_id("stock/AAPL")


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize(
    ("symbol", "asset_class", "directory"),
    [
        ("AAPL", AssetClass.STOCK, "symbol=AAPL"),
        ("BTC-USD", AssetClass.CRYPTO, "symbol=BTC-USD"),
        ("EURUSD", AssetClass.FOREX, "symbol=EURUSD"),
        ("EUR/USD", AssetClass.FOREX, "symbol=EUR%2FUSD"),
        ("^GSPC", AssetClass.INDEX, "symbol=%5EGSPC"),
    ],
)
def test_round_trip_is_exact(
    store: BarStore, symbol: str, asset_class: AssetClass, directory: str
) -> None:
    bars = make_bars(50)
    entry = store.write(instrument(symbol, asset_class), Interval.D1, bars, source="test")

    expected_file = (
        store.root / f"asset_class={asset_class.value}" / directory / "interval=1d" / BAR_FILE_NAME
    )
    assert expected_file.is_file()
    assert store.path(entry.key) == expected_file

    back = store.read(symbol, Interval.D1)
    pd.testing.assert_frame_equal(back, bars)
    assert back.index.name == "timestamp"
    assert str(back.index.tz) == "UTC"
    assert all(back[c].dtype == np.float64 for c in COLUMNS)
    assert list(back.columns) == list(COLUMNS)


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_round_trip_keeps_the_index_resolution_and_hash(store: BarStore, unit: str) -> None:
    bars = make_bars(10, freq="h", unit=unit)
    entry = store.write(instrument("MSFT"), Interval.H1, bars, source="test")
    back = store.read("MSFT", Interval.H1, verify=True)
    pd.testing.assert_frame_equal(back, bars)
    assert back.index.dtype == bars.index.dtype
    assert content_hash(back) == entry.content_hash


def test_intraday_round_trip_and_other_zones_are_converted(store: BarStore) -> None:
    bars = make_bars(24, "2024-03-08 14:00", freq="5min")
    store.write(instrument("SPY", AssetClass.ETF), Interval.M5, bars, source="test")
    pd.testing.assert_frame_equal(store.read("SPY", Interval.M5), bars)


def test_only_bar_columns_are_stored(store: BarStore) -> None:
    bars = make_bars(5).assign(note="extra")
    store.write(instrument("AAPL"), Interval.D1, bars, source="test")
    assert list(store.read("AAPL", Interval.D1).columns) == list(COLUMNS)


# --------------------------------------------------------------------------- manifest


def test_manifest_entry_describes_the_stored_bars(tmp_path: Path) -> None:
    clock_time = datetime(2025, 5, 1, 12, 30, tzinfo=UTC)
    store = BarStore(tmp_path, clock=lambda: clock_time)
    bars = make_bars(20, "2024-02-01")
    report = {
        "issues": [{"kind": "gap", "count": np.int64(2)}],
        "fraction": np.float64(0.25),
        "undefined": float("nan"),
        "when": pd.Timestamp("2024-02-03", tz="UTC"),
        "interval": Interval.D1,
    }
    inst = Instrument("AAPL", AssetClass.STOCK, sector="Technology", exchange="NASDAQ")
    entry = store.write(
        inst, Interval.D1, bars, source="sample", validation=report, health_score=0.93
    )

    assert entry.key == SeriesKey(AssetClass.STOCK, "AAPL", Interval.D1)
    assert entry.rows == 20
    assert entry.start == "2024-02-01T00:00:00+00:00"
    assert entry.end == "2024-02-20T00:00:00+00:00"
    assert entry.content_hash == content_hash(bars)
    assert entry.source == "sample"
    assert entry.updated_at == "2025-05-01T12:30:00+00:00"
    assert entry.health_score == pytest.approx(0.93)
    assert entry.validation == {
        "issues": [{"kind": "gap", "count": 2}],
        "fraction": 0.25,
        "undefined": None,
        "when": "2024-02-03T00:00:00+00:00",
        "interval": "1d",
    }
    assert entry.to_instrument() == inst

    document = json.loads(store.manifest_path.read_text(encoding="utf-8"))
    row = document["series"]["stock/AAPL/1d"]
    assert row["content_hash"] == content_hash(store.read("AAPL", Interval.D1))
    assert row["path"] == "asset_class=stock/symbol=AAPL/interval=1d/bars.parquet"
    assert SeriesEntry.from_dict(row) == entry
    assert store.entry("AAPL", Interval.D1) == entry
    assert store.entries() == [entry]
    assert store.instrument("AAPL") == inst
    assert store.verify() == []


def test_manifest_is_strict_json(store: BarStore) -> None:
    store.write(
        instrument("AAPL"), Interval.D1, make_bars(3), source="t", validation={"x": float("inf")}
    )
    json.loads(
        store.manifest_path.read_text(encoding="utf-8"),
        parse_constant=lambda name: pytest.fail(f"non-standard JSON constant {name}"),
    )


def test_rewrite_replaces_the_series_and_its_entry(store: BarStore) -> None:
    store.write(instrument("AAPL"), Interval.D1, make_bars(10, seed=1), source="a")
    newer = make_bars(15, seed=2)
    entry = store.write(instrument("AAPL"), Interval.D1, newer, source="b")
    pd.testing.assert_frame_equal(store.read("AAPL", Interval.D1), newer)
    assert [e.content_hash for e in store.entries()] == [content_hash(newer)]
    assert entry.source == "b"


def test_entries_are_sorted_and_other_intervals_are_separate(store: BarStore) -> None:
    store.write(instrument("MSFT"), Interval.D1, make_bars(5), source="t")
    store.write(instrument("AAPL"), Interval.D1, make_bars(6), source="t")
    store.write(instrument("AAPL"), Interval.H1, make_bars(7, freq="h"), source="t")
    ids = [e.key.id for e in store.entries()]
    assert ids == ["stock/AAPL/1d", "stock/AAPL/1h", "stock/MSFT/1d"]
    assert store.entry("AAPL", Interval.H1) is not None
    assert store.entry("AAPL", Interval.M5) is None
    assert len(store.read("AAPL", Interval.H1)) == 7


def test_same_symbol_in_two_asset_classes_needs_asset_class(store: BarStore) -> None:
    store.write(instrument("SPY", AssetClass.STOCK), Interval.D1, make_bars(4), source="t")
    store.write(instrument("SPY", AssetClass.ETF), Interval.D1, make_bars(6), source="t")
    with pytest.raises(DataError, match="several asset classes"):
        store.read("SPY", Interval.D1)
    with pytest.raises(DataError, match="several asset classes"):
        store.entry("SPY", Interval.D1)
    assert len(store.read("SPY", Interval.D1, asset_class=AssetClass.ETF)) == 6
    entry = store.entry("SPY", Interval.D1, asset_class=AssetClass.STOCK)
    assert entry is not None
    assert entry.rows == 4


def test_missing_series_says_to_fetch(store: BarStore) -> None:
    with pytest.raises(DataError) as err:
        store.read("AAPL", Interval.D1)
    assert "alphaforge data fetch" in err.value.hint
    with pytest.raises(DataError, match="not in the bar store"):
        store.instrument("AAPL")
    assert store.entry("AAPL", Interval.D1) is None
    assert store.entries() == []
    assert store.verify() == []


def test_read_window_is_inclusive(store: BarStore) -> None:
    bars = make_bars(48, "2024-01-01", freq="h")
    store.write(instrument("AAPL"), Interval.H1, bars, source="t")

    day = store.read("AAPL", Interval.H1, start=date(2024, 1, 2), end=date(2024, 1, 2))
    assert len(day) == 24
    assert day.index[0] == pd.Timestamp("2024-01-02 00:00", tz="UTC")
    assert day.index[-1] == pd.Timestamp("2024-01-02 23:00", tz="UTC")

    same_day = store.read("AAPL", Interval.H1, start="2024-01-02", end="2024-01-02")
    pd.testing.assert_frame_equal(same_day, day)

    instants = store.read(
        "AAPL",
        Interval.H1,
        start=datetime(2024, 1, 1, 5, tzinfo=UTC),
        end=pd.Timestamp("2024-01-01 07:00", tz="UTC"),
    )
    assert list(instants.index.hour) == [5, 6, 7]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: b.tz_localize(None), "not UTC"),
        (lambda b: b.iloc[::-1], "strictly increasing"),
        (lambda b: b.astype({"volume": "int64"}), "float64"),
        (lambda b: b.drop(columns="close"), "missing column"),
        (lambda b: b.iloc[:0], "no bars to store"),
    ],
)
def test_write_refuses_non_canonical_frames(store: BarStore, mutate: object, message: str) -> None:
    assert callable(mutate)
    with pytest.raises(DataError, match=message):
        store.write(instrument("AAPL"), Interval.D1, mutate(make_bars(5)), source="t")
    assert not store.manifest_path.exists()


def test_damaged_manifest_is_a_data_error(store: BarStore) -> None:
    store.write(instrument("AAPL"), Interval.D1, make_bars(5), source="t")
    store.manifest_path.write_text("{ not json", encoding="utf-8")
    with pytest.raises(DataError, match="damaged"):
        store.entries()


def test_delete_removes_file_and_entry(store: BarStore) -> None:
    store.write(instrument("AAPL"), Interval.D1, make_bars(5), source="t")
    store.write(instrument("MSFT"), Interval.D1, make_bars(5), source="t")
    assert store.delete("AAPL", Interval.D1)
    assert not store.delete("AAPL", Interval.D1)
    assert [e.key.symbol for e in store.entries()] == ["MSFT"]
    assert not (store.root / "asset_class=stock" / "symbol=AAPL").exists()
    assert store.verify() == []


def test_concurrent_writers_lose_no_manifest_entry(tmp_path: Path) -> None:
    """Writers with their own store objects (as separate processes have) serialise."""
    symbols = [f"S{i:02d}" for i in range(12)]

    def write(symbol: str) -> None:
        BarStore(tmp_path).write(instrument(symbol), Interval.D1, make_bars(20), source="t")

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(write, symbols))
    store = BarStore(tmp_path)
    assert [e.key.symbol for e in store.entries()] == symbols
    assert store.verify() == []


# --------------------------------------------------------------------------- crash consistency


def test_crash_inside_the_parquet_writer_keeps_previous_data(
    store: BarStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = make_bars(30, seed=1)
    store.write(instrument("AAPL"), Interval.D1, old, source="t")
    manifest_before = store.manifest_path.read_bytes()
    real_write_table = bar_store.pq.write_table

    def crash_mid_write(table: object, where: object, **kwargs: object) -> None:
        real_write_table(table, where, **kwargs)
        Path(str(where)).write_bytes(Path(str(where)).read_bytes()[:100])  # torn file
        raise OSError("No space left on device")

    monkeypatch.setattr(bar_store.pq, "write_table", crash_mid_write)
    with pytest.raises(OSError, match="No space left"):
        store.write(instrument("AAPL"), Interval.D1, make_bars(60, seed=2), source="t")
    monkeypatch.undo()

    pd.testing.assert_frame_equal(store.read("AAPL", Interval.D1, verify=True), old)
    assert store.manifest_path.read_bytes() == manifest_before
    assert temp_files(store.root) == []
    assert store.verify() == []


def test_crash_during_the_rename_keeps_previous_data(
    store: BarStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = make_bars(30, seed=1)
    store.write(instrument("^GSPC", AssetClass.INDEX), Interval.D1, old, source="t")
    manifest_before = store.manifest_path.read_bytes()

    def broken_replace(src: object, dst: object) -> None:
        raise OSError("power cut")

    monkeypatch.setattr(atomic.os, "replace", broken_replace)
    with pytest.raises(OSError, match="power cut"):
        store.write(instrument("^GSPC", AssetClass.INDEX), Interval.D1, make_bars(60), source="t")
    monkeypatch.undo()

    pd.testing.assert_frame_equal(store.read("^GSPC", Interval.D1, verify=True), old)
    assert store.manifest_path.read_bytes() == manifest_before
    assert temp_files(store.root) == []


def test_crash_on_first_write_leaves_nothing_readable(
    store: BarStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_replace(src: object, dst: object) -> None:
        raise OSError("power cut")

    monkeypatch.setattr(atomic.os, "replace", broken_replace)
    with pytest.raises(OSError, match="power cut"):
        store.write(instrument("AAPL"), Interval.D1, make_bars(5), source="t")
    monkeypatch.undo()
    with pytest.raises(DataError):
        store.read("AAPL", Interval.D1)
    assert store.entries() == []
    assert temp_files(store.root) == []


def test_crash_between_bars_and_manifest_is_detected_and_repaired(
    store: BarStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = make_bars(30, seed=1)
    old_entry = store.write(instrument("AAPL"), Interval.D1, old, source="t")
    store.write(instrument("MSFT"), Interval.D1, make_bars(10), source="t")
    new = make_bars(45, seed=2)

    def crash(path: object, text: str) -> None:
        raise OSError("killed before the manifest was written")

    monkeypatch.setattr(bar_store, "atomic_write_text", crash)
    with pytest.raises(OSError, match="killed"):
        store.write(instrument("AAPL"), Interval.D1, new, source="fresh", health_score=0.5)
    monkeypatch.undo()

    # Every file is whole: the new bars are readable, the manifest still has the old entry.
    pd.testing.assert_frame_equal(store.read("AAPL", Interval.D1), new)
    assert store.entry("AAPL", Interval.D1) == old_entry
    assert store.verify() == ["stock/AAPL/1d"]
    with pytest.raises(DataError, match="do not match the manifest"):
        store.read("AAPL", Interval.D1, verify=True)

    assert store.repair() == ["stock/AAPL/1d"]
    assert store.verify() == []
    healed = store.entry("AAPL", Interval.D1)
    assert healed is not None
    assert healed.content_hash == content_hash(new)
    assert healed.rows == 45
    assert healed.source == "fresh"  # from the metadata embedded in the file
    assert healed.health_score == pytest.approx(0.5)
    pd.testing.assert_frame_equal(store.read("AAPL", Interval.D1, verify=True), new)


def test_crash_before_first_manifest_entry_is_repaired(
    store: BarStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    bars = make_bars(8)

    def crash(path: object, text: str) -> None:
        raise OSError("killed")

    monkeypatch.setattr(bar_store, "atomic_write_text", crash)
    with pytest.raises(OSError, match="killed"):
        store.write(instrument("ETH-USD", AssetClass.CRYPTO), Interval.D1, bars, source="t")
    monkeypatch.undo()
    assert store.verify() == ["crypto/ETH-USD/1d"]
    assert store.repair() == ["crypto/ETH-USD/1d"]
    entry = store.entry("ETH-USD", Interval.D1)
    assert entry is not None
    assert entry.content_hash == content_hash(bars)
    assert store.instrument("ETH-USD").asset_class is AssetClass.CRYPTO


def test_verify_reports_edited_and_missing_files(store: BarStore) -> None:
    store.write(instrument("AAPL"), Interval.D1, make_bars(10), source="t")
    store.write(instrument("MSFT"), Interval.D1, make_bars(10), source="t")
    store.write(instrument("NVDA"), Interval.D1, make_bars(10), source="t")
    aapl = store.path(SeriesKey(AssetClass.STOCK, "AAPL", Interval.D1))
    make_bars(10, seed=9).to_parquet(aapl)  # edited behind the store's back
    store.path(SeriesKey(AssetClass.STOCK, "MSFT", Interval.D1)).unlink()
    assert store.verify() == ["stock/AAPL/1d", "stock/MSFT/1d"]

    assert store.repair() == ["stock/AAPL/1d", "stock/MSFT/1d"]
    assert store.verify() == []
    assert [e.key.symbol for e in store.entries()] == ["AAPL", "NVDA"]


# --------------------------------------------------------------------------- DuckDB


def test_query_counts_bars_across_symbols(store: BarStore) -> None:
    store.write(instrument("AAPL"), Interval.D1, make_bars(30), source="t")
    store.write(instrument("^GSPC", AssetClass.INDEX), Interval.D1, make_bars(20), source="t")
    store.write(
        instrument("BTC-USD", AssetClass.CRYPTO), Interval.H1, make_bars(48, freq="h"), source="t"
    )

    counts = store.query(
        "SELECT symbol, asset_class, count(*) AS n FROM bars "
        "WHERE interval = '1d' GROUP BY ALL ORDER BY symbol"
    )
    assert counts["symbol"].tolist() == ["AAPL", "^GSPC"]
    assert counts["asset_class"].tolist() == ["stock", "index"]
    assert counts["n"].tolist() == [30, 20]

    total = store.query("SELECT count(*) AS n FROM bars")
    assert int(total["n"].iloc[0]) == 98

    one = store.query("SELECT * FROM bars WHERE symbol = ? ORDER BY timestamp", ["^GSPC"])
    assert len(one) == 20
    assert str(pd.DatetimeIndex(one["timestamp"]).tz) in {"UTC", "Etc/UTC"}
    expected = store.read("^GSPC", Interval.D1)
    np.testing.assert_array_equal(one["close"].to_numpy(), expected["close"].to_numpy())
    assert pd.DatetimeIndex(one["timestamp"]).equals(pd.DatetimeIndex(expected.index))

    series = store.query("SELECT symbol, rows, health_score FROM series ORDER BY symbol")
    assert series["symbol"].tolist() == ["AAPL", "BTC-USD", "^GSPC"]
    assert series["rows"].tolist() == [30, 48, 20]


def test_query_on_an_empty_store(store: BarStore) -> None:
    result = store.query("SELECT count(*) AS n FROM bars")
    assert int(result["n"].iloc[0]) == 0
    assert store.query("SELECT * FROM series").empty


def test_query_ignores_temp_files_and_foreign_directories(store: BarStore) -> None:
    store.write(instrument("AAPL"), Interval.D1, make_bars(5), source="t")
    directory = store.path(SeriesKey(AssetClass.STOCK, "AAPL", Interval.D1)).parent
    (directory / f".bars.parquet.dead{TEMP_SUFFIX}").write_bytes(b"torn")
    (store.root / "notes").mkdir()
    assert int(store.query("SELECT count(*) AS n FROM bars")["n"].iloc[0]) == 5
    assert store.verify() == []
