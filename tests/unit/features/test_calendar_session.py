"""Calendar, holiday and session features against hand-picked dates and plain-Python references.

References are computed row by row with ``datetime``, ``zoneinfo``, ``math`` and hard-coded
holiday lists, independently of the vectorised kernels.
"""

from __future__ import annotations

import calendar as pycal
import math
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from alphaforge.core.types import AssetClass, Instrument
from alphaforge.features import FEATURES, compute
from alphaforge.features.testing import random_bars

STOCK = Instrument("TEST", AssetClass.STOCK)
ETF = Instrument("TESTETF", AssetClass.ETF)
FX = Instrument("EURUSD", AssetClass.FOREX)
CRYPTO = Instrument("BTC-USD", AssetClass.CRYPTO)
NY = ZoneInfo("America/New_York")
LDN = ZoneInfo("Europe/London")
TYO = ZoneInfo("Asia/Tokyo")

CALENDAR_NAMES = [
    "dow_sin",
    "dow_cos",
    "month_sin",
    "month_cos",
    "dom_sin",
    "dom_cos",
    "doy_sin",
    "doy_cos",
    "month",
    "quarter",
    "week_of_year",
    "turn_of_month",
    "days_to_month_end",
]
INTRADAY_CALENDAR = ["hour_sin", "hour_cos", "minute_of_day"]
HOLIDAY = ["pre_holiday", "post_holiday", "days_to_holiday", "early_close"]
EQUITY_SESSION = [
    "sess_premarket",
    "sess_regular",
    "sess_afterhours",
    "sess_first_hour",
    "sess_power_hour",
    "sess_progress",
]
FX_SESSION = [
    "fx_sess_asia",
    "fx_sess_london",
    "fx_sess_newyork",
    "fx_overlap_london_ny",
    "fx_overlap_asia_london",
    "fx_asia_range_pos",
]
CRYPTO_SESSION = ["crypto_sess_asia", "crypto_sess_europe", "crypto_sess_us", "crypto_weekend"]

#: NYSE full-day holidays (scheduled) of 2024 and early 2025.
NYSE_HOLIDAYS = {
    date(2024, 1, 1),
    date(2024, 1, 15),
    date(2024, 2, 19),
    date(2024, 3, 29),
    date(2024, 5, 27),
    date(2024, 6, 19),
    date(2024, 7, 4),
    date(2024, 9, 2),
    date(2024, 11, 28),
    date(2024, 12, 25),
    date(2025, 1, 1),
    date(2025, 1, 20),
}
NYSE_EARLY_CLOSES_2024 = {date(2024, 7, 3), date(2024, 11, 29), date(2024, 12, 24)}


def _bars_at(stamps: list[datetime] | pd.DatetimeIndex, seed: int = 0) -> pd.DataFrame:
    """Return canonical bars opening at these UTC times, with a random walk of prices."""
    index = pd.DatetimeIndex(stamps, name="timestamp")
    index = (index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")).as_unit(
        "ns"
    )
    rng = np.random.default_rng(seed)
    n = len(index)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.002, n)))
    open_ = close * np.exp(rng.normal(0, 0.001, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.001, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.001, n)))
    volume = rng.lognormal(10, 0.3, n)
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index
    )


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def _one(stamp: datetime, name: str, instrument: Instrument | None = None) -> float:
    return float(compute(_bars_at([stamp]), [name], instrument=instrument)[name].iloc[0])


def _stamps(out: pd.DataFrame) -> list[datetime]:
    return [t.to_pydatetime() for t in out.index]


def _rows(out: pd.DataFrame) -> list[dict[str, float]]:
    return [{str(k): float(v) for k, v in row.items()} for row in out.to_dict("records")]


# --- calendar encodings -----------------------------------------------------------------------


def _mixed_stamps() -> pd.DatetimeIndex:
    rng = np.random.default_rng(5)
    start = pd.Timestamp("1999-12-20", tz="UTC").value
    end = pd.Timestamp("2031-01-10", tz="UTC").value
    picked = np.sort(rng.integers(start, end, 1500)) // 10**9 * 10**9  # whole seconds
    fixed = pd.DatetimeIndex(
        [
            "2000-02-29",
            "2004-12-31 23:59",
            "2008-12-29",
            "2009-12-31",
            "2010-01-03",
            "2015-12-31 12:00",
            "2020-12-31",
            "2021-01-03",
            "2024-02-29",
        ],
        tz="UTC",
    )
    merged = np.unique(np.concatenate([picked, fixed.as_unit("ns").asi8]))
    return pd.DatetimeIndex(merged.astype("datetime64[ns]")).tz_localize("UTC")


def test_calendar_fields_match_datetime_and_math() -> None:
    bars = _bars_at(_mixed_stamps())
    out = compute(bars, CALENDAR_NAMES + INTRADAY_CALENDAR)
    assert not out.isna().any().any()
    for stamp, got in zip(_stamps(out), _rows(out), strict=True):
        d = stamp.date()
        dim = pycal.monthrange(d.year, d.month)[1]
        diy = 366 if pycal.isleap(d.year) else 365
        doy = d.timetuple().tm_yday
        angles = {
            "dow": 2 * math.pi * d.weekday() / 7,
            "month": 2 * math.pi * (d.month - 1) / 12,
            "dom": 2 * math.pi * (d.day - 1) / dim,
            "doy": 2 * math.pi * (doy - 1) / diy,
            "hour": 2 * math.pi * (stamp.hour * 60 + stamp.minute + stamp.second / 60) / 1440,
        }
        for stem, angle in angles.items():
            assert got[f"{stem}_sin"] == pytest.approx(math.sin(angle), abs=1e-12), (stamp, stem)
            assert got[f"{stem}_cos"] == pytest.approx(math.cos(angle), abs=1e-12)
        assert got["month"] == d.month
        assert got["quarter"] == (d.month + 2) // 3
        assert got["week_of_year"] == d.isocalendar()[1]
        assert got["turn_of_month"] == float(d.day <= 3 or d.day >= dim - 1)
        assert got["days_to_month_end"] == dim - d.day
        assert got["minute_of_day"] == stamp.hour * 60 + stamp.minute


def test_calendar_hand_picked_dates() -> None:
    # 2024-03-08 is a Friday; 2024-01-01 is a Monday in ISO week 1; 2024-12-30 is ISO week 1
    # of 2025; 2021-01-03 is ISO week 53 of 2020.
    assert _one(_utc(2024, 1, 1), "dow_sin") == 0.0
    assert _one(_utc(2024, 3, 8), "dow_sin") == pytest.approx(math.sin(2 * math.pi * 4 / 7))
    assert _one(_utc(2024, 12, 30), "week_of_year") == 1.0
    assert _one(_utc(2021, 1, 3), "week_of_year") == 53.0
    assert _one(_utc(2024, 2, 28), "turn_of_month") == 1.0  # 2 days before the end (29 days)
    assert _one(_utc(2024, 2, 27), "turn_of_month") == 0.0
    assert _one(_utc(2024, 3, 3), "turn_of_month") == 1.0
    assert _one(_utc(2024, 3, 4), "turn_of_month") == 0.0
    assert _one(_utc(2024, 2, 27), "days_to_month_end") == 2.0
    assert _one(_utc(2023, 2, 27), "days_to_month_end") == 1.0
    assert _one(_utc(2024, 11, 15), "quarter") == 4.0
    assert _one(_utc(2024, 3, 8, 14, 30), "minute_of_day") == 870.0
    # The UTC date is used even when the bar opens late in the New York evening.
    assert _one(_utc(2024, 3, 9, 1, 0), "days_to_month_end") == 22.0


# --- holidays ---------------------------------------------------------------------------------


def _weekdays(start: date, end: date) -> list[date]:
    days = []
    d = start
    while d <= end:
        if d.weekday() < 5:
            days.append(d)
        d += timedelta(days=1)
    return days


def _daily(days: list[date]) -> pd.DataFrame:
    return _bars_at([datetime(d.year, d.month, d.day, tzinfo=UTC) for d in days])


def test_holiday_features_against_the_2024_nyse_schedule() -> None:
    days = [d for d in _weekdays(date(2024, 1, 2), date(2024, 12, 31)) if d not in NYSE_HOLIDAYS]
    out = compute(_daily(days), HOLIDAY, instrument=STOCK)
    assert not out.isna().any().any()

    def next_weekday(d: date, step: int) -> date:
        d += timedelta(days=step)
        while d.weekday() >= 5:
            d += timedelta(days=step)
        return d

    for d, got in zip(days, _rows(out), strict=True):
        assert got["pre_holiday"] == float(next_weekday(d, 1) in NYSE_HOLIDAYS), d
        assert got["post_holiday"] == float(next_weekday(d, -1) in NYSE_HOLIDAYS), d
        sessions, probe = 0, d
        while probe not in NYSE_HOLIDAYS and sessions < 20:
            sessions += 1
            probe = next_weekday(probe, 1)
        assert got["days_to_holiday"] == sessions, d
        assert got["early_close"] == float(d in NYSE_EARLY_CLOSES_2024), d


def test_holiday_hand_picked_days() -> None:
    days = [date(2024, 7, 2), date(2024, 7, 3), date(2024, 7, 5), date(2024, 7, 8)]
    out = compute(_daily(days), HOLIDAY, instrument=STOCK)
    assert out["pre_holiday"].tolist() == [0.0, 1.0, 0.0, 0.0]
    assert out["post_holiday"].tolist() == [0.0, 0.0, 1.0, 0.0]
    assert out["days_to_holiday"].tolist() == [2.0, 1.0, 20.0, 20.0]
    assert out["early_close"].tolist() == [0.0, 1.0, 0.0, 0.0]
    # Christmas Eve: an early close before a holiday; Good Friday 2024-03-29 closes the market.
    assert _one(_utc(2024, 12, 24), "pre_holiday", STOCK) == 1.0
    assert _one(_utc(2024, 12, 24), "early_close", STOCK) == 1.0
    assert _one(_utc(2024, 12, 26), "post_holiday", STOCK) == 1.0
    assert _one(_utc(2024, 3, 28), "pre_holiday", STOCK) == 1.0
    assert _one(_utc(2024, 4, 1), "post_holiday", STOCK) == 1.0
    # A Friday before a Monday holiday (MLK day 2024-01-15) and the Tuesday after it.
    assert _one(_utc(2024, 1, 12), "pre_holiday", ETF) == 1.0
    assert _one(_utc(2024, 1, 16), "post_holiday", ETF) == 1.0


def test_unscheduled_closures_are_not_foreseen_but_are_remembered() -> None:
    # Hurricane Sandy closed the NYSE on 2012-10-29 and 30: not known on Friday 10-26.
    assert _one(_utc(2012, 10, 26), "pre_holiday", STOCK) == 0.0
    assert _one(_utc(2012, 10, 31), "post_holiday", STOCK) == 1.0
    # 2025-01-09 (national day of mourning) is an ad-hoc closure too.
    assert _one(_utc(2025, 1, 10), "post_holiday", STOCK) == 1.0


def test_holidays_outside_the_calendar_table_are_nan() -> None:
    out = compute(_daily([date(1950, 6, 1), date(2024, 6, 3)]), HOLIDAY, instrument=STOCK)
    assert out.iloc[0].isna().all()
    assert out.iloc[1].tolist() == [0.0, 0.0, 12.0, 0.0]


def test_holidays_follow_the_instrument_calendar() -> None:
    london = Instrument("VOD", AssetClass.STOCK, calendar="XLON")
    # 2024-08-26 is the UK summer bank holiday; New York trades that day.
    assert _one(_utc(2024, 8, 23), "pre_holiday", london) == 1.0
    assert _one(_utc(2024, 8, 23), "pre_holiday", STOCK) == 0.0
    with pytest.raises(ValueError, match="unknown exchange calendar"):
        _one(_utc(2024, 8, 23), "pre_holiday", Instrument("X", AssetClass.STOCK, calendar="NOPE"))


# --- equity sessions --------------------------------------------------------------------------


def _equity_reference(stamp: datetime) -> dict[str, float]:
    local = stamp.astimezone(NY)
    minute = local.hour * 60 + local.minute
    d = local.date()
    session_day = d.weekday() < 5 and d not in NYSE_HOLIDAYS
    close = 13 * 60 if d in NYSE_EARLY_CLOSES_2024 else 16 * 60
    open_ = 9 * 60 + 30
    if not session_day:
        return dict.fromkeys(EQUITY_SESSION, 0.0)
    return {
        "sess_premarket": float(4 * 60 <= minute < open_),
        "sess_regular": float(open_ <= minute < close),
        "sess_afterhours": float(close <= minute < 20 * 60),
        "sess_first_hour": float(open_ <= minute < min(open_ + 60, close)),
        "sess_power_hour": float(close - 60 <= minute < close),
        "sess_progress": min(max((minute - open_) / (close - open_), 0.0), 1.0),
    }


@pytest.mark.parametrize(
    ("start", "end"),
    [("2024-03-07", "2024-03-13"), ("2024-10-30", "2024-11-05"), ("2024-12-20", "2024-12-27")],
)
def test_equity_sessions_match_a_zoneinfo_reference(start: str, end: str) -> None:
    stamps = pd.date_range(start, end, freq="5min", tz="UTC", inclusive="left")
    out = compute(_bars_at(stamps), EQUITY_SESSION, instrument=STOCK)
    for stamp, row in zip(_stamps(out), _rows(out), strict=True):
        expected = _equity_reference(stamp)
        for name, value in row.items():
            assert value == pytest.approx(expected[name], abs=1e-12), (stamp, name)


def test_equity_sessions_across_the_dst_switch() -> None:
    # 14:30 UTC is 09:30 New York on Friday 2024-03-08 (EST) and 10:30 on Monday 03-11 (EDT).
    before = _utc(2024, 3, 8, 14, 30)
    after = _utc(2024, 3, 11, 14, 30)
    assert _one(before, "sess_regular", STOCK) == 1.0
    assert _one(before, "sess_first_hour", STOCK) == 1.0
    assert _one(before, "sess_progress", STOCK) == 0.0
    assert _one(after, "sess_regular", STOCK) == 1.0
    assert _one(after, "sess_first_hour", STOCK) == 0.0
    assert _one(after, "sess_progress", STOCK) == pytest.approx(60 / 390)
    assert _one(_utc(2024, 3, 8, 14, 0), "sess_premarket", STOCK) == 1.0  # 09:00 EST
    assert _one(_utc(2024, 3, 11, 13, 30), "sess_regular", STOCK) == 1.0  # 09:30 EDT
    assert _one(_utc(2024, 3, 11, 20, 0), "sess_afterhours", STOCK) == 1.0  # 16:00 EDT
    assert _one(_utc(2024, 3, 11, 19, 0), "sess_power_hour", STOCK) == 1.0  # 15:00 EDT
    assert _one(_utc(2024, 3, 11, 21, 0), "sess_progress", STOCK) == 1.0
    assert _one(_utc(2024, 3, 9, 15, 0), "sess_regular", STOCK) == 0.0  # a Saturday


def test_equity_sessions_on_christmas_eve_close_at_13() -> None:
    assert _one(_utc(2024, 12, 24, 17, 55), "sess_regular", STOCK) == 1.0  # 12:55 EST
    assert _one(_utc(2024, 12, 24, 17, 55), "sess_power_hour", STOCK) == 1.0
    assert _one(_utc(2024, 12, 24, 18, 0), "sess_regular", STOCK) == 0.0  # 13:00 EST
    assert _one(_utc(2024, 12, 24, 18, 0), "sess_afterhours", STOCK) == 1.0
    assert _one(_utc(2024, 12, 24, 18, 0), "sess_progress", STOCK) == 1.0
    assert _one(_utc(2024, 12, 24, 16, 30), "sess_progress", STOCK) == pytest.approx(2 / 3.5)
    assert _one(_utc(2024, 12, 25, 15, 0), "sess_regular", STOCK) == 0.0  # closed


# --- forex sessions ---------------------------------------------------------------------------


def _in(stamp: datetime, tz: ZoneInfo, start: int, end: int) -> bool:
    local = stamp.astimezone(tz)
    return local.weekday() < 5 and start * 60 <= local.hour * 60 + local.minute < end * 60


def _asia_range_reference(bars: pd.DataFrame) -> list[float]:
    """Per row: position of close in the last ended Tokyo session's range, by plain loops."""
    stamps = [t.to_pydatetime() for t in bars.index]
    out = []
    for i, stamp in enumerate(stamps):
        local = stamp.astimezone(TYO)
        if 9 <= local.hour < 18:
            out.append(0.5)
            continue
        session_day = local.date() if local.hour >= 18 else local.date() - timedelta(days=1)
        highs, lows = [], []
        for j in range(i):
            lj = stamps[j].astimezone(TYO)
            if lj.date() == session_day and lj.weekday() < 5 and 9 <= lj.hour < 18:
                highs.append(bars["high"].iloc[j])
                lows.append(bars["low"].iloc[j])
        if not highs or max(highs) == min(lows):
            out.append(0.5)
        else:
            hi, lo = max(highs), min(lows)
            out.append((bars["close"].iloc[i] - lo) / (hi - lo))
    return out


@pytest.mark.parametrize(
    ("start", "end", "freq"),
    [
        ("2024-03-07", "2024-03-13", "30min"),
        ("2024-10-24", "2024-10-30", "1h"),
        ("2024-06-05 03:17", "2024-06-07", "7min"),
    ],
)
def test_fx_sessions_match_a_zoneinfo_reference(start: str, end: str, freq: str) -> None:
    stamps = pd.date_range(start, end, freq=freq, tz="UTC", inclusive="left")
    bars = _bars_at(stamps, seed=3)
    out = compute(bars, FX_SESSION, instrument=FX)
    reference = _asia_range_reference(bars)
    for i, stamp in enumerate(_stamps(out)):
        asia = _in(stamp, TYO, 9, 18)
        london = _in(stamp, LDN, 8, 17)
        newyork = _in(stamp, NY, 8, 17)
        row = out.iloc[i]
        assert row["fx_sess_asia"] == float(asia), stamp
        assert row["fx_sess_london"] == float(london), stamp
        assert row["fx_sess_newyork"] == float(newyork), stamp
        assert row["fx_overlap_london_ny"] == float(london and newyork), stamp
        assert row["fx_overlap_asia_london"] == float(asia and london), stamp
        assert row["fx_asia_range_pos"] == pytest.approx(reference[i], rel=1e-12), stamp


def test_fx_asia_range_position_by_hand() -> None:
    # Tokyo session of Wednesday 2024-06-05: 00:00-09:00 UTC. Three hourly bars in it, then
    # bars at 09:00 UTC (18:00 JST, session over) and 23:00 UTC (08:00 JST the next day).
    stamps = [_utc(2024, 6, 5, h) for h in (0, 4, 8, 9, 23)] + [_utc(2024, 6, 6, 0)]
    bars = _bars_at(stamps)
    bars["high"] = [10.0, 12.0, 11.0, 20.0, 20.0, 20.0]
    bars["low"] = [9.0, 8.0, 9.5, 1.0, 1.0, 1.0]
    bars["open"] = [9.5, 10.0, 10.0, 11.0, 11.0, 11.0]
    bars["close"] = [9.5, 10.0, 10.0, 13.0, 7.0, 11.0]
    values = compute(bars, ["fx_asia_range_pos"], instrument=FX)["fx_asia_range_pos"].tolist()
    # Range 8..12: 13 -> 1.25 (a break above), 7 -> -0.25; 2024-06-06 00:00 UTC starts a new
    # Tokyo session, so the value goes back to 0.5.
    assert values == [0.5, 0.5, 0.5, 1.25, -0.25, 0.5]


# --- crypto sessions --------------------------------------------------------------------------


def test_crypto_sessions_match_the_utc_clock() -> None:
    stamps = pd.date_range("2024-03-08", "2024-03-12", freq="15min", tz="UTC", inclusive="left")
    out = compute(_bars_at(stamps), CRYPTO_SESSION, instrument=CRYPTO)
    for stamp, row in zip(_stamps(out), _rows(out), strict=True):
        hour = stamp.hour
        assert row["crypto_sess_asia"] == float(hour < 8)
        assert row["crypto_sess_europe"] == float(7 <= hour < 16)
        assert row["crypto_sess_us"] == float(13 <= hour < 22)
        assert row["crypto_weekend"] == float(stamp.weekday() >= 5)
    assert _one(_utc(2024, 3, 9, 12), "crypto_weekend", CRYPTO) == 1.0  # Saturday
    assert _one(_utc(2024, 3, 11, 0), "crypto_weekend", CRYPTO) == 0.0  # Monday 00:00 UTC


# --- which features a compute call includes ---------------------------------------------------


def _ours(columns: pd.Index) -> set[str]:
    ours = set(CALENDAR_NAMES + INTRADAY_CALENDAR + HOLIDAY)
    ours |= set(EQUITY_SESSION + FX_SESSION + CRYPTO_SESSION)
    return ours & set(columns)


def test_every_feature_of_the_modules_is_listed_here() -> None:
    modules = {"alphaforge.features.library.calendar", "alphaforge.features.library.session"}
    registered = {n for n in FEATURES.names() if FEATURES.get(n).kernel.__module__ in modules}
    listed = CALENDAR_NAMES + INTRADAY_CALENDAR + HOLIDAY
    listed += EQUITY_SESSION + FX_SESSION + CRYPTO_SESSION
    assert registered == set(listed)
    for name in listed:
        spec = FEATURES.get(name)
        assert spec.warmup == 0
        assert spec.category == ("session" if name in _session_names() else "calendar")


def _session_names() -> set[str]:
    return set(EQUITY_SESSION + FX_SESSION + CRYPTO_SESSION)


def test_default_features_by_asset_class_and_bar_interval() -> None:
    daily = random_bars(1, 60)
    intraday = random_bars(1, 300, freq="5min")
    calendar_daily = set(CALENDAR_NAMES)
    calendar_intraday = calendar_daily | set(INTRADAY_CALENDAR)

    assert _ours(compute(daily).columns) == calendar_daily
    assert _ours(compute(daily, instrument=STOCK).columns) == calendar_daily | set(HOLIDAY)
    assert _ours(compute(daily, instrument=FX).columns) == calendar_daily
    assert _ours(compute(intraday, instrument=STOCK).columns) == (
        calendar_intraday | set(HOLIDAY) | set(EQUITY_SESSION)
    )
    assert _ours(compute(intraday, instrument=ETF).columns) == (
        calendar_intraday | set(HOLIDAY) | set(EQUITY_SESSION)
    )
    assert _ours(compute(intraday, instrument=FX).columns) == calendar_intraday | set(FX_SESSION)
    assert _ours(compute(intraday, instrument=CRYPTO).columns) == (
        calendar_intraday | set(CRYPTO_SESSION)
    )
    index = Instrument("SPX", AssetClass.INDEX)
    assert _ours(compute(intraday, instrument=index).columns) == calendar_intraday | set(HOLIDAY)


def test_session_features_need_a_matching_instrument() -> None:
    bars = random_bars(2, 100, freq="1h")
    with pytest.raises(ValueError, match="needs instrument"):
        compute(bars, ["fx_sess_london"])
    with pytest.raises(ValueError, match="needs instrument"):
        compute(bars, ["sess_regular"], instrument=CRYPTO)
    with pytest.raises(ValueError, match="needs instrument"):
        compute(bars, ["pre_holiday"])
    # Named explicitly, an intraday-only feature is computed on daily bars too.
    out = compute(random_bars(2, 10), ["sess_regular", "hour_sin"], instrument=STOCK)
    assert out["sess_regular"].tolist() == [0.0] * 10  # 00:00 UTC is 19:00/20:00 New York
    assert out["hour_sin"].tolist() == [0.0] * 10


def test_values_are_finite_on_long_random_intraday_bars() -> None:
    bars = random_bars(4, 3000, freq="15min", start="2019-12-30")
    for instrument, names in ((STOCK, EQUITY_SESSION + HOLIDAY), (FX, FX_SESSION)):
        out = compute(bars, CALENDAR_NAMES + INTRADAY_CALENDAR + names, instrument=instrument)
        assert np.isfinite(out.to_numpy()).all()
    progress = compute(bars, ["sess_progress"], instrument=STOCK)["sess_progress"]
    assert progress.between(0.0, 1.0).all()
    assert (progress > 0).any() and (progress < 1).any()


def test_equity_sessions_outside_the_calendar_table_use_weekdays() -> None:
    # 1950 is before the cached XNYS table: plain weekdays with a 16:00 close.
    assert _one(_utc(1950, 1, 3, 15, 0), "sess_regular", STOCK) == 1.0  # Tuesday 10:00 EST
    assert _one(_utc(1950, 1, 3, 20, 30), "sess_progress", STOCK) == pytest.approx(360 / 390)
    assert _one(_utc(1950, 1, 3, 21, 0), "sess_progress", STOCK) == 1.0  # 16:00 EST
    assert _one(_utc(1950, 1, 3, 20, 0), "sess_power_hour", STOCK) == 1.0
    assert _one(_utc(1950, 1, 7, 15, 0), "sess_regular", STOCK) == 0.0  # Saturday
