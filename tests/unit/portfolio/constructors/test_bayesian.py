"""bayesian: rank by p x E[r] / volatility, with the documented fallbacks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaforge.core.types import AssetClass, Instrument
from alphaforge.features import compute
from alphaforge.features.testing import random_bars
from alphaforge.portfolio import BayesianRanking
from alphaforge.strategies import MarketFrames, Signals

N = 40


def _market(symbols: str = "ABCD") -> MarketFrames:
    bars = {s: random_bars(30 + k, N) for k, s in enumerate(symbols)}
    classes = {"D": AssetClass.CRYPTO}
    instruments = {s: Instrument(s, classes.get(s, AssetClass.STOCK)) for s in bars}
    return MarketFrames.from_bars(bars, instruments)


def _frame(market: MarketFrames, row: list[float]) -> pd.DataFrame:
    return pd.DataFrame([row] * N, index=market.index, columns=market.symbols)


def test_scores_and_picks_by_hand() -> None:
    market = _market()
    signals = Signals(
        _frame(market, [0.5, -0.5, 0.5, 0.1]),
        probability=_frame(market, [0.6, 0.5, 0.7, 0.55]),
        expected_return=_frame(market, [0.02, -0.03, 0.01, 0.0]),
        volatility=_frame(market, [0.2, 0.3, 0.1, 0.25]),
    )
    # Scores: 0.6 x 0.02 / 0.2 = 0.06; 0.5 x -0.03 / 0.3 = -0.05; 0.7 x 0.01 / 0.1 = 0.07; 0.
    scores = BayesianRanking().scores(signals, market).iloc[0].to_numpy()
    np.testing.assert_allclose(scores, [0.06, -0.05, 0.07, 0.0], rtol=1e-12, atol=0)
    # top 1: C long, B short, half the gross each.
    one = BayesianRanking(top_k=1, rebalance_every=3).targets(signals, market)
    assert one.iloc[0].tolist() == [0.0, -0.5, 0.5, 0.0]
    assert one.iloc[1].isna().all() and one.iloc[3].notna().all()
    # top 2: C and A long (positive scores only), B the only short; 1 / (2 x 2) each.
    two = BayesianRanking(top_k=2).targets(signals, market)
    assert two.iloc[0].tolist() == [0.25, -0.25, 0.25, 0.0]
    # Long only: no short.
    long_only = BayesianRanking(top_k=2, long_short=False).targets(signals, market)
    assert long_only.iloc[0].tolist() == [0.5, 0.0, 0.5, 0.0]


def test_fallbacks_value_target_and_realised_volatility() -> None:
    market = _market("AD")
    value = _frame(market, [0.2, -0.6])
    target = market.close * 1.05  # E[r] = +5 % for both
    score = BayesianRanking().scores(Signals(value, target=target), market)
    # p = (value + 1) / 2; volatility: vol_yang_zhang_20 x sqrt(252) (stock), sqrt(365) (crypto).
    for symbol, p, per_year in (("A", 0.6, 252.0), ("D", 0.2, 365.0)):
        bars = pd.DataFrame(
            {f: getattr(market, f)[symbol] for f in ("open", "high", "low", "close", "volume")}
        )
        sigma = compute(bars, ["vol_yang_zhang_20"])["vol_yang_zhang_20"] * np.sqrt(per_year)
        expected = (p * 0.05 / sigma).rename(symbol)
        pd.testing.assert_series_equal(score[symbol], expected, rtol=1e-12, check_names=False)
    assert score.iloc[:20].isna().all().all()  # warm-up of the volatility feature


def test_given_frames_win_over_fallbacks_per_name() -> None:
    market = _market("AB")
    value = _frame(market, [0.2, 0.2])
    probability = _frame(market, [0.9, np.nan])  # B falls back to (0.2 + 1) / 2 = 0.6
    signals = Signals(
        value,
        probability=probability,
        expected_return=_frame(market, [0.01, 0.01]),
        volatility=_frame(market, [0.1, 0.1]),
    )
    row = BayesianRanking().scores(signals, market).iloc[-1].to_numpy()
    np.testing.assert_allclose(row, [0.9 * 0.1, 0.6 * 0.1], rtol=1e-12)


def test_no_expected_return_means_no_ranking() -> None:
    market = _market("AB")
    weights = BayesianRanking().targets(Signals(_frame(market, [1.0, -1.0])), market)
    assert weights.isna().all().all()


@pytest.mark.parametrize("vol", [0.0, -0.1])
def test_non_positive_volatility_is_not_ranked(vol: float) -> None:
    market = _market("A")
    signals = Signals(
        _frame(market, [1.0]),
        expected_return=_frame(market, [0.01]),
        volatility=_frame(market, [vol]),
    )
    assert BayesianRanking().scores(signals, market).isna().all().all()
