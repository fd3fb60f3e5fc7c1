"""Every registered portfolio constructor honours the ``Constructor`` contract.

Run over each name in ``CONSTRUCTORS`` with its default parameters, on a market of three
symbols on different calendars (one trades every bar, one skips bars, one starts late) with
random signals, with and without the optional frames (probability, expected return,
volatility, target). The contract: weights are finite or NaN, on the signals' grid; causal:
replacing every bar and signal after t changes no weight at or before t.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alphaforge.core.types import AssetClass, Instrument
from alphaforge.features.testing import random_bars
from alphaforge.portfolio import CONSTRUCTORS, Constructor
from alphaforge.strategies import MarketFrames, Signals

N = 160


def _market(seed: int) -> MarketFrames:
    a = random_bars(seed, N)
    b = random_bars(seed + 1, N).iloc[[k for k in range(N) if k % 4 != 1]]
    c = random_bars(seed + 2, N).iloc[40:]
    bars = {"A": a, "B": b, "C": c}
    instruments = {
        "A": Instrument("A", AssetClass.STOCK),
        "B": Instrument("B", AssetClass.STOCK),
        "C": Instrument("C", AssetClass.CRYPTO),
    }
    return MarketFrames.from_bars(bars, instruments)


def _signals(market: MarketFrames, seed: int, *, full: bool) -> Signals:
    rng = np.random.default_rng(seed)
    shape = market.close.shape
    traded = market.close.notna()

    def frame(values: np.ndarray) -> pd.DataFrame:
        out = pd.DataFrame(values, index=market.index, columns=market.close.columns)
        return out.where(traded)

    value = frame(np.round(rng.uniform(-1, 1, shape), 1))  # some exact zeros
    if not full:
        return Signals(value)
    return Signals(
        value,
        target=market.close * frame(rng.uniform(0.9, 1.1, shape)),
        probability=frame(rng.uniform(0, 1, shape)),
        expected_return=frame(rng.normal(0, 0.02, shape)),
        volatility=frame(rng.uniform(0.05, 0.8, shape)),
    )


def _scramble_after(
    market: MarketFrames, signals: Signals, t: int, seed: int
) -> tuple[MarketFrames, Signals]:
    """Replace every bar and signal after row ``t`` with other values."""
    rng = np.random.default_rng(seed)
    after = market.index > market.index[t]

    def scramble(frame: pd.DataFrame | None) -> pd.DataFrame | None:
        if frame is None:
            return None
        out = frame.copy()
        out.loc[after] = out.loc[after] * rng.uniform(0.5, 1.5, out.loc[after].shape)
        return out

    def flip(frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.copy()
        out.loc[after] = -out.loc[after]
        return out

    fields = [scramble(f) for f in (market.open, market.high, market.low, market.close)]
    new_market = MarketFrames(
        *fields,  # type: ignore[arg-type]
        scramble(market.volume),  # type: ignore[arg-type]
        market.instruments,
    )
    new_signals = Signals(
        flip(signals.value),
        target=scramble(signals.target),
        probability=scramble(signals.probability),
        expected_return=scramble(signals.expected_return),
        volatility=scramble(signals.volatility),
    )
    return new_market, new_signals


def _constructor(name: str) -> Constructor:
    return CONSTRUCTORS.get(name)()


@pytest.mark.parametrize("full", [True, False])
@pytest.mark.parametrize("name", CONSTRUCTORS.names())
def test_weights_are_finite_or_nan_on_the_signals_grid(name: str, full: bool) -> None:
    market = _market(3)
    signals = _signals(market, 3, full=full)
    weights = _constructor(name).targets(signals, market)
    assert weights.index.equals(signals.value.index)
    assert list(weights.columns) == list(signals.value.columns)
    w = weights.to_numpy(np.float64)
    assert not np.isinf(w).any()
    if full:  # with only values, a ranking that needs E[r] (bayesian) has nothing to rank
        assert np.isfinite(w).any(), "no target at all"


@pytest.mark.parametrize("name", CONSTRUCTORS.names())
def test_weights_are_causal(name: str) -> None:
    constructor = _constructor(name)

    # Built per case (see tests/property/test_feature_causality.py for why).
    @settings(max_examples=5, deadline=None)
    @given(seed=st.integers(0, 2**31 - 1), t=st.integers(0, N - 2), full=st.booleans())
    def check(seed: int, t: int, full: bool) -> None:
        market = _market(seed % 16)
        signals = _signals(market, seed, full=full)
        before = constructor.targets(signals, market)
        new_market, new_signals = _scramble_after(market, signals, t, seed)
        after = constructor.targets(new_signals, new_market)
        pd.testing.assert_frame_equal(before.iloc[: t + 1], after.iloc[: t + 1])

    check()
