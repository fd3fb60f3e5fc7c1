"""Tests of the universe YAML files and their loader."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphaforge.core.errors import ConfigError
from alphaforge.core.types import AssetClass, Instrument
from alphaforge.data.universe import (
    GICS_SECTORS,
    Universe,
    UniverseMember,
    active_mask,
    list_universes,
    load_universe,
    universe_path,
)

BUILTINS = ["crypto_majors", "demo_real", "forex", "liquid15", "sector_etfs", "us_large_cap"]
LIQUID15 = [
    "SPY",
    "QQQ",
    "IWM",
    "DIA",
    "AAPL",
    "MSFT",
    "GOOGL",
    "AMZN",
    "NVDA",
    "META",
    "TSLA",
    "JPM",
    "V",
    "WMT",
    "DIS",
]


def _write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


MINIMAL = """\
name: mine
description: two stocks
as_of: 2024-01-02
source: test
defaults: {asset_class: stock, exchange: NYSE}
members:
  - {symbol: AAA, sector: Energy}
  - {symbol: BBB, sector: Utilities, active_until: 2020-06-30}
"""


def test_builtins_are_listed() -> None:
    assert list_universes() == BUILTINS


@pytest.mark.parametrize("name", BUILTINS)
def test_each_builtin_loads(name: str) -> None:
    universe = load_universe(name)
    assert isinstance(universe, Universe)
    assert universe.name == name
    assert universe.description
    assert universe.source
    assert universe.as_of == date(2024, 6, 30)
    assert universe.path == universe_path(name)
    assert universe.path.is_file()
    assert len(universe.symbols) == len(set(universe.symbols)) > 0
    assert universe.instruments == [m.instrument for m in universe.members]


def test_liquid15_has_exactly_the_15_symbols() -> None:
    universe = load_universe("liquid15")
    assert universe.symbols == LIQUID15
    classes = {i.symbol: i.asset_class for i in universe.instruments}
    assert {s for s, c in classes.items() if c is AssetClass.ETF} == {"SPY", "QQQ", "IWM", "DIA"}
    for instrument in universe.instruments:
        if instrument.asset_class is AssetClass.STOCK:
            assert instrument.sector in GICS_SECTORS
        assert instrument.calendar == "XNYS"


def test_us_large_cap_has_200_plus_symbols_with_gics_sectors() -> None:
    universe = load_universe("us_large_cap")
    assert len(set(universe.symbols)) >= 200
    assert all(i.asset_class is AssetClass.STOCK for i in universe.instruments)
    sectors = {i.sector for i in universe.instruments}
    assert None not in sectors
    assert sectors == GICS_SECTORS
    grouped = universe.sectors()
    assert sum(len(v) for v in grouped.values()) == len(universe.symbols)
    assert "BRK-B" in universe.symbols
    assert all(s == s.upper() and " " not in s for s in universe.symbols)


def test_sector_etfs_cover_each_gics_sector_once() -> None:
    universe = load_universe("sector_etfs")
    assert sorted(universe.symbols) == sorted(
        ["XLB", "XLC", "XLE", "XLF", "XLI", "XLK", "XLP", "XLRE", "XLU", "XLV", "XLY"]
    )
    assert {s: len(v) for s, v in universe.sectors().items()} == dict.fromkeys(
        sorted(GICS_SECTORS), 1
    )


def test_crypto_members_trade_24_7() -> None:
    universe = load_universe("crypto_majors")
    assert "BTC-USD" in universe.symbols
    assert len(universe.symbols) == 11
    for instrument in universe.instruments:
        assert instrument.asset_class is AssetClass.CRYPTO
        assert instrument.calendar == "24/7"
        assert instrument.exchange == "CRYPTO"
        assert instrument.lot_size < 1


def test_forex_members_trade_24_5_and_quote_in_the_second_currency() -> None:
    universe = load_universe("forex")
    majors = {"EURUSD", "GBPUSD", "USDJPY", "USDCHF", "AUDUSD", "USDCAD", "NZDUSD"}
    assert {m.instrument.symbol for m in universe.members if m.group == "major"} == majors
    crosses = {m.instrument.symbol for m in universe.members if m.group == "cross"}
    assert {"EURGBP", "EURJPY", "GBPJPY", "EURCHF", "AUDJPY", "EURAUD"} <= crosses
    assert all(m.group in {"major", "cross"} for m in universe.members)
    for instrument in universe.instruments:
        assert instrument.asset_class is AssetClass.FOREX
        assert instrument.calendar == "24/5"
        assert instrument.currency == instrument.symbol[3:]
        assert instrument.tick_size == (0.001 if instrument.currency == "JPY" else 0.00001)


def test_demo_real_members_state_their_interval() -> None:
    universe = load_universe("demo_real")
    got = {m.instrument.symbol: (m.instrument.asset_class, m.interval) for m in universe.members}
    assert got == {
        "^GSPC": (AssetClass.INDEX, "1d"),
        "^IXIC": (AssetClass.INDEX, "1d"),
        "GOOG": (AssetClass.STOCK, "1d"),
        "EURUSD": (AssetClass.FOREX, "1h"),
        "BTCUSD": (AssetClass.CRYPTO, "1mo"),
        "^VIX": (AssetClass.INDEX, "1d"),
        "WTI": (AssetClass.MACRO, "1d"),
    }
    assert universe.sectors() == {"Communication Services": ["GOOG"]}


def test_user_file_overrides_builtin_of_same_name(tmp_path: Path) -> None:
    _write(tmp_path, "liquid15.yaml", MINIMAL)
    _write(tmp_path, "extra.yml", MINIMAL.replace("name: mine", "name: extra"))
    assert list_universes(tmp_path) == sorted([*BUILTINS, "extra"])
    universe = load_universe("liquid15", user_dir=tmp_path)
    assert universe.symbols == ["AAA", "BBB"]
    assert universe.path == tmp_path / "liquid15.yaml"
    assert load_universe("extra", user_dir=tmp_path).name == "extra"
    # Without the user directory the built-in is back.
    assert load_universe("liquid15").symbols == LIQUID15


def test_user_file_by_path(tmp_path: Path) -> None:
    path = _write(tmp_path, "anything.yaml", MINIMAL)
    by_path = load_universe(path)
    by_text = load_universe(str(path))
    assert by_path == by_text
    assert by_path.name == "mine"
    assert by_path.as_of == date(2024, 1, 2)
    aaa = by_path.instruments[0]
    assert (aaa.asset_class, aaa.exchange, aaa.sector, aaa.calendar) == (
        AssetClass.STOCK,
        "NYSE",
        "Energy",
        "XNYS",
    )


def test_name_defaults_to_file_stem(tmp_path: Path) -> None:
    path = _write(tmp_path, "stemmed.yaml", MINIMAL.replace("name: mine\n", ""))
    assert load_universe(path).name == "stemmed"


def test_active_on_drops_delisted_member(tmp_path: Path) -> None:
    universe = load_universe(_write(tmp_path, "u.yaml", MINIMAL))
    assert universe.members[1].active_until == date(2020, 6, 30)
    assert universe.active_on(date(2020, 6, 30)).symbols == ["AAA", "BBB"]
    later = universe.active_on(date(2020, 7, 1))
    assert later.symbols == ["AAA"]
    assert later.name == universe.name
    assert universe.symbols == ["AAA", "BBB"]  # the original is unchanged


def test_active_on_drops_member_not_yet_listed(tmp_path: Path) -> None:
    text = MINIMAL + "  - {symbol: CCC, active_from: 2020-03-02, active_until: 2020-06-30}\n"
    universe = load_universe(_write(tmp_path, "u.yaml", text))
    ccc = universe.members[2]
    assert (ccc.active_from, ccc.active_until) == (date(2020, 3, 2), date(2020, 6, 30))
    assert universe.members[0].active_from is None
    assert universe.active_on(date(2020, 3, 1)).symbols == ["AAA", "BBB"]
    assert universe.active_on(date(2020, 3, 2)).symbols == ["AAA", "BBB", "CCC"]
    assert universe.active_on(date(2020, 6, 30)).symbols == ["AAA", "BBB", "CCC"]
    assert universe.active_on(date(2020, 7, 1)).symbols == ["AAA"]


def _member(active_from: date | None, active_until: date | None) -> UniverseMember:
    instrument = Instrument("AAA", AssetClass.STOCK)
    return UniverseMember(instrument, active_from=active_from, active_until=active_until)


def test_active_mask_includes_the_first_and_last_day_whole() -> None:
    days = pd.date_range("2020-03-01", "2020-03-06", freq="D", tz="UTC")
    # Two intraday bars a day, 14:30 and 20:00 UTC, plus the daily stamps at 00:00 UTC.
    bars = days.union(days + pd.Timedelta(hours=14.5)).union(days + pd.Timedelta(hours=20))
    mask = active_mask(_member(date(2020, 3, 2), date(2020, 3, 4)), bars)
    assert mask.dtype == np.bool_
    assert len(mask) == len(bars)
    inside = bars[mask]
    assert inside[0] == pd.Timestamp("2020-03-02", tz="UTC")
    assert inside[-1] == pd.Timestamp("2020-03-04 20:00", tz="UTC")
    assert len(inside) == 9
    # Open ends: only one side limits; no dates: every bar.
    assert bars[active_mask(_member(date(2020, 3, 5), None), bars)][0].day == 5
    assert active_mask(_member(date(2020, 3, 5), None), bars).sum() == 6
    assert active_mask(_member(None, date(2020, 3, 1)), bars).sum() == 3
    assert active_mask(_member(None, None), bars).all()


def test_active_mask_counts_a_bar_by_its_utc_date() -> None:
    # 23:30 in New York on 3 March is 04:30 UTC on 4 March: inside a member starting then.
    bars = pd.DatetimeIndex(
        [pd.Timestamp("2020-03-03 23:30", tz="America/New_York")]
        + [pd.Timestamp("2020-03-03 18:00", tz="America/New_York")]
    )
    assert active_mask(_member(date(2020, 3, 4), None), bars).tolist() == [True, False]


def test_active_mask_refuses_naive_times() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        active_mask(_member(None, None), pd.DatetimeIndex(["2020-03-02"]))


def test_sectors_groups_symbols(tmp_path: Path) -> None:
    universe = load_universe(_write(tmp_path, "u.yaml", MINIMAL))
    assert universe.sectors() == {"Energy": ["AAA"], "Utilities": ["BBB"]}


def test_missing_path_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_universe(tmp_path / "nope.yaml")


def test_unknown_name_suggests_close_matches() -> None:
    with pytest.raises(ConfigError, match="Unknown universe 'liquid16'") as info:
        load_universe("liquid16")
    assert "Did you mean liquid15" in info.value.hint
    assert "us_large_cap" in info.value.hint  # the known names are listed


def test_malformed_yaml_is_a_config_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "bad.yaml", "as_of: 2024-01-01\nmembers: [ {symbol: A\n")
    with pytest.raises(ConfigError, match="not valid YAML") as info:
        load_universe(path)
    assert str(path) in info.value.message
    assert "\n" not in info.value.one_line()


@pytest.mark.parametrize(
    ("members", "pattern"),
    [
        ("  - {sector: Energy}\n", r"member #1 has no `symbol`"),
        ("  - {symbol: AAA, asset_class: stonk}\n", r"member #1 \(AAA\) has unknown asset_class"),
        ("  - {symbol: AAA}\n  - {symbol: BBB}\n  - {symbol: AAA}\n", r"#3 \(AAA\) duplicates"),
        ("  - {symbol: ON}\n", r"member #1 has symbol True, which is not text"),
        ("  - {symbol: AAA, interval: 2d}\n", r"unknown interval '2d'"),
        ("  - {symbol: AAA, active_until: soon}\n", r"`active_until` 'soon', which is not a date"),
        ("  - {symbol: AAA, active_from: later}\n", r"`active_from` 'later', which is not a date"),
        (
            "  - {symbol: AAA, active_from: 2021-01-05, active_until: 2021-01-04}\n",
            r"\(AAA\) has `active_from` 2021-01-05 after `active_until` 2021-01-04",
        ),
        ("  - {symbol: AAA, tick_size: -1}\n", r"`tick_size` -1, which is not a positive"),
        ("  - {symbol: AAA, colour: red}\n", r"unknown key\(s\) colour"),
        ("  - AAA\n", r"member #1 must be a mapping"),
    ],
)
def test_bad_member_is_a_config_error_naming_file_and_entry(
    tmp_path: Path, members: str, pattern: str
) -> None:
    path = _write(
        tmp_path,
        "bad.yaml",
        f"as_of: 2024-01-01\ndefaults: {{asset_class: stock}}\nmembers:\n{members}",
    )
    with pytest.raises(ConfigError, match=pattern) as info:
        load_universe(path)
    assert str(path) in info.value.message
    assert "\n" not in info.value.one_line()


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("", "must hold a mapping"),
        ("- a\n- b\n", "must hold a mapping"),
        ("members:\n  - {symbol: A, asset_class: stock}\n", "has no `as_of`"),
        ("as_of: 2024-01-01\nmembers: []\n", "non-empty list"),
        ("as_of: 2024-01-01\nmembers:\n  - {symbol: A}\n", "has no `asset_class`"),
        ("as_of: 2024-01-01\nmembrs: []\n", r"unknown key\(s\) membrs"),
        ("as_of: 2024-13-01\nmembers: []\n", "invalid value: month must be in 1..12"),
        ("as_of: soon\nmembers: []\n", "`as_of` 'soon', which is not a date"),
    ],
)
def test_bad_file_is_a_config_error(tmp_path: Path, text: str, pattern: str) -> None:
    path = _write(tmp_path, "bad.yaml", text)
    with pytest.raises(ConfigError, match=pattern):
        load_universe(path)


def test_member_overrides_defaults_and_keeps_empty_calendar_default(tmp_path: Path) -> None:
    text = """\
as_of: 2024-01-01
defaults: {asset_class: crypto, exchange: CRYPTO}
members:
  - {symbol: BTC-USD}
  - {symbol: EURUSD, asset_class: FOREX, exchange: OTC, currency: usd}
  - {symbol: SPY, asset_class: etf, calendar: XNYS, lot_size: 1}
"""
    universe = load_universe(_write(tmp_path, "mixed.yaml", text))
    btc, eur, spy = universe.instruments
    assert (btc.calendar, btc.exchange) == ("24/7", "CRYPTO")
    assert (eur.asset_class, eur.calendar, eur.currency) == (AssetClass.FOREX, "24/5", "USD")
    assert (spy.asset_class, spy.calendar, spy.lot_size) == (AssetClass.ETF, "XNYS", 1.0)
