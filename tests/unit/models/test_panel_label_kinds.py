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
