"""The research pipeline of the walking skeleton, identical for the real and control universes.

bars -> features + 5-bar forward-return label -> LightGBM by purged walk-forward -> out-of-fold
scores -> long/short top-k weights -> backtest at next open with costs -> metrics.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from alphaforge.backtest import BacktestResult, performance
from alphaforge.backtest.engine import EngineRun
from alphaforge.backtest.runner import run_strategy_backtest, run_weights_backtest
from alphaforge.config import AppConfig
from alphaforge.core.errors import ConfigError, DataError
from alphaforge.core.progress import SILENT, Reporter
from alphaforge.core.types import AssetClass, Instrument, Interval
from alphaforge.data.health import health_gate
from alphaforge.data.service import validate_market
from alphaforge.data.validation import ValidationReport
from alphaforge.models import create_model
from alphaforge.models.base import Classifier
from alphaforge.models.dataset import Panel, build_panel, fold_weigher
from alphaforge.pipeline.sequences import design_for
from alphaforge.portfolio import buy_and_hold_weights
from alphaforge.strategies import MarketFrames
from alphaforge.strategies.oof_scores import OOFScores
from alphaforge.validation import (
    PurgedWalkForward,
    WalkForwardResult,
    accuracy,
    auc,
    information_coefficient,
    macro_auc_ovr,
    up_down_auc,
    walk_forward_predict,
)
from alphaforge.validation.selection import select_in_fold
from alphaforge.validation.splits import default_embargo_bars

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StrategyRun:
    """Everything one pass of the pipeline produced."""

    name: str
    panel: Panel
    walk_forward: WalkForwardResult
    backtest: BacktestResult
    benchmark: BacktestResult
    metrics: dict[str, float]
    benchmark_metrics: dict[str, float]
    prediction_metrics: dict[str, float]
    book: ScoredBook


@dataclass(frozen=True, slots=True)
class TrainingData:
    """Validated bars of a universe that passed the data-health gate."""

    bars: dict[str, pd.DataFrame]
    reports: dict[str, ValidationReport]
    warnings: list[str]


def prepare_training_data(
    raw: Mapping[str, pd.DataFrame],
    instruments: Mapping[str, Instrument],
    interval: Interval,
    config: AppConfig,
) -> TrainingData:
    """Validate a universe and apply the data-health gate before anything is trained on it.

    Raises :class:`~alphaforge.core.errors.DataHealthError` listing every series below
    ``data.min_health_score`` with its reasons, unless ``data.allow_unhealthy`` is set; then the
    returned warnings record the override. A rejected series is always refused.
    """
    bars, reports = validate_market(raw, instruments, interval, config)
    warnings = health_gate(
        reports, config.data.min_health_score, allow_unhealthy=config.data.allow_unhealthy
    )
    return TrainingData(bars, reports, warnings)


def check_model_labels(config: AppConfig, models: list[str]) -> None:
    """Raise :class:`ConfigError` for a model setting the configured target cannot use."""
    focal = [m for m in models if m in ("lightgbm", "lightgbm_dart")]
    if config.model.trees.focal_gamma is not None and config.labels.kind == "three_class" and focal:
        raise ConfigError(
            "model.trees.focal_gamma (the focal loss) is for binary targets; labels.kind is "
            "three_class.",
            hint="Set model.trees.focal_gamma: null, or use a binary labels.kind.",
        )


def fold_selector(
    config: AppConfig, seed: int
) -> Callable[[pd.DataFrame, pd.Series, int], list[str]] | None:
    """Return the walk-forward's feature selection hook (``selection.*``), or ``None``.

    Fitted on each fold's training rows only, seeded ``seed + fold``.
    """
    if config.selection.method == "none":
        return None

    def select(X: pd.DataFrame, y: pd.Series, fold: int) -> list[str]:
        return select_in_fold(X, y, config.selection, seed=seed + fold)

    return select


def embargo_bars(config: AppConfig) -> int:
    """Return the configured embargo in bars; by default the label's horizon."""
    if config.walk_forward.embargo_bars is not None:
        return config.walk_forward.embargo_bars
    return default_embargo_bars(config.labels.horizon)


def make_splitter(config: AppConfig, interval: Interval) -> PurgedWalkForward:
    """Return the configured walk-forward splitter."""
    del interval  # the embargo is counted on the panel's own bar grid
    wf = config.walk_forward
    return PurgedWalkForward(
        train_months=wf.train_months,
        validation_months=wf.validation_months,
        test_months=wf.test_months,
        embargo_bars=embargo_bars(config),
        expanding=wf.expanding,
    )


def run_strategy(
    name: str,
    bars_by_symbol: Mapping[str, pd.DataFrame],
    interval: Interval,
    config: AppConfig,
    *,
    seed: int,
    splitter: PurgedWalkForward | None = None,
    reporter: Reporter = SILENT,
) -> StrategyRun:
    """Run the whole research pipeline on one universe.

    Parameters
    ----------
    name
        Label of the run in reports ("strategy", "control").
    bars_by_symbol
        Validated canonical bars of every symbol of the universe, same interval.
    interval
        The bars' interval.
    config
        Effective configuration.
    seed
        Seed of the models (fold ``k`` uses ``seed + k``).
    splitter
        Replaces the configured splitter (tests use it to plant a leak).
    """
    if len(bars_by_symbol) < 2 * config.portfolio.top_k:
        raise DataError(
            f"{name}: {len(bars_by_symbol)} symbols cannot fill a top-{config.portfolio.top_k} "
            "long/short book.",
            hint="Use a larger universe or lower portfolio.top_k.",
        )
    check_model_labels(config, [config.model.name])
    task = reporter.task(f"{name}: features and labels", total=None)
    panel = build_panel(
        bars_by_symbol,
        interval,
        config.labels,
        config.features.names,
        min_history=config.features.min_history,
    )
    task.done()
    log.info(
        "%s: panel of %d rows x %d features over %d symbols",
        name,
        len(panel.X),
        panel.X.shape[1],
        len(bars_by_symbol),
    )
    splitter = splitter or make_splitter(config, interval)
    n_folds = sum(1 for _ in splitter.split(panel.start, panel.end))
    if n_folds == 0:
        raise DataError(
            f"{name}: the data are too short for one walk-forward fold.",
            hint="Fetch a longer history or shorten walk_forward.train_months.",
        )
    task = reporter.task(f"{name}: walk-forward ({n_folds} folds)", total=n_folds)

    def make_model(fold: int) -> Classifier:
        return create_model(config.model, seed=seed + fold, n_jobs=config.run.n_jobs)

    wf = walk_forward_predict(
        panel,
        splitter,
        make_model,
        on_fold=lambda _: task.advance(),
        select=fold_selector(config, seed),
        weigh=fold_weigher(
            panel,
            half_life_days=config.labels.weight_half_life_days,
            uniqueness_weights=config.labels.uniqueness_weights,
        ),
        design=design_for(config.model.name, config.model, panel),
    )
    task.done()

    task = reporter.task(f"{name}: backtest", total=None)
    book = trade_scores(panel.trading_scores(wf.scores), bars_by_symbol, config)
    result, bench = book.result, book.benchmark
    task.done()

    for fold in wf.folds:
        log.info(
            "%s: fold %d test %s..%s train %d val %d test %d rows, AUC %.4f, %d trees",
            name,
            fold.number,
            fold.test_start.date(),
            fold.test_end.date(),
            fold.train_rows,
            fold.validation_rows,
            fold.test_rows,
            fold.test_auc,
            fold.best_iteration,
        )
    periods = periods_per_year(result.returns.index, interval)
    prediction = prediction_metrics(panel, wf.scores, wf.probabilities)
    prediction["folds"] = float(len(wf.folds))
    metrics = performance(result, periods, config.backtest.initial_capital)
    log.info("%s: metrics %s; prediction %s", name, metrics, prediction)
    return StrategyRun(
        name=name,
        panel=panel,
        walk_forward=wf,
        backtest=result,
        benchmark=bench,
        metrics=metrics,
        benchmark_metrics=performance(bench, periods, config.backtest.initial_capital),
        prediction_metrics=prediction,
        book=book,
    )


@dataclass(frozen=True, slots=True)
class ScoredBook:
    """A scored book on the engine: the full runs and the holding periods' results."""

    engine: EngineRun
    benchmark_engine: EngineRun
    result: BacktestResult
    benchmark: BacktestResult
    market: MarketFrames


def trade_scores(
    scores: pd.Series,
    bars_by_symbol: Mapping[str, pd.DataFrame],
    config: AppConfig,
    instruments: Mapping[str, Instrument] | None = None,
) -> ScoredBook:
    """Trade out-of-fold scores (a (timestamp, symbol) series) with the configured book on the
    event-driven engine from the first scored bar, beside the equal-weight benchmark.

    ``instruments`` give each symbol's asset class (cost models, volume cap); symbols without
    one are treated as US stocks. The results start at the bar after the first score: that
    bar only decides, nothing can be held over it.
    """
    market = _scored_market(scores, bars_by_symbol, instruments, Interval(config.data.interval))
    run = run_strategy_backtest(market, OOFScores(), config, strategy_tag="oof_scores")
    bench = run_weights_backtest(
        market,
        buy_and_hold_weights(market.index, pd.Index(market.symbols)),
        config,
        strategy_tag="benchmark",
    )
    holding = market.index[1] if len(market.index) > 1 else market.index[0]
    return ScoredBook(run, bench, run.result.since(holding), bench.result.since(holding), market)


def backtest_scores(
    scores: pd.Series,
    bars_by_symbol: Mapping[str, pd.DataFrame],
    config: AppConfig,
    instruments: Mapping[str, Instrument] | None = None,
) -> tuple[BacktestResult, BacktestResult]:
    """Return the strategy's and the benchmark's results of :func:`trade_scores`."""
    book = trade_scores(scores, bars_by_symbol, config, instruments)
    return book.result, book.benchmark


def _scored_market(
    scores: pd.Series,
    bars_by_symbol: Mapping[str, pd.DataFrame],
    instruments: Mapping[str, Instrument] | None,
    interval: Interval | None = None,
) -> MarketFrames:
    """Return the market from the first scored bar on, with the scores as a wide frame."""
    known = dict(instruments or {})
    members = {s: known.get(s) or Instrument(s, AssetClass.STOCK) for s in sorted(bars_by_symbol)}
    wide = scores.unstack("symbol")
    market = MarketFrames.from_bars(bars_by_symbol, members, pd.DataFrame(wide), interval=interval)
    assert market.scores is not None
    first = int(market.scores.notna().any(axis=1).to_numpy().argmax())
    return market.window(market.index[first:])


def prediction_metrics(
    panel: Panel, scores: pd.Series, probabilities: pd.DataFrame | None = None
) -> dict[str, float]:
    """Return out-of-sample AUC, information coefficient and row counts of scored rows.

    ``auc`` is the binary AUC of ``scores``, or for a 3-class target (``probabilities`` given)
    the one-vs-rest macro AUC, with ``up_down_auc`` (P(BUY) - P(SELL) against the sign of the
    return) and ``accuracy`` beside it. The IC correlates what the portfolio ranks by
    (:meth:`Panel.trading_scores`) with the forward return, per period.
    """
    scored = scores.notna()
    known = scored & panel.target.notna()
    trade = panel.trading_scores(scores)
    traded = trade.notna()
    out = {
        "ic": information_coefficient(
            panel.forward_return[traded],
            trade[traded],
            by=panel.timestamps[traded.to_numpy()],
        ),
        "oos_rows": float(scored.sum()),
        # Rows whose label is known: what AUC and its sampling error are computed on.
        "labelled_rows": float(known.sum()),
    }
    if probabilities is None or panel.n_classes == 2:
        return {"auc": auc(panel.target[scored], scores[scored])} | out
    y = panel.target[known].to_numpy(np.float64)
    proba = probabilities[known].to_numpy(np.float64)
    return {
        "auc": macro_auc_ovr(y, proba),
        "up_down_auc": up_down_auc(
            panel.forward_return[known].to_numpy(np.float64), proba[:, 2], proba[:, 0]
        ),
        "accuracy": accuracy(y, proba),
    } | out


def periods_per_year(index: pd.Index, interval: Interval) -> float:
    """Return bars per year measured from the index itself (252 for US equities, 365 crypto)."""
    stamps = pd.DatetimeIndex(index)
    if len(stamps) < 2:
        return interval.periods_per_year
    span_years = (stamps[-1] - stamps[0]).total_seconds() / (365.25 * 86400)
    return float((len(stamps) - 1) / span_years) if span_years > 0 else interval.periods_per_year


__all__ = [
    "ScoredBook",
    "StrategyRun",
    "TrainingData",
    "backtest_scores",
    "check_model_labels",
    "fold_selector",
    "make_splitter",
    "periods_per_year",
    "prediction_metrics",
    "prepare_training_data",
    "run_strategy",
    "trade_scores",
]
