"""The corruption battery through the store: what an import of each corrupted copy stores.

``test_corruption_battery.py`` checks what the validator reports and keeps; this checks the
other half of the promise, on the same real GOOG bars imported by the path ``data import``
takes (``import_bars`` with the health gate): a series is either refused with nothing written,
or stored with a passing health, every lost row counted and no planted bad value in it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphaforge.config.models import DataConfig, ValidationRulesConfig
from alphaforge.core import AlphaForgeError, Interval
from alphaforge.data.service import make_validator
from alphaforge.data.sources.sample import sample_bars, sample_instrument
from alphaforge.data.update import import_bars
from alphaforge.storage import BarStore

GATE = DataConfig().min_health_score
GOOG = sample_instrument("GOOG")

#: A corruption: the raw bars and the planted (stamp, column) values known to be wrong.
Corrupted = tuple[pd.DataFrame, dict[tuple[pd.Timestamp, str], float]]


def _plant(raw: pd.DataFrame, rows: list[int], column: str, values: list[float]) -> Corrupted:
    raw.iloc[rows, raw.columns.get_loc(column)] = values
    return raw, {(raw.index[r], column): v for r, v in zip(rows, values, strict=True)}


def _nan_close() -> Corrupted:
    return _plant(sample_bars("GOOG"), [100, 500], "close", [np.nan, np.nan])


def _inf_high() -> Corrupted:
    return _plant(sample_bars("GOOG"), [200], "high", [np.inf])


def _zero_close() -> Corrupted:
    return _plant(sample_bars("GOOG"), [300], "close", [0.0])


def _close_above_high() -> Corrupted:
    raw = sample_bars("GOOG")
    return _plant(raw, [400], "close", [float(raw["high"].iloc[400]) * 1.05])


def _swapped_high_low() -> Corrupted:
    raw = sample_bars("GOOG")
    high, low = float(raw["high"].iloc[600]), float(raw["low"].iloc[600])
    raw.iloc[600, raw.columns.get_loc("high")] = low
    raw.iloc[600, raw.columns.get_loc("low")] = high
    return raw, {}  # a proven repair: nothing wrong is left


def _negative_volume() -> Corrupted:
    return _plant(sample_bars("GOOG"), [700], "volume", [-1000.0])


def _duplicates() -> Corrupted:
    raw = sample_bars("GOOG")
    return pd.concat([raw, raw.iloc[[50, 51]]]), {}


def _fat_finger() -> Corrupted:
    raw = sample_bars("GOOG")
    planted: dict[tuple[pd.Timestamp, str], float] = {}
    for column in ("open", "high", "low", "close"):
        planted |= _plant(raw, [900], column, [float(raw[column].iloc[900]) * 100])[1]
    return raw, planted


def _unadjusted_split() -> Corrupted:
    raw = sample_bars("GOOG")
    gap = np.abs(np.log(raw["open"].to_numpy()[1:] / raw["close"].to_numpy()[:-1]))
    t = int(np.flatnonzero(gap < 0.002)[np.flatnonzero(gap < 0.002) > 1000][0]) + 1
    raw.iloc[:t, :4] = raw.iloc[:t, :4] * 4.0
    raw.iloc[:t, 4] = raw.iloc[:t, 4] / 4.0
    return raw, {(raw.index[r], "close"): float(raw["close"].iloc[r]) for r in range(t)}


def _frozen() -> Corrupted:
    raw = sample_bars("GOOG")
    price = float(raw["close"].iloc[799])
    planted: dict[tuple[pd.Timestamp, str], float] = {}
    for column in ("open", "high", "low", "close"):
        planted |= _plant(raw, list(range(800, 810)), column, [price] * 10)[1]
    return raw, planted


def _weekend() -> Corrupted:
    raw = sample_bars("GOOG")
    fridays = raw.index[raw.index.day_of_week == 4][[10, 50]]
    extra = raw.loc[fridays].copy()
    extra.index = fridays + pd.Timedelta(days=1)
    out = pd.concat([raw, extra]).sort_index()
    return out, {(stamp, "close"): float(extra.at[stamp, "close"]) for stamp in extra.index}


#: Each corruption and whether a healthy series survives it (True) or the import is refused.
CASES: dict[str, tuple[Callable[[], Corrupted], bool]] = {
    "nan-close": (_nan_close, True),
    "inf-high": (_inf_high, True),
    "zero-close": (_zero_close, True),
    "close-above-high": (_close_above_high, True),
    "swapped-high-low": (_swapped_high_low, True),
    "negative-volume": (_negative_volume, True),
    "duplicate-stamps": (_duplicates, True),
    "x100-fat-finger": (_fat_finger, True),
    "unadjusted-4-for-1-split": (_unadjusted_split, False),
    "frozen-prices": (_frozen, False),
    "weekend-bars": (_weekend, False),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_an_import_stores_nothing_known_bad_as_healthy(case: str, tmp_path: Path) -> None:
    build, survives = CASES[case]
    raw, planted = build()
    store = BarStore(tmp_path / "store")
    validate = make_validator(ValidationRulesConfig(), min_health_score=GATE)
    if not survives:
        with pytest.raises(AlphaForgeError, match="nothing was stored"):
            import_bars(store, GOOG, Interval.D1, raw, source="file:x.csv", validate=validate)
        assert store.entries() == []
        return
    result = import_bars(store, GOOG, Interval.D1, raw, source="file:x.csv", validate=validate)
    entry = result.entry
    assert entry.health_score is not None
    assert entry.health_score >= GATE
    stored = store.read("GOOG", Interval.D1, asset_class=GOOG.asset_class)
    report = entry.validation
    assert report is not None
    issues = report["issues"]
    assert isinstance(issues, list)
    dropped = sum(int(i["count"]) for i in issues if i["action"] == "dropped")
    assert len(stored) == len(raw) - dropped  # no row lost without a counted reason
    kept_bad = [
        key for key, value in planted.items() if key[0] in stored.index and stored.at[key] == value
    ]
    assert kept_bad == []
    assert np.isfinite(stored.to_numpy()).all()
    assert (stored["volume"] >= 0).all()
    assert (stored["low"] <= stored[["open", "close"]].min(axis=1)).all()
    assert (stored["high"] >= stored[["open", "close"]].max(axis=1)).all()
