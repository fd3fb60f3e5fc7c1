"""Fixed-fraction sizer: $10,000 at 1 % with entry 100 and stop 98 gives 50 shares."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from alphaforge.portfolio.pieces import SizingRequest
from alphaforge.portfolio.sizers import RiskPerTradeSizer

MakeRequest = Callable[..., SizingRequest]

NAN = float("nan")


def test_seed_example_fifty_shares(make_request: MakeRequest) -> None:
    # $100 at risk over $2 a share: 50 shares; a short with its stop at 102: -50.
    request = make_request(["A", "B"], [100.0, 100.0], stop=[98.0, 102.0])
    got = RiskPerTradeSizer().size(request, np.array([10.0, -10.0]))
    assert got.tolist() == [50.0, -50.0]


def test_no_stop_or_a_stop_on_the_wrong_side_leaves_the_target(make_request: MakeRequest) -> None:
    # A: no stop. B: a long whose stop is above the price (already through it).
    request = make_request(["A", "B"], [100.0, 100.0], stop=[NAN, 101.0])
    got = RiskPerTradeSizer().size(request, np.array([10.0, 10.0]))
    assert got.tolist() == [10.0, 10.0]
