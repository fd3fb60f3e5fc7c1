"""The regime-filter contract, run over every member of ``FILTERS``.

On random books, times and market values, every filter:

- answers one factor in [0, 1] per intent, with ``observed`` and ``limit`` aligned with the
  batch and a non-empty one-line ``rule`` and ``reason``;
- touches only opening parts: an intent that only reduces (or is zero) gets 1, and applied as
  the manager applies it (``scale_opening``) no order grows or changes side;
- at its defaults, with no market values and no features, passes everything (a filter whose
  only input is the clock, which is never missing, is the exception);
- depends only on the book: books built from histories that agree before ``t`` give the same
  answer whatever happened after, the answer does not depend on earlier calls, and neither
  the book nor the batch is changed;
- and the event blackout ignores events outside ``[t, t + window]``.

Each member is checked at its defaults; the event blackout also with an events file, since at
its defaults it has no events.
"""

from __future__ import annotations

import copy
import math
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import alphaforge.risk.filters  # noqa: F401  (registers the filters)
from alphaforge.config.pieces import build_piece
from alphaforge.core.types import AssetClass, Instrument
from alphaforge.portfolio.book import Book, IntentBatch, Universe, opens, scale_opening
from alphaforge.risk.pieces import FILTERS, FilterCheck, RegimeFilter

INSTRUMENTS = (
    Instrument("AAPL", AssetClass.STOCK, sector="Technology"),
    Instrument("XOM", AssetClass.STOCK, sector="Energy"),
    Instrument("SPY", AssetClass.ETF),
    Instrument("BTC-USD", AssetClass.CRYPTO, lot_size=1e-8),
    Instrument("SOL-USD", AssetClass.CRYPTO, lot_size=1e-8),
    Instrument("EURUSD", AssetClass.FOREX),
    Instrument("USDJPY", AssetClass.FOREX),
    Instrument("^VIX", AssetClass.INDEX),
)
UNIVERSE = Universe.of(INSTRUMENTS)
N = len(UNIVERSE)
SYMBOLS = (*UNIVERSE.symbols, "ZZZ", "")  # "ZZZ": not in the universe; "": every symbol
START = pd.Timestamp("2024-01-01", tz="UTC")
DAYS = 30  # books and events fall in [START, START + DAYS days]
NAMES = FILTERS.names()
MARKET_KEYS = ("vix_level", "benchmark_above_200", "btc_vol_30")
EXAMPLES = 40

quantities = st.one_of(
    st.just(0.0),
    st.sampled_from([1.0, -1.0, 10.0, -10.0, 0.5]),
    st.floats(-1e4, 1e4, allow_nan=False, allow_subnormal=False),
)
minutes = st.integers(0, DAYS * 24 * 60).map(lambda m: START + pd.Timedelta(minutes=m))
times = st.one_of(
    minutes,
    # Seconds too, and other time zones (a filter reads them in UTC).
    st.integers(0, DAYS * 86_400).map(
        lambda s: (START + pd.Timedelta(seconds=s)).tz_convert("America/New_York")
    ),
)
maybe_nan = st.one_of(st.just(math.nan), st.floats(-1.0, 100.0, allow_nan=False))
market_values = {
    "vix_level": st.one_of(st.just(math.nan), st.floats(5.0, 90.0), st.sampled_from([25.0, 30.0])),
    "benchmark_above_200": st.sampled_from([0.0, 1.0, math.nan]),
    "btc_vol_30": st.one_of(st.just(math.nan), st.floats(0.0, 3.0), st.just(0.8)),
}


@st.composite
def markets(draw: st.DrawFn) -> dict[str, float]:
    """Return market values, each present or not."""
    return {k: draw(s) for k, s in market_values.items() if draw(st.booleans())}


@st.composite
def feature_sets(draw: st.DrawFn) -> dict[str, np.ndarray]:
    """Return per-symbol features (``beta_60`` present or not, NaN here and there)."""
    if not draw(st.booleans()):
        return {}
    betas = draw(
        st.lists(st.one_of(st.just(math.nan), st.floats(-1.0, 4.0)), min_size=N, max_size=N)
    )
    return {"beta_60": np.array(betas)}


@st.composite
def batches(draw: st.DrawFn) -> IntentBatch:
    """Return orders for distinct symbols of the universe."""
    index = draw(st.lists(st.integers(0, N - 1), max_size=N, unique=True))
    quantity = [draw(quantities) for _ in index]
    return IntentBatch.of(index, quantity)


def make_book(
    time: pd.Timestamp,
    units: np.ndarray,
    market: Mapping[str, float],
    features: Mapping[str, np.ndarray],
) -> Book:
    prices = np.array([180.0, 110.0, 500.0, 60_000.0, 150.0, 1.08, 150.0, 15.0])
    return Book(UNIVERSE, time, 100_000.0, units, prices, dict(features), dict(market))


@st.composite
def cases(draw: st.DrawFn) -> tuple[IntentBatch, Book]:
    """Return a batch and a random book at a random time."""
    units = np.array([draw(quantities) for _ in range(N)])
    book = make_book(draw(times), units, draw(markets()), draw(feature_sets()))
    return draw(batches()), book


@pytest.fixture(scope="module")
def events_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return an events CSV: one event a day for half the symbols, some for every symbol."""
    rows = ["time,symbol"]
    for day in range(DAYS):
        for k, symbol in enumerate(SYMBOLS):
            if (day + k) % 2 == 0:
                at = START + pd.Timedelta(days=day, hours=13 + k % 4, minutes=30 * (k % 2))
                rows.append(f"{at.isoformat()},{symbol}")
    path = tmp_path_factory.mktemp("events") / "events.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def configured(name: str, events_file: Path) -> list[RegimeFilter]:
    """Return the filter at its defaults and, where defaults leave it idle, with inputs."""
    pieces = [build_piece(FILTERS, name, {})]
    if name == "event_blackout":
        pieces.append(build_piece(FILTERS, name, {"events_file": str(events_file)}))
    return pieces


def assert_same(a: FilterCheck, b: FilterCheck) -> None:
    np.testing.assert_array_equal(a.scale, b.scale)
    np.testing.assert_array_equal(a.observed, b.observed)
    np.testing.assert_array_equal(a.limit, b.limit)
    assert (a.rule, a.reason) == (b.rule, b.reason)


def test_every_issue_filter_is_registered() -> None:
    expected = {
        "vix",
        "bear_market",
        "crypto_volatility",
        "beta",
        "forex_session",
        "event_blackout",
    }
    assert expected <= set(NAMES)
    for name in NAMES:
        cls = FILTERS.get(name)
        assert cls.piece_name == name and cls.summary and "\n" not in cls.summary
        # What it reads, for the missing-input contract and `alphaforge risk list`.
        inputs = cls.inputs
        assert inputs and all(
            i == "time" or i == "events_file" or i.startswith(("market.", "features."))
            for i in inputs
        )


@pytest.mark.parametrize("name", NAMES)
def test_factors_in_unit_interval_on_opening_parts_only(name: str, events_file: Path) -> None:
    pieces = configured(name, events_file)

    @settings(max_examples=EXAMPLES, deadline=None)
    @given(case=cases())
    def prop(case: tuple[IntentBatch, Book]) -> None:
        batch, book = case
        held = batch.held(book)
        for flt in pieces:
            check = flt.check(batch, book)
            for values in (check.scale, check.observed, check.limit):
                assert values.shape == (len(batch),) and values.dtype == np.float64
            assert np.all(np.isfinite(check.scale))
            assert np.all((check.scale >= 0.0) & (check.scale <= 1.0))
            for text in (check.rule, check.reason):
                assert isinstance(text, str) and text.strip() and "\n" not in text
            opening = opens(held, batch.quantity)
            assert np.all(check.scale[~opening] == 1.0), "a reducing order was scaled"
            after = scale_opening(held, batch.quantity, check.scale)
            assert np.all(np.abs(after) <= np.abs(batch.quantity) + 1e-9)
            assert np.all(after * batch.quantity >= 0.0), "an order changed side"
            np.testing.assert_array_equal(after[~opening], batch.quantity[~opening])

    prop()


@pytest.mark.parametrize("name", NAMES)
def test_missing_inputs_pass_everything(name: str) -> None:
    flt = build_piece(FILTERS, name, {})
    clock_only = FILTERS.get(name).inputs == ("time",)

    @settings(max_examples=EXAMPLES, deadline=None)
    @given(case=cases(), units=st.lists(quantities, min_size=N, max_size=N))
    def prop(case: tuple[IntentBatch, Book], units: list[float]) -> None:
        batch, full = case
        empty = make_book(full.time, np.array(units), {}, {})
        unknown = make_book(
            full.time,
            np.array(units),
            dict.fromkeys(MARKET_KEYS, math.nan),
            {"beta_60": np.full(N, np.nan)},
        )
        if clock_only:
            # Its only input is never missing; market values and features change nothing.
            same = make_book(full.time, np.array(units), full.market, full.features)
            assert_same(flt.check(batch, empty), flt.check(batch, same))
            assert_same(flt.check(batch, unknown), flt.check(batch, same))
        else:
            assert np.all(flt.check(batch, empty).scale == 1.0)
            assert np.all(flt.check(batch, unknown).scale == 1.0)

    prop()


@dataclass(frozen=True)
class History:
    """Market values and features per daily bar; a book at t sees the last bar closed before t."""

    closes: tuple[pd.Timestamp, ...]
    market: tuple[dict[str, float], ...]
    betas: tuple[np.ndarray | None, ...]

    def book(self, time: pd.Timestamp, units: np.ndarray) -> Book:
        known = [k for k, close in enumerate(self.closes) if close < time]
        if not known:
            return make_book(time, units, {}, {})
        last = known[-1]
        beta = self.betas[last]
        features = {} if beta is None else {"beta_60": beta.copy()}
        return make_book(time, units.copy(), dict(self.market[last]), features)


@st.composite
def histories(draw: st.DrawFn, closes: tuple[pd.Timestamp, ...]) -> History:
    market = tuple(draw(markets()) for _ in closes)
    betas = tuple(draw(feature_sets()).get("beta_60") for _ in closes)
    return History(closes, market, betas)


@pytest.mark.parametrize("name", NAMES)
def test_the_answer_at_t_depends_only_on_what_is_known_at_t(name: str, events_file: Path) -> None:
    pieces = configured(name, events_file)
    closes = tuple(START + pd.Timedelta(days=d, hours=21) for d in range(DAYS))

    @settings(max_examples=EXAMPLES, deadline=None)
    @given(
        past=histories(closes),
        future=histories(closes),
        time=minutes,
        batch=batches(),
        units=st.lists(quantities, min_size=N, max_size=N),
        other=cases(),
    )
    def prop(
        past: History,
        future: History,
        time: pd.Timestamp,
        batch: IntentBatch,
        units: list[float],
        other: tuple[IntentBatch, Book],
    ) -> None:
        # The same bars up to t, anything after: the books at t are equal.
        cut = sum(1 for close in closes if close < time)
        rewritten = History(
            closes, past.market[:cut] + future.market[cut:], past.betas[:cut] + future.betas[cut:]
        )
        held = np.array(units)
        book, twin = past.book(time, held), rewritten.book(time, held)
        for flt in pieces:
            kept = (copy.deepcopy(batch), copy.deepcopy(book))
            first = flt.check(batch, book)
            flt.check(*other)  # no state may carry over from another call
            assert_same(first, flt.check(copy.deepcopy(batch), twin))
            np.testing.assert_array_equal(batch.quantity, kept[0].quantity)
            np.testing.assert_array_equal(book.units, kept[1].units)
            assert _same_market(book.market, kept[1].market)
            for key, values in kept[1].features.items():
                np.testing.assert_array_equal(book.features[key], values)

    prop()


def _same_market(a: Mapping[str, float], b: Mapping[str, float]) -> bool:
    return a.keys() == b.keys() and all(
        (math.isnan(a[k]) and math.isnan(b[k])) or a[k] == b[k] for k in a
    )


event_offsets = st.integers(-3 * 24 * 60, 3 * 24 * 60)  # minutes from t


@st.composite
def event_rows(draw: st.DrawFn, time: pd.Timestamp, lo: int, hi: int) -> list[str]:
    """Return CSV rows of events between ``lo`` and ``hi`` minutes from ``time``."""
    n = draw(st.integers(0, 6))
    rows = []
    for _ in range(n):
        at = time + pd.Timedelta(seconds=draw(st.integers(lo * 60, hi * 60)))
        rows.append(f"{at.isoformat()},{draw(st.sampled_from(SYMBOLS))}")
    return rows


def test_event_blackout_ignores_events_outside_the_window() -> None:
    @settings(max_examples=EXAMPLES * 2, deadline=None)
    @given(data=st.data(), case=cases(), window=st.sampled_from([30.0, 5.0, 90.0]))
    def prop(data: st.DataObject, case: tuple[IntentBatch, Book], window: float) -> None:
        batch, book = case
        t = pd.Timestamp(book.time).tz_convert("UTC")
        near = data.draw(event_rows(t, 0, int(window)))
        # Strictly after t + window (by at least a second) or strictly before t.
        later = data.draw(event_rows(t + pd.Timedelta(minutes=window, seconds=1), 0, 3 * 24 * 60))
        earlier = data.draw(event_rows(t - pd.Timedelta(seconds=1), -3 * 24 * 60, 0))
        with tempfile.TemporaryDirectory() as tmp:
            only_near = _write(Path(tmp) / "near.csv", near)
            everything = _write(Path(tmp) / "all.csv", earlier + near + later)
            params: dict[str, Any] = {"minutes_before": window}
            a = build_piece(FILTERS, "event_blackout", {**params, "events_file": str(only_near)})
            b = build_piece(FILTERS, "event_blackout", {**params, "events_file": str(everything)})
        assert_same(a.check(batch, book), b.check(batch, book))
        if not near:
            assert np.all(a.check(batch, book).scale == 1.0)

    prop()


def _write(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join(["time,symbol", *rows]) + "\n")
    return path
