"""Imports and fetches merge with the stored bars: nothing stored is replaced silently."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphaforge.config import ValidationRulesConfig
from alphaforge.core import AssetClass, DataHealthError, Instrument, Interval, content_hash
from alphaforge.data.calendars import session_dates
from alphaforge.data.service import make_validator
from alphaforge.data.update import (
    CONFLICT_RTOL,
    BarConflictError,
    import_bars,
    update_many,
    update_series,
)
from alphaforge.storage import BarStore, bar_store

AAPL = Instrument("AAPL", AssetClass.STOCK)


def sessions(start: str = "2023-01-03", end: str = "2024-06-28") -> pd.DatetimeIndex:
    return pd.DatetimeIndex(session_dates("XNYS", start, end), name="timestamp", freq=None)


def clean_bars(index: pd.DatetimeIndex | None = None, *, seed: int = 0) -> pd.DataFrame:
    """Return coherent daily bars on NYSE sessions, as a clean file would hold them."""
    index = sessions() if index is None else index
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, len(index))))
    open_ = close * (1.0 + rng.normal(0.0, 0.002, len(index)))
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * 1.005,
            "low": np.minimum(open_, close) * 0.995,
            "close": close,
            "volume": rng.integers(10_000, 90_000, len(index)).astype(np.float64),
        },
        index=index,
    )


@pytest.fixture
def store(tmp_path: Path) -> BarStore:
    return BarStore(tmp_path / "store")


def snapshot(store: BarStore) -> dict[str, bytes]:
    """Return every file of the store by relative path (to prove nothing was written)."""
    return {
        str(p.relative_to(store.root)): p.read_bytes()
        for p in sorted(store.root.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


VALIDATE = make_validator(ValidationRulesConfig())


# --------------------------------------------------------------------------- imports


def test_importing_the_last_rows_of_a_stored_series_loses_nothing(store: BarStore) -> None:
    full = clean_bars()
    first = import_bars(store, AAPL, Interval.D1, full, source="file:full.csv", validate=VALIDATE)
    stored = store.read("AAPL", Interval.D1)

    tail = full.iloc[-100:]
    again = import_bars(store, AAPL, Interval.D1, tail, source="file:tail.csv", validate=VALIDATE)

    assert again.new_rows == 0
    assert again.entry.rows == len(full)
    assert again.entry.content_hash == first.entry.content_hash
    assert again.entry.version == 1
    pd.testing.assert_frame_equal(store.read("AAPL", Interval.D1), stored)


def test_a_file_that_extends_the_series_adds_only_the_new_bars(store: BarStore) -> None:
    full = clean_bars()
    import_bars(store, AAPL, Interval.D1, full.iloc[:200], source="file:a.csv")
    result = import_bars(store, AAPL, Interval.D1, full.iloc[150:], source="file:b.csv")
    assert result.new_rows == len(full) - 200
    pd.testing.assert_frame_equal(store.read("AAPL", Interval.D1), full)
    assert result.entry.version == 2
    # Only bars were added: no version needed keeping.
    assert [v.version for v in store.history("AAPL", Interval.D1)] == [2]


def test_differences_within_the_tolerance_keep_the_stored_bars(store: BarStore) -> None:
    full = clean_bars()
    import_bars(store, AAPL, Interval.D1, full, source="file:a.csv")
    stored = store.read("AAPL", Interval.D1)
    nudged = full.iloc[-50:] * (1.0 + CONFLICT_RTOL / 10)
    import_bars(store, AAPL, Interval.D1, nudged, source="file:b.csv")
    assert content_hash(store.read("AAPL", Interval.D1)) == content_hash(stored)


def test_a_conflicting_file_is_refused_with_a_summary_and_nothing_is_stored(
    store: BarStore,
) -> None:
    full = clean_bars()
    import_bars(store, AAPL, Interval.D1, full, source="file:a.csv", validate=VALIDATE)
    before = snapshot(store)

    wrong = full.iloc[-100:].copy()
    changed = wrong.index[[10, 20, 30, 40]]
    wrong.loc[changed, ["open", "high", "low", "close"]] *= 1.25  # e.g. another adjustment
    wrong.loc[wrong.index[50], "volume"] *= 2.0
    with pytest.raises(BarConflictError) as caught:
        import_bars(store, AAPL, Interval.D1, wrong, source="file:b.csv", validate=VALIDATE)

    message = caught.value.one_line()
    assert "5 stored bar(s) differ" in message
    first_three = ", ".join(ts.strftime("%Y-%m-%d") for ts in changed[:3])
    assert f"first: {first_three}" in message
    assert "largest relative difference 0.5" in message  # volume doubled: |2v - v| / 2v
    assert "nothing was stored" in message
    assert "--replace" in caught.value.hint
    assert "\n" not in message
    assert snapshot(store) == before


def test_replace_stores_the_file_and_restore_gives_back_the_original(store: BarStore) -> None:
    full = clean_bars()
    original = import_bars(store, AAPL, Interval.D1, full, source="file:a.csv", validate=VALIDATE)
    tail = full.iloc[-100:] * 1.25
    replaced = import_bars(
        store, AAPL, Interval.D1, tail, source="file:b.csv", validate=VALIDATE, replace=True
    )
    assert replaced.entry.rows == 100
    assert replaced.entry.version == 2
    assert [(v.version, v.current) for v in store.history("AAPL", Interval.D1)] == [
        (1, False),
        (2, True),
    ]

    restored = store.restore("AAPL", Interval.D1, 1)
    assert restored.content_hash == original.entry.content_hash
    assert restored.rows == len(full)


def test_a_validator_that_changes_stored_bars_keeps_the_previous_version(
    store: BarStore,
) -> None:
    full = clean_bars()
    import_bars(store, AAPL, Interval.D1, full.iloc[:200], source="file:a.csv")

    def stricter(
        bars: pd.DataFrame, inst: Instrument, interval: Interval
    ) -> tuple[pd.DataFrame, Mapping[str, object], float]:
        return bars.iloc[1:], {"dropped": 1}, 0.99  # a rule that now drops the first bar

    result = import_bars(
        store, AAPL, Interval.D1, full.iloc[200:], source="file:b.csv", validate=stricter
    )
    assert result.entry.rows == len(full) - 1
    versions = store.history("AAPL", Interval.D1)
    assert [(v.version, v.current) for v in versions] == [(1, False), (2, True)]
    assert versions[0].rows == 200


# --------------------------------------------------------------------------- the health gate


def stale(bars: pd.DataFrame, fraction: float) -> pd.DataFrame:
    """Return ``bars`` with a frozen feed over ``fraction`` of the rows."""
    out = bars.copy()
    frozen = slice(10, 10 + int(fraction * len(out)))
    price = out["close"].iloc[9]
    for column in ("open", "high", "low", "close"):
        out.iloc[frozen, out.columns.get_loc(column)] = price
    return out


def test_a_series_below_the_gate_is_refused_and_nothing_is_stored(store: BarStore) -> None:
    gated = make_validator(ValidationRulesConfig(), min_health_score=0.8)
    with pytest.raises(DataHealthError) as caught:
        import_bars(store, AAPL, Interval.D1, stale(clean_bars(), 0.4), source="f", validate=gated)
    assert "stale_run" in caught.value.message
    assert "nothing was stored" in caught.value.message
    assert "--allow-unhealthy" in caught.value.hint
    assert store.entries() == []
    assert not list(store.root.rglob("*.parquet"))


def test_the_override_stores_the_series_marked_unhealthy(store: BarStore) -> None:
    gated = make_validator(ValidationRulesConfig(), min_health_score=0.8, allow_unhealthy=True)
    result = import_bars(
        store, AAPL, Interval.D1, stale(clean_bars(), 0.4), source="f", validate=gated
    )
    entry = result.entry
    assert entry.health_score is not None
    assert entry.health_score < 0.8
    assert entry.stored_unhealthy
    assert entry.validation is not None
    assert entry.validation["health_gate"] == {"min_score": 0.8, "passed": False, "override": True}
    # A healthy series passes the same gate unmarked.
    healthy = import_bars(
        store,
        Instrument("MSFT", AssetClass.STOCK),
        Interval.D1,
        clean_bars(),
        source="f",
        validate=gated,
    )
    assert not healthy.entry.stored_unhealthy
    assert healthy.entry.validation is not None
    assert healthy.entry.validation["health_gate"]["passed"] is True


# --------------------------------------------------------------------------- fetches


class FixedSource:
    """A source that serves fixed histories (whatever range is asked, clipped to it)."""

    name = "fixed"
    asset_classes = frozenset(AssetClass)
    intervals = frozenset({Interval.D1})

    def __init__(self, histories: Mapping[str, pd.DataFrame]) -> None:
        self.histories = dict(histories)
        self.calls: list[tuple[date, date]] = []

    def fetch(
        self, instruments: Sequence[Instrument], start: date, end: date, interval: Interval
    ) -> dict[str, pd.DataFrame]:
        self.calls.append((start, end))
        lo = pd.Timestamp(start.isoformat(), tz="UTC")
        hi = pd.Timestamp(end.isoformat(), tz="UTC")
        return {
            i.symbol: self.histories[i.symbol]
            .loc[lambda f: (f.index >= lo) & (f.index <= hi)]
            .copy()
            for i in instruments
        }


def test_a_fetch_over_a_file_without_manifest_entry_refuses_changed_history(
    store: BarStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    full = clean_bars()
    source = FixedSource({"AAPL": full})

    def crash(path: object, text: str) -> None:
        raise OSError("killed before the manifest was written")

    monkeypatch.setattr(bar_store, "atomic_write_text", crash)
    with pytest.raises(OSError, match="killed"):
        update_series(store, source, AAPL, Interval.D1, date(2023, 1, 1), date(2024, 6, 30))
    monkeypatch.undo()
    before = store.read("AAPL", Interval.D1)

    # The provider now serves a differently adjusted history: the full refetch overlaps it.
    source.histories["AAPL"] = full * 0.5
    outcome = update_many(store, source, [AAPL], Interval.D1, date(2023, 1, 1), date(2024, 6, 30))
    assert "AAPL" in outcome.errors
    assert "stored bar(s) differ" in outcome.errors["AAPL"]
    assert outcome.exit_codes == {"AAPL": 2}
    pd.testing.assert_frame_equal(store.read("AAPL", Interval.D1), before)


def test_fetch_with_replace_refetches_everything_and_keeps_the_old_version(
    store: BarStore,
) -> None:
    full = clean_bars()
    source = FixedSource({"AAPL": full})
    first = update_series(store, source, AAPL, Interval.D1, date(2023, 1, 1), date(2024, 6, 30))
    source.calls.clear()
    source.histories["AAPL"] = full * 0.5

    # Without --replace the covered range is not asked again.
    update_series(store, source, AAPL, Interval.D1, date(2023, 1, 1), date(2024, 6, 30))
    assert source.calls == []

    result = update_series(
        store, source, AAPL, Interval.D1, date(2023, 1, 1), date(2024, 6, 30), replace=True
    )
    assert result.entry.version == 2
    assert source.calls == [(date(2023, 1, 1), date(2024, 6, 30))]
    pd.testing.assert_frame_equal(store.read("AAPL", Interval.D1), full * 0.5)
    archived = [v for v in store.history("AAPL", Interval.D1) if not v.current]
    assert archived
    restored = store.restore("AAPL", Interval.D1, archived[0].version)
    assert restored.rows == first.entry.rows


# --------------------------------------------------------------------------- earlier repairs


def test_a_repair_made_when_bars_arrived_is_carried_by_later_reports(store: BarStore) -> None:
    full = clean_bars()
    first = full.iloc[:200].copy()
    swapped = first.index[50]
    first.loc[swapped, ["high", "low"]] = first.loc[swapped, ["low", "high"]].to_numpy()
    import_bars(store, AAPL, Interval.D1, first, source="file:a.csv", validate=VALIDATE)
    entry = store.entry("AAPL", Interval.D1)
    assert entry is not None
    assert entry.validation is not None
    kinds = [issue["kind"] for issue in entry.validation["issues"]]
    assert "high_low_swapped" in kinds

    # The next import re-validates the merged series, whose stored bar is clean by now.
    later = import_bars(
        store, AAPL, Interval.D1, full.iloc[200:], source="file:b.csv", validate=VALIDATE
    )
    report = later.entry.validation
    assert report is not None
    assert "high_low_swapped" not in [issue["kind"] for issue in report["issues"]]
    (carried,) = [i for i in report["earlier"] if i["kind"] == "high_low_swapped"]
    assert carried["action"] == "repaired"
    assert carried["source"] == "file:a.csv"
    assert carried["stored_at"] == entry.updated_at

    # Carried once, however often the series is written again.
    again = import_bars(
        store, AAPL, Interval.D1, full.iloc[-10:], source="file:c.csv", validate=VALIDATE
    )
    assert again.entry.validation is not None
    kinds = [i["kind"] for i in again.entry.validation["earlier"]]
    assert kinds.count("high_low_swapped") == 1


def test_a_replacement_does_not_inherit_the_replaced_repairs(store: BarStore) -> None:
    full = clean_bars()
    first = full.copy()
    swapped = first.index[50]
    first.loc[swapped, ["high", "low"]] = first.loc[swapped, ["low", "high"]].to_numpy()
    import_bars(store, AAPL, Interval.D1, first, source="file:a.csv", validate=VALIDATE)
    replaced = import_bars(
        store, AAPL, Interval.D1, full * 2.0, source="file:b.csv", validate=VALIDATE, replace=True
    )
    assert replaced.entry.validation is not None
    assert "earlier" not in replaced.entry.validation
