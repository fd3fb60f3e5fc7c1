"""Every registered sizer honours the ``Sizer`` contract.

Run over each name in ``SIZERS`` with its default parameters, on random requests over a
universe of stocks, crypto and forex pairs (random equity, holdings, targets, stops, takes,
probabilities, closed-trade payoffs and features, each sometimes missing). The contract: a
finite target for every finite proposal; never the other side of the proposed target (and a
zero stays zero); the request is not modified and the answer depends on it alone; causal:
a request built at t from bars to t (features, prices) gets the same answer when the bars
after t change.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alphaforge.core.types import AssetClass, Instrument
from alphaforge.features import compute
from alphaforge.features.testing import random_bars
from alphaforge.portfolio import SIZERS, Sizer
from alphaforge.portfolio.book import Book, Universe
from alphaforge.portfolio.pieces import SizingRequest

INSTRUMENTS = (
    Instrument("A", AssetClass.STOCK),
    Instrument("B", AssetClass.STOCK),
    Instrument("BTC-USD", AssetClass.CRYPTO),
    Instrument("EURUSD", AssetClass.FOREX, currency="USD"),
    Instrument("USDJPY", AssetClass.FOREX, currency="JPY"),
    Instrument("EURGBP", AssetClass.FOREX, currency="GBP"),
)
UNIVERSE = Universe.of(INSTRUMENTS)
PRICE_SCALE = np.array([100.0, 20.0, 60_000.0, 1.1, 150.0, 0.85])
FEATURES = ("atr_14", "vol_yang_zhang_20", "dollar_volume_log_20")
T = pd.Timestamp("2024-05-01 14:30", tz="UTC")


def _sometimes_nan(rng: np.random.Generator, x: np.ndarray, share: float = 0.2) -> np.ndarray:
    return np.where(rng.uniform(size=x.shape) < share, np.nan, x)


def _random_request(seed: int) -> tuple[SizingRequest, np.ndarray]:
    """Return a random request over some of the universe, and the proposed targets."""
    rng = np.random.default_rng(seed)
    n = len(INSTRUMENTS)
    prices = _sometimes_nan(rng, PRICE_SCALE * rng.uniform(0.5, 1.5, n), 0.1)
    side = rng.choice([-1.0, 0.0, 1.0], n)
    held = rng.choice([0.0, 1.0], n) * rng.normal(0, 100, n)
    features = {
        "atr_14": _sometimes_nan(rng, PRICE_SCALE * rng.uniform(0.0, 0.05, n)),
        "vol_yang_zhang_20": _sometimes_nan(rng, rng.uniform(0.0, 0.06, n)),
        "dollar_volume_log_20": _sometimes_nan(rng, rng.uniform(5.0, 20.0, n)),
    }
    book = Book(
        UNIVERSE,
        T,
        float(rng.choice([10_000.0, 1e6, 0.0])),
        held,
        prices,
        features=features,
        whole_units=bool(rng.integers(2)),
    )
    index = np.sort(rng.choice(n, size=int(rng.integers(1, n + 1)), replace=False))
    k = len(index)
    p = prices[index]
    # Stops and takes on either side of the price, or missing.
    stop = _sometimes_nan(rng, p * rng.uniform(0.9, 1.1, k), 0.3)
    take = _sometimes_nan(rng, p * rng.uniform(0.8, 1.2, k), 0.3)
    wins = rng.uniform(0.0, 0.1, 2)
    request = SizingRequest(
        book,
        index.astype(np.int64),
        side[index] * rng.uniform(0, 0.3, k),
        stop,
        take,
        _sometimes_nan(rng, rng.uniform(0, 1, k)),
        _sometimes_nan(rng, rng.normal(0, 0.02, k)),
        float(wins[0]) if rng.uniform() < 0.7 else float("nan"),
        float(wins[1]) if rng.uniform() < 0.7 else float("nan"),
    )
    target = side[index] * rng.lognormal(3.0, 2.0, k)
    return request, target


def _sizer(name: str) -> Sizer:
    return SIZERS.get(name)()


def _snapshot(request: SizingRequest) -> list[np.ndarray]:
    book = request.book
    arrays = [book.units, book.prices, *book.features.values()]
    arrays += [request.index, request.weights, request.stop, request.take, request.probability]
    return [np.array(a, copy=True) for a in arrays]


@pytest.mark.parametrize("name", SIZERS.names())
def test_finite_same_side_and_pure(name: str) -> None:
    sizer = _sizer(name)

    # Built per case (see tests/property/test_feature_causality.py for why).
    @settings(max_examples=60, deadline=None)
    @given(seed=st.integers(0, 2**31 - 1))
    def check(seed: int) -> None:
        request, target = _random_request(seed)
        before = _snapshot(request)
        proposed = target.copy()
        out = np.asarray(sizer.size(request, target), np.float64)
        assert out.shape == target.shape
        assert np.isfinite(out).all()
        assert (out * target >= 0).all(), "a sizer turned a target to the other side"
        assert (out[target == 0] == 0).all()
        np.testing.assert_array_equal(target, proposed)
        for a, b in zip(before, _snapshot(request), strict=True):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(out, sizer.size(request, target))

    check()


def _bars(seed: int) -> dict[str, pd.DataFrame]:
    out = {}
    for k, instrument in enumerate(INSTRUMENTS):
        bars = random_bars(seed + k, 80)
        scale = PRICE_SCALE[k] / 50.0
        bars[["open", "high", "low", "close"]] *= scale
        out[instrument.symbol] = bars
    return out


def _request_at(
    bars: dict[str, pd.DataFrame], t: int, seed: int, side: np.ndarray
) -> SizingRequest:
    """The request at bar ``t``'s close: features and prices from bars to ``t`` only; stops
    and takes on the sides a position on ``side`` needs."""
    rng = np.random.default_rng(seed)
    n = len(INSTRUMENTS)
    features = {name: np.empty(n) for name in FEATURES}
    prices = np.empty(n)
    for k, instrument in enumerate(INSTRUMENTS):
        frame = bars[instrument.symbol]
        values = compute(frame, list(FEATURES))
        for name in FEATURES:
            features[name][k] = values[name].iloc[t]
        prices[k] = frame["close"].iloc[t]
    book = Book(UNIVERSE, frame.index[t], 100_000.0, rng.normal(0, 50, n), prices, features)
    index = np.arange(n, dtype=np.int64)
    return SizingRequest(
        book,
        index,
        np.zeros(n),
        prices * (1.0 - side * rng.uniform(0.001, 0.05, n)),
        prices * (1.0 + side * rng.uniform(0.001, 0.1, n)),
        rng.uniform(0, 1, n),
        np.full(n, np.nan),
        0.03,
        0.02,
    )


@pytest.mark.parametrize("name", SIZERS.names())
def test_sizers_are_causal(name: str) -> None:
    sizer = _sizer(name)

    @settings(max_examples=5, deadline=None)
    @given(seed=st.integers(0, 2**31 - 1), t=st.integers(20, 78))
    def check(seed: int, t: int) -> None:
        bars = _bars(seed % 16)
        rng = np.random.default_rng(seed)
        scrambled = {}
        for symbol, frame in bars.items():
            out = frame.copy()
            after = out.index > out.index[t]
            out.loc[after] = out.loc[after] * rng.uniform(0.5, 1.5, out.loc[after].shape)
            out["high"] = out[["open", "high", "close"]].max(axis=1)
            out["low"] = out[["open", "low", "close"]].min(axis=1)
            scrambled[symbol] = out
        target = np.random.default_rng(seed + 1).normal(0, 500, len(INSTRUMENTS))
        side = np.sign(target)
        before = sizer.size(_request_at(bars, t, seed, side), target)
        after = sizer.size(_request_at(scrambled, t, seed, side), target)
        np.testing.assert_array_equal(before, after)

    check()
