"""The ``pairs`` strategy on constructed and planted pairs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from alphaforge.config.models import StrategyConfig
from alphaforge.core.errors import ConfigError
from alphaforge.core.types import AssetClass, Instrument
from alphaforge.data.synthetic_pairs import ar1, planted_pairs
from alphaforge.strategies import STRATEGIES, MarketFrames, create_strategy
from alphaforge.strategies.base import Family
from alphaforge.strategies.stat_arb.pairs import Pairs, _components
from alphaforge.strategies.stat_arb.scan import scan_pairs

N = 420


def _bars(log_close: np.ndarray) -> pd.DataFrame:
    index = pd.date_range("2016-01-04", periods=log_close.size, freq="1D", tz="UTC")
    close = np.exp(log_close)
    return pd.DataFrame(
        {"open": close, "high": close, "low": close, "close": close, "volume": 1e6},
        index=index.rename("timestamp"),
    )


def _constructed(seed: int, z_path: list[float], asset_class: AssetClass) -> tuple:
    """A pair A ~ B with a calm spread, and ``z_path`` written after a passed re-test.

    Returns the market, the re-test row and the test's hedge ratio.
    """
    rng = np.random.default_rng(seed)
    log_b = math.log(40.0) + np.cumsum(rng.normal(0, 0.012, N))
    calm = ar1(rng, N, 0.5, 0.005)
    # Clipped so that no trade opens by chance before the bars under test.
    spread = np.clip(calm, -1.2 * calm.std(), 1.2 * calm.std())
    log_a = 0.1 + log_b + spread
    strategy = Pairs()
    instruments = {s: Instrument(s, asset_class) for s in ("A", "B")}
    market = MarketFrames.from_bars({"A": _bars(log_a), "B": _bars(log_b)}, instruments)
    # The strategy's clock: stocks trade no weekends, one bar a day (its market's spacing).
    day = int(pd.Timedelta(days=1).value)
    scan = scan_pairs(market.close, strategy.settings, spacing_ns=day, weekends=False)
    chosen = scan[scan["selected"]]
    test = chosen[chosen["row"] >= 260].iloc[0]
    r = int(test["row"])
    assert scan["row"][scan["row"] > r].min() > r + len(z_path)  # all inside one block
    for k, z in enumerate(z_path, start=1):
        log_a[r + k] = test["intercept"] + test["hedge"] * log_b[r + k] + z * test["spread_std"]
    market = MarketFrames.from_bars({"A": _bars(log_a), "B": _bars(log_b)}, instruments)
    return market, r, float(test["hedge"])


def test_a_pair_at_plus_two_and_a_half_sigma_shorts_the_spread_and_exits_at_zero() -> None:
    market, r, hedge = _constructed(1, [0.5, 0.5, 2.5, 1.2, 0.4, -0.05, 0.3], AssetClass.STOCK)
    signals = Pairs().signals(market)
    a = signals.value["A"].to_numpy()[r + 1 : r + 8]
    b = signals.value["B"].to_numpy()[r + 1 : r + 8]
    short_a, long_b = -1.0 / (1.0 + abs(hedge)), hedge / (1.0 + abs(hedge))
    np.testing.assert_allclose(a, [0, 0, short_a, short_a, short_a, 0, 0], atol=1e-12)
    np.testing.assert_allclose(b, [0, 0, long_b, long_b, long_b, 0, 0], atol=1e-12)
    assert signals.group is not None
    groups = signals.group.iloc[r + 1 : r + 8]
    named = {s: [g if isinstance(g, str) else None for g in groups[s]] for s in ("A", "B")}
    assert named["A"] == [None, None, "A~B", "A~B", "A~B", None, None]
    assert named["B"] == named["A"]


def test_crypto_needs_two_and_a_half_sigma() -> None:
    path = [0.5, 2.2, 1.0, -0.1]
    stock, r, _ = _constructed(2, path, AssetClass.STOCK)
    crypto, r_crypto, _ = _constructed(2, path, AssetClass.CRYPTO)
    assert r == r_crypto
    assert Pairs().signals(stock).value["A"].iloc[r + 2] < 0
    assert Pairs().signals(crypto).value["A"].iloc[r + 2] == 0


def test_a_failed_retest_opens_nothing_new_and_an_open_trade_still_exits() -> None:
    strategy = Pairs()
    n = 120
    z = np.zeros(n)
    z[28] = 2.5  # opens a short in the first block
    z[29:41] = 1.0  # still open across the second re-test at 31
    z[41] = -0.1  # back at the mean: closes
    z[45] = 2.5  # second block
    log_x = np.zeros(n)
    log_y = z.copy()  # spread = log y - 0 - 1 * log x, std 1: the spread is z
    starts = np.array([10, 31, 52], dtype=np.int64)
    test = {"intercept": 0.0, "hedge": 1.0, "spread_std": 1.0}
    first = pd.DataFrame([{"row": 10, **test}])
    both = pd.DataFrame([{"row": 10, **test}, {"row": 31, **test}])

    failed, _ = strategy.pair_trades(log_y, log_x, first, starts, 2.0)
    assert (failed[28:41] == -1.0).all()
    assert failed[41] == 0.0
    assert failed[45] == 0.0  # the second re-test failed: nothing new

    passed, _ = strategy.pair_trades(log_y, log_x, both, starts, 2.0)
    np.testing.assert_array_equal(passed[:45], failed[:45])
    assert passed[45] == -1.0


@pytest.mark.parametrize("hedge", ["ols", "kalman"])
def test_restart_from_the_lookback_window_gives_the_same_signals(hedge: str) -> None:
    universe = planted_pairs(8, n_pairs=2, n_free=2, n=800, phi=0.8)
    instruments = {s: Instrument(s, AssetClass.STOCK) for s in universe.bars}
    market = MarketFrames.from_bars(universe.bars, instruments)
    strategy = Pairs(hedge=hedge)
    full = strategy.signals(market)
    assert (full.value.abs() > 0).to_numpy().sum() > 50  # trades happen
    for k in (600, 700):
        window = market.window(market.index[k - strategy.lookback + 1 :])
        restarted = strategy.signals(window)
        pd.testing.assert_frame_equal(
            restarted.value.iloc[strategy.lookback - 1 :], full.value.iloc[k:]
        )
        assert restarted.group is not None and full.group is not None
        pd.testing.assert_frame_equal(
            restarted.group.iloc[strategy.lookback - 1 :], full.group.iloc[k:]
        )


def test_signals_are_causal_on_a_traded_pair() -> None:
    universe = planted_pairs(9, n_pairs=1, n_free=1, n=500, phi=0.8)
    instruments = {s: Instrument(s, AssetClass.STOCK) for s in universe.bars}
    market = MarketFrames.from_bars(universe.bars, instruments)
    strategy = Pairs()
    before = strategy.signals(market).value
    t = 400
    rng = np.random.default_rng(0)
    bars = {s: b.copy() for s, b in universe.bars.items()}
    for frame in bars.values():
        frame.iloc[t + 1 :] *= rng.uniform(0.8, 1.2, (len(frame) - t - 1, 1))
    after = strategy.signals(MarketFrames.from_bars(bars, instruments)).value
    pd.testing.assert_frame_equal(before.iloc[: t + 1], after.iloc[: t + 1])


def test_free_walks_stay_flat_and_warmup_is_respected() -> None:
    universe = planted_pairs(10, n_pairs=1, n_free=3, n=400, phi=0.8)
    instruments = {s: Instrument(s, AssetClass.STOCK) for s in universe.bars}
    market = MarketFrames.from_bars(universe.bars, instruments)
    strategy = Pairs()
    value = strategy.signals(market).value
    assert value.iloc[: strategy.warmup].isna().all().all()
    assert (value.iloc[strategy.warmup :].abs() <= 1.0).all().all()
    free = value[[s for s in value.columns if s.startswith("F")]].iloc[strategy.warmup :]
    assert (free == 0.0).all().all()


def test_pairs_sharing_a_symbol_join_one_group() -> None:
    names = ["A", "B", "C", "D", "E"]
    groups = _components([(0, 1), (3, 4), (0, 2)], names)
    assert sorted((sorted(m), label) for m, label in groups) == [
        ([0, 1, 2], "A~B+A~C"),
        ([3, 4], "D~E"),
    ]


def test_registered_with_its_family_and_checked_levels() -> None:
    assert STRATEGIES.get("pairs") is Pairs
    assert Pairs.family is Family.STAT_ARB
    assert Pairs().lookback >= Pairs().warmup
    with pytest.raises(ConfigError, match="exit_z < entry < stop_z"):
        create_strategy(StrategyConfig(name="pairs", params={"entry_z": 3.5}))
