"""Event blackout: no opening orders in the 30 minutes before a scheduled event."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from alphaforge.config.pieces import build_piece
from alphaforge.core.errors import DataError
from alphaforge.risk.filters.event_blackout import EventBlackoutFilter
from alphaforge.risk.pieces import FILTERS

# AAPL at 15:00, every symbol (FOMC) at 19:00, BTC-USD on the next day at midnight (a date).
EVENTS = """time,symbol
2024-03-05 19:00,
2024-03-05 15:00,AAPL
2024-03-06,BTC-USD
"""
ORDERS = {"AAPL": 10.0, "SPY": -10.0, "BTC-USD": 0.5}


@pytest.fixture
def events_file(tmp_path: Path) -> Path:
    path = tmp_path / "events.csv"
    path.write_text(EVENTS)
    return path


@pytest.mark.parametrize(
    ("clock", "scale"),
    [
        ("2024-03-05 14:29", [1.0, 1.0, 1.0]),
        ("2024-03-05 14:30", [0.0, 1.0, 1.0]),  # 30 min before: inside
        ("2024-03-05 14:55", [0.0, 1.0, 1.0]),
        ("2024-03-05 15:00", [0.0, 1.0, 1.0]),  # at the event
        ("2024-03-05 15:01", [1.0, 1.0, 1.0]),
        ("2024-03-05 18:45", [0.0, 0.0, 0.0]),  # an event for every symbol
        ("2024-03-05 23:40", [1.0, 1.0, 0.0]),  # a date-only event is at midnight UTC
    ],
)
def test_opening_orders_are_refused_before_an_event(
    make_book, make_batch, at, events_file, clock, scale
) -> None:
    flt = EventBlackoutFilter(events_file=events_file)
    check = flt.check(make_batch(ORDERS), make_book(time=at(clock)))
    assert check.scale.tolist() == scale


def test_observed_minutes_and_reason(make_book, make_batch, at, events_file) -> None:
    flt = EventBlackoutFilter(events_file=events_file)
    check = flt.check(make_batch(ORDERS), make_book(time=at("2024-03-05 14:48")))
    assert check.observed[0] == 12.0 and math.isnan(check.observed[1])
    assert check.limit.tolist() == [30.0] * 3
    assert check.reason == (
        "event for AAPL at 2024-03-05 15:00 UTC (in 12 min) within 30 min: "
        "no opening orders before it"
    )
    everyone = flt.check(make_batch(ORDERS), make_book(time=at("2024-03-05 18:40")))
    assert everyone.observed.tolist() == [20.0] * 3
    assert everyone.reason.startswith("event for all symbols at 2024-03-05 19:00 UTC (in 20 min)")


def test_reducing_orders_pass_in_a_blackout(make_book, make_batch, at, events_file) -> None:
    flt = EventBlackoutFilter(events_file=events_file)
    book = make_book((10.0, -10.0, 0.0, 0.0, 0.0), time=at("2024-03-05 18:50"))
    check = flt.check(make_batch({"AAPL": -4.0, "SPY": 10.0, "BTC-USD": -0.1}), book)
    assert check.scale.tolist() == [1.0, 1.0, 0.0]  # BTC-USD opens a short


def test_an_event_for_another_symbol_passes(make_book, make_batch, at, events_file) -> None:
    flt = EventBlackoutFilter(events_file=events_file)
    check = flt.check(make_batch({"SPY": 5.0}), make_book(time=at("2024-03-05 14:50")))
    assert check.scale.tolist() == [1.0]
    assert check.reason == "no scheduled event for these symbols in the next 30 min"


def test_the_window_is_a_parameter(make_book, make_batch, at, events_file) -> None:
    flt = build_piece(
        FILTERS, "event_blackout", {"events_file": str(events_file), "minutes_before": 90}
    )
    check = flt.check(make_batch(ORDERS), make_book(time=at("2024-03-05 13:40")))
    assert check.scale.tolist() == [0.0, 1.0, 1.0]


def test_without_a_file_everything_passes(make_book, make_batch) -> None:
    check = EventBlackoutFilter().check(make_batch(ORDERS), make_book())
    assert check.scale.tolist() == [1.0] * 3


def test_the_file_is_read_once_when_built(make_book, make_batch, at, events_file) -> None:
    flt = EventBlackoutFilter(events_file=events_file)
    events_file.unlink()
    check = flt.check(make_batch(ORDERS), make_book(time=at("2024-03-05 14:45")))
    assert check.scale.tolist() == [0.0, 1.0, 1.0]
    assert len(flt.schedule) == 3


def test_a_missing_or_bad_file_is_one_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist") as missing:
        EventBlackoutFilter(events_file=tmp_path / "nope.csv")
    assert "event_blackout" in missing.value.hint
    bad = tmp_path / "bad.csv"
    bad.write_text("when,symbol\n2024-01-01,AAPL\n")
    with pytest.raises(DataError, match="no 'time' column"):
        build_piece(FILTERS, "event_blackout", {"events_file": str(bad)})


def test_filters_from_the_same_file_are_equal(events_file: Path) -> None:
    assert EventBlackoutFilter(events_file=events_file) == EventBlackoutFilter(
        events_file=events_file
    )


def test_a_file_with_no_events_passes_everything(make_book, make_batch, tmp_path) -> None:
    path = tmp_path / "none.csv"
    path.write_text("time,symbol\n")
    check = EventBlackoutFilter(events_file=path).check(make_batch(ORDERS), make_book())
    assert check.scale.tolist() == [1.0] * 3
