"""Incremental updates: only the missing ranges are fetched, merged and stored."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphaforge.core import (
    AssetClass,
    DataError,
    Instrument,
    Interval,
    SourceUnavailableError,
    UnknownSymbolError,
    content_hash,
)
from alphaforge.data.sources.base import DataSource
from alphaforge.data.update import (
    UpdateResult,
    missing_ranges,
    update_many,
    update_series,
)
from alphaforge.storage import BarStore, SeriesEntry, SeriesKey, bar_store

COLUMNS = ("open", "high", "low", "close", "volume")
AAPL = Instrument("AAPL", AssetClass.STOCK)
MSFT = Instrument("MSFT", AssetClass.STOCK)
BTC = Instrument("BTC-USD", AssetClass.CRYPTO)
BAD = Instrument("BAD", AssetClass.STOCK)


def history(symbol: str, start: str = "2023-01-01", end: str = "2024-12-31") -> pd.DataFrame:
    """Return a canonical daily bar history (one bar per calendar day, 00:00 UTC)."""
    index = pd.DatetimeIndex(pd.date_range(start, end, freq="D", tz="UTC", unit="ns"), freq=None)
    rng = np.random.default_rng(sum(map(ord, symbol)))
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, len(index))))
    return pd.DataFrame(
        {
            "open": close,
            "high": close * 1.01,
            "low": close * 0.99,
            "close": close,
            "volume": np.full(len(index), 1_000.0),
        },
        index=index.rename("timestamp"),
    )


class CountingSource:
    """A fake source over fixed histories that records every fetch call."""

    name = "fake"
    asset_classes = frozenset(AssetClass)
    intervals = frozenset({Interval.D1})

    def __init__(
        self, histories: Mapping[str, pd.DataFrame], *, failing: Sequence[str] = ()
    ) -> None:
        self.histories = dict(histories)
        self.failing = set(failing)
        self.calls: list[tuple[tuple[str, ...], date, date]] = []

    def fetch(
        self, instruments: Sequence[Instrument], start: date, end: date, interval: Interval
    ) -> dict[str, pd.DataFrame]:
        symbols = tuple(i.symbol for i in instruments)
        self.calls.append((symbols, start, end))
        bad = self.failing.intersection(symbols)
        if bad:
            raise UnknownSymbolError(f"unknown symbol(s) {sorted(bad)}")
        lo = pd.Timestamp(start.isoformat(), tz="UTC")
        hi = pd.Timestamp(end.isoformat(), tz="UTC")
        out: dict[str, pd.DataFrame] = {}
        for symbol in symbols:
            frame = self.histories[symbol]
            out[symbol] = frame.loc[(frame.index >= lo) & (frame.index <= hi)].copy()
        return out


def entry_for(
    start: str, end: str, *, updated_at: str = "2030-01-01T00:00:00+00:00"
) -> SeriesEntry:
    return SeriesEntry(
        key=SeriesKey(AssetClass.STOCK, "AAPL", Interval.D1),
        rows=1,
        start=f"{start}T00:00:00+00:00",
        end=f"{end}T00:00:00+00:00",
        content_hash="x",
        source="fake",
        updated_at=updated_at,
        health_score=None,
        validation=None,
        instrument={"symbol": "AAPL", "asset_class": "stock"},
    )


@pytest.fixture
def store(tmp_path: Path) -> BarStore:
    return BarStore(tmp_path / "store")


def test_fake_source_satisfies_the_protocol() -> None:
    assert isinstance(CountingSource({}), DataSource)


# --------------------------------------------------------------------------- missing_ranges


def test_missing_ranges_without_stored_data_is_the_whole_request() -> None:
    assert missing_ranges(None, date(2024, 1, 1), date(2024, 3, 1)) == [
        (date(2024, 1, 1), date(2024, 3, 1))
    ]


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (date(2024, 2, 1), date(2024, 2, 20), []),
        (date(2024, 2, 1), date(2024, 2, 29), []),
        (date(2024, 1, 1), date(2024, 2, 29), [(date(2024, 1, 1), date(2024, 1, 31))]),
        (date(2024, 2, 10), date(2024, 3, 15), [(date(2024, 3, 1), date(2024, 3, 15))]),
        (
            date(2024, 1, 1),
            date(2024, 3, 15),
            [(date(2024, 1, 1), date(2024, 1, 31)), (date(2024, 3, 1), date(2024, 3, 15))],
        ),
        (date(2023, 1, 1), date(2023, 1, 31), [(date(2023, 1, 1), date(2023, 1, 31))]),
        (date(2025, 1, 1), date(2025, 1, 31), [(date(2025, 1, 1), date(2025, 1, 31))]),
    ],
)
def test_missing_ranges_only_outside_the_stored_span(
    start: date, end: date, expected: list[tuple[date, date]]
) -> None:
    stored = entry_for("2024-02-01", "2024-02-29")
    assert missing_ranges(stored, start, end) == expected


def test_missing_ranges_rejects_an_inverted_range() -> None:
    with pytest.raises(DataError, match="after it ends"):
        missing_ranges(None, date(2024, 2, 1), date(2024, 1, 1))


# --------------------------------------------------------------------------- update_series


def test_first_update_fetches_the_whole_range_once(store: BarStore) -> None:
    full = history("AAPL")
    source = CountingSource({"AAPL": full})
    result = update_series(store, source, AAPL, Interval.D1, date(2024, 1, 1), date(2024, 3, 31))

    assert source.calls == [(("AAPL",), date(2024, 1, 1), date(2024, 3, 31))]
    assert result.fetched_ranges == [(date(2024, 1, 1), date(2024, 3, 31))]
    assert result.new_rows == 91
    expected = full.loc["2024-01-01":"2024-03-31"]
    stored = store.read("AAPL", Interval.D1, verify=True)
    pd.testing.assert_frame_equal(stored, expected)
    assert result.entry.content_hash == content_hash(expected)
    assert result.entry.source == "fake"


def test_second_update_fetches_only_the_missing_tail(store: BarStore) -> None:
    full = history("AAPL")
    source = CountingSource({"AAPL": full})
    update_series(store, source, AAPL, Interval.D1, date(2024, 1, 1), date(2024, 3, 31))
    source.calls.clear()

    result = update_series(store, source, AAPL, Interval.D1, date(2024, 1, 1), date(2024, 5, 15))

    # One call, starting at the last stored session (re-fetched: it may have been partial);
    # nothing stored before that session is requested again.
    assert source.calls == [(("AAPL",), date(2024, 3, 31), date(2024, 5, 15))]
    assert result.fetched_ranges == [(date(2024, 3, 31), date(2024, 5, 15))]
    assert result.new_rows == 45
    stored = store.read("AAPL", Interval.D1, verify=True)
    pd.testing.assert_frame_equal(stored, full.loc["2024-01-01":"2024-05-15"])
    assert not stored.index.has_duplicates


def test_update_extends_both_ends_without_touching_the_middle(store: BarStore) -> None:
    full = history("AAPL")
    source = CountingSource({"AAPL": full})
    update_series(store, source, AAPL, Interval.D1, date(2024, 3, 1), date(2024, 3, 31))
    source.calls.clear()

    result = update_series(store, source, AAPL, Interval.D1, date(2024, 1, 1), date(2024, 4, 30))

    assert source.calls == [
        (("AAPL",), date(2024, 1, 1), date(2024, 2, 29)),
        (("AAPL",), date(2024, 3, 31), date(2024, 4, 30)),
    ]
    for _, start, end in source.calls:
        assert not (date(2024, 3, 1) <= start <= date(2024, 3, 30))
        assert not (date(2024, 3, 1) <= end <= date(2024, 3, 30))
    assert result.new_rows == 60 + 30
    pd.testing.assert_frame_equal(
        store.read("AAPL", Interval.D1), full.loc["2024-01-01":"2024-04-30"]
    )


def test_covered_range_fetches_nothing_and_writes_nothing(store: BarStore) -> None:
    source = CountingSource({"AAPL": history("AAPL")})
    first = update_series(store, source, AAPL, Interval.D1, date(2024, 1, 1), date(2024, 3, 31))
    manifest = store.manifest_path.read_bytes()
    parquet = store.path(first.entry.key).read_bytes()
    source.calls.clear()

    for start, end in [
        (date(2024, 1, 1), date(2024, 3, 31)),
        (date(2024, 2, 1), date(2024, 2, 10)),
        (date(2024, 3, 31), date(2024, 3, 31)),
    ]:
        result = update_series(store, source, AAPL, Interval.D1, start, end)
        assert result == UpdateResult(first.entry, [], 0)

    assert source.calls == []
    assert store.manifest_path.read_bytes() == manifest
    assert store.path(first.entry.key).read_bytes() == parquet


def test_refetched_last_bar_replaces_the_stored_one(store: BarStore) -> None:
    full = history("AAPL")
    partial = full.copy()
    partial.loc["2024-03-31", "close"] = -1.0  # the session was still open when fetched
    source = CountingSource({"AAPL": partial})
    update_series(store, source, AAPL, Interval.D1, date(2024, 3, 1), date(2024, 3, 31))
    assert store.read("AAPL", Interval.D1)["close"].iloc[-1] == -1.0

    source.histories["AAPL"] = full  # the provider now has the final bar
    result = update_series(store, source, AAPL, Interval.D1, date(2024, 3, 1), date(2024, 4, 5))

    stored = store.read("AAPL", Interval.D1)
    pd.testing.assert_frame_equal(stored, full.loc["2024-03-01":"2024-04-05"])
    assert result.new_rows == 5  # the replaced bar is not new


def test_a_bar_stored_before_it_closed_is_refetched_even_when_covered(tmp_path: Path) -> None:
    # The store was written at 15:00 UTC on 2024-03-31, before that daily bar closed.
    store = BarStore(tmp_path, clock=lambda: datetime(2024, 3, 31, 15, tzinfo=UTC))
    source = CountingSource({"AAPL": history("AAPL")})
    update_series(store, source, AAPL, Interval.D1, date(2024, 3, 1), date(2024, 3, 31))
    source.calls.clear()

    update_series(store, source, AAPL, Interval.D1, date(2024, 3, 1), date(2024, 3, 31))
    assert source.calls == [(("AAPL",), date(2024, 3, 31), date(2024, 3, 31))]

    # That refetch happened on 2024-04-02, after the close: the bar is final, nothing to do.
    later = BarStore(tmp_path, clock=lambda: datetime(2024, 4, 2, tzinfo=UTC))
    source.calls.clear()
    update_series(later, source, AAPL, Interval.D1, date(2024, 3, 1), date(2024, 3, 31))
    assert source.calls == [(("AAPL",), date(2024, 3, 31), date(2024, 3, 31))]
    source.calls.clear()
    update_series(later, source, AAPL, Interval.D1, date(2024, 3, 1), date(2024, 3, 31))
    assert source.calls == []


def test_validator_sees_the_merged_series_and_its_report_is_stored(store: BarStore) -> None:
    full = history("AAPL")
    source = CountingSource({"AAPL": full})
    update_series(store, source, AAPL, Interval.D1, date(2024, 1, 1), date(2024, 1, 31))
    seen: list[pd.DataFrame] = []

    def validate(
        bars: pd.DataFrame, inst: Instrument, interval: Interval
    ) -> tuple[pd.DataFrame, Mapping[str, object], float]:
        seen.append(bars)
        assert inst == AAPL
        assert interval is Interval.D1
        return bars.iloc[:-1], {"rows_in": len(bars), "dropped": 1}, 0.75

    result = update_series(
        store, source, AAPL, Interval.D1, date(2024, 1, 1), date(2024, 2, 10), validate=validate
    )
    # Only the tail was fetched, but the validator judged the whole series across the seam.
    assert source.calls[-1] == (("AAPL",), date(2024, 1, 31), date(2024, 2, 10))
    assert len(seen) == 1
    pd.testing.assert_frame_equal(seen[0], full.loc["2024-01-01":"2024-02-10"])
    assert result.entry.validation == {"rows_in": 41, "dropped": 1}
    assert result.entry.health_score == pytest.approx(0.75)
    stored = store.read("AAPL", Interval.D1)
    assert stored.index[-1] == pd.Timestamp("2024-02-09", tz="UTC")
    assert result.new_rows == 9


def test_validator_is_not_called_when_nothing_was_fetched(store: BarStore) -> None:
    source = CountingSource({"AAPL": history("AAPL")})
    update_series(store, source, AAPL, Interval.D1, date(2024, 1, 1), date(2024, 1, 31))

    def validate(
        bars: pd.DataFrame, inst: Instrument, interval: Interval
    ) -> tuple[pd.DataFrame, Mapping[str, object], float]:
        raise AssertionError("nothing new to validate")

    result = update_series(
        store, source, AAPL, Interval.D1, date(2024, 1, 5), date(2024, 1, 20), validate=validate
    )
    assert result.fetched_ranges == []


def test_dates_already_asked_for_are_not_asked_again(store: BarStore) -> None:
    # The source has bars from 2024-01-03 (a listing) to 2024-03-29 (a Friday).
    source = CountingSource({"AAPL": history("AAPL", "2024-01-03", "2024-03-29")})
    update_series(store, source, AAPL, Interval.D1, date(2023, 6, 1), date(2024, 3, 31))
    entry = store.entry("AAPL", Interval.D1)
    assert entry is not None
    assert (entry.start[:10], entry.end[:10]) == ("2024-01-03", "2024-03-29")
    assert (entry.requested_start, entry.requested_end) == ("2023-06-01", "2024-03-31")
    source.calls.clear()

    result = update_series(store, source, AAPL, Interval.D1, date(2023, 6, 1), date(2024, 3, 31))
    assert source.calls == []
    assert result.fetched_ranges == []

    # Only the dates beyond both the data and the earlier requests are new.
    update_series(store, source, AAPL, Interval.D1, date(2023, 1, 1), date(2024, 4, 2))
    assert source.calls == [
        (("AAPL",), date(2023, 1, 1), date(2023, 5, 31)),
        (("AAPL",), date(2024, 3, 29), date(2024, 4, 2)),
    ]


def test_today_is_never_covered(tmp_path: Path) -> None:
    store = BarStore(tmp_path, clock=lambda: datetime(2024, 3, 31, 10, tzinfo=UTC))
    source = CountingSource({"AAPL": history("AAPL", "2024-01-01", "2024-03-30")})
    update_series(store, source, AAPL, Interval.D1, date(2024, 3, 1), date(2024, 4, 30))
    entry = store.entry("AAPL", Interval.D1)
    assert entry is not None
    assert entry.requested_end == "2024-03-30"  # capped: 2024-03-31 was still in progress
    source.calls.clear()
    update_series(store, source, AAPL, Interval.D1, date(2024, 3, 1), date(2024, 3, 31))
    assert source.calls == [(("AAPL",), date(2024, 3, 30), date(2024, 3, 31))]


def test_bars_outside_the_requested_range_are_not_stored(store: BarStore) -> None:
    class Sloppy(CountingSource):
        def fetch(
            self, instruments: Sequence[Instrument], start: date, end: date, interval: Interval
        ) -> dict[str, pd.DataFrame]:
            self.calls.append((tuple(i.symbol for i in instruments), start, end))
            return {i.symbol: self.histories[i.symbol] for i in instruments}  # everything

    source = Sloppy({"AAPL": history("AAPL")})
    update_series(store, source, AAPL, Interval.D1, date(2024, 1, 1), date(2024, 1, 10))
    stored = store.read("AAPL", Interval.D1)
    assert (stored.index[0], stored.index[-1]) == (
        pd.Timestamp("2024-01-01", tz="UTC"),
        pd.Timestamp("2024-01-10", tz="UTC"),
    )


def test_no_bars_for_a_new_series_is_an_error(store: BarStore) -> None:
    source = CountingSource({"AAPL": history("AAPL", "2024-01-01", "2024-01-31")})
    with pytest.raises(DataError, match="returned no 1d bars for AAPL"):
        update_series(store, source, AAPL, Interval.D1, date(2020, 1, 1), date(2020, 12, 31))
    assert store.entries() == []


def test_no_new_bars_for_a_stored_series_keeps_it(store: BarStore) -> None:
    source = CountingSource({"AAPL": history("AAPL", "2024-01-01", "2024-01-31")})
    first = update_series(store, source, AAPL, Interval.D1, date(2024, 1, 1), date(2024, 1, 31))
    again = update_series(store, source, AAPL, Interval.D1, date(2024, 1, 1), date(2024, 2, 28))
    assert again.fetched_ranges == [(date(2024, 1, 31), date(2024, 2, 28))]
    assert again.new_rows == 0
    assert again.entry.content_hash == first.entry.content_hash


def test_unsupported_interval_or_asset_class_is_refused(store: BarStore) -> None:
    source = CountingSource({"AAPL": history("AAPL")})
    with pytest.raises(DataError, match="no 1h bars"):
        update_series(store, source, AAPL, Interval.H1, date(2024, 1, 1), date(2024, 1, 2))
    source.asset_classes = frozenset({AssetClass.CRYPTO})
    with pytest.raises(DataError, match="does not serve stock"):
        update_series(store, source, AAPL, Interval.D1, date(2024, 1, 1), date(2024, 1, 2))
    assert source.calls == []


def test_file_without_manifest_entry_is_refetched_and_merged(
    store: BarStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    full = history("AAPL")
    source = CountingSource({"AAPL": full})

    def crash(path: object, text: str) -> None:
        raise OSError("killed before the manifest was written")

    monkeypatch.setattr(bar_store, "atomic_write_text", crash)
    with pytest.raises(OSError, match="killed"):
        update_series(store, source, AAPL, Interval.D1, date(2024, 1, 1), date(2024, 1, 31))
    monkeypatch.undo()
    assert store.entry("AAPL", Interval.D1) is None
    source.calls.clear()

    result = update_series(store, source, AAPL, Interval.D1, date(2023, 12, 1), date(2024, 1, 31))
    assert source.calls == [(("AAPL",), date(2023, 12, 1), date(2024, 1, 31))]
    pd.testing.assert_frame_equal(
        store.read("AAPL", Interval.D1, verify=True), full.loc["2023-12-01":"2024-01-31"]
    )
    assert result.new_rows == 31
    assert store.verify() == []


# --------------------------------------------------------------------------- update_many


def test_update_many_keeps_the_others_when_one_symbol_fails(store: BarStore) -> None:
    source = CountingSource(
        {"AAPL": history("AAPL"), "MSFT": history("MSFT"), "BTC-USD": history("BTC-USD")},
        failing=["BAD"],
    )
    outcome = update_many(
        store, source, [AAPL, BAD, MSFT, BTC], Interval.D1, date(2024, 1, 1), date(2024, 1, 31)
    )

    assert set(outcome.results) == {"AAPL", "MSFT", "BTC-USD"}
    assert set(outcome.errors) == {"BAD"}
    assert "unknown symbol" in outcome.errors["BAD"]
    assert not outcome.ok
    # One batched call first; after it fails, each symbol alone, so only BAD fails.
    assert source.calls[0] == (
        ("AAPL", "BAD", "MSFT", "BTC-USD"),
        date(2024, 1, 1),
        date(2024, 1, 31),
    )
    assert sorted(s for s, _, _ in source.calls[1:]) == [
        ("AAPL",),
        ("BAD",),
        ("BTC-USD",),
        ("MSFT",),
    ]
    assert [e.key.symbol for e in store.entries()] == ["BTC-USD", "AAPL", "MSFT"]
    for symbol in ("AAPL", "MSFT", "BTC-USD"):
        assert len(store.read(symbol, Interval.D1)) == 31
    with pytest.raises(DataError):
        store.read("BAD", Interval.D1)


def test_update_many_keeps_earlier_writes_when_a_later_symbol_raises(store: BarStore) -> None:
    source = CountingSource({"AAPL": history("AAPL"), "MSFT": history("MSFT")})

    def validate(
        bars: pd.DataFrame, inst: Instrument, interval: Interval
    ) -> tuple[pd.DataFrame, Mapping[str, object], float]:
        if inst.symbol == "MSFT":
            raise DataError("MSFT: rejected by validation.")
        return bars, {}, 1.0

    outcome = update_many(
        store,
        source,
        [AAPL, MSFT],
        Interval.D1,
        date(2024, 1, 1),
        date(2024, 1, 31),
        validate=validate,
    )
    assert set(outcome.results) == {"AAPL"}
    assert outcome.errors == {"MSFT": "MSFT: rejected by validation."}
    assert len(store.read("AAPL", Interval.D1)) == 31
    assert store.entry("MSFT", Interval.D1) is None


def test_update_many_fetches_each_symbols_own_missing_range(store: BarStore) -> None:
    source = CountingSource({"AAPL": history("AAPL"), "MSFT": history("MSFT")})
    update_series(store, source, AAPL, Interval.D1, date(2024, 1, 1), date(2024, 3, 31))
    update_series(store, source, MSFT, Interval.D1, date(2024, 1, 1), date(2024, 2, 29))
    source.calls.clear()

    outcome = update_many(
        store, source, [AAPL, MSFT], Interval.D1, date(2024, 1, 1), date(2024, 3, 31)
    )
    assert outcome.ok
    assert source.calls == [(("MSFT",), date(2024, 2, 29), date(2024, 3, 31))]
    assert outcome.results["AAPL"].fetched_ranges == []
    assert outcome.results["AAPL"].new_rows == 0
    assert outcome.results["MSFT"].new_rows == 31
    assert len(store.read("MSFT", Interval.D1)) == 91


def test_update_many_batches_symbols_with_the_same_plan(store: BarStore) -> None:
    symbols = [f"S{i}" for i in range(5)]
    source = CountingSource({s: history(s) for s in symbols})
    instruments = [Instrument(s, AssetClass.STOCK) for s in symbols]
    outcome = update_many(
        store, source, instruments, Interval.D1, date(2024, 1, 1), date(2024, 1, 5), batch_size=2
    )
    assert outcome.ok
    assert [c[0] for c in source.calls] == [("S0", "S1"), ("S2", "S3"), ("S4",)]
    source.calls.clear()
    again = update_many(store, source, instruments, Interval.D1, date(2024, 1, 1), date(2024, 1, 5))
    assert source.calls == []
    assert all(r.new_rows == 0 for r in again.results.values())


def test_update_many_records_an_unreachable_source_per_symbol(store: BarStore) -> None:
    class Offline(CountingSource):
        def fetch(
            self, instruments: Sequence[Instrument], start: date, end: date, interval: Interval
        ) -> dict[str, pd.DataFrame]:
            self.calls.append((tuple(i.symbol for i in instruments), start, end))
            raise SourceUnavailableError("no network", hint="Try again later.")

    source = Offline({})
    outcome = update_many(
        store, source, [AAPL, MSFT], Interval.D1, date(2024, 1, 1), date(2024, 1, 2)
    )
    assert outcome.results == {}
    assert outcome.errors == {
        "AAPL": "no network Try again later.",
        "MSFT": "no network Try again later.",
    }
    assert store.entries() == []


def test_update_many_rejects_duplicate_symbols(store: BarStore) -> None:
    with pytest.raises(ValueError, match="unique"):
        update_many(
            store, CountingSource({}), [AAPL, AAPL], Interval.D1, date(2024, 1, 1), date(2024, 1, 2)
        )
