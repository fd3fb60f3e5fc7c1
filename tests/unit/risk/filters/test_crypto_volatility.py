"""Crypto volatility filter: BTC 30-day volatility above 80 % a year halves crypto orders."""

from __future__ import annotations

import math

import pytest

from alphaforge.config.pieces import build_piece
from alphaforge.core.errors import ConfigError
from alphaforge.risk.filters.crypto_volatility import CryptoVolatilityFilter
from alphaforge.risk.pieces import FILTERS

# BTC-USD opens long, SOL-USD opens short, AAPL opens long; BTC-USD is cut in the last test.
ORDERS = {"BTC-USD": 0.5, "SOL-USD": -5.0, "AAPL": 10.0}


def test_high_btc_volatility_halves_crypto_opening_orders(make_book, make_batch) -> None:
    check = CryptoVolatilityFilter().check(
        make_batch(ORDERS), make_book(market={"btc_vol_30": 0.85})
    )
    assert check.scale.tolist() == [0.5, 0.5, 1.0]
    assert check.observed.tolist() == [0.85] * 3
    assert check.limit.tolist() == [0.8] * 3
    assert check.reason == "BTC 30-day volatility 85% above 80%: crypto opening orders x 0.5"


@pytest.mark.parametrize(
    "market", [{"btc_vol_30": 0.80}, {"btc_vol_30": 0.6}, {}, {"btc_vol_30": math.nan}]
)
def test_at_or_below_80_percent_or_unknown_passes(make_book, make_batch, market) -> None:
    check = CryptoVolatilityFilter().check(make_batch(ORDERS), make_book(market=market))
    assert check.scale.tolist() == [1.0] * 3


def test_reducing_a_crypto_position_passes(make_book, make_batch) -> None:
    book = make_book((0.0, 0.0, 2.0, 0.0, 0.0), market={"btc_vol_30": 1.2})
    check = CryptoVolatilityFilter().check(make_batch({"BTC-USD": -1.0}), book)
    assert check.scale.tolist() == [1.0]


def test_threshold_and_cut_are_parameters(make_book, make_batch) -> None:
    flt = build_piece(FILTERS, "crypto_volatility", {"vol_above": 0.5, "cut": 1.0})
    check = flt.check(make_batch(ORDERS), make_book(market={"btc_vol_30": 0.6}))
    assert check.scale.tolist() == [0.0, 0.0, 1.0]
    with pytest.raises(ConfigError, match="vol_above"):
        build_piece(FILTERS, "crypto_volatility", {"vol_above": -0.1})
