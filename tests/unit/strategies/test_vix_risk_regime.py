"""vix_risk_regime on a market whose VIX path is set: 35 (risk-off), 20 (neutral), 10 (on)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from alphaforge.core.types import AssetClass, Instrument
from alphaforge.features.testing import random_bars
from alphaforge.strategies import STRATEGIES, MarketFrames

ASSETS = {
    "AAPL": AssetClass.STOCK,
    "QQQ": AssetClass.ETF,
    "BTC-USD": AssetClass.CRYPTO,
    "USDJPY": AssetClass.FOREX,
    "EURCHF": AssetClass.FOREX,
    "CHFJPY": AssetClass.FOREX,
    "EURUSD": AssetClass.FOREX,
    "ES=F": AssetClass.FUTURE,
}


def _market(vix_levels: list[float], freq: str = "1D") -> MarketFrames:
    n = len(vix_levels)
    bars = {s: random_bars(k, n, freq=freq) for k, s in enumerate(ASSETS)}
    vix = random_bars(99, n, freq=freq)
    vix["close"] = vix_levels
    vix["high"] = np.maximum(vix["high"], vix["close"])
    vix["low"] = np.minimum(vix["low"], vix["close"])
    bars["^VIX"] = vix
    instruments = {s: Instrument(s, c) for s, c in ASSETS.items()}
    instruments["^VIX"] = Instrument("^VIX", AssetClass.INDEX)
    return MarketFrames.from_bars(bars, instruments)


def test_vix_at_35_turns_risk_off() -> None:
    market = _market([35.0] * 5)
    strategy = STRATEGIES.get("vix_risk_regime")()
    strategy.check_data(market)  # daily bars are accepted
    last = strategy.signals(market).value.iloc[-1]
    assert last["AAPL"] == -1.0 and last["QQQ"] == -1.0 and last["BTC-USD"] == -1.0
    # Long yen and franc: short USDJPY and EURCHF; a yen-franc cross has no haven side.
    assert last["USDJPY"] == -1.0 and last["EURCHF"] == -1.0
    assert last["CHFJPY"] == 0.0 and last["EURUSD"] == 0.0
    assert np.isnan(last["ES=F"]) and np.isnan(last["^VIX"])
    flat = STRATEGIES.get("vix_risk_regime")(risk_off_action="flat").signals(market).value
    assert flat.iloc[-1][["AAPL", "QQQ", "BTC-USD"]].eq(0.0).all()
    assert flat.iloc[-1]["USDJPY"] == -1.0


def test_the_regime_follows_the_vix_bar_by_bar() -> None:
    value = STRATEGIES.get("vix_risk_regime")().signals(_market([35.0, 20.0, 10.0, 31.0])).value
    assert value["AAPL"].tolist() == [-1.0, 0.0, 1.0, -1.0]
    assert value["USDJPY"].tolist() == [-1.0, 0.0, 1.0, -1.0]
    assert value["CHFJPY"].tolist() == [0.0, 0.0, 0.0, 0.0]


def test_a_missing_vix_close_is_carried_then_goes_stale() -> None:
    # The VIX has its first bar only (hourly: it does not trade overnight).
    market = _market([35.0] + [np.nan] * 4, freq="1h")
    value = STRATEGIES.get("vix_risk_regime")(max_stale_bars=2).signals(market).value
    assert value["AAPL"].tolist()[:3] == [-1.0, -1.0, -1.0]
    assert value["AAPL"].isna().tolist()[3:] == [True, True]


def test_levels_must_be_ordered() -> None:
    with pytest.raises(ValidationError, match="risk_on_below"):
        STRATEGIES.get("vix_risk_regime")(risk_on_below=40.0)


def test_a_market_without_the_vix_is_refused() -> None:
    from alphaforge.core.errors import DataError

    bars = {"AAPL": random_bars(1, 10)}
    market = MarketFrames.from_bars(bars, {"AAPL": Instrument("AAPL", AssetClass.STOCK)})
    with pytest.raises(DataError, match=r"\^VIX"):
        STRATEGIES.get("vix_risk_regime")().check_data(market)
    assert pd.isna(STRATEGIES.get("vix_risk_regime")().signals(market).value).all().all()
