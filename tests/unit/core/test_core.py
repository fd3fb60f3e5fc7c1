"""Core value types, the canonical bar frame, errors and the registry."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaforge.core import (
    BAR_COLUMNS,
    CRYPTO_CALENDAR,
    FOREX_CALENDAR,
    AlphaForgeError,
    AssetClass,
    ConfigError,
    DataError,
    Instrument,
    Interval,
    Registry,
    RegistryError,
    check_bars,
    close_times,
    content_hash,
    default_calendar,
    empty_bars,
    to_canonical,
)


def _bars(n: int = 5, *, unit: str = "ns") -> pd.DataFrame:
    index = pd.date_range("2024-01-01", periods=n, freq="D", tz="UTC", name="timestamp")
    base = np.arange(1.0, n + 1.0)
    return pd.DataFrame(
        {
            "open": 100.0 + base,
            "high": 102.0 + base,
            "low": 99.0 + base,
            "close": 101.0 + base,
            "volume": 1000.0 * base,
        },
        index=index.as_unit(unit),
    )


# --- Interval ---------------------------------------------------------------------------------

INTERVAL_TABLE = [
    # interval, value, nominal, periods per year, intraday
    (Interval.M1, "1m", pd.Timedelta(minutes=1), 252 * 390, True),
    (Interval.M5, "5m", pd.Timedelta(minutes=5), 252 * 78, True),
    (Interval.M15, "15m", pd.Timedelta(minutes=15), 252 * 26, True),
    (Interval.H1, "1h", pd.Timedelta(hours=1), 252 * 7, True),
    (Interval.D1, "1d", pd.Timedelta(days=1), 252, False),
    (Interval.W1, "1wk", pd.Timedelta(days=7), 52, False),
    (Interval.MO1, "1mo", pd.Timedelta(days=30), 12, False),
]


@pytest.mark.parametrize(("interval", "value", "nominal", "ppy", "intraday"), INTERVAL_TABLE)
def test_interval_properties(
    interval: Interval, value: str, nominal: pd.Timedelta, ppy: int, intraday: bool
) -> None:
    assert interval.value == value
    assert Interval(value) is interval
    assert interval.nominal == nominal
    assert interval.periods_per_year == float(ppy)
    assert isinstance(interval.periods_per_year, float)
    assert interval.is_intraday is intraday


def test_interval_table_covers_every_member() -> None:
    assert {row[0] for row in INTERVAL_TABLE} == set(Interval)


@pytest.mark.parametrize(
    ("interval", "start", "expected"),
    [
        (Interval.M1, "2024-01-01 09:30", "2024-01-01 09:31"),
        (Interval.M5, "2024-01-01 09:30", "2024-01-01 09:35"),
        (Interval.M15, "2024-01-01 09:30", "2024-01-01 09:45"),
        (Interval.H1, "2024-01-01 23:00", "2024-01-02 00:00"),
        (Interval.D1, "2024-02-28", "2024-02-29"),  # leap year
        (Interval.W1, "2024-02-26", "2024-03-04"),
        # A month bar lasts a calendar month, not 30 days.
        (Interval.MO1, "2024-01-31", "2024-02-29"),
        (Interval.MO1, "2024-02-01", "2024-03-01"),
        (Interval.MO1, "2023-12-01", "2024-01-01"),
    ],
)
def test_interval_offset_is_calendar_aware(interval: Interval, start: str, expected: str) -> None:
    assert pd.Timestamp(start, tz="UTC") + interval.offset == pd.Timestamp(expected, tz="UTC")


def test_close_times_add_one_interval() -> None:
    index = pd.DatetimeIndex(["2024-01-31", "2024-02-29"], tz="UTC")
    out = close_times(index, Interval.MO1)
    assert list(out) == [pd.Timestamp("2024-02-29", tz="UTC"), pd.Timestamp("2024-03-29", tz="UTC")]
    assert out.name == "known_at"


# --- Instrument -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("asset_class", "calendar"),
    [
        (AssetClass.CRYPTO, "24/7"),
        (AssetClass.FOREX, "24/5"),
        (AssetClass.STOCK, "XNYS"),
        (AssetClass.ETF, "XNYS"),
    ],
)
def test_instrument_default_calendar(asset_class: AssetClass, calendar: str) -> None:
    inst = Instrument("X", asset_class)
    assert inst.calendar == calendar
    assert default_calendar(asset_class) == calendar


def test_calendar_constants() -> None:
    assert CRYPTO_CALENDAR == "24/7"
    assert FOREX_CALENDAR == "24/5"


def test_instrument_explicit_calendar_is_kept() -> None:
    assert Instrument("SAP", AssetClass.STOCK, calendar="XETR").calendar == "XETR"


@pytest.mark.parametrize("symbol", ["", "   "])
def test_instrument_rejects_empty_symbol(symbol: str) -> None:
    with pytest.raises(ValueError, match="symbol"):
        Instrument(symbol, AssetClass.STOCK)


def test_instrument_coerces_asset_class_string() -> None:
    inst = Instrument("BTC-USD", "crypto")  # type: ignore[arg-type]
    assert inst.asset_class is AssetClass.CRYPTO
    assert type(inst.asset_class) is AssetClass
    assert inst.calendar == "24/7"


def test_instrument_rejects_unknown_asset_class() -> None:
    with pytest.raises(ValueError, match="bond"):
        Instrument("X", "bond")  # type: ignore[arg-type]


def test_instrument_is_frozen_and_hashable() -> None:
    inst = Instrument("AAPL", AssetClass.STOCK)
    with pytest.raises(AttributeError):
        inst.symbol = "MSFT"  # type: ignore[misc]
    assert inst == Instrument("AAPL", "stock")  # type: ignore[arg-type]
    assert hash(inst) == hash(Instrument("AAPL", AssetClass.STOCK))
    assert inst.currency == "USD"


# --- check_bars -------------------------------------------------------------------------------


def test_check_bars_accepts_canonical_frame() -> None:
    bars = _bars()
    assert check_bars(bars) is bars
    assert check_bars(empty_bars()) is not None


def test_check_bars_missing_column() -> None:
    bars = _bars().drop(columns=["volume", "low"])
    with pytest.raises(DataError, match="missing column") as info:
        check_bars(bars, what="AAPL bars")
    assert "low" in info.value.message
    assert "volume" in info.value.message
    assert info.value.message.startswith("AAPL bars:")
    assert info.value.hint


def test_check_bars_index_not_datetime() -> None:
    bars = _bars().reset_index(drop=True)
    with pytest.raises(DataError, match="not a DatetimeIndex"):
        check_bars(bars)


def test_check_bars_naive_index() -> None:
    bars = _bars()
    bars.index = bars.index.tz_localize(None)
    with pytest.raises(DataError, match="not UTC"):
        check_bars(bars)


def test_check_bars_non_utc_index() -> None:
    bars = _bars()
    bars.index = bars.index.tz_convert("America/New_York")
    with pytest.raises(DataError, match="not UTC"):
        check_bars(bars)


def test_check_bars_unsorted() -> None:
    bars = _bars().iloc[::-1]
    with pytest.raises(DataError, match="strictly increasing"):
        check_bars(bars)


def test_check_bars_duplicates() -> None:
    bars = _bars()
    bars = pd.concat([bars.iloc[:2], bars.iloc[1:]])
    assert bars.index.is_monotonic_increasing
    with pytest.raises(DataError, match="strictly increasing"):
        check_bars(bars)


def test_check_bars_wrong_dtype() -> None:
    bars = _bars()
    bars["volume"] = bars["volume"].astype("int64")
    with pytest.raises(DataError, match="volume") as info:
        check_bars(bars)
    assert "float64" in info.value.message


# --- to_canonical -----------------------------------------------------------------------------


def test_to_canonical_converts_unit_tz_dtype_and_drops_extras() -> None:
    index = pd.date_range("2024-01-01 09:30", periods=3, freq="h", tz="America/New_York")
    raw = pd.DataFrame(
        {
            "volume": [1, 2, 3],
            "close": [1, 2, 3],
            "open": [1, 2, 3],
            "high": [1, 2, 3],
            "low": [1, 2, 3],
            "extra": ["a", "b", "c"],
        },
        index=index.as_unit("us"),
    )
    out = to_canonical(raw)
    assert list(out.columns) == list(BAR_COLUMNS)
    assert (out.dtypes == np.float64).all()
    assert str(out.index.tz) == "UTC"
    assert out.index.unit == "ns"
    assert out.index.name == "timestamp"
    assert out.index[0] == pd.Timestamp("2024-01-01 14:30", tz="UTC")
    assert check_bars(out) is out


def test_to_canonical_rejects_naive_index() -> None:
    bars = _bars()
    bars.index = bars.index.tz_localize(None)
    with pytest.raises(DataError, match="no time zone"):
        to_canonical(bars)


# --- content_hash -----------------------------------------------------------------------------


def test_content_hash_is_stable_hex_sha256() -> None:
    h = content_hash(_bars())
    assert h == content_hash(_bars())
    assert len(h) == 64
    int(h, 16)


def test_content_hash_golden() -> None:
    import hashlib

    bars = _bars(3)
    digest = hashlib.sha256()
    digest.update(np.array([t.value for t in bars.index], dtype=np.int64).tobytes())
    for col in ("open", "high", "low", "close", "volume"):
        digest.update(np.array(list(bars[col]), dtype=np.float64).tobytes())
    assert content_hash(bars) == digest.hexdigest()


def test_content_hash_ignores_time_unit() -> None:
    ns = _bars(unit="ns")
    us = _bars(unit="us")
    assert us.index.unit == "us"
    assert content_hash(ns) == content_hash(us)


def test_content_hash_ignores_column_order() -> None:
    bars = _bars()
    assert content_hash(bars[list(reversed(bars.columns))]) == content_hash(bars)


def test_content_hash_changes_with_one_value() -> None:
    bars = _bars()
    changed = bars.copy()
    changed.iloc[2, changed.columns.get_loc("close")] += 1e-9
    assert content_hash(changed) != content_hash(bars)


def test_content_hash_changes_with_one_timestamp() -> None:
    bars = _bars()
    shifted = bars.copy()
    shifted.index = shifted.index + pd.Timedelta(seconds=1)
    assert content_hash(shifted) != content_hash(bars)


# --- Registry ---------------------------------------------------------------------------------


def test_registry_add_get_and_iterate() -> None:
    reg: Registry[int] = Registry("widget")
    assert reg.add("alpha", 1) == 1

    @reg.register("beta")
    def beta() -> int:
        return 2

    assert reg.get("alpha") == 1
    assert reg.get("beta") is beta
    assert reg.names() == ["alpha", "beta"]
    assert list(reg) == ["alpha", "beta"]
    assert len(reg) == 2
    assert "alpha" in reg
    assert "gamma" not in reg


def test_registry_duplicate_name_raises() -> None:
    reg: Registry[int] = Registry("widget")
    reg.add("alpha", 1)
    with pytest.raises(ValueError, match="registered twice"):
        reg.add("alpha", 2)
    assert reg.get("alpha") == 1


def test_registry_unknown_name_suggests_close_name() -> None:
    reg: Registry[int] = Registry("feature")
    for i, name in enumerate(["rsi_14", "rsi_7", "vol_std_20"]):
        reg.add(name, i)
    with pytest.raises(RegistryError) as info:
        reg.get("rsi_15")
    err = info.value
    assert err.message == "Unknown feature 'rsi_15'."
    assert err.hint.startswith("Did you mean")
    assert "rsi_14" in err.hint
    assert "vol_std_20" not in err.hint


def test_registry_unknown_name_without_close_match_lists_known() -> None:
    reg: Registry[int] = Registry("model")
    reg.add("lightgbm", 1)
    reg.add("catboost", 2)
    with pytest.raises(RegistryError) as info:
        reg.get("zzz")
    assert info.value.hint == "Known: catboost, lightgbm."


# --- errors -----------------------------------------------------------------------------------


def test_one_line_joins_message_and_hint() -> None:
    err = ConfigError("Bad value.", hint="Fix it.")
    assert err.one_line() == "Bad value. Fix it."
    assert str(err) == "Bad value."
    assert isinstance(err, AlphaForgeError)
    assert err.exit_code == 2


def test_one_line_without_hint_has_no_trailing_space() -> None:
    assert DataError("Broken.").one_line() == "Broken."
