"""VIX filter: no new longs in risk assets above 30, their opening orders x 0.7 above 25."""

from __future__ import annotations

import math

import pytest

from alphaforge.config.pieces import build_piece
from alphaforge.core.errors import ConfigError
from alphaforge.core.orders import OrderIntent
from alphaforge.portfolio.book import scale_opening
from alphaforge.risk.base import BasicRiskManager
from alphaforge.risk.filters.vix import VixFilter
from alphaforge.risk.manager import RiskManager
from alphaforge.risk.pieces import FILTERS

# AAPL opens long, SPY opens short, BTC-USD adds to a long, SOL-USD cuts a long, EURUSD opens.
ORDERS = {"AAPL": 10.0, "SPY": -10.0, "BTC-USD": 0.5, "SOL-USD": -5.0, "EURUSD": 1000.0}
HELD = (0.0, 0.0, 1.0, 10.0, 0.0)


def test_above_30_refuses_new_longs_in_risk_assets_and_cuts_their_shorts(
    make_book, make_batch
) -> None:
    check = VixFilter().check(make_batch(ORDERS), make_book(HELD, market={"vix_level": 34.2}))
    assert check.scale.tolist() == [0.0, 0.7, 0.0, 1.0, 1.0]
    assert check.observed.tolist() == [34.2] * 5
    assert check.limit.tolist() == [30.0, 25.0, 30.0, 25.0, 25.0]
    assert check.reason == (
        "VIX 34.2 above 30: no new longs in risk assets (stock, etf, crypto), "
        "their opening shorts x 0.7"
    )


def test_between_25_and_30_cuts_opening_orders_in_risk_assets_by_30_percent(
    make_book, make_batch
) -> None:
    check = VixFilter().check(make_batch(ORDERS), make_book(HELD, market={"vix_level": 27.5}))
    assert check.scale.tolist() == [0.7, 0.7, 0.7, 1.0, 1.0]
    assert (
        check.reason
        == "VIX 27.5 above 25: opening orders in risk assets (stock, etf, crypto) x 0.7"
    )


@pytest.mark.parametrize(
    ("vix", "expected"),
    [
        (25.0, [1.0, 1.0, 1.0, 1.0, 1.0]),  # at the cut threshold: "above" is strict
        (30.0, [0.7, 0.7, 0.7, 1.0, 1.0]),  # at the block threshold: only the cut
        (12.0, [1.0, 1.0, 1.0, 1.0, 1.0]),
    ],
)
def test_thresholds_are_strict(make_book, make_batch, vix: float, expected: list[float]) -> None:
    check = VixFilter().check(make_batch(ORDERS), make_book(HELD, market={"vix_level": vix}))
    assert check.scale.tolist() == expected


@pytest.mark.parametrize("market", [{}, {"vix_level": math.nan}, {"btc_vol_30": 0.9}])
def test_unknown_vix_passes_everything(make_book, make_batch, market: dict[str, float]) -> None:
    check = VixFilter().check(make_batch(ORDERS), make_book(HELD, market=market))
    assert check.scale.tolist() == [1.0] * 5
    assert check.reason == "VIX unknown: no VIX filter"


def test_a_short_reversed_into_a_long_keeps_only_its_closing_part(make_book, make_batch) -> None:
    book = make_book((-5.0, 0.0, 0.0, 0.0, 0.0), market={"vix_level": 40.0})
    orders = make_batch({"AAPL": 15.0})
    check = VixFilter().check(orders, book)
    assert check.scale.tolist() == [0.0]
    assert scale_opening(orders.held(book), orders.quantity, check.scale).tolist() == [5.0]


def test_parameters_choose_the_classes_and_the_cut(make_book, make_batch) -> None:
    flt = build_piece(
        FILTERS, "vix", {"cut_above": 20, "cut": 0.5, "asset_classes": ["stock", "forex"]}
    )
    check = flt.check(make_batch(ORDERS), make_book(HELD, market={"vix_level": 22.0}))
    assert check.scale.tolist() == [0.5, 1.0, 1.0, 1.0, 0.5]


@pytest.mark.parametrize(
    "params", [{"cut_above": 35.0}, {"cut": 1.5}, {"block_above": 0}, {"asset_classes": []}]
)
def test_bad_parameters_are_one_config_error(params: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match=r"^Regime filter 'vix': "):
        build_piece(FILTERS, "vix", params)


def test_the_manager_applies_it_and_records_the_reason(make_book, universe) -> None:
    base = BasicRiskManager({i.symbol: i for i in universe.instruments}, 2.0)
    manager = RiskManager(base, filters=[VixFilter()])
    long_, short, fx = manager.review(
        [OrderIntent("AAPL", 10.0), OrderIntent("SPY", -10.0), OrderIntent("EURUSD", 1000.0)],
        make_book(market={"vix_level": 34.2}),
    )
    assert long_.action == "refuse"
    (record,) = long_.decisions
    assert (record.piece, record.observed, record.limit, record.before, record.after) == (
        "filter.vix",
        34.2,
        30.0,
        10.0,
        0.0,
    )
    assert record.reason.startswith("VIX 34.2 above 30: no new longs in risk assets")
    assert short.action == "resize" and short.approved is not None
    assert short.approved.quantity == pytest.approx(-7.0)
    assert fx.action == "approve"
