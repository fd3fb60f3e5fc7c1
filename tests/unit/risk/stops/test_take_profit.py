"""``take_profit``: 2:1 reward to risk on the intent's stop, or a fixed percent."""

from __future__ import annotations

import numpy as np
import pytest
from tests.unit.risk.stops._book import batch_of, make_book

from alphaforge.config.pieces import build_piece
from alphaforge.core.errors import ConfigError
from alphaforge.risk.pieces import STOPS
from alphaforge.risk.stops import TakeProfit

NAN = np.nan


def test_two_to_one_on_the_intents_own_stop() -> None:
    batch = batch_of(
        {"AAPL": 10, "SPY": -1, "SOL-USD": 1, "BTC-USD": 0.1},
        stop=[95.0, 404.0, NAN, 41_000.0],
    )
    levels = TakeProfit().levels(batch, make_book())
    # AAPL: 100 + 2 x 5; SPY short: 400 - 2 x 4; SOL has no stop; BTC's stop is above a long.
    np.testing.assert_allclose(levels.take, [110.0, 392.0, NAN, NAN], rtol=1e-12)
    assert np.isnan(levels.stop).all() and np.isnan(levels.trail).all()


def test_stop_percent_stands_in_for_a_missing_stop() -> None:
    rule = build_piece(STOPS, "take_profit", {"stop_percent": 0.02, "reward_to_risk": 3.0})
    batch = batch_of({"AAPL": 10, "SPY": -1}, stop=[95.0, NAN])
    levels = rule.levels(batch, make_book())
    # AAPL keeps its own stop (3 x 5 above); SPY assumes 2 % (3 x 8 below).
    np.testing.assert_allclose(levels.take, [115.0, 376.0], rtol=1e-12)


def test_fixed_percent_take_profit() -> None:
    rule = TakeProfit(percent=0.07)
    levels = rule.levels(batch_of({"AAPL": 10, "SPY": -1}, stop=[95.0, NAN]), make_book())
    np.testing.assert_allclose(levels.take, [107.0, 372.0], rtol=1e-12)


def test_a_short_take_at_or_below_zero_is_none() -> None:
    rule = TakeProfit(stop_percent=0.5)
    levels = rule.levels(batch_of({"AAPL": -1, "SPY": 1}), make_book())
    # Short: 100 - 2 x 50 = 0, no price; long: 400 + 2 x 200.
    np.testing.assert_allclose(levels.take, [NAN, 800.0], rtol=1e-12)


def test_non_opening_intents_get_none() -> None:
    levels = TakeProfit(percent=0.05).levels(batch_of({"AAPL": -5}), make_book(units={"AAPL": 10}))
    assert np.isnan(levels.take).all()


@pytest.mark.parametrize(
    ("params", "word"),
    [
        ({"reward_to_risk": 1.0}, "reward_to_risk"),
        ({"percent": 0.07, "stop_percent": 0.02}, "not both"),
        ({"percent": 1.0}, "percent"),
    ],
)
def test_bad_parameters_are_one_line(params: dict[str, float], word: str) -> None:
    with pytest.raises(ConfigError, match=word) as info:
        build_piece(STOPS, "take_profit", params)
    assert "\n" not in info.value.one_line()
