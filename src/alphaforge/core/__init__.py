"""Core value types, the canonical bar frame, errors and registries."""

from alphaforge.core.bars import (
    BAR_COLUMNS,
    PRICE_COLUMNS,
    between_dates,
    check_bars,
    close_times,
    content_hash,
    empty_bars,
    to_canonical,
)
from alphaforge.core.errors import (
    AlphaForgeError,
    ConfigError,
    DataError,
    DataHealthError,
    MissingCredentialsError,
    NotFoundError,
    RegistryError,
    SourceUnavailableError,
    UnknownSymbolError,
)
from alphaforge.core.registry import Registry
from alphaforge.core.types import (
    CRYPTO_CALENDAR,
    FOREX_CALENDAR,
    AssetClass,
    Instrument,
    Interval,
    default_calendar,
)

__all__ = [
    "BAR_COLUMNS",
    "CRYPTO_CALENDAR",
    "FOREX_CALENDAR",
    "PRICE_COLUMNS",
    "AlphaForgeError",
    "AssetClass",
    "ConfigError",
    "DataError",
    "DataHealthError",
    "Instrument",
    "Interval",
    "MissingCredentialsError",
    "NotFoundError",
    "Registry",
    "RegistryError",
    "SourceUnavailableError",
    "UnknownSymbolError",
    "between_dates",
    "check_bars",
    "close_times",
    "content_hash",
    "default_calendar",
    "empty_bars",
    "to_canonical",
]
