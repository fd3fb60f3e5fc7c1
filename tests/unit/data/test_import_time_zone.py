"""``import_file(..., tz=ZONE)``: naive timestamps are wall-clock times in ZONE, stored in UTC."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from alphaforge.core import DataError
from alphaforge.data.sources import import_file

NY = "America/New_York"


def write(path: Path, stamps: list[str]) -> Path:
    lines = ["Datetime,Open,High,Low,Close,Volume"]
    lines += [f"{s},10,11,9,10.5,100" for s in stamps]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def utc(*stamps: str) -> pd.DatetimeIndex:
    return pd.DatetimeIndex([pd.Timestamp(s, tz="UTC") for s in stamps]).as_unit("ns")


def test_naive_stamps_are_localized_across_daylight_saving(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", ["2024-03-08 09:30:00", "2024-03-11 09:30:00"])
    bars = import_file(path, symbol="X", tz=NY)
    assert pd.DatetimeIndex(bars.index).equals(utc("2024-03-08 14:30", "2024-03-11 13:30"))


def test_without_tz_naive_times_of_day_are_refused(tmp_path: Path) -> None:
    # Read as UTC, bars recorded in New York would move by four or five hours: no guess.
    path = write(tmp_path / "x.csv", ["2024-03-08 09:30:00", "2024-03-11 09:30:00"])
    with pytest.raises(DataError, match="intraday timestamps without a time zone") as info:
        import_file(path, symbol="X")
    assert "--tz" in (info.value.hint or "")
    bars = import_file(path, symbol="X", tz="UTC")
    assert pd.DatetimeIndex(bars.index).equals(utc("2024-03-08 09:30", "2024-03-11 09:30"))


def test_stamps_with_an_offset_ignore_tz(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", ["2024-03-08T09:30:00-05:00", "2024-03-08T10:30:00-05:00"])
    bars = import_file(path, symbol="X", tz="Asia/Tokyo")
    assert pd.DatetimeIndex(bars.index).equals(utc("2024-03-08 14:30", "2024-03-08 15:30"))


def test_the_repeated_hour_of_autumn_is_told_apart_by_order(tmp_path: Path) -> None:
    stamps = ["2024-11-03 00:30:00", "2024-11-03 01:30:00", "2024-11-03 01:30:00"]
    stamps.append("2024-11-03 02:30:00")
    bars = import_file(write(tmp_path / "x.csv", stamps), symbol="X", tz=NY)
    assert pd.DatetimeIndex(bars.index).equals(
        utc("2024-11-03 04:30", "2024-11-03 05:30", "2024-11-03 06:30", "2024-11-03 07:30")
    )


def test_a_time_skipped_by_spring_forward_is_a_one_line_error(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", ["2024-03-10 01:30:00", "2024-03-10 02:30:00"])
    with pytest.raises(DataError, match=f"does not name one instant in {NY}") as caught:
        import_file(path, symbol="X", tz=NY)
    assert "\n" not in caught.value.one_line()
    assert "UTC offset" in caught.value.hint
