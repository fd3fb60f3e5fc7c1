"""Bear-market filter: no new longs in stocks and ETFs while the benchmark is under its
200-day average."""

from __future__ import annotations

import math

import pytest

from alphaforge.config.pieces import build_piece
from alphaforge.risk.filters.bear_market import BearMarketFilter
from alphaforge.risk.pieces import FILTERS

# AAPL opens long, SPY adds to a long, BTC-USD opens long, SOL-USD opens short,
# EURUSD opens long; AAPL is held short (so the long is a reversal) in one test below.
ORDERS = {"AAPL": 10.0, "SPY": 5.0, "BTC-USD": 0.5, "SOL-USD": -5.0, "EURUSD": 1000.0}
HELD = (0.0, 10.0, 0.0, 0.0, 0.0)


def test_bear_market_refuses_new_longs_in_stocks_and_etfs(make_book, make_batch) -> None:
    book = make_book(HELD, market={"benchmark_above_200": 0.0})
    check = BearMarketFilter().check(make_batch(ORDERS), book)
    assert check.scale.tolist() == [0.0, 0.0, 1.0, 1.0, 1.0]
    assert check.observed.tolist() == [0.0] * 5
    assert check.limit.tolist() == [1.0] * 5
    assert check.reason == (
        "benchmark closed under its 200-day average: no new longs in stock, etf"
    )


def test_shorts_and_reducing_orders_pass_in_a_bear_market(make_book, make_batch) -> None:
    book = make_book((0.0, 10.0, 0.0, 0.0, 0.0), market={"benchmark_above_200": 0.0})
    check = BearMarketFilter().check(make_batch({"AAPL": -10.0, "SPY": -4.0}), book)
    assert check.scale.tolist() == [1.0, 1.0]


@pytest.mark.parametrize(
    "market", [{"benchmark_above_200": 1.0}, {}, {"benchmark_above_200": math.nan}]
)
def test_bull_market_or_unknown_passes_everything(make_book, make_batch, market) -> None:
    check = BearMarketFilter().check(make_batch(ORDERS), make_book(HELD, market=market))
    assert check.scale.tolist() == [1.0] * 5


def test_asset_classes_are_a_parameter(make_book, make_batch) -> None:
    flt = build_piece(FILTERS, "bear_market", {"asset_classes": ["crypto"]})
    book = make_book(HELD, market={"benchmark_above_200": 0.0})
    assert flt.check(make_batch(ORDERS), book).scale.tolist() == [1.0, 1.0, 0.0, 1.0, 1.0]
