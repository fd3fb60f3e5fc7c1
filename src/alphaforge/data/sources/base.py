"""The data-source interface and its registry.

A source turns (instruments x date range x interval) into raw bar frames in the canonical
schema (UTC index stamped at bar open, float64 OHLCV). Sources translate; they do not repair:
:func:`alphaforge.data.service.fetch_validated` runs every frame through the validator.
Adding a source is one module that defines a class and registers a factory in ``SOURCES``.

Secrets (API keys) come from the caller: a factory receives the configuration's
:class:`~alphaforge.config.models.SecretsConfig`, which the configuration loader filled from
the environment or ``.env``. Sources never read the environment themselves, so a worker or a
test builds a source from values it holds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Protocol, runtime_checkable

import pandas as pd

from alphaforge.config.models import DataConfig, SecretsConfig
from alphaforge.core.registry import Registry
from alphaforge.core.types import AssetClass, Instrument, Interval


@runtime_checkable
class DataSource(Protocol):
    """Fetch bars from one provider.

    ``fetch`` returns a mapping symbol -> raw bar frame for every instrument it found; it raises
    :class:`~alphaforge.core.errors.UnknownSymbolError` for a symbol the provider does not know
    and :class:`~alphaforge.core.errors.SourceUnavailableError` when the provider cannot be
    reached. ``start`` and ``end`` are inclusive session dates (UTC).
    """

    name: str
    asset_classes: frozenset[AssetClass]
    intervals: frozenset[Interval]

    def fetch(
        self, instruments: Sequence[Instrument], start: date, end: date, interval: Interval
    ) -> dict[str, pd.DataFrame]: ...


#: Builds a source from the data configuration and the caller's secrets.
SourceFactory = Callable[[DataConfig, SecretsConfig], DataSource]

#: Every data source, by name. Values build a source from the data configuration and secrets.
SOURCES: Registry[SourceFactory] = Registry("data source")


def create_source(
    name: str, config: DataConfig, secrets: SecretsConfig | None = None
) -> DataSource:
    """Return the registered source called ``name`` built from ``config`` and ``secrets``.

    ``secrets`` is the caller's :class:`SecretsConfig` (``AppConfig.secrets``); ``None``
    means no keys, and a source that needs one refuses to fetch with
    :class:`~alphaforge.core.errors.MissingCredentialsError`.
    """
    return SOURCES.get(name)(config, secrets if secrets is not None else SecretsConfig())
