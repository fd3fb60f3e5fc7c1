"""Configuration models of the data stage: where bars come from, where they are stored, and
the bar validator's thresholds.

Units are stated per field. Times are UTC.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pydantic import Field

from alphaforge.config.base import FrozenModel
from alphaforge.core.types import Interval

__all__ = ["DataConfig", "ValidationRulesConfig"]


class DataConfig(FrozenModel):
    """Where bars come from and where they are stored."""

    source: str = Field("sample", description="Default data source: sample, yfinance, csv.")
    store_dir: Path = Field(Path(".alphaforge/store"), description="Root of the Parquet store.")
    interval: Interval = Field(
        Interval.D1, description="Default bar interval (1m 5m 15m 1h 1d 1wk 1mo)."
    )
    start: date | None = Field(None, description="First session to fetch; None = source default.")
    end: date | None = Field(None, description="Last session to fetch; None = today.")
    min_health_score: float = Field(
        0.8, ge=0.0, le=1.0, description="Runs refuse series scoring below this (0..1)."
    )
    allow_unhealthy: bool = Field(False, description="Override the health gate (recorded).")
    max_retries: int = Field(4, ge=0, description="Retries for online sources, with backoff.")
    backoff_seconds: float = Field(1.0, ge=0.0, description="First backoff delay; doubles.")
    alpaca_data_url: str | None = Field(
        None, description="Override of Alpaca's market-data endpoint (a local fake in tests)."
    )
    alpaca_feed: str = Field("iex", description="Alpaca stock feed: iex (free) or sip.")
    ccxt_exchange: str = Field("binance", description="ccxt exchange id of the ccxt source.")
    ccxt_url: str | None = Field(
        None, description="Override of the exchange's REST endpoint (a local fake in tests)."
    )


class ValidationRulesConfig(FrozenModel):
    """Thresholds of the bar validator (``docs/data.md`` explains each rule)."""

    split_jump: float = Field(
        0.38,
        gt=0,
        description="Smallest overnight log jump (abs) examined as a possible unadjusted split.",
    )
    split_tolerance: float = Field(
        0.02,
        gt=0,
        lt=0.2,
        description="Largest relative distance of a jump's ratio to a split ratio (0.02 = 2%).",
    )
    volume_surge: float = Field(
        2.0,
        gt=1,
        description="Share and dollar volume vs their 20-bar medians confirming a real move.",
    )
    spike_jump: float = Field(
        0.69,
        gt=0,
        description="Smallest log price step (abs) that can start or end a spike (0.69 ~ x2).",
    )
    spike_window: int = Field(5, ge=1, description="Most bars a spike (jump and revert) covers.")
    spike_revert: float = Field(
        0.25,
        gt=0,
        lt=1,
        description="A spike ends within this fraction of its jump (log) of where it started.",
    )
    drop_spikes: bool = Field(
        True, description="Drop spike bars (counted); False keeps them, flagged as known bad."
    )
    stale_run: int = Field(5, ge=2, description="Identical closes in a row that mark a stale run.")
    max_gap_fraction: float = Field(
        0.05, ge=0, le=1, description="Missing calendar sessions tolerated before a health penalty."
    )
