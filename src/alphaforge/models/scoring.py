"""Scoring bars with a model registry's champions: what ``predict``, live and paper share.

Given a registry folder (passed explicitly: nothing here reads a configuration file), an
experiment and its model names, :func:`load_champions` picks each model's champion (else its
latest version) and checks that it learned the labels asked for; :func:`score_latest` scores
each symbol's latest bar from features computed with the code path of training
(:func:`alphaforge.models.dataset.compute_features`), as ``alphaforge predict`` prints them.

Scores are those of training: P(class 1) for a binary target, P(BUY) - P(SELL) for three
classes (:func:`class_score`). A sequence model fitted on windows reads each symbol's trailing
window of its fitted lookback (:func:`latest_windows`). The ensemble combines the models as
training did (:class:`Combiner`, saved beside the registry by ``train``) while the champions
are the versions it was fitted on, else it is their mean; ``agreement`` is the share of models
on the ensemble's side. A meta-label model ranks by the primary's side times its confidence.
The registered quantile model (``<experiment>.quantiles``) adds the forward log return's
quantiles ``q10`` ... ``q90`` over the label's horizon.

This module sits in the models layer so that strategies may score champions; the pipeline's
``predict`` only loads the universe, computes the features and writes the table.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from alphaforge.config.models import LabelsConfig
from alphaforge.core.errors import ConfigError
from alphaforge.models.base import Classifier
from alphaforge.models.dataset import BINARY_CLASSES, THREE_CLASSES, primary_side
from alphaforge.models.ensemble import StackingEnsemble
from alphaforge.models.record import training_record
from alphaforge.models.registry_store import ModelRegistry, ModelVersion

#: Folder of persisted prediction files under ``data.store_dir`` (the node's decisions and
#: ``alphaforge predict``), one Parquet file per decision bar, read by the dashboard.
PREDICTIONS_DIR = "predictions"
#: The stamp in a prediction file's name (the decision bar's open time, UTC).
PREDICTION_STAMP = "%Y%m%dT%H%M%SZ"


def safe_name(name: str) -> str:
    """Return ``name`` with any character unsafe in a file name replaced by ``-``."""
    return re.sub(r"[^A-Za-z0-9._-]", "-", name)


def prediction_path(folder: Path, experiment: str, time: pd.Timestamp) -> Path:
    """Return the prediction file of ``experiment``'s decision at bar ``time`` (UTC open)."""
    stamp = pd.Timestamp(time).tz_convert("UTC").strftime(PREDICTION_STAMP)
    return folder / f"{safe_name(experiment)}_{stamp}.parquet"


#: The quantile model's name under an experiment in the registry.
QUANTILE_MODEL = "quantiles"
#: File of an experiment's ensemble combiner, under ``<registry>/ensembles/<experiment>/``.
COMBINER_FILE = "combiner.json"
#: The settings that define a label; a model is only meaningful under the ones it learned.
LABEL_DEFINITION = (
    "kind",
    "horizon",
    "entry",
    "exit",
    "barrier_multiplier",
    "threshold",
    "volatility_multiplier",
    "primary_feature",
)


def class_score(proba: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Return the trading score of class probabilities (rows x classes, codes in order).

    Binary: P(class 1). Three classes (SELL, HOLD, BUY): P(BUY) - P(SELL), in [-1, 1].
    """
    if proba.shape[1] == 2:
        return proba[:, 1]
    if proba.shape[1] == 3:
        return proba[:, 2] - proba[:, 0]
    raise ValueError(f"scores are defined for 2 or 3 classes, got {proba.shape[1]}")


def aligned_proba(
    model: Classifier, X: npt.NDArray[np.float64], n_classes: int
) -> npt.NDArray[np.float64]:
    """Return ``model``'s probabilities with one column per class code 0..n_classes-1.

    A fold whose training rows lack a class yields a model without that column; it gets
    probability 0 there, so every fold's matrix has the same columns.
    """
    proba = np.asarray(model.predict_proba(X), dtype=np.float64)
    classes = np.asarray(getattr(model, "classes_", np.arange(proba.shape[1])), dtype=np.int64)
    if proba.shape[1] == n_classes and np.array_equal(classes, np.arange(n_classes)):
        return proba
    full = np.zeros((len(proba), n_classes))
    full[:, classes] = proba
    return full


def fitted_lookback(model: object) -> int:
    """Return the bars per input window a fitted model expects (1 for row models).

    Looks through a calibration wrapper to the fitted sequence model's ``lookback_``.
    """
    for candidate in (model, getattr(model, "model_", None), getattr(model, "model", None)):
        lookback = getattr(candidate, "lookback_", None)
        if lookback is not None:
            return int(lookback)
    return 1


def latest_feature_rows(
    features_by_symbol: Mapping[str, pd.DataFrame], names: list[str]
) -> pd.DataFrame:
    """Return each symbol's features at its latest bar (symbols as rows, ``names`` as columns)."""
    rows = {s: f.iloc[-1] for s, f in features_by_symbol.items()}
    stamps = {s: f.index[-1] for s, f in features_by_symbol.items()}
    table = pd.DataFrame(rows).T[names]
    table.insert(0, "timestamp", pd.Series(stamps))
    return table


def latest_windows(
    features_by_symbol: Mapping[str, pd.DataFrame], names: list[str], lookback: int
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


def check_labels_match(version: ModelVersion, labels: LabelsConfig) -> None:
    """Raise :class:`ConfigError` when ``labels`` define another target than ``version``'s.

    A version registered before labels were recorded is not checked.
    """
    recorded = training_record(version.config, what=f"{version.name} v{version.version}").labels
    if recorded is None:
        return
    # Only what the version recorded: an older version may lack a newer setting.
    differ = [
        k
        for k in LABEL_DEFINITION
        if k in recorded.model_fields_set and getattr(recorded, k) != getattr(labels, k)
    ]
    if differ:
        what = ", ".join(
            f"{k} {getattr(recorded, k)!r} (now {getattr(labels, k)!r})" for k in differ
        )
        raise ConfigError(
            f"{version.name} v{version.version} was trained on other labels: {what}.",
            hint="Use the labels settings it was trained with (alphaforge models show "
            f"{version.name} --version {version.version}).",
        )


@dataclass(frozen=True, slots=True)
class Combiner:
    """How the ensemble combines its models, as it would combine new rows.

    ``weights`` (average, performance: the weights of the newest row) or ``stack`` (a
    stacking pool fitted on every out-of-fold row), over ``models`` in that order.
    """

    method: str
    models: tuple[str, ...]
    weights: dict[str, float] | None = None
    stack: StackingEnsemble | None = None

    def combine(self, probabilities: Sequence[npt.NDArray[np.float64]]) -> npt.NDArray[np.float64]:
        """Return the ensemble's class probabilities from the models' (in ``models`` order)."""
        if self.stack is not None:
            return np.asarray(self.stack.predict_proba(list(probabilities)), dtype=np.float64)
        weights = self.weights or {m: 1.0 / len(self.models) for m in self.models}
        total = sum(weights[m] * p for m, p in zip(self.models, probabilities, strict=True))
        return np.asarray(total, dtype=np.float64)


def combiner_folder(root: Path, experiment: str) -> Path:
    """Return the folder of ``experiment``'s ensemble combiner in the registry at ``root``."""
    return root / "ensembles" / experiment


def load_combiner(
    root: Path, experiment: str, versions: Mapping[str, ModelVersion]
) -> tuple[Combiner | None, str]:
    """Return the saved combiner if it was fitted on exactly ``versions``, and a description.

    ``None`` (the caller averages) when there is none, or when a model's champion is not the
    version the combiner was fitted on (a challenger was promoted since).
    """
    folder = combiner_folder(root, experiment)
    path = folder / COMBINER_FILE
    if not path.exists():
        return None, "mean of the models' probabilities (no combiner registered)"
    record = json.loads(path.read_text(encoding="utf-8"))
    wanted = {m: int(v) for m, v in record["versions"].items()}
    have = {m: v.version for m, v in versions.items()}
    if wanted != have:
        return None, (
            f"mean of the models' probabilities (the {record['method']} combiner was fitted on "
            f"versions {wanted}, the champions are {have})"
        )
    stack = StackingEnsemble.load(folder) if record["method"] == "stacking" else None
    combiner = Combiner(
        record["method"], tuple(record["models"]), weights=record["weights"], stack=stack
    )
    return combiner, f"{record['method']}, as trained (versions {wanted})"


def champion_or_latest(registry: ModelRegistry, name: str, hint: str) -> ModelVersion:
    """Return ``name``'s newest champion, else its newest version; ConfigError when unknown."""
    known = registry.list(name)
    if not known:
        raise ConfigError(f"Model {name} is not in the registry.", hint=hint)
    champion = [v for v in known if v.stage == "champion"]
    return champion[-1] if champion else known[-1]


@dataclass(frozen=True, slots=True)
class Champions:
    """The versions that score: one per model, and the quantile model's if asked for."""

    root: Path
    experiment: str
    versions: dict[str, ModelVersion]
    quantiles: ModelVersion | None = None

    @property
    def feature_names(self) -> list[str]:
        """Return the union of every version's features, in first-seen order.

        Each model takes its own features (feature selection may differ between versions):
        the caller computes their union once.
        """
        every = [*self.versions.values(), *([self.quantiles] if self.quantiles else [])]
        return list(dict.fromkeys(n for v in every for n in v.feature_names))


def load_champions(
    root: Path,
    experiment: str,
    models: Sequence[str],
    labels: LabelsConfig,
    *,
    quantiles: bool = False,
) -> Champions:
    """Pick the champion (else the latest version) of every model of ``experiment``.

    Parameters
    ----------
    root
        The model registry's folder (``<data.store_dir>/models``).
    experiment, models
        Registered names are ``<experiment>.<model>``.
    labels
        The labels the caller expects; a version trained on others is refused in one line.
    quantiles
        Also pick ``<experiment>.quantiles``, the forward-return quantile model.
    """
    if not (root / "registry.sqlite").exists():
        raise ConfigError(
            f"No model registry in {root}.",
            hint="Run alphaforge train first (with the same data.store_dir).",
        )
    with ModelRegistry(root) as registry:
        versions = {}
        for name in models:
            versions[name] = champion_or_latest(
                registry,
                f"{experiment}.{name}",
                "Run alphaforge train with this experiment and these models first.",
            )
            check_labels_match(versions[name], labels)
        quantile_version = None
        if quantiles:
            quantile_version = champion_or_latest(
                registry,
                f"{experiment}.{QUANTILE_MODEL}",
                "Run alphaforge train with train.quantiles: true first, or set it to false.",
            )
            check_labels_match(quantile_version, labels)
    return Champions(root, experiment, versions, quantile_version)


@dataclass(frozen=True, slots=True)
class LatestScores:
    """The latest-bar scores of every symbol (``predict``'s table) and how they were made.

    ``scores`` has one row per symbol, sorted by rank: ``timestamp`` (the bar, UTC open
    time), one score per model, ``ensemble``, ``p_<class>`` (three classes: the ensemble's
    class probabilities), ``agreement``, for meta labels ``side`` and ``trade_score``,
    ``rank`` and the quantile columns. ``probabilities`` holds each model's and the
    ensemble's class probabilities (symbols x class names) in ``scores``' symbol order.
    ``seconds``: each model's inference time (wall clock, seconds; loading not counted),
    left out of equality so that two scorings of the same bars compare equal.
    """

    scores: pd.DataFrame
    probabilities: dict[str, pd.DataFrame]
    ensemble: str
    seconds: dict[str, float] = field(default_factory=dict, compare=False)


def score_latest(
    champions: Champions,
    features_by_symbol: Mapping[str, pd.DataFrame],
    labels: LabelsConfig,
    *,
    bars_by_symbol: Mapping[str, pd.DataFrame] | None = None,
) -> LatestScores:
    """Score each symbol's latest bar with ``champions``.

    Parameters
    ----------
    champions
        From :func:`load_champions`.
    features_by_symbol
        Each symbol's features (bar times x at least ``champions.feature_names``), computed
        as in training and ending at the bar to score; a sequence model reads the trailing
        window of its fitted lookback.
    labels
        The labels the champions learned (``kind`` picks binary or three classes).
    bars_by_symbol
        Each symbol's bars to the same bar: meta labels read the primary side from them.
    """
    names = champions.feature_names
    features = latest_feature_rows(features_by_symbol, names)
    out = pd.DataFrame({"timestamp": features["timestamp"]}, index=features.index)
    classes = THREE_CLASSES if labels.kind == "three_class" else BINARY_CLASSES
    probabilities: dict[str, npt.NDArray[np.float64]] = {}
    seconds: dict[str, float] = {}
    with ModelRegistry(champions.root) as registry:
        for name, version in champions.versions.items():
            own = list(version.feature_names)
            model = registry.load(version.name, version.version, expected_features=own)
            # A sequence model reads each symbol's trailing window, as in training.
            lookback = fitted_lookback(model)
            X = (
                features[own].to_numpy(np.float64)
                if lookback == 1
                else latest_windows(features_by_symbol, own, lookback)
                .loc[features.index]
                .to_numpy()
            )
            started = time.perf_counter()
            probabilities[name] = aligned_proba(model, X, len(classes))
            seconds[name] = time.perf_counter() - started
            out[name] = class_score(probabilities[name])
        quantiles = (
            None
            if champions.quantiles is None
            else latest_quantiles(registry, champions.quantiles, features)
        )
    model_columns = list(champions.versions)
    combiner, how = load_combiner(champions.root, champions.experiment, champions.versions)
    if combiner is not None:
        mean = combiner.combine([probabilities[m] for m in combiner.models])
    else:
        mean = np.mean(list(probabilities.values()), axis=0)
    out["ensemble"] = class_score(mean)
    if len(classes) > 2:
        for k, label in enumerate(classes):
            out[f"p_{label}"] = mean[:, k]
    center = 0.5 if len(classes) == 2 else 0.0
    side = out["ensemble"] > center
    out["agreement"] = out[model_columns].gt(center).eq(side, axis=0).mean(axis=1)
    ranked = out["ensemble"]
    if labels.kind == "meta":
        if bars_by_symbol is None:
            raise ValueError("meta labels need bars_by_symbol for the primary side.")
        # The meta model sizes the primary signal's bet: rank by side x confidence.
        out["side"] = primary_sides(bars_by_symbol, labels).reindex(out.index)
        # A flat primary takes no position: no trade score and no rank.
        ranked = (out["side"] * (out["ensemble"] - 0.5)).where(out["side"] != 0)
        out["trade_score"] = ranked
    out["rank"] = ranked.rank(ascending=False, method="first").astype("Int64")
    if quantiles is not None:
        out = out.join(quantiles)
    out.index.name = "symbol"
    scores = out.sort_values("rank")
    frames = {
        name: pd.DataFrame(p, index=features.index, columns=list(classes)).loc[scores.index]
        for name, p in (probabilities | {"ensemble": mean}).items()
    }
    return LatestScores(scores, frames, how, seconds)


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


def primary_sides(bars_by_symbol: Mapping[str, pd.DataFrame], labels: LabelsConfig) -> pd.Series:
    """Return each symbol's primary side (-1, 0, +1) at its latest bar, for meta labels."""
    return pd.Series(
        {
            symbol: float(primary_side(bars, labels).iloc[-1])
            for symbol, bars in bars_by_symbol.items()
        }
    )


def prediction_row(latest: LatestScores) -> pd.DataFrame:
    """Return the latest scores under the names of ``oof_predictions.parquet``.

    One row per symbol with ``score_<model>`` and ``score_ensemble``, ``p_<class>_<model>``
    (three classes), ``agreement``, and where present ``side`` and the quantile columns: what
    a strategy reading ``MarketFrames.predictions`` expects at the latest bar.
    """
    table = latest.scores
    three = len(next(iter(latest.probabilities.values())).columns) > 2
    columns: dict[str, pd.Series] = {}
    for name, proba in latest.probabilities.items():
        columns[f"score_{name}"] = table[name]
        if three:
            for label in proba.columns:
                columns[f"p_{label}_{name}"] = proba[label]
    columns["agreement"] = table["agreement"]
    extra = [c for c in table.columns if c == "side" or (c[:1] == "q" and c[1:].isdigit())]
    for column in extra:
        columns[column] = table[column]
    return pd.DataFrame(columns, index=table.index)


__all__ = [
    "COMBINER_FILE",
    "LABEL_DEFINITION",
    "PREDICTIONS_DIR",
    "PREDICTION_STAMP",
    "QUANTILE_MODEL",
    "Champions",
    "Combiner",
    "LatestScores",
    "aligned_proba",
    "champion_or_latest",
    "check_labels_match",
    "class_score",
    "combiner_folder",
    "fitted_lookback",
    "latest_feature_rows",
    "latest_quantiles",
    "latest_windows",
    "load_champions",
    "load_combiner",
    "prediction_path",
    "prediction_row",
    "safe_name",
    "score_latest",
]
