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
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from alphaforge.config import AppConfig
from alphaforge.config.models import LabelsConfig
from alphaforge.core.errors import ConfigError
from alphaforge.features import FEATURES, PANEL_FEATURES
from alphaforge.models.dataset import (
    BINARY_CLASSES,
    THREE_CLASSES,
    compute_features,
    primary_side,
)
from alphaforge.models.drift import DriftReport, drift_report
from alphaforge.models.registry_store import ModelRegistry, ModelVersion
from alphaforge.pipeline.registration import (
    check_labels_match,
    load_combiner,
    quantile_model_name,
    registry_root,
)
from alphaforge.pipeline.research import prepare_training_data
from alphaforge.pipeline.results import training_record
from alphaforge.pipeline.train import load_panel_inputs, load_training_universe
from alphaforge.validation.walk_forward import aligned_proba, class_score

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


def latest_feature_rows(
    features_by_symbol: dict[str, pd.DataFrame], names: list[str]
) -> pd.DataFrame:
    """Return each symbol's features at its latest bar (symbols as rows, ``names`` as columns)."""
    rows = {s: f.iloc[-1] for s, f in features_by_symbol.items()}
    stamps = {s: f.index[-1] for s, f in features_by_symbol.items()}
    table = pd.DataFrame(rows).T[names]
    table.insert(0, "timestamp", pd.Series(stamps))
    return table


def latest_windows(
    features_by_symbol: dict[str, pd.DataFrame], names: list[str], lookback: int
) -> pd.DataFrame:
    """Return each symbol's trailing window at its latest bar, flattened oldest bar first.

    Row ``symbol`` holds the symbol's last ``lookback`` feature rows (``names``), bar by bar,
    as ``lookback * len(names)`` columns: the layout a sequence model is trained on
    (:func:`alphaforge.pipeline.sequences.window_design`). A symbol with fewer bars is
    NaN-padded at the front, as a training window before the symbol's first row is.
    """
    if lookback < 1:
        raise ValueError(f"lookback must be at least 1, got {lookback}.")
    n_features = len(names)
    out = np.full((len(features_by_symbol), lookback, n_features), np.nan)
    for i, frame in enumerate(features_by_symbol.values()):
        tail = frame[names].to_numpy(np.float64)[-lookback:]
        if len(tail):
            out[i, lookback - len(tail) :] = tail
    columns = [f"{name}@t-{lag}" for lag in range(lookback - 1, -1, -1) for name in names]
    return pd.DataFrame(
        out.reshape(len(out), lookback * n_features),
        index=pd.Index(list(features_by_symbol), name="symbol"),
        columns=columns,
    )


def fitted_lookback(model: object) -> int:
    """Return the bars per input window a fitted model expects (1 for row models).

    Looks through a calibration wrapper to the fitted sequence model's ``lookback_``.
    """
    for candidate in (model, getattr(model, "model_", None), getattr(model, "model", None)):
        lookback = getattr(candidate, "lookback_", None)
        if lookback is not None:
            return int(lookback)
    return 1


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


def _champion_or_latest(registry: ModelRegistry, name: str, hint: str) -> ModelVersion:
    known = registry.list(name)
    if not known:
        raise ConfigError(f"Model {name} is not in the registry.", hint=hint)
    champion = [v for v in known if v.stage == "champion"]
    return champion[-1] if champion else known[-1]


def predict_latest(config: AppConfig) -> Prediction:
    """Score the latest bar of every symbol of ``train.universe`` with the champions."""
    experiment = config.train.experiment
    root = registry_root(config)
    if not (root / "registry.sqlite").exists():
        raise ConfigError(
            f"No model registry in {root}.",
            hint="Run alphaforge train first (with the same data.store_dir).",
        )
    with ModelRegistry(root) as registry:
        versions = {}
        for name in config.train.models:
            versions[name] = _champion_or_latest(
                registry,
                f"{experiment}.{name}",
                "Run alphaforge train with this experiment and these models first.",
            )
            check_labels_match(versions[name], config.labels)
        quantile_version = None
        if config.train.quantiles:
            quantile_version = _champion_or_latest(
                registry,
                quantile_model_name(config),
                "Run alphaforge train with train.quantiles: true first, or set it to false.",
            )
            check_labels_match(quantile_version, config.labels)
        first = next(iter(versions.values()))
        # Each model takes its own features (feature selection may differ between versions):
        # compute their union once, panel features over the whole universe as in training.
        every = [*versions.values(), *([quantile_version] if quantile_version else [])]
        names = list(dict.fromkeys(n for v in every for n in v.feature_names))
        raw, instruments, interval, _ = load_training_universe(config, config.run.seed)
        data = prepare_training_data(raw, instruments, interval, config)
        inputs = load_panel_inputs(config, data.bars, instruments, interval, names)
        computed = compute_features(
            data.bars, interval, names, instruments=instruments, inputs=inputs.bars
        )
        features = latest_feature_rows(computed, names)
        drift = feature_drift({s: f[list(first.feature_names)] for s, f in computed.items()}, first)
        out = pd.DataFrame({"timestamp": features["timestamp"]}, index=features.index)
        classes = THREE_CLASSES if config.labels.kind == "three_class" else BINARY_CLASSES
        probabilities = []
        for name, version in versions.items():
            own = list(version.feature_names)
            model = registry.load(version.name, version.version, expected_features=own)
            # A sequence model reads each symbol's trailing window, as in training.
            lookback = fitted_lookback(model)
            X = (
                features[own].to_numpy(np.float64)
                if lookback == 1
                else latest_windows(computed, own, lookback).loc[features.index].to_numpy()
            )
            proba = aligned_proba(model, X, len(classes))
            probabilities.append(proba)
            out[name] = class_score(proba)
        quantiles = (
            None
            if quantile_version is None
            else latest_quantiles(registry, quantile_version, features)
        )
    model_columns = list(versions)
    combiner, how = load_combiner(config, versions)
    if combiner is not None:
        order = [model_columns.index(m) for m in combiner.models]
        mean = combiner.combine([probabilities[i] for i in order])
    else:
        mean = np.mean(probabilities, axis=0)
    out["ensemble"] = class_score(mean)
    if len(classes) > 2:
        for k, label in enumerate(classes):
            out[f"p_{label}"] = mean[:, k]
    center = 0.5 if len(classes) == 2 else 0.0
    side = out["ensemble"] > center
    out["agreement"] = out[model_columns].gt(center).eq(side, axis=0).mean(axis=1)
    ranked = out["ensemble"]
    if config.labels.kind == "meta":
        # The meta model sizes the primary signal's bet: rank by side x confidence.
        out["side"] = primary_sides(data.bars, config.labels).reindex(out.index)
        # A flat primary takes no position: no trade score and no rank.
        ranked = (out["side"] * (out["ensemble"] - 0.5)).where(out["side"] != 0)
        out["trade_score"] = ranked
    out["rank"] = ranked.rank(ascending=False, method="first").astype("Int64")
    if quantiles is not None:
        out = out.join(quantiles)
    out.index.name = "symbol"
    return Prediction(out.sort_values("rank"), versions, drift, how, quantile_version)


def latest_quantiles(
    registry: ModelRegistry, version: ModelVersion, features: pd.DataFrame
) -> pd.DataFrame:
    """Return the registered quantile model's forward-return quantiles at each latest bar.

    ``features`` holds each symbol's latest feature row (:func:`latest_feature_rows`); the
    result has one column per level (``q10`` ... ``q90``, log return over the label's
    horizon), non-decreasing along each row.
    """
    own = list(version.feature_names)
    model = registry.load(version.name, version.version, expected_features=own)
    values = model.predict(features[own].to_numpy(np.float64))
    columns = training_record(version.config, what=f"{version.name} v{version.version}").columns
    if not columns:
        raise ConfigError(
            f"{version.name} v{version.version} records no quantile columns.",
            hint="Retrain it with train.quantiles on.",
        )
    return pd.DataFrame(values, index=features.index, columns=columns)


def primary_sides(bars_by_symbol: dict[str, pd.DataFrame], labels: LabelsConfig) -> pd.Series:
    """Return each symbol's primary side (-1, 0, +1) at its latest bar, for meta labels."""
    return pd.Series(
        {
            symbol: float(primary_side(bars, labels).iloc[-1])
            for symbol, bars in bars_by_symbol.items()
        }
    )


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
    "predict_latest",
    "write_predictions",
]
