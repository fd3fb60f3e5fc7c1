"""Fitting the models that go live on the most recent window, and registering them.

The walk-forward in :mod:`alphaforge.pipeline.train` only measures; what is registered is a
model fitted like one more fold, on the latest training window with its validation block,
and recorded in the registry with everything needed to judge and reproduce it: its feature
list (per-symbol and panel features, in column order; ``predict`` computes them with
:func:`alphaforge.models.dataset.compute_features`, as training did). With
``train.quantiles`` on, the quantile regression of the forward return is registered beside
the classifiers as ``<experiment>.quantiles``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from alphaforge.config import AppConfig
from alphaforge.core.types import Interval
from alphaforge.features import PANEL_FEATURES
from alphaforge.models import create_model
from alphaforge.models.base import Classifier
from alphaforge.models.calibration import CalibratedModel
from alphaforge.models.dataset import Panel, fold_weigher
from alphaforge.models.quantile import QuantileGBM, pinball_loss
from alphaforge.models.registry_store import ModelRegistry, ModelVersion
from alphaforge.models.scoring import (
    COMBINER_FILE,
    LABEL_DEFINITION,
    QUANTILE_MODEL,
    Combiner,
    aligned_proba,
    check_labels_match,
    combiner_folder,
)
from alphaforge.models.scoring import load_combiner as load_combiner_at
from alphaforge.pipeline.ensembling import ScoredRun
from alphaforge.pipeline.quantiles import QuantileReport, quantile_name, return_end
from alphaforge.pipeline.research import embargo_bars, fold_selector
from alphaforge.pipeline.results import (
    Overfitting,
    RecordedFeatures,
    TrainingRecord,
)
from alphaforge.pipeline.rundir import code_version
from alphaforge.pipeline.sequences import design_for
from alphaforge.validation.search import TrialRecord, chosen_config
from alphaforge.validation.walk_forward import Design


def build_model(config: AppConfig, model_config: Any, seed: int) -> Classifier:
    """Return one unfitted model, wrapped in isotonic calibration when asked."""
    model = create_model(model_config, seed=seed, n_jobs=config.run.n_jobs)
    if config.train.calibrate:
        return CalibratedModel(model=model)
    return model


def final_training_rows(
    panel: Panel,
    config: AppConfig,
    *,
    known: npt.NDArray[np.bool_] | None = None,
    end: pd.Series | None = None,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Return (train, validation) rows for the model that goes live: the most recent window.

    The validation block is the last ``walk_forward.validation_months`` of rows whose label is
    known; training rows are the ``train_months`` before it whose labels end before the
    validation block starts (purged), exactly as in a walk-forward fold. ``known`` and
    ``end`` replace the rows with a known label and their label end times (UTC) for another
    target (the quantile model's forward return).
    """
    end = panel.end if end is None else end
    if known is None:
        known = panel.target.notna().to_numpy() & end.notna().to_numpy()
    stamps = pd.DatetimeIndex(panel.timestamps)
    last = stamps[known].max()
    wf = config.walk_forward
    val_start = last - pd.DateOffset(months=wf.validation_months) if wf.validation_months else last
    train_start = val_start - pd.DateOffset(months=wf.train_months)
    ends = pd.DatetimeIndex(end)
    validation = (
        np.flatnonzero(known & (stamps >= val_start))
        if wf.validation_months
        else (np.empty(0, dtype=np.int64))
    )
    train = np.flatnonzero(
        known & (stamps >= train_start) & (stamps < val_start) & (ends < val_start)
    )
    return train.astype(np.int64), validation.astype(np.int64)


def register_final_models(
    config: AppConfig,
    panel: Panel,
    runs: Mapping[str, ScoredRun],
    overfitting: Overfitting,
    interval: Interval,
    search_trials: Sequence[TrialRecord] = (),
) -> dict[str, dict[str, Any]]:
    """Fit every model on the most recent window and register it; return what was done.

    A new version enters as a candidate. The first version of a name becomes champion. A
    later one does not replace the champion here: it has not yet been seen on data neither
    has trained on, which the champion/challenger test requires; the decision is recorded.
    """
    train, validation = final_training_rows(panel, config)
    X = panel.X.to_numpy(np.float64)
    y = panel.target.to_numpy(np.float64)
    weigh = fold_weigher(
        panel,
        half_life_days=config.labels.weight_half_life_days,
        uniqueness_weights=config.labels.uniqueness_weights,
    )
    symbols = sorted(set(panel.X.index.get_level_values("symbol")))
    stamps = pd.DatetimeIndex(panel.timestamps)
    # Feature selection as in the folds, fitted on the final training rows only; every model
    # of the run shares it (as each fold's models do).
    select = fold_selector(config, config.run.seed)
    chosen = (
        list(panel.X.columns)
        if select is None
        else select(panel.X.iloc[train], panel.target.iloc[train], -1)
    )
    columns = np.asarray(panel.X.columns.get_indexer(pd.Index(chosen)), dtype=np.int64)
    X_chosen = X if select is None else X[:, columns]
    out: dict[str, dict[str, Any]] = {}
    with ModelRegistry(registry_root(config)) as registry:
        for name, run in runs.items():
            # With a nested search, the configuration its latest fold chose (else the base).
            model_config = chosen_config(
                config.model.model_copy(update={"name": name}), search_trials
            )
            model = build_model(config, model_config, config.run.seed)
            # A sequence model gets each row's trailing window, exactly as in its folds.
            design = design_for(name, model_config, panel)

            def rows_of(
                positions: npt.NDArray[np.int64], design: Design | None = design
            ) -> npt.NDArray[np.float64]:
                return X_chosen[positions] if design is None else design(positions, columns)

            eval_set = (rows_of(validation), y[validation]) if len(validation) else None
            weights = weigh(train) if weigh is not None else None
            model.fit(rows_of(train), y[train], sample_weight=weights, eval_set=eval_set)
            # The baseline of the hit-rate drift check: how often the model's most probable
            # class was right on its validation block (rows it did not fit on).
            hit_rate = float("nan")
            if len(validation):
                proba = aligned_proba(model, rows_of(validation), panel.n_classes)
                hit_rate = float(np.mean(np.argmax(proba, axis=1) == y[validation]))
            full_name = f"{config.train.experiment}.{name}"
            version = registry.register(
                model,  # type: ignore[arg-type]
                name=full_name,
                kind=name,
                feature_names=chosen,
                data_start=stamps[train].min(),
                data_end=stamps[np.concatenate([train, validation])].max(),
                symbols=symbols,
                label=label_description(config),
                splitter=_splitter_description(config),
                metrics=run.metrics
                | run.prediction
                | {
                    "deflated_sharpe": overfitting.deflated_sharpe.get(name, float("nan")),
                    "validation_hit_rate": hit_rate,
                },
                seed=config.run.seed,
                code_version=code_version(),
                config=_training_config(
                    config, interval, model_config.model_dump(mode="json"), chosen
                ).model_dump(mode="json"),
            )
            decision = _decide(registry, version, config)
            out[name] = {"name": full_name, "version": version.version, "decision": decision}
    return out


def _decide(registry: ModelRegistry, version: ModelVersion, config: AppConfig) -> str:
    """Make a name's first version champion; record a later one as a candidate. Return how."""
    full_name = version.name
    champions = [v for v in registry.list(full_name) if v.stage == "champion"]
    if not champions:
        registry.promote(full_name, version.version, reason="first version of this model")
        return "champion (first version)"
    registry.promote(
        full_name,
        version.version,
        reason=(
            f"candidate: champion v{champions[-1].version} kept; compare with "
            f"`alphaforge models challenge {full_name}` once data after its "
            "training has arrived"
        ),
        numbers={
            "champion": champions[-1].version,
            # Bars after data_end that this version may have seen (label + embargo).
            "gap_bars": config.labels.horizon + embargo_bars(config),
        },
        promoted=False,
    )
    return (
        f"candidate (champion v{champions[-1].version} kept; compare with "
        f"`alphaforge models challenge {full_name}`)"
    )


def _splitter_description(config: AppConfig) -> str:
    wf = config.walk_forward
    return (
        f"purged walk-forward {wf.train_months}/{wf.validation_months}/{wf.test_months} "
        f"months, embargo {embargo_bars(config)} bars"
    )


def _training_config(
    config: AppConfig, interval: Interval, model: Mapping[str, Any], features: Sequence[str]
) -> TrainingRecord:
    """Return the settings a registered version records: what reproduces and reads it."""
    return TrainingRecord(
        interval=interval.value,
        train=config.train.model_dump(mode="json"),
        labels=config.labels,
        walk_forward=config.walk_forward,
        model=dict(model),
        features=RecordedFeatures(
            panel=[n for n in features if n in PANEL_FEATURES],
            min_history=config.features.min_history,
        ),
    )


#: The quantile model's kind (its name under ``train.experiment``: ``QUANTILE_MODEL``).
QUANTILE_KIND = "quantile_gbm"


def quantile_model_name(config: AppConfig) -> str:
    """Return the registry name of ``train.experiment``'s quantile model."""
    return f"{config.train.experiment}.{QUANTILE_MODEL}"


def quantile_model(config: AppConfig, levels: Sequence[float], seed: int) -> QuantileGBM:
    """Return an unfitted quantile model with the boosting settings of ``config.model``, as
    :func:`alphaforge.pipeline.quantiles.quantile_report` fits them in its folds."""
    return QuantileGBM(
        quantiles=tuple(levels),
        n_estimators=config.model.trees.n_estimators,
        learning_rate=config.model.trees.learning_rate,
        num_leaves=config.model.trees.num_leaves,
        min_child_samples=config.model.trees.min_child_samples,
        early_stopping_rounds=config.model.trees.early_stopping_rounds,
        random_state=seed,
        n_jobs=config.run.n_jobs,
    )


def register_quantile_model(
    config: AppConfig, panel: Panel, report: QuantileReport, interval: Interval
) -> dict[str, Any]:
    """Fit the quantile regression of the forward return on the most recent window; register it.

    Rows, purge and weights are those of the classifiers' final fit
    (:func:`final_training_rows`), with the forward return as the target: training rows
    whose return is known before the validation block starts, early stopping on the block
    (pinball loss per level). The version records every feature (``panel.X``'s columns, as
    the walk-forward used), the levels and their column names (``config["quantiles"]``,
    ``config["columns"]``: ``q10`` ... ``q90``), the walk-forward's out-of-fold pinball loss
    and coverage per level and the final model's validation pinball loss. Its predictions are
    log returns over the label's horizon, sorted per row. Returns what was registered.
    """
    levels = tuple(float(q) for q in report.summary["level"])
    y = panel.forward_return.to_numpy(np.float64)
    train, validation = final_training_rows(
        panel, config, known=np.isfinite(y), end=return_end(panel, config.labels)
    )
    X = panel.X.to_numpy(np.float64)
    weigh = fold_weigher(
        panel,
        half_life_days=config.labels.weight_half_life_days,
        uniqueness_weights=config.labels.uniqueness_weights,
    )
    model = quantile_model(config, levels, config.run.seed)
    eval_set = (X[validation], y[validation]) if len(validation) else None
    weights = weigh(train) if weigh is not None else None
    model.fit(X[train], y[train], sample_weight=weights, eval_set=eval_set)
    names = [quantile_name(q) for q in levels]
    metrics = dict(report.metrics())
    if len(validation):
        predicted = model.predict(X[validation])
        for j, (name, level) in enumerate(zip(names, levels, strict=True)):
            metrics[f"validation_pinball_{name}"] = pinball_loss(
                y[validation], predicted[:, j], level
            )
    stamps = pd.DatetimeIndex(panel.timestamps)
    features = [str(c) for c in panel.X.columns]
    settings = {k: v for k, v in model.__dict__.items() if not k.endswith("_")}
    record = _training_config(config, interval, settings, features).model_copy(
        update={
            "quantiles": list(levels),
            "columns": names,
            "target": "forward log return over labels.horizon bars",
        }
    )
    with ModelRegistry(registry_root(config)) as registry:
        version = registry.register(
            model,
            name=quantile_model_name(config),
            kind=QUANTILE_KIND,
            feature_names=features,
            data_start=stamps[train].min(),
            data_end=stamps[np.concatenate([train, validation])].max(),
            symbols=sorted(set(panel.X.index.get_level_values("symbol"))),
            label="forward log return over "
            f"{config.labels.horizon} bars, {config.labels.entry} to {config.labels.exit}: "
            + ", ".join(names),
            splitter=_splitter_description(config),
            metrics=metrics,
            seed=config.run.seed,
            code_version=code_version(),
            config=record.model_dump(mode="json"),
        )
        decision = _decide(registry, version, config)
    return {"name": version.name, "version": version.version, "decision": decision}


def label_description(config: AppConfig) -> str:
    """Return the training target in words, for the registry and the report."""
    labels = config.labels
    what = {
        "cross_sectional": "beats the cross-sectional median",
        "direction": "rises",
        "triple_barrier": (
            f"touches the upper barrier (+-{labels.barrier_multiplier} x volatility) first"
        ),
        "three_class": (
            "BUY / HOLD / SELL at +-"
            + (
                f"{labels.volatility_multiplier} x volatility x sqrt(horizon)"
                if labels.volatility_multiplier is not None
                else f"{labels.threshold:.2%}"
            )
        ),
        "meta": (
            f"trading the sign of {labels.primary_feature} takes profit first "
            f"(barriers +-{labels.barrier_multiplier} x volatility)"
        ),
    }[labels.kind]
    return f"{what} over {labels.horizon} bars, {labels.entry} to {labels.exit}"


def combiner_dir(config: AppConfig) -> Path:
    """Return the folder of ``train.experiment``'s ensemble combiner in the registry."""
    return combiner_folder(registry_root(config), config.train.experiment)


def save_combiner(
    config: AppConfig, combiner: Combiner, registered: Mapping[str, Mapping[str, Any]]
) -> Path:
    """Write how the ensemble combines its models, and which versions it was fitted on.

    ``predict`` combines the champions the same way while they are the versions recorded
    here; a stacking pool is saved beside the JSON. Written to a temporary folder first and
    moved into place, so a crash leaves the previous combiner whole.
    """
    final = combiner_dir(config)
    staging = final.with_name(final.name + ".writing")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    if combiner.stack is not None:
        combiner.stack.save(staging)
    record = {
        "method": combiner.method,
        "models": list(combiner.models),
        "versions": {m: int(registered[m]["version"]) for m in combiner.models},
        "weights": combiner.weights,
    }
    (staging / COMBINER_FILE).write_text(json.dumps(record, indent=2), encoding="utf-8")
    if final.exists():
        shutil.rmtree(final)
    staging.rename(final)
    return final


def load_combiner(
    config: AppConfig, versions: Mapping[str, ModelVersion]
) -> tuple[Combiner | None, str]:
    """Return ``train.experiment``'s saved combiner if fitted on exactly ``versions`` (see
    :func:`alphaforge.models.scoring.load_combiner`), and a description."""
    return load_combiner_at(registry_root(config), config.train.experiment, versions)


def registry_root(config: AppConfig) -> Path:
    """Return the model registry's folder under the data directory."""
    return Path(config.data.store_dir) / "models"


__all__ = [
    "LABEL_DEFINITION",
    "QUANTILE_KIND",
    "QUANTILE_MODEL",
    "build_model",
    "check_labels_match",
    "combiner_dir",
    "final_training_rows",
    "label_description",
    "load_combiner",
    "quantile_model",
    "quantile_model_name",
    "register_final_models",
    "register_quantile_model",
    "registry_root",
    "save_combiner",
]
