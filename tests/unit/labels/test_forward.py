"""Forward log-return labels: golden values and their start / end times."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alphaforge.core import DataError, Interval
from alphaforge.labels import LabelSet, forward_log_return

OPEN = [100.0, 102.0, 101.0, 105.0, 107.0, 104.0]
CLOSE = [101.0, 101.5, 104.0, 106.0, 105.0, 108.0]
# Monday to Friday, then the next Monday: the weekend makes "close of bar t" (t + 1 day) differ
# from "open of bar t + 1" (its timestamp) after Friday.
STAMPS = pd.DatetimeIndex(
    ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-08"],
    tz="UTC",
    name="timestamp",
)
NAN = math.nan


def _bars() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "open": OPEN,
            "high": [max(o, c) + 1 for o, c in zip(OPEN, CLOSE, strict=True)],
            "low": [min(o, c) - 1 for o, c in zip(OPEN, CLOSE, strict=True)],
            "close": CLOSE,
            "volume": [1e6] * 6,
        },
        index=STAMPS,
    )


def ts(day: int) -> pd.Timestamp:
    return pd.Timestamp(2024, 1, day, tz="UTC")


L = math.log
# Each row: log(exit price / entry price), written out by hand from OPEN and CLOSE above.
GOLDEN: dict[tuple[str, str, int], list[float]] = {
    # entry open[t+1], exit open[t+2]
    ("next_open", "open", 1): [L(101 / 102), L(105 / 101), L(107 / 105), L(104 / 107), NAN, NAN],
    # entry open[t+1], exit close[t+1]
    ("next_open", "close", 1): [
        L(101.5 / 102),
        L(104 / 101),
        L(106 / 105),
        L(105 / 107),
        L(108 / 104),
        NAN,
    ],
    # entry close[t], exit open[t+2]
    ("close", "open", 1): [L(101 / 101), L(105 / 101.5), L(107 / 104), L(104 / 106), NAN, NAN],
    # entry close[t], exit close[t+1]
    ("close", "close", 1): [
        L(101.5 / 101),
        L(104 / 101.5),
        L(106 / 104),
        L(105 / 106),
        L(108 / 105),
        NAN,
    ],
    # entry open[t+1], exit open[t+4]
    ("next_open", "open", 3): [L(107 / 102), L(104 / 101), NAN, NAN, NAN, NAN],
    # entry open[t+1], exit close[t+3]
    ("next_open", "close", 3): [L(106 / 102), L(105 / 101), L(108 / 105), NAN, NAN, NAN],
    # entry close[t], exit open[t+4]
    ("close", "open", 3): [L(107 / 101), L(104 / 101.5), NAN, NAN, NAN, NAN],
    # entry close[t], exit close[t+3]
    ("close", "close", 3): [L(106 / 101), L(105 / 101.5), L(108 / 104), NAN, NAN, NAN],
}

# When the exit price prints: open of bar t+h+1 is its timestamp; close of bar t+h is its
# timestamp plus one day.
NAT = pd.NaT
END: dict[tuple[str, int], list[pd.Timestamp]] = {
    ("open", 1): [ts(3), ts(4), ts(5), ts(8), NAT, NAT],
    ("close", 1): [ts(3), ts(4), ts(5), ts(6), ts(9), NAT],
    ("open", 3): [ts(5), ts(8), NAT, NAT, NAT, NAT],
    ("close", 3): [ts(5), ts(6), ts(9), NAT, NAT, NAT],
}


@pytest.mark.parametrize(("entry", "exit", "horizon"), list(GOLDEN))
def test_golden_values(entry: str, exit: str, horizon: int) -> None:
    labels = forward_log_return(_bars(), Interval.D1, horizon, entry=entry, exit=exit)  # type: ignore[arg-type]
    expected = np.array(GOLDEN[(entry, exit, horizon)])
    np.testing.assert_allclose(labels.values.to_numpy(), expected, rtol=0, atol=1e-15)
    assert labels.values.name == f"fwd_logret_{horizon}"
    assert labels.values.index.equals(STAMPS)


@pytest.mark.parametrize(("entry", "exit", "horizon"), list(GOLDEN))
def test_start_is_bar_close(entry: str, exit: str, horizon: int) -> None:
    labels = forward_log_return(_bars(), Interval.D1, horizon, entry=entry, exit=exit)  # type: ignore[arg-type]
    assert list(labels.start) == [ts(2), ts(3), ts(4), ts(5), ts(6), ts(9)]
    assert labels.start.index.equals(STAMPS)


@pytest.mark.parametrize(("entry", "exit", "horizon"), list(GOLDEN))
def test_end_is_when_exit_price_is_known(entry: str, exit: str, horizon: int) -> None:
    labels = forward_log_return(_bars(), Interval.D1, horizon, entry=entry, exit=exit)  # type: ignore[arg-type]
    expected = END[(exit, horizon)]
    got = list(labels.end)
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        if e is NAT:
            assert pd.isna(g)
        else:
            assert g == e
    assert str(labels.end.dtype) == "datetime64[ns, UTC]"
    assert labels.end.index.equals(STAMPS)
    # NaT exactly where the value is NaN.
    assert (labels.end.isna() == labels.values.isna()).all()


def test_default_is_next_open_to_open() -> None:
    a = forward_log_return(_bars(), Interval.D1, 1)
    b = forward_log_return(_bars(), Interval.D1, 1, entry="next_open", exit="open")
    pd.testing.assert_series_equal(a.values, b.values)


def test_intraday_interval_offsets_start_by_one_hour() -> None:
    bars = _bars()
    bars.index = pd.date_range("2024-01-01 14:00", periods=6, freq="h", tz="UTC", name="timestamp")
    labels = forward_log_return(bars, Interval.H1, 1, exit="close")
    assert labels.start.iloc[0] == pd.Timestamp("2024-01-01 15:00", tz="UTC")
    # Close of bar 1 (14:00 + 1h) is known at 16:00.
    assert labels.end.iloc[0] == pd.Timestamp("2024-01-01 16:00", tz="UTC")


def test_dropna_keeps_known_rows() -> None:
    labels = forward_log_return(_bars(), Interval.D1, 3).dropna()
    assert isinstance(labels, LabelSet)
    assert list(labels.values.index) == list(STAMPS[:2])
    assert list(labels.start.index) == list(STAMPS[:2])
    assert list(labels.end) == [ts(5), ts(8)]


def test_horizon_must_be_positive() -> None:
    with pytest.raises(ValueError, match="horizon"):
        forward_log_return(_bars(), Interval.D1, 0)


def test_non_canonical_bars_are_refused() -> None:
    bars = _bars()
    bars.index = bars.index.tz_localize(None)
    with pytest.raises(DataError):
        forward_log_return(bars, Interval.D1, 1)


@settings(max_examples=40, deadline=None)
@given(
    gaps=st.lists(st.integers(1, 4), min_size=2, max_size=40),
    horizon=st.integers(1, 6),
    entry=st.sampled_from(["next_open", "close"]),
    exit=st.sampled_from(["open", "close"]),
    seed=st.integers(0, 2**16),
)
def test_label_end_is_after_start(
    gaps: list[int], horizon: int, entry: str, exit: str, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    n = len(gaps)
    days = np.cumsum(gaps)
    index = pd.DatetimeIndex(
        pd.Timestamp("2020-01-01", tz="UTC") + pd.to_timedelta(days, unit="D"), name="timestamp"
    )
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
    open_ = close * np.exp(rng.normal(0, 0.01, n))
    bars = pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * 1.01,
            "low": np.minimum(open_, close) * 0.99,
            "close": close,
            "volume": np.full(n, 1e5),
        },
        index=index,
    )
    labels = forward_log_return(bars, Interval.D1, horizon, entry=entry, exit=exit)  # type: ignore[arg-type]
    known = labels.end.notna()
    assert (labels.end[known] > labels.start[known]).all()
    # The exit price is never known before the decision bar has closed plus the horizon.
    assert (labels.end[known] >= labels.start[known] + pd.Timedelta(days=horizon)).all()
    # The last `horizon` (+1 for an open exit) rows have no label.
    n_missing = horizon + (1 if exit == "open" else 0)
    assert labels.values.iloc[n - n_missing :].isna().all()
    assert labels.values.iloc[: max(n - n_missing, 0)].notna().all()
    assert int(known.sum()) == max(n - n_missing, 0)


def test_time_unit_of_the_index_does_not_change_labels() -> None:
    ns = forward_log_return(_bars(), Interval.D1, 2, exit="close")
    bars = _bars()
    bars.index = bars.index.as_unit("us")
    us = forward_log_return(bars, Interval.D1, 2, exit="close")
    np.testing.assert_array_equal(us.values.to_numpy(), ns.values.to_numpy())
    assert list(us.start) == list(ns.start)
    assert [str(x) for x in us.end] == [str(x) for x in ns.end]
