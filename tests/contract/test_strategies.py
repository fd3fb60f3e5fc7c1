"""Every registered strategy honours the ``Strategy`` contract.

Run over each name in ``STRATEGIES`` with its default parameters, on a market of three symbols
on different calendars (one trades every day, one skips bars, one starts late) with model
scores for the strategies that read them. The contract: no signal before the warm-up (counted
in the symbol's own bars); values in [-1, 1] or NaN; causal: replacing every bar (and score)
after t changes no signal at or before t.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alphaforge.core.types import AssetClass, Instrument
from alphaforge.features.testing import random_bars
from alphaforge.strategies import STRATEGIES, MarketFrames, StrategyParams

N = 160


def _market(seed: int) -> MarketFrames:
    a = random_bars(seed, N)
    b = random_bars(seed + 1, N).iloc[[k for k in range(N) if k % 4 != 1]]
    c = random_bars(seed + 2, N).iloc[40:]
    bars = {"A": a, "B": b, "C": c}
    instruments = {s: Instrument(s, AssetClass.STOCK) for s in bars}
    index = a.index
    rng = np.random.default_rng(seed)
    scores = pd.DataFrame(rng.normal(size=(N, 3)), index=index, columns=list(bars))
    scores = scores.where(pd.DataFrame({s: index.isin(f.index) for s, f in bars.items()}, index))
    return MarketFrames.from_bars(
        bars, instruments, scores=scores, predictions=_predictions(scores)
    )


def _predictions(scores: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Return prediction frames made from the scores: a probability and an agreement share."""
    return {"score_ensemble": 1.0 / (1.0 + np.exp(-scores)), "agreement": scores.abs().clip(0, 1)}


def _scramble_after(market: MarketFrames, t: int, seed: int) -> MarketFrames:
    """Replace every bar and score after row ``t`` with other random values."""
    rng = np.random.default_rng(seed)
    after = market.index > market.index[t]

    def scramble(frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.copy()
        block = out.loc[after]
        noise = block * rng.uniform(0.5, 1.5, block.shape)
        out.loc[after] = noise
        return out

    scores = market.scores
    if scores is not None:
        scores = scores.copy()
        scores.loc[after] = rng.normal(size=scores.loc[after].shape)
        scores = scores.where(market.close.notna())
    fields = [scramble(f) for f in (market.open, market.high, market.low, market.close)]
    return MarketFrames(
        *fields,
        scramble(market.volume),
        market.instruments,
        scores,  # type: ignore[arg-type]
        None if scores is None else _predictions(scores),
    )


def _strategy(name: str) -> StrategyParams:
    return STRATEGIES.get(name)()


@pytest.mark.parametrize("name", STRATEGIES.names())
def test_warmup_and_range(name: str) -> None:
    strategy = _strategy(name)
    market = _market(7)
    value = strategy.signals(market).value
    assert value.index.equals(market.index)
    assert list(value.columns) == market.symbols
    finite = value.to_numpy()[np.isfinite(value.to_numpy())]
    assert finite.size > 0
    assert ((finite >= -1.0) & (finite <= 1.0)).all()
    for symbol in market.symbols:
        own = value[symbol].reindex(market.close[symbol].dropna().index)
        assert own.iloc[: strategy.warmup].isna().all(), symbol
        # No signal on bars the symbol does not trade.
        assert value[symbol][market.close[symbol].isna()].isna().all()


@pytest.mark.parametrize("name", STRATEGIES.names())
def test_signals_are_causal(name: str) -> None:
    strategy = _strategy(name)

    # Built per case (see tests/property/test_feature_causality.py for why).
    @settings(max_examples=5, deadline=None)
    @given(seed=st.integers(0, 2**31 - 1), t=st.integers(0, N - 2))
    def check(seed: int, t: int) -> None:
        market = _market(seed % 16)
        before = strategy.signals(market).value
        after = strategy.signals(_scramble_after(market, t, seed)).value
        pd.testing.assert_frame_equal(before.iloc[: t + 1], after.iloc[: t + 1])

    check()
