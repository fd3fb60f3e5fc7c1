"""Job times in UTC across DST changes, a holiday and an early close (XNYS, New York time)."""

from __future__ import annotations

from datetime import date, time, timedelta

import pandas as pd
import pytest
from pydantic import ValidationError

from alphaforge.config.live import SchedulerConfig
from alphaforge.scheduler import DEFAULT_JOBS, Job, default_jobs, job_times


def _utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def _times(frame: pd.DataFrame, job: str) -> list[pd.Timestamp]:
    return list(frame.loc[frame["job"] == job, "scheduled"])


def test_market_day_jobs_follow_daylight_saving_in_utc() -> None:
    frame = job_times(DEFAULT_JOBS, date(2024, 3, 8), date(2024, 3, 11))
    # Friday before the change is EST (UTC-5), Monday after is EDT (UTC-4); no weekend jobs.
    assert _times(frame, "morning_signals") == [_utc("2024-03-08 14:00"), _utc("2024-03-11 13:00")]
    assert _times(frame, "premarket_refresh") == [
        _utc("2024-03-08 13:30"),
        _utc("2024-03-11 12:30"),
    ]
    assert _times(frame, "execution_window") == [
        _utc("2024-03-08 14:30"),
        _utc("2024-03-11 13:30"),
    ]
    assert _times(frame, "end_of_day") == [_utc("2024-03-08 20:45"), _utc("2024-03-11 19:45")]
    assert _times(frame, "daily_report") == [_utc("2024-03-08 21:30"), _utc("2024-03-11 20:30")]
    windows = frame.loc[frame["job"] == "execution_window", "window_end"]
    assert list(windows) == [_utc("2024-03-08 14:45"), _utc("2024-03-11 13:45")]


def test_fall_back_moves_market_day_jobs_one_hour_later_in_utc() -> None:
    frame = job_times(DEFAULT_JOBS, date(2024, 11, 1), date(2024, 11, 4))
    assert _times(frame, "morning_signals") == [_utc("2024-11-01 13:00"), _utc("2024-11-04 14:00")]
    assert _times(frame, "morning_notification") == [
        _utc("2024-11-01 13:15"),
        _utc("2024-11-04 14:15"),
    ]


def test_holiday_has_no_market_day_job() -> None:
    frame = job_times(DEFAULT_JOBS, date(2024, 7, 3), date(2024, 7, 5))
    days = {t.tz_convert("America/New_York").date() for t in frame["scheduled"]}
    assert date(2024, 7, 4) not in days
    # 2024-07-03 closes early (13:00 EDT = 17:00 UTC).
    assert _times(frame, "end_of_day") == [_utc("2024-07-03 16:45"), _utc("2024-07-05 19:45")]
    every = job_times(DEFAULT_JOBS, date(2024, 7, 4), date(2024, 7, 4), nightly_days="every_day")
    assert set(every["job"]) == {j.name for j in DEFAULT_JOBS if j.kind == "nightly"}


def test_close_anchored_jobs_follow_the_early_close() -> None:
    frame = job_times(DEFAULT_JOBS, date(2024, 11, 27), date(2024, 11, 29))
    # 2024-11-28 is Thanksgiving; on 11-29 NYSE closes at 13:00 EST (18:00 UTC).
    assert _times(frame, "end_of_day") == [_utc("2024-11-27 20:45"), _utc("2024-11-29 17:45")]
    assert _times(frame, "daily_report") == [_utc("2024-11-27 21:30"), _utc("2024-11-29 18:30")]
    monitoring = _times(frame, "monitoring")
    early = [t for t in monitoring if t.day == 29]
    assert early[0] == _utc("2024-11-29 14:35") and early[-1] == _utc("2024-11-29 18:00")
    assert len(early) == 42  # 09:35 .. 13:00 every 5 minutes
    assert len([t for t in monitoring if t.day == 27]) == 78  # 09:35 .. 16:00
    # Wall-clock jobs do not move on an early close.
    assert _times(frame, "morning_signals") == [_utc("2024-11-27 14:00"), _utc("2024-11-29 14:00")]


def test_nightly_chain_on_the_spring_forward_night_runs_once_in_order() -> None:
    nightly = [j for j in DEFAULT_JOBS if j.kind == "nightly"]
    frame = job_times(nightly, date(2024, 3, 9), date(2024, 3, 11), nightly_days="every_day")
    day = frame[frame["scheduled"].dt.tz_convert("America/New_York").dt.day == 10]
    assert list(day["job"]) == [j.name for j in nightly]  # each once, in dependency order
    # 02:00-02:59 does not exist: the 02:00 and 02:30 jobs run at 03:00 EDT (07:00 UTC).
    assert list(day["scheduled"][:4]) == [
        _utc("2024-03-10 07:00"),
        _utc("2024-03-10 07:00"),
        _utc("2024-03-10 07:00"),
        _utc("2024-03-10 07:30"),
    ]
    assert _times(frame, "nightly_refresh") == [
        _utc("2024-03-09 07:00"),
        _utc("2024-03-10 07:00"),
        _utc("2024-03-11 06:00"),
    ]


def test_nightly_jobs_on_the_fall_back_night_run_once() -> None:
    one_thirty = Job("late", "nightly", "report", timedelta(minutes=30), at=time(1, 30))
    jobs = [*[j for j in DEFAULT_JOBS if j.kind == "nightly"], one_thirty]
    frame = job_times(jobs, date(2024, 11, 2), date(2024, 11, 4), nightly_days="every_day")
    # 01:30 happens twice on 2024-11-03: the first (EDT, 05:30 UTC) only.
    assert _times(frame, "late") == [
        _utc("2024-11-02 05:30"),
        _utc("2024-11-03 05:30"),
        _utc("2024-11-04 06:30"),
    ]
    assert _times(frame, "nightly_refresh") == [
        _utc("2024-11-02 06:00"),
        _utc("2024-11-03 07:00"),
        _utc("2024-11-04 07:00"),
    ]


def test_nightly_jobs_run_before_market_days_only_by_default() -> None:
    frame = job_times(DEFAULT_JOBS, date(2024, 7, 4), date(2024, 7, 8))
    assert _times(frame, "nightly_refresh") == [_utc("2024-07-05 06:00"), _utc("2024-07-08 06:00")]


def test_nightly_jobs_are_distinct_and_inside_two_to_six_in_dependency_order() -> None:
    nightly = [j for j in DEFAULT_JOBS if j.kind == "nightly"]
    starts = [j.at for j in nightly if j.at is not None]
    assert len(starts) == len(nightly) and all(time(2) <= s < time(6) for s in starts)
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    assert [j.task for j in nightly] == [
        "data_refresh",
        "data_health",
        "features",
        "retrain",
        "recent_backtest",
        "signals",
        "report",
    ]


def test_weekly_retrain_runs_on_the_first_night_of_each_week() -> None:
    jobs = default_jobs(SchedulerConfig(retrain="weekly"))
    # 2024-09-02 is Labor Day: that week's first market day is Tuesday.
    frame = job_times(jobs, date(2024, 8, 28), date(2024, 9, 10))
    assert _times(frame, "nightly_retrain") == [
        _utc("2024-09-03 07:30"),
        _utc("2024-09-09 07:30"),
    ]
    drift = job_times(
        default_jobs(SchedulerConfig(retrain="drift")), date(2024, 9, 3), date(2024, 9, 5)
    )
    assert len(_times(drift, "nightly_retrain")) == 3
    off = default_jobs(SchedulerConfig(retrain="off"))
    assert "nightly_retrain" not in {j.name for j in off}


def test_a_closed_range_has_no_times() -> None:
    market = [j for j in DEFAULT_JOBS if j.kind == "market_day"]
    frame = job_times(market, date(2024, 7, 4), date(2024, 7, 4))
    assert frame.empty and list(frame.columns) == ["job", "task", "scheduled", "window_end"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"at": time(9), "anchor": "open"},
        {},
        {"anchor": "close", "kind": "nightly"},
        {"at": time(9), "window": timedelta(0)},
    ],
)
def test_a_malformed_job_is_refused(kwargs: dict[str, object]) -> None:
    fields: dict[str, object] = {"kind": "market_day", "window": timedelta(minutes=5)} | kwargs
    with pytest.raises(ValueError, match="job x"):
        Job("x", task="t", **fields)  # type: ignore[arg-type]


def test_an_unknown_time_zone_is_refused() -> None:
    with pytest.raises(ValidationError, match="unknown time zone 'Mars/Olympus'"):
        SchedulerConfig(timezone="Mars/Olympus")
