"""Volatility target sizer: BTC at 60 % a year with a 15 % target scales by 0.25."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from alphaforge.portfolio.pieces import SizingRequest
from alphaforge.portfolio.sizers import VolatilityTargetSizer

MakeRequest = Callable[..., SizingRequest]

NAN = float("nan")


def test_seed_example_btc_scales_by_a_quarter(make_request: MakeRequest) -> None:
    # 256 bars a year: sqrt = 16 exactly, so 0.60 / 16 a bar annualises to exactly 0.60, and
    # 0.15 / 0.60 = 0.25: 40 BTC become 10.
    request = make_request(["BTC-USD"], [60_000.0], features={"vol_yang_zhang_20": [0.60 / 16.0]})
    got = VolatilityTargetSizer(bars_per_year=256.0).size(request, np.array([40.0]))
    assert got.tolist() == [10.0]


def test_daily_bars_by_asset_class_and_the_cap(make_request: MakeRequest) -> None:
    # BTC: 0.60 / sqrt(365) a bar over 365 days is 60 %: x 0.25. A stock at 0.05 a year is calm:
    # the scale is capped at 1. A stock without the feature keeps its target.
    per_bar = [0.60 / np.sqrt(365.0), 0.05 / np.sqrt(252.0), NAN]
    request = make_request(
        ["BTC-USD", "A", "B"], [60_000.0, 10.0, 10.0], features={"vol_yang_zhang_20": per_bar}
    )
    got = VolatilityTargetSizer().size(request, np.array([-40.0, 100.0, 100.0]))
    np.testing.assert_allclose(got, [-10.0, 100.0, 100.0], rtol=1e-12, atol=0)


def test_missing_feature_leaves_every_target(make_request: MakeRequest) -> None:
    request = make_request(["A"], [10.0])
    assert VolatilityTargetSizer().size(request, np.array([3.0])).tolist() == [3.0]


def test_target_volatility_scales_linearly(make_request: MakeRequest) -> None:
    request = make_request(["A"], [10.0], features={"vol_yang_zhang_20": [0.40 / 16.0]})
    got = VolatilityTargetSizer(target_volatility=0.10, bars_per_year=256.0).size(
        request, np.array([100.0])
    )
    assert got[0] == pytest.approx(25.0, rel=1e-12)
