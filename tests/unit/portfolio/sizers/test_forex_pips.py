"""Forex sizer: $10,000 at 1 % with a 30-pip stop at $10 a pip gives 0.33 lots."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from alphaforge.portfolio.pieces import SizingRequest
from alphaforge.portfolio.sizers import ForexPipSizer

MakeRequest = Callable[..., SizingRequest]

NAN = float("nan")


def test_seed_example_a_third_of_a_lot(make_request: MakeRequest) -> None:
    # EURUSD at 1.1000, stop 1.0970: 30 pips x $10 a pip a lot = $300 a lot; $100 / $300 =
    # 0.333 lots, down to 0.33 lots = 33,000 EUR.
    request = make_request(["EURUSD"], [1.1000], stop=[1.0970])
    got = ForexPipSizer().size(request, np.array([50_000.0]))
    assert got.tolist() == [0.33 * 100_000.0]


def test_base_in_the_account_currency_converts_with_the_price(make_request: MakeRequest) -> None:
    # USDJPY short at 150.00, stop 150.40: 40 pips of 0.01 JPY; a pip of one lot is
    # 100,000 x 0.01 / 150 = 6.667 USD; $100 / (40 x 6.667) = 0.375 lots -> 0.37 lots short.
    request = make_request(["USDJPY"], [150.0], stop=[150.40])
    got = ForexPipSizer().size(request, np.array([-1.0]))
    assert got[0] == pytest.approx(-37_000.0, rel=1e-12)


def test_non_forex_and_stopless_names_are_left_alone(make_request: MakeRequest) -> None:
    request = make_request(["A", "EURUSD"], [100.0, 1.1], stop=[98.0, NAN])
    got = ForexPipSizer().size(request, np.array([5.0, 7.0]))
    assert got.tolist() == [5.0, 7.0]
