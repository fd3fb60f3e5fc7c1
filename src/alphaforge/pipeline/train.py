"""`alphaforge train`: several models by purged walk-forward, their ensemble, and the controls.

One panel of features and labels is built once; every configured model is trained on it by the
same purged walk-forward, giving out-of-fold (OOF) scores; the ensemble combines the OOF scores
(plain mean, or weights from each model's validation-block AUC, which only uses rows before the
test block). Every model and the ensemble are traded by the same top-k book with costs.

Two controls run beside every training (the leakage canaries):

* a random-walk universe of the same shape through the identical pipeline;
* the real panel with each symbol's labels permuted in blocks of ``train.control_block_bars``
  bars (features untouched). Blocks keep the labels' own overlap, so a splitter that fails to
  purge still profits from it, while any real relation between features and labels is gone.

A control that beats chance (AUC above what sampling noise allows) raises a warning in the
summary and the report.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from alphaforge.backtest import CurveSet, DataRow, ReportContent, performance, render_report
from alphaforge.config import AppConfig, masked_dump
from alphaforge.core.bars import content_hash
from alphaforge.core.errors import ConfigError, DataError
from alphaforge.core.progress import SILENT, Reporter, Task
from alphaforge.core.types import Instrument, Interval
from alphaforge.data.events import read_events
from alphaforge.data.synthetic import generate_market, random_walk_market
from alphaforge.data.universe import load_universe
from alphaforge.features.panel import DOLLAR_SYMBOLS, IRX, T10Y2Y, TNX, VIX
from alphaforge.models import MODELS
from alphaforge.models.base import Classifier
from alphaforge.models.dataset import (
    Panel,
    build_panel,
    fold_weigher,
    needed_inputs,
    with_catalysts,
)
from alphaforge.models.scoring import class_score
from alphaforge.pipeline.demo import CONTROL_PREFIX, control_auc_threshold, synthetic_spec
from alphaforge.pipeline.diagnostics import (
    calibration_table,
    hit_rate_table,
    score_diagnostics,
    write_diagnostics,
)
from alphaforge.pipeline.ensembling import (
    ENSEMBLE,
    Combiner,
    ScoredRun,
    combine_probabilities,
    ensemble_weights,
    fit_stack,
    model_agreement,
)
from alphaforge.pipeline.multitask import check_multi_task_config, multi_task_report
from alphaforge.pipeline.quantiles import quantile_report
from alphaforge.pipeline.registration import (
    QUANTILE_MODEL,
    build_model,
    register_final_models,
    register_quantile_model,
    save_combiner,
)
from alphaforge.pipeline.research import (
    TrainingData,
    backtest_scores,
    check_model_labels,
    fold_selector,
    make_splitter,
    periods_per_year,
    prediction_metrics,
    prepare_training_data,
)
from alphaforge.pipeline.results import (
    Catalysts,
    RunManifest,
    TrainData,
    TrainSummary,
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
from alphaforge.pipeline.sequences import design_for
from alphaforge.pipeline.trials import record_trials, snapshot_ledger
from alphaforge.storage import BarStore
from alphaforge.storage.atomic import atomic_path
from alphaforge.validation import (
    Splitter,
    WalkForwardResult,
    walk_forward_predict,
)
from alphaforge.validation.search import SEARCH_SPACES, TrialRecord, make_tuner

log = logging.getLogger(__name__)

#: The controls' names in the summary and their experiment names in the trial ledger.
LEDGER_CONTROL_NAMES = {"random_walk": "random_walk", "permuted_labels": "permuted"}
#: Index and macro series that panel features read beside a universe (see
#: :mod:`alphaforge.features.panel`); loaded from the bar store when a named feature needs one.
PANEL_INPUT_SYMBOLS: tuple[str, ...] = (VIX, TNX, IRX, T10Y2Y, *DOLLAR_SYMBOLS)


@dataclass(frozen=True, slots=True)
class PanelRuns:
    """Every model and the ensemble on one panel."""

    panel: Panel
    models: dict[str, ScoredRun]
    ensemble: ScoredRun
    agreement: pd.Series
    benchmark_metrics: dict[str, float]
    equity: dict[str, pd.Series]
    search_trials: list[TrialRecord]
    combiner: Combiner


@dataclass(frozen=True, slots=True)
class TrainOutcome:
    """The run directory and its summary."""

    run: RunDir
    summary: TrainSummary


def permute_labels_in_blocks(panel: Panel, block_bars: int, seed: int) -> Panel:
    """Return the panel with each symbol's labels shuffled in blocks of ``block_bars`` rows.

    Features, label start and end times stay where they are (purging still uses each row's
    own time span); only which label value sits on which row changes, block by block.
    """
    rng = np.random.default_rng(seed)
    symbols = panel.X.index.get_level_values("symbol")
    target = panel.target.to_numpy().copy()
    forward = panel.forward_return.to_numpy().copy()
    new_target = target.copy()
    new_forward = forward.copy()
    for symbol in pd.unique(symbols):
        rows = np.flatnonzero(symbols == symbol)  # time order: the panel is sorted by time
        blocks = [rows[i : i + block_bars] for i in range(0, len(rows), block_bars)]
        order = rng.permutation(len(blocks))
        source = np.concatenate([blocks[k] for k in order])
        new_target[rows] = target[source[: len(rows)]]
        new_forward[rows] = forward[source[: len(rows)]]
    return replace(
        panel,
        target=pd.Series(new_target, index=panel.target.index, name=panel.target.name),
        forward_return=pd.Series(
            new_forward, index=panel.forward_return.index, name=panel.forward_return.name
        ),
    )


def train_panel(
    label: str,
    panel: Panel,
    bars_by_symbol: Mapping[str, pd.DataFrame],
    interval: Interval,
    config: AppConfig,
    *,
    seed: int,
    splitter: Splitter | None = None,
    reporter: Reporter = SILENT,
    contributions: bool = False,
) -> PanelRuns:
    """Train every configured model on ``panel`` by purged walk-forward and trade the scores.

    ``contributions`` also attributes every out-of-fold score to the features
    (:attr:`~alphaforge.validation.WalkForwardResult.contributions`).
    """
    splitter = splitter or make_splitter(config, interval)
    n_folds = sum(1 for _ in splitter.split(panel.start, panel.end))
    if n_folds == 0:
        raise DataError(
            f"{label}: the data are too short for one walk-forward fold.",
            hint="Fetch a longer history or shorten walk_forward.train_months.",
        )
    runs: dict[str, ScoredRun] = {}
    trials: list[TrialRecord] = []
    weigh = fold_weigher(
        panel,
        half_life_days=config.labels.weight_half_life_days,
        uniqueness_weights=config.labels.uniqueness_weights,
    )
    equity: dict[str, pd.Series] = {}
    bench_metrics: dict[str, float] = {}
    for name in config.train.models:
        model_config = config.model.model_copy(update={"name": name})
        task = reporter.task(f"{label}: {name} walk-forward ({n_folds} folds)", total=n_folds)

        def make_model(fold: int, cfg: Any = model_config) -> Classifier:
            return build_model(config, cfg, seed + fold)

        tune = None
        if config.train.search_trials > 0 and name in SEARCH_SPACES:
            tune = make_tuner(
                model_config,
                n_trials=config.train.search_trials,
                seed=seed,
                n_jobs=config.run.n_jobs,
                on_trial=trials.append,
                build=lambda cfg, model_seed: build_model(config, cfg, model_seed),
            )
        wf = walk_forward_predict(
            panel,
            splitter,
            make_model,
            on_fold=_advance(task),
            select=fold_selector(config, seed),
            tune=tune,
            weigh=weigh,
            design=design_for(name, model_config, panel),
            contributions=contributions,
        )
        task.done()
        runs[name], curve, bench_metrics = _scored(
            name, _probabilities(wf), wf, panel, bars_by_symbol, interval, config
        )
        equity[name] = curve
        log.info("%s: %s %s %s", label, name, runs[name].prediction, runs[name].metrics)
    probabilities = {n: r.probabilities for n, r in runs.items()}
    names = tuple(runs)
    if config.train.ensemble == "stacking":
        folds = list(splitter.split(panel.start, panel.end))
        stack = fit_stack(panel, probabilities, folds, seed)
        first = probabilities[names[0]]
        combined = pd.DataFrame(stack.oof_proba_, index=first.index, columns=first.columns)
        combiner = Combiner("stacking", names, stack=stack)
    else:
        weights = ensemble_weights(runs, config.train.ensemble)
        combined = combine_probabilities(probabilities, weights)
        newest = weights.iloc[-1]
        combiner = Combiner(
            config.train.ensemble, names, weights={n: float(newest[n]) for n in names}
        )
    ensemble, curve, bench_metrics = _scored(
        ENSEMBLE, combined, None, panel, bars_by_symbol, interval, config
    )
    ensemble.metrics["models"] = float(len(runs))
    equity[ENSEMBLE] = curve
    agreement = model_agreement(
        {n: r.scores for n, r in runs.items()},
        ensemble.scores,
        center=0.5 if panel.n_classes == 2 else 0.0,
    )
    return PanelRuns(panel, runs, ensemble, agreement, bench_metrics, equity, trials, combiner)


def _probabilities(wf: WalkForwardResult) -> pd.DataFrame:
    if wf.probabilities is None:
        raise ValueError("walk-forward results carry their class probabilities")
    return wf.probabilities


def _advance(task: Task) -> Callable[[int], None]:
    def advance(_: int) -> None:
        task.advance()

    return advance


def _scored(
    name: str,
    probabilities: pd.DataFrame,
    wf: WalkForwardResult | None,
    panel: Panel,
    bars_by_symbol: Mapping[str, pd.DataFrame],
    interval: Interval,
    config: AppConfig,
) -> tuple[ScoredRun, pd.Series, dict[str, float]]:
    """Score class probabilities, trade the scores and measure both."""
    values = probabilities.to_numpy(np.float64)
    scores = pd.Series(class_score(values), index=probabilities.index, name="score")
    result, bench = backtest_scores(panel.trading_scores(scores), bars_by_symbol, config)
    periods = periods_per_year(result.returns.index, interval)
    capital = config.backtest.initial_capital
    metrics = performance(result, periods, capital)
    prediction = prediction_metrics(panel, scores, probabilities)
    run = ScoredRun(name, scores, result.returns, metrics, prediction, wf, probabilities)
    return run, result.equity, performance(bench, periods, capital)


def load_training_universe(
    config: AppConfig, seed: int
) -> tuple[dict[str, pd.DataFrame], dict[str, Instrument], Interval, str]:
    """Return the raw bars and instruments of ``train.universe``, its interval and its kind."""
    name = config.train.universe
    if name == "synthetic":
        market = generate_market(synthetic_spec(config), seed)
        return dict(market.bars), dict(market.instruments), Interval.D1, "synthetic"
    interval = Interval(config.data.interval)
    store = BarStore(config.data.store_dir)
    bars: dict[str, pd.DataFrame] = {}
    instruments: dict[str, Instrument] = {}
    for member in load_universe(name).members:
        instrument = member.instrument
        if store.exists(instrument.symbol, interval, asset_class=instrument.asset_class):
            bars[instrument.symbol] = store.read(
                instrument.symbol, interval, asset_class=instrument.asset_class
            )
            instruments[instrument.symbol] = instrument
    if len(bars) < 2 * config.portfolio.top_k:
        raise DataError(
            f"Universe {name}: {len(bars)} series with {interval.value} bars are stored in "
            f"{config.data.store_dir}; a top-{config.portfolio.top_k} long/short book needs "
            f"{2 * config.portfolio.top_k}.",
            hint=f"Run alphaforge data fetch --universe {name} first.",
        )
    return bars, instruments, interval, "stored"


def load_panel_inputs(
    config: AppConfig,
    bars_by_symbol: Mapping[str, pd.DataFrame],
    instruments: Mapping[str, Instrument],
    interval: Interval,
    feature_names: Sequence[str] | None,
) -> TrainingData:
    """Return the stored index and macro series the named panel features need, validated.

    A panel feature such as ``vix_z_60`` reads a series that is not a member of the universe
    (:data:`PANEL_INPUT_SYMBOLS`). The ones a name in ``feature_names`` needs and the universe
    lacks are read from the bar store at ``interval`` and pass the same data-health gate as
    the universe; none are read for ``feature_names=None`` (the default set uses only what
    the universe has). A series that is not stored is left out: the panel then refuses the
    feature in one line, naming the series to fetch.
    """
    if feature_names is None:
        return TrainingData({}, {}, [])
    store = BarStore(config.data.store_dir)
    stored = {
        symbol: store.read(symbol, interval)
        for symbol in PANEL_INPUT_SYMBOLS
        if symbol not in bars_by_symbol and store.exists(symbol, interval)
    }
    wanted = needed_inputs(bars_by_symbol, feature_names, stored, instruments=instruments)
    if not wanted:
        return TrainingData({}, {}, [])
    raw = {symbol: stored[symbol] for symbol in wanted}
    return prepare_training_data(
        raw, {symbol: store.instrument(symbol) for symbol in wanted}, interval, config
    )


def check_train_config(config: AppConfig) -> None:
    """Raise :class:`ConfigError` for a training configuration that cannot run."""
    unknown = [name for name in config.train.models if name not in MODELS]
    if unknown:
        raise ConfigError(
            f"train.models: unknown model {unknown[0]!r}.", hint=MODELS.suggest(unknown[0])
        )
    if config.train.calibrate and config.walk_forward.validation_months == 0:
        raise ConfigError(
            "train.calibrate needs a validation block to calibrate on.",
            hint="Set walk_forward.validation_months above 0 or train.calibrate: false.",
        )
    if len(set(config.train.models)) != len(config.train.models):
        raise ConfigError("train.models lists a model twice.", hint="Name each model once.")
    check_multi_task_config(config)
    check_model_labels(config, list(config.train.models))


def run_training(
    config: AppConfig,
    *,
    out: Path | None = None,
    reporter: Reporter = SILENT,
    command: str = "train",
    isolated: bool = False,
) -> TrainOutcome:
    """Train the configured models and their controls; write the run directory.

    ``isolated`` (``alphaforge reproduce``) leaves the project as it was: no model is
    registered, and trials are recorded in a snapshot of the trial ledger inside the run
    directory, so the deflated Sharpe still counts the ledger's history.
    """
    check_train_config(config)
    run = create_run_dir(config.run.runs_dir, command, out)
    handler = attach_log(run, config.run.log_level)
    try:
        return _train(config, run, reporter, command=command, isolated=isolated)
    except Exception:
        log.exception("train run failed")
        raise
    finally:
        detach_log(handler)


def _train(
    config: AppConfig, run: RunDir, reporter: Reporter, *, command: str, isolated: bool
) -> TrainOutcome:
    seed = config.run.seed
    task = reporter.task(f"universe {config.train.universe}: load and validate", total=None)
    raw, instruments, interval, kind = load_training_universe(config, seed)
    data = prepare_training_data(raw, instruments, interval, config)
    first = min(b.index[0] for b in data.bars.values())
    last = max(b.index[-1] for b in data.bars.values())
    spec = replace(
        synthetic_spec(config),
        n_symbols=len(data.bars),
        start=first.date(),
        end=last.date(),
        interval=interval,
        symbol_prefix=CONTROL_PREFIX,  # RW00.., never the universe's own names
    )
    control_market = random_walk_market(spec, seed + 1)
    control = prepare_training_data(
        control_market.bars, control_market.instruments, interval, config
    )
    task.done()

    events = read_events(config.labels.catalyst_file) if config.labels.catalyst_file else None
    # Series the named panel features read beside the universe (^VIX...), shared by the
    # random-walk control so that both panels have the same columns.
    inputs = load_panel_inputs(config, data.bars, instruments, interval, config.features.names)

    def panel_of(bars: Mapping[str, pd.DataFrame], members: Mapping[str, Instrument]) -> Panel:
        built = build_panel(
            bars,
            interval,
            config.labels,
            config.features.names,
            min_history=config.features.min_history,
            instruments=members,
            inputs=inputs.bars,
        )
        if events is None:
            return built
        return with_catalysts(
            built,
            events,
            window_bars=config.labels.catalyst_window_bars,
            factor=config.labels.catalyst_weight,
        )

    task = reporter.task("features and labels", total=None)
    panel = panel_of(data.bars, instruments)
    control_panel = panel_of(control.bars, control_market.instruments)
    permuted = permute_labels_in_blocks(panel, config.train.control_block_bars, seed + 2)
    task.done()

    # Only the universe's scores are explained: nobody reads the controls' feature attributions.
    main = train_panel(
        "universe",
        panel,
        data.bars,
        interval,
        config,
        seed=seed,
        reporter=reporter,
        contributions=True,
    )
    walk = train_panel(
        "random-walk control",
        control_panel,
        control.bars,
        interval,
        config,
        seed=seed,
        reporter=reporter,
    )
    perm = train_panel(
        "permuted-label control",
        permuted,
        data.bars,
        interval,
        config,
        seed=seed,
        reporter=reporter,
    )

    warnings = (
        list(data.warnings)
        + [f"panel input: {w}" for w in inputs.warnings]
        + [f"control: {w}" for w in control.warnings]
    )
    overfitting, trial_notes = record_trials(
        config,
        main,
        controls={
            LEDGER_CONTROL_NAMES["random_walk"]: walk,
            LEDGER_CONTROL_NAMES["permuted_labels"]: perm,
        },
        ledger_path=snapshot_ledger(config, run.path / "ledger_snapshot.sqlite")
        if isolated
        else None,
    )
    warnings += trial_notes
    registered: dict[str, dict[str, Any]] = {}
    if isolated:
        warnings.append(
            "Reproduction: no model was registered, and the trials went to a snapshot of the "
            "trial ledger in this run directory."
        )
    else:
        task = reporter.task("final models: fit on the latest window and register", total=None)
        registered = register_final_models(
            config, main.panel, main.models, overfitting, interval, main.search_trials
        )
        save_combiner(config, main.combiner, registered)
        task.done()
    controls = {"random_walk": walk, "permuted_labels": perm}
    for label, runs in controls.items():
        threshold = control_auc_threshold(
            runs.ensemble.prediction.get("labelled_rows", 0.0), config.labels.horizon
        )
        auc = runs.ensemble.prediction.get("auc", float("nan"))
        if auc > threshold:
            warnings.append(
                f"LEAKAGE ALARM: the {label} control's out-of-sample AUC is {auc:.3f}, above "
                f"the {threshold:.3f} that chance allows. Treat this run as suspect."
            )

    oof = _oof_table(main)
    oof.to_parquet(run.path / "oof_predictions.parquet")
    contributions = _contribution_table(main, oof.index)
    if contributions is not None:
        with atomic_path(run.path / "oof_contributions.parquet") as temp:
            contributions.to_parquet(temp)
    multi_task: list[dict[Hashable, Any]] | None = None
    if config.train.multi_task_model is not None:
        task = reporter.task(f"multi-task {config.train.multi_task_model}: 1/5/10/21 bars", None)
        table = multi_task_report(
            main.panel, data.bars, interval, config, make_splitter(config, interval), seed
        )
        table.to_csv(run.path / "multi_task.csv", index=False)
        multi_task = table.to_dict(orient="records")
        task.done()
    quantiles: dict[str, float] | None = None
    if config.train.quantiles:
        task = reporter.task("quantile regression of the forward return", total=None)
        report = quantile_report(main.panel, make_splitter(config, interval), config, seed)
        report.write(run.path)
        quantiles = report.metrics()
        if not isolated:
            # Later stages read q10..q90 from the registry, as they read the classifiers.
            registered[QUANTILE_MODEL] = register_quantile_model(
                config, main.panel, report, interval
            )
        task.done()
    folds = _fold_table(main)
    folds.to_csv(run.path / "folds.csv", index=False)
    importances = _importances(main)
    if not importances.empty:
        importances.to_csv(run.path / "feature_importance.csv")
    every_run = main.models | {ENSEMBLE: main.ensemble}
    all_probabilities = {n: r.probabilities for n, r in every_run.items()}
    calibration = calibration_table(main.panel, all_probabilities)
    calibration.to_csv(run.path / "calibration.csv", index=False)
    hit_rates = hit_rate_table(main.panel, all_probabilities)
    hit_rates.to_csv(run.path / "hit_rate_by_confidence.csv", index=False)
    diagnostics = {
        name: score_diagnostics(main.panel, r.scores, r.probabilities)
        for name, r in every_run.items()
    }
    write_diagnostics(
        run.path / "diagnostics.html",
        calibration=calibration,
        hit_rates=hit_rates,
        importances=importances,
        title=f"train {run.run_id}: model diagnostics",
    )

    dumped = masked_dump(config)
    # Every deflated Sharpe, controls' included, uses the main experiment's trial count.
    nan = float("nan")
    metrics = {
        name: r.metrics | r.prediction | {"deflated_sharpe": overfitting.deflated_sharpe[name]}
        for name, r in every_run.items()
    }
    control_dsr = overfitting.control_deflated_sharpe
    control_metrics = {
        label: runs.ensemble.metrics
        | runs.ensemble.prediction
        | {"deflated_sharpe": control_dsr.get(LEDGER_CONTROL_NAMES[label], nan)}
        for label, runs in controls.items()
    }
    content = ReportContent(
        title="train",
        run_id=run.run_id,
        code_version=code_version(),
        seed=seed,
        created=run.created.strftime("%Y-%m-%d %H:%M:%S"),
        caveats=("Out-of-fold results from purged walk-forward; no result here is a promise.",),
        metrics=metrics
        | {"benchmark (equal weight)": main.benchmark_metrics}
        | {f"control: {k}": v for k, v in control_metrics.items()},
        curves=[CurveSet(n, c) for n, c in main.equity.items()]
        + [CurveSet(f"control: {k}", v.equity[ENSEMBLE], "dash") for k, v in controls.items()],
        fold_auc={
            name: pd.Series({f.test_start: f.test_auc for f in r.walk_forward.folds})
            for name, r in main.models.items()
            if r.walk_forward is not None
        },
        data_rows=[
            DataRow(
                symbol=s,
                kind=kind,
                origin=config.train.universe,
                interval=interval.value,
                first=str(b.index[0].date()),
                last=str(b.index[-1].date()),
                rows=len(b),
                health=f"{data.reports[s].health_score:.2f}",
                issues="; ".join(data.reports[s].reasons()),
            )
            for s, b in data.bars.items()
        ],
        config_yaml=yaml.safe_dump(dumped, sort_keys=False),
        warnings=warnings,
    )
    render_report(content, run.report)
    data_record = TrainData(
        universe=config.train.universe,
        kind=kind,
        interval=interval.value,
        symbols=sorted(data.bars),
        first=first.isoformat(),
        last=last.isoformat(),
        hashes={s: content_hash(b) for s, b in data.bars.items()},
    )
    summary = TrainSummary(
        run_id=run.run_id,
        command=command,
        created=run.created.isoformat(),
        config=dumped,
        seed=seed,
        data=data_record,
        code_version=code_version(),
        models={n: metrics[n] for n in main.models},
        ensemble=metrics[ENSEMBLE],
        ensemble_weights=ensemble_weights(main.models, config.train.ensemble).mean().to_dict(),
        mean_agreement=float(main.agreement.mean()),
        search_trials=len(main.search_trials),
        quantiles=quantiles,
        multi_task=multi_task,
        catalysts=None
        if events is None or panel.row_weight is None
        else Catalysts(
            events=len(events),
            rows_weighted=int((panel.row_weight != 1.0).sum()),
            factor=config.labels.catalyst_weight,
        ),
        overfitting=overfitting,
        diagnostics=diagnostics,
        registered=registered,
        benchmark_metrics=main.benchmark_metrics,
        controls=control_metrics,
        warnings=warnings,
        report=str(run.report),
    )
    write_result(run.summary, summary)
    write_result(
        run.manifest,
        RunManifest(
            command=command,
            config=dumped,
            seed=seed,
            seeds={"models": seed, "random_walk_control": seed + 1, "permutation": seed + 2},
            data=data_record.model_dump(mode="json"),
            packages=package_versions(),
            code_version=code_version(),
            machine=machine_info(),
        ),
    )
    log.info("train finished: %s", run.path)
    return TrainOutcome(run, summary)


def _oof_table(runs: PanelRuns) -> pd.DataFrame:
    panel = runs.panel
    frame = pd.DataFrame(
        {
            "target": panel.target,
            "forward_return": panel.forward_return,
            "label_start": panel.start,
            "label_end": panel.end,
        }
    )
    for name, r in (runs.models | {ENSEMBLE: runs.ensemble}).items():
        frame[f"score_{name}"] = r.scores
        if panel.n_classes > 2:
            for label in r.probabilities.columns:
                frame[f"p_{label}_{name}"] = r.probabilities[label]
    frame["agreement"] = runs.agreement
    return frame[frame[f"score_{ENSEMBLE}"].notna()]


def _contribution_table(runs: PanelRuns, rows: pd.Index) -> pd.DataFrame | None:
    """Return every model's out-of-fold feature contributions, or None when none has any.

    Indexed by (timestamp, symbol) like ``oof_predictions.parquet`` and kept to its ``rows``
    (a stacked ensemble scores fewer rows than its models); a ``model`` column names the
    model, then one float32 column per feature and ``bias`` (see
    :mod:`alphaforge.models.explain` for the margin each model's values sum to).
    """
    pieces = []
    for name, r in runs.models.items():
        if r.walk_forward is None or r.walk_forward.contributions is None:
            continue
        explained = r.walk_forward.contributions
        frame = explained[explained.index.isin(rows)].copy()
        frame.insert(0, "model", name)
        pieces.append(frame)
    return pd.concat(pieces) if pieces else None


def _fold_table(runs: PanelRuns) -> pd.DataFrame:
    rows = []
    for name, r in runs.models.items():
        if r.walk_forward is None:
            continue
        for f in r.walk_forward.folds:
            rows.append(
                {
                    "model": name,
                    "fold": f.number,
                    "test_start": f.test_start.isoformat(),
                    "test_end": f.test_end.isoformat(),
                    "train_rows": f.train_rows,
                    "validation_rows": f.validation_rows,
                    "test_rows": f.test_rows,
                    "test_auc": f.test_auc,
                    "best_iteration": f.best_iteration,
                }
            )
    return pd.DataFrame(rows)


def _importances(runs: PanelRuns) -> pd.DataFrame:
    """Return feature importances by (model, fold): importance over time."""
    pieces = []
    for name, r in runs.models.items():
        if r.walk_forward is None or r.walk_forward.importances.empty:
            continue
        imp = r.walk_forward.importances.copy()
        imp.index = pd.MultiIndex.from_product([[name], imp.index], names=["model", "fold"])
        pieces.append(imp)
    return pd.concat(pieces) if pieces else pd.DataFrame()


__all__ = [
    "ENSEMBLE",
    "PanelRuns",
    "ScoredRun",
    "TrainOutcome",
    "ensemble_weights",
    "load_panel_inputs",
    "load_training_universe",
    "model_agreement",
    "permute_labels_in_blocks",
    "run_training",
    "train_panel",
]
