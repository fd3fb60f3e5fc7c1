"""Training weights per fold: label uniqueness within each symbol times an age decay."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaforge.models.dataset import Panel, fold_weigher


def _panel(horizon_days: int) -> Panel:
    stamps = pd.date_range("2020-01-01", periods=10, freq="D", tz="UTC")
    index = pd.MultiIndex.from_product([stamps, ["A", "B"]], names=["timestamp", "symbol"])
    start = pd.Series(index.get_level_values("timestamp"), index=index)
    zeros = pd.Series(0.0, index=index)
    X = pd.DataFrame({"f": 0.0}, index=index)
    return Panel(X, zeros, zeros, start, start + pd.Timedelta(days=horizon_days))


def test_non_overlapping_labels_of_equal_age_weigh_the_same() -> None:
    weigh = fold_weigher(_panel(0), half_life_days=None, uniqueness_weights=True)
    assert weigh is not None
    np.testing.assert_allclose(weigh(np.arange(20)), np.ones(20))


def test_uniqueness_is_counted_per_symbol_not_across_the_panel() -> None:
    # 1-day labels (start..start+1 day, both ends alive): each overlaps its neighbours within
    # its own symbol only; symbol B's identical labels do not dilute A's.
    panel = _panel(1)
    weigh = fold_weigher(panel, half_life_days=None, uniqueness_weights=True)
    assert weigh is not None
    weights = weigh(np.arange(20))
    a = weights[0::2]
    b = weights[1::2]
    np.testing.assert_allclose(a, b)
    # Hand computation for symbol A on its decision times (days 0..9): concurrency is 1 on
    # day 0 and 2 on days 1..9. Uniqueness: the first label lives on days 0-1, (1 + 1/2) / 2;
    # the others on two days of concurrency 2, except the last, whose day 10 is not a
    # decision time: 1/2. Then normalised to mean 1.
    raw = np.array([0.75] + [0.5] * 9)
    np.testing.assert_allclose(a, raw / raw.mean())


def test_age_decay_halves_every_half_life_back_from_the_newest_training_row() -> None:
    weigh = fold_weigher(_panel(0), half_life_days=3.0, uniqueness_weights=False)
    assert weigh is not None
    rows = np.arange(0, 20, 2)  # symbol A, days 0..9
    weights = weigh(rows)
    assert weights[-1] / weights[-4] == pytest.approx(2.0)  # three days apart
    assert weights.mean() == pytest.approx(1.0)


def test_no_weighting_asked_gives_none() -> None:
    assert fold_weigher(_panel(0), half_life_days=None, uniqueness_weights=False) is None


def test_catalyst_rows_are_weighted_by_the_factor_per_symbol_and_for_all() -> None:
    from alphaforge.models.dataset import with_catalysts

    events = pd.DataFrame(
        {
            "time": pd.to_datetime(["2020-01-03", "2020-01-08"], utc=True),
            "symbol": ["A", None],  # day 3 only for A, day 8 for every symbol
        }
    )
    panel = with_catalysts(_panel(0), events, window_bars=1, factor=3.0)
    assert panel.row_weight is not None
    weight = panel.row_weight.unstack("symbol")
    # Within one bar of the event: days 2-4 for A alone, days 7-9 for both.
    expected_a = [1, 3, 3, 3, 1, 1, 3, 3, 3, 1]
    expected_b = [1, 1, 1, 1, 1, 1, 3, 3, 3, 1]
    np.testing.assert_allclose(weight["A"], expected_a)
    np.testing.assert_allclose(weight["B"], expected_b)
    # The fold weights multiply them in and keep mean 1.
    weigh = fold_weigher(panel, half_life_days=None, uniqueness_weights=False)
    assert weigh is not None
    rows = np.arange(20)
    got = weigh(rows)
    raw = panel.row_weight.to_numpy()
    np.testing.assert_allclose(got, raw / raw.mean())
