"""Trailing windows in the walk-forward: each row sees its own symbol's past, never later rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alphaforge.config.models import ModelConfig
from alphaforge.models.dataset import Panel
from alphaforge.models.deep.windows import trailing_positions
from alphaforge.pipeline.sequences import design_for, window_design


def test_trailing_positions_match_a_hand_built_table() -> None:
    # Rows in time order: t0 A, t0 B, t1 A, t2 B, t2 A, t3 C, t3 A.
    symbols = ["A", "B", "A", "B", "A", "C", "A"]
    expected = np.array(
        [
            [-1, -1, 0],  # A's first row
            [-1, -1, 1],  # B's first row
            [-1, 0, 2],
            [-1, 1, 3],
            [0, 2, 4],
            [-1, -1, 5],  # C's only row
            [2, 4, 6],  # A's fourth row: the oldest (row 0) has left the window
        ]
    )
    np.testing.assert_array_equal(trailing_positions(symbols, 3), expected)
    np.testing.assert_array_equal(trailing_positions(symbols, 1), np.arange(7)[:, None])
    assert trailing_positions([], 4).shape == (0, 4)
    with pytest.raises(ValueError, match="lookback must be at least 1"):
        trailing_positions(symbols, 0)


@st.composite
def _panels(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int]:
    """Random symbol-by-time membership, rows sorted by (time, symbol) as a panel is."""
    n_times = draw(st.integers(1, 25))
    n_symbols = draw(st.integers(1, 5))
    present = draw(
        st.lists(
            st.lists(st.booleans(), min_size=n_symbols, max_size=n_symbols),
            min_size=n_times,
            max_size=n_times,
        )
    )
    times = [t for t in range(n_times) for s in range(n_symbols) if present[t][s]]
    symbols = [f"S{s}" for t in range(n_times) for s in range(n_symbols) if present[t][s]]
    return np.asarray(times), np.asarray(symbols, dtype=object), draw(st.integers(1, 8))


@settings(max_examples=150, deadline=None)
@given(_panels())
def test_a_window_holds_only_its_own_symbols_past(
    drawn: tuple[np.ndarray, np.ndarray, int],
) -> None:
    times, symbols, lookback = drawn
    positions = trailing_positions(symbols, lookback)
    assert positions.shape == (len(times), lookback)
    for row in range(len(times)):
        window = positions[row]
        real = window[window >= 0]
        assert window[-1] == row
        assert (times[real] <= times[row]).all()  # nothing after the row's bar
        assert (symbols[real] == symbols[row]).all()  # nothing of another symbol
        assert (np.diff(times[real]) > 0).all()  # oldest first, one row per bar
        # Padding only at the front, and only when the symbol has fewer earlier rows.
        assert (window[: lookback - len(real)] == -1).all()
        own_past = np.flatnonzero((symbols == symbols[row]) & (times <= times[row]))
        np.testing.assert_array_equal(real, own_past[-lookback:])


def _panel(n_times: int = 6, symbols: tuple[str, ...] = ("A", "B", "C")) -> Panel:
    stamps = pd.date_range("2021-01-04", periods=n_times, freq="D", tz="UTC")
    index = pd.MultiIndex.from_product([stamps, symbols], names=["timestamp", "symbol"])
    n = len(index)
    # Feature j of row i is 100 * i + j: every value names its row and column.
    X = pd.DataFrame(
        100.0 * np.arange(n)[:, None] + np.arange(4)[None, :],
        index=index,
        columns=["f0", "f1", "f2", "f3"],
    )
    start = pd.Series(index.get_level_values("timestamp"), index=index)
    target = pd.Series(np.arange(n) % 2, index=index, dtype=np.float64)
    return Panel(X, target.copy(), target, start, start + pd.Timedelta(days=1))


def test_window_design_with_a_column_subset_is_the_manual_slice() -> None:
    panel = _panel()
    X = panel.X.to_numpy(np.float64)
    positions = trailing_positions(panel.X.index.get_level_values("symbol"), 3)
    design = window_design(X, positions)
    rows = np.array([0, 4, 10, 17], dtype=np.int64)
    columns = np.array([3, 1], dtype=np.int64)
    got = design(rows, columns)
    assert got.shape == (4, 3 * 2)
    for i, row in enumerate(rows):
        expected = np.full((3, 2), np.nan)
        for k, pos in enumerate(positions[row]):
            if pos >= 0:
                expected[k] = X[pos, columns]
        np.testing.assert_array_equal(got[i], expected.ravel())
    # Row 10 is (t3, B): B's rows at t1, t2, t3 are panel rows 4, 7, 10.
    np.testing.assert_array_equal(got[2], [403.0, 401.0, 703.0, 701.0, 1003.0, 1001.0])
    # Row 0 (t0, A) has no past: two padded bars, then itself.
    np.testing.assert_array_equal(got[0], [np.nan, np.nan, np.nan, np.nan, 3.0, 1.0])
    # Every column, in order, is the flattened (lookback, features) block.
    full = design(rows, np.arange(4, dtype=np.int64))
    np.testing.assert_array_equal(
        full[2], [400, 401, 402, 403, 700, 701, 702, 703, 1000, 1001, 1002, 1003]
    )
    # All columns in another order (selection can rank them) follow that order.
    shuffled = design(rows, np.array([3, 2, 1, 0], dtype=np.int64))
    np.testing.assert_array_equal(shuffled[2, :4], [403, 402, 401, 400])
    # The panel's own matrix is never written to.
    np.testing.assert_array_equal(X, panel.X.to_numpy(np.float64))


def test_design_for_only_sequence_models_with_a_lookback() -> None:
    panel = _panel()
    config = ModelConfig(deep={"lookback": 4})
    assert design_for("lightgbm", config, panel) is None
    assert design_for("logistic", config, panel) is None
    assert design_for("gru", ModelConfig(deep={"lookback": 1}), panel) is None
    design = design_for("gru", config, panel)
    assert design is not None
    rows = np.arange(len(panel.X), dtype=np.int64)
    windows = design(rows, np.arange(4, dtype=np.int64))
    assert windows.shape == (len(rows), 4 * 4)
    # The last bar of each window is the row itself.
    np.testing.assert_array_equal(windows[:, -4:], panel.X.to_numpy())
    for name in ("lstm_attention", "bilstm", "cnn_lstm", "transformer", "tcn"):
        assert design_for(name, config, panel) is not None
