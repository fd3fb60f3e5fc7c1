"""Volatility features we compute ourselves (TA-Lib's ATR/BBANDS family is in talib_indicators).

Every volatility here is per bar (the standard deviation of one bar's log return), never
annualised: multiply by ``sqrt(bars per year)`` to annualise. Range estimators follow their
papers: Parkinson (1980), Garman-Klass (1980), Rogers-Satchell (1991), Yang-Zhang (2000).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from alphaforge.features import kernels as k
from alphaforge.features import talib_calls as ta
from alphaforge.features.library._common import HL, HLC, OHLC, C
from alphaforge.features.registry import BarArrays, FeatureSpec, FloatArray, add, param_token

_CATEGORY = "volatility"
_MODULE = "library.volatility"

#: Keltner channel: EMA and ATR period, ATR multiple.
_KC_PERIOD = 20
_KC_MULT = 2.0
#: Bars a squeeze count is capped at, so that its memory stays finite.
_SQUEEZE_CAP = 50

_ATR_RATIO = (14, 50)


def _spec(
    name: str,
    warmup: int,
    inputs: tuple[str, ...],
    description: str,
    kernel: Callable[[BarArrays], FloatArray],
    params: dict[str, float | int | str],
    *,
    memory: int | None = -1,
    scale_free: bool = True,
) -> None:
    add(
        FeatureSpec(
            name,
            _CATEGORY,
            warmup,
            inputs,
            description,
            kernel,
            params,
            memory=memory,
            scale_free=scale_free,
        )
    )


# --- shared intermediates --------------------------------------------------------------------


def _rolling_var(values: FloatArray, window: int) -> FloatArray:
    """Trailing sample variance (ddof=1) over ``window`` values."""
    return pd.Series(values).rolling(window, min_periods=window).var().to_numpy(np.float64)


def vol_std(b: BarArrays, period: int) -> FloatArray:
    """Per-bar standard deviation (ddof=1) of 1-bar log returns over ``period`` bars, memoised."""
    return b.cached((_MODULE, "vol_std", period), lambda: k.rolling_std(k.log_returns(b), period))


def _log_ranges(b: BarArrays) -> dict[str, FloatArray]:
    """Log ratios of the bar's prices: ``hl``, ``hc``, ``ho``, ``lc``, ``lo``, ``co``."""

    def make() -> dict[str, FloatArray]:
        log_o, log_h = np.log(b.open), np.log(b.high)
        log_l, log_c = np.log(b.low), np.log(b.close)
        return {
            "hl": log_h - log_l,
            "hc": log_h - log_c,
            "ho": log_h - log_o,
            "lc": log_l - log_c,
            "lo": log_l - log_o,
            "co": log_c - log_o,
        }

    return b.cached((_MODULE, "log_ranges"), make)


def _rs_terms(b: BarArrays) -> FloatArray:
    """Rogers-Satchell per-bar variance ``ln(H/C) ln(H/O) + ln(L/C) ln(L/O)`` (>= 0)."""

    def make() -> FloatArray:
        r = _log_ranges(b)
        return np.asarray(r["hc"] * r["ho"] + r["lc"] * r["lo"], np.float64)

    return b.cached((_MODULE, "rs_terms"), make)


def _sqrt_pos(var: FloatArray) -> FloatArray:
    """Square root of a variance, with rounding below zero clipped to zero (NaN stays NaN)."""
    return np.asarray(np.sqrt(np.maximum(var, 0.0)), np.float64)


def _ratio(num: FloatArray, den: FloatArray, both_zero: float) -> FloatArray:
    """``num / den`` with ``0 / 0`` defined as ``both_zero`` (NaN stays NaN)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num / den
    out[(num == 0.0) & (den == 0.0)] = both_zero
    return np.asarray(out, np.float64)


def _position(x: FloatArray, lower: FloatArray, upper: FloatArray) -> FloatArray:
    """Where ``x`` lies between ``lower`` (0) and ``upper`` (1); 0.5 for a zero-width band."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (x - lower) / (upper - lower)
    out[upper == lower] = 0.5
    return np.asarray(out, np.float64)


# --- close-to-close and range estimators -----------------------------------------------------


def _vol_std_feature(period: int) -> None:
    def kernel(b: BarArrays) -> FloatArray:
        return vol_std(b, period)

    _spec(
        f"vol_std_{period}",
        period,
        C,
        f"Std (ddof=1) of 1-bar log returns over {period} bars, per bar (not annualised).",
        kernel,
        {"period": period},
    )


for _p in (5, 10, 20, 60):
    _vol_std_feature(_p)


def _parkinson_feature(period: int) -> None:
    def kernel(b: BarArrays) -> FloatArray:
        return k.parkinson_vol(b.high, b.low, period)

    _spec(
        f"vol_parkinson_{period}",
        period - 1,
        HL,
        f"Parkinson high-low volatility over {period} bars, per bar (not annualised).",
        kernel,
        {"period": period},
    )


for _p in (10, 20, 60):
    _parkinson_feature(_p)


def _garman_klass_feature(period: int) -> None:
    def kernel(b: BarArrays) -> FloatArray:
        r = _log_ranges(b)
        terms = 0.5 * r["hl"] ** 2 - (2.0 * np.log(2.0) - 1.0) * r["co"] ** 2
        return _sqrt_pos(k.rolling_mean(terms, period))

    _spec(
        f"vol_garman_klass_{period}",
        period - 1,
        OHLC,
        f"Garman-Klass OHLC volatility over {period} bars, per bar (not annualised).",
        kernel,
        {"period": period},
    )


def _rogers_satchell_feature(period: int) -> None:
    def kernel(b: BarArrays) -> FloatArray:
        return _sqrt_pos(k.rolling_mean(_rs_terms(b), period))

    _spec(
        f"vol_rogers_satchell_{period}",
        period - 1,
        OHLC,
        f"Rogers-Satchell drift-free OHLC volatility over {period} bars, per bar (not annualised).",
        kernel,
        {"period": period},
    )


def yang_zhang_k(period: int) -> float:
    """Yang-Zhang's weight of the open-to-close variance, ``0.34 / (1.34 + (n+1)/(n-1))``."""
    return 0.34 / (1.34 + (period + 1) / (period - 1))


def _yang_zhang_feature(period: int) -> None:
    weight = yang_zhang_k(period)

    def kernel(b: BarArrays) -> FloatArray:
        overnight = np.full_like(b.close, np.nan)
        overnight[1:] = np.log(b.open[1:] / b.close[:-1])
        var_overnight = _rolling_var(overnight, period)
        var_open_close = _rolling_var(_log_ranges(b)["co"], period)
        var_rs = k.rolling_mean(_rs_terms(b), period)
        var = var_overnight + weight * var_open_close + (1.0 - weight) * var_rs
        return _sqrt_pos(var)

    _spec(
        f"vol_yang_zhang_{period}",
        period,
        OHLC,
        f"Yang-Zhang volatility over {period} bars (overnight + k * open-close + (1-k) *"
        " Rogers-Satchell variances), per bar (not annualised).",
        kernel,
        {"period": period},
    )


for _p in (20, 60):
    _garman_klass_feature(_p)
    _rogers_satchell_feature(_p)
    _yang_zhang_feature(_p)


def _semideviation_feature(side: str, period: int) -> None:
    def kernel(b: BarArrays) -> FloatArray:
        r = k.log_returns(b)
        part = np.minimum(r, 0.0) if side == "down" else np.maximum(r, 0.0)
        return _sqrt_pos(k.rolling_mean(part * part, period))

    sign = "negative" if side == "down" else "positive"
    _spec(
        f"vol_{side}_{period}",
        period,
        C,
        f"{side.capitalize()}side semideviation over {period} bars: sqrt of the mean of"
        f" squared {sign} 1-bar log returns (target 0), per bar.",
        kernel,
        {"period": period},
    )


for _side in ("down", "up"):
    _semideviation_feature(_side, 20)


def _vol_of_vol(b: BarArrays) -> FloatArray:
    vol = vol_std(b, 20)
    return _ratio(k.rolling_std(vol, 20), k.rolling_mean(vol, 20), 0.0)


_spec(
    "vol_of_vol_20",
    39,
    C,
    "Std over 20 bars of vol_std_20 divided by its 20-bar mean (coefficient of variation).",
    _vol_of_vol,
    {"period": 20},
)


def _vol_ratio_feature(short: int, long: int) -> None:
    def kernel(b: BarArrays) -> FloatArray:
        return _ratio(vol_std(b, short), vol_std(b, long), 1.0)

    _spec(
        f"vol_ratio_{short}_{long}",
        long,
        C,
        f"vol_std_{short} / vol_std_{long}: short over long close-to-close volatility.",
        kernel,
        {"short": short, "long": long},
    )


for _short in (5, 20):
    _vol_ratio_feature(_short, 60)


def _atr_ratio(b: BarArrays) -> FloatArray:
    fast, slow = _ATR_RATIO
    return _ratio(ta.output(b, "ATR", timeperiod=fast), ta.output(b, "ATR", timeperiod=slow), 1.0)


_spec(
    f"atr_ratio_{_ATR_RATIO[0]}_{_ATR_RATIO[1]}",
    ta.lookback("ATR", timeperiod=_ATR_RATIO[1]),
    HLC,
    f"TA-Lib ATR {_ATR_RATIO[0]} / ATR {_ATR_RATIO[1]} (Wilder-smoothed true ranges).",
    _atr_ratio,
    {"fast": _ATR_RATIO[0], "slow": _ATR_RATIO[1]},
    memory=k.recursive_memory(ta.lookback("ATR", timeperiod=_ATR_RATIO[1]), 1.0 / _ATR_RATIO[1]),
)


# --- Bollinger bands -------------------------------------------------------------------------


def _bbands(b: BarArrays, period: int, nbdev: float) -> tuple[FloatArray, ...]:
    return ta.outputs(b, "BBANDS", timeperiod=period, nbdevup=nbdev, nbdevdn=nbdev)


def _bbands_pctb_feature(period: int, nbdev: float) -> None:
    def kernel(b: BarArrays) -> FloatArray:
        upper, _, lower = _bbands(b, period, nbdev)
        return _position(b.close, lower, upper)

    _spec(
        f"bbands_pctb_{period}_{param_token(nbdev)}",
        period - 1,
        C,
        f"%B: position of close within {period}-bar Bollinger bands at {nbdev:g} std"
        " (0 = lower, 1 = upper, 0.5 when the bands collapse).",
        kernel,
        {"period": period, "nbdev": nbdev},
    )


def _bbands_width_feature(period: int, nbdev: float) -> None:
    def kernel(b: BarArrays) -> FloatArray:
        upper, middle, lower = _bbands(b, period, nbdev)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray((upper - lower) / middle, np.float64)

    _spec(
        f"bbands_width_{period}_{param_token(nbdev)}",
        period - 1,
        C,
        f"Bollinger bandwidth ({period} bars, {nbdev:g} std): (upper - lower) / middle.",
        kernel,
        {"period": period, "nbdev": nbdev},
    )


for _p, _dev in ((20, 2.0), (10, 2.0), (30, 2.0), (20, 1.5), (20, 2.5)):
    _bbands_pctb_feature(_p, _dev)
for _p in (10, 20, 30):
    _bbands_width_feature(_p, 2.0)


# --- Keltner channel -------------------------------------------------------------------------

_KC_WARMUP = max(
    ta.lookback("EMA", timeperiod=_KC_PERIOD), ta.lookback("ATR", timeperiod=_KC_PERIOD)
)
_KC_MEMORY = max(
    k.recursive_memory(_KC_WARMUP, 2.0 / (_KC_PERIOD + 1)),
    k.recursive_memory(_KC_WARMUP, 1.0 / _KC_PERIOD),
)
_KC_TOKEN = f"{_KC_PERIOD}_{param_token(_KC_MULT)}"
_KC_PARAMS: dict[str, float | int | str] = {"period": _KC_PERIOD, "mult": _KC_MULT}


def keltner(b: BarArrays) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Keltner channel (lower, middle, upper): EMA 20 of close -+ 2 x ATR 20."""

    def make() -> tuple[FloatArray, FloatArray, FloatArray]:
        middle = ta.output(b, "EMA", timeperiod=_KC_PERIOD)
        atr = ta.output(b, "ATR", timeperiod=_KC_PERIOD)
        return middle - _KC_MULT * atr, middle, middle + _KC_MULT * atr

    return b.cached((_MODULE, "keltner", _KC_PERIOD, _KC_MULT), make)


def _keltner_upper(b: BarArrays) -> FloatArray:
    return keltner(b)[2]


def _keltner_lower(b: BarArrays) -> FloatArray:
    return keltner(b)[0]


def _keltner_pos(b: BarArrays) -> FloatArray:
    lower, _, upper = keltner(b)
    return _position(b.close, lower, upper)


def _keltner_width(b: BarArrays) -> FloatArray:
    lower, middle, upper = keltner(b)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray((upper - lower) / middle, np.float64)


def squeeze(b: BarArrays) -> FloatArray:
    """1 where the 20/2 Bollinger bands lie inside the 20/2 Keltner channel, else 0."""

    def make() -> FloatArray:
        bb_upper, _, bb_lower = _bbands(b, _KC_PERIOD, _KC_MULT)
        kc_lower, _, kc_upper = keltner(b)
        inside = (bb_upper <= kc_upper) & (bb_lower >= kc_lower)
        out = inside.astype(np.float64)
        out[np.isnan(bb_upper) | np.isnan(kc_upper)] = np.nan
        return out

    return b.cached((_MODULE, "squeeze", _KC_PERIOD, _KC_MULT), make)


def _squeeze_bars(b: BarArrays) -> FloatArray:
    on = squeeze(b)
    flag = np.nan_to_num(on, nan=0.0).astype(np.int64)
    count = np.cumsum(flag)
    # Count at the last bar that was not in a squeeze; the run length is the count since then.
    reset = np.maximum.accumulate(np.where(flag == 0, count, 0))
    out = np.minimum(count - reset, _SQUEEZE_CAP).astype(np.float64)
    out[np.isnan(on)] = np.nan
    return out


_spec(
    f"keltner_upper_{_KC_TOKEN}",
    _KC_WARMUP,
    HLC,
    "Keltner upper band: EMA 20 of close + 2 x ATR 20 (price units).",
    _keltner_upper,
    _KC_PARAMS,
    memory=_KC_MEMORY,
    scale_free=False,
)
_spec(
    f"keltner_lower_{_KC_TOKEN}",
    _KC_WARMUP,
    HLC,
    "Keltner lower band: EMA 20 of close - 2 x ATR 20 (price units).",
    _keltner_lower,
    _KC_PARAMS,
    memory=_KC_MEMORY,
    scale_free=False,
)
_spec(
    f"keltner_pos_{_KC_TOKEN}",
    _KC_WARMUP,
    HLC,
    "Position of close in the 20/2 Keltner channel (0 = lower, 1 = upper; outside beyond).",
    _keltner_pos,
    _KC_PARAMS,
    memory=_KC_MEMORY,
)
_spec(
    f"keltner_width_{_KC_TOKEN}",
    _KC_WARMUP,
    HLC,
    "Keltner 20/2 channel width over its middle: 4 x ATR 20 / EMA 20.",
    _keltner_width,
    _KC_PARAMS,
    memory=_KC_MEMORY,
)
_spec(
    f"keltner_squeeze_{_KC_PERIOD}",
    _KC_WARMUP,
    HLC,
    "1 when the 20/2 Bollinger bands lie inside the 20/2 Keltner channel, else 0.",
    squeeze,
    {"period": _KC_PERIOD},
    memory=_KC_MEMORY,
)
_spec(
    f"keltner_squeeze_bars_{_KC_PERIOD}",
    _KC_WARMUP,
    HLC,
    f"Bars the current Bollinger-inside-Keltner squeeze has lasted (0 when off), capped at"
    f" {_SQUEEZE_CAP}.",
    _squeeze_bars,
    {"period": _KC_PERIOD, "cap": _SQUEEZE_CAP},
    memory=_KC_MEMORY + _SQUEEZE_CAP,
)
