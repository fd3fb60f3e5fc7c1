"""The aggregator: weights, bounds, threshold, Bayesian averaging, causality, shares, regime."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from pydantic import ValidationError
from sklearn.isotonic import IsotonicRegression

from alphaforge.core.errors import ConfigError
from alphaforge.core.types import AssetClass, Instrument
from alphaforge.features.testing import random_bars
from alphaforge.strategies import MarketFrames
from alphaforge.strategies.aggregate import PRESETS, Aggregator, Component
from alphaforge.strategies.aggregation import (
    NEVER,
    combine,
    forward_outcomes,
    isotonic_fit,
    normalise_weights,
    regime_multipliers,
    threshold_signal,
    trend_probability,
)
from alphaforge.strategies.base import Family, Signals


def _market(n: int = 400, symbols: int = 3, seed: int = 0) -> MarketFrames:
    names = [f"S{k}" for k in range(symbols)]
    bars = {s: random_bars(seed + k, n) for k, s in enumerate(names)}
    return MarketFrames.from_bars(bars, {s: Instrument(s, AssetClass.STOCK) for s in names})


def _market_from_closes(close: pd.DataFrame) -> MarketFrames:
    bars = {
        s: pd.DataFrame(
            {
                "open": close[s],
                "high": close[s] * 1.001,
                "low": close[s] * 0.999,
                "close": close[s],
                "volume": 1e6,
            },
            index=close.index,
        )
        for s in close.columns
    }
    return MarketFrames.from_bars(bars, {s: Instrument(s, AssetClass.STOCK) for s in close})


def _frame(market: MarketFrames, values: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(values, index=market.index, columns=market.symbols)


def _components(market: MarketFrames, seed: int = 1) -> dict[str, Component]:
    """Three components: noise, a noisy view of the next return, and a sign coin."""
    rng = np.random.default_rng(seed)
    shape = market.close.shape
    forward = (market.close.shift(-1) / market.close - 1.0).to_numpy()
    ahead = np.tanh(np.nan_to_num(forward) * 60.0 + rng.normal(0.0, 0.7, shape))
    return {
        "rsi": Component(
            Signals(_frame(market, np.clip(rng.normal(0, 0.5, shape), -1, 1))),
            Family.MEAN_REVERSION,
        ),
        "momentum": Component(Signals(_frame(market, ahead)), Family.TREND),
        "xgboost": Component(Signals(_frame(market, np.sign(rng.normal(size=shape)))), Family.ML),
    }


# --- weights ----------------------------------------------------------------------------------


def test_preset_drops_absent_components_and_renormalises() -> None:
    got = Aggregator().prior(["rsi", "xgboost", "gap"])
    np.testing.assert_allclose(got, np.array([12.0, 18.0, 8.0]) / 38.0, rtol=0, atol=1e-15)
    full = Aggregator().prior(list(PRESETS["seed_alpaca"]))
    np.testing.assert_allclose(full, [0.12, 0.12, 0.10, 0.08, 0.18, 0.18, 0.22], atol=1e-15)
    assert Aggregator(preset=None).prior(["a", "b"]).tolist() == [0.5, 0.5]
    assert Aggregator(weights={"a": 3, "b": 1}).prior(["b", "a"]).tolist() == [0.25, 0.75]


def test_bad_weights_are_one_line_errors() -> None:
    with pytest.raises(ConfigError, match="no weight to bollinger"):
        Aggregator().prior(["rsi", "bollinger"])
    with pytest.raises(ConfigError, match="non-negative"):
        normalise_weights({"a": -1.0, "b": 2.0}, ["a", "b"])
    with pytest.raises(ConfigError, match="sum to 0"):
        normalise_weights({"a": 0.0, "b": 0.0}, ["a", "b"])
    market = _market(n=30, symbols=1)
    comps = _components(market)
    zero = Aggregator(method="bayesian", weights={"rsi": 0, "momentum": 1, "xgboost": 1})
    with pytest.raises(ConfigError, match="rsi has weight 0"):
        zero.combine(comps, market)
    with pytest.raises(ConfigError, match="no components"):
        Aggregator().combine({}, market)
    with pytest.raises(ValidationError, match="did you mean seed_alpaca"):
        Aggregator(preset="seed_alpacca")
    with pytest.raises(ValidationError):
        Aggregator(method="vote")  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(
    signals=arrays(
        np.float64,
        (6, 3, 4),
        elements=st.one_of(st.floats(-1.0, 1.0), st.just(np.nan)),
    ),
    weights=arrays(np.float64, (6, 3, 4), elements=st.floats(0.0, 10.0)),
    missing=st.sampled_from(["abstain", "renormalise"]),
)
def test_combine_is_bounded_and_its_shares_sum_to_it(
    signals: np.ndarray, weights: np.ndarray, missing: str
) -> None:
    raw, shares, applied = combine(signals, weights, missing)  # type: ignore[arg-type]
    defined = np.isfinite(raw)
    assert (np.abs(raw[defined]) <= 1.0).all()
    np.testing.assert_allclose(shares.sum(axis=-1)[defined], raw[defined], rtol=0, atol=1e-12)
    total = applied.sum(axis=-1)
    positive = weights.sum(axis=-1) > 0 if missing == "abstain" else None
    if positive is not None:
        np.testing.assert_allclose(total[positive], 1.0, atol=1e-12)
    # NaN exactly where no component speaks or no weight is left.
    speaks = np.isfinite(signals).any(axis=-1)
    assert not defined[~speaks].any()
    thresholded = threshold_signal(raw, 0.55)
    traded = np.abs(raw) > 0.55
    assert np.array_equal(thresholded[traded], raw[traded])
    assert (thresholded[defined & ~traded] == 0.0).all()


def test_abstain_dilutes_a_lone_opinion_and_renormalise_does_not() -> None:
    signals = np.array([[[1.0, np.nan, np.nan]]])
    weights = np.array([0.2, 0.3, 0.5])
    assert combine(signals, weights, "abstain")[0][0, 0] == pytest.approx(0.2, abs=1e-15)
    assert combine(signals, weights, "renormalise")[0][0, 0] == pytest.approx(1.0, abs=1e-15)
    assert np.isnan(combine(np.full((1, 1, 3), np.nan), weights)[0][0, 0])


def test_threshold_trades_only_beyond_it_and_says_flat_below() -> None:
    raw = np.array([0.6, -0.56, 0.55, -0.55, 0.2, 0.0, np.nan])
    got = threshold_signal(raw, 0.55)
    np.testing.assert_array_equal(got, [0.6, -0.56, 0.0, 0.0, 0.0, 0.0, np.nan])


def test_aggregate_signal_is_the_thresholded_weighted_mean() -> None:
    market = _market(n=60, symbols=2)
    comps = _components(market)
    agg = Aggregator(off_regime=1.0).combine(comps, market)
    w = Aggregator().prior(list(comps))
    expected = sum(w[i] * comps[n].signals.value.to_numpy() for i, n in enumerate(comps))
    np.testing.assert_allclose(agg.raw.to_numpy(), expected, rtol=0, atol=1e-15)
    value = agg.signals.value.to_numpy()
    assert (np.abs(value) <= 1.0).all()
    np.testing.assert_array_equal(value, np.where(np.abs(expected) > 0.55, expected, 0.0))
    assert (value != 0).any() and (value == 0).any()


# --- outcomes and their timing ----------------------------------------------------------------


def test_forward_outcomes_use_each_symbols_own_bars() -> None:
    close = np.array([[100.0, 10.0], [110.0, np.nan], [99.0, 11.0], [99.0, 12.1], [np.nan, np.nan]])
    returns, known = forward_outcomes(close, horizon=1)
    np.testing.assert_allclose(returns[:, 0], [0.1, -0.1, 0.0, np.nan, np.nan], atol=1e-15)
    np.testing.assert_allclose(returns[:, 1], [0.1, np.nan, 0.1, np.nan, np.nan], atol=1e-15)
    assert known[:, 0].tolist() == [1, 2, 3, NEVER, NEVER]
    # B's bar after row 0 is row 2: the outcome is known there, not at row 1.
    assert known[:, 1].tolist() == [2, NEVER, 3, NEVER, NEVER]
    _, known2 = forward_outcomes(close, horizon=2)
    assert known2[:, 0].tolist() == [2, 3, NEVER, NEVER, NEVER]


def test_performance_weights_switch_when_the_calls_have_closed() -> None:
    index = pd.date_range("2024-01-01", periods=8, freq="D", tz="UTC")
    close = pd.DataFrame({"A": [100.0, 101, 100, 102, 101, 103, 104, 103]}, index=index)
    market = _market_from_closes(close)
    up = np.sign(close["A"].shift(-1) - close["A"]).fillna(0.0).to_numpy()[:, None]
    comps = {
        "right": Component(Signals(_frame(market, 0.5 * up)), Family.ML),
        "wrong": Component(Signals(_frame(market, -0.5 * up)), Family.ML),
    }
    agg = Aggregator(
        method="performance", weights={"right": 1, "wrong": 3}, min_calls=3, off_regime=1.0
    ).combine(comps, market)
    right = agg.weights["right"]["A"].to_numpy()
    # Calls at rows 0, 1, 2 close at rows 1, 2, 3: three closed calls first at row 3.
    np.testing.assert_array_equal(right[:3], [0.25, 0.25, 0.25])
    np.testing.assert_array_equal(right[3:], 1.0)


@pytest.mark.parametrize("method", ["performance", "bayesian"])
@pytest.mark.parametrize("horizon", [1, 3])
def test_weights_at_t_do_not_change_when_later_closes_change(method: str, horizon: int) -> None:
    market = _market(n=360, symbols=3, seed=4)
    comps = _components(market, seed=5)
    agg = Aggregator(
        method=method,  # type: ignore[arg-type]
        horizon=horizon,
        min_calls=5,
        min_outcomes=30,
        refit_every=10,
        regime_hmm=False,
    )
    before = agg.combine(comps, market)
    t = 250
    close = market.close.copy()
    rng = np.random.default_rng(9)
    close.iloc[t + 1 :] *= rng.uniform(0.8, 1.2, close.iloc[t + 1 :].shape)
    scrambled = MarketFrames(
        market.open, market.high, market.low, close, market.volume, market.instruments
    )
    after = agg.combine(comps, scrambled)
    for name in comps:
        np.testing.assert_array_equal(
            before.weights[name].iloc[: t + 1].to_numpy(),
            after.weights[name].iloc[: t + 1].to_numpy(),
        )
    np.testing.assert_array_equal(
        before.raw.iloc[: t + 1].to_numpy(), after.raw.iloc[: t + 1].to_numpy()
    )
    # The test has teeth: the weights after t do move.
    moved = sum(
        float(np.abs(before.weights[n].iloc[t + 1 :] - after.weights[n].iloc[t + 1 :]).sum().sum())
        for n in comps
    )
    assert moved > 0


# --- Bayesian model averaging -----------------------------------------------------------------


def test_bayesian_average_by_hand() -> None:
    """Two components with the prior map (1 + s) / 2: A says P(up) 0.7, B says 0.4."""
    index = pd.date_range("2024-01-01", periods=5, freq="D", tz="UTC")
    # Outcomes of the calls at rows 0..3: up, down, up, up; each known one bar later.
    close = pd.DataFrame({"X": [100.0, 101.0, 100.0, 102.0, 103.0]}, index=index)
    market = _market_from_closes(close)
    comps = {
        "A": Component(Signals(_frame(market, np.full((5, 1), 0.4))), Family.ML),
        "B": Component(Signals(_frame(market, np.full((5, 1), -0.2))), Family.ML),
    }
    agg = Aggregator(
        method="bayesian",
        preset=None,
        weights={"A": 1.0, "B": 1.0},
        threshold=0.0,
        min_outcomes=1000,  # no isotonic fit: P(up) = (1 + s) / 2
        off_regime=1.0,
    ).combine(comps, market)
    lam = 0.98
    # Log-evidence after each bar: the outcome of row s arrives at row s + 1, and evidence
    # that arrived k bars ago is discounted by 0.98 ** k.
    log_a = [
        0.0,
        math.log(0.7),
        lam * math.log(0.7) + math.log(0.3),
        lam**2 * math.log(0.7) + lam * math.log(0.3) + math.log(0.7),
        lam**3 * math.log(0.7) + lam**2 * math.log(0.3) + lam * math.log(0.7) + math.log(0.7),
    ]
    log_b = [
        0.0,
        math.log(0.4),
        lam * math.log(0.4) + math.log(0.6),
        lam**2 * math.log(0.4) + lam * math.log(0.6) + math.log(0.4),
        lam**3 * math.log(0.4) + lam**2 * math.log(0.6) + lam * math.log(0.4) + math.log(0.4),
    ]
    for t in range(5):
        w_a = math.exp(log_a[t]) / (math.exp(log_a[t]) + math.exp(log_b[t]))
        p_up = w_a * 0.7 + (1 - w_a) * 0.4
        assert agg.weights["A"]["X"].iloc[t] == pytest.approx(w_a, abs=1e-12)
        assert agg.probability is not None
        assert agg.probability["X"].iloc[t] == pytest.approx(p_up, abs=1e-12)
        assert agg.raw["X"].iloc[t] == pytest.approx(2 * p_up - 1, abs=1e-12)
        assert agg.shares["A"]["X"].iloc[t] == pytest.approx(w_a * 0.4, abs=1e-12)
    # Row 0 is the prior alone: 0.5 x 0.7 + 0.5 x 0.4 = 0.55.
    assert agg.raw["X"].iloc[0] == pytest.approx(0.1, abs=1e-15)


@settings(max_examples=40, deadline=None)
@given(
    x=arrays(np.float64, st.integers(2, 60), elements=st.sampled_from([-1.0, -0.5, 0.0, 0.3, 1.0])),
    seed=st.integers(0, 2**16),
)
def test_isotonic_fit_equals_scikit_learns(x: np.ndarray, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = x + rng.choice([0.0, 0.01 * rng.normal()], size=len(x))  # ties and distinct values
    y = (rng.uniform(size=len(x)) < (1 + x) / 2).astype(np.float64)
    order = np.argsort(x, kind="stable")
    knots_x, knots_y = isotonic_fit(x[order], y[order])
    reference = IsotonicRegression(increasing=True, out_of_bounds="clip").fit(x, y)
    probe = np.linspace(-1.2, 1.2, 49)
    np.testing.assert_allclose(
        np.interp(probe, knots_x, knots_y), reference.predict(probe), rtol=0, atol=1e-12
    )


def test_isotonic_map_learns_a_components_real_hit_rate() -> None:
    """A component right 80 % of the time but shouting +-1 is mapped to P(up) near 0.8."""
    n = 600
    index = pd.date_range("2020-01-01", periods=n, freq="D", tz="UTC")
    rng = np.random.default_rng(2)
    steps = rng.choice([-0.01, 0.01], size=n)
    close = pd.DataFrame({"X": 100 * np.exp(np.cumsum(steps))}, index=index)
    market = _market_from_closes(close)
    up = np.sign(close["X"].shift(-1) - close["X"]).fillna(1.0).to_numpy()
    said = np.where(rng.uniform(size=n) < 0.8, up, -up)[:, None]
    comps = {"A": Component(Signals(_frame(market, said)), Family.ML)}
    agg = Aggregator(
        method="bayesian", preset=None, off_regime=1.0, threshold=0.0, refit_every=21
    ).combine(comps, market)
    assert agg.probability is not None
    late = agg.probability["X"].iloc[-100:].to_numpy()
    longs = late[said[-100:, 0] > 0]
    # Before calibration a +1 call claims P(up) = 1; after it, about the observed 80 %.
    assert agg.probability["X"].iloc[0] in (0.0, 1.0)
    assert 0.7 < longs.mean() < 0.9


@pytest.mark.parametrize("method", ["performance", "bayesian"])
def test_restart_from_the_lookback_window_gives_the_same_last_signals(method: str) -> None:
    market = _market(n=700, symbols=2, seed=6)
    comps = _components(market, seed=7)
    agg = Aggregator(
        method=method,  # type: ignore[arg-type]
        horizon=2,
        min_calls=5,
        regime_hmm=False,
        off_regime=1.0,
        window=60,
        calibration_window=100,
    )
    full = agg.combine(comps, market)
    start = len(market.index) - agg.lookback(0) - 4  # the last 5 rows
    window = market.window(market.index[start:])
    part = agg.combine(
        {n: Component(Signals(c.signals.value.iloc[start:]), c.family) for n, c in comps.items()},
        window,
    )
    np.testing.assert_array_equal(full.raw.iloc[-5:].to_numpy(), part.raw.iloc[-5:].to_numpy())


# --- shares and attribution -------------------------------------------------------------------


@pytest.mark.parametrize("method", ["fixed", "performance", "bayesian"])
def test_shares_sum_to_the_aggregate_and_split_pnl_exactly(method: str) -> None:
    market = _market(n=300, symbols=3, seed=8)
    comps = _components(market, seed=8)
    agg = Aggregator(method=method, regime_hmm=False).combine(comps, market)  # type: ignore[arg-type]
    total = sum(agg.shares.values())
    assert isinstance(total, pd.DataFrame)
    np.testing.assert_allclose(total.to_numpy(), agg.raw.to_numpy(), rtol=0, atol=1e-12)
    traded = agg.signals.value.to_numpy() != 0
    np.testing.assert_allclose(
        total.to_numpy()[traded], agg.signals.value.to_numpy()[traded], rtol=0, atol=1e-12
    )
    weights = sum(agg.weights.values())
    assert isinstance(weights, pd.DataFrame)
    np.testing.assert_allclose(weights.to_numpy(), 1.0, atol=1e-12)
    pnl = agg.signals.value * (market.close.shift(-1) / market.close - 1.0)
    split = sum(pnl * f for f in agg.fractions().values())
    assert isinstance(split, pd.DataFrame)
    rows = (pnl != 0) & pnl.notna()
    np.testing.assert_allclose(split[rows].stack(), pnl[rows].stack(), rtol=0, atol=1e-9)


# --- regime switching -------------------------------------------------------------------------


def test_regime_multipliers_as_documented() -> None:
    trend = np.array([[1.0, 0.0, 0.25, np.nan]])
    families = [Family.TREND, Family.MEAN_REVERSION, Family.ML, Family.BREAKOUT, Family.STAT_ARB]
    got = regime_multipliers(trend, families, off_regime=0.5)[0]
    np.testing.assert_allclose(got[0], [1.0, 0.5, 1.0, 1.0, 0.5])  # trend
    np.testing.assert_allclose(got[1], [0.5, 1.0, 1.0, 0.5, 1.0])  # range
    np.testing.assert_allclose(got[2], [0.625, 0.875, 1.0, 0.625, 0.875])
    np.testing.assert_allclose(got[3], 1.0)  # unknown regime: no tilt
    assert (regime_multipliers(trend, families, 1.0) == 1.0).all()


def test_trend_probability_averages_the_known_votes() -> None:
    adx = np.array([[1.0, -1.0, 0.0, np.nan, np.nan]])
    calm = np.array([[0.2, np.nan, 0.6, 0.9, np.nan]])
    np.testing.assert_allclose(
        trend_probability(adx, calm), [[0.6, 1.0, 0.3, 0.9, np.nan]], equal_nan=True
    )
    np.testing.assert_array_equal(trend_probability(adx, None), np.abs(adx))


def test_regime_switch_moves_weight_between_trend_and_mean_reversion() -> None:
    n = 260
    index = pd.date_range("2023-01-01", periods=n, freq="D", tz="UTC")
    t = np.arange(n)
    # A steady climb, then a tight sideways wobble: ADX 14 says trend, then range.
    path = np.where(t < 130, 100 * 1.01**t, 100 * 1.01**129 * (1 + 0.01 * np.sin(t)))
    market = _market_from_closes(pd.DataFrame({"X": path}, index=index))
    ones = np.full((n, 1), 1.0)
    comps = {
        "trend": Component(Signals(_frame(market, ones)), Family.TREND),
        "reversion": Component(Signals(_frame(market, -ones)), Family.MEAN_REVERSION),
    }
    agg = Aggregator(preset=None, off_regime=0.25, regime_hmm=False, threshold=0.0).combine(
        comps, market
    )
    adx = market.feature("trend_regime_adx_14")["X"]
    w = agg.weights["trend"]["X"]
    trending, ranging, unknown = adx.abs() == 1, adx == 0, adx.isna()
    assert trending.sum() > 20 and ranging.sum() > 20 and unknown.sum() > 0
    # Trend: 1 vs 0.25 -> 0.8; range: 0.25 vs 1 -> 0.2; warm-up: the prior's 0.5.
    np.testing.assert_allclose(w[trending], 0.8, atol=1e-15)
    np.testing.assert_allclose(w[ranging], 0.2, atol=1e-15)
    np.testing.assert_allclose(w[unknown], 0.5, atol=1e-15)
    np.testing.assert_allclose(agg.raw["X"][trending], 0.6, atol=1e-12)
    np.testing.assert_allclose(agg.raw["X"][ranging], -0.6, atol=1e-12)


def test_hmm_vote_reaches_the_weights() -> None:
    market = _market(n=700, symbols=2, seed=11)
    comps = {
        "trend": Component(Signals(_frame(market, np.ones(market.close.shape))), Family.TREND),
        "reversion": Component(
            Signals(_frame(market, -np.ones(market.close.shape))), Family.MEAN_REVERSION
        ),
    }
    with_hmm = Aggregator(preset=None).combine(comps, market)
    without = Aggregator(preset=None, regime_hmm=False).combine(comps, market)
    adx = market.feature("trend_regime_adx_14").abs().to_numpy()
    w = with_hmm.weights["trend"].to_numpy()
    w0 = without.weights["trend"].to_numpy()
    # Where the HMM has warmed up the weights blend its vote in, so they differ from ADX alone.
    late = np.isfinite(adx) & (np.arange(len(adx)) >= 550)[:, None]
    assert np.abs(w[late] - w0[late]).max() > 0.01
    # Trend-family weight still lies between its range and trend extremes (1/3 and 2/3).
    assert ((w[late] >= 1 / 3 - 1e-12) & (w[late] <= 2 / 3 + 1e-12)).all()


def test_run_calls_each_strategy_with_its_family() -> None:
    from alphaforge.config import StrategyConfig
    from alphaforge.strategies import create_strategy

    market = _market(n=120, symbols=2)
    strategy = create_strategy(StrategyConfig(name="ma_crossover", params={"fast": 3, "slow": 7}))
    agg = Aggregator(weights={"ma": 1.0}, threshold=0.0, regime_hmm=False).run(
        {"ma": strategy}, market
    )
    expected = strategy.signals(market).value
    pd.testing.assert_frame_equal(agg.raw, expected, check_freq=False, check_names=False)
