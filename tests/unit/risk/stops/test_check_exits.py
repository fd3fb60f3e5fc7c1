"""``check_exits`` refuses a percent stop at or beyond the take-profit percent, in one line."""

from __future__ import annotations

import pytest

from alphaforge.config.pieces import build_piece
from alphaforge.core.errors import ConfigError
from alphaforge.risk.pieces import STOPS, StopRule
from alphaforge.risk.stops import (
    AtrStop,
    FixedPercentStop,
    ForexPipStop,
    TakeProfit,
    check_exits,
)

# Seed 002: stop 3 %, take profit 7 %, for every class that gets a percent stop.
ALPACA = {"stock": 0.03, "etf": 0.03, "crypto_major": 0.03, "altcoin": 0.03}


def test_stop_beyond_the_take_profit_is_refused() -> None:
    stops: list[StopRule] = [
        build_piece(STOPS, "fixed_percent", {"stock": 0.07}),
        build_piece(STOPS, "take_profit", {"percent": 0.05}),
    ]
    with pytest.raises(ConfigError) as info:
        check_exits(stops)
    assert info.value.message == "Stop 7 % (stocks) is at or beyond the take-profit 5 %."
    assert "\n" not in info.value.one_line()


def test_stop_at_the_take_profit_is_refused() -> None:
    with pytest.raises(ConfigError, match="Stop 5 % \\(BTC/ETH\\) is at or beyond"):
        check_exits([FixedPercentStop(altcoin=None), TakeProfit(percent=0.05)])


def test_default_altcoin_stop_against_a_seven_percent_take_is_refused() -> None:
    # The default altcoin stop is 8 %: a 7 % take-profit lies inside it.
    with pytest.raises(ConfigError, match="8 % \\(altcoins\\)"):
        check_exits([FixedPercentStop(stock=0.03), TakeProfit(percent=0.07)])


def test_assumed_stop_of_take_profit_is_compared_too() -> None:
    with pytest.raises(ConfigError, match="Stop 9 % is at or beyond the take-profit 8 %"):
        check_exits([TakeProfit(percent=0.08), TakeProfit(stop_percent=0.09)])


@pytest.mark.parametrize(
    "stops",
    [
        [FixedPercentStop(**ALPACA), TakeProfit(percent=0.07)],
        [FixedPercentStop(), TakeProfit()],
        [FixedPercentStop(), AtrStop(), ForexPipStop()],
        [AtrStop(), TakeProfit(percent=0.01)],
        [],
    ],
)
def test_consistent_configurations_pass(stops: list[StopRule]) -> None:
    check_exits(stops)  # raises ConfigError if inconsistent
