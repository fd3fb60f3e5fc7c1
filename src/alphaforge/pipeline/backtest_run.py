"""``alphaforge backtest``: one strategy on stored bars, through the event-driven engine.

The run folder gets ``orders``, ``fills``, ``trades``, ``positions``, ``equity``, ``audit`` and
``costs`` as Parquet, ``attribution/*.csv``, ``tearsheet.html``, ``manifest.json``, ``run.log``
and, written last, ``summary.json``: a run killed part-way never looks complete.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alphaforge.backtest import performance
from alphaforge.backtest.engine import EngineRun
from alphaforge.backtest.metrics import full_metrics
from alphaforge.backtest.risk_bridge import bar_returns, limit_usage_frame, market_series
from alphaforge.backtest.runner import run_strategy_backtest, run_weights_backtest
from alphaforge.config import AppConfig, masked_dump
from alphaforge.core.bars import content_hash
from alphaforge.core.errors import ConfigError, DataError
from alphaforge.core.progress import SILENT, Reporter
from alphaforge.core.types import Instrument, Interval
from alphaforge.data.corporate_actions import ActionKind, read_corporate_actions
from alphaforge.data.universe import active_mask, load_universe
from alphaforge.pipeline.backtest_attribution import (
    attribution_tables,
    component_pnl,
)
from alphaforge.pipeline.lifecycle import champion_scores
from alphaforge.pipeline.quantiles import PREDICTIONS_FILE as QUANTILE_PREDICTIONS
from alphaforge.pipeline.research import periods_per_year, prepare_training_data
from alphaforge.pipeline.results import (
    BacktestSummary,
    RunManifest,
    TrainSummary,
    read_result,
    write_result,
)
from alphaforge.pipeline.rundir import (
    RunDir,
    attach_log,
    code_version,
    create_run_dir,
    detach_log,
    machine_info,
    package_versions,
)
from alphaforge.pipeline.tearsheets import render_run_tearsheet
from alphaforge.pipeline.train import load_training_universe
from alphaforge.portfolio import buy_and_hold_weights
from alphaforge.portfolio.book import Universe
from alphaforge.risk.book_risk import book_var_frame
from alphaforge.risk.setup import RiskSetup, resolve
from alphaforge.storage.atomic import atomic_path, atomic_write_text
from alphaforge.storage.bar_store import BarStore
from alphaforge.strategies import MarketFrames, create_strategy
from alphaforge.validation.ledger import TrialLedger, default_ledger_path

log = logging.getLogger(__name__)

#: Parquet tables of a backtest run, in the order they are written.
TABLES = ("orders", "fills", "trades", "positions", "equity", "audit", "costs")


@dataclass(frozen=True, slots=True)
class BacktestOutcome:
    """A finished backtest: its run folder and its summary."""

    run: RunDir
    summary: BacktestSummary


@dataclass(frozen=True, slots=True)
class Predictions:
    """Out-of-fold scores of a train run, checked to be out of fold."""

    scores: pd.DataFrame
    source: str
    model: str
    symbols: list[str]
    #: The bars the scores were computed on (champions: the training universe), if loaded.
    bars: dict[str, pd.DataFrame] | None = None
    instruments: dict[str, Instrument] | None = None
    #: Content hashes of the validated bars the scores were made on (train runs).
    hashes: dict[str, str] | None = None
    #: Every prediction column as a wide frame (``MarketFrames.predictions``), if any.
    predictions: dict[str, pd.DataFrame] | None = None


def run_backtest_command(
    config: AppConfig,
    *,
    out: Path | None = None,
    predictions: Path | None = None,
    model: str = "ensemble",
    champion: str | None = None,
    reporter: Reporter = SILENT,
) -> BacktestOutcome:
    """Run the configured strategy on stored bars and write the run folder.

    Parameters
    ----------
    config
        Effective configuration (``strategy``, ``portfolio``, ``backtest``, ``data``).
    out
        Run folder (default ``runs/<UTC time>-backtest``).
    predictions
        A train run folder whose out-of-fold predictions the model strategies trade
        (``oof_scores``: the scores of ``model``; ``ml_model``: every prediction column).
    model
        Which of its models' scores (``ensemble`` by default).
    champion
        A registered model name: its champion scores the universe from the first bar after
        its training data plus the label horizon and the embargo (never before).
    """
    strategy = create_strategy(config.strategy)
    strategy.check_interval(Interval(config.data.interval).nominal)  # before loading any bar
    setup = resolve(config.portfolio, config.risk)  # bad risk configuration fails here
    needs_scores = "scores" in strategy.needs
    if needs_scores and (predictions is None) == (champion is None):
        raise ConfigError(
            f"Strategy {config.strategy.tag} trades model scores: name one source of them.",
            hint="Pass --predictions RUNS/<time>-train (out-of-fold scores of a train run) or "
            "--champion MODEL (a registered champion, on bars after its training data).",
        )
    if not needs_scores and (predictions is not None or champion is not None):
        raise ConfigError(
            f"Strategy {config.strategy.tag} does not trade model scores.",
            hint="Drop --predictions / --champion, or set strategy.name: oof_scores.",
        )
    oof = None
    if predictions is not None:
        oof = _read_predictions(predictions, model, config)
    elif champion is not None:
        oof = _champion_predictions(config, champion, reporter)
    run = create_run_dir(config.run.runs_dir, "backtest", out)
    handler = attach_log(run, config.run.log_level)
    try:
        return _run(config, run, strategy, oof, setup, reporter)
    except Exception:
        log.exception("backtest failed")
        raise
    finally:
        detach_log(handler)


def _run(
    config: AppConfig,
    run: RunDir,
    strategy: Any,
    oof: Predictions | None,
    setup: RiskSetup,
    reporter: Reporter,
) -> BacktestOutcome:
    interval = Interval(config.data.interval)
    task = reporter.task("load and validate bars", total=None)
    symbols = config.backtest.symbols or (oof.symbols if oof is not None else None)
    if oof is not None and oof.bars is not None and oof.instruments is not None:
        chosen = config.backtest.symbols or sorted(oof.bars)
        foreign = [s for s in chosen if s not in oof.bars]
        if foreign:
            raise DataError(
                f"{', '.join(foreign[:3])} are not in the universe {oof.source} scored.",
                hint="Set backtest.symbols to members of that universe, or leave it unset.",
            )
        raw = {s: oof.bars[s] for s in chosen}
        instruments = {s: oof.instruments[s] for s in chosen}
    else:
        raw, instruments = load_backtest_bars(config, interval, symbols)
    data = prepare_training_data(raw, instruments, interval, config)
    task.done()
    bars = {s: b for s, b in data.bars.items() if not b.empty}
    if oof is not None and oof.hashes is not None:
        changed = sorted(s for s, b in bars.items() if content_hash(b) != oof.hashes.get(s))
        if changed:
            raise DataError(
                f"The bars of {', '.join(changed[:3])} differ from those {oof.source} was "
                "trained and scored on.",
                hint="Backtest on the train run's data, or train again on the current data.",
            )
    market = MarketFrames.from_bars(
        bars,
        instruments,
        oof.scores if oof is not None else None,
        oof.predictions if oof is not None else None,
        interval=interval,
    )
    if oof is not None:
        market = _from_first_score(market)
    strategy.check_data(market)
    actions = _corporate_actions(config, market)
    log.info(
        "backtest %s: strategy %s on %d symbols, %s..%s",
        run.run_id,
        config.strategy.tag,
        len(market.symbols),
        market.index[0],
        market.index[-1],
    )
    engine = run_strategy_backtest(
        market,
        strategy,
        config,
        strategy_tag=config.strategy.tag,
        corporate_actions=actions,
        setup=setup,
        series=market_series(config.data.store_dir, setup.filters),
        reporter=reporter,
    )
    bench = run_weights_backtest(
        market,
        buy_and_hold_weights(market.index, pd.Index(market.symbols)),
        config,
        strategy_tag="benchmark",
    )
    periods = periods_per_year(market.index, interval)
    capital = config.backtest.initial_capital
    experiment = backtest_experiment(config, market.symbols, interval)
    with TrialLedger(default_ledger_path(config.data.store_dir)) as ledger:
        # Every configuration backtested on these data is a trial: the deflated Sharpe of
        # the next one pays for it (identical returns are one trial).
        ledger.record(
            experiment=experiment,
            config=trial_config(config),
            kind="manual",
            seed=config.run.seed,
            code_version=code_version(),
            metrics=performance(engine.result, periods, capital),
            returns=engine.result.returns,
        )
        metrics = full_metrics(
            engine.result,
            periods_per_year=periods,
            initial_capital=capital,
            trades=engine.trades,
            equity_frame=engine.equity,
            benchmark_returns=bench.result.returns,
            ledger=ledger,
            experiment=experiment,
        )
    bench_metrics = full_metrics(
        bench.result,
        periods_per_year=periods,
        initial_capital=capital,
        trades=bench.trades,
        equity_frame=bench.equity,
    )
    task = reporter.task("attribution and tear sheet", total=None)
    write_tables(run.path, engine)
    write_risk_table(run.path, engine, market, setup, config.risk.var_window)
    attribution = attribution_tables(engine, market, bars, interval, _contributions(oof))
    for name, table in attribution.items():
        atomic_write_text(run.path / "attribution" / f"{name}.csv", table.to_csv(index=False))
    render_run_tearsheet(
        run.path,
        title=f"{config.strategy.tag}: {run.run_id}",
        engine=engine,
        benchmark=bench,
        metrics=metrics,
        facts={
            "strategy": config.strategy.tag,
            "symbols": ", ".join(market.symbols[:8])
            + (f" and {len(market.symbols) - 8} more" if len(market.symbols) > 8 else ""),
            "data": f"{market.index[0].date()} .. {market.index[-1].date()} ({interval.value})",
            "seed": str(config.run.seed),
            "code": code_version(),
            "trials in experiment": f"{metrics.get('n_trials', float('nan')):.0f} ({experiment})",
        },
        attribution=attribution,
        periods_per_year=periods,
    )
    task.done()
    dumped = masked_dump(config)
    data_record = write_manifest(
        run,
        "backtest",
        config,
        market,
        bars,
        interval,
        {"predictions": oof.source if oof else None},
    )
    summary = BacktestSummary(
        run_id=run.run_id,
        command="backtest",
        created=run.created.isoformat(),
        config=dumped,
        seed=config.run.seed,
        data=data_record,
        code_version=code_version(),
        strategy=config.strategy.tag,
        metrics=metrics,
        benchmark_metrics=bench_metrics,
        costs={c: float(engine.costs[c].sum()) for c in engine.cost_components},
        trades=int(engine.trades["exit_time"].notna().sum()),
        open_trades=int(engine.trades["exit_time"].isna().sum()),
        audit_rows=len(engine.audit),
        pnl_by_component=component_pnl(attribution["strategy"]),
        warnings=list(data.warnings) + book_warnings(config, market),
    )
    # Last: a run folder without summary.json is an unfinished run.
    write_result(run.summary, summary)
    task.done()
    log.info("backtest finished: %s", run.path)
    return BacktestOutcome(run, summary)


def load_backtest_bars(
    config: AppConfig, interval: Interval, symbols: list[str] | None
) -> tuple[dict[str, pd.DataFrame], dict[str, Instrument]]:
    """Return stored bars and instruments of ``symbols`` (default: ``train.universe``'s members).

    Members of a universe trade only inside their ``active_from`` .. ``active_until`` dates;
    ``backtest.start`` / ``end`` cut every series.
    """
    store = BarStore(config.data.store_dir)
    bars: dict[str, pd.DataFrame] = {}
    instruments: dict[str, Instrument] = {}
    if symbols:
        missing = [s for s in symbols if not store.exists(s, interval)]
        if missing:
            raise DataError(
                f"No stored {interval.value} bars for {', '.join(missing)} in "
                f"{config.data.store_dir}.",
                hint=f"Run alphaforge data fetch {' '.join(missing)} first.",
            )
        for symbol in symbols:
            bars[symbol] = store.read(symbol, interval)
            instruments[symbol] = store.instrument(symbol)
    else:
        universe = load_universe(config.train.universe)
        for member in universe.members:
            instrument = member.instrument
            if not store.exists(instrument.symbol, interval, asset_class=instrument.asset_class):
                continue
            frame = store.read(instrument.symbol, interval, asset_class=instrument.asset_class)
            bars[instrument.symbol] = frame[active_mask(member, pd.DatetimeIndex(frame.index))]
            instruments[instrument.symbol] = instrument
        if not bars:
            raise DataError(
                f"No member of universe {config.train.universe} has stored {interval.value} bars.",
                hint=f"Run alphaforge data fetch --universe {config.train.universe} first, or "
                "set backtest.symbols.",
            )
    start, end = config.backtest.start, config.backtest.end
    for symbol, frame in list(bars.items()):
        days = pd.DatetimeIndex(frame.index).date
        keep = [(start is None or d >= start) and (end is None or d <= end) for d in days]
        bars[symbol] = frame[keep]
    empty = [s for s, b in bars.items() if b.empty]
    if len(empty) == len(bars):
        raise DataError(
            f"No stored bar falls between backtest.start ({start}) and backtest.end ({end}).",
            hint="Widen the dates or fetch the missing history.",
        )
    return {s: b for s, b in bars.items() if not b.empty}, {
        s: instruments[s] for s in bars if not bars[s].empty
    }


def write_tables(folder: Path, engine: EngineRun) -> None:
    """Write every table of an engine run as Parquet, each atomically."""
    tables: Mapping[str, pd.DataFrame] = {
        "orders": engine.orders,
        "fills": engine.fills,
        "trades": engine.trades,
        "positions": engine.positions,
        "equity": engine.equity,
        "audit": engine.audit,
        "costs": engine.costs,
    }
    for name in TABLES:
        with atomic_path(folder / f"{name}.parquet") as temp:
            tables[name].to_parquet(temp, index=False)


def write_risk_table(
    folder: Path, engine: EngineRun, market: MarketFrames, setup: RiskSetup, window: int
) -> None:
    """Write ``risk.parquet``: per bar close, VaR and ES of the book held, heat, each limit's
    usage, tripped breakers and the drawdown tier."""
    index = market.index
    returns = bar_returns(market)
    frame = book_var_frame(index, engine.result.weights.to_numpy(np.float64), returns, window)
    universe = Universe.of([market.instruments[s] for s in market.symbols])
    usage = limit_usage_frame(
        index,
        universe,
        engine.held,
        engine.marks,
        engine.result.equity.to_numpy(np.float64),
        engine.stops,
        setup.limits,
        returns,
        window,
    )
    frame = frame.merge(usage, on="timestamp", how="left")
    if not engine.risk_status.empty:
        frame = frame.merge(engine.risk_status, on="timestamp", how="left")
    with atomic_path(folder / "risk.parquet") as temp:
        frame.to_parquet(temp, index=False)


def write_manifest(
    run: RunDir,
    command: str,
    config: AppConfig,
    market: MarketFrames,
    bars: Mapping[str, pd.DataFrame],
    interval: Interval,
    extra: Mapping[str, str | None],
) -> dict[str, Any]:
    """Write ``manifest.json`` of a backtest or sweep; return its data record (range, hashes,
    and ``extra`` facts such as the predictions or the grid file)."""
    data_record: dict[str, Any] = {
        "interval": interval.value,
        "symbols": market.symbols,
        "first": market.index[0].isoformat(),
        "last": market.index[-1].isoformat(),
        "hashes": {s: content_hash(b) for s, b in bars.items()},
    } | dict(extra)
    write_result(
        run.manifest,
        RunManifest(
            command=command,
            config=masked_dump(config),
            seed=config.run.seed,
            seeds={"run": config.run.seed},
            data=data_record,
            packages=package_versions(),
            code_version=code_version(),
            machine=machine_info(),
        ),
    )
    return data_record


def book_warnings(config: AppConfig, market: MarketFrames) -> list[str]:
    """Return warnings about a portfolio that cannot hold anything on this universe."""
    portfolio = config.portfolio
    if portfolio.constructor == "top_k" and portfolio.long_short and len(market.symbols) < 2:
        line = (
            f"portfolio.constructor top_k with long_short holds the best and worst names; with "
            f"{len(market.symbols)} symbol it holds none. Set portfolio.constructor: "
            "target_weights (or long_short: false)."
        )
        log.warning("%s", line)
        return [line]
    return []


def _contributions(oof: Predictions | None) -> pd.DataFrame | None:
    """Return the out-of-fold contributions of the model a train run's predictions trade."""
    path = Path(oof.source) / "oof_contributions.parquet" if oof is not None else None
    if oof is None or path is None or not path.exists():
        return None
    frame = pd.read_parquet(path)
    return frame[frame["model"] == oof.model] if "model" in frame.columns else frame


def _corporate_actions(config: AppConfig, market: MarketFrames) -> pd.DataFrame | None:
    """Return the corporate actions to apply (``prices: raw`` only) as engine rows."""
    if config.backtest.prices == "adjusted":
        if config.backtest.corporate_actions is not None:
            raise ConfigError(
                "backtest.corporate_actions is set but backtest.prices is adjusted: adjusted "
                "bars already contain splits and dividends, which would count twice.",
                hint="Set backtest.prices: raw with unadjusted bars, or drop corporate_actions.",
            )
        return None
    if config.backtest.corporate_actions is None:
        raise ConfigError(
            "backtest.prices: raw needs backtest.corporate_actions (a CSV of splits and "
            "dividends).",
            hint="Columns: symbol, ex_date, split_ratio, dividend.",
        )
    actions = read_corporate_actions(config.backtest.corporate_actions)
    rows = [
        {
            "symbol": a.symbol,
            "ex_date": a.ex_date,
            "split_ratio": a.value if a.kind is ActionKind.SPLIT else float("nan"),
            "dividend": a.value if a.kind is ActionKind.DIVIDEND else float("nan"),
        }
        for a in actions.actions
        if a.symbol in market.instruments
    ]
    return pd.DataFrame(rows, columns=["symbol", "ex_date", "split_ratio", "dividend"])


def _read_predictions(folder: Path, model: str, config: AppConfig) -> Predictions:
    """Read a train run's out-of-fold scores, refusing anything that is not out of fold."""
    oof_path = folder / "oof_predictions.parquet"
    folds_path = folder / "folds.csv"
    if not oof_path.exists() or not folds_path.exists():
        raise DataError(
            f"{folder} has no oof_predictions.parquet and folds.csv.",
            hint="Pass a folder written by alphaforge train.",
        )
    summary = read_result(folder / "summary.json", TrainSummary)
    trained = summary.config.get("labels", {}).get("horizon")
    if trained is not None and int(trained) != config.labels.horizon:
        raise ConfigError(
            f"The predictions in {folder} are for a {trained}-bar horizon; labels.horizon is "
            f"{config.labels.horizon}.",
            hint="Use the same labels.horizon as the train run.",
        )
    if summary.data.interval != Interval(config.data.interval).value:
        raise ConfigError(
            f"The predictions in {folder} are on {summary.data.interval} bars; data.interval "
            f"is {Interval(config.data.interval).value}.",
            hint="Use the train run's data.interval.",
        )
    oof = pd.read_parquet(oof_path)
    column = f"score_{model}"
    if column not in oof:
        known = sorted(c.removeprefix("score_") for c in oof.columns if c.startswith("score_"))
        raise ConfigError(
            f"The train run {folder.name} has no scores of model {model!r}.",
            hint=f"Known: {', '.join(known)}.",
        )
    folds = pd.read_csv(folds_path)
    if model != "ensemble":
        folds = folds[folds["model"] == model]
    # Folds are cut on decision times (a bar's close: its open plus the bar length), test_end
    # exclusive; the check reads the stamps the backtest trades, not a column beside them.
    stamps = pd.DatetimeIndex(oof.index.get_level_values("timestamp"))
    stamps = stamps.tz_localize("UTC") if stamps.tz is None else stamps.tz_convert("UTC")
    decided = stamps + Interval(summary.data.interval).offset
    inside = pd.Series(False, index=range(len(decided)))
    for row in folds.itertuples(index=False):
        start = pd.Timestamp(str(row.test_start))
        end = pd.Timestamp(str(row.test_end))
        inside |= (decided >= start) & (decided < end)
    outside = int((~inside.to_numpy()).sum())
    if outside:
        raise DataError(
            f"{outside} scores in {oof_path} lie outside every walk-forward test block: they "
            "are not out of fold.",
            hint="Use the oof_predictions.parquet that alphaforge train wrote, unchanged.",
        )
    scores = oof[column].unstack("symbol")
    scores.index = pd.DatetimeIndex(scores.index)
    symbols = sorted(summary.data.symbols)
    foreign = sorted(set(scores.columns) - set(symbols))
    if foreign:
        raise DataError(
            f"Scores for {', '.join(foreign[:3])} are not of the train run's universe.",
            hint="The predictions file does not belong to this run.",
        )
    # The bars the train run scored: its own universe, loaded (or, for the synthetic market,
    # regenerated) exactly as train did; a stored series that changed since is refused.
    train_config = AppConfig.model_validate(summary.config)
    raw, instruments, _, _ = load_training_universe(train_config, summary.seed)
    bars = {s: raw[s] for s in symbols if s in raw}
    return Predictions(
        scores,
        str(folder),
        model,
        symbols,
        bars,
        {s: instruments[s] for s in bars},
        predictions=_prediction_frames(folder, oof),
    )


#: Columns of ``oof_predictions.parquet`` that hold the future (the label and its times):
#: never handed to a strategy.
LABEL_COLUMNS = ("target", "forward_return", "label_start", "label_end")


def _prediction_frames(folder: Path, oof: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Return every prediction column of a train run as a wide frame (bar times x symbols).

    The out-of-fold scores and probabilities and ``agreement`` of ``oof_predictions.parquet``
    (its label columns left out), and the quantile model's out-of-fold ``q10`` ... ``q90``
    when the run wrote them (``quantile_predictions.parquet``).
    """
    tables = [oof.drop(columns=[c for c in LABEL_COLUMNS if c in oof])]
    quantiles = folder / QUANTILE_PREDICTIONS
    if quantiles.exists():
        tables.append(pd.read_parquet(quantiles))
    frames = {}
    for table in tables:
        for column in table.columns:
            frame = table[column].unstack("symbol")
            frame.index = pd.DatetimeIndex(frame.index)
            frames[str(column)] = frame
    return frames


def _champion_predictions(config: AppConfig, name: str, reporter: Reporter) -> Predictions:
    """Return a champion's scores on the bars after its training data (and those bars)."""
    scored = champion_scores(config, name, reporter)
    if scored.interval != Interval(config.data.interval):
        raise ConfigError(
            f"{name} was trained on {scored.interval.value} bars; data.interval is "
            f"{Interval(config.data.interval).value}.",
            hint="Use the interval the model was trained on.",
        )
    scores = scored.scores.unstack("symbol")
    scores.index = pd.DatetimeIndex(scores.index)
    log.info(
        "champion %s v%d scores from %s (first unseen bar)",
        name,
        scored.version,
        scored.first_scored,
    )
    # A binary model's score is its probability, as in oof_predictions.parquet (ml_model reads
    # it by model kind); a 3-class or meta champion's score is already a trading score.
    binary = config.labels.kind not in ("three_class", "meta")
    return Predictions(
        scores,
        f"champion {name} v{scored.version}",
        "champion",
        sorted(scored.bars),
        dict(scored.bars),
        scored.instruments,
        predictions={f"score_{name.rsplit('.', 1)[-1]}": scores} if binary else None,
    )


def _from_first_score(market: MarketFrames) -> MarketFrames:
    """Return the market from its first scored bar (nothing is traded before a score)."""
    if market.scores is None or not market.scores.notna().to_numpy().any():
        raise DataError(
            "No out-of-fold score falls on the backtest's bars.",
            hint="Check backtest.symbols and dates against the train run.",
        )
    first = int(market.scores.notna().any(axis=1).to_numpy().argmax())
    return market.window(market.index[first:])


def backtest_experiment(config: AppConfig, symbols: list[str], interval: Interval) -> str:
    """Return the trial-ledger experiment of backtests of one strategy on one data set."""
    return f"backtest:{config.strategy.tag}:{interval.value}:{','.join(sorted(symbols))}"


def trial_config(config: AppConfig) -> dict[str, Any]:
    """Return what makes one backtest a different trial: strategy, portfolio and backtest."""
    return {
        "strategy": config.strategy.model_dump(mode="json"),
        "portfolio": config.portfolio.model_dump(mode="json"),
        "backtest": config.backtest.model_dump(mode="json"),
    }


__all__ = [
    "TABLES",
    "BacktestOutcome",
    "attribution_tables",
    "backtest_experiment",
    "load_backtest_bars",
    "run_backtest_command",
    "trial_config",
    "write_manifest",
]
