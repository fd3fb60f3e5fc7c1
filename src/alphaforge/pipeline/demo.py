"""The demo: the whole research pipeline, offline, on bundled real data and a synthetic market.

Real series shipped inside packages (S&P 500, NASDAQ, GOOG, EURUSD hourly, BTCUSD monthly,
VIX, WTI) are loaded into the store, validated and health-scored. No package ships a real
cross-section with full OHLCV, so the strategy is trained on a synthetic equity cross-section
with a planted signal of stated strength; the control runs the identical pipeline on a random
walk. The report labels every series real or synthetic.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd
import yaml

from alphaforge.backtest import BacktestResult, CurveSet, DataRow, ReportContent, render_report
from alphaforge.config import AppConfig, masked_dump
from alphaforge.core.bars import content_hash
from alphaforge.core.progress import SILENT, Reporter
from alphaforge.core.types import AssetClass, Interval
from alphaforge.data.service import load_sample_universe, validate_market
from alphaforge.data.synthetic import SyntheticSpec, generate_market, random_walk_market
from alphaforge.data.validation import ValidationReport
from alphaforge.pipeline.research import (
    StrategyRun,
    check_model_labels,
    prepare_training_data,
    run_strategy,
)
from alphaforge.pipeline.rundir import (
    RunDir,
    attach_log,
    code_version,
    create_run_dir,
    detach_log,
    machine_info,
    package_versions,
    write_json,
)
from alphaforge.storage import BarStore
from alphaforge.validation import probabilistic_sharpe_ratio

log = logging.getLogger(__name__)


def caveats(config: AppConfig) -> tuple[str, ...]:
    """Return the warnings every demo report opens with."""
    return (
        "No strategy is promised to make money. These numbers are measured out of sample, net "
        "of the stated costs, on the data listed below; past performance does not predict the "
        "future.",
        "The strategy universe is SYNTHETIC: no installed package ships a real cross-section "
        "with full OHLCV. Its planted signal explains "
        f"{config.demo.signal_strength:.1%} of daily return variance (demo.signal_strength); "
        "the control column is the same pipeline on a random walk and must look like chance.",
    )


@dataclass(frozen=True, slots=True)
class DemoOutcome:
    """Where the demo wrote its results, and the headline numbers."""

    run: RunDir
    summary: dict[str, Any]


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


def _strategy_section(run: StrategyRun) -> dict[str, Any]:
    return {
        "metrics": run.metrics,
        "benchmark_metrics": run.benchmark_metrics,
        "prediction_metrics": run.prediction_metrics,
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
    control_market = random_walk_market(spec, seed + 1)
    # Only the series the models train on are gated; the others are shown with their scores.
    strategy_data = prepare_training_data(market.bars, market.instruments, Interval.D1, config)
    control_data = prepare_training_data(
        control_market.bars, control_market.instruments, Interval.D1, config
    )
    strategy_bars, strategy_reports = strategy_data.bars, strategy_data.reports
    control_bars, control_reports = control_data.bars, control_data.reports
    crypto_spec = SyntheticSpec(
        n_symbols=3,
        start=date(2019, 1, 1),
        end=date(2019, 1, 14),
        interval=Interval.M5,
        asset_class=AssetClass.CRYPTO,
    )
    crypto = generate_market(crypto_spec, seed)
    crypto_bars, crypto_reports = validate_market(
        crypto.bars, crypto.instruments, crypto_spec.interval, config
    )
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

    data_rows = (
        _data_rows(real.bars, real.reports, "real", real.origins)
        + _data_rows(
            strategy_bars, strategy_reports, "synthetic", "strategy universe (planted signal)"
        )
        + _data_rows(control_bars, control_reports, "synthetic", "control universe (random walk)")
        + _data_rows(crypto_bars, crypto_reports, "synthetic", "intraday crypto coverage (5m)")
    )
    metrics_table = {
        "strategy": strategy.metrics | strategy.prediction_metrics,
        "benchmark (equal weight)": strategy.benchmark_metrics,
        "control": control.metrics | control.prediction_metrics,
        "control benchmark": control.benchmark_metrics,
    }
    dumped = masked_dump(config)
    capital = config.backtest.initial_capital
    content = ReportContent(
        title="demo",
        run_id=run.run_id,
        code_version=code_version(),
        seed=seed,
        created=run.created.strftime("%Y-%m-%d %H:%M:%S"),
        caveats=caveats(config),
        metrics=metrics_table,
        curves=[
            CurveSet("strategy", _equity_curve(strategy.backtest, capital)),
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
    )
    render_report(content, run.report)

    data = {
        "real": real.record,
        "strategy": _data_record(strategy_bars, "synthetic"),
        "control": _data_record(control_bars, "synthetic"),
        "crypto_intraday": _data_record(crypto_bars, "synthetic"),
    }
    summary: dict[str, Any] = {
        "run_id": run.run_id,
        "command": run.command,
        "created": run.created.isoformat(),
        "config": dumped,
        "seed": seed,
        "data": data,
        "code_version": code_version(),
        "metrics": strategy.metrics,
        "benchmark_metrics": strategy.benchmark_metrics,
        "prediction_metrics": strategy.prediction_metrics,
        "control": _strategy_section(control),
        "warnings": warnings,
        "report": str(run.report),
    }
    write_json(run.summary, summary)
    write_json(
        run.manifest,
        {
            "command": "demo",
            "config": dumped,
            "seed": seed,
            "seeds": {"strategy_market": seed, "control_market": seed + 1, "models": seed},
            "data": data,
            "store_manifest": dict(real.store_hashes),
            "packages": package_versions(),
            "code_version": code_version(),
            "machine": machine_info(),
        },
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


__all__ = ["DemoOutcome", "run_demo", "synthetic_spec"]
