"""Per-bar VaR of the book equals the module's VaR of that bar's weights on its window."""

from __future__ import annotations

import numpy as np
import pandas as pd

from alphaforge.risk.book_risk import MIN_HISTORY, book_var_frame
from alphaforge.risk.var import historical_var_es, normal_var_es


def test_each_bar_uses_its_own_weights_and_the_window_ending_at_it() -> None:
    rng = np.random.default_rng(3)
    n, m, window = 80, 3, 30
    index = pd.date_range("2024-01-01", periods=n, freq="D", tz="UTC")
    returns = rng.normal(0, 0.01, (n, m))
    weights = rng.uniform(-0.5, 0.5, (n, m))
    weights[10] = 0.0
    frame = book_var_frame(index, weights, returns, window)
    t = 60
    book = returns[t + 1 - window : t + 1] @ weights[t]
    assert frame.loc[t, "var_historical_95"] == historical_var_es(book, 0.95).var
    assert frame.loc[t, "es_historical_99"] == historical_var_es(book, 0.99).es
    assert np.isclose(frame.loc[t, "var_normal_95"], normal_var_es(book, 0.95).var, rtol=1e-12)
    assert frame.loc[: MIN_HISTORY - 2, "var_historical_95"].isna().all()
    # Changing returns after t changes nothing at t.
    later = returns.copy()
    later[t + 1 :] = rng.normal(0, 0.05, (n - t - 1, m))
    again = book_var_frame(index, weights, later, window)
    pd.testing.assert_frame_equal(frame.iloc[: t + 1], again.iloc[: t + 1])
