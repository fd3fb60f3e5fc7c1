"""The registered models' life after training: champion/challenger tests and online updates.

``alphaforge models challenge NAME``
    Trades the champion and a challenger of one registry name on the same periods that
    neither has trained on, and promotes the challenger only when it wins by the reality
    check of :mod:`alphaforge.models.champion`. The decision and its numbers are recorded
    whatever it is.

``alphaforge models update NAME``
    Adds boosting rounds to the champion, fitted on the rows whose label resolved after its
    training data ended, and registers the result as a new *candidate*: an update is a
    challenger like any retrained model, compared once data after its own training arrives.
    A feature-drift report (PSI) comes with it; ``only_if_drifted`` makes drift the trigger.

Time
    Bars are stamped at their open (UTC). A registered ``data_end`` is the open time of the
    last training row; that row's label resolves ``labels.horizon`` bars later, and training
    is followed by the walk-forward embargo. A comparison period therefore counts only when
    it lies more than ``horizon + embargo`` bars (on the universe's bar grid) after *both*
    models' ``data_end``, and starts after the last label of a row stamped at or before
    ``data_end`` has ended plus the embargo (which also holds when calendars differ within
    the universe): neither model has seen its features, its label, or any label that
    overlaps it. Each version's horizon and embargo are the ones it was registered with; the
    configuration's labels must define the same target (else a ConfigError). Scores of those
    bars are traded by the configured top-k book with costs (a score at bar t fills at t+1's
    open), and the two books' per-period net returns are what the test compares. A sequence
    model is scored on its trailing windows, which may reach back before the first compared
    bar (those features are known at the decision time).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from alphaforge.backtest import performance
from alphaforge.config import AppConfig
from alphaforge.core.errors import ConfigError, DataError
from alphaforge.core.progress import SILENT, Reporter
from alphaforge.core.types import Instrument, Interval
from alphaforge.data.events import read_events
from alphaforge.models.calibration import CalibratedModel
from alphaforge.models.champion import (
    ChampionDecision,
    check_unseen,
    compare_champion_challenger,
    record_decision,
)
from alphaforge.models.dataset import Panel, build_panel, fold_weigher, with_catalysts
from alphaforge.models.deep.windows import trailing_positions
from alphaforge.models.drift import DriftReport
from alphaforge.models.online import continue_training, n_trees
from alphaforge.models.registry_store import ModelRegistry, ModelVersion, PromotionRecord
from alphaforge.models.scoring import aligned_proba, class_score
from alphaforge.pipeline.predict import feature_drift, fitted_lookback
from alphaforge.pipeline.registration import QUANTILE_KIND, check_labels_match, registry_root
from alphaforge.pipeline.research import (
    backtest_scores,
    embargo_bars,
    periods_per_year,
    prepare_training_data,
)
from alphaforge.pipeline.results import TrainingRecord, training_record
from alphaforge.pipeline.rundir import code_version
from alphaforge.pipeline.sequences import window_design
from alphaforge.pipeline.train import load_panel_inputs, load_training_universe
from alphaforge.validation.splits import default_embargo_bars

__all__ = [
    "MIN_PERIODS",
    "MIN_UPDATE_ROWS",
    "ChallengeResult",
    "ChampionScores",
    "UpdateResult",
    "challenge",
    "champion_scores",
    "gap_bars",
    "update",
]

#: Fewest unseen periods (bars) the champion/challenger test is run on.
MIN_PERIODS = 20
#: Fewest new resolved rows (bars x symbols) an online update fits on: a handful of rows would
#: only add trees fitted to noise (and LightGBM needs ``min_child_samples`` rows per leaf).
MIN_UPDATE_ROWS = 200
#: Backtest metrics shown beside the test's per-period numbers.
_SHOWN = ("sharpe", "cagr", "total_return", "max_drawdown", "turnover", "periods")


@dataclass(frozen=True, slots=True)
class ChallengeResult:
    """One champion/challenger comparison on unseen periods and the recorded decision.

    ``first_period`` / ``last_period`` are the open times of the first and last holding
    periods compared (the first is the bar after the first scored bar, which lies more than
    ``gap_bars``, the label horizon plus the embargo, after both models' training data).
    The metrics are the top-k book's on those periods (annualised, costs on).
    """

    name: str
    champion: ModelVersion
    challenger: ModelVersion
    decision: ChampionDecision
    record: PromotionRecord
    first_period: pd.Timestamp
    last_period: pd.Timestamp
    gap_bars: int
    champion_metrics: dict[str, float]
    challenger_metrics: dict[str, float]
    looks: int = 1
    """This test's number among the tests of the same pair; alpha was divided by it."""

    @property
    def promoted(self) -> bool:
        """Whether the challenger became champion."""
        return self.decision.promote


@dataclass(frozen=True, slots=True)
class UpdateResult:
    """An online update of a champion, or why none was made.

    ``new`` is the registered candidate (``None`` when the update was skipped, with the reason
    in ``skipped``). ``first_row`` / ``last_row`` are the open times of the oldest and newest
    rows fitted on; ``rows`` counts them (bars x symbols).
    """

    name: str
    base: ModelVersion
    new: ModelVersion | None
    drift: DriftReport | None
    skipped: str | None
    rows: int
    first_row: pd.Timestamp | None
    last_row: pd.Timestamp | None
    rounds: int
    trees_before: int
    trees_after: int
    record: PromotionRecord | None


def gap_bars(config: AppConfig, version: ModelVersion | None = None) -> int:
    """Return the bars after a model's ``data_end`` that it may still have seen.

    The label horizon (its last training label resolves that many bars later) plus the
    walk-forward embargo: the version's own, as registered, else the configuration's.
    """
    record = _record(version) if version is not None else TrainingRecord()
    horizon = record.labels.horizon if record.labels is not None else config.labels.horizon
    walk = record.walk_forward
    if walk is not None:
        embargo = walk.embargo_bars
        return horizon + int(default_embargo_bars(horizon) if embargo is None else embargo)
    return horizon + int(embargo_bars(config))


def _record(version: ModelVersion) -> TrainingRecord:
    return training_record(version.config, what=f"{version.name} v{version.version}")


def _embargo(config: AppConfig, version: ModelVersion) -> int:
    labels = _record(version).labels
    horizon = labels.horizon if labels is not None else config.labels.horizon
    return gap_bars(config, version) - horizon


# --------------------------------------------------------------------------- shared steps
def _open_registry(config: AppConfig) -> ModelRegistry:
    root = registry_root(config)
    if not (root / "registry.sqlite").exists():
        raise ConfigError(
            f"No model registry in {root}.",
            hint="Run alphaforge train first (with the same data.store_dir).",
        )
    return ModelRegistry(root)


def _versions(registry: ModelRegistry, name: str) -> list[ModelVersion]:
    versions = registry.list(name)
    if not versions:
        known = sorted({v.name for v in registry.list()})
        listed = ", ".join(known[:10]) if known else "none yet"
        raise ConfigError(
            f"Model {name!r} is not in the registry (registered: {listed}).",
            hint="List the registered models with `alphaforge models list`.",
        )
    return versions


def _champion(versions: Sequence[ModelVersion], name: str) -> ModelVersion:
    champions = [v for v in versions if v.stage == "champion"]
    if not champions:
        raise ConfigError(
            f"Model {name!r} has no champion.",
            hint="Promote one by running alphaforge train, or compare two versions with "
            "`alphaforge models challenge`.",
        )
    return champions[-1]


def _load_panel(
    config: AppConfig, feature_names: Sequence[str]
) -> tuple[Panel, dict[str, pd.DataFrame], Interval, dict[str, Instrument]]:
    """Return the configured universe's panel (the config's labels, these features), its
    validated bars, their interval and the instruments."""
    raw, instruments, interval, _ = load_training_universe(config, config.run.seed)
    data = prepare_training_data(raw, instruments, interval, config)
    inputs = load_panel_inputs(config, data.bars, instruments, interval, feature_names)
    panel = build_panel(
        data.bars,
        interval,
        config.labels,
        list(feature_names),
        min_history=config.features.min_history,
        instruments=instruments,
        inputs=inputs.bars,
    )
    if config.labels.catalyst_file is not None:
        # Weighted like training, so an update's new rows weigh as the original ones did.
        panel = with_catalysts(
            panel,
            read_events(config.labels.catalyst_file),
            window_bars=config.labels.catalyst_window_bars,
            factor=config.labels.catalyst_weight,
        )
    return panel, data.bars, interval, dict(instruments)


def _bar_grid(panel: Panel) -> pd.DatetimeIndex:
    """Return the panel's bar open times, sorted and unique (UTC)."""
    grid = pd.DatetimeIndex(pd.unique(panel.timestamps)).sort_values()
    return grid.tz_localize("UTC") if grid.tz is None else grid.tz_convert("UTC")


def _first_unseen(grid: pd.DatetimeIndex, data_end: pd.Timestamp, gap: int) -> int:
    """Return the grid position of the first bar more than ``gap`` bars after ``data_end``.

    May equal or exceed ``len(grid)`` (no such bar yet).
    """
    last_trained = int(grid.searchsorted(data_end, side="right")) - 1
    return last_trained + gap + 1


def _after_labels(
    grid: pd.DatetimeIndex, panel: Panel, data_end: pd.Timestamp, embargo: int
) -> int:
    """Return the grid position of the first bar stamped at or after the last label end of
    the rows up to ``data_end``, moved on by ``embargo`` bars (a calendar-proof cut-off)."""
    stamps = pd.DatetimeIndex(panel.timestamps)
    stamps = stamps.tz_localize("UTC") if stamps.tz is None else stamps.tz_convert("UTC")
    ends = pd.DatetimeIndex(panel.end[stamps <= data_end]).dropna()
    if ends.empty:
        return 0
    last_end = ends.max()
    last_end = last_end.tz_localize("UTC") if last_end.tz is None else last_end.tz_convert("UTC")
    return int(grid.searchsorted(last_end, side="left")) + embargo


def _model_input(
    model: Any, panel: Panel, feature_names: Sequence[str], rows: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """Return the rows' inputs: feature rows, or a sequence model's trailing windows.

    A window ends at its row's bar and may reach back before the comparison periods (those
    bars' features are known at the row's decision time).
    """
    X = panel.X[list(feature_names)].to_numpy(np.float64)
    lookback = fitted_lookback(model)
    if lookback <= 1:
        return X[rows]
    symbols = panel.X.index.get_level_values("symbol").to_numpy()
    design = window_design(X, trailing_positions(symbols, lookback))
    return design(rows, np.arange(X.shape[1], dtype=np.int64))


def _hits(model: Any, panel: Panel, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """Return whether the model's most probable class was right on ``rows``, oldest first."""
    if len(rows) == 0:
        return np.zeros(0, dtype=bool)
    ordered = rows[np.argsort(panel.timestamps[rows], kind="stable")]
    names = list(panel.X.columns)
    proba = aligned_proba(model, _model_input(model, panel, names, ordered), panel.n_classes)
    right: npt.NDArray[np.bool_] = np.argmax(proba, axis=1) == panel.target.to_numpy()[ordered]
    return right


def _gap_time(grid: pd.DatetimeIndex, data_end: pd.Timestamp, gap: int) -> pd.Timedelta:
    """Return the time from ``data_end`` to the last bar within ``gap`` bars after it."""
    last_seen = _first_unseen(grid, data_end, gap) - 1
    return pd.Timedelta(grid[last_seen] - data_end) if last_seen >= 0 else pd.Timedelta(0)


def _ordered_union(*names: Sequence[str]) -> list[str]:
    out: list[str] = []
    for group in names:
        out.extend(n for n in group if n not in out)
    return out


# --------------------------------------------------------------------------- challenge
def challenge(
    config: AppConfig,
    name: str,
    *,
    challenger: int | None = None,
    alpha: float = 0.05,
    n_bootstrap: int = 2000,
    min_periods: int = MIN_PERIODS,
    reporter: Reporter = SILENT,
) -> ChallengeResult:
    """Compare the champion of ``name`` with a challenger on unseen periods; record the verdict.

    Parameters
    ----------
    config
        The configuration: its training universe supplies the data, its labels the horizon
        (and, for meta labels, the primary side), its portfolio and backtest the traded book.
    name
        Registry name, e.g. ``default.lightgbm``.
    challenger
        The challenger's version number; default: the newest version registered after the
        champion.
    alpha
        Level of the reality check: the challenger is promoted when its per-period Sharpe
        ratio is higher and ``p < alpha``.
    n_bootstrap
        Stationary-bootstrap resamples (seeded with ``config.run.seed``).
    min_periods
        Fewest unseen periods the test runs on.
    reporter
        Progress bars.

    Returns
    -------
    ChallengeResult
        The numbers and the recorded decision (the challenger is champion now when it won).

    Raises
    ------
    ConfigError
        No registry, unknown name, no champion, no (or a bad) challenger, bad ``alpha`` or
        ``n_bootstrap``.
    DataError
        Fewer than ``min_periods`` periods after both models' training data.
    """
    if not 0 < alpha < 1:
        raise ConfigError(f"--alpha must lie strictly between 0 and 1, got {alpha}.")
    if n_bootstrap < 1:
        raise ConfigError(f"--bootstrap must be a positive number of resamples, got {n_bootstrap}.")
    with _open_registry(config) as registry:
        versions = _versions(registry, name)
        champion = _champion(versions, name)
        if champion.kind == QUANTILE_KIND:
            # The test trades each version's class scores; a quantile model has none.
            raise ConfigError(
                f"{name} is a quantile regression of the forward return: the "
                "champion/challenger test compares classifiers' trading books.",
                hint=f"Compare its versions' pinball loss and coverage with "
                f"`alphaforge models show {name} --version N`.",
            )
        chall = _pick_challenger(versions, champion, name, challenger)
        for version in (champion, chall):
            check_labels_match(version, config.labels)
        gaps = {v.version: gap_bars(config, v) for v in (champion, chall)}
        gap = max(gaps.values())
        # Each earlier test of this pair was a look at the data: a challenger tried again and
        # again would win by chance alone, so alpha is divided by the number of looks.
        looks = 1 + sum(
            1
            for d in registry.decisions(name)
            if d.version == chall.version
            and d.previous_champion == champion.version
            and "p_value" in d.numbers
        )
        task = reporter.task(f"{name}: universe {config.train.universe}, features and labels")
        features = _ordered_union(champion.feature_names, chall.feature_names)
        panel, bars, interval, _ = _load_panel(config, features)
        task.done()

        grid = _bar_grid(panel)
        first = max(
            max(
                _first_unseen(grid, v.data_end, gaps[v.version]),
                _after_labels(grid, panel, v.data_end, _embargo(config, v)),
            )
            for v in (champion, chall)
        )
        # A score at bar t trades at t+1's open and is held to t+2's open: the first unseen
        # bar and the last bar start no holding period of their own.
        available = max(0, len(grid) - first - 2)
        if available < min_periods:
            latest = max(champion.data_end, chall.data_end)
            start = (
                f"from {grid[first].date()} on"
                if first < len(grid)
                else f"only {gap} bars after {latest.date()}, past the last bar ({grid[-1].date()})"
            )
            raise DataError(
                f"{name}: {available} period(s) after both models' training data (to "
                f"{latest.date()}, plus {config.labels.horizon} label and "
                f"{embargo_bars(config)} embargo bars); the test needs at least {min_periods}. "
                f"Data count {start}.",
                hint=f"Extend the data past {latest.date()} and run again.",
            )
        task = reporter.task(f"{name}: score v{champion.version} and v{chall.version}, backtest")
        stamps = pd.DatetimeIndex(panel.timestamps)
        stamps = stamps.tz_localize("UTC") if stamps.tz is None else stamps.tz_convert("UTC")
        rows = np.flatnonzero(stamps >= grid[first]).astype(np.int64)
        for version in (champion, chall):
            # The cut-off above, restated as a time gap: a bug there must not pass silently.
            check_unseen(
                stamps[rows], version, gap=_gap_time(grid, version.data_end, gaps[version.version])
            )
        returns: dict[str, pd.Series] = {}
        metrics: dict[str, dict[str, float]] = {}
        for role, version in (("champion", champion), ("challenger", chall)):
            model = registry.load(name, version.version, expected_features=version.feature_names)
            X = _model_input(model, panel, version.feature_names, rows)
            score = class_score(aligned_proba(model, X, panel.n_classes))
            scores = panel.trading_scores(pd.Series(score, index=panel.X.index[rows], name="score"))
            result, _ = backtest_scores(scores, bars, config)
            returns[role] = result.returns
            ppy = periods_per_year(result.returns.index, interval)
            perf = performance(result, ppy, config.backtest.initial_capital)
            metrics[role] = {k: float(perf[k]) for k in _SHOWN if k in perf}
        task.done()

        paired = pd.DataFrame(returns).dropna()
        if len(paired) < min_periods:
            raise DataError(
                f"{name}: the two books share only {len(paired)} holding period(s) after both "
                f"models' training data; the test needs at least {min_periods}.",
                hint="Extend the data and run again.",
            )
        task = reporter.task(f"{name}: reality check ({n_bootstrap} resamples)")
        decision = compare_champion_challenger(
            paired["champion"].to_numpy(np.float64),
            paired["challenger"].to_numpy(np.float64),
            alpha=alpha / looks,
            n_bootstrap=n_bootstrap,
            seed=config.run.seed,
            min_periods=min_periods,
        )
        record = record_decision(registry, name, chall.version, decision)
        task.done()
    return ChallengeResult(
        name=name,
        champion=champion,
        challenger=chall,
        decision=decision,
        record=record,
        first_period=pd.Timestamp(paired.index[0]),
        last_period=pd.Timestamp(paired.index[-1]),
        gap_bars=gap,
        champion_metrics=metrics["champion"],
        challenger_metrics=metrics["challenger"],
        looks=looks,
    )


@dataclass(frozen=True, slots=True)
class ChampionScores:
    """A champion's scores on bars it never saw, with the universe's bars."""

    scores: pd.Series
    bars: dict[str, pd.DataFrame]
    instruments: dict[str, Instrument]
    interval: Interval
    version: int
    first_scored: pd.Timestamp


def champion_scores(config: AppConfig, name: str, reporter: Reporter = SILENT) -> ChampionScores:
    """Score the universe with ``name``'s champion from its first unseen bar on.

    A bar is unseen when it lies more than the label horizon plus the embargo after the
    champion's ``data_end`` and at or after the last end of the labels it was trained on
    (:func:`check_unseen` re-checks it as a time gap). Raises ``DataError`` when no such bar
    exists yet.
    """
    with _open_registry(config) as registry:
        champion = _champion(_versions(registry, name), name)
        if champion.kind == QUANTILE_KIND:
            raise ConfigError(
                f"{name} is a quantile regression: it has no class scores to trade.",
                hint="Backtest a classifier's champion.",
            )
        check_labels_match(champion, config.labels)
        gap = gap_bars(config, champion)
        task = reporter.task(f"{name} v{champion.version}: features and labels", total=None)
        panel, bars, interval, instruments = _load_panel(config, champion.feature_names)
        task.done()
        grid = _bar_grid(panel)
        first = max(
            _first_unseen(grid, champion.data_end, gap),
            _after_labels(grid, panel, champion.data_end, _embargo(config, champion)),
        )
        if first >= len(grid) - 1:
            raise DataError(
                f"{name} v{champion.version} was trained on data to "
                f"{champion.data_end.date()}: no bar after it plus {gap} label and embargo "
                "bars is stored yet, so it has nothing unseen to trade.",
                hint="Fetch newer bars (alphaforge data fetch) and run again.",
            )
        stamps = pd.DatetimeIndex(panel.timestamps)
        stamps = stamps.tz_localize("UTC") if stamps.tz is None else stamps.tz_convert("UTC")
        rows = np.flatnonzero(stamps >= grid[first]).astype(np.int64)
        check_unseen(stamps[rows], champion, gap=_gap_time(grid, champion.data_end, gap))
        model = registry.load(name, champion.version, expected_features=champion.feature_names)
        X = _model_input(model, panel, champion.feature_names, rows)
        score = class_score(aligned_proba(model, X, panel.n_classes))
    scores = panel.trading_scores(pd.Series(score, index=panel.X.index[rows], name="score"))
    return ChampionScores(scores, bars, instruments, interval, champion.version, grid[first])


def _pick_challenger(
    versions: Sequence[ModelVersion], champion: ModelVersion, name: str, wanted: int | None
) -> ModelVersion:
    if wanted is None:
        later = [v for v in versions if v.version > champion.version and v.stage != "retired"]
        if not later:
            raise ConfigError(
                f"Model {name!r} has no version registered after its champion "
                f"v{champion.version} to challenge it.",
                hint="Train again (alphaforge train) or run `alphaforge models update` to "
                "register a challenger.",
            )
        return later[-1]
    found = [v for v in versions if v.version == wanted]
    if not found:
        numbers = ", ".join(str(v.version) for v in versions)
        raise ConfigError(
            f"Model {name!r} has no version {wanted} (versions: {numbers}).",
            hint="Pick a version from `alphaforge models list`.",
        )
    if found[0].version == champion.version:
        raise ConfigError(
            f"Version {wanted} of {name!r} is the champion; it cannot challenge itself.",
            hint="Pick another version with --challenger.",
        )
    return found[0]


# --------------------------------------------------------------------------- update
def update(
    config: AppConfig,
    name: str,
    *,
    rounds: int = 50,
    only_if_drifted: bool = False,
    reporter: Reporter = SILENT,
) -> UpdateResult:
    """Continue the champion's boosting on rows resolved since its training; register a candidate.

    Parameters
    ----------
    config
        The configuration: training universe, labels (target, horizon, sample weights).
    name
        Registry name of a LightGBM or XGBoost model, e.g. ``default.lightgbm``.
    rounds
        Boosting rounds to add.
    only_if_drifted
        Update only when the feature-drift check (PSI of the rows after the champion's
        training data against its training rows) advises retraining; otherwise return
        without registering anything (``skipped`` says why).
    reporter
        Progress bars.

    Returns
    -------
    UpdateResult
        The new candidate version (its ``data_end`` is the newest row fitted on; its metadata
        names the version it continued and the rows), the drift report, and the recorded
        decision (a candidate, never promoted here).

    Raises
    ------
    ConfigError
        No registry, unknown name, no champion, a champion that is not a (plain) LightGBM or
        XGBoost model, ``rounds < 1``.
    DataError
        Fewer than :data:`MIN_UPDATE_ROWS` resolved rows after the champion's training data,
        or they lack a class the model knows.
    """
    if rounds < 1:
        raise ConfigError(f"--rounds must be a positive number of boosting rounds, got {rounds}.")
    with _open_registry(config) as registry:
        champion = _champion(_versions(registry, name), name)
        check_labels_match(champion, config.labels)
        model = registry.load(name, champion.version, expected_features=champion.feature_names)
        trees_before = _boosted_trees(model, champion)
        task = reporter.task(f"{name}: universe {config.train.universe}, features and labels")
        panel, _, _, _ = _load_panel(config, champion.feature_names)
        task.done()

        by_symbol = {
            str(symbol): frame.droplevel("symbol")
            for symbol, frame in panel.X.groupby(level="symbol", sort=True)
        }
        stamps = pd.DatetimeIndex(panel.timestamps)
        stamps = stamps.tz_localize("UTC") if stamps.tz is None else stamps.tz_convert("UTC")
        resolved = panel.target.notna().to_numpy() & panel.end.notna().to_numpy()
        rows = np.flatnonzero(resolved & (stamps > champion.data_end)).astype(np.int64)
        drift = feature_drift(by_symbol, champion, hits=_hits(model, panel, rows))
        if only_if_drifted and (drift is None or not drift.should_retrain):
            why = (
                "too few bars after its training data to check drift"
                if drift is None
                else f"no feature drifted (PSI < {drift.psi_threshold})"
            )
            return UpdateResult(
                name=name,
                base=champion,
                new=None,
                drift=drift,
                skipped=f"not updated: {why}",
                rows=0,
                first_row=None,
                last_row=None,
                rounds=rounds,
                trees_before=trees_before,
                trees_after=trees_before,
                record=None,
            )

        if len(rows) < MIN_UPDATE_ROWS:
            raise DataError(
                f"{name}: {len(rows)} row(s) with a resolved label after v{champion.version}'s "
                f"training data (to {champion.data_end.date()}); an update needs at least "
                f"{MIN_UPDATE_ROWS}.",
                hint="Extend the data (a label resolves "
                f"{config.labels.horizon} bars after its bar) and run again.",
            )
        weigh = fold_weigher(
            panel,
            half_life_days=config.labels.weight_half_life_days,
            uniqueness_weights=config.labels.uniqueness_weights,
        )
        X = panel.X.iloc[rows][list(champion.feature_names)].to_numpy(np.float64)
        y = panel.target.to_numpy(np.float64)[rows]
        weights = weigh(rows) if weigh is not None else None
        task = reporter.task(f"{name}: {rounds} more rounds on {len(rows)} rows")
        try:
            updated = continue_training(model, X, y, rounds, sample_weight=weights)
        except ValueError as exc:
            raise DataError(
                f"{name}: cannot continue training on the new rows: {exc}",
                hint="Wait for more data, or retrain with alphaforge train.",
            ) from exc
        task.done()
        trees_after = n_trees(updated)
        first_row, last_row = stamps[rows].min(), stamps[rows].max()
        symbols = panel.X.index.get_level_values("symbol")[rows]
        online: dict[str, Any] = {
            "continued_from": champion.version,
            "rounds": rounds,
            "trees_before": trees_before,
            "trees_after": trees_after,
            "rows": len(rows),
            "first_row": first_row.isoformat(),
            "last_row": last_row.isoformat(),
            "row_rule": "label resolved and bar after the base version's data_end",
            "labels": config.labels.model_dump(mode="json"),
            "drifted_features": list(drift.drifted_features) if drift is not None else None,
        }
        new = registry.register(
            updated,
            name=name,
            kind=champion.kind,
            feature_names=list(champion.feature_names),
            feature_set_version=champion.feature_set_version,
            data_start=champion.data_start,
            data_end=last_row,
            symbols=sorted(set(champion.symbols) | {str(s) for s in symbols}),
            label=champion.label,
            splitter=f"online update of v{champion.version} ({champion.splitter})",
            metrics={
                "update_rows": float(len(rows)),
                "trees": float(trees_after),
                "trees_added": float(trees_after - trees_before),
            },
            seed=champion.seed,
            code_version=code_version(),
            config=_with_online(champion.config, online),
        )
        record = registry.promote(
            name,
            new.version,
            reason=(
                f"candidate: compare with `alphaforge models challenge {name}` once data "
                "after its training has arrived"
            ),
            numbers={
                "continued_from": champion.version,
                "rows": len(rows),
                "rounds": rounds,
                "trees_after": trees_after,
            },
            promoted=False,
        )
    return UpdateResult(
        name=name,
        base=champion,
        new=new,
        drift=drift,
        skipped=None,
        rows=len(rows),
        first_row=first_row,
        last_row=last_row,
        rounds=rounds,
        trees_before=trees_before,
        trees_after=trees_after,
        record=record,
    )


def _boosted_trees(model: Any, version: ModelVersion) -> int:
    """Return the trees the champion predicts with (its best iteration, which an update
    continues from), or refuse a model online updates cannot extend."""
    hint = "Retrain it with alphaforge train; online updates extend LightGBM and XGBoost models."
    if isinstance(model, CalibratedModel):
        raise ConfigError(
            f"{version.name} v{version.version} is calibrated (train.calibrate): adding trees "
            "would invalidate the calibration fitted on its validation block.",
            hint=hint,
        )
    try:
        total = n_trees(model)
    except TypeError:
        raise ConfigError(
            f"{version.name} v{version.version} is a {version.kind} model, not a boosting "
            "model: it cannot be updated online.",
            hint=hint,
        ) from None
    return min(int(getattr(model, "best_iteration_", 0) or total), total)


def _with_online(config: Mapping[str, Any], online: Mapping[str, Any]) -> dict[str, Any]:
    record = training_record(config, what="the champion")
    update = {
        k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in online.items()
    }
    return record.model_copy(update={"online_update": update}).model_dump(mode="json")
