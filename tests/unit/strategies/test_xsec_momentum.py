"""``xsec_momentum``: 12-1 month returns ranked on each month's first bar and held."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaforge.config import StrategyConfig
from alphaforge.core.errors import ConfigError, DataError
from alphaforge.core.types import AssetClass, Instrument
from alphaforge.features.testing import random_bars
from alphaforge.strategies import MarketFrames, create_strategy

N = 400


def _trend(drift: float, n: int = N) -> pd.DataFrame:
    close = 100.0 * np.exp(drift * np.arange(n))
    index = pd.date_range("2019-01-01", periods=n, freq="D", tz="UTC", name="timestamp").as_unit(
        "ns"
    )
    return pd.DataFrame(
        {"open": close, "high": close, "low": close, "close": close, "volume": 1e6}, index=index
    )


def _market(bars: dict[str, pd.DataFrame]) -> MarketFrames:
    return MarketFrames.from_bars(bars, {s: Instrument(s, AssetClass.STOCK) for s in bars})


def test_the_strongest_trend_is_long_and_the_weakest_short() -> None:
    market = _market({"UP": _trend(0.002), "MID": _trend(0.0005), "DOWN": _trend(-0.001)})
    value = create_strategy(StrategyConfig(name="xsec_momentum")).signals(market).value
    # 2019-01-01 + 252 days is 2019-09-10: no signal before October's first bar.
    assert value.loc[:"2019-09-30"].isna().all().all()
    after = value.loc["2019-10-01":]
    assert (after["UP"] == 1.0).all()
    assert (after["MID"] == 0.0).all()
    assert (after["DOWN"] == -1.0).all()


def test_ranks_change_only_on_a_month_first_bar_and_match_a_direct_count() -> None:
    bars = {s: random_bars(seed, N) for seed, s in enumerate("ABCD")}
    market = _market(bars)
    value = create_strategy(StrategyConfig(name="xsec_momentum")).signals(market).value
    month = value.index.strftime("%Y-%m")
    held = value.groupby(month).transform("first")
    pd.testing.assert_frame_equal(value, held)
    changed = 0
    for t0 in value.groupby(month).head(1).index[value.groupby(month).head(1).notna().all(axis=1)]:
        k = value.index.get_loc(t0)
        mom = {
            s: np.log(b["close"].iloc[k - 21] / b["close"].iloc[k - 252]) for s, b in bars.items()
        }
        order = sorted(mom, key=mom.__getitem__)
        expected = {s: -1.0 + 2.0 * order.index(s) / 3 for s in order}
        assert value.loc[t0].to_dict() == pytest.approx(expected)
        changed += 1
    assert changed >= 4


def test_a_symbol_without_a_recent_bar_sits_the_month_out() -> None:
    late = _trend(0.003).iloc[: N - 60]  # stops trading two months before the end
    market = _market({"UP": _trend(0.002), "DOWN": _trend(-0.001), "GONE": late})
    value = create_strategy(StrategyConfig(name="xsec_momentum")).signals(market).value
    last = value.index[-1]
    assert value.loc[last, "UP"] == 1.0
    assert value.loc[last, "DOWN"] == -1.0
    assert value["GONE"].loc[late.index[-1] :].iloc[1:].isna().all()


def test_minute_bars_and_bad_windows_are_refused() -> None:
    bars = {"A": random_bars(1, 300, freq="5min"), "B": random_bars(2, 300, freq="5min")}
    with pytest.raises(DataError, match="daily or hourly"):
        create_strategy(StrategyConfig(name="xsec_momentum")).signals(_market(bars))
    with pytest.raises(ConfigError, match="skip_bars"):
        create_strategy(
            StrategyConfig(name="xsec_momentum", params={"lookback_bars": 20, "skip_bars": 20})
        )
