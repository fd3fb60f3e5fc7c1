"""ATR sizer: $10,000 at 2 % with ATR 5 and a 2 x ATR stop gives 20 shares."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from alphaforge.portfolio.pieces import SizingRequest
from alphaforge.portfolio.sizers import AtrSizer

MakeRequest = Callable[..., SizingRequest]

NAN = float("nan")


def test_seed_example_twenty_shares(make_request: MakeRequest) -> None:
    # Risk $200 over a $10 stop (2 x ATR 5): 20 shares, long or short.
    request = make_request(["A", "B"], [100.0, 100.0], features={"atr_14": [5.0, 5.0]})
    got = AtrSizer().size(request, np.array([3.0, -70.0]))
    assert got.tolist() == [20.0, -20.0]


def test_whole_units_floor_fractional_keep_the_quotient(make_request: MakeRequest) -> None:
    # $200 / (2 x 3) = 33.33: whole books hold 33, fractional books 33.33.
    whole = make_request(["A"], [100.0], features={"atr_14": [3.0]})
    frac = make_request(["A"], [100.0], features={"atr_14": [3.0]}, whole_units=False)
    assert AtrSizer().size(whole, np.array([1.0])).tolist() == [33.0]
    assert AtrSizer().size(frac, np.array([1.0]))[0] == pytest.approx(200.0 / 6.0, rel=1e-15)


def test_unknown_atr_and_zero_target_are_left_alone(make_request: MakeRequest) -> None:
    request = make_request(["A", "B", "C"], [100.0] * 3, features={"atr_14": [NAN, 0.0, 5.0]})
    got = AtrSizer().size(request, np.array([4.0, 4.0, 0.0]))
    assert got.tolist() == [4.0, 4.0, 0.0]
