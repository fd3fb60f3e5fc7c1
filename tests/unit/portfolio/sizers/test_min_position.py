"""Minimum position sizer: targets worth less than $1,000 become 0."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from alphaforge.portfolio.pieces import SizingRequest
from alphaforge.portfolio.sizers import MinPositionSizer

MakeRequest = Callable[..., SizingRequest]

NAN = float("nan")


def test_small_targets_are_dropped(make_request: MakeRequest) -> None:
    # 9 x 100 = $900 < $1,000 -> 0; -10 x 100 = $1,000 stays; 0 stays; no price: unchanged.
    request = make_request(["A", "B", "C", "D"], [100.0, 100.0, 100.0, NAN])
    got = MinPositionSizer().size(request, np.array([9.0, -10.0, 0.0, 1.0]))
    assert got.tolist() == [0.0, -10.0, 0.0, 1.0]
