"""build_panel's label kinds: the cross-sectional target, or a per-symbol binary one."""

from __future__ import annotations

import numpy as np
import pytest

from alphaforge.config.models import LabelsConfig
from alphaforge.core.types import Interval
from alphaforge.features.testing import random_bars
from alphaforge.labels import binary_labels, triple_barrier_labels
from alphaforge.models.dataset import build_panel

BARS = {"A": random_bars(1, 400), "B": random_bars(2, 400), "C": random_bars(3, 400)}
NAMES = ["ret_log_5", "rsi_14"]


def _panel(kind: str):  # type: ignore[no-untyped-def]
    labels = LabelsConfig(kind=kind)  # type: ignore[arg-type]
    return build_panel(BARS, Interval.D1, labels, NAMES, min_history=50)


def test_direction_is_each_symbols_own_up_down_label() -> None:
    panel = _panel("direction")
    for symbol, bars in BARS.items():
        expected = binary_labels(bars, Interval.D1, 5, entry="next_open", exit="open")
        got = panel.target.xs(symbol, level="symbol")
        np.testing.assert_array_equal(got.to_numpy(), expected.values.iloc[50:].to_numpy())
        ends = panel.end.xs(symbol, level="symbol")
        assert ends.equals(expected.end.iloc[50:].set_axis(ends.index))


def test_triple_barrier_target_is_take_profit_first_with_the_touch_time_as_end() -> None:
    panel = _panel("triple_barrier")
    bars = BARS["B"]
    outcome = triple_barrier_labels(bars, Interval.D1, max_holding=5, upper=2.0, lower=2.0)
    touch = outcome.touch.iloc[50:].to_numpy()
    got = panel.target.xs("B", level="symbol").to_numpy()
    known = np.isfinite(touch)
    np.testing.assert_array_equal(got[known], (touch[known] > 0).astype(float))
    assert np.isnan(got[~known]).all()
    ends = panel.end.xs("B", level="symbol")
    assert ends.equals(outcome.labels.end.iloc[50:].set_axis(ends.index))


def test_cross_sectional_end_is_the_latest_label_end_of_the_bar() -> None:
    panel = _panel("cross_sectional")
    by_bar = panel.end.groupby(level="timestamp").nunique()
    assert (by_bar <= 1).all()


def test_an_unknown_kind_is_refused_by_the_config() -> None:
    with pytest.raises(ValueError, match="kind"):
        LabelsConfig(kind="nope")  # type: ignore[arg-type]


def test_three_class_target_is_class_codes_of_the_fixed_threshold() -> None:
    panel = _panel("three_class")
    assert panel.class_names == ("SELL", "HOLD", "BUY")
    assert panel.n_classes == 3
    bars = BARS["A"]
    # Independent reference: the simple return from the next open to the open 5 bars later.
    opens = bars["open"].to_numpy()
    ret = np.full(len(opens), np.nan)
    ret[:-6] = opens[6:] / opens[1:-5] - 1.0
    expected = np.where(ret >= 0.012, 2.0, np.where(ret <= -0.012, 0.0, 1.0))
    expected[np.isnan(ret)] = np.nan
    got = panel.target.xs("A", level="symbol").to_numpy()
    np.testing.assert_array_equal(got, expected[50:])
    assert set(np.unique(got[np.isfinite(got)])) == {0.0, 1.0, 2.0}


def test_volatility_scaled_three_class_thresholds_differ_from_fixed_ones() -> None:
    fixed = _panel("three_class").target
    labels = LabelsConfig(kind="three_class", volatility_multiplier=0.5)
    scaled = build_panel(BARS, Interval.D1, labels, NAMES, min_history=50).target
    both = fixed.notna() & scaled.notna()
    assert (fixed[both] != scaled[both]).any()


def test_meta_target_is_primary_side_taking_profit_and_flat_rows_have_no_label() -> None:
    from alphaforge.features import compute
    from alphaforge.labels import meta_labels

    panel = _panel("meta")
    assert panel.side is not None
    bars = BARS["C"]
    side = np.sign(compute(bars, ["ret_log_20"])["ret_log_20"].fillna(0.0))
    outcome = triple_barrier_labels(
        bars, Interval.D1, max_holding=5, upper=2.0, lower=2.0, side=side
    )
    expected = meta_labels(side, outcome)
    got = panel.target.xs("C", level="symbol").to_numpy()
    np.testing.assert_array_equal(got, expected.values.iloc[50:].to_numpy())
    sides = panel.side.xs("C", level="symbol").to_numpy()
    assert np.isnan(got[sides == 0]).all()
    # The portfolio ranks by side x (confidence - 1/2): a confident short ranks lowest.
    scores = panel.target.fillna(0.5) * 0 + 0.9
    trade = panel.trading_scores(scores)
    np.testing.assert_allclose(trade[panel.side != 0], 0.4 * panel.side[panel.side != 0])
    assert trade[panel.side == 0].isna().all()


def test_meta_with_an_unknown_primary_feature_is_a_config_error() -> None:
    from alphaforge.core.errors import ConfigError

    labels = LabelsConfig(kind="meta", primary_feature="nope_20")
    with pytest.raises(ConfigError, match="primary_feature"):
        build_panel(BARS, Interval.D1, labels, NAMES, min_history=50)
