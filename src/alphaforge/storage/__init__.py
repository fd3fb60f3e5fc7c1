"""Persistent stores: Parquet bars with a manifest and DuckDB views, and atomic file writes."""

from alphaforge.storage.atomic import (
    TEMP_SUFFIX,
    atomic_path,
    atomic_write_bytes,
    atomic_write_text,
    file_lock,
    remove_stale_temp_files,
)
from alphaforge.storage.bar_store import (
    BAR_FILE_NAME,
    MANIFEST_NAME,
    BarStore,
    SeriesEntry,
    SeriesKey,
    SeriesVersion,
    decode_symbol,
    encode_symbol,
)

__all__ = [
    "BAR_FILE_NAME",
    "MANIFEST_NAME",
    "TEMP_SUFFIX",
    "BarStore",
    "SeriesEntry",
    "SeriesKey",
    "SeriesVersion",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "decode_symbol",
    "encode_symbol",
    "file_lock",
    "remove_stale_temp_files",
]
