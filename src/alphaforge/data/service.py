"""Data services the commands and pipelines call: validated loads into and out of the store."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd

from alphaforge.config import AppConfig, ValidationRulesConfig
from alphaforge.core.errors import DataError, DataHealthError
from alphaforge.core.types import Instrument, Interval
from alphaforge.data.health import health_gate
from alphaforge.data.sources import create_source, sample_catalog
from alphaforge.data.universe import load_universe
from alphaforge.data.update import Validator, update_many
from alphaforge.data.validation import ValidationReport, validate_bars
from alphaforge.storage import BarStore
from alphaforge.storage.series import HEALTH_GATE_KEY

#: Requested range for offline sample series: everything the packages ship.
SAMPLE_START = date(1980, 1, 1)
SAMPLE_END = date(2025, 12, 31)


def make_validator(
    rules: ValidationRulesConfig,
    *,
    min_health_score: float | None = None,
    allow_unhealthy: bool = False,
) -> Validator:
    """Return a store validator that repairs bars and refuses what must not be stored.

    Parameters
    ----------
    rules
        The validator's thresholds.
    min_health_score
        The health gate (``DataConfig.min_health_score``): a series scoring below it is
        refused with :class:`~alphaforge.core.errors.DataHealthError` (nothing is stored).
        None applies no gate (the run's own gate judges the data later).
    allow_unhealthy
        Store a series below the gate anyway; its report records the decision under
        :data:`~alphaforge.storage.series.HEALTH_GATE_KEY`, which marks the stored series
        as unhealthy (:attr:`SeriesEntry.stored_unhealthy`). A rejected series is always
        refused.
    """

    def validate(
        raw: pd.DataFrame, instrument: Instrument, interval: Interval
    ) -> tuple[pd.DataFrame, Mapping[str, object], float]:
        bars, report = validate_bars(raw, instrument, interval, rules)
        if report.rejected:
            raise DataError(
                f"{instrument.symbol}: rejected by validation: {'; '.join(report.reasons())}.",
                hint="Inspect the source data; nothing was stored.",
            )
        record: dict[str, object] = dict(report.to_dict())
        if min_health_score is not None:
            try:
                warnings = health_gate(
                    {instrument.symbol: report}, min_health_score, allow_unhealthy=allow_unhealthy
                )
            except DataHealthError as exc:
                raise DataHealthError(
                    f"{exc.message}; nothing was stored.",
                    hint="Fix the data at its source, or pass --allow-unhealthy to store it "
                    "marked as unhealthy.",
                ) from None
            record[HEALTH_GATE_KEY] = {
                "min_score": min_health_score,
                "passed": not warnings,
                "override": bool(warnings),
            }
        return bars, record, report.health_score

    return validate


def validate_market(
    bars: Mapping[str, pd.DataFrame],
    instruments: Mapping[str, Instrument],
    interval: Interval,
    config: AppConfig,
) -> tuple[dict[str, pd.DataFrame], dict[str, ValidationReport]]:
    """Validate in-memory bars (a generated market) the way stored bars are validated."""
    clean: dict[str, pd.DataFrame] = {}
    reports: dict[str, ValidationReport] = {}
    for symbol, frame in bars.items():
        clean[symbol], reports[symbol] = validate_bars(
            frame, instruments[symbol], interval, config.validation_rules
        )
    return clean, reports


@dataclass(frozen=True)
class LoadedUniverse:
    """Validated bars of a universe read back from the store, with their provenance."""

    bars: dict[str, pd.DataFrame]
    reports: dict[str, ValidationReport]
    origins: dict[str, str]
    record: dict[str, Any]
    store_hashes: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def load_sample_universe(store: BarStore, universe: str, config: AppConfig) -> LoadedUniverse:
    """Bring a universe of offline sample series into the store and read it back validated.

    Only what the store lacks is loaded (the update is incremental); each member keeps its own
    interval (``interval`` in the universe file).
    """
    members = load_universe(universe).members
    source = create_source("sample", config.data)
    validate = make_validator(config.validation_rules)
    catalog = sample_catalog()
    by_interval: dict[Interval, list[Instrument]] = {}
    for member in members:
        interval = Interval(member.interval or config.data.interval)
        by_interval.setdefault(interval, []).append(member.instrument)
    errors: dict[str, str] = {}
    for interval, instruments in by_interval.items():
        outcome = update_many(
            store, source, instruments, interval, SAMPLE_START, SAMPLE_END, validate=validate
        )
        errors.update(outcome.errors)
    bars: dict[str, pd.DataFrame] = {}
    reports: dict[str, ValidationReport] = {}
    origins: dict[str, str] = {}
    record: dict[str, Any] = {}
    hashes: dict[str, str] = {}
    for member in members:
        symbol = member.symbol
        if symbol in errors:
            continue
        interval = Interval(member.interval or config.data.interval)
        entry = store.entry(symbol, interval, asset_class=member.instrument.asset_class)
        if entry is None:
            continue
        bars[symbol] = store.read(symbol, interval, asset_class=member.instrument.asset_class)
        reports[symbol] = (
            ValidationReport.from_dict(entry.validation)
            if entry.validation
            else validate_bars(bars[symbol], member.instrument, interval)[1]
        )
        series = catalog.get(symbol)
        origins[symbol] = series.origin if series is not None else entry.source
        hashes[f"{entry.key}"] = entry.content_hash
        record[symbol] = {
            "kind": "real",
            "origin": origins[symbol],
            "interval": interval.value,
            "start": entry.start,
            "end": entry.end,
            "rows": entry.rows,
            "content_hash": entry.content_hash,
        }
    return LoadedUniverse(bars, reports, origins, record, hashes, errors)
