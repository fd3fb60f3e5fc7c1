"""Composite features: crossovers, divergences, squeezes and setup scores from TA-Lib values.

The indicator inputs come from :mod:`alphaforge.features.talib_calls`, memoised per compute
call, so they share their work with the TA-Lib features. States are +1 / -1 / 0; scores are
documented as lying in [-1, 1] or [0, 1].
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from alphaforge.features import kernels as k
from alphaforge.features import talib_calls as ta
from alphaforge.features.library._common import CV, HLC, HLCV, C
from alphaforge.features.registry import BarArrays, FeatureSpec, FloatArray, add, register

_RSI_ALPHA = 1.0 / 14.0
_MACD_ALPHA = 2.0 / 27.0
_ATR20_ALPHA = 1.0 / 20.0


def _rolling(values: FloatArray, window: int, how: str) -> FloatArray:
    """Return the trailing ``max``/``min``/``mean`` over ``window`` values (NaN propagates)."""
    out = np.full(len(values), np.nan)
    if len(values) >= window:
        view = sliding_window_view(values, window)
        out[window - 1 :] = getattr(view, how)(axis=1)
    return out


def _col_rolling(b: BarArrays, column: str, window: int, how: str) -> FloatArray:
    """Return :func:`_rolling` of a bar column, memoised per compute call."""
    return b.cached(
        ("composite_rolling", column, window, how),
        lambda: _rolling(getattr(b, column), window, how),
    )


def _lag(values: FloatArray, lag: int) -> FloatArray:
    """Return ``values`` shifted forward by ``lag`` rows (NaN first)."""
    out = np.full(len(values), np.nan)
    if len(values) > lag:
        out[lag:] = values[:-lag]
    return out


def _masked(values: FloatArray, valid: npt.NDArray[np.bool_]) -> FloatArray:
    """Return ``values`` as float64 with NaN where ``valid`` is false."""
    return np.where(valid, values, np.nan).astype(np.float64)


# --- Crossovers -------------------------------------------------------------------------------


def cross_state(b: BarArrays, fast: int, slow: int) -> FloatArray:
    """Return +1 when SMA(fast) > SMA(slow), -1 otherwise; NaN before SMA(slow) exists."""
    sma_fast = ta.output(b, "SMA", timeperiod=fast)
    sma_slow = ta.output(b, "SMA", timeperiod=slow)
    valid = np.isfinite(sma_fast) & np.isfinite(sma_slow)
    return _masked(np.where(sma_fast > sma_slow, 1.0, -1.0), valid)


def signed_run(state: FloatArray) -> FloatArray:
    """Return ``state * n``, ``n`` the bars the state has held including this one.

    ``n`` is 1 on the bar of a change (a cross) and on the first defined bar; NaN where the
    state is NaN.
    """
    n = len(state)
    valid = np.isfinite(state)
    prev = np.empty(n)
    prev[0] = np.nan
    prev[1:] = state[:-1]
    change = valid & ~(prev == state)
    idx = np.arange(n)
    last = np.maximum.accumulate(np.where(change, idx, 0))
    return _masked(state * (idx - last + 1), valid)


def _cross(state_name: str, fast: int, slow: int) -> None:
    def state(b: BarArrays) -> FloatArray:
        return cross_state(b, fast, slow)

    def run(b: BarArrays) -> FloatArray:
        return signed_run(cross_state(b, fast, slow))

    warmup = slow - 1
    params = {"fast": fast, "slow": slow}
    add(
        FeatureSpec(
            state_name,
            "composite",
            warmup,
            C,
            f"SMA {fast} / SMA {slow} state: +1 when SMA{fast} > SMA{slow}, else -1.",
            state,
            params=params,
        )
    )
    add(
        FeatureSpec(
            f"days_since_cross_{fast}_{slow}",
            "composite",
            warmup,
            C,
            f"Bars since the last SMA{fast}/SMA{slow} cross, counting the cross bar as 1: "
            "+n after a golden (up) cross, -n after a death (down) cross.",
            run,
            params=params,
            memory=None,
        )
    )


_cross("golden_cross_50_200", 50, 200)
_cross("cross_5_20", 5, 20)
_cross("cross_20_50", 20, 50)


# --- Divergences ------------------------------------------------------------------------------


def divergence(close: FloatArray, indicator: FloatArray, window: int) -> FloatArray:
    """Return -1 / +1 / 0 for a bearish / bullish divergence of close against an indicator.

    Bearish: close is at its ``window``-bar high (>= every close of the window) while the
    indicator is below its own ``window``-bar high. Bullish: the mirror at the lows. NaN until
    both windows are full.
    """
    return _divergence(
        close, _rolling(close, window, "max"), _rolling(close, window, "min"), indicator, window
    )


def _divergence(
    close: FloatArray,
    close_max: FloatArray,
    close_min: FloatArray,
    indicator: FloatArray,
    window: int,
) -> FloatArray:
    ind_max = _rolling(indicator, window, "max")
    ind_min = _rolling(indicator, window, "min")
    bear = (close >= close_max) & (indicator < ind_max)
    bull = (close <= close_min) & (indicator > ind_min)
    valid = np.isfinite(close_max) & np.isfinite(ind_max)
    return _masked(bull.astype(np.float64) - bear.astype(np.float64), valid)


@register(
    "rsi_div_14_20",
    category="composite",
    warmup=33,
    inputs=C,
    description="RSI(14) divergence over 20 bars: -1 close at a 20-bar high with RSI below its "
    "20-bar high, +1 the mirror at the lows, else 0.",
    params={"rsi_period": 14, "period": 20},
    memory=k.recursive_memory(33, _RSI_ALPHA),
)
def rsi_div_14_20(b: BarArrays) -> FloatArray:
    return _bar_divergence(b, ta.output(b, "RSI", timeperiod=14))


def _bar_divergence(b: BarArrays, indicator: FloatArray) -> FloatArray:
    """Return the 20-bar divergence of the bars' close, sharing the close extremes."""
    return _divergence(
        b.close,
        _col_rolling(b, "close", 20, "max"),
        _col_rolling(b, "close", 20, "min"),
        indicator,
        20,
    )


def _macd_hist(b: BarArrays) -> FloatArray:
    return ta.output(b, "MACD", "macdhist", fastperiod=12, slowperiod=26, signalperiod=9)


@register(
    "macd_div_20",
    category="composite",
    warmup=52,
    inputs=C,
    description="MACD(12/26/9) histogram divergence over 20 bars: -1 close at a 20-bar high with "
    "the histogram below its 20-bar high, +1 the mirror at the lows, else 0.",
    params={"period": 20},
    memory=k.recursive_memory(52, _MACD_ALPHA),
)
def macd_div_20(b: BarArrays) -> FloatArray:
    return _bar_divergence(b, _macd_hist(b))


@register(
    "obv_div_20",
    category="volume",
    warmup=19,
    inputs=CV,
    description="OBV divergence over 20 bars: -1 close at a 20-bar high with OBV below its "
    "20-bar high, +1 the mirror at the lows, else 0.",
    params={"period": 20},
    memory=20,
)
def obv_div_20(b: BarArrays) -> FloatArray:
    # Comparisons within a window do not depend on OBV's starting level: 20 bars suffice.
    return _bar_divergence(b, ta.output(b, "OBV"))


# --- Volume confirmation, squeeze, breakouts --------------------------------------------------


@register(
    "vol_price_confirm_20",
    category="composite",
    warmup=19,
    inputs=CV,
    description="+1 up bar on volume above its 20-bar mean, -1 down bar on above-mean volume, "
    "else 0.",
    params={"period": 20},
)
def vol_price_confirm_20(b: BarArrays) -> FloatArray:
    mean_volume = _col_rolling(b, "volume", 20, "mean")
    heavy = b.volume > mean_volume
    move = np.sign(b.close - _lag(b.close, 1))
    valid = np.isfinite(mean_volume) & np.isfinite(move)
    return _masked(np.where(heavy, move, 0.0), valid)


def ttm_squeeze(b: BarArrays) -> FloatArray:
    """Return 1 when Bollinger(20, 2) lies inside Keltner(EMA20 +- 1.5 ATR20), else 0."""
    upper, _, lower = ta.outputs(b, "BBANDS", timeperiod=20, nbdevup=2.0, nbdevdn=2.0)
    ema = ta.output(b, "EMA", timeperiod=20)
    atr = ta.output(b, "ATR", timeperiod=20)
    inside = (upper < ema + 1.5 * atr) & (lower > ema - 1.5 * atr)
    valid = np.isfinite(upper) & np.isfinite(ema) & np.isfinite(atr)
    return _masked(inside.astype(np.float64), valid)


@register(
    "ttm_squeeze_20",
    category="composite",
    warmup=20,
    inputs=HLC,
    description="TTM squeeze: 1 when Bollinger bands (20, 2) lie inside Keltner channels "
    "(EMA20 +- 1.5 ATR20), else 0.",
    params={"period": 20, "bb_dev": 2.0, "kc_mult": 1.5},
    memory=k.recursive_memory(20, _ATR20_ALPHA),
)
def ttm_squeeze_20(b: BarArrays) -> FloatArray:
    return _squeeze(b)


def _squeeze(b: BarArrays) -> FloatArray:
    return b.cached(("composite_ttm_squeeze", 20, 2.0, 1.5), lambda: ttm_squeeze(b))


@register(
    "ttm_fire_20",
    category="composite",
    warmup=21,
    inputs=HLC,
    description="TTM squeeze release: on the bar the squeeze ends, the sign of the 20-bar "
    "log return (+1 / -1), else 0.",
    params={"period": 20},
    memory=k.recursive_memory(21, _ATR20_ALPHA),
)
def ttm_fire_20(b: BarArrays) -> FloatArray:
    squeeze = _squeeze(b)
    prev = _lag(squeeze, 1)
    fired = (prev == 1.0) & (squeeze == 0.0)
    momentum = np.sign(k.log_return(b.close, 20))
    valid = np.isfinite(prev) & np.isfinite(squeeze) & np.isfinite(momentum)
    return _masked(np.where(fired, momentum, 0.0), valid)


@register(
    "sr_breakout_20",
    category="composite",
    warmup=20,
    inputs=HLC,
    description="+1 close above the previous 20 bars' highest high, -1 below their lowest low, "
    "else 0.",
    params={"period": 20},
)
def sr_breakout_20(b: BarArrays) -> FloatArray:
    prev_high = _lag(_col_rolling(b, "high", 20, "max"), 1)
    prev_low = _lag(_col_rolling(b, "low", 20, "min"), 1)
    value = (b.close > prev_high).astype(np.float64) - (b.close < prev_low).astype(np.float64)
    return _masked(value, np.isfinite(prev_high))


@register(
    "mtf_mom_align",
    category="composite",
    warmup=60,
    inputs=C,
    description="Mean sign of the 5-, 20- and 60-bar log returns (-1..1; +-1 all aligned).",
    params={"periods": "5,20,60"},
)
def mtf_mom_align(b: BarArrays) -> FloatArray:
    signs = [np.sign(k.log_return(b.close, lag)) for lag in (5, 20, 60)]
    return np.asarray((signs[0] + signs[1] + signs[2]) / 3.0, dtype=np.float64)


# --- Scores -----------------------------------------------------------------------------------


@register(
    "bull_market_score",
    category="composite",
    warmup=199,
    inputs=C,
    description="Bull-market score in [0, 1]: share of close > SMA200, SMA50 > SMA200, "
    "60-bar return > 0, RSI14 > 50.",
    memory=k.recursive_memory(199, _RSI_ALPHA),
)
def bull_market_score(b: BarArrays) -> FloatArray:
    sma50 = ta.output(b, "SMA", timeperiod=50)
    sma200 = ta.output(b, "SMA", timeperiod=200)
    rsi = ta.output(b, "RSI", timeperiod=14)
    ret60 = k.log_return(b.close, 60)
    score = (
        (b.close > sma200).astype(np.float64) + (sma50 > sma200) + (ret60 > 0.0) + (rsi > 50.0)
    ) / 4.0
    valid = np.isfinite(sma200) & np.isfinite(sma50) & np.isfinite(rsi) & np.isfinite(ret60)
    return _masked(score, valid)


@register(
    "mean_reversion_setup",
    category="composite",
    warmup=20,
    inputs=C,
    description="Mean-reversion score in [-1, 1], + oversold / - overbought: mean of "
    "(50 - RSI14) / 50, 1 - 2 %b of Bollinger(20, 2) clipped to [-1, 1], and "
    "tanh(-r5 / (sigma20 sqrt 5)) with sigma20 the 20-bar std of 1-bar log returns.",
    memory=k.recursive_memory(20, _RSI_ALPHA),
)
def mean_reversion_setup(b: BarArrays) -> FloatArray:
    rsi = ta.output(b, "RSI", timeperiod=14)
    upper, _, lower = ta.outputs(b, "BBANDS", timeperiod=20, nbdevup=2.0, nbdevdn=2.0)
    r1 = k.log_returns(b)
    sigma = np.full(len(b), np.nan)
    if len(b) > 20:
        sigma[20:] = sliding_window_view(r1[1:], 20).std(axis=1, ddof=1)
    r5 = k.log_return(b.close, 5)
    width = upper - lower
    with np.errstate(divide="ignore", invalid="ignore"):
        pctb = np.where(width > 0.0, (b.close - lower) / width, 0.5)
        z = r5 / (sigma * np.sqrt(5.0))
    z = np.where(np.isnan(z) & np.isfinite(sigma) & np.isfinite(r5), 0.0, z)
    band = np.clip(1.0 - 2.0 * pctb, -1.0, 1.0)
    score = ((50.0 - rsi) / 50.0 + band + np.tanh(-z)) / 3.0
    valid = np.isfinite(rsi) & np.isfinite(upper) & np.isfinite(sigma)
    return _masked(score, valid)


@register(
    "breakout_setup",
    category="composite",
    warmup=20,
    inputs=HLCV,
    description="Breakout setup score in [-1, 1], signed by the close's side of its 20-bar "
    "range: mean of TTM squeeze (0/1), closeness to the range edge |2 pos - 1| and rising "
    "volume (5-bar mean volume > 20-bar mean: 0/1).",
    memory=k.recursive_memory(20, _ATR20_ALPHA),
)
def breakout_setup(b: BarArrays) -> FloatArray:
    squeeze = _squeeze(b)
    top = _col_rolling(b, "high", 20, "max")
    bottom = _col_rolling(b, "low", 20, "min")
    span = top - bottom
    with np.errstate(divide="ignore", invalid="ignore"):
        pos = np.where(span > 0.0, (b.close - bottom) / span, 0.5)
    side = 2.0 * np.clip(pos, 0.0, 1.0) - 1.0
    rising = _col_rolling(b, "volume", 5, "mean") > _col_rolling(b, "volume", 20, "mean")
    score = np.sign(side) * (squeeze + np.abs(side) + rising) / 3.0
    valid = np.isfinite(squeeze) & np.isfinite(top)
    return _masked(score, valid)


def signed_streak(close: FloatArray, cap: int) -> FloatArray:
    """Return the run of consecutive up (+n) or down (-n) closes ending at each bar, |n| <= cap.

    An unchanged close ends a run (0). Capping keeps the memory at ``cap + 1`` bars.
    """
    step = np.sign(close - _lag(close, 1))
    step = np.where(np.isnan(step), 0.0, step)
    alive = step != 0.0
    run = alive.astype(np.float64)
    for lag in range(1, cap):
        alive = alive & (_lag(step, lag) == step)
        run += alive
    return np.asarray(step * run, dtype=np.float64)


@register(
    "trend_exhaustion",
    category="composite",
    warmup=19,
    inputs=HLC,
    description="Trend-exhaustion score in [-1, 1], + stretched up / - stretched down: mean of "
    "the consecutive-close run / 9, (RSI14 - 50) / 30 and (close - SMA20) / (3 ATR14), "
    "each clipped to [-1, 1].",
    memory=k.recursive_memory(19, _RSI_ALPHA),
)
def trend_exhaustion(b: BarArrays) -> FloatArray:
    run = signed_streak(b.close, 9) / 9.0
    rsi = ta.output(b, "RSI", timeperiod=14)
    sma = ta.output(b, "SMA", timeperiod=20)
    atr = ta.output(b, "ATR", timeperiod=14)
    with np.errstate(divide="ignore", invalid="ignore"):
        stretch = np.where(atr > 0.0, (b.close - sma) / (3.0 * atr), 0.0)
    score = (
        np.clip(run, -1.0, 1.0)
        + np.clip((rsi - 50.0) / 30.0, -1.0, 1.0)
        + np.clip(stretch, -1.0, 1.0)
    ) / 3.0
    valid = np.isfinite(rsi) & np.isfinite(sma) & np.isfinite(atr)
    return _masked(score, valid)
