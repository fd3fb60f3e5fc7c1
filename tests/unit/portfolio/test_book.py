"""The book's order primitives: a cut or a scale never grows an order nor turns it around."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from alphaforge.core.types import AssetClass, Instrument
from alphaforge.portfolio.book import Universe, base_currency, cap_position, opens, scale_opening

units = st.floats(-1e6, 1e6, allow_nan=False)


@given(held=units, quantity=units, bound=st.floats(0, 1e6))
def test_cap_position_never_grows_flips_or_breaches(
    held: float, quantity: float, bound: float
) -> None:
    h, q = np.array([held]), np.array([quantity])
    out = float(cap_position(h, q, np.array([bound]))[0])
    assert abs(out) <= abs(quantity) * (1 + 1e-12) + 1e-9
    assert out * quantity >= 0
    after = held + out
    if opens(h, q)[0]:
        # The position ends within the bound, or (drifted beyond it) does not grow.
        assert abs(after) <= max(bound, abs(held)) * (1 + 1e-12) + 1e-9
    else:
        assert out == quantity  # reducing orders pass


@given(held=units, quantity=units, scale=st.floats(0, 1))
def test_scale_opening_keeps_the_closing_part(held: float, quantity: float, scale: float) -> None:
    h, q = np.array([held]), np.array([quantity])
    out = float(scale_opening(h, q, np.array([scale]))[0])
    assert abs(out) <= abs(quantity) * (1 + 1e-12) + 1e-9
    assert out * quantity >= 0
    if held * (held + quantity) < 0:  # a reversal still closes the old position
        assert abs(out) >= abs(held) * (1 - 1e-12)


def test_cap_position_examples() -> None:
    held = np.array([0.0, 50.0, 50.0, 150.0, -20.0])
    quantity = np.array([200.0, 100.0, -200.0, 10.0, 10.0])
    out = cap_position(held, quantity, np.full(5, 100.0))
    # New long capped at 100; add capped at 100; reversal keeps closing 50 and opens 100 short;
    # a drifted position may not grow; a reducing order passes.
    np.testing.assert_array_equal(out, [100.0, 50.0, -150.0, 0.0, 10.0])


def test_universe_attributes() -> None:
    universe = Universe.of(
        [
            Instrument("AAPL", AssetClass.STOCK, sector="Tech"),
            Instrument("BTC-USD", AssetClass.CRYPTO),
            Instrument("SOL-USD", AssetClass.CRYPTO),
            Instrument("EURUSD", AssetClass.FOREX),
        ]
    )
    assert universe.sector.tolist() == ["Tech", "", "", ""]
    assert universe.altcoins().tolist() == [False, False, True, False]
    assert universe.base_currency.tolist() == ["AAPL", "BTC", "SOL", "EUR"]
    assert base_currency(Instrument("USDJPY=X", AssetClass.FOREX, currency="JPY")) == "USD"
