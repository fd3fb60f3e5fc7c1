"""Scheduled events from CSV: times in UTC, an optional symbol, clear errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from alphaforge.core.errors import DataError
from alphaforge.data.events import read_events


def test_events_parse_dates_and_optional_symbols(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("time,symbol\n2024-01-31,AAPL\n2024-03-20T18:00:00Z,\n")
    events = read_events(path)
    assert list(events["time"]) == [
        pd.Timestamp("2024-01-31", tz="UTC"),
        pd.Timestamp("2024-03-20 18:00", tz="UTC"),
    ]
    assert events["symbol"].iloc[0] == "AAPL"
    assert events["symbol"].isna().iloc[1]


def test_events_without_a_symbol_column_concern_everyone(tmp_path: Path) -> None:
    path = tmp_path / "fomc.csv"
    path.write_text("time\n2024-01-31\n")
    assert read_events(path)["symbol"].isna().all()


@pytest.mark.parametrize(
    ("text", "message"),
    [("date\n2024-01-01\n", "no 'time' column"), ("time\nsoon\n", "row 2: 'soon' is not a date")],
)
def test_bad_event_files_are_data_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        read_events(path)


def test_a_missing_event_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        read_events(tmp_path / "nope.csv")
