"""``time_stop``: close positions held for max_bars bars (on their calendar) or max_days."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from tests.unit.risk.stops._book import SYMBOLS, batch_of, make_book

from alphaforge.config.pieces import build_piece
from alphaforge.core.errors import ConfigError
from alphaforge.core.types import Interval
from alphaforge.risk.pieces import STOPS
from alphaforge.risk.stops import TimeStop

TUESDAY = pd.Timestamp("2024-01-02", tz="UTC")
HELD = {"AAPL": 10.0, "BTC-USD": 0.1}
OPENED = {"AAPL": TUESDAY, "BTC-USD": TUESDAY}


def _closed(rule: TimeStop, time: pd.Timestamp, **kwargs: object) -> list[str]:
    book = make_book(units=HELD, opened_at=OPENED, time=time, **kwargs)  # type: ignore[arg-type]
    return [SYMBOLS[k] for k in rule.exits(book).tolist()]


def test_bars_are_counted_on_each_calendar() -> None:
    rule = TimeStop(max_bars=5)
    # XNYS sessions Jan 2, 3, 4, 5, 8: five bars have started by Jan 8 14:30, four by Jan 8.
    # BTC trades every day: four bars have started by Jan 6 00:00, five by Jan 6 12:00.
    assert _closed(rule, pd.Timestamp("2024-01-06", tz="UTC")) == []
    assert _closed(rule, pd.Timestamp("2024-01-06 12:00", tz="UTC")) == ["BTC-USD"]
    assert _closed(rule, pd.Timestamp("2024-01-07", tz="UTC")) == ["BTC-USD"]
    assert _closed(rule, pd.Timestamp("2024-01-08", tz="UTC")) == ["BTC-USD"]
    assert _closed(rule, pd.Timestamp("2024-01-08 14:30", tz="UTC")) == ["AAPL", "BTC-USD"]


def test_intraday_bars() -> None:
    rule = TimeStop(max_bars=5, interval=Interval.H1)
    opened = {"BTC-USD": pd.Timestamp("2024-01-02 10:00", tz="UTC")}
    book = make_book(units={"BTC-USD": 1.0}, opened_at=opened)
    at = [pd.Timestamp(f"2024-01-02 {h}:00", tz="UTC") for h in (14, 15)]
    assert [rule.exits(replace(book, time=t)).tolist() for t in at] == [
        [],
        [SYMBOLS.index("BTC-USD")],
    ]


def test_calendar_days() -> None:
    rule = TimeStop(max_bars=None, max_days=2.5)
    assert _closed(rule, pd.Timestamp("2024-01-04 11:59", tz="UTC")) == []
    assert _closed(rule, pd.Timestamp("2024-01-04 12:00", tz="UTC")) == ["AAPL", "BTC-USD"]


def test_flat_or_unknown_positions_are_left_alone() -> None:
    rule = TimeStop(max_days=1.0)
    late = pd.Timestamp("2024-03-01", tz="UTC")
    book = make_book(units={"AAPL": 10.0}, opened_at={"SPY": TUESDAY}, time=late)
    assert rule.exits(book).tolist() == []
    no_times = make_book(units=HELD, time=late)
    assert rule.exits(no_times).tolist() == []
    assert rule.exits(replace(no_times, opened_at=None)).size == 0


def test_sets_no_exits_on_intents() -> None:
    levels = TimeStop().levels(batch_of({"AAPL": 1}), make_book())
    assert np.isnan([levels.stop, levels.take, levels.trail]).all()


def test_needs_a_bound() -> None:
    with pytest.raises(ConfigError, match="max_bars or max_days"):
        build_piece(STOPS, "time_stop", {"max_bars": None})
