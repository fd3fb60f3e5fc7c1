"""Multi-task report: one sequence model fitted on the 1/5/10/21-bar targets at once.

``train.multi_task_model`` names a PyTorch sequence model
(:data:`alphaforge.models.deep.SEQUENCE_MODELS`). It is fitted by purged walk-forward on the
panel's features (each row's trailing window, as in training) with one label column per
horizon, and each horizon's out-of-sample AUC and information coefficient are reported.

Targets are the run's own label kind at each horizon, with the run's entry and exit prices:

* ``cross_sectional``: the horizon's forward log return beats the bar's cross-sectional median
  (over the panel's rows at that bar); known when the bar's last label is known;
* ``direction``: the horizon's forward return is positive.

Purging: a training row carries all its labels, so it is fitted on until its LONGEST known
label ends (normally the 21-bar one). The splitter therefore receives each row's latest label
end over the horizons; purging by a shorter horizon's end would let a row whose 21-bar label
overlaps the test block into training. A label not yet known (the last bars) is NaN for its
task and does not extend the row's span. No sample weights: label uniqueness is defined for
one label span per row, not four.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, Self

import numpy as np
import numpy.typing as npt
import pandas as pd

from alphaforge.config import AppConfig
from alphaforge.config.models import LabelsConfig
from alphaforge.core.errors import ConfigError
from alphaforge.core.types import Interval
from alphaforge.labels import multi_horizon_returns
from alphaforge.models import create_model
from alphaforge.models.dataset import Panel
from alphaforge.models.deep import SEQUENCE_MODELS
from alphaforge.pipeline.sequences import design_for
from alphaforge.validation.metrics import auc, information_coefficient
from alphaforge.validation.splits import Splitter
from alphaforge.validation.walk_forward import Design

#: Horizons of the multi-task heads, in bars (a day, a week, two weeks, a month of sessions).
MULTI_TASK_HORIZONS = (1, 5, 10, 21)
#: Label kinds the multi-task report can build at every horizon.
MULTI_TASK_KINDS = ("cross_sectional", "direction")
#: Columns of :func:`multi_task_report`'s table.
REPORT_COLUMNS = (
    "model",
    "horizon",
    "auc",
    "ic",
    "oos_rows",
    "labelled_rows",
    "positive_rate",
    "folds",
)


class MultiTaskClassifier(Protocol):
    """A classifier fitted on an ``(n, n_tasks)`` label matrix (``SequenceModel`` is one)."""

    classes_: npt.NDArray[np.float64]

    def fit(
        self,
        X: npt.NDArray[np.float64],
        y: npt.NDArray[np.float64],
        *,
        sample_weight: npt.NDArray[np.float64] | None = None,
        eval_set: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]] | None = None,
    ) -> Self: ...

    def predict_proba_tasks(self, X: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]: ...


@dataclass(frozen=True, slots=True)
class HorizonLabels:
    """Targets of the panel's rows at several horizons (one column per horizon, in bars).

    ``target`` holds class codes (1.0 up / beats the median, 0.0 not, NaN unknown),
    ``forward_return`` the horizon's forward log return and ``end`` the time each target is
    fully known (UTC, NaT where unknown); all three are indexed like ``panel.X``.
    """

    target: pd.DataFrame
    forward_return: pd.DataFrame
    end: pd.DataFrame

    @property
    def longest_end(self) -> pd.Series:
        """Return each row's latest known label end over the horizons (NaT: none known)."""
        return self.end.max(axis=1).rename("end")


@dataclass(frozen=True, slots=True)
class MultiTaskResult:
    """Out-of-fold P(class 1) per horizon (NaN where unscored) and the folds fitted."""

    scores: pd.DataFrame
    folds: int


def check_multi_task_config(config: AppConfig) -> str | None:
    """Return the multi-task model's name (``None`` when off); raise ConfigError if unusable."""
    name = config.train.multi_task_model
    if name is None:
        return None
    if name not in SEQUENCE_MODELS:
        raise ConfigError(
            f"train.multi_task_model: {name!r} is not a PyTorch sequence model.",
            hint=f"Use one of {', '.join(SEQUENCE_MODELS)}, or null to switch it off.",
        )
    if config.labels.kind not in MULTI_TASK_KINDS:
        raise ConfigError(
            f"train.multi_task_model supports labels.kind cross_sectional and direction, "
            f"not {config.labels.kind!r}.",
            hint="Set labels.kind to cross_sectional or direction, or multi_task_model: null.",
        )
    return name


def horizon_labels(
    panel: Panel,
    bars_by_symbol: Mapping[str, pd.DataFrame],
    interval: Interval,
    labels: LabelsConfig,
    horizons: Sequence[int] = MULTI_TASK_HORIZONS,
) -> HorizonLabels:
    """Build ``labels.kind``'s target at each horizon for the rows of ``panel``.

    Uses ``labels.entry`` and ``labels.exit`` like the panel's own target; a row of a symbol
    missing from ``bars_by_symbol`` gets NaN labels.
    """
    if labels.kind not in MULTI_TASK_KINDS:
        raise ConfigError(
            f"Multi-task labels support kind cross_sectional and direction, not {labels.kind!r}."
        )
    pieces = []
    for symbol, bars in bars_by_symbol.items():
        sets = multi_horizon_returns(
            bars, interval, horizons, entry=labels.entry, exit=labels.exit, kind="log"
        )
        stamps = pd.DatetimeIndex(bars.index).as_unit("ns")
        frame = pd.DataFrame(
            {
                **{("fwd", h): s.values.to_numpy(np.float64) for h, s in sets.items()},
                **{("end", h): pd.DatetimeIndex(s.end).as_unit("ns") for h, s in sets.items()},
            },
            index=pd.MultiIndex.from_arrays(
                [stamps, np.full(len(stamps), symbol, dtype=object)], names=["timestamp", "symbol"]
            ),
        )
        pieces.append(frame)
    rows = pd.MultiIndex.from_arrays(
        [
            pd.DatetimeIndex(panel.X.index.get_level_values("timestamp")).as_unit("ns"),
            panel.X.index.get_level_values("symbol"),
        ],
        names=["timestamp", "symbol"],
    )
    stacked = pd.concat(pieces).reindex(rows)
    forward = pd.DataFrame(
        {h: stacked[("fwd", h)].to_numpy(np.float64) for h in horizons}, index=panel.X.index
    )
    end = pd.DataFrame({h: stacked[("end", h)].to_numpy() for h in horizons}, index=panel.X.index)
    known = forward.notna()
    if labels.kind == "direction":
        # log return > 0 exactly when the simple return is: binary_labels' "up" class.
        up = forward.gt(0.0)
    else:
        median = forward.groupby(level="timestamp").transform("median")
        up = forward.gt(median)
        # A cross-sectional target is known only when the bar's last label is (as in build_panel).
        end = end.groupby(level="timestamp").transform("max")
    target = up.astype(np.float64).where(known)
    return HorizonLabels(target, forward, end.where(known))


def multi_task_walk_forward(
    panel: Panel,
    labels: HorizonLabels,
    splitter: Splitter,
    make_model: Callable[[int], MultiTaskClassifier],
    *,
    design: Design | None = None,
) -> MultiTaskResult:
    """Fit a fresh multi-task model per fold and score the fold's test rows at every horizon.

    Folds come from ``splitter.split(panel.start, labels.longest_end)``, so every training
    and validation row's longest label ends before the block after it (see the module
    docstring). A row is fitted on when any of its labels is known; unknown ones are NaN in
    the label matrix, which the model leaves out of its loss for that task.
    """
    X = panel.X.to_numpy(np.float64)
    Y = labels.target.to_numpy(np.float64)
    scores = np.full(Y.shape, np.nan)
    every = np.arange(X.shape[1], dtype=np.int64)

    def take(rows: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        return design(rows, every) if design is not None else X[rows]

    fitted = 0
    for fold in splitter.split(panel.start, labels.longest_end):
        train = fold.train[np.isfinite(Y[fold.train]).any(axis=1)]
        validation = fold.validation[np.isfinite(Y[fold.validation]).any(axis=1)]
        known = Y[train][np.isfinite(Y[train])]
        if len(np.unique(known)) < 2:
            continue
        model = make_model(fold.number)
        eval_set = (take(validation), Y[validation]) if len(validation) else None
        model.fit(take(train), Y[train], eval_set=eval_set)
        proba = model.predict_proba_tasks(take(fold.test))
        positive = np.flatnonzero(np.asarray(model.classes_) == 1.0)
        scores[fold.test] = proba[:, :, positive[0]]
        fitted += 1
    frame = pd.DataFrame(scores, index=panel.X.index, columns=labels.target.columns)
    return MultiTaskResult(frame, fitted)


def horizon_metrics(
    panel: Panel, labels: HorizonLabels, result: MultiTaskResult, model: str
) -> pd.DataFrame:
    """Return one row per horizon: out-of-sample AUC, IC, row counts (see REPORT_COLUMNS).

    ``ic`` is the per-bar rank correlation of the score with the horizon's forward return,
    averaged over bars (as the run's ``ic``); ``oos_rows`` counts scored rows and
    ``labelled_rows`` those whose label at that horizon is known (what AUC is computed on).
    """
    stamps = panel.timestamps
    out = []
    for horizon in labels.target.columns:
        score = result.scores[horizon]
        target = labels.target[horizon]
        scored = score.notna()
        labelled = scored & target.notna()
        out.append(
            {
                "model": model,
                "horizon": int(horizon),
                "auc": auc(target[scored], score[scored]),
                "ic": information_coefficient(
                    labels.forward_return[horizon][scored],
                    score[scored],
                    by=stamps[scored.to_numpy()],
                ),
                "oos_rows": int(scored.sum()),
                "labelled_rows": int(labelled.sum()),
                "positive_rate": float(target[labelled].mean()) if labelled.any() else np.nan,
                "folds": result.folds,
            }
        )
    return pd.DataFrame(out, columns=list(REPORT_COLUMNS))


def multi_task_report(
    panel: Panel,
    bars_by_symbol: Mapping[str, pd.DataFrame],
    interval: Interval,
    config: AppConfig,
    splitter: Splitter,
    seed: int,
) -> pd.DataFrame:
    """Fit ``train.multi_task_model`` on the 1/5/10/21-bar targets; return per-horizon metrics.

    An empty table (the report's columns, no rows) when ``train.multi_task_model`` is null.
    Fold k's model is seeded ``seed + k``; the model's settings are ``config.model``'s (its
    ``lookback`` gives each row's trailing window, as in the run's walk-forward).

    Raises
    ------
    ConfigError
        The model is not a sequence model, or ``labels.kind`` is not cross_sectional or
        direction.
    """
    name = check_multi_task_config(config)
    if name is None:
        return pd.DataFrame(columns=list(REPORT_COLUMNS))
    model_config = config.model.model_copy(update={"name": name})
    labels = horizon_labels(panel, bars_by_symbol, interval, config.labels)

    def make_model(fold: int) -> MultiTaskClassifier:
        # Only sequence models get here (checked above); they take a 2-D label matrix.
        model: object = create_model(model_config, seed=seed + fold, n_jobs=config.run.n_jobs)
        if not hasattr(model, "predict_proba_tasks"):
            raise ConfigError(f"Model {name!r} has no multi-task heads (predict_proba_tasks).")
        return model  # type: ignore[return-value]

    result = multi_task_walk_forward(
        panel, labels, splitter, make_model, design=design_for(name, model_config, panel)
    )
    return horizon_metrics(panel, labels, result, name)


__all__ = [
    "MULTI_TASK_HORIZONS",
    "MULTI_TASK_KINDS",
    "REPORT_COLUMNS",
    "HorizonLabels",
    "MultiTaskClassifier",
    "MultiTaskResult",
    "check_multi_task_config",
    "horizon_labels",
    "horizon_metrics",
    "multi_task_report",
    "multi_task_walk_forward",
]
