"""``gap``: opening gaps over 2 % faded (or followed) on the next bar, then flat."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaforge.config import StrategyConfig
from alphaforge.core.types import AssetClass, Instrument
from alphaforge.strategies import MarketFrames, create_strategy

N = 30


def _gapping(opens: dict[int, float]) -> pd.DataFrame:
    """Return daily bars closing at 100 except on bars ``k`` that open (and close) at ``opens[k]``.

    Bar ``k`` gaps from 100 to ``opens[k]``; bar ``k + 1`` opens where ``k`` closed.
    """
    close = np.full(N, 100.0)
    for k, price in opens.items():
        close[k] = price
    open_ = np.concatenate([[100.0], close[:-1]])
    for k, price in opens.items():
        open_[k] = price
    index = pd.date_range("2022-03-01", periods=N, freq="D", tz="UTC", name="timestamp")
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close),
            "low": np.minimum(open_, close),
            "close": close,
            "volume": 1e6,
        },
        index=index.as_unit("ns"),
    )


def _signal(params: dict[str, object]) -> pd.DataFrame:
    bars = {
        "UP3": _gapping({10: 103.0}),  # +3 %: faded (short)
        "DOWN3": _gapping({10: 97.0}),  # -3 %: faded (long)
        "UP1": _gapping({10: 101.5}),  # +1.5 %: below the threshold
    }
    market = MarketFrames.from_bars(bars, {s: Instrument(s, AssetClass.STOCK) for s in bars})
    return create_strategy(StrategyConfig(name="gap", params=params)).signals(market).value


def test_a_3_percent_gap_up_is_faded_on_the_next_bar() -> None:
    value = _signal({})
    assert np.isnan(value.iloc[0]).all()  # no previous close
    assert value.loc[value.index[10], "UP3"] == -1.0
    assert value.loc[value.index[10], "DOWN3"] == 1.0
    # Held one bar: traded from bar 11's open, flat again from bar 12's.
    others = value.drop(value.index[[0, 10]])
    assert (others == 0.0).all().all()
    assert (value["UP1"].iloc[1:] == 0.0).all()


def test_follow_mode_and_a_longer_hold() -> None:
    value = _signal({"mode": "follow", "hold_bars": 3})
    assert (value["UP3"].iloc[10:13] == 1.0).all()
    assert (value["DOWN3"].iloc[10:13] == -1.0).all()
    assert value["UP3"].iloc[9] == 0.0
    assert (value["UP3"].iloc[13:] == 0.0).all()


@pytest.mark.parametrize("threshold", [0.01, 0.04])
def test_the_threshold_decides(threshold: float) -> None:
    value = _signal({"threshold": threshold})
    assert (value.loc[value.index[10], "UP1"] == -1.0) == (threshold < 0.015)
    assert (value.loc[value.index[10], "UP3"] == -1.0) == (threshold < 0.03)
