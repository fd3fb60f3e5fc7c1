"""ma_crossover against a direct computation, oof_scores ranks, and the registry's errors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from alphaforge.config import StrategyConfig
from alphaforge.core.errors import AlphaForgeError, ConfigError, DataError
from alphaforge.core.types import AssetClass, Instrument
from alphaforge.features.testing import random_bars
from alphaforge.strategies import MarketFrames, create_strategy


def _market(seed: int = 3) -> MarketFrames:
    a = random_bars(seed, 300)
    # B trades on fewer bars (every third bar missing): its SMAs run over its own bars.
    b = random_bars(seed + 1, 300).iloc[[k for k in range(300) if k % 3]]
    instruments = {s: Instrument(s, AssetClass.STOCK) for s in ("A", "B")}
    return MarketFrames.from_bars({"A": a, "B": b}, instruments)


def _direct_crossover(close: list[float], fast: int, slow: int, down: float) -> list[float]:
    """The signal of each bar's crosses (NaN without one), by plain loops over the symbol's
    own closes."""

    def sma(t: int, n: int) -> float:
        return math.fsum(close[t - n + 1 : t + 1]) / n if t >= n - 1 else math.nan

    out = []
    for t in range(len(close)):
        state = math.nan
        if t >= 1:
            f0, s0, f1, s1 = sma(t - 1, fast), sma(t - 1, slow), sma(t, fast), sma(t, slow)
            if f0 < s0 and f1 > s1:
                state = 1.0
            elif f0 > s0 and f1 < s1:
                state = down
        out.append(state)
    return out


@pytest.mark.parametrize(("mode", "down"), [("long_short", -1.0), ("long_only", 0.0)])
def test_ma_crossover_equals_a_direct_computation(mode: str, down: float) -> None:
    market = _market()
    strategy = create_strategy(
        StrategyConfig(name="ma_crossover", params={"fast": 3, "slow": 7, "mode": mode})
    )
    value = strategy.signals(market).value
    crosses = 0
    for symbol in market.symbols:
        close = market.close[symbol].dropna()
        expected = _direct_crossover(close.tolist(), 3, 7, down)
        got = value[symbol].reindex(close.index)
        np.testing.assert_array_equal(got.to_numpy(), np.array(expected))
        # Bars the symbol does not trade carry no signal.
        assert value[symbol].drop(close.index).isna().all()
        crosses += int(got.notna().sum())
    assert crosses > 10  # the data does cross, so the comparison means something


def test_oof_scores_rank_each_bar() -> None:
    index = pd.date_range("2024-01-01", periods=4, freq="D", tz="UTC", name="timestamp")
    scores = pd.DataFrame(
        {
            "A": [3.0, 0.5, np.nan, np.nan],
            "B": [1.0, 0.5, 7.0, np.nan],
            "C": [2.0, 0.9, np.nan, np.nan],
            "D": [np.nan, 0.1, np.nan, np.nan],
        },
        index=index,
    )
    bars = random_bars(0, 4)
    bars.index = index
    instruments = {s: Instrument(s, AssetClass.STOCK) for s in scores}
    market = MarketFrames.from_bars(dict.fromkeys(scores, bars), instruments, scores=scores)
    value = create_strategy(StrategyConfig(name="oof_scores")).signals(market).value
    expected = pd.DataFrame(
        {
            # Row 0: B < C < A -> -1, 0, +1 over three names; D unscored.
            # Row 1: D 0.1 < A 0.5 = B 0.5 (tie: column order) < C 0.9 over four names:
            #   ranks 1..4 -> -1, -1/3, 1/3, 1.
            # Row 2: a lone scored name is neutral. Row 3: nothing scored.
            "A": [1.0, -1.0 / 3.0, np.nan, np.nan],
            "B": [-1.0, 1.0 / 3.0, 0.0, np.nan],
            "C": [0.0, 1.0, np.nan, np.nan],
            "D": [np.nan, -1.0, np.nan, np.nan],
        },
        index=index,
    )
    pd.testing.assert_frame_equal(value, expected, check_exact=False, atol=1e-12, rtol=0)


def test_oof_scores_without_scores_is_a_data_error() -> None:
    market = _market()
    with pytest.raises(DataError, match="needs model scores") as info:
        create_strategy(StrategyConfig(name="oof_scores")).signals(market)
    assert info.value.hint
    assert "\n" not in info.value.one_line()


def test_unknown_strategy_names_the_closest() -> None:
    with pytest.raises(AlphaForgeError) as info:
        create_strategy(StrategyConfig(name="ma_crosover"))
    line = info.value.one_line()
    assert "Unknown strategy 'ma_crosover'" in line
    assert "ma_crossover" in info.value.hint
    assert "\n" not in line
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"fast": 20, "slow": 10}, "Strategy 'ma_crossover': fast (20) must be shorter than slow"),
        ({"fsat": 3}, "Strategy 'ma_crossover': fsat: Extra inputs are not permitted."),
        ({"fast": 0}, "Strategy 'ma_crossover': fast: Input should be greater than or equal to 1."),
    ],
)
def test_bad_strategy_parameters_are_one_clean_line(
    params: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        create_strategy(StrategyConfig(name="ma_crossover", params=params))  # type: ignore[arg-type]
    assert info.value.message.startswith(message)
    assert "Value error," not in info.value.message
    assert info.value.hint.endswith("Its parameters: fast, slow, mode.")
    if "fsat" in params:
        assert info.value.hint.startswith("Did you mean fast?")
    assert "\n" not in info.value.one_line()


def test_spacing_reads_any_index_resolution() -> None:
    """pandas 3 builds microsecond indexes by default: the spacing is a day all the same."""
    from alphaforge.core.types import AssetClass, Instrument
    from alphaforge.features.testing import random_bars

    bars = random_bars(1, 30)
    bars.index = pd.date_range("2024-01-01", periods=30, freq="D", tz="UTC").as_unit("us")
    market = MarketFrames.from_bars({"A": bars}, {"A": Instrument("A", AssetClass.STOCK)})
    assert market.spacing == pd.Timedelta(days=1)


def test_mapping_and_list_parameters_come_from_a_config() -> None:
    carry = create_strategy(StrategyConfig(name="fx_carry", params={"rates": {"EURUSD": 0.01}}))
    assert carry.describe()["family"]
    rotation = create_strategy(StrategyConfig(name="sector_rotation", params={"periods": [3, 60]}))
    assert rotation.describe()["requires"] == ["SPY"]


@pytest.mark.parametrize("name", ["rsi_14", "ema_200", "atr_14", "macdsignal_12_26_9", "gap_log"])
def test_a_market_feature_equals_the_feature_computed_on_each_symbols_bars(name: str) -> None:
    from alphaforge.core.types import AssetClass, Instrument
    from alphaforge.features.registry import compute
    from alphaforge.features.testing import random_bars

    bars = {
        "A": random_bars(1, 400),
        "B": random_bars(2, 400).iloc[::3],
        "C": random_bars(3, 400)[90:],
    }
    market = MarketFrames.from_bars(bars, {s: Instrument(s, AssetClass.STOCK) for s in bars})
    wide = market.feature(name)
    assert wide.index.equals(market.index) and list(wide.columns) == market.symbols
    for symbol, frame in bars.items():
        expected = compute(frame, [name]).iloc[:, 0]
        np.testing.assert_array_equal(
            wide[symbol].reindex(frame.index).to_numpy(), expected.to_numpy()
        )
        assert wide[symbol].drop(frame.index).isna().all()
    assert market.feature(name) is wide  # cached


def test_a_session_feature_is_nan_for_asset_classes_it_does_not_apply_to() -> None:
    from alphaforge.core.types import AssetClass, Instrument
    from alphaforge.features.registry import compute
    from alphaforge.features.testing import random_bars

    bars = {"EURUSD": random_bars(1, 200, freq="1h"), "SPY": random_bars(2, 200, freq="1h")}
    classes = {"EURUSD": AssetClass.FOREX, "SPY": AssetClass.STOCK}
    instruments = {s: Instrument(s, c) for s, c in classes.items()}
    market = MarketFrames.from_bars(bars, instruments)
    wide = market.feature("fx_sess_london")
    expected = compute(bars["EURUSD"], ["fx_sess_london"], instrument=instruments["EURUSD"])
    np.testing.assert_array_equal(wide["EURUSD"].to_numpy(), expected.iloc[:, 0].to_numpy())
    assert wide["SPY"].isna().all()
