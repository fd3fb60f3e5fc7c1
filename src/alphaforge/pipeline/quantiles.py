"""Quantile regression of the forward return by the same purged walk-forward as ``train``.

For every fold of ``splitter.split(panel.start, panel.end)`` a
:class:`~alphaforge.models.quantile.QuantileGBM` (10/25/50/75/90 % by default) is fitted on the
fold's training rows whose forward return is known, stops early on the fold's validation block
(pinball loss), and predicts the fold's test rows. Training rows carry the fold weights of
:func:`~alphaforge.models.dataset.fold_weigher` (label uniqueness times age decay, from
``config.labels``).

Time: the target is ``panel.forward_return``, the log return from the decision at row t to the
label's exit. Its end is ``panel.end`` for every target kind except the barrier ones
(``triple_barrier``, ``meta``), whose ``panel.end`` is the barrier touch and can come before the
return's exit. For those, a row's return is taken to end no later than the decision time of the
same symbol's row ``horizon + 1`` bars later (the exit, at the latest the open of bar
t + 1 + horizon, is known by that bar's close), and fitted rows are purged by that bound as well.
So every fitted label (training or validation) ends before the fold's test block starts.

Separately fitted quantiles can cross; the report gives the share of rows where they did before
sorting, and the predictions are sorted per row (never crossing) before anything is scored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from alphaforge.config.models import AppConfig, LabelsConfig
from alphaforge.models.dataset import Panel, fold_weigher
from alphaforge.models.quantile import DEFAULT_QUANTILES, QuantileGBM, pinball_loss
from alphaforge.validation.splits import Splitter

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Weigher = Callable[[IntArray], FloatArray]

#: Files a run directory gets from :meth:`QuantileReport.write`.
PREDICTIONS_FILE = "quantile_predictions.parquet"
TABLE_FILE = "quantiles.csv"

#: Target kinds whose ``panel.end`` is a barrier touch, not the forward return's exit.
_BARRIER_KINDS = ("triple_barrier", "meta")
_NEVER = np.iinfo(np.int64).max


def quantile_name(level: float) -> str:
    """Return the column name of a quantile level: ``0.1 -> "q10"``, ``0.025 -> "q2.5"``."""
    return f"q{level * 100:g}"


@dataclass(frozen=True, slots=True)
class QuantileFold:
    """One fold of the quantile walk-forward.

    ``last_label_end`` is the latest end (UTC) of any forward-return label the fold's model was
    fitted on, training or validation rows; it lies before ``test_start``.
    ``best_iterations`` holds each level's boosting rounds kept.
    """

    number: int
    test_start: pd.Timestamp
    test_end: pd.Timestamp
    train_rows: int
    validation_rows: int
    test_rows: int
    last_label_end: pd.Timestamp
    best_iterations: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class QuantileReport:
    """Out-of-fold quantile predictions of the forward return and how well they are calibrated.

    Attributes
    ----------
    predictions
        Rows x quantile columns (``q10`` ... ``q90``) on the panel's index, sorted per row
        (non-crossing), in forward-return units (log return); NaN where no fold scored the row.
    summary
        One row per quantile: ``level``, ``rows`` scored with a known return, ``pinball_loss``
        (of the sorted predictions, log-return units), ``coverage`` (share of realised returns
        at or below the prediction; near ``level`` when calibrated), ``coverage_error``
        (coverage - level) and ``crossing_rate`` (share of rows where this level's unsorted
        prediction lay above the next level's; NaN for the top level).
    intervals
        One row per central interval (``q10-q90``, ``q25-q75``): ``lower``, ``upper``,
        ``nominal`` (upper - lower), ``coverage`` (share of returns inside, bounds included)
        and ``coverage_error``.
    crossing_rate
        Share of scored rows whose unsorted predictions crossed anywhere (fixed by sorting).
    folds
        The per-fold record.
    """

    predictions: pd.DataFrame
    summary: pd.DataFrame
    intervals: pd.DataFrame
    crossing_rate: float
    folds: list[QuantileFold]

    def table(self) -> pd.DataFrame:
        """Return the summary, the intervals and the overall crossing rate as one table.

        Indexed by ``name`` (``q10`` ..., ``q10-q90`` ..., ``all``) with a ``kind`` column
        (``quantile``, ``interval``, ``crossing``): what ``quantiles.csv`` holds.
        """
        quantiles = self.summary.assign(kind="quantile")
        intervals = self.intervals.rename(columns={"nominal": "level"}).assign(kind="interval")
        crossing = pd.DataFrame(
            {"kind": ["crossing"], "crossing_rate": [self.crossing_rate]},
            index=pd.Index(["all"]),
        )
        table = pd.concat([quantiles, intervals, crossing])
        table.index.name = "name"
        first = ["kind", "level", "rows", "pinball_loss", "coverage", "coverage_error"]
        return table[first + [c for c in table.columns if c not in first]]

    def metrics(self) -> dict[str, float]:
        """Return flat metrics for a run summary (pinball loss and coverage per level...)."""
        out: dict[str, float] = {"quantile_crossing_rate": self.crossing_rate}
        for name, row in self.summary.iterrows():
            out[f"pinball_{name}"] = float(row["pinball_loss"])
            out[f"coverage_{name}"] = float(row["coverage"])
        for name, row in self.intervals.iterrows():
            out[f"coverage_{name}"] = float(row["coverage"])
        return out

    def write(self, directory: Path) -> None:
        """Write ``quantile_predictions.parquet`` and ``quantiles.csv`` into ``directory``."""
        self.predictions.to_parquet(directory / PREDICTIONS_FILE)
        self.table().to_csv(directory / TABLE_FILE)


def return_end(panel: Panel, labels: LabelsConfig) -> pd.Series:
    """Return, per row, a time (UTC) by which the forward return is known.

    ``panel.end`` for every kind but the barrier ones; for those the later of ``panel.end``
    and the decision time of the same symbol's row ``labels.horizon + 1`` rows later (see the
    module docstring). Rows without such a later row keep ``panel.end``.
    """
    end = pd.Series(pd.DatetimeIndex(panel.end).as_unit("ns"), index=panel.end.index)
    if labels.kind not in _BARRIER_KINDS:
        return end
    symbols = panel.X.index.get_level_values("symbol")
    start = pd.Series(pd.DatetimeIndex(panel.start).as_unit("ns"), index=panel.start.index)
    later = start.groupby(symbols.to_numpy()).shift(-(labels.horizon + 1))
    bound = later.where(later > end, end)
    return bound.where(later.notna(), end)


def _as_ns(times: pd.Series) -> IntArray:
    index = pd.DatetimeIndex(times).as_unit("ns")
    return np.where(index.isna(), _NEVER, index.asi8).astype(np.int64)


def _crossings(raw: FloatArray) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Return, per adjacent pair of levels, whether a row crosses, and whether it crosses at all."""
    above = np.asarray(np.diff(raw, axis=1) < 0.0, dtype=np.bool_)
    return above.astype(np.float64), np.asarray(above.any(axis=1), dtype=np.bool_)


def quantile_report(
    panel: Panel,
    splitter: Splitter,
    config: AppConfig,
    seed: int,
    *,
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
    weigh: Weigher | None = None,
) -> QuantileReport:
    """Fit quantile regression of ``panel.forward_return`` by purged walk-forward and score it.

    Parameters
    ----------
    panel
        Features, forward returns and label times; rows are predicted only in the fold whose
        test block holds them.
    splitter
        The walk-forward splitter ``train`` uses (folds from ``panel.start``/``panel.end``).
    config
        ``config.model`` gives the boosting settings (rounds, learning rate, leaves, minimum
        leaf rows, early-stopping patience), ``config.labels`` the fold weights and the
        target kind, ``config.run.n_jobs`` the threads.
    seed
        Fold ``k``'s model is seeded with ``seed + k``.
    quantiles
        Levels in (0, 1), strictly increasing.
    weigh
        ``weigh(train_positions) -> weights``; default: :func:`fold_weigher` of
        ``config.labels`` (pass the one ``train`` built to share it).
    """
    levels = tuple(float(q) for q in quantiles)
    names = [quantile_name(q) for q in levels]
    X = panel.X.to_numpy(np.float64)
    y = panel.forward_return.to_numpy(np.float64)
    start = _as_ns(panel.start)
    end = _as_ns(return_end(panel, config.labels))
    if weigh is None:
        weigh = fold_weigher(
            panel,
            half_life_days=config.labels.weight_half_life_days,
            uniqueness_weights=config.labels.uniqueness_weights,
        )
    known = np.isfinite(y)
    raw = np.full((len(X), len(levels)), np.nan)
    folds: list[QuantileFold] = []
    for fold in splitter.split(panel.start, panel.end):
        test_start = int(pd.Timestamp(fold.test_start).as_unit("ns").value)
        validation = fold.validation[known[fold.validation] & (end[fold.validation] < test_start)]
        cut = int(start[validation].min()) if len(validation) else test_start
        train = fold.train[known[fold.train] & (end[fold.train] < min(cut, test_start))]
        if len(train) == 0:
            continue
        model = QuantileGBM(
            quantiles=levels,
            n_estimators=config.model.trees.n_estimators,
            learning_rate=config.model.trees.learning_rate,
            num_leaves=config.model.trees.num_leaves,
            min_child_samples=config.model.trees.min_child_samples,
            early_stopping_rounds=config.model.trees.early_stopping_rounds,
            random_state=seed + fold.number,
            n_jobs=config.run.n_jobs,
        )
        weights = weigh(train) if weigh is not None else None
        eval_set = (X[validation], y[validation]) if len(validation) else None
        model.fit(X[train], y[train], sample_weight=weights, eval_set=eval_set)
        raw[fold.test] = model.predict_unsorted(X[fold.test])
        fitted = np.concatenate([train, validation])
        folds.append(
            QuantileFold(
                fold.number,
                fold.test_start,
                fold.test_end,
                len(train),
                len(validation),
                len(fold.test),
                pd.Timestamp(int(end[fitted].max()), tz="UTC"),
                tuple(_rounds(m, config.model.trees.n_estimators) for m in model.models_),
            )
        )
    return _report(panel, raw, y, levels, names, folds)


def _rounds(model: object, default: int) -> int:
    best = getattr(model, "best_iteration_", None)
    return int(best) if best else default


def _report(
    panel: Panel,
    raw: FloatArray,
    y: FloatArray,
    levels: tuple[float, ...],
    names: list[str],
    folds: list[QuantileFold],
) -> QuantileReport:
    scored = np.asarray(np.isfinite(raw).all(axis=1), dtype=np.bool_)
    predictions = np.where(scored[:, None], np.sort(raw, axis=1), np.nan)
    pairs, any_cross = _crossings(raw[scored])
    crossing_rate = float(any_cross.mean()) if scored.any() else float("nan")
    pair_rates = pairs.mean(axis=0) if scored.any() else np.full(len(levels) - 1, np.nan)
    rows = scored & np.isfinite(y)
    realised = y[rows]
    sorted_rows = predictions[rows]
    summary = pd.DataFrame(
        {
            "level": levels,
            "rows": np.full(len(levels), rows.sum(), dtype=np.int64),
            "pinball_loss": [
                pinball_loss(realised, sorted_rows[:, j], q) if rows.any() else np.nan
                for j, q in enumerate(levels)
            ],
            "coverage": [
                float(np.mean(realised <= sorted_rows[:, j])) if rows.any() else np.nan
                for j in range(len(levels))
            ],
            "crossing_rate": np.append(pair_rates, np.nan),
        },
        index=pd.Index(names, name="quantile"),
    )
    summary["coverage_error"] = summary["coverage"] - summary["level"]
    intervals = _intervals(levels, names, realised, sorted_rows)
    return QuantileReport(
        pd.DataFrame(predictions, index=panel.X.index, columns=names),
        summary,
        intervals,
        crossing_rate,
        folds,
    )


def _intervals(
    levels: tuple[float, ...], names: list[str], realised: FloatArray, predictions: FloatArray
) -> pd.DataFrame:
    """Return the coverage of each central interval [q, 1 - q] among the levels."""
    records: dict[str, dict[str, float]] = {}
    for i, low in enumerate(levels):
        if low >= 0.5:
            continue
        upper = [j for j, high in enumerate(levels) if np.isclose(high, 1.0 - low)]
        if not upper:
            continue
        j = upper[0]
        inside = np.asarray(
            (realised >= predictions[:, i]) & (realised <= predictions[:, j]), dtype=np.bool_
        )
        coverage = float(inside.mean()) if len(realised) else float("nan")
        nominal = levels[j] - low
        records[f"{names[i]}-{names[j]}"] = {
            "lower": low,
            "upper": levels[j],
            "nominal": nominal,
            "coverage": coverage,
            "coverage_error": coverage - nominal,
        }
    columns = ["lower", "upper", "nominal", "coverage", "coverage_error"]
    return pd.DataFrame.from_dict(records, orient="index", columns=columns).rename_axis("interval")


__all__ = [
    "PREDICTIONS_FILE",
    "TABLE_FILE",
    "QuantileFold",
    "QuantileReport",
    "quantile_name",
    "quantile_report",
    "return_end",
]
