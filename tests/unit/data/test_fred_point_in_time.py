"""FRED data reach features point in time: no feature moves before a value is published.

The T10Y2Y series comes from a recorded FRED response (``recorded/fred_t10y2y_vintages.json``,
FRED's real-time layout, illustrative values) served through the real ``requests`` stack by a
transport adapter, so nothing leaves the process. ``yield_curve_slope``, the panel feature that
reads T10Y2Y, is computed for a daily stock beside it; variants of the response add a revision
or leave a first release out, and every feature value known before that publication must be
the same as without it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd
import pytest
import requests
from requests.adapters import BaseAdapter

from alphaforge.core import AssetClass, Instrument, Interval
from alphaforge.data.sources.fred import FredSource, release_instants
from alphaforge.features.panel import PANEL_FEATURES, compute_panel_specs

RECORDED = Path(__file__).parent / "recorded"
KEY = "abcdef0123456789abcdef0123456789"
NOW = datetime(2024, 1, 2, tzinfo=UTC)
START, END = date(2019, 12, 2), date(2020, 2, 28)
SERIES = "T10Y2Y"
INSTRUMENTS = {
    "AAA": Instrument("AAA", AssetClass.STOCK),
    SERIES: Instrument(SERIES, AssetClass.MACRO),
}
INTERVALS = {"AAA": Interval.D1, SERIES: Interval.D1}

Row = dict[str, str]


class RecordedFred(BaseAdapter):
    """A ``requests`` transport answering FRED's observations endpoint from recorded rows."""

    def __init__(self, rows: list[Row]) -> None:
        super().__init__()
        self.rows = rows

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        del kwargs
        query = {k: v[-1] for k, v in parse_qs(urlsplit(str(request.url)).query).items()}
        lo, hi = query["observation_start"], query["observation_end"]
        selected = [r for r in self.rows if lo <= r["date"] <= hi]
        body = {
            "realtime_start": query["realtime_start"],
            "realtime_end": query["realtime_end"],
            "count": len(selected),
            "offset": 0,
            "limit": int(query["limit"]),
            "observations": selected,
        }
        response = requests.Response()
        response.status_code = 200
        response._content = json.dumps(body).encode()
        response.headers["Content-Type"] = "application/json"
        response.encoding = "utf-8"
        response.url = str(request.url)
        response.request = request
        return response

    def close(self) -> None:
        return None


def session_with(rows: list[Row]) -> Callable[[], requests.Session]:
    def make() -> requests.Session:
        session = requests.Session()
        session.mount("https://", RecordedFred(rows))
        return session

    return make


def recorded_rows() -> list[Row]:
    payload = json.loads((RECORDED / "fred_t10y2y_vintages.json").read_text(encoding="utf-8"))
    rows: list[Row] = payload["observations"]
    return rows


def stock_bars() -> pd.DataFrame:
    index = pd.bdate_range("2019-11-01", "2020-03-06", tz="UTC", name="timestamp").as_unit("ns")
    close = 100.0 * np.exp(np.cumsum(np.random.default_rng(3).normal(0.0, 0.01, len(index))))
    return pd.DataFrame(
        {"open": close, "high": close * 1.01, "low": close * 0.99, "close": close, "volume": 1e6},
        index=index,
    )


def slope(rows: list[Row]) -> pd.Series:
    """Return AAA's ``yield_curve_slope`` with T10Y2Y fetched from ``rows``."""
    source = FredSource(api_key=KEY, now=lambda: NOW, session_factory=session_with(rows))
    fred = source.fetch([INSTRUMENTS[SERIES]], START, END, Interval.D1)[SERIES]
    panel: Mapping[str, pd.DataFrame] = {"AAA": stock_bars(), SERIES: fred}
    spec = PANEL_FEATURES.get("yield_curve_slope")
    frames = compute_panel_specs(panel, [spec], instruments=INSTRUMENTS, intervals=INTERVALS)
    return frames["AAA"]["yield_curve_slope"]


def known_at(values: pd.Series) -> pd.DatetimeIndex:
    """Return when each daily feature row is known: its bar's close, open + 1 day."""
    return pd.DatetimeIndex(values.index) + pd.Timedelta(days=1)


def available(day: str) -> pd.Timestamp:
    return pd.Timestamp(release_instants([date.fromisoformat(day)])[0])


def test_the_feature_that_reads_fred_has_a_new_version() -> None:
    # Its values changed with the point-in-time FRED source: cached ones must not be reused.
    assert PANEL_FEATURES.get("yield_curve_slope").version == 2


def test_a_revision_a_month_after_the_first_release_changes_no_feature_before_it() -> None:
    rows = recorded_rows()
    base = slope(rows)
    assert base.notna().sum() > 30  # the feature is there to compare

    # The 2 January value, first published 3 January, is revised on 3 February.
    revised = [dict(r) for r in rows]
    first = next(i for i, r in enumerate(revised) if r["date"] == "2020-01-02")
    revised[first]["realtime_end"] = "2020-02-02"
    revised.insert(
        first + 1,
        {
            "realtime_start": "2020-02-03",
            "realtime_end": "9999-12-31",
            "date": "2020-01-02",
            "value": f"{float(revised[first]['value']) + 0.5:.2f}",
        },
    )
    after = slope(revised)

    before = known_at(base) < available("2020-02-03")
    assert before.sum() > 30
    pd.testing.assert_series_equal(after[before], base[before])
    # By then the 2 January value is no longer the latest one: the revision changes the
    # vintage table, not the value known at any later close either.
    pd.testing.assert_series_equal(after, base)


# Dates whose value differs from the one before (Friday, Monday, mid-month, month end), so
# that leaving them out changes what is known once they are published.
@pytest.mark.parametrize("day", ["2019-12-20", "2020-01-13", "2020-01-30", "2020-02-14"])
def test_a_first_release_changes_nothing_before_its_release_date(day: str) -> None:
    rows = recorded_rows()
    valued = [r for r in rows if r["value"] != "."]
    at = next(i for i, r in enumerate(valued) if r["date"] == day)
    assert valued[at]["value"] != valued[at - 1]["value"]
    with_it = slope(rows)
    (published,) = [r["realtime_start"] for r in rows if r["date"] == day]
    without = slope([r for r in rows if r["date"] != day])

    before = known_at(with_it) < available(published)
    assert before.sum() > 10
    pd.testing.assert_series_equal(with_it[before], without[before])
    # It does change the first rows known after it is published (the test can see a change).
    differs = ~np.isclose(with_it.to_numpy(), without.to_numpy(), equal_nan=True)
    assert differs.any()
    assert known_at(with_it)[differs].min() >= available(published)
