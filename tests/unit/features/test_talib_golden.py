"""Every feature that names a TA-Lib call equals that call, and the issue's names exist.

The generic golden test runs over every registered feature whose spec has ``talib`` set: the
value from :func:`compute` must equal ``talib.<function>(*inputs, **params)`` (the named output
of a multi-output function) after the warm-up rows, on synthetic and on real bars.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
import talib
from talib import abstract

from alphaforge.features import FEATURES, compute
from alphaforge.features import kernels as k
from alphaforge.features.registry import TalibRef, param_token
from alphaforge.features.testing import random_bars, real_bars

FloatArray = npt.NDArray[np.float64]
_Function: Any = getattr(abstract, "Function")  # noqa: B009
_GROUPS: Any = getattr(talib, "get_function_groups")  # noqa: B009

TALIB_NAMES = [n for n in FEATURES.names() if FEATURES.get(n).talib is not None]
CANDLES: list[str] = sorted(_GROUPS()["Pattern Recognition"])


@cache
def _bars(kind: str) -> pd.DataFrame:
    return random_bars(5, 1500) if kind == "random" else real_bars("GOOG")[0]


def _talib_value(bars: pd.DataFrame, ref: TalibRef) -> FloatArray:
    """Call TA-Lib directly as the reference names it and pick the output by abstract order."""
    function, params, output = ref
    info = _Function(function)
    columns: list[str] = []
    for value in info.input_names.values():
        columns.extend([value] if isinstance(value, str) else value)
    result = getattr(talib, function)(*(bars[c].to_numpy(np.float64) for c in columns), **params)
    if output is None:
        assert not isinstance(result, tuple)
        return np.asarray(result, dtype=np.float64)
    return np.asarray(result[list(info.output_names).index(output)], dtype=np.float64)


@pytest.mark.parametrize("kind", ["random", "goog"])
@pytest.mark.parametrize("name", TALIB_NAMES)
def test_feature_equals_its_talib_call(name: str, kind: str) -> None:
    spec = FEATURES.get(name)
    assert spec.talib is not None
    bars = _bars(kind)
    got = compute(bars, [name])[name].to_numpy()
    expected = _talib_value(bars, spec.talib)
    w = spec.warmup
    assert np.isnan(got[:w]).all()
    assert np.isfinite(got[w:]).all()
    np.testing.assert_allclose(got[w:], expected[w:], rtol=1e-12, atol=0)


def test_there_are_many_talib_features() -> None:
    assert len(TALIB_NAMES) >= 170


# --- the names the issue requires, with their TA-Lib calls ----------------------------------


def _required() -> dict[str, TalibRef]:
    refs: dict[str, TalibRef] = {}
    for p in (5, 10, 20, 50, 100, 200):
        refs[f"sma_{p}"] = ("SMA", {"timeperiod": p}, None)
    for p in (5, 10, 12, 20, 26, 50, 100, 200):
        refs[f"ema_{p}"] = ("EMA", {"timeperiod": p}, None)
    for p in (7, 14, 21, 28):
        refs[f"rsi_{p}"] = ("RSI", {"timeperiod": p}, None)
    for fast, slow, sig in ((12, 26, 9), (5, 35, 5), (8, 17, 9)):
        macd = {"fastperiod": fast, "slowperiod": slow, "signalperiod": sig}
        for out in ("macd", "macdsignal", "macdhist"):
            refs[f"{out}_{fast}_{slow}_{sig}"] = ("MACD", macd, out)
    for n in (10, 20, 30):
        for d in (1.5, 2.0, 2.5):
            bands: dict[str, float | int] = {"timeperiod": n, "nbdevup": d, "nbdevdn": d}
            for band in ("upper", "middle", "lower"):
                refs[f"bbands_{band}_{n}_{param_token(d)}"] = ("BBANDS", bands, f"{band}band")
    for p in (5, 10, 20):
        refs[f"roc_{p}"] = ("ROC", {"timeperiod": p}, None)
    stoch = {"fastk_period": 14, "slowk_period": 3, "slowd_period": 3}
    refs.update(
        {
            "atr_14": ("ATR", {"timeperiod": 14}, None),
            "natr_14": ("NATR", {"timeperiod": 14}, None),
            "adx_14": ("ADX", {"timeperiod": 14}, None),
            "cci_20": ("CCI", {"timeperiod": 20}, None),
            "willr_14": ("WILLR", {"timeperiod": 14}, None),
            "stoch_slowk_14_3_3": ("STOCH", stoch, "slowk"),
            "stoch_slowd_14_3_3": ("STOCH", stoch, "slowd"),
            "mfi_14": ("MFI", {"timeperiod": 14}, None),
            "obv": ("OBV", {}, None),
            "aroon_down_25": ("AROON", {"timeperiod": 25}, "aroondown"),
            "aroon_up_25": ("AROON", {"timeperiod": 25}, "aroonup"),
            "trix_15": ("TRIX", {"timeperiod": 15}, None),
            "cmo_14": ("CMO", {"timeperiod": 14}, None),
            "ppo_12_26": ("PPO", {"fastperiod": 12, "slowperiod": 26, "matype": 0}, None),
            "ultosc_7_14_28": (
                "ULTOSC",
                {"timeperiod1": 7, "timeperiod2": 14, "timeperiod3": 28},
                None,
            ),
            "ad": ("AD", {}, None),
            "adosc_3_10": ("ADOSC", {"fastperiod": 3, "slowperiod": 10}, None),
            "stddev_20": ("STDDEV", {"timeperiod": 20}, None),
        }
    )
    return refs


REQUIRED = _required()


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_required_name_has_its_talib_call(name: str) -> None:
    assert name in FEATURES
    spec = FEATURES.get(name)
    assert spec.talib is not None
    function, params, output = spec.talib
    want_function, want_params, want_output = REQUIRED[name]
    assert (function, output) == (want_function, want_output)
    assert dict(params) == dict(want_params)


def test_required_names_count() -> None:
    # 6 SMA + 8 EMA + 4 RSI + 9 MACD + 27 BBANDS + 3 ROC + 18 others.
    assert len(REQUIRED) == 75


def test_bbands_names_write_the_deviation_once() -> None:
    assert {"bbands_upper_20_1p5", "bbands_middle_20_2", "bbands_lower_30_2p5"} <= set(FEATURES)
    assert "bbands_upper_20_2_2" not in FEATURES


def test_ppo_and_apo_are_sma_based_whatever_the_talib_version() -> None:
    bars = _bars("random")
    close = bars["close"].to_numpy()
    got = compute(bars, ["ppo_12_26", "apo_12_26"])
    w = FEATURES.get("ppo_12_26").warmup
    np.testing.assert_allclose(
        got["ppo_12_26"].to_numpy()[w:], talib.PPO(close, 12, 26, matype=0)[w:], rtol=1e-12
    )
    np.testing.assert_allclose(
        got["apo_12_26"].to_numpy()[w:], talib.APO(close, 12, 26, matype=0)[w:], rtol=1e-12
    )


def test_ppo_ema_is_talibs_ema_form() -> None:
    bars = _bars("random")
    close = bars["close"].to_numpy()
    spec = FEATURES.get("ppo_12_26_ema")
    assert spec.talib is not None
    assert dict(spec.talib[1]) == {"fastperiod": 12, "slowperiod": 26, "matype": 1}
    assert "EMA 12 vs EMA 26" in spec.description
    got = compute(bars, ["ppo_12_26_ema"])["ppo_12_26_ema"].to_numpy()
    expected = talib.PPO(close, 12, 26, matype=1)
    # EMAs remember their start: compare once the start has been forgotten (spec.memory).
    assert spec.memory is not None
    assert spec.memory > spec.warmup
    np.testing.assert_allclose(got[spec.memory :], expected[spec.memory :], rtol=1e-9)
    sma = compute(bars, ["ppo_12_26"])["ppo_12_26"].to_numpy()
    assert not np.allclose(got[spec.memory :], sma[spec.memory :])


@pytest.mark.parametrize("function", CANDLES)
def test_every_candle_function_is_a_feature(function: str) -> None:
    spec = FEATURES.get(function.lower())
    assert spec.talib == (function, {}, None)
    assert spec.category == "candlestick"


def test_sixty_one_candle_functions() -> None:
    assert len(CANDLES) == 61


# --- metadata ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "category", "scale_free"),
    [
        ("sma_20", "moving_average", False),
        ("ema_200", "moving_average", False),
        ("kama_10", "moving_average", False),
        ("bbands_upper_20_2", "volatility", False),
        ("atr_14", "volatility", False),
        ("natr_14", "volatility", True),
        ("trange", "volatility", False),
        ("stddev_20", "volatility", False),
        ("obv", "volume", False),
        ("ad", "volume", False),
        ("adosc_3_10", "volume", False),
        ("mfi_14", "volume", True),
        ("ht_dcperiod", "spectral", True),
        ("rsi_14", "technical", True),
        ("macd_12_26_9", "technical", False),
        ("apo_12_26", "technical", False),
        ("ppo_12_26", "technical", True),
        ("mom_10", "technical", False),
        ("sar_0p02_0p2", "technical", False),
        ("linearreg_slope_14", "technical", False),
        ("tsf_14", "technical", False),
        ("willr_14", "technical", True),
        ("bop", "technical", True),
    ],
)
def test_category_and_scale(name: str, category: str, scale_free: bool) -> None:
    spec = FEATURES.get(name)
    assert spec.category == category
    assert spec.scale_free is scale_free


def test_memory_rules() -> None:
    # Plain windows remember their warm-up; single filters follow recursive_memory.
    assert FEATURES.get("sma_200").memory == 199
    assert FEATURES.get("rsi_14").memory == k.recursive_memory(14, 1 / 14)
    assert FEATURES.get("ema_20").memory == k.recursive_memory(19, 2 / 21)
    assert FEATURES.get("atr_14").memory == k.recursive_memory(14, 1 / 14)
    # Cascades need more than one filter's memory.
    adx = FEATURES.get("adx_14")
    assert adx.memory is not None
    assert adx.memory > k.recursive_memory(adx.warmup, 1 / 14)
    for name in ("obv", "ad", "adosc_3_10", "sar_0p02_0p2", "kama_30", "ht_trendline"):
        assert FEATURES.get(name).memory is None


def test_warmup_is_talib_lookback() -> None:
    assert FEATURES.get("sma_20").warmup == 19
    assert FEATURES.get("rsi_14").warmup == 14
    assert FEATURES.get("macd_12_26_9").warmup == 33
    assert FEATURES.get("adx_14").warmup == 27
    assert FEATURES.get("obv").warmup == 0
