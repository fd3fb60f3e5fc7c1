"""Forex session filter: forex opening orders x 0.5 in the Asian session (22:00-09:00 UTC)."""

from __future__ import annotations

import pandas as pd
import pytest

from alphaforge.config.pieces import build_piece
from alphaforge.core.errors import ConfigError
from alphaforge.risk.filters.forex_session import ForexSessionFilter
from alphaforge.risk.pieces import FILTERS

ORDERS = {"EURUSD": 1000.0, "AAPL": 10.0}


@pytest.mark.parametrize(
    ("clock", "scale"),
    [
        ("22:00", 0.5),
        ("23:30", 0.5),
        ("00:00", 0.5),
        ("03:15", 0.5),
        ("08:59", 0.5),
        ("09:00", 1.0),
        ("14:30", 1.0),
        ("21:59", 1.0),
    ],
)
def test_asian_hours_halve_forex_opening_orders(make_book, make_batch, at, clock, scale) -> None:
    book = make_book(time=at(f"2024-03-05 {clock}"))
    check = ForexSessionFilter().check(make_batch(ORDERS), book)
    assert check.scale.tolist() == [scale, 1.0]


def test_reason_and_observed_hour(make_book, make_batch, at) -> None:
    check = ForexSessionFilter().check(make_batch(ORDERS), make_book(time=at("2024-03-05 03:15")))
    assert check.observed.tolist() == [3.25, 3.25]
    assert check.reason == (
        "03:15 UTC is in the Asian session (22:00-09:00 UTC): forex opening orders x 0.5"
    )


def test_times_in_other_zones_and_naive_times_are_read_in_utc(make_book, make_batch) -> None:
    flt = ForexSessionFilter()
    new_york = pd.Timestamp("2024-03-05 18:30", tz="America/New_York")  # 23:30 UTC
    assert flt.check(make_batch(ORDERS), make_book(time=new_york)).scale[0] == 0.5
    naive = pd.Timestamp("2024-03-05 12:00")
    assert flt.check(make_batch(ORDERS), make_book(time=naive)).scale[0] == 1.0


def test_reducing_a_forex_position_passes(make_book, make_batch, at) -> None:
    book = make_book((0.0, 0.0, 0.0, 0.0, 5000.0), time=at("2024-03-05 02:00"))
    check = ForexSessionFilter().check(make_batch({"EURUSD": -1000.0}), book)
    assert check.scale.tolist() == [1.0]


def test_a_session_that_does_not_wrap_midnight(make_book, make_batch, at) -> None:
    flt = build_piece(FILTERS, "forex_session", {"start_hour": 0, "end_hour": 8})
    inside = flt.check(make_batch(ORDERS), make_book(time=at("2024-03-05 07:59")))
    outside = flt.check(make_batch(ORDERS), make_book(time=at("2024-03-05 23:00")))
    assert (inside.scale[0], outside.scale[0]) == (0.5, 1.0)


@pytest.mark.parametrize("params", [{"start_hour": 9, "end_hour": 9}, {"end_hour": 24}])
def test_bad_sessions_are_one_config_error(params) -> None:
    with pytest.raises(ConfigError, match=r"^Regime filter 'forex_session': "):
        build_piece(FILTERS, "forex_session", params)
