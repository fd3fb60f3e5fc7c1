"""Every registered strategy honours the ``Strategy`` contract.

Run over each name in ``STRATEGIES`` with its default parameters, on daily and on hourly bars
(hourly only for strategies that declare an intraday interval). The market meets each
strategy's declaration: symbols of its first asset class on three calendars (one trades every
bar, one skips bars, one starts late), its required instruments beside them, and model
predictions for the strategies that read them. The contract:

* no signal before the warm-up (counted in the symbol's own bars) and none on bars a symbol
  does not trade; values in [-1, 1] or NaN; stops, targets and entries are prices or NaN;
* causal: replacing every bar (and score) after t changes no signal at or before t;
* stateless: recomputing on only the last ``lookback`` bars reproduces the full run's signals;
* seeded reruns are identical, the declaration passes ``check_data`` on this market and the
  signals run through the engine.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alphaforge.backtest.costs import CostSchedule
from alphaforge.backtest.engine import run_engine
from alphaforge.config import BacktestConfig, PortfolioConfig
from alphaforge.core.types import AssetClass, Instrument, Interval
from alphaforge.features.testing import random_bars
from alphaforge.portfolio import TargetWeights
from alphaforge.risk import BasicRiskManager
from alphaforge.strategies import STRATEGIES, MarketFrames, Signals, StrategyParams

#: Bars of the generic market beyond a strategy's warm-up.
EXTRA = 160
#: Strategies (``name`` or ``name@freq``) that may give no signal at all on random walks
#: (their unit tests show the action on a series built for them), with the reason.
QUIET_ON_RANDOM: dict[str, str] = {
    "volatility_breakout": "a random walk of constant volatility seldom squeezes ATR(14) under "
    "0.7 x its 50-bar mean",
    "xsec_momentum@1h": "it ranks on the first bar of a month, and the hourly market ends "
    "within the month its warm-up ends in",
}
#: Signal frames that hold prices (NaN: none).
PRICES = (
    "stop",
    "target",
    "entry_above",
    "entry_below",
    "above_stop",
    "above_target",
    "below_stop",
    "below_target",
)
#: Prediction columns the market carries for model-driven strategies.
MODELS = ("lightgbm", "random_forest", "xgboost", "lstm_attention")


def _instrument(symbol: str, asset_class: AssetClass) -> Instrument:
    if symbol.startswith("^"):
        return Instrument(symbol, AssetClass.INDEX)
    return Instrument(symbol, asset_class)


def _asset_class(strategy: StrategyParams) -> AssetClass:
    classes = type(strategy).asset_classes
    if not classes:
        return AssetClass.STOCK
    return sorted(classes, key=str)[0] if AssetClass.STOCK not in classes else AssetClass.STOCK


def _freq(strategy: StrategyParams) -> str:
    interval = type(strategy).interval
    return "1h" if interval is not None and interval.is_intraday else "1D"


def _cases() -> list[tuple[str, str]]:
    """Each strategy on daily and hourly bars; an intraday one on hourly bars only."""
    out = []
    for name in STRATEGIES.names():
        interval = type(_strategy(name)).interval
        freqs = ["1h"] if interval is not None and interval.is_intraday else ["1D", "1h"]
        out.extend((name, freq) for freq in freqs)
    return out


def _predictions(index: pd.DatetimeIndex, symbols: list[str], seed: int) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    shape = (len(index), len(symbols))
    out: dict[str, pd.DataFrame] = {}
    for model in (*MODELS, "ensemble"):
        up = rng.uniform(0.05, 0.9, shape)
        down = rng.uniform(0.0, 1.0, shape) * (1.0 - up)
        out[f"score_{model}"] = pd.DataFrame(up - down, index, symbols)
        # Named as train names a 3-class run's columns (models.dataset.THREE_CLASSES).
        out[f"p_BUY_{model}"] = pd.DataFrame(up, index, symbols)
        out[f"p_SELL_{model}"] = pd.DataFrame(down, index, symbols)
        out[f"p_HOLD_{model}"] = pd.DataFrame(1.0 - up - down, index, symbols)
    out["agreement"] = pd.DataFrame(rng.uniform(0.4, 1.0, shape), index, symbols)
    return out


def _market(
    strategy: StrategyParams, seed: int, extra: int = EXTRA, freq: str | None = None
) -> MarketFrames:
    """A market that meets the strategy's declaration, ``warmup + extra`` bars long, of
    ``freq`` bars (default: hourly for an intraday strategy, else daily)."""
    n = max(strategy.warmup, 40) + extra
    freq = freq or _freq(strategy)
    asset_class = _asset_class(strategy)
    a = random_bars(seed, n, freq=freq)
    b = random_bars(seed + 1, n, freq=freq).iloc[[k for k in range(n) if k % 4 != 1]]
    c = random_bars(seed + 2, n, freq=freq).iloc[n // 4 :]
    bars = {"A": a, "B": b, "C": c}
    for k, symbol in enumerate(strategy.requires):
        bars[symbol] = random_bars(seed + 3 + k, n, freq=freq)
    if asset_class is AssetClass.FOREX:
        bars = {_fx_name(s, k): f for k, (s, f) in enumerate(bars.items())}
    instruments = {s: _instrument(s, asset_class) for s in bars}
    index = a.index
    symbols = sorted(bars)
    rng = np.random.default_rng(seed)
    trades = pd.DataFrame({s: index.isin(bars[s].index) for s in symbols}, index)
    scores = pd.DataFrame(rng.normal(size=(n, len(symbols))), index, symbols).where(trades)
    predictions = {k: v.where(trades) for k, v in _predictions(index, symbols, seed).items()}
    return MarketFrames.from_bars(bars, instruments, scores=scores, predictions=predictions)


def _fx_name(symbol: str, k: int) -> str:
    """Forex strategies read pair names; the generic three become majors."""
    return {"A": "EURUSD", "B": "GBPUSD", "C": "AUDUSD"}.get(symbol, symbol)


def _scramble_after(market: MarketFrames, t: int, seed: int) -> MarketFrames:
    """Replace every bar, score and prediction after row ``t`` with other random values."""
    rng = np.random.default_rng(seed)
    after = market.index > market.index[t]

    def scramble(frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.copy()
        block = out.loc[after]
        out.loc[after] = block * rng.uniform(0.5, 1.5, block.shape)
        return out

    def redraw(frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.copy()
        out.loc[after] = rng.uniform(0.0, 1.0, out.loc[after].shape)
        return out.where(market.close.notna())

    o, h, lo, c = (scramble(f) for f in (market.open, market.high, market.low, market.close))
    # Keep bars valid: the high above and the low below the other prices.
    h = pd.concat([o, h, lo, c]).groupby(level=0).max().reindex(market.index)
    lo = pd.concat([o, h, lo, c]).groupby(level=0).min().reindex(market.index)
    predictions = market.predictions
    return MarketFrames(
        o,
        h,
        lo,
        c,
        scramble(market.volume),
        market.instruments,
        None if market.scores is None else redraw(market.scores),
        None if predictions is None else {k: redraw(v) for k, v in predictions.items()},
    )


def _strategy(name: str) -> StrategyParams:
    return STRATEGIES.get(name)()


def _frames(signals: Signals) -> dict[str, pd.DataFrame]:
    names = ("value", "confidence", *PRICES)
    return {n: getattr(signals, n) for n in names if getattr(signals, n) is not None}


@pytest.mark.parametrize("name", STRATEGIES.names())
def test_declaration(name: str) -> None:
    strategy = _strategy(name)
    cls = type(strategy)
    assert cls.summary, "a one-line summary for listings"
    assert strategy.lookback >= strategy.warmup >= 0
    described = strategy.describe()
    assert described["family"] == str(cls.family)
    assert set(strategy.features) <= set(described["needs"])
    strategy.check_data(_market(strategy, 3))


@pytest.mark.parametrize(("name", "freq"), _cases())
def test_warmup_and_range(name: str, freq: str) -> None:
    strategy = _strategy(name)
    market = _market(strategy, 7, freq=freq)
    signals = strategy.signals(market)
    value = signals.value
    assert value.index.equals(market.index)
    assert list(value.columns) == market.symbols
    finite = value.to_numpy()[np.isfinite(value.to_numpy())]
    if name not in QUIET_ON_RANDOM and f"{name}@{freq}" not in QUIET_ON_RANDOM:
        assert finite.size > 0
    assert ((finite >= -1.0) & (finite <= 1.0)).all()
    for label, frame in _frames(signals).items():
        assert frame.index.equals(market.index) and list(frame.columns) == market.symbols, label
        if label in PRICES:
            values = frame.to_numpy()
            assert (np.isnan(values) | (values > 0)).all(), label
        if label == "confidence":
            values = frame.to_numpy()
            assert (np.isnan(values) | ((values >= 0) & (values <= 1))).all(), label
    for symbol in market.symbols:
        own = value[symbol].reindex(market.close[symbol].dropna().index)
        assert own.iloc[: strategy.warmup].isna().all(), symbol
        # No signal on bars the symbol does not trade.
        assert value[symbol][market.close[symbol].isna()].isna().all()


@pytest.mark.parametrize(("name", "freq"), _cases())
def test_signals_are_causal(name: str, freq: str) -> None:
    strategy = _strategy(name)
    markets = {seed: _market(strategy, seed, freq=freq) for seed in range(4)}

    # Built per case (see tests/property/test_feature_causality.py for why).
    @settings(max_examples=5, deadline=None)
    @given(seed=st.integers(0, 2**31 - 1), fraction=st.floats(0.0, 0.98))
    def check(seed: int, fraction: float) -> None:
        market = markets[seed % 4]
        t = int(fraction * (len(market.index) - 1))
        before = _frames(strategy.signals(market))
        after = _frames(strategy.signals(_scramble_after(market, t, seed)))
        for label, frame in before.items():
            pd.testing.assert_frame_equal(frame.iloc[: t + 1], after[label].iloc[: t + 1])

    check()


def _restart_start(market: MarketFrames, k: int, lookback: int) -> int:
    """First row of a window that gives every symbol ``lookback`` own bars before row ``k``."""
    start = k
    for symbol in market.symbols:
        own = np.flatnonzero(market.close[symbol].notna().to_numpy()[:k])
        if own.size > lookback:
            start = min(start, int(own[-lookback - 1]))
        elif own.size:
            start = min(start, int(own[0]))
    return start


@pytest.mark.parametrize(("name", "freq"), _cases())
def test_restart_from_the_lookback_window(name: str, freq: str) -> None:
    """A node restarted at bar k with only the ``lookback`` bars before it (and bar k) says
    what an unbroken run says (1e-9 relative)."""
    strategy = _strategy(name)
    # B trades 3 bars in 4 and C starts a quarter in: each needs lookback own bars before k.
    market = _market(strategy, 11, extra=strategy.lookback * 4 // 3 + 100, freq=freq)
    k = len(market.index) - 30
    start = _restart_start(market, k, strategy.lookback)
    assert start > 0, "the market is longer than the lookback"
    full = _frames(strategy.signals(market))
    restarted = _frames(strategy.signals(market.window(market.index[start:])))
    for label, frame in full.items():
        pd.testing.assert_frame_equal(
            frame.iloc[k:], restarted[label].loc[frame.index[k:]], rtol=1e-9, obj=label
        )


@pytest.mark.parametrize(("name", "freq"), _cases())
def test_reruns_are_identical(name: str, freq: str) -> None:
    first = _frames(_strategy(name).signals(_market(_strategy(name), 5, freq=freq)))
    second = _frames(_strategy(name).signals(_market(_strategy(name), 5, freq=freq)))
    assert first.keys() == second.keys()
    for label, frame in first.items():
        pd.testing.assert_frame_equal(frame, second[label])


@pytest.mark.parametrize(("name", "freq"), _cases())
def test_runs_through_the_engine(name: str, freq: str) -> None:
    strategy = _strategy(name)
    market = _market(strategy, 13, freq=freq)
    config = BacktestConfig(initial_capital=100_000.0, participation=None, max_leverage=2.0)
    portfolio = PortfolioConfig(constructor="target_weights")
    run = run_engine(
        market,
        strategy.signals(market),
        TargetWeights(portfolio),
        BasicRiskManager(market.instruments, 2.0),
        CostSchedule.from_config(config),
        config,
        portfolio,
        strategy_tag=name,
    )
    equity = run.equity["equity"].to_numpy()
    assert np.isfinite(equity).all() and (equity > 0).all()
    if len(run.fills):
        assert set(run.fills["strategy"]) == {name}


def test_an_intraday_strategy_refuses_daily_bars() -> None:
    """The data check names the interval a strategy needs, in one line."""
    from alphaforge.core.errors import DataError

    class Hourly(StrategyParams):
        interval = Interval.H1
        summary = "test"

        def signals(self, market: MarketFrames) -> Signals:
            return Signals(market.close * np.nan)

    daily = _market(_strategy("ma_crossover"), 1)
    with pytest.raises(DataError, match="needs bars of 1h or finer; these bars are 1 day apart"):
        Hourly().check_data(daily)
