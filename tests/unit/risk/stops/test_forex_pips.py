"""``forex_pips``: majors 30 pips, minors 40, exotics 60; a pip is 0.01 for yen quotes."""

from __future__ import annotations

import numpy as np
import pytest
from tests.unit.risk.stops._book import batch_of, make_book

from alphaforge.risk.stops import ForexPipStop
from alphaforge.risk.stops.forex_pips import pair_kind, split_pair


def test_pips_by_kind_of_pair() -> None:
    batch = batch_of({"EURUSD": 1e4, "USDJPY": -1e4, "EURGBP": 1e4, "USDTRY": -1e4, "AAPL": 1})
    levels = ForexPipStop().levels(batch, make_book())
    # 1.1 - 30 x 0.0001; 150 + 30 x 0.01; 0.85 - 40 x 0.0001; 30 + 60 x 0.0001; no stock stop.
    np.testing.assert_allclose(levels.stop, [1.097, 150.3, 0.846, 30.006, np.nan], rtol=1e-12)
    assert np.isnan(levels.take).all() and np.isnan(levels.trail).all()


@pytest.mark.parametrize(
    ("symbol", "kind"),
    [
        ("EURUSD", "major"),
        ("usd/jpy", "major"),
        ("NZDUSD=X", "major"),
        ("GBPJPY", "minor"),
        ("EUR-CHF", "minor"),
        ("AUDNZD", "minor"),
        ("USDSEK", "exotic"),
        ("EURTRY", "exotic"),
        ("USDMXN", "exotic"),
    ],
)
def test_pair_classification(symbol: str, kind: str) -> None:
    assert pair_kind(*split_pair(symbol, "", "")) == kind


def test_parameters() -> None:
    rule = ForexPipStop(major=10.0, jpy_pip=0.001)
    levels = rule.levels(batch_of({"EURUSD": 1e4, "USDJPY": 1e4}), make_book())
    np.testing.assert_allclose(levels.stop, [1.099, 149.99], rtol=1e-12)


def test_non_opening_intents_get_none() -> None:
    levels = ForexPipStop().levels(batch_of({"EURUSD": -1e4}), make_book(units={"EURUSD": 2e4}))
    assert np.isnan(levels.stop).all()
