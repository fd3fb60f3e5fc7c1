"""The registered sizers run as a chain: each change is one (before, after) sizing step."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from alphaforge.config.pieces import build_piece
from alphaforge.portfolio import SIZERS
from alphaforge.portfolio.pieces import SizingRequest, run_sizers

MakeRequest = Callable[..., SizingRequest]


def test_atr_then_minimum_position_then_liquidity(make_request: MakeRequest) -> None:
    # $10,000. A: ATR 5 -> 20 shares ($2,000, kept). B: ATR 50 -> $200 / $100 = 2 shares,
    # $200 < $1,000 -> 0. Both trade $10M a day: 1 % = $100,000, no cap.
    request = make_request(
        ["A", "B"],
        [100.0, 100.0],
        features={"atr_14": [5.0, 50.0], "dollar_volume_log_20": [math.log(1e7)] * 2},
    )
    chain = [build_piece(SIZERS, name, {}) for name in ("atr", "min_position", "liquidity")]
    sized = run_sizers(chain, request, np.array([30.0, 30.0]))
    assert sized.target.tolist() == [20.0, 0.0]
    assert [(s.step, s.before, s.after) for s in sized.steps[0]] == [("atr", 30.0, 20.0)]
    assert [(s.step, s.before, s.after) for s in sized.steps[1]] == [
        ("atr", 30.0, 2.0),
        ("min_position", 2.0, 0.0),
    ]
    assert sized.steps[1][1].reason == SIZERS.get("min_position").summary
