"""The demo: the whole research pipeline, offline, on bundled real data and a synthetic market.

Real series shipped inside packages (S&P 500, NASDAQ, GOOG, EURUSD hourly, BTCUSD monthly,
VIX, WTI) are loaded into the store, validated and health-scored. No package ships a real
cross-section with full OHLCV, so the strategy is trained on a synthetic equity cross-section
with a planted signal of stated strength; the control runs the identical pipeline on a random
walk with its own symbol names (``RW00``, ...). The report labels every series real or
synthetic.

The generator knows the planted signal, so the demo also scores the *oracle*: the generator's
own forecast of each label (:func:`~alphaforge.data.synthetic.oracle_forward_return`), on the
same out-of-sample rows as the model. Its AUC is the best a causal model could reach; the model
is judged by the share of the oracle's edge over 0.5 it recovers, and the control by whether it
looks like chance (:func:`control_verdict`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final, TypeVar

import pandas as pd
import yaml
from pydantic import BaseModel

from alphaforge.backtest import BacktestResult, CurveSet, DataRow, ReportContent, render_report
from alphaforge.backtest.attribution import costs_by_component, pnl_by_sector, pnl_by_strategy
from alphaforge.backtest.report import ReportTable
from alphaforge.backtest.tearsheet import TEARSHEET_FILENAME
from alphaforge.config import AppConfig, masked_dump
from alphaforge.config.models import LabelsConfig
from alphaforge.core.bars import content_hash
from alphaforge.core.progress import SILENT, Reporter
from alphaforge.core.types import AssetClass, Interval
from alphaforge.data.service import load_sample_universe
from alphaforge.data.synthetic import (
    SyntheticMarket,
    SyntheticSpec,
    generate_market,
    oracle_forward_return,
    random_walk_market,
)
from alphaforge.data.validation import ValidationReport
from alphaforge.models.dataset import Panel
from alphaforge.pipeline.demo_aggregate import (
    DEMO_AGGREGATE,
    ML_NOTE,
    TAG,
    AggregateBook,
    run_aggregate_book,
)
from alphaforge.pipeline.research import (
    StrategyRun,
    check_model_labels,
    periods_per_year,
    prepare_training_data,
    run_strategy,
)
from alphaforge.pipeline.results import (
    DemoAggregateSection,
    DemoSection,
    DemoSummary,
    RunManifest,
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
from alphaforge.storage import BarStore
from alphaforge.validation import auc, probabilistic_sharpe_ratio

log = logging.getLogger(__name__)

#: Research settings the demo uses where the configuration leaves them unset (``demo.presets``;
#: see :class:`~alphaforge.config.models.DemoConfig` for why).
DEMO_PRESETS: Final[Mapping[str, Mapping[str, Any]]] = {
    "walk_forward": {"train_months": 24, "test_months": 3},
    "labels": {"weight_half_life_days": None},
    "model.trees": {"num_leaves": 4, "min_child_samples": 300, "colsample_bytree": 0.3},
    # The demo's book measures the model's edge on a synthetic market: it trades with the
    # base checks only. Set risk.preset (spec, seed_alpaca) to see limits and stops act on it.
    "risk": {"preset": "none"},
}
_M = TypeVar("_M", bound=BaseModel)

#: Symbol prefix of the control universe (``RW00``, ...), distinct from the strategy's ``SYN``.
CONTROL_PREFIX: Final = "RW"
#: Share of the oracle's edge over 0.5 the strategy must recover to "find the planted edge".
EDGE_BAR: Final = 0.5
#: A gross-of-costs PSR at or above this is not chance.
CHANCE_PSR: Final = 0.95


def demo_config(config: AppConfig) -> AppConfig:
    """Return ``config`` with :data:`DEMO_PRESETS` applied to every field it leaves unset.

    A field counts as set when the configuration file or environment named it, so a recorded
    configuration (which names every field) is returned unchanged. ``demo.presets: false``
    turns the presets off.
    """
    if not config.demo.presets:
        return config
    for path, values in DEMO_PRESETS.items():
        config = _preset(config, path.split("."), values)
    return config


def _preset(model: _M, path: list[str], values: Mapping[str, Any]) -> _M:
    """Return ``model`` with ``values`` set where unset, in the sub-model at ``path``."""
    if not path:
        unset = {k: v for k, v in values.items() if k not in model.model_fields_set}
        return model.model_copy(update=unset) if unset else model
    head, rest = path[0], path[1:]
    inner = _preset(getattr(model, head), rest, values)
    return model if inner is getattr(model, head) else model.model_copy(update={head: inner})


def caveats(config: AppConfig) -> tuple[str, ...]:
    """Return the warnings every demo report opens with."""
    return (
        "No strategy is promised to make money. These numbers are measured out of sample, net "
        "of the stated costs, on the data listed below; past performance does not predict the "
        "future.",
        "The strategy universe is SYNTHETIC: no installed package ships a real cross-section "
        "with full OHLCV. Its planted signal (a short-term reversal) explains "
        f"{config.demo.signal_strength:.1%} of daily return variance (demo.signal_strength); "
        "the control column is the same pipeline on a random walk (symbols RW00, ...) and "
        "must look like chance. The oracle is the generator's own forecast of each label: "
        "the best AUC a causal model could reach on the same rows.",
    )


@dataclass(frozen=True, slots=True)
class DemoOutcome:
    """Where the demo wrote its results, and the headline numbers."""

    run: RunDir
    summary: DemoSummary


def oracle_scores(
    market: SyntheticMarket, panel: Panel, labels: LabelsConfig, seed: int
) -> pd.Series | None:
    """Return the generator's score of every panel row, or ``None`` for a label it cannot score.

    ``cross_sectional``: the within-bar percentile rank of the label's expected log return;
    ``direction``: that expectation over its standard deviation (a monotone transform of the
    probability that the label is up). Other label kinds have no oracle here.
    """
    if labels.kind not in ("cross_sectional", "direction"):
        return None
    forecast = oracle_forward_return(
        market, labels.horizon, entry=labels.entry, exit=labels.exit, seed=seed
    )

    def stack(series: Mapping[str, pd.Series]) -> pd.Series:
        stacked: pd.Series = pd.concat(series, names=["symbol", "timestamp"]).swaplevel()
        return stacked.reindex(panel.target.index)

    mean = stack(forecast.mean)
    if labels.kind == "cross_sectional":
        ranked: pd.Series = mean.groupby(level="timestamp").rank(pct=True)
        return ranked
    return mean / stack(forecast.sd)


def oracle_auc(run: StrategyRun, scores: pd.Series | None) -> float:
    """Return the AUC of oracle ``scores`` on the rows where ``run``'s AUC is measured."""
    if scores is None:
        return float("nan")
    known = run.walk_forward.scores.notna() & run.panel.target.notna()
    return auc(run.panel.target[known], scores[known])


def edge_ratio(model_auc: float, oracle: float) -> float:
    """Return ``(model_auc - 0.5) / (oracle - 0.5)``, NaN when the oracle has no edge."""
    if not math.isfinite(oracle) or oracle <= 0.5 + 1e-9:
        return float("nan")
    return (model_auc - 0.5) / (oracle - 0.5)


def strategy_verdict(model_auc: float, oracle: float) -> str:
    """Return the line that says whether the strategy recovers the planted edge.

    It does when its AUC keeps at least :data:`EDGE_BAR` of the oracle's edge over 0.5.
    """
    ratio = edge_ratio(model_auc, oracle)
    if not math.isfinite(ratio):
        return f"strategy finds the planted edge: n/a, AUC {model_auc:.3f}, no oracle edge"
    found = "yes" if ratio >= EDGE_BAR else "no"
    return (
        f"strategy finds the planted edge: {found}, AUC {model_auc:.3f} against the oracle's "
        f"{oracle:.3f}, {ratio:.0%} of its edge over 0.5 (the bar: {EDGE_BAR:.0%})"
    )


def gross_psr(run: StrategyRun) -> float:
    """Return the probabilistic Sharpe ratio (against 0) of ``run``'s returns before costs."""
    return probabilistic_sharpe_ratio(run.backtest.gross_returns.to_numpy())


def control_verdict(control: StrategyRun, horizon: int) -> tuple[bool, str]:
    """Return whether the control looks like chance, and the line that says so.

    Rule: its AUC lies within the chance band of :func:`control_auc_threshold` on either side
    of 0.5 (three null standard errors for its labelled rows, inflated by ``sqrt(horizon)``
    for overlapping labels, at least 0.02) and its PSR gross of costs is below
    :data:`CHANCE_PSR` (costs would hide a leak). A leak-free control fails the PSR half by
    luck 5 % of the time (the AUC half about 0.3 %).
    """
    value = control.prediction_metrics.get("auc", float("nan"))
    rows = control.prediction_metrics.get("labelled_rows", 0.0)
    band = control_auc_threshold(rows, horizon) - 0.5
    psr = gross_psr(control)
    chance = abs(value - 0.5) <= band and psr < CHANCE_PSR
    line = (
        f"control looks like chance: {'yes' if chance else 'NO'}, AUC {value:.3f} "
        f"(chance: 0.5 +- {band:.3f}), gross PSR {psr:.2f} (chance: below {CHANCE_PSR})"
    )
    return chance, line


def synthetic_spec(config: AppConfig) -> SyntheticSpec:
    """Return the synthetic cross-section the configuration asks for."""
    demo = config.demo
    return SyntheticSpec(
        n_symbols=demo.n_symbols,
        n_sectors=demo.n_sectors,
        start=demo.start,
        end=demo.end,
        interval=Interval.D1,
        asset_class=AssetClass.STOCK,
        signal_strength=demo.signal_strength,
    )


def _data_rows(
    bars: Mapping[str, pd.DataFrame],
    reports: Mapping[str, ValidationReport],
    kind: str,
    origin: Mapping[str, str] | str,
) -> list[DataRow]:
    rows = []
    for symbol, frame in bars.items():
        report = reports[symbol]
        issues = "; ".join(report.reasons()) or "none"
        rows.append(
            DataRow(
                symbol=symbol,
                kind=kind,
                origin=origin if isinstance(origin, str) else origin.get(symbol, ""),
                interval=report.interval,
                first=str(frame.index[0].date()) if len(frame) else "",
                last=str(frame.index[-1].date()) if len(frame) else "",
                rows=len(frame),
                health=f"{report.health_score:.2f}",
                issues=issues,
            )
        )
    return rows


def _data_record(bars: Mapping[str, pd.DataFrame], kind: str) -> dict[str, Any]:
    return {
        symbol: {
            "kind": kind,
            "start": frame.index[0].isoformat() if len(frame) else None,
            "end": frame.index[-1].isoformat() if len(frame) else None,
            "rows": len(frame),
            "content_hash": content_hash(frame),
        }
        for symbol, frame in bars.items()
    }


def run_demo(
    config: AppConfig,
    *,
    out: Any = None,
    reporter: Reporter = SILENT,
    command: str = "demo",
) -> DemoOutcome:
    """Run the demo end to end and write its run directory.

    Parameters
    ----------
    config
        Effective configuration; ``config.run.seed`` seeds everything.
    out
        Exact output folder (a :class:`pathlib.Path`); default ``runs/<UTC time>-<command>``.
    reporter
        Progress bars.
    command
        Name recorded in the run (``demo`` or ``reproduce``).
    """
    config = demo_config(config)
    check_model_labels(config, [config.model.name])
    run = create_run_dir(config.run.runs_dir, command, out)
    handler = attach_log(run, config.run.log_level)
    try:
        return _run(config, run, reporter)
    except Exception:
        log.exception("demo run failed")
        raise
    finally:
        detach_log(handler)


def _component_table(aggregate: AggregateBook) -> ReportTable:
    """The rules + ML book's P&L by component, for the report."""
    frame = aggregate.by_component.assign(
        total_pnl=aggregate.by_component["total_pnl"].map(lambda v: f"{v:,.2f}"),
        share_of_pnl=aggregate.by_component["share_of_pnl"].map(
            lambda v: "n/a" if v != v else f"{v * 100:.1f}%"
        ),
    )
    return ReportTable(f"P&L by component: {TAG} (seed 002 weights)", frame, note=ML_NOTE)


def _run(config: AppConfig, run: RunDir, reporter: Reporter) -> DemoOutcome:
    seed = config.run.seed
    log.info("demo run %s, seed %d", run.run_id, seed)
    store = BarStore(config.data.store_dir)

    task = reporter.task("real sample series: load, validate, store", total=None)
    real = load_sample_universe(store, "demo_real", config)
    task.done()
    for symbol, report in real.reports.items():
        log.info("real series %s: health %.2f, %s", symbol, report.health_score, report.reasons())
    for symbol, reason in real.errors.items():
        log.warning("real series %s not loaded: %s", symbol, reason)

    task = reporter.task("synthetic market: generate and validate", total=None)
    spec = synthetic_spec(config)
    market = generate_market(spec, seed)
    control_market = random_walk_market(replace(spec, symbol_prefix=CONTROL_PREFIX), seed + 1)
    # Only the series the models train on are gated; the others are shown with their scores.
    strategy_data = prepare_training_data(market.bars, market.instruments, Interval.D1, config)
    control_data = prepare_training_data(
        control_market.bars, control_market.instruments, Interval.D1, config
    )
    strategy_bars, strategy_reports = strategy_data.bars, strategy_data.reports
    control_bars, control_reports = control_data.bars, control_data.reports
    task.done()

    gate_warnings = strategy_data.warnings + [f"control: {w}" for w in control_data.warnings]

    strategy = run_strategy(
        "strategy", strategy_bars, Interval.D1, config, seed=seed, reporter=reporter
    )
    control = run_strategy(
        "control", control_bars, Interval.D1, config, seed=seed, reporter=reporter
    )
    warnings = (
        list(gate_warnings)
        + [f"Real series {s} was not loaded: {r}" for s, r in real.errors.items()]
        + _control_warnings(control, config.labels.horizon)
    )
    oracle = {
        "strategy": oracle_auc(
            strategy, oracle_scores(market, strategy.panel, config.labels, seed)
        ),
        "control": oracle_auc(
            control, oracle_scores(control_market, control.panel, config.labels, seed)
        ),
    }
    strategy_prediction = strategy.prediction_metrics | {
        "oracle_auc": oracle["strategy"],
        "edge_ratio": edge_ratio(strategy.prediction_metrics["auc"], oracle["strategy"]),
    }
    control_prediction = control.prediction_metrics | {"oracle_auc": oracle["control"]}
    chance, control_line = control_verdict(control, config.labels.horizon)
    verdicts = {
        "strategy": strategy_verdict(strategy.prediction_metrics["auc"], oracle["strategy"]),
        "control": control_line,
    }
    for line in verdicts.values():
        log.info("verdict: %s", line)

    data_rows = (
        _data_rows(real.bars, real.reports, "real", real.origins)
        + _data_rows(
            strategy_bars, strategy_reports, "synthetic", "strategy universe (planted signal)"
        )
        + _data_rows(control_bars, control_reports, "synthetic", "control universe (random walk)")
    )
    task = reporter.task("rules + ML aggregate (seed 002 weights)", total=None)
    aggregate = run_aggregate_book(strategy.book.market, config)
    task.done()
    metrics_table = {
        "strategy": strategy.metrics | strategy_prediction,
        "rules + ML (seed weights)": aggregate.metrics,
        "benchmark (equal weight)": strategy.benchmark_metrics,
        "control": control.metrics | control_prediction,
        "control benchmark": control.benchmark_metrics,
    }
    dumped = masked_dump(config)
    capital = config.backtest.initial_capital
    task = reporter.task("tear sheet of the strategy's book", total=None)
    book = strategy.book
    render_run_tearsheet(
        run.path,
        title=f"demo {run.run_id}: out-of-fold scores, top-{config.portfolio.top_k} book",
        engine=book.engine,
        benchmark=book.benchmark_engine,
        metrics=strategy.metrics | strategy_prediction,
        facts={
            "universe": "synthetic, planted signal",
            "data": f"{book.market.index[0].date()} .. {book.market.index[-1].date()}",
            "seed": str(seed),
            "code": code_version(),
        },
        attribution={
            "strategy": pnl_by_strategy(book.engine.trades),
            "sector": pnl_by_sector(book.engine.trades, book.market.instruments),
            "costs": costs_by_component(book.engine.trades),
        },
        periods_per_year=periods_per_year(book.market.index, Interval.D1),
    )
    task.done()
    content = ReportContent(
        title="demo",
        run_id=run.run_id,
        code_version=code_version(),
        seed=seed,
        created=run.created.strftime("%Y-%m-%d %H:%M:%S"),
        caveats=caveats(config),
        verdicts=list(verdicts.values()),
        metrics=metrics_table,
        curves=[
            CurveSet("strategy", _equity_curve(strategy.backtest, capital)),
            CurveSet(
                "rules + ML (seed weights)",
                _equity_curve(
                    aggregate.engine.result.since(strategy.backtest.returns.index[0]), capital
                ),
            ),
            CurveSet("benchmark (equal weight)", _equity_curve(strategy.benchmark, capital), "dot"),
            CurveSet("control", _equity_curve(control.backtest, capital), "dash"),
        ],
        fold_auc={
            "strategy": pd.Series({f.test_start: f.test_auc for f in strategy.walk_forward.folds}),
            "control": pd.Series({f.test_start: f.test_auc for f in control.walk_forward.folds}),
        },
        data_rows=data_rows,
        config_yaml=yaml.safe_dump(dumped, sort_keys=False),
        warnings=warnings,
        links=[("Tear sheet of the strategy's book", TEARSHEET_FILENAME)],
        tables=[_component_table(aggregate)],
    )
    render_report(content, run.report)

    data = {
        "real": real.record,
        "strategy": _data_record(strategy_bars, "synthetic"),
        "control": _data_record(control_bars, "synthetic"),
    }
    summary = DemoSummary(
        run_id=run.run_id,
        command=run.command,
        created=run.created.isoformat(),
        config=dumped,
        seed=seed,
        data=data,
        code_version=code_version(),
        metrics=strategy.metrics,
        benchmark_metrics=strategy.benchmark_metrics,
        prediction_metrics=strategy_prediction,
        control=DemoSection(
            metrics=control.metrics,
            benchmark_metrics=control.benchmark_metrics,
            prediction_metrics=control_prediction,
        ),
        verdicts=verdicts,
        control_looks_like_chance=chance,
        control_gross_psr=gross_psr(control),
        warnings=warnings,
        report=str(run.report),
        rules_plus_ml=DemoAggregateSection(
            metrics=aggregate.metrics,
            pnl_by_component=aggregate.pnl_by_component(),
            weights=dict(DEMO_AGGREGATE.weights or {}),
            note=ML_NOTE,
        ),
    )
    write_result(run.summary, summary)
    write_result(
        run.manifest,
        RunManifest(
            command="demo",
            config=dumped,
            seed=seed,
            seeds={"strategy_market": seed, "control_market": seed + 1, "models": seed},
            data=data,
            store_manifest=dict(real.store_hashes),
            packages=package_versions(),
            code_version=code_version(),
            machine=machine_info(),
        ),
    )
    log.info("demo finished: %s", run.path)
    return DemoOutcome(run, summary)


def control_auc_threshold(oos_rows: float, horizon: int) -> float:
    """Return the AUC above which a control looks better than chance.

    Under the null an AUC on ``n`` balanced rows has standard error ``sqrt((n + 1) / 3) / n``;
    overlapping ``horizon``-bar labels leave about ``n / horizon`` independent rows, so the
    error is inflated by ``sqrt(horizon)``. The alarm sits three such errors (at least 0.02)
    above 0.5.
    """
    if oos_rows < 2:
        return 1.0
    se = math.sqrt((oos_rows + 1) / 3.0) / oos_rows * math.sqrt(horizon)
    return 0.5 + max(0.02, 3.0 * se)


def _equity_curve(result: BacktestResult, initial_capital: float) -> pd.Series:
    """Return equity stamped when it is known: the capital at the first open, then each
    period's closing equity at the next period's open (the last one a bar later)."""
    index = pd.DatetimeIndex(result.equity.index)
    if len(index) < 2:
        return result.equity
    ends = index[1:].append(pd.DatetimeIndex([index[-1] + (index[-1] - index[-2])]))
    stamps = pd.DatetimeIndex([index[0]]).append(ends)
    return pd.Series([initial_capital, *result.equity.to_numpy()], index=stamps, name="equity")


def _control_warnings(control: StrategyRun, horizon: int) -> list[str]:
    warnings = []
    # Before costs: the cost drag of a busy control would otherwise hide a leak.
    psr = probabilistic_sharpe_ratio(control.backtest.gross_returns.to_numpy())
    auc = control.prediction_metrics.get("auc", float("nan"))
    threshold = control_auc_threshold(control.prediction_metrics.get("labelled_rows", 0.0), horizon)
    if psr > 0.95:
        warnings.append(
            f"LEAKAGE ALARM: the random-walk control has a gross-of-costs PSR of {psr:.3f} > 0.95. "
            "Treat every result of this run as suspect."
        )
    if auc > threshold:
        warnings.append(
            f"LEAKAGE ALARM: the control's out-of-sample AUC is {auc:.3f}, above the "
            f"{threshold:.3f} that chance allows."
        )
    return warnings


__all__ = [
    "CONTROL_PREFIX",
    "DEMO_PRESETS",
    "DemoOutcome",
    "control_verdict",
    "demo_config",
    "edge_ratio",
    "gross_psr",
    "oracle_auc",
    "oracle_scores",
    "run_demo",
    "strategy_verdict",
    "synthetic_spec",
]
