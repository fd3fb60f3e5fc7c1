"""Live scoring: the registry's champions score the node's bar windows, as ``predict`` does.

``live`` sits below ``pipeline``, so the node never calls ``pipeline/predict.py``; it shares
that command's core instead. :class:`LiveScorer` picks the champions of ``train.models``
(experiment ``train.experiment``) from ``<data.store_dir>/models`` with
:func:`~alphaforge.models.scoring.load_champions`, computes their features on the node's
accepted windows with the code path of training
(:func:`~alphaforge.models.dataset.compute_features`, panel inputs such as ``^VIX`` read from
the bar store as ``predict`` reads them) and scores each symbol's latest bar with
:func:`~alphaforge.models.scoring.score_latest`. The same bars give ``predict``'s scores: the
window is long enough for every champion feature's ``memory`` (:attr:`LiveScorer.window`).

Each decision's scores are written, atomically, to
``<data.store_dir>/predictions/<experiment>_<YYYYMMDDTHHMMSSZ>.parquet`` (the decision bar's
open time, UTC): one row per symbol with ``predict``'s columns and the
:func:`~alphaforge.models.scoring.prediction_row` names ``ml_model`` reads. Strategies get
scores and predictions as wide frames over the window: the earlier rows are the decisions
persisted before (this run's or a previous one's), so a portfolio constructor that counts
rebalance bars sees the scores it was given then; bars never scored are NaN.

Champions are picked again before each decision (a few SQLite reads, no artifact): after the
nightly retrain promotes a challenger, the next decision scores with it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from alphaforge.config.models import AppConfig
from alphaforge.core.errors import ConfigError
from alphaforge.core.types import Instrument, Interval
from alphaforge.data.health import health_gate
from alphaforge.data.service import validate_market
from alphaforge.features import FEATURES, PANEL_FEATURES
from alphaforge.features.panel import DOLLAR_SYMBOLS, IRX, T10Y2Y, TNX, VIX
from alphaforge.models.dataset import compute_features, needed_inputs, split_feature_names
from alphaforge.models.registry_store import ModelRegistry
from alphaforge.models.scoring import (
    PREDICTION_STAMP,
    PREDICTIONS_DIR,
    Champions,
    LatestScores,
    fitted_lookback,
    load_champions,
    prediction_path,
    prediction_row,
    safe_name,
    score_latest,
)
from alphaforge.storage.atomic import atomic_path
from alphaforge.storage.bar_store import BarStore

log = logging.getLogger(__name__)

#: The index and macro series panel features may read from outside the universe (the same
#: series ``predict`` looks for in the store).
PANEL_INPUT_SYMBOLS: tuple[str, ...] = (VIX, TNX, IRX, T10Y2Y, *DOLLAR_SYMBOLS)
#: Width of the ledger's ``audit.model_version`` column.
_VERSION_WIDTH = 128


@dataclass(frozen=True, slots=True)
class LiveScores:
    """One decision's scores, as the strategies read them and as they were persisted.

    ``scores`` (bar times x symbols) is the ensemble's score (meta labels: the trade score,
    side x (P - 0.5)); ``predictions`` holds every :func:`prediction_row` column as a wide
    frame. Both cover the window: the last bar of each symbol scored now, earlier rows from
    the persisted decisions. ``latest`` is ``predict``'s table for the last bar; ``path`` the
    Parquet file it was written to; ``versions`` the scoring champions (model -> version).
    """

    time: pd.Timestamp
    scores: pd.DataFrame
    predictions: dict[str, pd.DataFrame]
    latest: LatestScores
    path: Path
    versions: dict[str, int]

    @property
    def version_text(self) -> str:
        """Return the champions as one line (``lightgbm v3, logistic v2``)."""
        return ", ".join(f"{m} v{v}" for m, v in self.versions.items())


class LiveScorer:
    """Score the live node's windows with the registry's champions and persist each decision.

    Parameters
    ----------
    config
        The whole configuration: ``train`` (experiment, models, quantiles), ``labels``,
        ``data`` (store and interval, the health gate of panel inputs) and
        ``validation_rules``.

    Raises
    ------
    ConfigError
        No registry under ``<data.store_dir>/models``, a model not registered, champions
        trained on other labels or another bar interval.
    """

    def __init__(self, config: AppConfig) -> None:
        self.config = config
        self.store_dir = Path(config.data.store_dir)
        self.root = self.store_dir / "models"
        self.folder = self.store_dir / PREDICTIONS_DIR
        self.experiment = config.train.experiment
        self.interval = Interval(config.data.interval)
        self.champions = self._load()
        #: Bars per symbol the features of the last bar need to equal full-history ones.
        self.window = required_window(self.champions)
        self._history: dict[pd.Timestamp, pd.DataFrame] | None = None
        self.last: LiveScores | None = None

    # -- champions ---------------------------------------------------------------------------

    def _load(self) -> Champions:
        champions = load_champions(
            self.root,
            self.experiment,
            self.config.train.models,
            self.config.labels,
            quantiles=self.config.train.quantiles,
        )
        for version in champions.versions.values():
            trained = version.config.get("interval")
            if trained is not None and Interval(str(trained)) != self.interval:
                raise ConfigError(
                    f"{version.name} v{version.version} was trained on {trained} bars; "
                    f"data.interval is {self.interval.value}.",
                    hint="Trade on the interval the model was trained on, or retrain.",
                )
        return champions

    def refresh(self) -> bool:
        """Pick the champions again; return whether they changed (a promotion since).

        Costs a few SQLite reads; the models themselves are loaded when scoring.
        """
        current = self._load()
        if _version_key(current) == _version_key(self.champions):
            return False
        log.info(
            "champions changed: %s -> %s", _version_text(self.champions), _version_text(current)
        )
        window = required_window(current)
        if window > self.window:
            log.warning(
                "the new champions' features need %d bars of history, the node keeps %d: "
                "their first scores may differ from predict's until the node restarts",
                window,
                self.window,
            )
        self.champions = current
        return True

    # -- scoring -----------------------------------------------------------------------------

    def score(
        self,
        bars_by_symbol: Mapping[str, pd.DataFrame],
        instruments: Mapping[str, Instrument],
    ) -> LiveScores:
        """Score each symbol's latest bar, persist the decision and return the window's scores.

        Parameters
        ----------
        bars_by_symbol
            The node's accepted windows (canonical OHLCV, UTC bar open times), each at least
            :attr:`window` bars long for ``predict``'s values.
        instruments
            The symbols' instruments (sectors and asset classes for panel features).
        """
        self.refresh()
        names = self.champions.feature_names
        bars = {s: b for s, b in bars_by_symbol.items() if len(b)}
        inputs = self._panel_inputs(bars, instruments, names)
        computed = compute_features(
            bars, self.interval, names, instruments=instruments, inputs=inputs
        )
        latest = score_latest(self.champions, computed, self.config.labels, bars_by_symbol=bars)
        time = max(pd.Timestamp(b.index[-1]) for b in bars.values())
        table = self._table(latest)
        path = self._write(table, time)
        history = self._recent(min(pd.Timestamp(b.index[0]) for b in bars.values()))
        history[time] = table
        rows = pd.concat(list(history.values()))
        columns = list(prediction_row(latest).columns)
        scored = LiveScores(
            time,
            _wide(rows, _score_column(latest)),
            {c: _wide(rows, c) for c in columns},
            latest,
            path,
            {m: v.version for m, v in self.champions.versions.items()},
        )
        self.last = scored
        return scored

    def audit(self, symbol: str) -> dict[str, object]:
        """Return the audit fields naming the last decision's prediction of ``symbol``.

        ``model_version`` (the champions), ``prediction`` (the symbol's score) and
        ``prediction_file`` (relative to ``data.store_dir``); empty before any scoring.
        """
        if self.last is None:
            return {}
        latest = self.last.latest.scores
        column = _score_column(self.last.latest)
        value = latest[column].get(symbol) if symbol in latest.index else None
        return {
            "model_version": f"{self.experiment}: {self.last.version_text}"[:_VERSION_WIDTH],
            "prediction": None if value is None or pd.isna(value) else float(value),
            "prediction_file": self.last.path.relative_to(self.store_dir).as_posix(),
        }

    def _panel_inputs(
        self,
        bars: Mapping[str, pd.DataFrame],
        instruments: Mapping[str, Instrument],
        names: list[str],
    ) -> dict[str, pd.DataFrame]:
        """Return the stored index and macro series the champions' panel features read.

        As ``predict`` reads them: from the bar store, validated and health-gated like the
        universe, only those a named panel feature needs and the universe lacks.
        """
        _, panel = split_feature_names(names)
        if not panel:
            return {}
        store = BarStore(self.store_dir)
        stored = {
            s: store.read(s, self.interval)
            for s in PANEL_INPUT_SYMBOLS
            if s not in bars and store.exists(s, self.interval)
        }
        wanted = needed_inputs(bars, names, stored, instruments=instruments)
        if not wanted:
            return {}
        clean, reports = validate_market(
            {s: stored[s] for s in wanted},
            {s: store.instrument(s) for s in wanted},
            self.interval,
            self.config,
        )
        health_gate(
            reports,
            self.config.data.min_health_score,
            allow_unhealthy=self.config.data.allow_unhealthy,
        )
        return clean

    # -- persistence -------------------------------------------------------------------------

    def path_for(self, time: pd.Timestamp) -> Path:
        """Return the prediction file of the decision at bar ``time`` (UTC open time)."""
        return prediction_path(self.folder, self.experiment, time)

    def _table(self, latest: LatestScores) -> pd.DataFrame:
        """Return ``predict``'s table with the ``prediction_row`` columns beside it."""
        extra = prediction_row(latest)
        table = latest.scores.join(extra[[c for c in extra.columns if c not in latest.scores]])
        table["model_versions"] = _version_text(self.champions)
        return table

    def _write(self, table: pd.DataFrame, time: pd.Timestamp) -> Path:
        path = self.path_for(time)
        with atomic_path(path) as temp:
            table.to_parquet(temp)
        return path

    def _recent(self, since: pd.Timestamp) -> dict[pd.Timestamp, pd.DataFrame]:
        """Return the persisted decisions from ``since`` on (read from disk once, then kept)."""
        if self._history is None:
            pattern = re.compile(
                rf"^{re.escape(safe_name(self.experiment))}_(\d{{8}}T\d{{6}}Z)\.parquet$"
            )
            self._history = {}
            for path in sorted(self.folder.glob("*.parquet")):
                match = pattern.match(path.name)
                if match is None:
                    continue
                stamp = pd.Timestamp(
                    pd.to_datetime(match.group(1), format=PREDICTION_STAMP, utc=True)
                )
                if stamp >= since:
                    self._history[stamp] = pd.read_parquet(path)
        self._history = {t: f for t, f in self._history.items() if t >= since}
        return self._history


def required_window(champions: Champions) -> int:
    """Return the bars per symbol that give the last bar's features their full-history values.

    The largest ``memory`` of the champions' per-symbol features (a panel feature's warm-up),
    plus one bar, plus a sequence model's window beyond its last bar. A feature of unbounded
    memory (``memory`` None) is not counted: no window reproduces it, the node's
    ``live.warmup_bars`` is what it gets.
    """
    per_symbol, panel = split_feature_names(champions.feature_names)
    memories = [FEATURES.get(n).memory for n in per_symbol]
    unbounded = [n for n, m in zip(per_symbol, memories, strict=True) if m is None]
    if unbounded:
        log.warning(
            "features of unbounded memory (%s) are computed on the node's window only",
            ", ".join(unbounded),
        )
    longest = max(
        [0, *(m for m in memories if m is not None), *(PANEL_FEATURES.get(n).warmup for n in panel)]
    )
    lookback = 1
    with ModelRegistry(champions.root) as registry:
        for version in champions.versions.values():
            model = registry.load(
                version.name, version.version, expected_features=list(version.feature_names)
            )
            lookback = max(lookback, fitted_lookback(model))
    return longest + lookback


def _score_column(latest: LatestScores) -> str:
    """Return the column that ranks: the meta labels' trade score, else the ensemble."""
    return "trade_score" if "trade_score" in latest.scores else "ensemble"


def _wide(rows: pd.DataFrame, column: str) -> pd.DataFrame:
    """Return ``column`` of the per-symbol rows as a frame of bar times x symbols."""
    long = pd.DataFrame(
        {
            "timestamp": pd.DatetimeIndex(rows["timestamp"]),
            "symbol": rows.index.astype(str),
            "value": rows[column].astype(float) if column in rows else float("nan"),
        }
    )
    long = long.drop_duplicates(["timestamp", "symbol"], keep="last")
    wide = long.pivot(index="timestamp", columns="symbol", values="value").sort_index()
    wide.index = pd.DatetimeIndex(wide.index)
    wide.columns.name = None
    return wide


def _version_key(champions: Champions) -> tuple[tuple[str, int], ...]:
    quantiles = champions.quantiles
    extra = () if quantiles is None else ((quantiles.name, quantiles.version),)
    return (*((v.name, v.version) for v in champions.versions.values()), *extra)


def _version_text(champions: Champions) -> str:
    return ", ".join(f"{m} v{v.version}" for m, v in champions.versions.items())


__all__ = ["PANEL_INPUT_SYMBOLS", "PREDICTIONS_DIR", "LiveScorer", "LiveScores", "required_window"]
