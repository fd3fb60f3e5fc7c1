"""The pipeline's scheduled tasks on a temporary store fed by the offline sample source."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from alphaforge.config import AppConfig
from alphaforge.config.data import DataConfig
from alphaforge.config.features import FeaturesConfig
from alphaforge.config.live import SchedulerConfig
from alphaforge.config.run import RunConfig
from alphaforge.config.trading import BacktestConfig, StrategyConfig
from alphaforge.core.clock import SimulatedClock
from alphaforge.core.errors import ConfigError, DataError
from alphaforge.core.types import Interval
from alphaforge.features.store import FeatureStore
from alphaforge.scheduler import DEFAULT_JOBS, JobContext, TradingScheduler, default_jobs
from alphaforge.scheduler.runs import MemoryJobRunStore
from alphaforge.scheduler.tasks import (
    PIPELINE_TASKS,
    LiveTasks,
    build_features,
    check_health,
    recent_backtest,
    refresh_data,
    retrain,
    task_registry,
)
from alphaforge.storage import BarStore

UNIVERSE = """\
name: pair
as_of: 2018-01-02
source: written by the test
defaults: {asset_class: stock, calendar: XNYS}
members:
  - {symbol: KO}
  - {symbol: PEP}
"""
WHEN = pd.Timestamp("2024-11-29 07:00", tz="UTC")


class _Quiet:
    def notify(self, level: object, source: str, message: str) -> None:
        pass


def _context(job: str = "nightly_refresh") -> JobContext:
    return JobContext(job, WHEN, SimulatedClock(WHEN), _Quiet())


def _config(tmp_path: Path, members: str = UNIVERSE, file: str = "pair.yaml") -> AppConfig:
    universe = tmp_path / file
    universe.write_text(members, encoding="utf-8")
    return AppConfig(
        data=DataConfig(source="sample", store_dir=tmp_path / "store"),
        features=FeaturesConfig(names=["ret_log_1", "sma_20"]),
        scheduler=SchedulerConfig(universe=str(universe)),
    )


def test_refresh_health_and_features_run_on_the_store(tmp_path: Path) -> None:
    config = _config(tmp_path)
    first = refresh_data(config, _context())
    assert first.startswith("2 series refreshed from sample:") and "0 new bars" not in first
    store = BarStore(config.data.store_dir)
    assert {e.key.symbol for e in store.entries()} == {"KO", "PEP"}
    assert refresh_data(config, _context()).endswith(": 0 new bars")  # incremental
    assert check_health(config, _context("nightly_health")).startswith("2 series healthy")
    summary = build_features(config, _context("nightly_features"))
    assert summary.startswith("features of 2 series")
    features = FeatureStore(config.data.store_dir).read("KO", Interval.D1, ["ret_log_1", "sma_20"])
    assert {"ret_log_1", "sma_20"} <= set(features.columns)
    assert "(0 rows computed)" in build_features(config, _context("nightly_features"))


def test_health_names_members_without_bars(tmp_path: Path) -> None:
    config = _config(tmp_path, UNIVERSE + "  - {symbol: PG}\n", file="three.yaml")
    refresh_config = _config(tmp_path)
    refresh_data(refresh_config, _context())
    with pytest.raises(DataError, match=r"Health check failed for 1 of 3 series: PG: no 1d bars"):
        check_health(config, _context("nightly_health"))


def test_a_synthetic_universe_has_nothing_to_refresh() -> None:
    with pytest.raises(ConfigError, match="no universe to refresh"):
        refresh_data(AppConfig(), _context())


def test_retrain_without_a_registry_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="No model registry"):
        retrain(_config(tmp_path), _context("nightly_retrain"))


def test_the_registry_covers_every_job_once_the_node_tasks_are_given() -> None:
    def node_task(config: AppConfig, context: JobContext) -> str:
        return context.job

    live = LiveTasks(
        signals=node_task,
        notify_signals=node_task,
        execute=node_task,
        monitor=node_task,
        end_of_day=node_task,
        report=node_task,
    )
    registry = task_registry(live)
    assert {j.task for j in DEFAULT_JOBS} == set(registry)
    assert all(registry[name] is PIPELINE_TASKS[name] for name in PIPELINE_TASKS)
    for retrain_policy in ("weekly", "drift", "off"):
        config = AppConfig(scheduler=SchedulerConfig(retrain=retrain_policy))
        jobs = default_jobs(config.scheduler)
        TradingScheduler(config, registry, MemoryJobRunStore(), _Quiet(), jobs=jobs)


def test_recent_backtest_covers_the_last_days_before_the_run(tmp_path: Path) -> None:
    base = _config(tmp_path)
    refresh_data(base, _context())
    config = base.model_copy(
        update={
            "strategy": StrategyConfig(name="ma_crossover"),
            "backtest": BacktestConfig(symbols=["KO", "PEP"]),
            "run": RunConfig(runs_dir=tmp_path / "runs"),
            "scheduler": base.scheduler.model_copy(update={"recent_backtest_days": 200}),
        }
    )
    when = pd.Timestamp("2015-06-30 08:30", tz="UTC")
    summary = recent_backtest(config, JobContext("b", when, SimulatedClock(when), _Quiet()))
    assert summary.startswith("backtest 2014-12-12..2015-06-30 written to ")
    folder = Path(summary.rsplit(" ", 1)[1])
    assert folder.parent == tmp_path / "runs" and (folder / "equity.parquet").exists()
    equity = pd.read_parquet(folder / "equity.parquet")
    stamps = pd.DatetimeIndex(equity["timestamp"])
    assert (stamps.min().date(), stamps.max().date()) == (date(2014, 12, 12), date(2015, 6, 30))
