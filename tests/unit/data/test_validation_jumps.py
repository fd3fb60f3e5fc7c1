"""Split, spike or real move: the jump rules of the bar validator, one threshold at a time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaforge.config.models import ValidationRulesConfig
from alphaforge.core import AssetClass, Instrument, Interval
from alphaforge.data.calendars import expected_bars
from alphaforge.data.jumps import find_spikes, splits_apply
from alphaforge.data.validation import (
    HEALTH_PENALTIES,
    SEVERE_PENALTY,
    Action,
    Issue,
    ValidationReport,
    validate_bars,
)

STOCK = Instrument("AAPL", AssetClass.STOCK)


def _equity_daily(seed: int = 0) -> pd.DataFrame:
    """Clean XNYS daily bars of 2023: small moves, a real range, steady volume."""
    index = expected_bars("XNYS", "2023-01-01", "2023-12-31", Interval.D1).as_unit("ns")
    rng = np.random.default_rng(seed)
    n = len(index)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    open_ = close * np.exp(rng.normal(0.0, 0.002, n))
    wiggle = rng.uniform(0.001, 0.02, n)
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * (1 + wiggle),
            "low": np.minimum(open_, close) * (1 - wiggle),
            "close": close,
            "volume": rng.integers(9_000, 11_000, n).astype("float64"),
        },
        index=index,
    )


def _scale_from(raw: pd.DataFrame, t: int, factor: float) -> pd.DataFrame:
    """Multiply the prices from row ``t`` on, with the open of ``t`` exactly ``factor`` x."""
    out = raw.copy()
    out.iloc[t:, :4] = out.iloc[t:, :4] * factor
    out.iloc[t, 0] = out["close"].iloc[t - 1] * factor
    out.iloc[t, 1] = max(out.iloc[t, 1], out.iloc[t, 0])
    out.iloc[t, 2] = min(out.iloc[t, 2], out.iloc[t, 0])
    return out


def _kinds(report: ValidationReport) -> set[str]:
    return {i.kind for i in report.issues}


def _issue(report: ValidationReport, kind: str) -> Issue:
    found = [i for i in report.issues if i.kind == kind]
    assert len(found) == 1, f"expected one {kind} issue, got {report.issues}"
    return found[0]


# --- split ratios and their tolerance ----------------------------------------------------


@pytest.mark.parametrize(
    "factor", [1 / 2, 1 / 3, 1 / 4, 1 / 5, 1 / 10, 2 / 3, 3 / 2, 2.0, 3.0, 4.0, 5.0, 10.0]
)
def test_every_split_ratio_and_inverse_is_flagged(factor: float) -> None:
    raw = _scale_from(_equity_daily(), 120, factor)
    _, report = validate_bars(raw, STOCK, Interval.D1)
    issue = _issue(report, "split_like_jump")
    assert (issue.action, issue.severe) == (Action.FLAGGED, True)
    assert report.health_score < 0.8


@pytest.mark.parametrize(("factor", "flagged"), [(0.5 * 1.019, True), (0.5 * 1.03, False)])
def test_split_tolerance_is_two_percent(factor: float, flagged: bool) -> None:
    raw = _scale_from(_equity_daily(), 120, factor)
    _, report = validate_bars(raw, STOCK, Interval.D1)
    assert ("split_like_jump" in _kinds(report)) is flagged
    loose = ValidationRulesConfig(split_tolerance=0.05)
    _, lenient = validate_bars(raw, STOCK, Interval.D1, loose)
    assert "split_like_jump" in _kinds(lenient)


@pytest.mark.parametrize("factor", [0.4, 1.75, 2.5, 6.0, 100.0])
def test_a_persistent_jump_off_the_split_ratios_is_a_real_move(factor: float) -> None:
    raw = _scale_from(_equity_daily(), 120, factor)
    bars, report = validate_bars(raw, STOCK, Interval.D1)
    assert report.issues == ()
    assert report.health_score == 1.0
    assert len(bars) == len(raw)


def test_a_jump_at_a_split_ratio_with_a_volume_surge_is_a_real_move() -> None:
    raw = _scale_from(_equity_daily(), 120, 0.5)
    raw.iloc[120, raw.columns.get_loc("volume")] = raw["volume"].iloc[100:120].median() * 8
    _, report = validate_bars(raw, STOCK, Interval.D1)
    assert "split_like_jump" not in _kinds(report)
    # Twice the shares is what a raw 2-for-1 split shows (dollar volume unchanged): a split.
    raw.iloc[120, raw.columns.get_loc("volume")] = raw["volume"].iloc[100:120].median() * 2
    _, split = validate_bars(raw, STOCK, Interval.D1)
    assert "split_like_jump" in _kinds(split)
    strict = ValidationRulesConfig(volume_surge=20.0)
    raw.iloc[120, raw.columns.get_loc("volume")] = raw["volume"].iloc[100:120].median() * 8
    _, unconfirmed = validate_bars(raw, STOCK, Interval.D1, strict)
    assert "split_like_jump" in _kinds(unconfirmed)


def test_a_reverse_split_in_raw_data_is_not_confirmed_by_dollar_volume_alone() -> None:
    # Raw 1-for-10 reverse split: price x10, shares /10 -> dollar volume unchanged.
    raw = _scale_from(_equity_daily(), 120, 10.0)
    raw.iloc[120:, 4] = raw.iloc[120:, 4] / 10
    _, report = validate_bars(raw, STOCK, Interval.D1)
    assert "~10" in _issue(report, "split_like_jump").detail
    # Volume adjusted, prices raw: dollar volume x10 but no more shares traded.
    adjusted = _scale_from(_equity_daily(), 120, 10.0)
    _, report = validate_bars(adjusted, STOCK, Interval.D1)
    assert "split_like_jump" in _kinds(report)


def test_a_matching_reference_move_makes_a_jump_real() -> None:
    raw = _scale_from(_equity_daily(), 120, 0.5)
    index = pd.DatetimeIndex(raw.index)
    calm = pd.Series(50.0, index=index)
    _, report = validate_bars(raw, STOCK, Interval.D1, reference=calm)
    assert "unconfirmed by volume or the reference" in _issue(report, "split_like_jump").detail
    crash = calm.copy()
    crash.iloc[120:] = 30.0  # the sector fell too (log -0.51, more than half of -0.69)
    _, report = validate_bars(raw, STOCK, Interval.D1, reference=crash)
    assert "split_like_jump" not in _kinds(report)
    naive = crash.copy()
    naive.index = index.tz_localize(None)
    _, report = validate_bars(raw, STOCK, Interval.D1, reference=naive)
    assert "split_like_jump" not in _kinds(report)
    opposite = calm.copy()
    opposite.iloc[120:] = 90.0
    _, report = validate_bars(raw, STOCK, Interval.D1, reference=opposite)
    assert "split_like_jump" in _kinds(report)


@pytest.mark.parametrize(
    "instrument",
    [
        Instrument("^VIX", AssetClass.INDEX),
        Instrument("^VIX", AssetClass.STOCK),  # a caret symbol is an index whatever it says
        Instrument("SPX", AssetClass.INDEX),
        Instrument("EURUSD", AssetClass.FOREX, calendar="XNYS"),
        Instrument("CPI", AssetClass.MACRO),
    ],
)
def test_indices_fx_and_macro_never_get_split_flags(instrument: Instrument) -> None:
    assert not splits_apply(instrument)
    raw = _scale_from(_equity_daily(), 120, 2.0)
    _, report = validate_bars(raw, instrument, Interval.D1)
    assert "split_like_jump" not in _kinds(report)


@pytest.mark.parametrize("asset_class", [AssetClass.STOCK, AssetClass.ETF, AssetClass.CRYPTO])
def test_share_classes_get_split_flags(asset_class: AssetClass) -> None:
    assert splits_apply(Instrument("X", asset_class))


# --- spikes ---------------------------------------------------------------------------------


def test_a_spike_reverting_within_the_window_is_dropped() -> None:
    clean = _equity_daily()
    raw = clean.copy()
    raw.iloc[60:63, :4] = raw.iloc[60:63, :4] * 100  # three bars, then back
    bars, report = validate_bars(raw, STOCK, Interval.D1)
    spike = _issue(report, "price_spike")
    assert (spike.action, spike.count, spike.severe) == (Action.DROPPED, 3, False)
    assert not bars.index.isin(clean.index[60:63]).any()
    assert report.rows_in - report.rows_out == 3
    assert _issue(report, "calendar_gap").count == 3
    expected = 1.0 - HEALTH_PENALTIES["price_spike"] * 3 / len(raw) - 3 / len(raw)
    assert report.health_score == pytest.approx(expected, abs=1e-6)


def test_a_jump_reverting_after_the_window_is_not_a_spike() -> None:
    raw = _equity_daily()
    raw.iloc[60:70, :4] = raw.iloc[60:70, :4] * 100  # ten bars: longer than spike_window 5
    _, report = validate_bars(raw, STOCK, Interval.D1)
    assert "price_spike" not in _kinds(report)
    _, wide = validate_bars(raw, STOCK, Interval.D1, ValidationRulesConfig(spike_window=10))
    assert _issue(wide, "price_spike").count == 10


def test_a_jump_followed_by_a_partial_reversal_is_not_a_spike() -> None:
    # The VIX's February 2018 shape: +116 %, then down by a third, not back to the start.
    raw = _equity_daily()
    raw.iloc[60:, :4] = raw.iloc[60:, :4] * 2.16
    raw.iloc[61:, :4] = raw.iloc[61:, :4] * 0.8
    _, report = validate_bars(raw, Instrument("^VIX", AssetClass.INDEX), Interval.D1)
    assert report.issues == ()


def test_a_kept_spike_is_severe() -> None:
    raw = _equity_daily()
    raw.iloc[60, :4] = raw.iloc[60, :4] * 100
    rules = ValidationRulesConfig(drop_spikes=False)
    bars, report = validate_bars(raw, STOCK, Interval.D1, rules)
    spike = _issue(report, "price_spike")
    assert (spike.action, spike.count, spike.severe) == (Action.FLAGGED, 1, True)
    assert len(bars) == len(raw)
    assert report.health_score <= 1.0 - SEVERE_PENALTY


def test_a_spike_inside_a_bar_drops_that_bar() -> None:
    raw = _equity_daily()
    raw.iloc[60, raw.columns.get_loc("close")] *= 100  # close and high x100, open normal
    raw.iloc[60, raw.columns.get_loc("high")] = raw["close"].iloc[60]
    bars, report = validate_bars(raw, STOCK, Interval.D1)
    assert _issue(report, "price_spike").count == 1
    assert raw.index[60] not in bars.index


def test_find_spikes_ignores_the_edges() -> None:
    opens = np.array([100.0, 1.0, 1.0, 1.0, 1.0])
    closes = opens.copy()
    assert not find_spikes(opens, closes, jump=0.69, window=5, revert=0.25).any()
    tail = np.array([1.0, 1.0, 1.0, 1.0, 100.0])
    assert not find_spikes(tail, tail.copy(), jump=0.69, window=5, revert=0.25).any()
    middle = np.array([1.0, 1.0, 100.0, 1.0, 1.0])
    assert find_spikes(middle, middle.copy(), jump=0.69, window=5, revert=0.25).tolist() == [
        False,
        False,
        True,
        False,
        False,
    ]


# --- the report keeps its shape ---------------------------------------------------------------


def test_severe_issues_round_trip_and_old_reports_still_load() -> None:
    raw = _scale_from(_equity_daily(), 120, 0.5)
    _, report = validate_bars(raw, STOCK, Interval.D1)
    assert ValidationReport.from_dict(report.to_dict()) == report
    old = report.to_dict()
    old["issues"] = [
        {k: v for k, v in issue.items() if k != "severe"}
        for issue in old["issues"]  # type: ignore[attr-defined]
    ]
    loaded = ValidationReport.from_dict(old)
    assert not any(i.severe for i in loaded.issues)
