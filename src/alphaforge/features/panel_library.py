"""The built-in panel features: cross-sectional, cross-asset and HMM-regime kernels.

Importing this module registers them in :data:`alphaforge.features.panel.PANEL_FEATURES`
(``alphaforge.features`` imports it). The machinery they run on (the registry, as-of
alignment, :class:`~alphaforge.features.panel.PanelContext`) and the entry points live in
:mod:`alphaforge.features.panel`, whose docstring states the alignment rules every kernel
here relies on. Every kernel takes the context and returns arrays on the members' master
grid, computed from values known at each grid time.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from alphaforge.features.hmm import HMM_MIN_OBS, hmm_regime_probabilities
from alphaforge.features.panel import (
    DOLLAR_SYMBOLS,
    IRX,
    T10Y2Y,
    TNX,
    VIX,
    PanelContext,
    PanelFeatureSpec,
    PanelKernel,
    PanelValues,
    Requirement,
    Stat,
    add_panel,
)
from alphaforge.features.registry import FloatArray, IntArray

# --- vectorised helpers on (bars x symbols) matrices -----------------------------------------


def _log_ret(close: FloatArray, lag: int) -> FloatArray:
    out = np.full(close.shape, np.nan)
    if len(close) > lag:
        out[lag:] = np.log(close[lag:] / close[:-lag])
    return out


def _rolling(values: FloatArray, window: int, how: str) -> FloatArray:
    frame = pd.DataFrame(values).rolling(window, min_periods=window)
    return np.asarray(getattr(frame, how)().to_numpy(np.float64), np.float64)


def _pct_rank(matrix: FloatArray) -> FloatArray:
    """Return each value's percentile rank in its row among the finite values, 0..1.

    ``(average rank - 1) / (n - 1)`` with ties sharing their average rank: 0 for the lowest,
    1 for the highest, 0.5 when a value is alone in its row.
    """
    ranks = pd.DataFrame(matrix).rank(axis=1, method="average").to_numpy(np.float64)
    count = np.isfinite(matrix).sum(axis=1, keepdims=True).astype(np.float64)
    with np.errstate(all="ignore"):
        pct = np.where(count > 1.0, (ranks - 1.0) / (count - 1.0), 0.5)
    return np.where(np.isfinite(matrix), pct, np.nan)


def _rolling_mean(values: FloatArray, window: int) -> FloatArray:
    """Return the trailing mean over ``window`` rows (NaN unless all are finite).

    Prefix sums: a value depends on rows up to its own only, so truncating or replacing the
    future leaves it bit for bit unchanged.
    """
    finite = np.isfinite(values)
    zeros = np.zeros((1, *values.shape[1:]))
    sums = np.concatenate([zeros, np.cumsum(np.where(finite, values, 0.0), axis=0)])
    counts = np.concatenate([zeros, np.cumsum(finite, axis=0, dtype=np.float64)])
    out = np.full(values.shape, np.nan)
    if len(values) >= window:
        total = sums[window:] - sums[:-window]
        full = (counts[window:] - counts[:-window]) == window
        out[window - 1 :] = np.where(full, total / window, np.nan)
    return out


def _row_mean(matrix: FloatArray) -> FloatArray:
    finite = np.isfinite(matrix)
    count = finite.sum(axis=1)
    total = np.where(finite, matrix, 0.0).sum(axis=1)
    with np.errstate(all="ignore"):
        return np.where(count > 0, total / count, np.nan)


def _row_zscore(matrix: FloatArray) -> FloatArray:
    mean = _row_mean(matrix)[:, None]
    dev = matrix - mean
    var = _row_mean(dev * dev)[:, None]
    std = np.sqrt(var)
    with np.errstate(all="ignore"):
        z = dev / std
    return np.where(std > 0.0, z, np.where(np.isfinite(matrix), 0.0, np.nan))


def _broadcast_master(row: FloatArray, members: int) -> FloatArray:
    return np.repeat(row[:, None], members, axis=1)


# --- cross-sectional features ----------------------------------------------------------------


def _ret_key(lag: int) -> tuple[str, int]:
    return ("log_ret", lag)


def _returns(ctx: PanelContext, lag: int) -> FloatArray:
    return ctx.master_stat(_ret_key(lag), lambda c, _: _log_ret(c, lag))


def _cs_rank_ret(lag: int) -> PanelKernel:
    def kernel(ctx: PanelContext) -> PanelValues:
        return ctx.from_master(_pct_rank(_returns(ctx, lag)))

    return kernel


def _cs_zscore_ret(lag: int) -> PanelKernel:
    def kernel(ctx: PanelContext) -> PanelValues:
        return ctx.from_master(_row_zscore(_returns(ctx, lag)))

    return kernel


def _cs_rank_vol(window: int) -> PanelKernel:
    def kernel(ctx: PanelContext) -> PanelValues:
        vol = ctx.master_stat(("vol", window), lambda c, _: _rolling(_log_ret(c, 1), window, "std"))
        return ctx.from_master(_pct_rank(vol))

    return kernel


def _breadth(window: int) -> PanelKernel:
    def above(close: FloatArray, _: IntArray) -> FloatArray:
        sma = _rolling(close, window, "mean")
        return np.where(np.isfinite(sma), (close > sma).astype(np.float64), np.nan)

    def kernel(ctx: PanelContext) -> PanelValues:
        flags = ctx.master_stat(("above_sma", window), above)
        return ctx.from_master(_broadcast_master(_row_mean(flags), len(ctx.members)))

    return kernel


def _needs_sectors(ctx: PanelContext) -> str | None:
    if any(s for s in ctx.sectors()):
        return None
    return "instruments= with a sector for the members"


def _sector_rs(lag: int) -> PanelKernel:
    def kernel(ctx: PanelContext) -> PanelValues:
        returns = _returns(ctx, lag)
        sectors = ctx.sectors()
        names = sorted({s for s in sectors if s})
        which = np.array([names.index(s) if s else -1 for s in sectors], dtype=np.int64)
        onehot = (which[:, None] == np.arange(len(names))[None, :]).astype(np.float64)
        finite = np.isfinite(returns)
        total = np.where(finite, returns, 0.0) @ onehot
        count = finite.astype(np.float64) @ onehot
        with np.errstate(all="ignore"):
            sector_mean = total / count  # (times x sectors); NaN where a sector has no value
        rs = returns - sector_mean[:, np.maximum(which, 0)]
        rs[:, which < 0] = np.nan
        return ctx.from_master(rs)

    return kernel


for _lag in (5, 20, 60):
    add_panel(
        PanelFeatureSpec(
            f"cs_rank_ret_{_lag}",
            "cross_sectional",
            _lag,
            f"percentile rank (0..1) of the {_lag}-bar log return among the panel's members",
            _cs_rank_ret(_lag),
            params={"period": _lag},
        )
    )
for _lag in (20, 60):
    add_panel(
        PanelFeatureSpec(
            f"cs_zscore_ret_{_lag}",
            "cross_sectional",
            _lag,
            f"cross-sectional z-score of the {_lag}-bar log return (population std)",
            _cs_zscore_ret(_lag),
            params={"period": _lag},
        )
    )
add_panel(
    PanelFeatureSpec(
        "cs_rank_vol_20",
        "cross_sectional",
        20,
        "percentile rank (0..1) of the 20-bar std of 1-bar log returns among the members",
        _cs_rank_vol(20),
        params={"period": 20},
    )
)
for _window in (50, 200):
    add_panel(
        PanelFeatureSpec(
            f"breadth_above_sma_{_window}",
            "cross_sectional",
            _window - 1,
            f"share (0..1) of members whose close is above their {_window}-bar SMA",
            _breadth(_window),
            params={"period": _window},
        )
    )
for _lag in (20, 60):
    add_panel(
        PanelFeatureSpec(
            f"sector_rs_{_lag}",
            "cross_sectional",
            _lag,
            f"{_lag}-bar log return minus the mean {_lag}-bar log return of the symbol's sector",
            _sector_rs(_lag),
            requires=_needs_sectors,
            params={"period": _lag},
        )
    )


# --- cross-asset features --------------------------------------------------------------------


def _beta_corr(ctx: PanelContext, window: int, lag: int) -> tuple[Stat, Stat]:
    """Return rolling beta and correlation of member returns to (lagged) benchmark returns."""

    def make() -> tuple[Stat, Stat]:
        betas: Stat = []
        corrs: Stat = []
        own = ctx.member_stat(_ret_key(1), lambda c, _: _log_ret(c, 1))
        with np.errstate(all="ignore"):
            for x, bench in zip(own, ctx.benchmark_returns(), strict=True):
                y = np.full(bench.shape, np.nan)
                y[lag:] = bench[: len(bench) - lag]
                y = np.broadcast_to(y, x.shape)
                both = np.isfinite(x) & np.isfinite(y)
                xv = np.where(both, x, np.nan)
                yv = np.where(both, y, np.nan)
                mx = _rolling_mean(xv, window)
                my = _rolling_mean(yv, window)
                mxx = _rolling_mean(xv * xv, window)
                myy = _rolling_mean(yv * yv, window)
                cov = _rolling_mean(xv * yv, window) - mx * my
                vx = mxx - mx * mx
                vy = myy - my * my
                # A variance within rounding of zero (a constant series) is degenerate: NaN.
                ok_y = vy > 1e-12 * myy
                ok_x = vx > 1e-12 * mxx
                betas.append(np.where(ok_y, cov / vy, np.nan))
                corr = np.clip(cov / np.sqrt(np.abs(vx * vy)), -1.0, 1.0)
                corrs.append(np.where(ok_y & ok_x, corr, np.nan))
        return betas, corrs

    result: tuple[Stat, Stat] = ctx.cached(("beta_corr", window, lag), make)
    return result


def _beta(window: int) -> PanelKernel:
    def kernel(ctx: PanelContext) -> PanelValues:
        return ctx.per_member(_beta_corr(ctx, window, 0)[0])

    return kernel


def _corr(window: int, lag: int) -> PanelKernel:
    def kernel(ctx: PanelContext) -> PanelValues:
        return ctx.per_member(_beta_corr(ctx, window, lag)[1])

    return kernel


add_panel(
    PanelFeatureSpec(
        "beta_60",
        "cross_asset",
        60,
        "rolling 60-bar beta of 1-bar log returns to the benchmark's",
        _beta(60),
        params={"period": 60},
    )
)
add_panel(
    PanelFeatureSpec(
        "corr_60",
        "cross_asset",
        60,
        "rolling 60-bar correlation of 1-bar log returns with the benchmark's",
        _corr(60, 0),
        params={"period": 60},
    )
)
add_panel(
    PanelFeatureSpec(
        "leadlag_corr_60",
        "cross_asset",
        61,
        "rolling 60-bar correlation of the 1-bar log return with the benchmark's one bar earlier",
        _corr(60, 1),
        params={"period": 60, "lag": 1},
    )
)


def _needs(*symbols: str) -> Requirement:
    def requires(ctx: PanelContext) -> str | None:
        absent = [s for s in symbols if s not in ctx.close]
        return f"a {', '.join(absent)} series in the panel" if absent else None

    return requires


def _input_feature(symbol: str, fn: Callable[[FloatArray], FloatArray]) -> PanelKernel:
    def kernel(ctx: PanelContext) -> PanelValues:
        with np.errstate(all="ignore"):
            values = np.asarray(fn(ctx.close[symbol]), np.float64)
        return ctx.series_to_members(ctx.known[symbol], values)

    return kernel


def _change(lag: int) -> Callable[[FloatArray], FloatArray]:
    def fn(close: FloatArray) -> FloatArray:
        out = np.full(len(close), np.nan)
        out[lag:] = close[lag:] - close[:-lag]
        return out

    return fn


def _zscore(window: int) -> Callable[[FloatArray], FloatArray]:
    def fn(close: FloatArray) -> FloatArray:
        col = close[:, None]
        std = _rolling(col, window, "std")[:, 0]
        dev = close - _rolling(col, window, "mean")[:, 0]
        with np.errstate(all="ignore"):
            return np.where(std > 0.0, dev / std, np.where(np.isfinite(std), 0.0, np.nan))

    return fn


add_panel(
    PanelFeatureSpec(
        "vix_level",
        "cross_asset",
        0,
        "latest known ^VIX close (index points)",
        _input_feature(VIX, lambda c: c.copy()),
        requires=_needs(VIX),
        scale_free=False,
    )
)
add_panel(
    PanelFeatureSpec(
        "vix_change_5",
        "cross_asset",
        5,
        "change of the ^VIX close over its last 5 bars (index points)",
        _input_feature(VIX, _change(5)),
        requires=_needs(VIX),
        params={"period": 5},
    )
)
add_panel(
    PanelFeatureSpec(
        "vix_z_60",
        "cross_asset",
        59,
        "z-score of the ^VIX close over its last 60 bars (sample std)",
        _input_feature(VIX, _zscore(60)),
        requires=_needs(VIX),
        params={"period": 60},
    )
)


def _needs_curve(ctx: PanelContext) -> str | None:
    if (TNX in ctx.close and IRX in ctx.close) or T10Y2Y in ctx.close:
        return None
    return f"both {TNX} and {IRX} series (or {T10Y2Y}) in the panel"


def _yield_curve_slope(ctx: PanelContext) -> PanelValues:
    if TNX in ctx.close and IRX in ctx.close:
        long = ctx.series_to_members(ctx.known[TNX], ctx.close[TNX])
        short = ctx.series_to_members(ctx.known[IRX], ctx.close[IRX])
        return {s: long[s] - short[s] for s in long}
    return ctx.series_to_members(ctx.known[T10Y2Y], ctx.close[T10Y2Y])


add_panel(
    PanelFeatureSpec(
        "yield_curve_slope",
        "cross_asset",
        0,
        "^TNX minus ^IRX close (their quote units, percent), else the T10Y2Y close",
        _yield_curve_slope,
        requires=_needs_curve,
        # 2: the FRED source serves T10Y2Y point in time (the value published by each bar's
        # close), not the latest revision stamped at the date it describes.
        version=2,
    )
)


def _dollar_symbol(ctx: PanelContext) -> str | None:
    return next((s for s in DOLLAR_SYMBOLS if s in ctx.close), None)


def _needs_dollar(ctx: PanelContext) -> str | None:
    if _dollar_symbol(ctx) is not None:
        return None
    return f"a {' or '.join(DOLLAR_SYMBOLS)} series in the panel"


def _dollar_ret(lag: int) -> PanelKernel:
    def kernel(ctx: PanelContext) -> PanelValues:
        symbol = _dollar_symbol(ctx)
        assert symbol is not None
        with np.errstate(all="ignore"):
            values = _log_ret(ctx.close[symbol], lag)
        return ctx.series_to_members(ctx.known[symbol], values)

    return kernel


add_panel(
    PanelFeatureSpec(
        "dollar_ret_20",
        "cross_asset",
        20,
        "20-bar log return of the dollar index (DX-Y.NYB, else UUP)",
        _dollar_ret(20),
        requires=_needs_dollar,
        params={"period": 20},
    )
)


def _hmm_probs(ctx: PanelContext) -> tuple[IntArray, FloatArray]:
    def make() -> tuple[IntArray, FloatArray]:
        known, level = ctx.benchmark_level()
        returns = np.full(len(level), np.nan)
        returns[1:] = level[1:] - level[:-1]
        probs, _ = hmm_regime_probabilities(returns, known)
        return known, probs

    result: tuple[IntArray, FloatArray] = ctx.cached("hmm_probs", make)
    return result


def _hmm_state(state: int) -> PanelKernel:
    def kernel(ctx: PanelContext) -> PanelValues:
        known, probs = _hmm_probs(ctx)
        return ctx.series_to_members(known, np.ascontiguousarray(probs[:, state]))

    return kernel


for _state, _what in ((0, "low"), (1, "high")):
    add_panel(
        PanelFeatureSpec(
            f"hmm_state_prob_{_state}",
            "regime",
            HMM_MIN_OBS,
            f"filtered probability (0..1) of the {_what}-volatility state of a 2-state Gaussian"
            " HMM on benchmark returns, refitted yearly",
            _hmm_state(_state),
            params={"states": 2, "state": _state},
            version=2,  # 2: EM run to the likelihood optimum (tolerance 1e-9, was 1e-4)
        )
    )
