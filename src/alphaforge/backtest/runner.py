"""Assemble and run the event-driven engine from configuration: the one way every caller
(``alphaforge backtest``, the demo, train, ``models challenge``) runs a backtest."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd

from alphaforge.backtest.costs import CostSchedule
from alphaforge.backtest.engine import EngineRun, run_engine
from alphaforge.backtest.risk_bridge import RiskInputs
from alphaforge.config.models import AppConfig
from alphaforge.core.progress import SILENT, Reporter
from alphaforge.features.registry import compute
from alphaforge.portfolio.base import PortfolioConstructor, create_constructor
from alphaforge.risk.base import BasicRiskManager
from alphaforge.risk.setup import RiskSetup, resolve
from alphaforge.strategies.base import MarketFrames, Signals, Strategy

log = logging.getLogger(__name__)

#: Sessions of history behind the cost models' volatility and average volume.
CONTEXT_SESSIONS = 20


class FixedTargets:
    """A constructor that returns the target weights it was given (benchmarks, tests)."""

    def __init__(self, weights: pd.DataFrame) -> None:
        self.weights = weights

    def targets(self, signals: Signals, market: MarketFrames) -> pd.DataFrame:
        """Return the given weights on the signals' grid."""
        return self.weights.reindex(index=signals.value.index, columns=signals.value.columns)


def run_strategy_backtest(
    market: MarketFrames,
    strategy: Strategy,
    config: AppConfig,
    *,
    strategy_tag: str,
    constructor: PortfolioConstructor | None = None,
    corporate_actions: pd.DataFrame | None = None,
    setup: RiskSetup | None = None,
    series: Mapping[str, pd.Series] | None = None,
    reporter: Reporter = SILENT,
) -> EngineRun:
    """Run ``strategy`` on ``market`` with the configured portfolio, risk, costs and fills.

    ``setup`` is the resolved risk configuration (``risk.setup.resolve``; resolved here when
    None); ``series`` holds market-wide series the regime filters read (``^VIX``).
    """
    setup = setup or resolve(config.portfolio, config.risk)
    signals = strategy.signals(market)
    schedule = CostSchedule.from_config(config.backtest)
    manager = setup.manager(market.instruments, config.backtest.max_leverage)
    inputs = None
    if manager.pieces_on or setup.sizers:
        inputs = RiskInputs.build(market, series=series, window=config.risk.var_window)
        _warn_inactive(setup, signals, inputs)
    return run_engine(
        market,
        signals,
        constructor or create_constructor(config.portfolio),
        manager,
        schedule,
        config.backtest,
        config.portfolio,
        sizers=setup.sizers,
        inputs=inputs,
        strategy_tag=strategy_tag,
        corporate_actions=corporate_actions,
        context=market_context(market, spreads="half_spread" in schedule.components()),
        reporter=reporter,
    )


def run_weights_backtest(
    market: MarketFrames, weights: pd.DataFrame, config: AppConfig, *, strategy_tag: str
) -> EngineRun:
    """Trade fixed target weights (NaN = hold), e.g. the equal-weight buy-and-hold benchmark.

    Only the base checks apply (buying power, lots): a benchmark is not subject to the
    strategy's limits, stops or breakers.
    """
    flat = Signals(pd.DataFrame(np.nan, index=market.index, columns=market.symbols))
    schedule = CostSchedule.from_config(config.backtest)
    return run_engine(
        market,
        flat,
        FixedTargets(weights),
        BasicRiskManager(market.instruments, config.backtest.max_leverage),
        schedule,
        config.backtest,
        config.portfolio.model_copy(update={"sizing": "weights"}),
        strategy_tag=strategy_tag,
        context=market_context(market),
    )


def _warn_inactive(setup: RiskSetup, signals: Signals, inputs: RiskInputs) -> None:
    """Log the pieces that will let every order through for want of their inputs."""
    names = {p.piece_name for p in (*setup.sizers, *setup.stops, *setup.filters)}
    missing = {
        "kelly": signals.probability is None and "the strategy gives no calibrated probability",
        "quantile": "q10" not in inputs.features and "no return quantiles are given",
        "crypto_volatility": "btc_vol_30" not in inputs.market and "BTC is not in the universe",
        "vix": "vix_level" not in inputs.market and "^VIX is not stored",
    }
    for name, why in missing.items():
        if name in names and why:
            log.warning("the %s piece is inactive in this backtest: %s", name, why)


def market_context(market: MarketFrames, *, spreads: bool = False) -> Mapping[str, pd.DataFrame]:
    """Return the cost models' inputs known before each bar, per symbol on its own bars.

    ``sigma_daily``: standard deviation of daily log returns over the previous
    :data:`CONTEXT_SESSIONS` sessions; ``adv``: their mean daily volume (units); both from
    sessions strictly before the bar's session, so a fill never prices off its own bar.
    ``half_spread``: with ``spreads``, half the Corwin-Schultz spread estimate
    (``cs_spread_20``, a fraction of price) of the bars before the fill's bar; otherwise
    unknown (NaN), and the cost models fall back to their own defaults.
    """
    sigma = pd.DataFrame(np.nan, index=market.index, columns=market.symbols)
    adv = sigma.copy()
    for symbol in market.symbols:
        close = market.close[symbol].dropna()
        if close.empty:
            continue
        volume = market.volume[symbol].reindex(close.index)
        days = pd.DatetimeIndex(close.index).normalize()
        daily_close = close.groupby(days).last()
        daily_volume = volume.groupby(days).sum(min_count=1)
        log_ret = pd.Series(np.log(daily_close.to_numpy()), index=daily_close.index).diff()
        # shift(1): the statistics of the sessions before, not including, each session.
        day_sigma = log_ret.rolling(CONTEXT_SESSIONS).std().shift(1)
        day_adv = daily_volume.rolling(CONTEXT_SESSIONS).mean().shift(1)
        sigma.loc[close.index, symbol] = day_sigma.reindex(days).to_numpy()
        adv.loc[close.index, symbol] = day_adv.reindex(days).to_numpy()
    half_spread = pd.DataFrame(np.nan, index=market.index, columns=market.symbols)
    if spreads:
        for symbol in market.symbols:
            bars = pd.DataFrame(
                {f: getattr(market, f)[symbol] for f in ("open", "high", "low", "close", "volume")}
            ).dropna(subset=["open", "close"])
            if len(bars) < 2:
                continue
            spread = compute(bars, ["cs_spread_20"])["cs_spread_20"]
            # shift(1): the estimate of the bars before the fill's bar.
            half_spread.loc[bars.index, symbol] = (spread.shift(1) / 2.0).to_numpy()
    return {"sigma_daily": sigma, "adv": adv, "half_spread": half_spread}


__all__ = [
    "CONTEXT_SESSIONS",
    "FixedTargets",
    "market_context",
    "run_strategy_backtest",
    "run_weights_backtest",
]
