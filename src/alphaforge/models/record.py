"""What a registered model version records about its training (the registry's ``config``).

Written by :mod:`alphaforge.pipeline.registration`, read by scoring
(:mod:`alphaforge.models.scoring`), ``predict`` and the model lifecycle through
:func:`training_record`. It lives with the models so that scoring a champion needs nothing
above this layer; :mod:`alphaforge.pipeline.results` re-exports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from alphaforge.config.models import LabelsConfig, WalkForwardConfig
from alphaforge.core.errors import ConfigError


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RecordedFeatures(_Record):
    """How a registered model's inputs were computed, beyond their names."""

    #: The panel features among the inputs: computed over the whole universe (and the index
    #: and macro series they read), so scoring needs the same universe.
    panel: list[str] = Field(default_factory=list)
    min_history: int | None = None


class TrainingRecord(_Record):
    """What a registered model version records about its training (the registry's ``config``).

    Written by :mod:`alphaforge.pipeline.registration`, read through :func:`training_record`.
    Every field is optional: versions registered by earlier releases lack the newer ones.
    """

    interval: str | None = None
    train: dict[str, Any] | None = None
    labels: LabelsConfig | None = None
    walk_forward: WalkForwardConfig | None = None
    #: The model's settings as fitted (a fold's search may have changed them).
    model: dict[str, Any] = Field(default_factory=dict)
    features: RecordedFeatures | None = None
    #: Quantile models: the levels, their output columns and the regression target.
    quantiles: list[float] | None = None
    columns: list[str] | None = None
    target: str | None = None
    #: Online updates: what the update continued from and fitted on.
    online_update: dict[str, Any] | None = None


def training_record(config: Mapping[str, Any], *, what: str) -> TrainingRecord:
    """Return a registered version's training record, failing in one line when unreadable.

    ``config`` is the version's stored ``config``; ``what`` names the version in the error.
    """
    try:
        return TrainingRecord.model_validate(dict(config))
    except ValidationError as exc:
        raise ConfigError(
            f"{what} has a training record this version cannot read ({_first_error(exc)}).",
            hint="Retrain it with this AlphaForge version (alphaforge train).",
        ) from None


def _first_error(exc: ValidationError) -> str:
    """Return the first validation problem as ``where: what``."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "the top level"
    return f"{where}: {first['msg']}"


__all__ = ["RecordedFeatures", "TrainingRecord", "training_record"]
