"""The cost-model contract, run over every member of ``COST_MODELS`` at its defaults.

Trade models: every cost >= 0, exactly 0 at zero quantity, non-decreasing in |quantity| for
the same price, side and market context. Holding models: 0 at zero value; borrow >= 0.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alphaforge.backtest.costs import COST_MODELS, CostParams, HoldingBatch, TradeBatch

TRADE = [n for n in COST_MODELS.names() if COST_MODELS.get(n).kind == "trade"]
HOLDING = [n for n in COST_MODELS.names() if COST_MODELS.get(n).kind == "holding"]
# Forex members read the pair from the symbol; the others ignore it.
SYMBOLS = ("EURUSD", "USDJPY", "EUR/GBP", "USDTRY=X", "audjpy")
DOCS = Path(__file__).resolve().parents[2] / "docs" / "costs.md"

maybe_nan = st.one_of(st.just(np.nan), st.floats(0.0, 0.2))


@st.composite
def trade_batches(draw: st.DrawFn) -> tuple[TradeBatch, np.ndarray]:
    """Return a batch and per-fill factors >= 1 to scale its quantities by."""
    n = draw(st.integers(1, 6))
    floats = st.lists(st.floats(1e-3, 1e5), min_size=n, max_size=n)
    price = np.array(draw(floats))
    size = np.array(draw(st.lists(st.floats(0.0, 1e7), min_size=n, max_size=n)))
    side = np.array(draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=n, max_size=n)))
    sigma = np.array(draw(st.lists(maybe_nan, min_size=n, max_size=n)))
    adv = np.array(
        draw(
            st.lists(
                st.one_of(st.just(np.nan), st.just(0.0), st.floats(1.0, 1e9)),
                min_size=n,
                max_size=n,
            )
        )
    )
    # A spread estimate can come out negative; it must not turn into a rebate.
    spread_or_nan = st.one_of(st.just(np.nan), st.floats(-0.01, 0.2))
    spread = np.array(draw(st.lists(spread_or_nan, min_size=n, max_size=n)))
    maker = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    symbols = tuple(draw(st.lists(st.sampled_from(SYMBOLS), min_size=n, max_size=n)))
    scale = np.array(draw(st.lists(st.floats(1.0, 1e3), min_size=n, max_size=n)))
    batch = TradeBatch(price, side * size, symbols, sigma, adv, spread, maker)
    return batch, scale


def _with_quantity(batch: TradeBatch, quantity: np.ndarray) -> TradeBatch:
    return TradeBatch(
        batch.price,
        quantity,
        batch.symbols,
        batch.sigma_daily,
        batch.adv,
        batch.half_spread,
        batch.maker,
    )


def _default(name: str) -> CostParams:
    return COST_MODELS.get(name)()


@pytest.mark.parametrize("name", TRADE)
def test_trade_cost_contract(name: str) -> None:
    model = _default(name)

    # Built per case rather than decorating the parametrized test (Hypothesis' pytest plugin
    # chains one settings object per parametrized case; see test_feature_causality.py).
    @settings(max_examples=200, deadline=None)
    @given(drawn=trade_batches())
    def check(drawn: tuple[TradeBatch, np.ndarray]) -> None:
        batch, scale = drawn
        cost = model.trade_costs(batch)  # type: ignore[attr-defined]
        assert cost.shape == batch.price.shape
        assert np.all(np.isfinite(cost))
        assert np.all(cost >= 0)

        none = model.trade_costs(_with_quantity(batch, np.zeros_like(batch.quantity)))  # type: ignore[attr-defined]
        assert np.all(none == 0)

        larger = model.trade_costs(_with_quantity(batch, batch.quantity * scale))  # type: ignore[attr-defined]
        assert np.all(larger >= cost)

    check()


@pytest.mark.parametrize("name", HOLDING)
def test_holding_cost_contract(name: str) -> None:
    model = _default(name)

    @settings(max_examples=200, deadline=None)
    @given(
        value=st.lists(st.floats(-1e9, 1e9), min_size=1, max_size=6),
        days=st.floats(0.0, 30.0),
        data=st.data(),
    )
    def check(value: list[float], days: float, data: st.DataObject) -> None:
        n = len(value)
        symbols = tuple(data.draw(st.lists(st.sampled_from(SYMBOLS), min_size=n, max_size=n)))
        period = np.full(n, days)
        cost = model.holding_costs(HoldingBatch(np.array(value), period, symbols))  # type: ignore[attr-defined]
        assert cost.shape == (n,)
        assert np.all(np.isfinite(cost))
        flat = model.holding_costs(HoldingBatch(np.zeros(n), period, symbols))  # type: ignore[attr-defined]
        assert np.all(flat == 0)

    check()


def test_borrow_is_never_a_credit() -> None:
    @settings(max_examples=200, deadline=None)
    @given(
        value=st.lists(st.floats(-1e9, 1e9), min_size=1, max_size=6),
        days=st.floats(0.0, 30.0),
        rate=st.floats(0.0, 2.0),
    )
    def check(value: list[float], days: float, rate: float) -> None:
        model = COST_MODELS.get("borrow")(rate=rate)
        batch = HoldingBatch(np.array(value), np.full(len(value), days), ("X",) * len(value))
        cost = model.holding_costs(batch)  # type: ignore[attr-defined]
        assert np.all(cost >= 0)
        assert np.all(cost[np.array(value) >= 0] == 0)

    check()


@pytest.mark.parametrize("name", COST_MODELS.names())
def test_every_model_is_documented(name: str) -> None:
    cls = COST_MODELS.get(name)
    assert cls.summary
    headings = re.findall(r"^## `([a-z_]+)`", DOCS.read_text(encoding="utf-8"), re.MULTILINE)
    assert name in headings
    for field in cls.model_fields.values():
        assert field.description
