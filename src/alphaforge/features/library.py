"""The walking skeleton's feature set: about twenty scale-free causal features.

Price-level indicators (SMA, MACD in price units) are expressed relative to price so that one
model can be trained across symbols of different price levels.
"""

from __future__ import annotations

import numpy as np
import talib

from alphaforge.features import kernels as k
from alphaforge.features.registry import BarArrays, FloatArray, register

OHLC = ("open", "high", "low", "close")
HLC = ("high", "low", "close")
HLCV = ("high", "low", "close", "volume")
C = ("close",)


def _ret(lag: int) -> None:
    @register(
        f"ret_log_{lag}",
        category="price",
        warmup=lag,
        inputs=C,
        description=f"Log return over the last {lag} bar(s).",
    )
    def kernel(b: BarArrays) -> FloatArray:
        return k.log_return(b.close, lag)


for _lag in (1, 5, 10, 20, 60):
    _ret(_lag)


def _rsi(period: int) -> None:
    @register(
        f"rsi_{period}",
        category="technical",
        warmup=period,
        inputs=C,
        description=f"TA-Lib RSI over {period} bars (0-100).",
    )
    def kernel(b: BarArrays) -> FloatArray:
        return np.asarray(talib.RSI(b.close, timeperiod=period), dtype=np.float64)


for _period in (7, 14):
    _rsi(_period)


def _dist_sma(period: int) -> None:
    @register(
        f"dist_sma_{period}",
        category="moving_average",
        warmup=period - 1,
        inputs=C,
        description=f"Close relative to its {period}-bar SMA, minus one.",
    )
    def kernel(b: BarArrays) -> FloatArray:
        return b.close / np.asarray(talib.SMA(b.close, timeperiod=period), np.float64) - 1.0


for _period in (20, 50, 200):
    _dist_sma(_period)


@register(
    "macdhist_norm_12_26_9",
    category="technical",
    warmup=33,
    inputs=C,
    description="TA-Lib MACD histogram (12/26/9) divided by close.",
)
def macdhist_norm(b: BarArrays) -> FloatArray:
    _, _, hist = talib.MACD(b.close, fastperiod=12, slowperiod=26, signalperiod=9)
    return np.asarray(hist, np.float64) / b.close


@register(
    "natr_14", category="volatility", warmup=14, inputs=HLC, description="TA-Lib NATR, 14 bars (%)."
)
def natr_14(b: BarArrays) -> FloatArray:
    return np.asarray(talib.NATR(b.high, b.low, b.close, timeperiod=14), np.float64)


@register("adx_14", category="technical", warmup=27, inputs=HLC, description="TA-Lib ADX, 14 bars.")
def adx_14(b: BarArrays) -> FloatArray:
    return np.asarray(talib.ADX(b.high, b.low, b.close, timeperiod=14), np.float64)


@register("cci_20", category="technical", warmup=19, inputs=HLC, description="TA-Lib CCI, 20 bars.")
def cci_20(b: BarArrays) -> FloatArray:
    return np.asarray(talib.CCI(b.high, b.low, b.close, timeperiod=20), np.float64)


@register(
    "willr_14",
    category="technical",
    warmup=13,
    inputs=HLC,
    description="TA-Lib Williams %R, 14 bars (-100..0).",
)
def willr_14(b: BarArrays) -> FloatArray:
    return np.asarray(talib.WILLR(b.high, b.low, b.close, timeperiod=14), np.float64)


@register(
    "mfi_14",
    category="volume",
    warmup=14,
    inputs=HLCV,
    description="TA-Lib money flow index, 14 bars.",
)
def mfi_14(b: BarArrays) -> FloatArray:
    return np.asarray(talib.MFI(b.high, b.low, b.close, b.volume, timeperiod=14), np.float64)


@register(
    "stoch_slowk_14_3_3",
    category="technical",
    warmup=17,
    inputs=HLC,
    description="TA-Lib slow stochastic %K (14, 3, 3).",
)
def stoch_slowk(b: BarArrays) -> FloatArray:
    slowk, _ = talib.STOCH(b.high, b.low, b.close, fastk_period=14, slowk_period=3, slowd_period=3)
    return np.asarray(slowk, np.float64)


@register(
    "bbands_pctb_20_2",
    category="volatility",
    warmup=19,
    inputs=C,
    description="Position of close within 20-bar Bollinger bands at 2 std (0 = lower, 1 = upper).",
)
def bbands_pctb(b: BarArrays) -> FloatArray:
    upper, _, lower = talib.BBANDS(b.close, timeperiod=20, nbdevup=2.0, nbdevdn=2.0)
    width = np.asarray(upper, np.float64) - np.asarray(lower, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (b.close - lower) / width


@register(
    "vol_std_20",
    category="volatility",
    warmup=20,
    inputs=C,
    description="Standard deviation of 1-bar log returns over 20 bars.",
)
def vol_std_20(b: BarArrays) -> FloatArray:
    return k.rolling_std(k.log_return(b.close, 1), 20)


@register(
    "vol_parkinson_20",
    category="volatility",
    warmup=19,
    inputs=("high", "low"),
    description="Parkinson high-low volatility per bar over 20 bars.",
)
def vol_parkinson_20(b: BarArrays) -> FloatArray:
    return k.parkinson_vol(b.high, b.low, 20)


@register(
    "volume_z_20",
    category="volume",
    warmup=19,
    inputs=("volume",),
    description="Z-score of log(1 + volume) against its 20-bar history.",
)
def volume_z_20(b: BarArrays) -> FloatArray:
    return k.zscore(np.log1p(b.volume), 20)


@register(
    "amihud_20",
    category="microstructure",
    warmup=20,
    inputs=("close", "volume"),
    description="Amihud illiquidity, |return| per billion of dollar volume, 20-bar mean.",
)
def amihud_20(b: BarArrays) -> FloatArray:
    return k.amihud(b.close, b.volume, 20)


@register(
    "range_log_hl",
    category="price",
    warmup=0,
    inputs=("high", "low"),
    description="Log of the bar's high over its low.",
)
def range_log_hl(b: BarArrays) -> FloatArray:
    return np.log(b.high / b.low)


@register(
    "gap_log",
    category="price",
    warmup=1,
    inputs=("open", "close"),
    description="Log of the bar's open over the previous close (overnight gap).",
)
def gap_log(b: BarArrays) -> FloatArray:
    out = np.full_like(b.close, np.nan)
    out[1:] = np.log(b.open[1:] / b.close[:-1])
    return out


@register(
    "skew_ret_20",
    category="statistical",
    warmup=20,
    inputs=C,
    description="Skewness of 1-bar log returns over 20 bars.",
)
def skew_ret_20(b: BarArrays) -> FloatArray:
    return k.rolling_skew(k.log_return(b.close, 1), 20)
