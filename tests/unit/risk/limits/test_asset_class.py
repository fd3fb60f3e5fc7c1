"""Asset-class limit: stocks (with ETFs) 60 %, crypto 30 % with altcoins 40 % of it, forex 20 %."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaforge.config.pieces import build_piece
from alphaforge.core.errors import ConfigError
from alphaforge.core.types import AssetClass, Instrument
from alphaforge.portfolio.book import Book, IntentBatch, Universe, cap_position
from alphaforge.risk.limits.asset_class import AssetClassLimit
from alphaforge.risk.pieces import LIMITS

T = pd.Timestamp("2024-01-02 14:30", tz="UTC")
UNIVERSE = Universe.of(
    [
        Instrument("S1", AssetClass.STOCK, sector="Technology"),
        Instrument("SPY", AssetClass.ETF),
        Instrument("BTC-USD", AssetClass.CRYPTO),
        Instrument("SOL-USD", AssetClass.CRYPTO),
        Instrument("DOGE-USD", AssetClass.CRYPTO),
        Instrument("EURUSD", AssetClass.FOREX),
        Instrument("ES1", AssetClass.FUTURE),
    ]
)
# Every price is 100 on 100,000 of equity: 1 unit is 0.1 % of equity.


def _book(units: list[float], prices: list[float] | None = None) -> Book:
    price = np.array(prices or [100.0] * 7)
    return Book(UNIVERSE, T, 100_000.0, np.array(units), price)


def _approved(book: Book, batch: IntentBatch) -> np.ndarray:
    check = AssetClassLimit().check(batch, book)
    return cap_position(batch.held(book), batch.quantity, check.max_abs)


def test_etfs_count_with_stocks() -> None:
    book = _book([500.0, 0, 0, 0, 0, 0, 0])  # S1 at 50 %
    np.testing.assert_allclose(_approved(book, IntentBatch.of([1], [200.0])), [100.0])


def test_altcoins_hold_at_most_forty_percent_of_the_crypto_cap() -> None:
    # SOL 10 % passes; DOGE then has 2 % of the 12 % altcoin room left; BTC the 18 % crypto.
    book = _book([0.0] * 7)
    batch = IntentBatch.of([3, 4, 2], [100.0, 100.0, 300.0])
    check = AssetClassLimit().check(batch, book)
    np.testing.assert_allclose(_approved(book, batch), [100.0, 20.0, 180.0])
    # DOGE's record names the altcoin bound it is beyond; BTC's the crypto cap.
    np.testing.assert_allclose(check.limit, [0.12, 0.12, 0.30])
    np.testing.assert_allclose(check.observed, [0.10, 0.20, 0.42])


def test_the_crypto_cap_binds_altcoins_too() -> None:
    book = _book([0, 0, 250.0, 0, 0, 0, 0])  # BTC at 25 %
    np.testing.assert_allclose(_approved(book, IntentBatch.of([3], [100.0])), [50.0])


def test_forex_is_capped_and_unlisted_classes_are_not() -> None:
    book = _book([0.0] * 7)
    batch = IntentBatch.of([5, 6], [-300.0, 5000.0])
    np.testing.assert_allclose(_approved(book, batch), [-200.0, 5000.0])


def test_a_class_that_drifted_past_its_cap_may_shrink_but_not_grow() -> None:
    # Forex 20 % bought at 100; the pair rose to 110: 22 %.
    book = _book([0, 0, 0, 0, 0, 200.0, 0], [100.0] * 5 + [110.0, 100.0])
    batch = IntentBatch.of([5], [1.0])
    np.testing.assert_allclose(_approved(book, batch), [0.0])
    np.testing.assert_allclose(_approved(book, IntentBatch.of([5], [-1.0])), [-1.0])
    assert AssetClassLimit().usage(book) == pytest.approx(0.22 / 0.20)


def test_caps_take_only_asset_classes() -> None:
    limit = build_piece(LIMITS, "asset_class", {"caps": {"stock": 0.5}})
    assert limit.caps == {"stock": 0.5}  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="unknown asset class stocks"):
        build_piece(LIMITS, "asset_class", {"caps": {"stocks": 0.5}})
