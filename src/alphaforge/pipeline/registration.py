"""Fitting the models that go live on the most recent window, and registering them.

The walk-forward in :mod:`alphaforge.pipeline.train` only measures; what is registered is a
model fitted like one more fold, on the latest training window with its validation block,
and recorded in the registry with everything needed to judge and reproduce it.
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
from alphaforge.config.models import LabelsConfig
from alphaforge.core.errors import ConfigError
from alphaforge.core.types import Interval
from alphaforge.models import create_model
from alphaforge.models.base import Classifier
from alphaforge.models.calibration import CalibratedModel
from alphaforge.models.dataset import Panel, fold_weigher
from alphaforge.models.ensemble import StackingEnsemble
from alphaforge.models.registry_store import ModelRegistry, ModelVersion
from alphaforge.pipeline.ensembling import Combiner, ScoredRun
from alphaforge.pipeline.research import embargo_bars, fold_selector
from alphaforge.pipeline.rundir import code_version
from alphaforge.pipeline.sequences import design_for
from alphaforge.validation.search import TrialRecord, chosen_config
from alphaforge.validation.walk_forward import Design, aligned_proba


def build_model(config: AppConfig, model_config: Any, seed: int) -> Classifier:
    """Return one unfitted model, wrapped in isotonic calibration when asked."""
    model = create_model(model_config, seed=seed, n_jobs=config.run.n_jobs)
    if config.train.calibrate:
        return CalibratedModel(model=model)
    return model


def final_training_rows(
    panel: Panel, config: AppConfig
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Return (train, validation) rows for the model that goes live: the most recent window.

    The validation block is the last ``walk_forward.validation_months`` of rows whose label is
    known; training rows are the ``train_months`` before it whose labels end before the
    validation block starts (purged), exactly as in a walk-forward fold.
    """
    known = panel.target.notna().to_numpy() & panel.end.notna().to_numpy()
    stamps = pd.DatetimeIndex(panel.timestamps)
    last = stamps[known].max()
    wf = config.walk_forward
    val_start = last - pd.DateOffset(months=wf.validation_months) if wf.validation_months else last
    train_start = val_start - pd.DateOffset(months=wf.train_months)
    ends = pd.DatetimeIndex(panel.end)
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
    overfitting: Mapping[str, Any],
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
                splitter=(
                    f"purged walk-forward {config.walk_forward.train_months}/"
                    f"{config.walk_forward.validation_months}/{config.walk_forward.test_months} "
                    f"months, embargo {embargo_bars(config)} bars"
                ),
                metrics=run.metrics
                | run.prediction
                | {
                    "deflated_sharpe": overfitting["deflated_sharpe"].get(name, float("nan")),
                    "validation_hit_rate": hit_rate,
                },
                seed=config.run.seed,
                code_version=code_version(),
                config={
                    "interval": interval.value,
                    "train": config.train.model_dump(mode="json"),
                    "labels": config.labels.model_dump(mode="json"),
                    "walk_forward": config.walk_forward.model_dump(mode="json"),
                    "model": model_config.model_dump(mode="json"),
                },
            )
            champions = [v for v in registry.list(full_name) if v.stage == "champion"]
            if not champions:
                registry.promote(full_name, version.version, reason="first version of this model")
                decision = "champion (first version)"
            else:
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
                decision = (
                    f"candidate (champion v{champions[-1].version} kept; compare with "
                    f"`alphaforge models challenge {full_name}`)"
                )
            out[name] = {"name": full_name, "version": version.version, "decision": decision}
    return out


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


def check_labels_match(version: ModelVersion, labels: LabelsConfig) -> None:
    """Raise :class:`ConfigError` when ``labels`` define another target than ``version``'s.

    A version registered before labels were recorded is not checked.
    """
    recorded = version.config.get("labels")
    if not isinstance(recorded, Mapping):
        return
    current = labels.model_dump(mode="json")
    differ = [k for k in LABEL_DEFINITION if k in recorded and recorded[k] != current.get(k)]
    if differ:
        what = ", ".join(f"{k} {recorded[k]!r} (now {current.get(k)!r})" for k in differ)
        raise ConfigError(
            f"{version.name} v{version.version} was trained on other labels: {what}.",
            hint="Use the labels settings it was trained with (alphaforge models show "
            f"{version.name} --version {version.version}).",
        )


#: File of an experiment's ensemble combiner, under ``<registry>/ensembles/<experiment>/``.
COMBINER_FILE = "combiner.json"


def combiner_dir(config: AppConfig) -> Path:
    """Return the folder of ``train.experiment``'s ensemble combiner in the registry."""
    return registry_root(config) / "ensembles" / config.train.experiment


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
    """Return the saved combiner if it was fitted on exactly ``versions``, and a description.

    ``None`` (the caller averages) when there is none, or when a model's champion is not the
    version the combiner was fitted on (a challenger was promoted since).
    """
    folder = combiner_dir(config)
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


def registry_root(config: AppConfig) -> Path:
    """Return the model registry's folder under the data directory."""
    return Path(config.data.store_dir) / "models"


__all__ = [
    "LABEL_DEFINITION",
    "build_model",
    "check_labels_match",
    "combiner_dir",
    "final_training_rows",
    "label_description",
    "load_combiner",
    "register_final_models",
    "registry_root",
    "save_combiner",
]
