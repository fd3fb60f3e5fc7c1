"""Top-k long/short target weights and the buy-and-hold benchmark."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alphaforge.config import PortfolioConfig
from alphaforge.portfolio import buy_and_hold_weights, top_k_weights

NAMES = ["A", "B", "C", "D", "E", "F"]


def _frame(rows: list[list[float]]) -> pd.DataFrame:
    index = pd.date_range("2024-01-01", periods=len(rows), freq="D", tz="UTC", name="timestamp")
    return pd.DataFrame(rows, index=index, columns=NAMES[: len(rows[0])], dtype=np.float64)


def test_long_short_picks_the_top_and_bottom_k() -> None:
    scores = _frame([[0.5, 0.9, 0.1, 0.7, 0.3, 0.2]])
    w = top_k_weights(scores, PortfolioConfig(top_k=2, rebalance_every=1, gross_exposure=1.0))
    row = w.iloc[0]
    # Best two: B (0.9), D (0.7); worst two: C (0.1), F (0.2).
    assert row.to_dict() == {"A": 0.0, "B": 0.25, "C": -0.25, "D": 0.25, "E": 0.0, "F": -0.25}
    assert (row > 0).sum() == 2
    assert (row < 0).sum() == 2
    assert row.abs().sum() == pytest.approx(1.0)
    assert row.sum() == pytest.approx(0.0)


def test_gross_exposure_is_split_equally() -> None:
    scores = _frame([[6.0, 5.0, 4.0, 3.0, 2.0, 1.0]])
    w = top_k_weights(scores, PortfolioConfig(top_k=3, rebalance_every=1, gross_exposure=1.5))
    assert w.iloc[0].tolist() == [0.25, 0.25, 0.25, -0.25, -0.25, -0.25]


def test_long_only_mode() -> None:
    scores = _frame([[0.5, 0.9, 0.1, 0.7, 0.3, 0.2]])
    config = PortfolioConfig(top_k=2, long_short=False, rebalance_every=1, gross_exposure=0.8)
    row = top_k_weights(scores, config).iloc[0]
    assert row.to_dict() == {"A": 0.0, "B": 0.4, "C": 0.0, "D": 0.4, "E": 0.0, "F": 0.0}
    assert (row >= 0).all()


def test_rows_between_rebalances_are_nan() -> None:
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(8, 6)).tolist()
    rows[0] = [np.nan] * 6  # not scored yet: the schedule starts at the first scored bar
    scores = _frame(rows)
    w = top_k_weights(scores, PortfolioConfig(top_k=1, rebalance_every=3))
    rebalanced = w.notna().all(axis=1)
    assert rebalanced.tolist() == [False, True, False, False, True, False, False, True]
    held = w.notna().any(axis=1)
    assert held.equals(rebalanced)  # rows are all-NaN or fully set, never half
    assert w.index.equals(scores.index)
    assert w.columns.equals(scores.columns)


def test_nan_scores_are_never_held() -> None:
    scores = _frame([[np.nan, 0.9, 0.1, np.nan, 0.3, 0.2]])
    row = top_k_weights(scores, PortfolioConfig(top_k=1, rebalance_every=1)).iloc[0]
    assert row["A"] == 0.0
    assert row["D"] == 0.0
    assert row.to_dict() == {"A": 0.0, "B": 0.5, "C": -0.5, "D": 0.0, "E": 0.0, "F": 0.0}


def test_k_shrinks_when_few_names_are_scored() -> None:
    scores = _frame([[np.nan, 0.9, 0.1, np.nan, 0.3, np.nan]])
    # Three scored names, long/short, top_k=4 -> one long and one short.
    row = top_k_weights(scores, PortfolioConfig(top_k=4, rebalance_every=1)).iloc[0]
    assert row.to_dict() == {"A": 0.0, "B": 0.5, "C": -0.5, "D": 0.0, "E": 0.0, "F": 0.0}


def test_a_single_scored_name_long_short_holds_nothing() -> None:
    scores = _frame([[np.nan, 0.9, np.nan, np.nan, np.nan, np.nan]])
    row = top_k_weights(scores, PortfolioConfig(top_k=2, rebalance_every=1)).iloc[0]
    assert row.tolist() == [0.0] * 6


def test_nothing_scored_gives_all_nan() -> None:
    scores = _frame([[np.nan] * 6] * 3)
    w = top_k_weights(scores, PortfolioConfig())
    assert w.isna().all().all()
    assert w.shape == scores.shape


@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    n_names=st.integers(1, 12),
    n_bars=st.integers(1, 15),
    top_k=st.integers(1, 6),
    every=st.integers(1, 4),
    long_short=st.booleans(),
    gross=st.floats(0.1, 2.0),
)
def test_top_k_property(
    data: st.DataObject,
    n_names: int,
    n_bars: int,
    top_k: int,
    every: int,
    long_short: bool,
    gross: float,
) -> None:
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16), label="seed"))
    values = rng.permutation(n_names * n_bars).reshape(n_bars, n_names).astype(float)
    values[rng.random(values.shape) < 0.3] = np.nan
    scores = pd.DataFrame(values, columns=[f"S{i}" for i in range(n_names)])
    config = PortfolioConfig(
        top_k=top_k, long_short=long_short, gross_exposure=gross, rebalance_every=every
    )
    w = top_k_weights(scores, config)
    scored = [i for i in range(n_bars) if np.isfinite(values[i]).any()]
    rebalance_rows = set(scored[::every])
    for i in range(n_bars):
        row = w.iloc[i].to_numpy()
        if i not in rebalance_rows:
            assert np.isnan(row).all()
            continue
        finite = [j for j in range(n_names) if np.isfinite(values[i, j])]
        ranked = sorted(finite, key=lambda j: values[i, j])
        legs = 2 if long_short else 1
        k = min(top_k, len(ranked) // legs)
        longs = set(ranked[len(ranked) - k :]) if k else set()
        shorts = set(ranked[:k]) if (k and long_short) else set()
        assert set(np.flatnonzero(row > 0)) == longs
        assert set(np.flatnonzero(row < 0)) == shorts
        assert np.isfinite(row).all()
        if k:
            leg = gross / (legs * k)
            np.testing.assert_allclose(row[list(longs)], leg)
            np.testing.assert_allclose(row[list(shorts)], -leg)
            assert np.abs(row).sum() == pytest.approx(gross)
        # Unscored names are never held.
        assert (row[~np.isfinite(values[i])] == 0).all()


def test_buy_and_hold_weights() -> None:
    index = pd.date_range("2024-01-01", periods=4, freq="D", tz="UTC")
    columns = pd.Index(["A", "B", "C", "D", "E"])
    w = buy_and_hold_weights(index, columns)
    assert w.iloc[0].tolist() == [0.2] * 5
    assert w.iloc[1:].isna().all().all()
    assert w.index.equals(index)
    assert w.columns.equals(columns)


def test_buy_and_hold_weights_empty_index() -> None:
    w = buy_and_hold_weights(pd.DatetimeIndex([], tz="UTC"), pd.Index(["A"]))
    assert w.shape == (0, 1)
