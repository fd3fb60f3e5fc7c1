"""The stop-rule contract, run over every member of ``STOPS`` at its defaults.

On random books and batches (Hypothesis): each output has one float per intent; only intents
that open, add to or reverse a position get exits; a long's stop lies strictly between zero
and its price and its take-profit above it, a short's stop above its price and its
take-profit strictly between zero and its price; a trail lies in (0, 1); every intent's exits
make a valid :class:`~alphaforge.core.orders.Bracket`. Causality: the levels are a function of
the book and the batch alone (the same on fresh copies, on a later call, and for each intent
whether alone or in any batch) and do not change their inputs. ``exits`` names held
positions only.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import alphaforge.risk.stops as stops_package
from alphaforge.config.pieces import build_piece
from alphaforge.core.orders import Bracket
from alphaforge.core.types import AssetClass, Instrument
from alphaforge.portfolio.book import Book, IntentBatch, Universe
from alphaforge.risk.pieces import STOPS, ExitLevels, StopRule

NAMES = STOPS.names()
INSTRUMENTS = (
    Instrument("AAPL", AssetClass.STOCK, sector="Technology"),
    Instrument("SPY", AssetClass.ETF),
    Instrument("BTC-USD", AssetClass.CRYPTO, lot_size=0.0001),
    Instrument("ETH-USD", AssetClass.CRYPTO, lot_size=0.001),
    Instrument("SOL-USD", AssetClass.CRYPTO, lot_size=0.01),
    Instrument("EURUSD", AssetClass.FOREX, lot_size=1000),
    Instrument("USDJPY", AssetClass.FOREX, currency="JPY", lot_size=1000),
    Instrument("EURGBP", AssetClass.FOREX, currency="GBP", lot_size=1000),
    Instrument("USDTRY=X", AssetClass.FOREX, currency="TRY", lot_size=1000),
    Instrument("ES", AssetClass.FUTURE),
)
UNIVERSE = Universe.of(INSTRUMENTS)
N = len(INSTRUMENTS)
# Files of the package that hold no rule.
HELPERS = {"__init__", "common", "checks"}

prices = st.one_of(st.just(math.nan), st.floats(1e-4, 1e6))
sizes = st.floats(1e-6, 1e6)
maybe = st.one_of(st.just(math.nan), st.floats(-1e6, 1e6))


def _per_symbol(draw: st.DrawFn, values: st.SearchStrategy[float]) -> np.ndarray:
    return np.array(draw(st.lists(values, min_size=N, max_size=N)), dtype=np.float64)


@st.composite
def books(draw: st.DrawFn) -> Book:
    """Return a random book over ``UNIVERSE``: some names held, some unpriced, any weekday."""
    time = pd.Timestamp(
        draw(st.datetimes(pd.Timestamp("2020-01-01"), pd.Timestamp("2030-01-01")))
    ).tz_localize("UTC")
    held = st.one_of(st.just(0.0), sizes, sizes.map(lambda x: -x))
    units = _per_symbol(draw, held)
    features = {}
    for name, values in (
        ("atr_14", st.one_of(st.just(math.nan), st.floats(0.0, 1e6))),
        ("q10", st.one_of(st.just(math.nan), st.floats(-2.0, 1.0))),
        ("q90", st.one_of(st.just(math.nan), st.floats(-1.0, 2.0))),
    ):
        if draw(st.booleans()):
            features[name] = _per_symbol(draw, values)
    first = pd.Timestamp("2019-01-01", tz="UTC").value
    opened = np.array(
        draw(
            st.lists(st.one_of(st.just(-1), st.integers(first, time.value)), min_size=N, max_size=N)
        ),
        dtype=np.int64,
    )
    return Book(
        UNIVERSE,
        time,
        draw(st.floats(1.0, 1e9)),
        units,
        _per_symbol(draw, prices),
        features=features,
        stops=_per_symbol(draw, maybe) if draw(st.booleans()) else None,
        opened_at=opened,
    )


@st.composite
def batches(draw: st.DrawFn) -> IntentBatch:
    """Return a batch of orders for distinct symbols, some with exits of their own."""
    index = draw(st.lists(st.integers(0, N - 1), min_size=0, max_size=N, unique=True))
    n = len(index)
    quantity = draw(st.lists(st.one_of(sizes, sizes.map(lambda x: -x)), min_size=n, max_size=n))
    exits = st.lists(st.one_of(st.just(math.nan), st.floats(1e-4, 1e6)), min_size=n, max_size=n)
    trail = st.lists(st.one_of(st.just(math.nan), st.floats(0.001, 0.999)), min_size=n, max_size=n)
    return IntentBatch.of(
        index,
        quantity,
        stop=np.array(draw(exits), dtype=np.float64),
        take=np.array(draw(exits), dtype=np.float64),
        trail=np.array(draw(trail), dtype=np.float64),
    )


def _rule(name: str) -> StopRule:
    return build_piece(STOPS, name, {})


def _check_levels(levels: ExitLevels, batch: IntentBatch, book: Book) -> None:
    n = len(batch)
    for values in (levels.stop, levels.take, levels.trail):
        assert values.shape == (n,) and values.dtype == np.float64
    closing = ~batch.opening(book)
    for values in (levels.stop, levels.take, levels.trail):
        assert np.isnan(values[closing]).all(), "a non-opening intent got exits"
    price = book.prices[batch.index]
    long = (batch.held(book) + batch.quantity) > 0
    stop, take, trail = levels.stop, levels.take, levels.trail
    has_stop, has_take = np.isfinite(stop), np.isfinite(take)
    assert not np.isinf(stop).any() and not np.isinf(take).any() and not np.isinf(trail).any()
    assert (np.isfinite(price) | ~(has_stop | has_take)).all(), "an unpriced intent got levels"
    assert ((stop > 0) & (stop < price))[has_stop & long].all(), "a long's stop not below"
    assert (stop > price)[has_stop & ~long].all(), "a short's stop not above its price"
    assert (take > price)[has_take & long].all(), "a long's take-profit not above its price"
    assert ((take > 0) & (take < price))[has_take & ~long].all(), "a short's take not below"
    finite = np.isfinite(trail)
    assert ((trail > 0) & (trail < 1))[finite].all(), "a trail outside (0, 1)"
    for k in range(n):
        Bracket(
            stop_price=float(stop[k]) if has_stop[k] else None,
            take_profit=float(take[k]) if has_take[k] else None,
            trail_percent=float(trail[k]) if finite[k] else None,
        )


def _same(a: ExitLevels, b: ExitLevels) -> None:
    for x, y in ((a.stop, b.stop), (a.take, b.take), (a.trail, b.trail)):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("name", NAMES)
def test_levels_contract(name: str) -> None:
    rule = _rule(name)

    @settings(max_examples=80, deadline=None)
    @given(book=books(), batch=batches(), data=st.data())
    def prop(book: Book, batch: IntentBatch, data: st.DataObject) -> None:
        book_copy, batch_copy = copy.deepcopy(book), copy.deepcopy(batch)
        levels = rule.levels(batch, book)
        _check_levels(levels, batch, book)
        # Nothing changed the inputs, and the same inputs give the same levels.
        _same(rule.levels(batch, book), levels)
        _same(rule.levels(batch_copy, book_copy), levels)
        np.testing.assert_array_equal(book.units, book_copy.units)
        np.testing.assert_array_equal(book.prices, book_copy.prices)
        np.testing.assert_array_equal(batch.quantity, batch_copy.quantity)
        np.testing.assert_array_equal(batch.stop, batch_copy.stop)
        # Each intent's exits are its own: any sub-batch, in any order, gives the same rows.
        if len(batch):
            rows = data.draw(st.permutations(range(len(batch))))[
                : data.draw(st.integers(1, len(batch)))
            ]
            sub = IntentBatch(
                batch.index[rows],
                batch.quantity[rows],
                batch.stop[rows],
                batch.take[rows],
                batch.trail[rows],
                tuple(batch.ids[k] for k in rows),
            )
            part = rule.levels(sub, book)
            _same(part, ExitLevels(levels.stop[rows], levels.take[rows], levels.trail[rows]))

    prop()


@pytest.mark.parametrize("name", NAMES)
def test_exits_contract(name: str) -> None:
    rule = _rule(name)

    @settings(max_examples=40, deadline=None)
    @given(book=books())
    def prop(book: Book) -> None:
        out = rule.exits(book)
        assert out.dtype == np.int64 and out.ndim == 1
        assert len(np.unique(out)) == len(out)
        assert ((out >= 0) & (out < N)).all()
        assert (book.units[out] != 0).all(), "a flat position was closed"
        np.testing.assert_array_equal(rule.exits(copy.deepcopy(book)), out)

    prop()


def test_empty_batch() -> None:
    book = Book(UNIVERSE, pd.Timestamp("2024-01-03", tz="UTC"), 1.0, np.zeros(N), np.ones(N))
    empty = IntentBatch.of([], [])
    for name in NAMES:
        levels = _rule(name).levels(empty, book)
        assert levels.stop.shape == levels.take.shape == levels.trail.shape == (0,)


def test_every_rule_file_registers_one_rule_with_a_summary() -> None:
    files = {p.stem for p in Path(stops_package.__file__).parent.glob("*.py")} - HELPERS
    modules = {STOPS.get(n).__module__.rsplit(".", 1)[1] for n in NAMES}
    assert modules == files
    for name in NAMES:
        cls = STOPS.get(name)
        assert cls.piece_name == name and cls.summary and cls.__doc__
        assert set(cls.defaults()) == set(cls.model_fields)
