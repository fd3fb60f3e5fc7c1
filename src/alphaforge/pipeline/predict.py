"""`alphaforge predict`: score the latest bars of a universe with the registered models.

Loads the champion of every model of ``train.models`` (experiment ``train.experiment``) from
the model registry, checks that the features it was trained on are the ones computed now,
computes them on the universe's stored (or synthetic) bars with the code path of training
(:func:`alphaforge.models.dataset.compute_features`: per-symbol and panel features, the panel
ones over the whole universe and the stored index and macro series they read), and scores each
symbol's latest bar; a sequence model fitted on windows gets the symbol's trailing window of
its fitted lookback instead (the layout it was trained on). Scores are those of training:
P(up), or P(BUY) - P(SELL) for a 3-class target (with the ensemble's class probabilities beside
them). The ensemble combines the models as training did (equal or performance weights, or the
stacking pool, saved with the run's models) while the champions are the versions it was fitted
on, else it is their mean; agreement is the share of models on the ensemble's side.
A meta-label model ranks by the primary's side times its confidence. With
``train.quantiles`` on, the registered quantile model (``<experiment>.quantiles``) adds the
forward log return's quantiles ``q10`` ... ``q90`` beside the scores. A drift check compares
the features of the bars after the model's training data with those it trained on and says
when to retrain.

The champions and the scoring itself are :mod:`alphaforge.models.scoring`'s (live and paper
trading score through it too); this module loads the universe, computes the features, checks
drift and writes the CSV.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from alphaforge.config import AppConfig
from alphaforge.features import FEATURES, PANEL_FEATURES
from alphaforge.models.dataset import compute_features
from alphaforge.models.drift import DriftReport, drift_report
from alphaforge.models.registry_store import ModelVersion
from alphaforge.models.scoring import (
    PREDICTIONS_DIR,
    fitted_lookback,
    latest_feature_rows,
    latest_quantiles,
    latest_windows,
    load_champions,
    prediction_path,
    score_latest,
)
from alphaforge.pipeline.registration import registry_root
from alphaforge.pipeline.research import prepare_training_data
from alphaforge.pipeline.train import load_panel_inputs, load_training_universe
from alphaforge.storage.atomic import atomic_path

#: Fewest rows (bars x symbols) after the model's training data for a drift check: PSI on
#: a handful of rows is noise.
MIN_DRIFT_ROWS = 250
#: What a model's score means, by ``labels.kind``.
SCORE_MEANING = {
    "cross_sectional": "P(beats the cross-sectional median)",
    "direction": "P(rises)",
    "triple_barrier": "P(takes profit first)",
    "three_class": "P(BUY) - P(SELL)",
    "meta": "P(the primary signal takes profit); ranked by side x (P - 0.5)",
}
#: Calendar and session features drift by construction (December is not like the year).
_SEASONAL = frozenset({"calendar", "session"})


@dataclass(frozen=True, slots=True)
class Prediction:
    """Scores of the latest bar of every symbol, the model versions and the drift check."""

    scores: pd.DataFrame
    versions: dict[str, ModelVersion]
    drift: DriftReport | None
    ensemble: str = "mean of the models' probabilities"
    """How the ensemble column was combined."""
    quantiles: ModelVersion | None = None
    """The quantile model whose ``q10`` ... ``q90`` columns ``scores`` holds, if any."""


def feature_drift(
    features_by_symbol: dict[str, pd.DataFrame],
    version: ModelVersion,
    *,
    hits: npt.NDArray[np.bool_] | None = None,
) -> DriftReport | None:
    """Compare features of the bars after the model's training data with those it trained on.

    Population stability index per feature, leaving out calendar and session features (which
    drift by construction); ``None`` when fewer than :data:`MIN_DRIFT_ROWS` new rows exist.
    ``hits`` (whether each resolved prediction after the training data was right, oldest
    first) adds the rolling hit-rate check against the version's ``validation_hit_rate``.
    """
    reference = []
    recent = []
    for frame in features_by_symbol.values():
        stamps = pd.DatetimeIndex(frame.index)
        reference.append(frame[(stamps >= version.data_start) & (stamps <= version.data_end)])
        recent.append(frame[stamps > version.data_end])
    new = pd.concat(recent)
    if len(new) < MIN_DRIFT_ROWS:
        return None
    columns = [c for c in new.columns if _category(str(c)) not in _SEASONAL]
    baseline = version.metrics.get("validation_hit_rate", float("nan"))
    checkable = hits is not None and len(hits) > 0 and 0.0 < baseline < 1.0
    return drift_report(
        pd.concat(reference)[columns],
        new[columns],
        hits=hits if checkable else None,
        baseline_hit_rate=baseline if checkable else None,
    )


def _category(name: str) -> str:
    """Return the category of a per-symbol or panel feature."""
    if name in PANEL_FEATURES:
        return PANEL_FEATURES.get(name).category
    return FEATURES.get(name).category


def predict_latest(config: AppConfig) -> Prediction:
    """Score the latest bar of every symbol of ``train.universe`` with the champions.

    The champions and the scoring are :mod:`alphaforge.models.scoring`'s; this loads the
    universe as training did and computes the features they read.
    """
    champions = load_champions(
        registry_root(config),
        config.train.experiment,
        config.train.models,
        config.labels,
        quantiles=config.train.quantiles,
    )
    first = next(iter(champions.versions.values()))
    # Panel features over the whole universe, as in training.
    names = champions.feature_names
    raw, instruments, interval, _ = load_training_universe(config, config.run.seed)
    data = prepare_training_data(raw, instruments, interval, config)
    inputs = load_panel_inputs(config, data.bars, instruments, interval, names)
    computed = compute_features(
        data.bars, interval, names, instruments=instruments, inputs=inputs.bars
    )
    drift = feature_drift({s: f[list(first.feature_names)] for s, f in computed.items()}, first)
    latest = score_latest(champions, computed, config.labels, bars_by_symbol=data.bars)
    return Prediction(
        latest.scores, champions.versions, drift, latest.ensemble, champions.quantiles
    )


def persist_predictions(prediction: Prediction, config: AppConfig) -> Path:
    """Write the scores where the node keeps its decisions' (``<store_dir>/predictions/``),
    named by the latest scored bar, so the dashboard shows them; return the file.

    One row per symbol: the scores table (each model, ``ensemble``, ``agreement``, the
    quantiles ``q10`` ... ``q90`` when on) and ``model_versions``.
    """
    table = prediction.scores.copy()
    table["model_versions"] = ", ".join(
        f"{v.name} v{v.version}" for v in prediction.versions.values()
    )
    bar = pd.Timestamp(pd.to_datetime(table["timestamp"], utc=True).max())
    folder = Path(config.data.store_dir) / PREDICTIONS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = prediction_path(folder, config.train.experiment, bar)
    with atomic_path(path) as temp:
        table.to_parquet(temp)
    return path


def write_predictions(prediction: Prediction, path: Path) -> Path:
    """Write the scores as CSV (one row per symbol) and return the path."""
    prediction.scores.to_csv(path)
    return path


__all__ = [
    "Prediction",
    "feature_drift",
    "fitted_lookback",
    "latest_feature_rows",
    "latest_quantiles",
    "latest_windows",
    "persist_predictions",
    "predict_latest",
    "write_predictions",
]
