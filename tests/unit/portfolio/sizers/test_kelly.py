"""Kelly sizer: the seed's worked example, payoff from the bracket or closed trades, no edge."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from alphaforge.config.pieces import build_piece
from alphaforge.core.errors import ConfigError
from alphaforge.portfolio.pieces import SIZERS, SizingRequest
from alphaforge.portfolio.sizers import KellySizer

MakeRequest = Callable[..., SizingRequest]

NAN = float("nan")


def test_seed_example_full_and_quarter_kelly(make_request: MakeRequest) -> None:
    # p = 0.55; bracket entry 100, stop 98, take 104: b = 4 / 2 = 2.
    # Full Kelly (1.10 - 0.45) / 2 = 0.325 of $10,000 = $3,250 = 32.5 shares at 100;
    # a quarter: 0.08125 -> $812.50 = 8.125 shares.
    request = make_request(
        ["A"], [100.0], stop=[98.0], take=[104.0], probability=[0.55], whole_units=False
    )
    full = KellySizer(fraction=1.0).size(request, np.array([1.0]))
    quarter = KellySizer().size(request, np.array([1.0]))
    assert full[0] * 100.0 / 10_000.0 == pytest.approx(0.325, rel=1e-12, abs=0)
    assert quarter[0] * 100.0 / 10_000.0 == pytest.approx(0.08125, rel=1e-12, abs=0)
    assert quarter[0] == pytest.approx(8.125, rel=1e-12, abs=0)


def test_short_keeps_its_side_with_a_short_bracket(make_request: MakeRequest) -> None:
    # Short at 100, stop 102 above, take 96 below: b = 2 again, so -8.125 units.
    request = make_request(
        ["A"], [100.0], stop=[102.0], take=[96.0], probability=[0.55], whole_units=False
    )
    got = KellySizer().size(request, np.array([-3.0]))
    assert got[0] == pytest.approx(-8.125, rel=1e-12, abs=0)


def test_payoff_from_closed_trades_when_no_bracket(make_request: MakeRequest) -> None:
    # No bracket: b = avg win 0.04 / avg loss 0.02 = 2, same answer as the bracket.
    request = make_request(
        ["A"], [100.0], probability=[0.55], avg_win=0.04, avg_loss=0.02, whole_units=False
    )
    got = KellySizer().size(request, np.array([5.0]))
    assert got[0] == pytest.approx(8.125, rel=1e-12, abs=0)


def test_no_edge_closes_and_unknown_inputs_leave_the_target(make_request: MakeRequest) -> None:
    # A: p = 0.3, b = 2: 0.3 - 0.7 / 2 < 0 -> 0. B: p unknown -> unchanged.
    # C: p known, no bracket and no closed trades -> b unknown -> unchanged.
    # D: bracket on the wrong side for a long (take below the price) -> falls back to trades,
    # none -> unchanged.
    request = make_request(
        ["A", "B", "C", "D"],
        [100.0] * 4,
        stop=[98.0, 98.0, NAN, 102.0],
        take=[104.0, 104.0, NAN, 96.0],
        probability=[0.3, NAN, 0.6, 0.6],
        whole_units=False,
    )
    got = KellySizer().size(request, np.array([7.0, 7.0, 7.0, 7.0]))
    assert got.tolist() == [0.0, 7.0, 7.0, 7.0]


def test_kelly_fraction_is_validated() -> None:
    with pytest.raises(ConfigError, match="fraction"):
        build_piece(SIZERS, "kelly", {"fraction": 1.5})
