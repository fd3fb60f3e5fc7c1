"""Liquidity sizer: no opening in thin names; an opening order at most 1 % of dollar volume."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from alphaforge.portfolio.pieces import SizingRequest
from alphaforge.portfolio.sizers import LiquiditySizer

MakeRequest = Callable[..., SizingRequest]

NAN = float("nan")


def test_thin_names_may_reduce_but_not_open(make_request: MakeRequest) -> None:
    # $500,000 a day < $1M. A: held 10, target 30 -> stays at 10. B: held 10, target 4 -> 4
    # (reducing passes). C: flat, target 5 -> 0. D: held 10, target -10 -> 0 (closes only).
    log_volume = [math.log(500_000.0)] * 4
    request = make_request(
        ["A", "B", "C", "D"],
        [100.0] * 4,
        held=[10.0, 10.0, 0.0, 10.0],
        features={"dollar_volume_log_20": log_volume},
    )
    got = LiquiditySizer().size(request, np.array([30.0, 4.0, 5.0, -10.0]))
    np.testing.assert_allclose(got, [10.0, 4.0, 0.0, 0.0], rtol=1e-12, atol=0)


def test_opening_part_is_capped_at_a_share_of_dollar_volume(make_request: MakeRequest) -> None:
    # $2M a day: 1 % = $20,000 = 200 shares at 100. A: held 100, target 1,000 -> 100 + 200.
    # B: held 100, target -1,000 (reversal): closes 100, opens at most 200 short -> -200.
    # C: no volume data (forex-like zero volume) -> unchanged.
    request = make_request(
        ["A", "B", "C"],
        [100.0] * 3,
        held=[100.0, 100.0, 0.0],
        features={"dollar_volume_log_20": [math.log(2e6), math.log(2e6), -math.inf]},
    )
    got = LiquiditySizer().size(request, np.array([1_000.0, -1_000.0, 50.0]))
    np.testing.assert_allclose(got, [300.0, -200.0, 50.0], rtol=1e-12, atol=0)
