"""Corporate-actions CSV: parsing, one-line errors naming file and line, bar alignment."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest

from alphaforge.core.errors import DataError
from alphaforge.data.corporate_actions import (
    ActionKind,
    CorporateAction,
    CorporateActions,
    read_corporate_actions,
)

HEADER = "symbol,ex_date,split_ratio,dividend\n"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "actions.csv"
    path.write_text(text, encoding="utf-8")
    return path


def _utc(day: str) -> pd.Timestamp:
    return pd.Timestamp(day, tz="UTC")


def _ex_dates(*days: str) -> pd.DatetimeIndex:
    return pd.DatetimeIndex([_utc(d) for d in days], name="ex_date").as_unit("ns")


def test_splits_and_dividends_are_read_per_symbol(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        HEADER
        + "AAPL,2020-08-31,4,\n"
        + "AAPL,2020-08-07,,0.82\n"
        + "MSFT,2020-08-19,,0.51\n"
        + " NVDA , 2024-06-10 , 10 , 0.01 \n",
    )
    actions = read_corporate_actions(path)
    assert actions.path == path
    assert len(actions) == 5
    assert actions.symbols == {"AAPL", "MSFT", "NVDA"}
    pd.testing.assert_series_equal(
        actions.splits("AAPL"),
        pd.Series([4.0], index=_ex_dates("2020-08-31"), name="split_ratio"),
    )
    pd.testing.assert_series_equal(
        actions.dividends("AAPL"),
        pd.Series([0.82], index=_ex_dates("2020-08-07"), name="dividend"),
    )
    # A row with both values gives one split and one dividend, the split first.
    nvda = actions.for_session(date(2024, 6, 10))
    assert [(a.symbol, a.kind, a.value, a.line) for a in nvda] == [
        ("NVDA", ActionKind.SPLIT, 10.0, 5),
        ("NVDA", ActionKind.DIVIDEND, 0.01, 5),
    ]
    assert actions.for_session(datetime(2020, 8, 19, 13, 30)) == (
        CorporateAction("MSFT", date(2020, 8, 19), ActionKind.DIVIDEND, 0.51, 4),
    )
    assert actions.for_session(date(2020, 8, 20)) == ()


def test_a_symbol_without_actions_gets_empty_utc_series(tmp_path: Path) -> None:
    actions = read_corporate_actions(_write(tmp_path, HEADER + "AAPL,2020-08-31,4,\n"))
    for series in (actions.dividends("AAPL"), actions.splits("GOOG")):
        assert series.empty
        assert series.dtype == "float64"
        assert pd.DatetimeIndex(series.index).dtype == "datetime64[ns, UTC]"


def test_actions_are_immutable_and_sorted_by_ex_date(tmp_path: Path) -> None:
    actions = read_corporate_actions(
        _write(tmp_path, HEADER + "B,2021-01-05,,1\nA,2021-01-05,,1\nA,2020-01-02,2,\n")
    )
    assert [(a.symbol, a.ex_date.isoformat()) for a in actions.actions] == [
        ("A", "2020-01-02"),
        ("A", "2021-01-05"),
        ("B", "2021-01-05"),
    ]
    with pytest.raises(dataclasses.FrozenInstanceError):
        actions.actions = ()  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        actions.actions[0].value = 3.0  # type: ignore[misc]
    # A returned series is a copy: changing it leaves the actions as they were.
    splits = actions.splits("A")
    splits.iloc[0] = 99.0
    assert actions.splits("A").iloc[0] == 2.0


def test_either_value_column_may_be_left_out_and_blank_lines_are_skipped(
    tmp_path: Path,
) -> None:
    splits_only = read_corporate_actions(
        _write(tmp_path, "ex_date,symbol,split_ratio\n\n2022-07-18,GOOG,20\n")
    )
    assert splits_only.splits("GOOG").to_dict() == {_utc("2022-07-18"): 20.0}
    assert read_corporate_actions(_write(tmp_path, "symbol,ex_date,dividend\n")).actions == ()


def test_on_bars_lands_each_action_on_the_first_bar_of_its_ex_date() -> None:
    actions = CorporateActions(
        (
            CorporateAction("X", date(2024, 1, 3), ActionKind.SPLIT, 2.0),
            CorporateAction("X", date(2024, 1, 3), ActionKind.DIVIDEND, 0.5),
            # Ex-dates on a weekend: both land on Monday's bar, ratios multiply, cash adds.
            CorporateAction("X", date(2024, 1, 6), ActionKind.SPLIT, 3.0),
            CorporateAction("X", date(2024, 1, 7), ActionKind.SPLIT, 0.5),
            CorporateAction("X", date(2024, 1, 6), ActionKind.DIVIDEND, 0.25),
            CorporateAction("X", date(2024, 1, 7), ActionKind.DIVIDEND, 0.5),
            # Before or on the first bar's date, and after the last bar: no bar.
            CorporateAction("X", date(2023, 12, 1), ActionKind.SPLIT, 4.0),
            CorporateAction("X", date(2024, 1, 2), ActionKind.SPLIT, 4.0),
            CorporateAction("X", date(2024, 2, 1), ActionKind.DIVIDEND, 9.0),
            CorporateAction("Y", date(2024, 1, 4), ActionKind.SPLIT, 5.0),
        )
    )
    # Intraday bars (14:30 and 15:30 UTC) of Tuesday 2 Jan .. Monday 8 Jan 2024.
    days = pd.bdate_range("2024-01-02", "2024-01-08", tz="UTC")
    bars = (days + pd.Timedelta(hours=14, minutes=30)).union(days + pd.Timedelta(hours=15.5))
    got = actions.on_bars("X", bars)
    assert got.index.equals(bars)
    first_of = {t: bars[bars.normalize() == t][0] for t in days}
    expected = pd.DataFrame({"split_ratio": 1.0, "dividend": 0.0}, index=bars)
    expected.loc[first_of[_utc("2024-01-03")]] = [2.0, 0.5]
    expected.loc[first_of[_utc("2024-01-08")]] = [1.5, 0.75]
    pd.testing.assert_frame_equal(got, expected)
    none = actions.on_bars("Z", bars)
    assert (none["split_ratio"] == 1.0).all()
    assert (none["dividend"] == 0.0).all()
    assert actions.on_bars("X", pd.DatetimeIndex([], tz="UTC")).empty


def test_on_bars_refuses_naive_times() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        CorporateActions().on_bars("X", pd.DatetimeIndex(["2024-01-02"]))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("symbol,split_ratio\nA,2\n", r"line 1: missing column\(s\) ex_date"),
        ("symbol,ex_date\nA,2024-01-02\n", r"line 1: missing column\(s\) split_ratio or dividend"),
        (HEADER.replace("\n", ",note\n") + "A,2024-01-02,2,,x\n", r"unknown column\(s\) note"),
        (HEADER + "A,2024-01-02,2,\nA,soon,2,\n", r"line 3: ex_date 'soon' is not a date"),
        (HEADER + "A,2024-02-30,2,\n", r"line 2: ex_date '2024-02-30' is not a date"),
        (HEADER + "A,2024-01-02,0,\n", r"line 2: split_ratio 0 is not positive"),
        (HEADER + "A,2024-01-02,-2,\n", r"line 2: split_ratio -2 is not positive"),
        (HEADER + "A,2024-01-02,two,\n", r"line 2: split_ratio 'two' is not a finite number"),
        (HEADER + "A,2024-01-02,inf,\n", r"line 2: split_ratio 'inf' is not a finite number"),
        (HEADER + "A,2024-01-02,,-0.5\n", r"line 2: dividend -0.5 is negative"),
        (HEADER + "A,2024-01-02,,nan\n", r"line 2: dividend 'nan' is not a finite number"),
        (HEADER + ",2024-01-02,2,\n", r"line 2: the symbol is empty"),
        (HEADER + "A,2024-01-02,,\n", r"line 2: neither split_ratio nor dividend is set for A"),
        (
            HEADER + "A,2024-01-02,2,0.1\n\nB,2024-01-02,2,\nA,2024-01-02,,0.2\n",
            r"line 5: repeats the dividend of A on 2024-01-02 from line 2",
        ),
        (
            HEADER + "A,2024-01-02,2,\nA,2024-01-02,3,\n",
            r"line 3: repeats the split of A on 2024-01-02 from line 2",
        ),
        ("", "is not a readable CSV"),
    ],
)
def test_bad_files_are_one_line_data_errors_naming_file_and_line(
    tmp_path: Path, text: str, message: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(DataError, match=message) as info:
        read_corporate_actions(path)
    assert str(path) in info.value.message
    assert info.value.hint
    assert "\n" not in info.value.one_line()


def test_a_split_and_a_dividend_on_one_ex_date_are_not_duplicates(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + "A,2024-01-02,2,\nA,2024-01-02,,0.3\n")
    kinds = [a.kind for a in read_corporate_actions(path).for_session(date(2024, 1, 2))]
    assert kinds == [ActionKind.SPLIT, ActionKind.DIVIDEND]


def test_a_missing_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist") as info:
        read_corporate_actions(tmp_path / "nope.csv")
    assert "backtest.corporate_actions" in info.value.hint
