"""BasicRiskManager.approves_market_batch: True exactly when review approves every intent."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from alphaforge.core.orders import OrderIntent
from alphaforge.core.types import AssetClass, Instrument
from alphaforge.risk import AccountView, BasicRiskManager
from alphaforge.risk.base import BatchReviewer

SYMBOLS = ("AAA", "BBB", "CCC", "DDD", "EEE")
LOTS = {"AAA": 1.0, "BBB": 10.0, "CCC": 0.0, "DDD": 1.0}  # EEE: no instrument at all
INSTRUMENTS = {s: Instrument(s, AssetClass.STOCK, lot_size=lot) for s, lot in LOTS.items()}

quantities = st.one_of(
    st.integers(-300, 300).map(float),
    st.floats(-300, 300, allow_nan=False),
    st.sampled_from([0.0, 10.0, -20.0, 2.9999999999, 1e-13]),
)
prices = st.one_of(st.floats(0.5, 500), st.just(math.nan), st.just(0.0))


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[str], list[float], AccountView, float, bool]:
    symbols = draw(st.lists(st.sampled_from(SYMBOLS), min_size=1, max_size=5, unique=True))
    asked = [draw(quantities) for _ in symbols]
    held = {s: draw(quantities) for s in SYMBOLS if draw(st.booleans())}
    price = {s: draw(prices) for s in SYMBOLS}
    equity = draw(st.floats(0, 50_000))
    account = AccountView(
        equity=equity,
        cash=equity,
        positions={s: q for s, q in held.items() if q != 0},
        prices={s: p for s, p in price.items() if math.isfinite(p)},
        whole_units=draw(st.booleans()),
    )
    return symbols, asked, account, draw(st.sampled_from([0.5, 1.0, 2.0])), draw(st.booleans())


@settings(max_examples=300, deadline=None)
@given(cases())
def test_the_batch_check_agrees_with_review(
    case: tuple[list[str], list[float], AccountView, float, bool],
) -> None:
    symbols, asked, account, leverage, precomputed = case
    if precomputed:
        gross = sum(abs(q) * account.prices.get(s, 0.0) for s, q in account.positions.items())
        account = AccountView(
            account.equity,
            account.cash,
            account.positions,
            account.prices,
            account.whole_units,
            gross_exposure=gross,
        )
    risk = BasicRiskManager(INSTRUMENTS, leverage)
    intents = [OrderIntent(s, q) for s, q in zip(symbols, asked, strict=True)]
    decisions = risk.review(intents, account)
    expected = all(
        d.action == "approve" and d.approved is i for d, i in zip(decisions, intents, strict=True)
    )
    held = np.array([account.positions.get(s, 0.0) for s in symbols])
    price = np.array([account.prices.get(s, math.nan) for s in symbols])
    assert risk.approves_market_batch(symbols, np.array(asked), held, price, account) is expected


def test_a_cut_by_buying_power_is_left_to_review() -> None:
    # Leverage 1 on 10,000: 60 AAA (6,000) pass, then 100 BBB (5,000) would exceed.
    account = AccountView(10_000.0, 10_000.0, {}, {"AAA": 100.0, "BBB": 50.0})
    risk = BasicRiskManager(INSTRUMENTS, 1.0)
    held, price = np.zeros(2), np.array([100.0, 50.0])
    assert isinstance(risk, BatchReviewer)
    assert risk.approves_market_batch(["AAA", "BBB"], np.array([60.0, 80.0]), held, price, account)
    assert not risk.approves_market_batch(
        ["AAA", "BBB"], np.array([60.0, 100.0]), held, price, account
    )
