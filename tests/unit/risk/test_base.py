"""BasicRiskManager: buying power resizes or refuses, lots and ticks round, in order."""

from __future__ import annotations

import pytest

from alphaforge.core.orders import OrderIntent, OrderType
from alphaforge.core.types import AssetClass, Instrument
from alphaforge.risk import AccountView, BasicRiskManager

STOCKS = {s: Instrument(s, AssetClass.STOCK) for s in ("AAA", "BBB")}


def _account(
    positions: dict[str, float] | None = None,
    equity: float = 10_000.0,
    whole_units: bool = True,
) -> AccountView:
    return AccountView(
        equity=equity,
        cash=equity,
        positions=positions or {},
        prices={"AAA": 100.0, "BBB": 50.0},
        whole_units=whole_units,
    )


def test_within_buying_power_is_approved_as_is() -> None:
    intent = OrderIntent("AAA", 100.0)
    (decision,) = BasicRiskManager(STOCKS, 1.0).review([intent], _account())
    assert decision.action == "approve"
    assert decision.approved is intent


def test_buying_power_resizes_an_order() -> None:
    # Leverage 1 on 10,000: at most 10,000 / 100 = 100 AAA; 150 asked.
    (decision,) = BasicRiskManager(STOCKS, 1.0).review([OrderIntent("AAA", 150.0)], _account())
    assert (decision.action, decision.check) == ("resize", "buying_power")
    assert decision.approved is not None
    assert decision.approved.quantity == 100.0
    step = decision.approved.sizing[-1]
    assert (step.step, step.before, step.after) == ("buying_power", 150.0, 100.0)


def test_buying_power_refuses_when_nothing_is_left() -> None:
    # 100 AAA at 100 use the whole 10,000.
    (decision,) = BasicRiskManager(STOCKS, 1.0).review(
        [OrderIntent("BBB", 10.0)], _account({"AAA": 100.0})
    )
    assert (decision.action, decision.check, decision.approved) == (
        "refuse",
        "buying_power",
        None,
    )
    assert "would exceed" in decision.reason


def test_reducing_orders_are_never_cut() -> None:
    # Gross 2 x 10,000 = 20,000 > the 10,000 limit already; selling 50 only reduces it.
    (decision,) = BasicRiskManager(STOCKS, 1.0).review(
        [OrderIntent("AAA", -50.0)], _account({"AAA": 200.0})
    )
    assert decision.action == "approve"


def test_a_reversal_reopens_only_what_buying_power_leaves() -> None:
    # Long 100 AAA (10,000 gross); asked -300 (to -200). After closing the 100, the limit
    # leaves 10,000 / 100 = 100 units short: -200 in all.
    (decision,) = BasicRiskManager(STOCKS, 1.0).review(
        [OrderIntent("AAA", -300.0)], _account({"AAA": 100.0})
    )
    assert decision.action == "resize"
    assert decision.approved is not None
    assert decision.approved.quantity == -200.0


def test_intents_are_reviewed_against_the_book_left_by_earlier_ones() -> None:
    # Leverage 1: 60 AAA (6,000) approved, then BBB gets (10,000 - 6,000) / 50 = 80 of 100.
    first, second = BasicRiskManager(STOCKS, 1.0).review(
        [OrderIntent("AAA", 60.0), OrderIntent("BBB", 100.0)], _account()
    )
    assert first.action == "approve"
    assert second.approved is not None
    assert second.approved.quantity == 80.0


def test_an_order_without_a_price_is_refused() -> None:
    (decision,) = BasicRiskManager({}, 1.0).review([OrderIntent("CCC", 1.0)], _account())
    assert (decision.action, decision.check) == ("refuse", "price")


LOTS = {"AAA": Instrument("AAA", AssetClass.STOCK, lot_size=100.0, tick_size=0.05)}


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [(250.0, 200.0), (-250.0, -200.0), (300.0, 300.0), (299.99999999999994, 300.0)],
)
def test_lots_round_toward_zero_in_a_whole_unit_book(quantity: float, expected: float) -> None:
    (decision,) = BasicRiskManager(LOTS, 10.0).review([OrderIntent("AAA", quantity)], _account())
    assert decision.approved is not None
    assert decision.approved.quantity == expected
    if expected != quantity and abs(expected - quantity) > 1e-6:
        assert (decision.action, decision.check) == ("resize", "lot_size")


def test_less_than_a_lot_is_refused() -> None:
    (decision,) = BasicRiskManager(LOTS, 10.0).review([OrderIntent("AAA", 50.0)], _account())
    assert (decision.action, decision.check) == ("refuse", "lot_size")


def test_a_fractional_book_is_not_rounded_to_lots() -> None:
    fractional = _account(whole_units=False)
    (decision,) = BasicRiskManager(STOCKS, 1.0).review([OrderIntent("AAA", 2.5)], fractional)
    assert decision.action == "approve"
    assert decision.approved is not None
    assert decision.approved.quantity == 2.5
    # Buying power cuts it to 10,000 / 100 = 100 exactly, not to a whole lot below.
    (cut,) = BasicRiskManager(LOTS, 1.0).review([OrderIntent("AAA", 150.5)], fractional)
    assert cut.approved is not None
    assert cut.approved.quantity == pytest.approx(100.0, rel=1e-8)


def test_whole_unit_buying_power_cut_keeps_whole_lots() -> None:
    # Limit 1.5 x 10,000 = 15,000 -> 150 units, rounded down to lots of 100: 100.
    (decision,) = BasicRiskManager(LOTS, 1.5).review([OrderIntent("AAA", 300.0)], _account())
    assert decision.approved is not None
    assert decision.approved.quantity == 100.0


def test_prices_round_to_the_tick() -> None:
    intent = OrderIntent("AAA", 100.0, OrderType.STOP_LIMIT, limit_price=10.02, stop_price=10.08)
    (decision,) = BasicRiskManager(LOTS, 10.0).review([intent], _account())
    assert decision.approved is not None
    # Ticks of 0.05: 10.02 -> 10.00, 10.08 -> 10.10.
    assert decision.approved.limit_price == pytest.approx(10.0, abs=1e-12)
    assert decision.approved.stop_price == pytest.approx(10.1, abs=1e-12)
    assert (decision.action, decision.check) == ("resize", "tick_size")
