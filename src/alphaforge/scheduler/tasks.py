"""The task registry: the job table's task names mapped to the stages' public functions.

Five tasks are the research pipeline's and live here:

``data_refresh``
    The store update ``alphaforge data fetch`` runs (:func:`alphaforge.data.update.update_many`,
    incremental, behind the health gate) for the scheduler's universe.
``data_health``
    The stored series' validation reports through :func:`alphaforge.data.health.health_gate`.
``features``
    The feature store build of ``alphaforge features build`` (only new bars are computed).
``retrain``
    Per model of ``train.models``: the pending challenger (a version registered after the
    champion) is tested by :func:`alphaforge.pipeline.lifecycle.challenge`, which promotes it
    only when it wins; then :func:`~alphaforge.pipeline.lifecycle.update` registers a new
    candidate (``only_if_drifted`` when ``scheduler.retrain`` is ``drift``). A candidate is
    therefore challenged on a later night, once periods it has not seen exist. Not enough data
    yet (a ``DataError``) is reported in the run's message, not as a failure.
``recent_backtest``
    :func:`alphaforge.pipeline.backtest_run.run_backtest_command` on the last
    ``scheduler.recent_backtest_days`` days (scored by the champion when the strategy trades
    scores); the run folder goes under ``run.runs_dir``.

The other tasks belong to the trading node (signals, the 09:15 notification, the execution
window, monitoring, end of day, reports): the caller passes them in a :class:`LiveTasks`, so the
registry is complete or refused when built (:class:`TradingScheduler` checks every job's task).

Heavy stages are imported inside the tasks, so importing the scheduler stays light.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from alphaforge.config import AppConfig
from alphaforge.core.errors import ConfigError, DataError
from alphaforge.core.types import Instrument, Interval
from alphaforge.data.universe import UniverseMember, load_universe
from alphaforge.scheduler.runs import JobContext, Task

__all__ = [
    "PIPELINE_TASKS",
    "LiveTasks",
    "build_features",
    "check_health",
    "recent_backtest",
    "refresh_data",
    "retrain",
    "task_registry",
]

#: Default look-back of a refresh from an online source with no ``data.start`` (as the CLI).
_LOOK_BACK_YEARS = 10
#: Most symbols named in a one-line failure message.
_NAMED = 5


def _members(config: AppConfig) -> tuple[str, list[UniverseMember]]:
    name = config.scheduler.universe or config.train.universe
    if name == "synthetic":
        raise ConfigError(
            "The scheduler has no universe to refresh (train.universe is synthetic).",
            hint="Set scheduler.universe (or train.universe) to a universe of stored bars.",
        )
    universe = load_universe(name)
    return universe.name, list(universe.members)


def _interval(config: AppConfig, member: UniverseMember) -> Interval:
    return Interval(member.interval or config.data.interval)


def _failures(what: str, errors: Mapping[str, str], total: int) -> DataError:
    named = "; ".join(f"{s}: {e}" for s, e in list(errors.items())[:_NAMED])
    more = f" (and {len(errors) - _NAMED} more)" if len(errors) > _NAMED else ""
    return DataError(
        f"{what} failed for {len(errors)} of {total} series: {named}{more}.",
        hint="See the run log; the other series were processed.",
    )


def _refresh_start(config: AppConfig, today: date) -> date:
    from alphaforge.data.service import SAMPLE_START

    if config.data.start is not None:
        return config.data.start
    if config.data.source == "sample":
        return SAMPLE_START
    try:
        return today.replace(year=today.year - _LOOK_BACK_YEARS)
    except ValueError:  # 29 February
        return today.replace(year=today.year - _LOOK_BACK_YEARS, day=28)


def refresh_data(config: AppConfig, context: JobContext) -> str:
    """Fetch what the store lacks for the scheduler's universe (as ``data fetch`` does).

    The range ends on the run's UTC date (or ``data.end``); each member keeps its own interval.
    Raises :class:`DataError` naming the failed series when any failed (the others are stored).
    """
    from alphaforge.data.service import make_validator
    from alphaforge.data.sources import create_source
    from alphaforge.data.update import update_many
    from alphaforge.storage import BarStore

    _, members = _members(config)
    today = context.scheduled_for.date()
    end = config.data.end or today
    start = _refresh_start(config, today)
    store = BarStore(config.data.store_dir)
    source = create_source(config.data.source, config.data, config.secrets)
    validate = make_validator(
        config.validation_rules,
        min_health_score=config.data.min_health_score,
        allow_unhealthy=config.data.allow_unhealthy,
    )
    by_interval: dict[Interval, list[Instrument]] = {}
    for member in members:
        by_interval.setdefault(_interval(config, member), []).append(member.instrument)
    errors: dict[str, str] = {}
    new_rows = refreshed = 0
    for interval, instruments in by_interval.items():
        outcome = update_many(store, source, instruments, interval, start, end, validate=validate)
        errors.update(outcome.errors)
        refreshed += len(outcome.results)
        new_rows += sum(r.new_rows for r in outcome.results.values())
    if errors:
        raise _failures(f"Refresh from {source.name}", errors, len(members))
    return f"{refreshed} series refreshed from {source.name}: {new_rows} new bars"


def check_health(config: AppConfig, context: JobContext) -> str:
    """Check every stored series of the universe against ``data.min_health_score``.

    Raises :class:`DataError` for members with no stored bars and
    :class:`~alphaforge.core.errors.DataHealthError` (from the health gate) for unhealthy ones.
    """
    from alphaforge.data.health import health_gate
    from alphaforge.data.validation import ValidationReport, validate_bars
    from alphaforge.storage import BarStore

    _, members = _members(config)
    store = BarStore(config.data.store_dir)
    reports: dict[str, ValidationReport] = {}
    missing: dict[str, str] = {}
    for member in members:
        interval = _interval(config, member)
        asset = member.instrument.asset_class
        entry = store.entry(member.symbol, interval, asset_class=asset)
        if entry is None:
            missing[member.symbol] = f"no {interval.value} bars stored"
            continue
        if entry.validation:
            reports[member.symbol] = ValidationReport.from_dict(entry.validation)
        else:
            bars = store.read(member.symbol, interval, asset_class=asset)
            reports[member.symbol] = validate_bars(bars, member.instrument, interval)[1]
    if missing:
        raise _failures("Health check", missing, len(members))
    warnings = health_gate(
        reports, config.data.min_health_score, allow_unhealthy=config.data.allow_unhealthy
    )
    worst = min((r.health_score for r in reports.values()), default=1.0)
    note = f"; {len(warnings)} allowed by override" if warnings else ""
    return f"{len(reports)} series healthy (lowest score {worst:.2f}){note}"


def build_features(config: AppConfig, context: JobContext) -> str:
    """Bring the feature store up to date for the universe (``alphaforge features build``).

    Per-symbol features of ``features.names`` (None: every applicable one) for each stored
    member; panel features when two or more members are stored. Raises :class:`DataError`
    naming the series that failed (the others are stored).
    """
    from alphaforge.core.errors import AlphaForgeError
    from alphaforge.features import FEATURES, PANEL_FEATURES
    from alphaforge.features.store import FeatureStore
    from alphaforge.storage import BarStore

    universe, members = _members(config)
    names = config.features.names
    wanted = None if names is None else [n for n in names if n in FEATURES]
    wanted_panel = None if names is None else [n for n in names if n in PANEL_FEATURES]
    bar_store = BarStore(config.data.store_dir)
    feature_store = FeatureStore(config.data.store_dir)
    errors: dict[str, str] = {}
    built: dict[Interval, dict[str, tuple[Instrument, pd.DataFrame]]] = {}
    computed = 0
    for member in members:
        interval = _interval(config, member)
        asset = member.instrument.asset_class
        try:
            bars = bar_store.read(member.symbol, interval, asset_class=asset)
            if wanted is None or wanted:
                stats = feature_store.ensure(
                    member.symbol, interval, bars, wanted, member.instrument
                )
                computed += stats.computed
            built.setdefault(interval, {})[member.symbol] = (member.instrument, bars)
        except AlphaForgeError as exc:
            errors[member.symbol] = exc.one_line()
    panels = 0
    if wanted_panel is None or wanted_panel:
        for interval, series in built.items():
            if len(series) < 2:
                continue
            try:
                feature_store.update_panel(
                    universe,
                    interval,
                    {s: b for s, (_, b) in series.items()},
                    wanted_panel,
                    {s: i for s, (i, _) in series.items()},
                )
                panels += 1
            except (AlphaForgeError, ValueError) as exc:
                text = exc.one_line() if isinstance(exc, AlphaForgeError) else str(exc)
                errors[f"panel {interval.value}"] = text
    if errors:
        raise _failures("Feature build", errors, len(members))
    count = sum(map(len, built.values()))
    return f"features of {count} series ({computed} rows computed), {panels} panel(s)"


def retrain(config: AppConfig, context: JobContext) -> str:
    """Challenge each model's pending candidate, then register a new one (see module text)."""
    from alphaforge.models.registry_store import ModelRegistry
    from alphaforge.pipeline.lifecycle import challenge, update
    from alphaforge.pipeline.registration import registry_root

    root = registry_root(config)
    if not (root / "registry.sqlite").exists():
        raise ConfigError(
            f"No model registry in {root} to retrain from.",
            hint="Run alphaforge train first (with the same data.store_dir).",
        )
    only_if_drifted = config.scheduler.retrain == "drift"
    notes: list[str] = []
    for model in config.train.models:
        name = f"{config.train.experiment}.{model}"
        with ModelRegistry(root) as registry:
            versions = registry.list(name)
        champions = [v.version for v in versions if v.stage == "champion"]
        pending = [
            v for v in versions if champions and v.version > champions[0] and v.stage != "retired"
        ]
        if pending:
            try:
                result = challenge(config, name)
                verdict = "promoted" if result.promoted else "kept the champion"
                notes.append(f"{name}: v{result.challenger.version} {verdict}")
            except DataError as exc:
                notes.append(f"{name}: challenge waits for data ({exc.message})")
        try:
            updated = update(config, name, only_if_drifted=only_if_drifted)
        except DataError as exc:
            notes.append(f"{name}: update waits for data ({exc.message})")
            continue
        if updated.new is None:
            notes.append(f"{name}: {updated.skipped}")
        else:
            notes.append(f"{name}: candidate v{updated.new.version} registered")
    return "; ".join(notes)


def recent_backtest(config: AppConfig, context: JobContext) -> str:
    """Backtest the configured strategy on the recent period; return the run folder."""
    from alphaforge.pipeline.backtest_run import run_backtest_command
    from alphaforge.strategies import create_strategy

    today = context.scheduled_for.date()
    start = today - timedelta(days=config.scheduler.recent_backtest_days)
    recent = config.model_copy(
        update={"backtest": config.backtest.model_copy(update={"start": start, "end": today})}
    )
    champion = None
    if "scores" in create_strategy(config.strategy).needs:
        champion = f"{config.train.experiment}.{config.train.models[0]}"
    outcome = run_backtest_command(recent, champion=champion)
    folder: Path = outcome.run.path
    return f"backtest {start}..{today} written to {folder}"


#: The pipeline's tasks, by name.
PIPELINE_TASKS: dict[str, Task] = {
    "data_refresh": refresh_data,
    "data_health": check_health,
    "features": build_features,
    "retrain": retrain,
    "recent_backtest": recent_backtest,
}


@dataclass(frozen=True, slots=True)
class LiveTasks:
    """The trading node's tasks, passed in by the caller (``trade run``).

    Each is a :data:`~alphaforge.scheduler.runs.Task`: ``(config, context) -> summary``.
    """

    signals: Task
    """Next-session signals (nightly, then refreshed at 09:00 on market days)."""
    notify_signals: Task
    """09:15: send the day's planned orders to the notifier."""
    execute: Task
    """The execution window at the open (09:30-09:45): submit the day's orders."""
    monitor: Task
    """Every 5 minutes in market hours: positions, stops, breakers, reconciliation."""
    end_of_day: Task
    """Close - 15 min (15:45; 12:45 on early closes): end-of-day analysis."""
    report: Task
    """Close + 30 min (16:30) and the nightly chain's end: the daily report."""


def task_registry(live: LiveTasks, extra: Mapping[str, Task] | None = None) -> dict[str, Task]:
    """Return the full registry: the pipeline's tasks, the node's, then ``extra`` (overrides)."""
    registry = dict(PIPELINE_TASKS)
    registry.update({f.name: getattr(live, f.name) for f in fields(live)})
    registry.update(extra or {})
    return registry
