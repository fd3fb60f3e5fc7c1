"""The feature store: incremental updates equal a full recompute, caching, crash safety."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from alphaforge.core.errors import DataError, RegistryError
from alphaforge.core.types import AssetClass, Instrument
from alphaforge.features import FEATURES, compute, feature_set_version
from alphaforge.features.store import FEATURES_DIR, FeatureStore
from alphaforge.features.testing import instrument_for, random_bars

HISTORY = 1_500
APPENDS = (1, 25)
RTOL = 1e-9
ATOL = 1e-12


def _instrument_of(name: str) -> Instrument | None:
    spec = FEATURES.get(name)
    if spec.asset_classes is None:
        return None
    return instrument_for(sorted(spec.asset_classes, key=lambda a: a.value)[0])


class _Compared(NamedTuple):
    """Incremental and full values of one feature after each append."""

    incremental: list[np.ndarray[Any, np.dtype[np.float64]]]
    full: list[np.ndarray[Any, np.dtype[np.float64]]]


@pytest.fixture(scope="module")
def compared(tmp_path_factory: pytest.TempPathFactory) -> dict[str, _Compared]:
    """Build every registered feature once, append 1 then 25 bars, recompute in full too."""
    groups: dict[AssetClass | None, list[str]] = {}
    for name in FEATURES.names():
        instrument = _instrument_of(name)
        groups.setdefault(None if instrument is None else instrument.asset_class, []).append(name)
    bars = random_bars(7, HISTORY + sum(APPENDS))
    store = FeatureStore(tmp_path_factory.mktemp("features"))
    out: dict[str, _Compared] = {n: _Compared([], []) for n in FEATURES.names()}
    for asset_class, names in groups.items():
        instrument = None if asset_class is None else instrument_for(asset_class)
        symbol = "ALL" if asset_class is None else f"ALL-{asset_class.value}"
        _, stats = store.update(symbol, "1d", bars.iloc[:HISTORY], names, instrument)
        assert stats.path == "full"
        length = HISTORY
        for added in APPENDS:
            length += added
            head = bars.iloc[:length]
            incremental, stats = store.update(symbol, "1d", head, names, instrument)
            assert (stats.path, stats.computed, stats.rows) == ("incremental", added, length)
            full = compute(head, names, instrument=instrument)
            for name in names:
                out[name].incremental.append(incremental[name].to_numpy())
                out[name].full.append(full[name].to_numpy())
    return out


@pytest.mark.parametrize("name", FEATURES.names())
def test_incremental_update_equals_a_full_recompute(
    name: str, compared: dict[str, _Compared]
) -> None:
    result = compared[name]
    assert len(result.incremental) == len(APPENDS)
    for added, incremental, full in zip(APPENDS, result.incremental, result.full, strict=True):
        assert len(incremental) == len(full)
        np.testing.assert_allclose(
            incremental,
            full,
            rtol=RTOL,
            atol=ATOL,
            equal_nan=True,
            err_msg=f"{name} after appending {added} bar(s)",
        )


# --------------------------------------------------------------------------- store behaviour

NAMES = [n for n in FEATURES.names() if FEATURES.get(n).asset_classes is None][:40]


@pytest.fixture
def bars() -> pd.DataFrame:
    return random_bars(3, 400)


@pytest.fixture
def store(tmp_path: Path) -> FeatureStore:
    return FeatureStore(tmp_path)


def _assert_same(left: pd.DataFrame, right: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(left, right, check_exact=True, check_freq=False)


def test_reading_back_returns_exactly_what_compute_returns(
    store: FeatureStore, bars: pd.DataFrame
) -> None:
    expected = compute(bars)
    built, stats = store.update("AAA", "1d", bars)
    assert stats.path == "full" and stats.reason == "nothing cached"
    assert (stats.rows, stats.computed, stats.features) == (len(bars), len(bars), expected.shape[1])
    _assert_same(built, expected)
    cached, stats = store.update("AAA", "1d", bars)
    assert (stats.path, stats.computed) == ("cached", 0)
    _assert_same(cached, expected)
    assert all(dtype == np.float64 for dtype in cached.dtypes)
    index = cached.index
    assert isinstance(index, pd.DatetimeIndex) and str(index.tz) == "UTC"
    assert index.unit == pd.DatetimeIndex(bars.index).unit
    _assert_same(store.read("AAA", "1d", list(expected.columns)), expected)


def test_layout_and_metadata(store: FeatureStore, bars: pd.DataFrame) -> None:
    _, stats = store.update("^GSPC", "1d", bars, NAMES)
    version = feature_set_version(NAMES)
    assert stats.file == store.root / FEATURES_DIR / version / "1d" / "%5EGSPC.parquet"
    assert stats.file.is_file()
    assert store.bars_hash("^GSPC", "1d", NAMES) is not None
    table = pq.read_table(stats.file)
    assert table.column_names == ["timestamp", *NAMES]
    assert all(str(table.schema.field(n).type) == "double" for n in NAMES)


def test_appended_bars_compute_only_the_new_rows(store: FeatureStore) -> None:
    bars = random_bars(5, 330)
    store.update("AAA", "1d", bars.iloc[:300], NAMES)
    frame, stats = store.update("AAA", "1d", bars, NAMES)
    assert (stats.path, stats.reason, stats.computed, stats.rows) == (
        "incremental",
        "bars appended",
        30,
        330,
    )
    np.testing.assert_allclose(
        frame.to_numpy(), compute(bars, NAMES).to_numpy(), rtol=RTOL, atol=ATOL, equal_nan=True
    )
    again, stats = store.update("AAA", "1d", bars, NAMES)
    assert stats.path == "cached"
    _assert_same(again, frame)


def test_history_revision_triggers_a_full_recompute(
    store: FeatureStore, bars: pd.DataFrame
) -> None:
    store.update("AAA", "1d", bars.iloc[:350], NAMES)
    close = bars["close"].to_numpy().copy()
    close[100] *= 1.05
    revised = bars.assign(close=close)
    frame, stats = store.update("AAA", "1d", revised, NAMES)
    assert (stats.path, stats.reason, stats.computed) == ("full", "history revised", len(bars))
    _assert_same(frame, compute(revised, NAMES))
    # Fewer bars than covered (history cut) is a revision too.
    frame, stats = store.update("AAA", "1d", revised.iloc[:200], NAMES)
    assert (stats.path, stats.reason) == ("full", "history revised")
    _assert_same(frame, compute(revised.iloc[:200], NAMES))


def test_full_recompute_on_request(store: FeatureStore, bars: pd.DataFrame) -> None:
    store.update("AAA", "1d", bars, NAMES)
    _, stats = store.update("AAA", "1d", bars, NAMES, full=True)
    assert (stats.path, stats.computed) == ("full", len(bars))


def test_a_changed_feature_set_is_a_different_key(store: FeatureStore, bars: pd.DataFrame) -> None:
    _, first = store.update("AAA", "1d", bars, NAMES)
    subset = NAMES[:5]
    frame, second = store.update("AAA", "1d", bars, subset)
    assert second.path == "full" and second.reason == "nothing cached"
    assert second.file != first.file and first.file.is_file() and second.file.is_file()
    assert list(frame.columns) == subset
    _, again = store.update("AAA", "1d", bars, NAMES)
    assert again.path == "cached"
    # The same names in another order share the key but the columns follow the request.
    reordered = list(reversed(subset))
    frame, stats = store.update("AAA", "1d", bars, reordered)
    assert stats.file == second.file and stats.path == "full"
    assert list(frame.columns) == reordered


def test_other_symbols_and_intervals_are_other_files(
    store: FeatureStore, bars: pd.DataFrame
) -> None:
    _, a = store.update("AAA", "1d", bars, NAMES)
    _, b = store.update("BBB", "1d", bars, NAMES)
    _, c = store.update("AAA", "1h", bars, NAMES)
    assert len({a.file, b.file, c.file}) == 3
    assert b.path == "full" and c.path == "full"


def test_a_crash_mid_write_leaves_the_previous_file_readable(
    tmp_path: Path, bars: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FeatureStore(tmp_path)
    before, stats = store.update("AAA", "1d", bars.iloc[:300], NAMES)
    temps: list[Path] = []

    def crash(table: object, where: str | Path, **kwargs: object) -> None:
        path = Path(where)
        temps.append(path)
        path.write_bytes(b"PAR1 half a file")
        raise RuntimeError("simulated crash mid-write")

    with monkeypatch.context() as patch:
        patch.setattr(pq, "write_table", crash)
        with pytest.raises(RuntimeError, match="simulated crash"):
            store.update("AAA", "1d", bars, NAMES)
        with pytest.raises(RuntimeError, match="simulated crash"):
            store.update("AAA", "1d", bars, NAMES, full=True)
    assert len(temps) == 2 and not any(t.exists() for t in temps)
    assert sorted(p.name for p in stats.file.parent.iterdir()) == [stats.file.name]
    _assert_same(store.read("AAA", "1d", NAMES), before)
    again, stats = store.update("AAA", "1d", bars.iloc[:300], NAMES)
    assert stats.path == "cached"
    _assert_same(again, before)
    after, stats = store.update("AAA", "1d", bars, NAMES)
    assert stats.path == "incremental"
    np.testing.assert_allclose(
        after.to_numpy(), compute(bars, NAMES).to_numpy(), rtol=RTOL, atol=ATOL, equal_nan=True
    )


def test_an_unreadable_file_is_recomputed(store: FeatureStore, bars: pd.DataFrame) -> None:
    _, stats = store.update("AAA", "1d", bars, NAMES)
    stats.file.write_bytes(b"not parquet")
    frame, stats = store.update("AAA", "1d", bars, NAMES)
    assert (stats.path, stats.reason) == ("full", "nothing cached")
    _assert_same(frame, compute(bars, NAMES))


def test_unknown_feature_names_are_a_registry_error(
    store: FeatureStore, bars: pd.DataFrame
) -> None:
    with pytest.raises(RegistryError, match="no_such_feature"):
        store.update("AAA", "1d", bars, ["no_such_feature"])
    with pytest.raises(RegistryError, match="no_such_feature"):
        FeatureStore.resolve(bars, ["no_such_feature"])
    assert FeatureStore.resolve(bars) == list(compute(bars.iloc[:50]).columns)


def test_reading_a_missing_set_is_a_data_error(store: FeatureStore) -> None:
    with pytest.raises(DataError, match="No features are stored for AAA 1d") as caught:
        store.read("AAA", "1d", NAMES)
    assert "alphaforge features build" in caught.value.hint


def test_the_index_unit_survives_the_round_trip(store: FeatureStore, bars: pd.DataFrame) -> None:
    micro = bars.set_axis(pd.DatetimeIndex(bars.index).as_unit("us"))
    built, _ = store.update("AAA", "1d", micro, NAMES)
    cached, stats = store.update("AAA", "1d", micro, NAMES)
    assert stats.path == "cached"
    read = store.read("AAA", "1d", NAMES)
    for frame in (built, cached, read):
        assert pd.DatetimeIndex(frame.index).unit == "us"
        _assert_same(frame, compute(micro, NAMES))


def test_ensure_updates_without_reading_back(store: FeatureStore) -> None:
    bars = random_bars(9, 320)
    first = store.ensure("AAA", "1d", bars.iloc[:300], NAMES)
    assert (first.path, first.computed, first.rows, first.features) == (
        "full",
        300,
        300,
        len(NAMES),
    )
    again = store.ensure("AAA", "1d", bars.iloc[:300], NAMES)
    assert (again.path, again.computed, again.rows) == ("cached", 0, 300)
    grown = store.ensure("AAA", "1d", bars, NAMES)
    assert (grown.path, grown.computed, grown.rows) == ("incremental", 20, 320)
    frame, stats = store.update("AAA", "1d", bars, NAMES)
    assert stats.path == "cached"
    np.testing.assert_allclose(
        frame.to_numpy(), compute(bars, NAMES).to_numpy(), rtol=RTOL, atol=ATOL, equal_nan=True
    )


def test_panel_features_are_stored_per_universe_and_recomputed_when_a_member_changes(
    tmp_path: Path,
) -> None:
    from alphaforge.features import PANEL_FEATURES, compute_panel

    bars = {f"S{i}": random_bars(100 + i, 300) for i in range(4)}
    store = FeatureStore(tmp_path)
    frames, stats = store.update_panel("mini", "1d", bars)
    assert stats.path == "full"
    assert set(stats.members) == set(bars)
    assert "cs_rank_ret_20" in stats.features and "beta_60" in stats.features
    assert "vix_level" not in stats.features  # no ^VIX in this panel
    expected = compute_panel(bars, list(stats.features))
    for symbol, frame in frames.items():
        pd.testing.assert_frame_equal(frame, expected[symbol], check_freq=False)

    again, cached = store.update_panel("mini", "1d", bars)
    assert cached.path == "cached"
    assert cached.file == stats.file
    for symbol, frame in again.items():
        np.testing.assert_array_equal(frame.to_numpy(), frames[symbol].to_numpy())
        assert frame.index.equals(frames[symbol].index)

    bars["S0"] = random_bars(100, 301)
    _, changed = store.update_panel("mini", "1d", bars)
    assert changed.path == "full"
    with pytest.raises(RegistryError, match="cs_rank_ret_21"):
        store.update_panel("mini", "1d", bars, ["cs_rank_ret_21"])
    assert len(PANEL_FEATURES) >= 20


def test_stored_panels_lists_what_update_panel_wrote_and_reads_it_back(tmp_path: Path) -> None:
    bars = {f"S{i}": random_bars(200 + i, 120) for i in range(3)}
    store = FeatureStore(tmp_path)
    assert store.stored_panels() == []  # nothing stored, nothing created
    assert not (tmp_path / FEATURES_DIR).exists()
    frames, stats = store.update_panel("my/universe", "1d", bars, ["cs_rank_ret_5"])
    foreign = stats.file.parent / "not-ours.parquet"
    pq.write_table(pq.read_table(stats.file).replace_schema_metadata({}), foreign)
    (stored,) = store.stored_panels()  # the file without our header is left out
    assert (stored.universe, stored.interval, stored.features) == (
        "my/universe",
        "1d",
        stats.features,
    )
    assert (stored.file, stored.rows) == (stats.file, stats.rows)
    read = FeatureStore.read_panel(stored)
    assert set(read) == set(frames)
    for symbol, frame in read.items():
        pd.testing.assert_frame_equal(frame, frames[symbol], check_freq=False)
        assert str(frame.index.tz) == "UTC"
    stats.file.unlink()
    with pytest.raises(DataError, match="removed or damaged") as raised:
        FeatureStore.read_panel(stored)
    assert "alphaforge features build --universe my/universe" in raised.value.hint
