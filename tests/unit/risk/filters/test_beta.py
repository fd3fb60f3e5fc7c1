"""Beta filter: opening orders x 0.7 in names whose beta is above 1.5."""

from __future__ import annotations

import math

from alphaforge.config.pieces import build_piece
from alphaforge.risk.filters.beta import BetaFilter
from alphaforge.risk.pieces import FILTERS

NAN = math.nan
# Betas in universe order: AAPL, SPY, BTC-USD, SOL-USD, EURUSD.
BETAS = {"beta_60": [1.8, 1.0, NAN, 2.1, 1.5]}
ORDERS = {"AAPL": 10.0, "SPY": 10.0, "BTC-USD": 0.5, "SOL-USD": -5.0, "EURUSD": 1000.0}


def test_high_beta_names_are_cut_on_both_sides(make_book, make_batch) -> None:
    check = BetaFilter().check(make_batch(ORDERS), make_book(features=BETAS))
    assert check.scale.tolist() == [0.7, 1.0, 1.0, 0.7, 1.0]  # 1.5 is not above 1.5
    assert check.observed.tolist()[:2] == [1.8, 1.0] and math.isnan(check.observed[2])
    assert check.limit.tolist() == [1.5] * 5
    assert check.reason == "beta_60 above 1.5 (AAPL 1.80, SOL-USD 2.10): opening orders x 0.7"


def test_reducing_a_high_beta_name_passes(make_book, make_batch) -> None:
    book = make_book((20.0, 0.0, 0.0, 0.0, 0.0), features=BETAS)
    check = BetaFilter().check(make_batch({"AAPL": -10.0}), book)
    assert check.scale.tolist() == [1.0]


def test_no_beta_feature_passes_everything(make_book, make_batch) -> None:
    check = BetaFilter().check(make_batch(ORDERS), make_book(features={"atr_14": [1.0] * 5}))
    assert check.scale.tolist() == [1.0] * 5
    assert check.reason == "no opening order in a name with beta_60 above 1.5"


def test_feature_threshold_and_cut_are_parameters(make_book, make_batch) -> None:
    flt = build_piece(FILTERS, "beta", {"feature": "beta_20", "beta_above": 0.9, "cut": 0.5})
    book = make_book(features={"beta_20": [1.0, 0.5, 2.0, NAN, 0.0], **BETAS})
    assert flt.check(make_batch(ORDERS), book).scale.tolist() == [0.5, 1.0, 0.5, 1.0, 1.0]


def test_reason_names_three_and_counts_the_rest(make_book, make_batch) -> None:
    book = make_book(features={"beta_60": [2.0] * 5})
    check = BetaFilter().check(make_batch(ORDERS), book)
    assert check.reason == (
        "beta_60 above 1.5 (AAPL 2.00, SPY 2.00, BTC-USD 2.00 and 2 more): opening orders x 0.7"
    )
