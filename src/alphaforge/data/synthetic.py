"""A synthetic multi-asset market with known ground truth.

The generator produces equities on the XNYS calendar, crypto on a 24/7 calendar and forex on a
24/5 calendar, as daily or intraday (1m, 5m, 15m, 1h) bars in the canonical bar frame (UTC
index stamped at bar *open*, float64 ``open high low close volume``). Beside the bars it returns
the true conditional mean of every next close-to-close log return, so a test can compute the
best AUC and IC that any causal model could reach (the oracle; for a multi-bar label see
:func:`oracle_forward_return`), and a pure-noise control universe (:func:`random_walk_market`)
whose result must look like chance.

Return model
------------
For symbol ``i`` and bar ``t`` the close-to-close log return is::

    r[t, i] = mu[t-1, i] + X[t, i]
    X[t, i] = sigma_i * sqrt(w[t]) * q[d] * a[t] * (bm_i * sqrt(hm[d]) * em[t]
                                                   + bs_i * sqrt(hs[d, g_i]) * es[t, g_i]
                                                   + be_i * sqrt(he[d, i]) * ee[t, i])

where ``d`` is the trading day of bar ``t``, ``g_i`` the sector of symbol ``i`` and

* ``sigma_i**2`` is the symbol's variance per trading day: ``(annual_vol * m_i)**2 / P`` with
  ``m_i`` drawn in ``[0.75, 1.25]`` and ``P`` = 252 (stock), 365 (crypto), 260 (forex) trading
  days a year;
* ``w[t]`` is the bar's share of a trading day's variance, fixed by the calendar: the
  open-to-close share (0.8 for daily equity bars, 1 for daily crypto and forex; a U-shaped
  profile across the session for intraday equity bars, summing to 0.8 a full session; a flat
  ``interval / 24h`` for intraday crypto and forex) plus a gap share on the first bar after a
  break (0.2 overnight for equities, 0.1 after a forex weekend or holiday; none on the very
  first bar);
* ``q[d]`` is a two-state Markov regime (calm / turbulent, turbulent volatility twice calm,
  2 % daily chance of turning turbulent, 10 % of calming), scaled so that ``E[q**2] = 1``;
* ``a[t]`` is a market-wide intraday activity multiplier (log AR(1), half-life 1/8 day,
  ``E[a**2] = 1``); 1 for daily bars;
* ``hm, hs, he`` are GARCH(1,1) variance multipliers (mean 1, ``alpha = 0.07``,
  ``beta = 0.91`` per day) of the market factor, the sector factors and the idiosyncratic
  terms, updated once per trading day from that day's shocks;
* ``em, es, ee`` are unit-variance Student-t innovations (6 degrees of freedom: fat tails);
* the loadings satisfy ``bm_i**2 + bs_i**2 + be_i**2 = 1`` (market and sector variance shares
  of about 0.30 and 0.20 for stocks, 0.50 and 0.15 for crypto, 0.35 and 0.15 for forex).

``X[t]`` has mean zero given everything known before bar ``t`` (its scale depends only on
earlier days and on draws independent of its sign), so ``mu[t-1]`` is exactly
``E[r[t] | everything observable at the close of bar t-1]``. The first bar's return is
``log(close[0] / open[0])`` and ``mu[-1] = 0``.

Planted signal
--------------
With ``signal_strength = s > 0`` the mean is a short-term *reversal* of the symbol's own
returns, a deterministic function of its own closes up to bar ``t`` and of the calendar::

    x[t]  = r[t]**2 / w[t]                                  (variance per trading day)
    v[t]  = lam * v[t-1] + (1 - lam) * x[t]                 (fast EWMA)
    z[t]  = (r[t-K+1] + ... + r[t]) / sqrt(v[t] * (w[t-K+1] + ... + w[t]))
    m[t]  = sqrt(v[t]) * tanh(z[t])
    A[t]  = L * A[t-1] + (1 - L) * m[t]**2                  (slow EWMAs)
    B[t]  = L * B[t-1] + (1 - L) * x[t]
    mu[t] = -sqrt(s) * sqrt(w[t+1] * B[t] / A[t]) * m[t]

with ``K = 5`` bars (fewer at the start), ``lam = 0.94 ** (1 / bars per full day)``,
``L = 0.995`` per bar, ``v[-1] = B[-1] = annual_vol**2 / P`` and ``A[-1] = k0**2 * v[-1]``
where ``k0**2 = E[tanh(Z)**2]`` for ``Z ~ N(0, 1)``. For the last bar, ``w[t+1]`` is that of
a regular next bar (a full day for daily bars).

Calibration: ``B`` tracks ``E[r**2 / w]`` and ``A`` tracks ``E[m**2]``, so
``E[mu[t]**2] ~ s * E[r[t+1]**2]``; since ``mu`` is uncorrelated with the next shock, the
planted mean explains a fraction ``s`` of per-bar return variance: the R^2 (squared
correlation) of the next return on ``mu`` is ``s`` up to sampling error (about 0.050 +- 0.005
for ``s = 0.05`` on the default daily market, and as close for intraday markets). The
normalization by slow averages makes this hold whatever the distribution of ``z``.

Prices, ranges and volume
-------------------------
Closes are ``P0_i * exp(cumsum(r))`` with ``P0_i`` log-uniform in ``[20, 200]``. The gap from
the previous close to the open is the Brownian-bridge value of ``r`` at the gap's variance
share; the first bar has no gap (its open is ``P0_i``). High and low are exact draws of the
maximum and minimum of a Brownian bridge from open to close with the bar's intraday volatility.
Volume is lognormal: a symbol base level, the intraday (U-shaped for equities) share of the
day, the conditional volatility level, the bar's absolute standardized shock, a persistent
daily AR(1) term and noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from alphaforge.config.models import DataConfig, SecretsConfig
from alphaforge.core.bars import BAR_COLUMNS, INDEX_NAME
from alphaforge.core.errors import DataError, UnknownSymbolError
from alphaforge.core.types import AssetClass, Instrument, Interval, default_calendar
from alphaforge.data.calendars import expected_bars
from alphaforge.data.sources.base import SOURCES, DataSource

__all__ = [
    "ForwardOracle",
    "SyntheticMarket",
    "SyntheticSource",
    "SyntheticSpec",
    "generate_market",
    "oracle_forward_return",
    "random_walk_market",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Asset classes the generator knows, with their symbol prefixes.
_PREFIX: Final[dict[AssetClass, str]] = {
    AssetClass.STOCK: "SYN",
    AssetClass.CRYPTO: "SYNC",
    AssetClass.FOREX: "SYNFX",
}
#: Trading days per year, to turn annual volatility into variance per trading day.
_DAYS_PER_YEAR: Final[dict[AssetClass, float]] = {
    AssetClass.STOCK: 252.0,
    AssetClass.CRYPTO: 365.0,
    AssetClass.FOREX: 260.0,
}
#: Variance shares of the market and sector factors.
_FACTOR_SHARES: Final[dict[AssetClass, tuple[float, float]]] = {
    AssetClass.STOCK: (0.30, 0.20),
    AssetClass.CRYPTO: (0.50, 0.15),
    AssetClass.FOREX: (0.35, 0.15),
}
#: Share of a day's variance in the gap before the first bar after a break.
_GAP_SHARE: Final[dict[AssetClass, float]] = {
    AssetClass.STOCK: 0.20,  # overnight
    AssetClass.CRYPTO: 0.0,  # never closes
    AssetClass.FOREX: 0.10,  # weekend and holidays
}
#: Base daily volume ranges, log10 units.
_LOG10_VOLUME: Final[dict[AssetClass, tuple[float, float]]] = {
    AssetClass.STOCK: (5.5, 7.0),
    AssetClass.CRYPTO: (3.0, 5.0),
    AssetClass.FOREX: (4.0, 6.0),
}
_SUPPORTED_INTERVALS: Final[frozenset[Interval]] = frozenset(
    {Interval.M1, Interval.M5, Interval.M15, Interval.H1, Interval.D1}
)

_T_DOF: Final = 6.0  # Student-t degrees of freedom of bar innovations
_GARCH_ALPHA: Final = 0.07  # daily GARCH(1,1) reaction
_GARCH_BETA: Final = 0.91  # daily GARCH(1,1) persistence
_P_CALM_TO_TURBULENT: Final = 0.02  # per trading day
_P_TURBULENT_TO_CALM: Final = 0.10  # per trading day
_TURBULENT_VOL_RATIO: Final = 2.0
_SIGNAL_LOOKBACK: Final = 5  # bars in the reversal z-score
_EWMA_DAILY_LAMBDA: Final = 0.94  # fast variance estimate in the z-score
_SLOW_LAMBDA: Final = 0.995  # per bar: slow level estimates that calibrate the strength
_VOLUME_AR: Final = 0.9  # daily persistence of the volume level
_VOLUME_AR_SD: Final = 0.3  # stationary sd of the persistent log-volume term
_VOLUME_NOISE_SD: Final = 0.25
_VOLUME_ABS_SHOCK: Final = 0.35  # log-volume per unit absolute standardized shock
_VOLUME_VOL_LEVEL: Final = 0.5  # log-volume per unit log conditional volatility ratio
_INTRADAY_ACTIVITY_SD: Final = 0.3  # sd of the intraday log-volatility burst term
_NY_TZ: Final = "America/New_York"


def _tanh_rms() -> float:
    """Return sqrt(E[tanh(Z)^2]) for Z ~ N(0, 1) by Gauss-Hermite quadrature."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(120)
    return float(np.sqrt(np.sum(weights * np.tanh(nodes) ** 2) / np.sqrt(2.0 * np.pi)))


_TANH_RMS: Final = _tanh_rms()


@dataclass(frozen=True, slots=True)
class SyntheticSpec:
    """What synthetic market to generate.

    Parameters
    ----------
    n_symbols
        Number of symbols. Stocks are named ``SYN00, SYN01, ...``, crypto ``SYNC00, ...`` and
        forex ``SYNFX00, ...`` (at least two digits, zero-padded).
    n_sectors
        Number of sector factors; symbol ``k`` belongs to ``Sector{k % n_sectors}``. The sector
        name is recorded on stock instruments only; crypto and forex symbols still share the
        group factors.
    start, end
        First and last calendar date (inclusive, UTC) of the bars.
    interval
        Bar interval: ``1d`` or an intraday interval (``1m``, ``5m``, ``15m``, ``1h``).
    asset_class
        ``STOCK`` (XNYS sessions), ``CRYPTO`` (24/7) or ``FOREX`` (24/5, Sunday 17:00 to
        Friday 17:00 New York time).
    signal_strength
        Fraction of per-bar return variance explained by the planted predictable mean, in
        ``[0, 1)``; 0 means the conditional mean is exactly zero (pure noise).
    annual_vol
        Typical annualized volatility of log returns (a fraction, 0.25 = 25 %); each symbol's
        own level is this times a factor in ``[0.75, 1.25]``.
    symbol_prefix
        Replaces the asset class's prefix of the symbol names (``RW`` gives ``RW00, RW01,
        ...``), so that two universes can be told apart; ``None`` keeps the default.
    """

    n_symbols: int = 24
    n_sectors: int = 4
    start: date = date(2012, 1, 1)
    end: date = date(2019, 12, 31)
    interval: Interval = Interval.D1
    asset_class: AssetClass = AssetClass.STOCK
    signal_strength: float = 0.0
    annual_vol: float = 0.25
    symbol_prefix: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "interval", Interval(self.interval))
        object.__setattr__(self, "asset_class", AssetClass(self.asset_class))
        if self.n_symbols < 1:
            raise ValueError(f"n_symbols must be at least 1, got {self.n_symbols}")
        if self.n_sectors < 1:
            raise ValueError(f"n_sectors must be at least 1, got {self.n_sectors}")
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        if self.interval not in _SUPPORTED_INTERVALS:
            raise ValueError(
                f"interval {self.interval} is not generated; use 1d, 1h, 15m, 5m or 1m"
            )
        if self.asset_class not in _PREFIX:
            raise ValueError(
                f"asset class {self.asset_class} is not generated; use stock, crypto or forex"
            )
        if not 0.0 <= self.signal_strength < 1.0:
            raise ValueError(f"signal_strength must be in [0, 1), got {self.signal_strength}")
        if not self.annual_vol > 0.0:
            raise ValueError(f"annual_vol must be positive, got {self.annual_vol}")
        if self.symbol_prefix is not None and not (
            self.symbol_prefix.isascii() and self.symbol_prefix.isalpha()
        ):
            raise ValueError(f"symbol_prefix must be ASCII letters, got {self.symbol_prefix!r}")

    @property
    def calendar(self) -> str:
        """Return the calendar name of the asset class (``XNYS``, ``24/7`` or ``24/5``)."""
        return default_calendar(self.asset_class)

    @property
    def symbols(self) -> list[str]:
        """Return the symbol names, in generation order."""
        return _symbol_names(self.asset_class, self.n_symbols, self.symbol_prefix)


@dataclass(frozen=True, slots=True)
class SyntheticMarket:
    """A generated market and its ground truth.

    Attributes
    ----------
    bars
        Symbol -> canonical bar frame (UTC index at bar open, float64 OHLCV; prices in quote
        currency, volume in units of the instrument).
    instruments
        Symbol -> :class:`~alphaforge.core.Instrument`.
    expected_return
        Symbol -> ``E[log(close[t+1] / close[t]) | everything observable at the close of bar
        t]``, indexed like ``bars``; exactly the mean used to draw the next bar's return (the
        last value is the mean of a bar beyond the data). All zeros for a pure-noise market.
    spec
        The specification the market was generated from.
    seed
        The seed it was generated with.
    return_sd
        Symbol -> standard deviation of each bar's close-to-close log return around its mean
        (the scale its shock was drawn with), indexed like ``bars``. It is known at the close
        of the bar before, except for a volatility regime change on a new trading day.
    """

    bars: dict[str, pd.DataFrame]
    instruments: dict[str, Instrument]
    expected_return: dict[str, pd.Series]
    spec: SyntheticSpec
    seed: int
    return_sd: dict[str, pd.Series]


# ---------------------------------------------------------------------------------------------
# Layout: what the calendar says about each bar
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Layout:
    """Per-bar quantities that depend on the calendar only (no randomness)."""

    index: pd.DatetimeIndex
    day: IntArray  # trading-day number of each bar, 0..D-1
    day_starts: IntArray  # first bar of each trading day
    w_gap: FloatArray  # variance share (of a trading day) of the gap before the bar opens
    w_intra: FloatArray  # variance share of the bar's open-to-close move
    w_next_last: float  # assumed total variance share of the bar after the last one
    volume_share: FloatArray  # share of a trading day's volume
    bars_per_day: int  # bars in a full trading day

    @property
    def w(self) -> FloatArray:
        """Return each bar's total (close-to-close) variance share."""
        return self.w_gap + self.w_intra


def _symbol_names(asset_class: AssetClass, n: int, prefix: str | None = None) -> list[str]:
    width = max(2, len(str(n - 1)))
    prefix = _PREFIX[asset_class] if prefix is None else prefix
    return [f"{prefix}{k:0{width}d}" for k in range(n)]


def _u_shape(position: FloatArray, depth: float) -> FloatArray:
    """Return a U-shaped profile over session position in ``(0, 1)``: 1 mid-session."""
    return 1.0 + depth * (2.0 * position - 1.0) ** 2


def _layout(spec: SyntheticSpec) -> _Layout:
    index = expected_bars(spec.calendar, spec.start, spec.end, spec.interval)
    n = len(index)
    if n == 0:
        raise ValueError(
            f"no {spec.calendar} bars between {spec.start} and {spec.end}; widen the range"
        )
    stamps = index.asi8
    if spec.interval == Interval.D1:
        step_ns = pd.Timedelta(days=1).value
        key = np.arange(n, dtype=np.int64)
    else:
        offset = spec.interval.offset
        step_ns = pd.Timedelta(
            minutes=offset.kwds.get("minutes", 0), hours=offset.kwds.get("hours", 0)
        ).value
        if spec.asset_class == AssetClass.FOREX:
            # The forex day rolls at 17:00 New York time.
            shifted = index.tz_convert(_NY_TZ).tz_localize(None) + pd.Timedelta(hours=7)
            key = np.asarray(shifted.normalize().asi8, dtype=np.int64)
        else:
            key = np.asarray(index.normalize().asi8, dtype=np.int64)
    new_day = np.empty(n, dtype=bool)
    new_day[0] = True
    new_day[1:] = key[1:] != key[:-1]
    day = np.cumsum(new_day, dtype=np.int64) - 1
    day_starts = np.flatnonzero(new_day).astype(np.int64)
    counts = np.diff(np.append(day_starts, n)).astype(np.int64)
    bars_per_day = int(counts.max())
    position = (np.arange(n, dtype=np.int64) - day_starts[day] + 0.5) / counts[day]

    after_break = np.zeros(n, dtype=bool)
    after_break[1:] = np.diff(stamps) > step_ns
    if spec.asset_class == AssetClass.STOCK and spec.interval == Interval.D1:
        after_break[1:] = True  # every session opens after an overnight break
    gap_share = _GAP_SHARE[spec.asset_class]
    w_gap = np.where(after_break, gap_share, 0.0)

    if spec.interval == Interval.D1:
        w_intra = np.full(n, 1.0 - gap_share if spec.asset_class == AssetClass.STOCK else 1.0)
        volume_share = np.ones(n)
        w_next_last = 1.0
    elif spec.asset_class == AssetClass.STOCK:
        # U-shaped intraday variance and volume; a short (half) session gets fewer full bars.
        scale = counts[day] / bars_per_day
        vol_u = _u_shape(position, 1.5)
        w_intra = (1.0 - gap_share) * vol_u / np.bincount(day, vol_u)[day] * scale
        volu_u = _u_shape(position, 2.5)
        volume_share = volu_u / np.bincount(day, volu_u)[day] * scale
        w_next_last = gap_share + float(w_intra[day_starts[-1]])
    else:
        share = step_ns / pd.Timedelta(days=1).value
        w_intra = np.full(n, share)
        volume_share = np.full(n, share)
        w_next_last = share
    return _Layout(
        index=pd.DatetimeIndex(index, name=INDEX_NAME),
        day=day,
        day_starts=day_starts,
        w_gap=w_gap.astype(np.float64),
        w_intra=w_intra.astype(np.float64),
        w_next_last=w_next_last,
        volume_share=volume_share.astype(np.float64),
        bars_per_day=bars_per_day,
    )


# ---------------------------------------------------------------------------------------------
# Random parts
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _SymbolParams:
    sector: IntArray
    sigma_day: FloatArray  # sd of log return per trading day
    beta_market: FloatArray
    beta_sector: FloatArray
    beta_idio: FloatArray
    price0: FloatArray
    log_volume0: FloatArray  # log of typical daily volume


def _symbol_params(spec: SyntheticSpec, rng: np.random.Generator) -> _SymbolParams:
    s = spec.n_symbols
    share_m, share_s = _FACTOR_SHARES[spec.asset_class]
    vol_mult = rng.uniform(0.75, 1.25, s)
    beta_market = np.sqrt(share_m) * rng.uniform(0.8, 1.2, s)
    beta_sector = np.sqrt(share_s) * rng.uniform(0.8, 1.2, s)
    beta_idio = np.sqrt(1.0 - beta_market**2 - beta_sector**2)
    price0 = np.exp(rng.uniform(np.log(20.0), np.log(200.0), s))
    lo, hi = _LOG10_VOLUME[spec.asset_class]
    log_volume0 = np.log(10.0) * rng.uniform(lo, hi, s)
    sigma_day = spec.annual_vol * vol_mult / np.sqrt(_DAYS_PER_YEAR[spec.asset_class])
    return _SymbolParams(
        sector=np.arange(s, dtype=np.int64) % spec.n_sectors,
        sigma_day=sigma_day,
        beta_market=beta_market,
        beta_sector=beta_sector,
        beta_idio=beta_idio,
        price0=price0,
        log_volume0=log_volume0,
    )


def _student_t(rng: np.random.Generator, size: tuple[int, ...]) -> FloatArray:
    """Return unit-variance Student-t draws."""
    scale = np.sqrt((_T_DOF - 2.0) / _T_DOF)
    return np.asarray(rng.standard_t(_T_DOF, size) * scale, dtype=np.float64)


def _regime_scale(n_days: int, rng: np.random.Generator) -> FloatArray:
    """Return the per-day volatility multiplier of a 2-state Markov regime, E[q^2] = 1."""
    p_turb = _P_CALM_TO_TURBULENT / (_P_CALM_TO_TURBULENT + _P_TURBULENT_TO_CALM)
    draws = rng.uniform(size=n_days).tolist()
    turbulent = np.empty(n_days, dtype=bool)
    state = draws[0] < p_turb
    turbulent[0] = state
    for d in range(1, n_days):
        state = draws[d] >= _P_TURBULENT_TO_CALM if state else draws[d] < _P_CALM_TO_TURBULENT
        turbulent[d] = state
    norm = np.sqrt((1.0 - p_turb) + p_turb * _TURBULENT_VOL_RATIO**2)
    scale: FloatArray = np.where(turbulent, _TURBULENT_VOL_RATIO, 1.0) / norm
    return scale


def _garch(z_day: FloatArray) -> FloatArray:
    """Return GARCH(1,1) variance multipliers (mean 1) per day from daily unit shocks.

    ``h[d] = (1 - a - b) + a * h[d-1] * z[d-1]**2 + b * h[d-1]``, ``h[0] = 1``: the
    multiplier of day ``d`` is known before day ``d`` starts.
    """
    n_days = z_day.shape[0]
    h = np.empty_like(z_day)
    h[0] = 1.0
    omega = 1.0 - _GARCH_ALPHA - _GARCH_BETA
    z2 = z_day**2
    for d in range(1, n_days):
        h[d] = omega + h[d - 1] * (_GARCH_ALPHA * z2[d - 1] + _GARCH_BETA)
    return h


def _intraday_activity(layout: _Layout, rng: np.random.Generator) -> FloatArray:
    """Return a market-wide intraday volatility multiplier per bar, mean square 1.

    ``exp(x[t] - sd**2)`` with ``x`` a Gaussian AR(1) of stationary sd ``sd`` whose half-life
    is an eighth of a trading day: bursts of activity within the day. Ones for daily bars.
    """
    n = len(layout.index)
    if layout.bars_per_day == 1:
        return np.ones(n)
    phi = 0.5 ** (8.0 / layout.bars_per_day)
    sd = _INTRADAY_ACTIVITY_SD
    draws = rng.standard_normal(n)
    draws[0] /= np.sqrt(1.0 - phi**2)  # start in the stationary distribution
    # Imported here: scipy.signal costs most of a second at start-up of every CLI command.
    from scipy.signal import lfilter

    x = np.asarray(lfilter([sd * np.sqrt(1.0 - phi**2)], [1.0, -phi], draws), dtype=np.float64)
    out: FloatArray = np.exp(x - sd**2)
    return out


def _daily_ar1(innovations: FloatArray) -> FloatArray:
    """Return a stationary AR(1) path with unit marginal sd from unit innovations (rows=days)."""
    out = np.empty_like(innovations)
    out[0] = innovations[0]
    keep = np.sqrt(1.0 - _VOLUME_AR**2)
    for d in range(1, innovations.shape[0]):
        out[d] = _VOLUME_AR * out[d - 1] + keep * innovations[d]
    return out


@dataclass(frozen=True, slots=True)
class _Reversal:
    """Calendar constants of the planted reversal mean (see the module docstring)."""

    inv_w: FloatArray  # 1 / w[t]
    w_window: FloatArray  # w summed over the z-score window ending at t
    w_next: FloatArray  # w[t + 1] (a regular bar's after the last one)
    first: IntArray  # first bar of the z-score window ending at t
    lam: float  # fast EWMA factor per bar
    coef: float  # -sqrt(signal_strength)


def _reversal_constants(layout: _Layout, spec: SyntheticSpec) -> _Reversal:
    n = len(layout.index)
    w = layout.w
    cum_w = np.concatenate(([0.0], np.cumsum(w)))
    first = np.maximum(np.arange(n) - _SIGNAL_LOOKBACK + 1, 0).astype(np.int64)
    return _Reversal(
        inv_w=1.0 / w,
        w_window=cum_w[1:] - cum_w[first],
        w_next=np.append(w[1:], layout.w_next_last),
        first=first,
        lam=_EWMA_DAILY_LAMBDA ** (1.0 / layout.bars_per_day),
        coef=-float(np.sqrt(spec.signal_strength)),
    )


@dataclass(frozen=True, slots=True)
class _State:
    """The reversal's state after a bar: fast variance, slow averages B and A, next mean."""

    v: FloatArray
    slow_r2: FloatArray
    slow_m2: FloatArray
    mu: FloatArray


def _step(
    state: _State,
    r: FloatArray,
    window: FloatArray,
    inv_w: FloatArray | float,
    w_window: FloatArray | float,
    w_next: FloatArray | float,
    c: _Reversal,
) -> _State:
    """Return the state after a bar of return ``r`` whose z-score window sums to ``window``.

    The one implementation of the recursion: the generator and the oracle both call it.
    """
    x = inv_w * (r * r)
    v = c.lam * state.v + (1.0 - c.lam) * x
    slow_r2 = _SLOW_LAMBDA * state.slow_r2 + (1.0 - _SLOW_LAMBDA) * x
    m = np.sqrt(v) * np.tanh(window / np.sqrt(v * w_window))
    slow_m2 = _SLOW_LAMBDA * state.slow_m2 + (1.0 - _SLOW_LAMBDA) * (m * m)
    mu = c.coef * np.sqrt(w_next * slow_r2 / slow_m2) * m
    return _State(v, slow_r2, slow_m2, mu)


def _initial_state(spec: SyntheticSpec, s: int) -> _State:
    v = np.full(s, spec.annual_vol**2 / _DAYS_PER_YEAR[spec.asset_class])
    return _State(v, v.copy(), v * _TANH_RMS**2, np.zeros(s))


def _planted_mean(
    noise: FloatArray, layout: _Layout, spec: SyntheticSpec
) -> tuple[FloatArray, FloatArray]:
    """Return (returns, conditional means) with the reversal mean fed back into the returns.

    ``returns[t] = mean[t-1] + noise[t]`` and ``mean[t]`` is computed from ``returns[:t+1]``
    and the calendar only (see the module docstring for the formula).
    """
    returns = np.empty_like(noise)
    mean = np.empty_like(noise)
    c = _reversal_constants(layout, spec)
    state = _initial_state(spec, noise.shape[1])
    for t in range(noise.shape[0]):
        returns[t] = state.mu + noise[t]
        window = returns[c.first[t] : t + 1].sum(axis=0)
        state = _step(state, returns[t], window, c.inv_w[t], c.w_window[t], c.w_next[t], c)
        mean[t] = state.mu
    return returns, mean


def _replay(returns: FloatArray, layout: _Layout, spec: SyntheticSpec) -> list[FloatArray]:
    """Return the reversal state after every bar of realised ``returns`` (bars x symbols):
    ``[v, slow_r2, slow_m2, mu]``, each bars x symbols."""
    c = _reversal_constants(layout, spec)
    state = _initial_state(spec, returns.shape[1])
    out = [np.empty_like(returns) for _ in range(4)]
    for t in range(returns.shape[0]):
        window = returns[c.first[t] : t + 1].sum(axis=0)
        state = _step(state, returns[t], window, c.inv_w[t], c.w_window[t], c.w_next[t], c)
        for array, value in zip(
            out, (state.v, state.slow_r2, state.slow_m2, state.mu), strict=True
        ):
            array[t] = value
    return out


def _bridge_extreme(x: FloatArray, sd: FloatArray, u: FloatArray, upper: bool) -> FloatArray:
    """Return the max (``upper``) or min of a Brownian bridge from 0 to ``x`` with sd ``sd``.

    Exact inverse-CDF draw: ``P(max > m) = exp(-2 m (m - x) / sd**2)`` for ``m >= max(0, x)``.
    """
    root: FloatArray = np.sqrt(x * x - 2.0 * sd * sd * np.log(u))
    extreme: FloatArray = (x + root) / 2.0 if upper else (x - root) / 2.0
    return extreme


# ---------------------------------------------------------------------------------------------
# Public generators
# ---------------------------------------------------------------------------------------------


def generate_market(spec: SyntheticSpec, seed: int) -> SyntheticMarket:
    """Generate a synthetic market.

    Parameters
    ----------
    spec
        What to generate (symbols, calendar, interval, planted signal strength, volatility).
    seed
        Non-negative integer; the same ``spec`` and ``seed`` always give identical frames.
        Only ``numpy.random.default_rng(seed)`` (and generators spawned from it) is used.

    Returns
    -------
    SyntheticMarket
        Bars on the asset class's calendar for ``[spec.start, spec.end]`` (UTC dates,
        timestamps at bar open), instruments, and the true conditional mean of every next
        close-to-close log return. With ``spec.signal_strength = s`` that mean explains a
        fraction ``s`` of per-bar return variance; see the module docstring for the formula.
        With ``s = 0`` it is exactly zero. The random shocks do not depend on ``s``: markets
        with the same seed and different strengths differ only through the mean.
    """
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    layout = _layout(spec)
    n, s, g = len(layout.index), spec.n_symbols, spec.n_sectors
    rng = np.random.default_rng(seed)
    # One generator per draw, each filled in time order, so bars do not depend on later dates.
    (
        rng_params,
        rng_shocks,
        rng_regime,
        rng_activity,
        rng_bridge,
        rng_range,
        rng_volume_level,
        rng_volume_noise,
    ) = rng.spawn(8)
    p = _symbol_params(spec, rng_params)

    # Bar innovations of the market factor, sector factors and idiosyncratic terms.
    shocks = _student_t(rng_shocks, (n, 1 + g + s))
    # Daily unit shocks drive the day-level GARCH variances.
    w = layout.w
    sqrt_w = np.sqrt(w)
    day_w = np.add.reduceat(w, layout.day_starts)
    z_day = np.add.reduceat(shocks * sqrt_w[:, None], layout.day_starts, axis=0)
    h = _garch(z_day / np.sqrt(day_w)[:, None])[layout.day]
    q = _regime_scale(len(layout.day_starts), rng_regime)[layout.day]

    market = np.sqrt(h[:, :1]) * shocks[:, :1]
    sector = (np.sqrt(h[:, 1 : 1 + g]) * shocks[:, 1 : 1 + g])[:, p.sector]
    idio = np.sqrt(h[:, 1 + g :]) * shocks[:, 1 + g :]
    unit = p.beta_market * market + p.beta_sector * sector + p.beta_idio * idio
    unit_var = (
        p.beta_market**2 * h[:, :1]
        + p.beta_sector**2 * h[:, 1 : 1 + g][:, p.sector]
        + p.beta_idio**2 * h[:, 1 + g :]
    )
    scale = p.sigma_day * (sqrt_w * q * _intraday_activity(layout, rng_activity))[:, None]
    noise = scale * unit
    sd = scale * np.sqrt(unit_var)  # conditional sd of each bar's return

    if spec.signal_strength > 0.0:
        returns, mean = _planted_mean(noise, layout, spec)
    else:
        returns, mean = noise, np.zeros_like(noise)

    # Prices: gap = Brownian-bridge value of the bar's return at the gap's variance share.
    rho = (layout.w_gap / w)[:, None]
    gap = rho * returns + np.sqrt(rho * (1.0 - rho)) * sd * rng_bridge.standard_normal((n, s))
    log_close = np.log(p.price0) + np.cumsum(returns, axis=0)
    log_prev = np.vstack([np.log(p.price0)[None, :], log_close[:-1]])
    log_open = log_prev + gap
    move = log_close - log_open
    sd_intra = np.sqrt(1.0 - rho) * sd
    u = 1.0 - rng_range.uniform(size=(n, 2, s))  # in (0, 1]
    log_high = log_open + _bridge_extreme(move, sd_intra, u[:, 0], upper=True)
    log_low = log_open + _bridge_extreme(move, sd_intra, u[:, 1], upper=False)
    open_, close = np.exp(log_open), np.exp(log_close)
    high = np.maximum(np.exp(log_high), np.maximum(open_, close))
    low = np.minimum(np.exp(log_low), np.minimum(open_, close))

    # Volume: base level x intraday share x volatility level x |shock| x persistent x noise.
    n_days = len(layout.day_starts)
    persistent = _VOLUME_AR_SD * _daily_ar1(rng_volume_level.standard_normal((n_days, s)))
    abs_shock = np.abs(noise / sd) - np.sqrt(2.0 / np.pi)
    vol_level = np.log(sd / (p.sigma_day * sqrt_w[:, None]))
    log_volume = (
        p.log_volume0
        + np.log(layout.volume_share)[:, None]
        + _VOLUME_VOL_LEVEL * vol_level
        + _VOLUME_ABS_SHOCK * abs_shock
        + persistent[layout.day]
        + _VOLUME_NOISE_SD * rng_volume_noise.standard_normal((n, s))
    )
    volume = np.exp(log_volume)

    names = spec.symbols
    bars: dict[str, pd.DataFrame] = {}
    expected: dict[str, pd.Series] = {}
    return_sd: dict[str, pd.Series] = {}
    instruments: dict[str, Instrument] = {}
    columns = dict(zip(BAR_COLUMNS, (open_, high, low, close, volume), strict=True))
    for k, name in enumerate(names):
        bars[name] = pd.DataFrame(
            {c: np.ascontiguousarray(a[:, k], dtype=np.float64) for c, a in columns.items()},
            index=layout.index,
        )
        expected[name] = pd.Series(
            np.ascontiguousarray(mean[:, k], dtype=np.float64),
            index=layout.index,
            name="expected_return",
        )
        return_sd[name] = pd.Series(
            np.ascontiguousarray(sd[:, k], dtype=np.float64), index=layout.index, name="return_sd"
        )
        instruments[name] = _instrument(spec, name, int(p.sector[k]))
    return SyntheticMarket(
        bars=bars,
        instruments=instruments,
        expected_return=expected,
        spec=spec,
        seed=seed,
        return_sd=return_sd,
    )


def _instrument(spec: SyntheticSpec, name: str, sector: int) -> Instrument:
    match spec.asset_class:
        case AssetClass.STOCK:
            return Instrument(name, AssetClass.STOCK, sector=f"Sector{sector}", exchange="SYNTH")
        case AssetClass.CRYPTO:
            return Instrument(name, AssetClass.CRYPTO, exchange="SYNTH", lot_size=1e-8)
        case _:
            return Instrument(name, AssetClass.FOREX, exchange="OTC", tick_size=1e-4)


def random_walk_market(spec: SyntheticSpec, seed: int) -> SyntheticMarket:
    """Generate the leakage-control universe: the same market with no predictable mean.

    Same calendar, symbols, volatility dynamics and random shocks as
    ``generate_market(spec, seed)``, with ``signal_strength`` forced to 0: log prices are a
    (heteroskedastic, fat-tailed, factor-correlated) martingale, ``expected_return`` is all
    zeros, and no causal model can beat chance on it.

    Parameters
    ----------
    spec
        What to generate; its ``signal_strength`` is ignored.
    seed
        Non-negative integer seed.

    Returns
    -------
    SyntheticMarket
        The market, with ``spec.signal_strength == 0``.
    """
    return generate_market(replace(spec, signal_strength=0.0), seed)


# ---------------------------------------------------------------------------------------------
# The oracle: what the generator knows about a forward-return label
# ---------------------------------------------------------------------------------------------

#: Elements (paths x bars x symbols) simulated at once by the oracle, to bound its memory.
_ORACLE_CHUNK: Final = 2_000_000


@dataclass(frozen=True, slots=True)
class ForwardOracle:
    """The generator's forecast of a forward log-return label, per symbol and bar.

    Attributes
    ----------
    mean
        Symbol -> ``E[label | everything observable at the close of bar t]`` (a log return),
        indexed like the bars; NaN where the label's exit lies past the data.
    sd
        Symbol -> standard deviation of the label around that mean (log-return units): the
        volatility known for bar ``t + 1`` held over the horizon, summed over the label's
        variance shares. It ignores the planted reversal's negative autocorrelation, which
        makes the true spread a little smaller (about 15 % at ``signal_strength = 0.05``).
    """

    mean: dict[str, pd.Series]
    sd: dict[str, pd.Series]


def _log_returns(market: SyntheticMarket) -> FloatArray:
    """Return close-to-close log returns (bars x symbols); the first is ``log(close/open)``."""
    closes = np.column_stack([market.bars[k]["close"].to_numpy() for k in market.bars])
    opens0 = np.array([market.bars[k]["open"].iloc[0] for k in market.bars])
    log_close = np.log(closes)
    first = log_close[:1] - np.log(opens0)[None, :]
    return np.asarray(np.vstack([first, np.diff(log_close, axis=0)]), dtype=np.float64)


def _expected_means(
    returns: FloatArray,
    states: list[FloatArray],
    sd_day: FloatArray,
    layout: _Layout,
    spec: SyntheticSpec,
    steps: int,
    paths: int,
    rng: np.random.Generator,
) -> list[FloatArray]:
    """Return ``[E mu[t], E mu[t+1], ..., E mu[t+steps]]`` given the close of every bar ``t``.

    Monte Carlo over the next ``steps`` bars' shocks (Student-t, antithetic pairs), run through
    the generator's own recursion (:func:`_step`); ``sd_day[t]`` is the shock scale per unit
    of a day's variance share, held over the horizon.
    """
    n, s = returns.shape
    c = _reversal_constants(layout, spec)
    cum_r = np.vstack([np.zeros((1, s)), np.cumsum(returns, axis=0)])
    base = np.arange(n)
    sums = [states[3].copy()] + [np.zeros((n, s)) for _ in range(steps)]
    half = max(1, paths // 2)
    chunk = max(1, min(half, _ORACLE_CHUNK // max(1, 2 * n * s)))
    done = 0
    while done < half:
        m = min(chunk, half - done)
        done += m
        state = _State(*(np.concatenate([a[None]] * (2 * m)) for a in states))
        simulated: list[FloatArray] = []
        for k in range(1, steps + 1):
            idx = np.minimum(base + k, n - 1)
            draws = _student_t(rng, (m, n, s))
            shocks = np.concatenate([draws, -draws]) * (sd_day * np.sqrt(layout.w[idx])[:, None])
            r = state.mu + shocks
            simulated.append(r)
            # The window ending at t+k: realised bars first[t+k]..t, simulated ones after t.
            lo = np.minimum(c.first[idx], base + 1)
            window = (cum_r[base + 1] - cum_r[lo])[None]
            for j, r_j in enumerate(simulated, start=1):
                window = window + r_j * (base + j >= c.first[idx])[None, :, None]
            state = _step(
                state,
                r,
                window,
                c.inv_w[idx][None, :, None],
                c.w_window[idx][None, :, None],
                c.w_next[idx][None, :, None],
                c,
            )
            sums[k] += state.mu.sum(axis=0)
    return [sums[0]] + [total / (2 * done) for total in sums[1:]]


def oracle_forward_return(
    market: SyntheticMarket,
    horizon: int,
    *,
    entry: str = "next_open",
    exit: str = "open",
    paths: int = 64,
    seed: int = 0,
) -> ForwardOracle:
    """Return the generator's forecast of the ``horizon``-bar forward log-return label.

    The label is the one of :func:`alphaforge.labels.forward_log_return` with the same
    ``entry`` (``next_open`` or ``close``) and ``exit`` (``open`` or ``close``). Its mean
    given everything observable at the close of bar ``t`` is a sum of the planted means of the
    bars it spans (a gap's share of a bar's mean for a partial bar); the means of bars after
    ``t + 1`` depend on shocks still to come, so they are averaged over ``paths`` simulated
    continuations (antithetic pairs, seeded ``seed``) of the generator's own recursion. The only
    approximation: the shocks' scale over the horizon is that of bar ``t + 1`` (the GARCH and
    regime levels barely move in a few bars). With no planted signal the mean is exactly 0.

    Parameters
    ----------
    market
        A market of :func:`generate_market` (bars as generated, not repaired).
    horizon
        Holding period in bars (>= 1).
    entry, exit
        Reference prices of the label (see :mod:`alphaforge.labels.forward`).
    paths
        Simulated continuations per bar (rounded up to an even number).
    seed
        Seed of the simulation.
    """
    if horizon < 1:
        raise ValueError("horizon must be at least one bar")
    if entry not in ("next_open", "close") or exit not in ("open", "close"):
        raise ValueError(f"unknown entry/exit {entry!r}/{exit!r}")
    spec = market.spec
    layout = _layout(spec)
    names = list(market.bars)
    returns = _log_returns(market)
    n, s = returns.shape
    sd = np.column_stack([market.return_sd[k].to_numpy() for k in names])
    nxt = np.minimum(np.arange(n) + 1, n - 1)
    sd_day = sd[nxt] / np.sqrt(layout.w[nxt])[:, None]
    steps = horizon if exit == "open" else horizon - 1
    if spec.signal_strength > 0.0:
        states = _replay(returns, layout, spec)
        rng = np.random.default_rng(seed)
        means = _expected_means(returns, states, sd_day, layout, spec, steps, paths, rng)
    else:
        means = [np.zeros((n, s)) for _ in range(steps + 1)]
    # E r[t+k] = E mu[t+k-1]; a bar's gap (before its open) carries rho = w_gap / w of it.
    rho = layout.w_gap / layout.w
    base = np.arange(n)
    exit_bar = base + horizon + (1 if exit == "open" else 0)
    valid = exit_bar < n
    at = np.minimum
    mean = np.sum(means[:horizon], axis=0)
    cum_w = np.concatenate(([0.0], np.cumsum(layout.w)))
    span = cum_w[at(base + horizon + 1, n)] - cum_w[base + 1]
    if exit == "open":
        last = at(exit_bar, n - 1)
        mean = mean + rho[last][:, None] * means[horizon]
        span = span + layout.w_gap[last]
    if entry == "next_open":
        mean = mean - rho[nxt][:, None] * means[0]
        span = span - layout.w_gap[nxt]
    label_sd = sd_day * np.sqrt(np.maximum(span, 0.0))[:, None]
    mean[~valid] = np.nan
    label_sd[~valid] = np.nan
    index = layout.index
    return ForwardOracle(
        mean={
            k: pd.Series(mean[:, i], index=index, name="oracle_mean") for i, k in enumerate(names)
        },
        sd={
            k: pd.Series(label_sd[:, i], index=index, name="oracle_sd") for i, k in enumerate(names)
        },
    )


# ---------------------------------------------------------------------------------------------
# Data source
# ---------------------------------------------------------------------------------------------


class SyntheticSource:
    """The ``synthetic`` data source: bars of :func:`generate_market`, offline.

    The symbol prefix picks the asset class (``SYN00`` stock, ``SYNC00`` crypto, ``SYNFX00``
    forex) and ``fetch``'s interval the bar size; the rest of ``spec`` (symbol count, dates,
    signal strength, volatility) is fixed. Each (asset class, interval) market is generated
    once for the whole ``[spec.start, spec.end]`` range and cached, so any sub-range is a
    slice of the same paths; dates outside that range return no bars.

    Parameters
    ----------
    spec
        The market specification; its ``asset_class`` and ``interval`` are the defaults of
        :meth:`market`. ``None`` means ``SyntheticSpec()``.
    seed
        Non-negative integer seed.
    """

    name: str = "synthetic"
    asset_classes: frozenset[AssetClass] = frozenset(_PREFIX)
    intervals: frozenset[Interval] = _SUPPORTED_INTERVALS

    def __init__(self, spec: SyntheticSpec | None = None, seed: int = 0) -> None:
        if seed < 0:
            raise ValueError(f"seed must be non-negative, got {seed}")
        self.spec = SyntheticSpec() if spec is None else spec
        self.seed = seed
        self._cache: dict[tuple[AssetClass, Interval], SyntheticMarket] = {}

    def __repr__(self) -> str:
        return f"SyntheticSource(spec={self.spec!r}, seed={self.seed})"

    def market(
        self, asset_class: AssetClass | None = None, interval: Interval | None = None
    ) -> SyntheticMarket:
        """Return the full generated market for an asset class and interval (cached).

        Parameters
        ----------
        asset_class
            Defaults to ``spec.asset_class``.
        interval
            Defaults to ``spec.interval``.
        """
        spec = replace(
            self.spec,
            asset_class=self.spec.asset_class if asset_class is None else asset_class,
            interval=self.spec.interval if interval is None else interval,
            symbol_prefix=None,  # the source serves the asset classes' own names
        )
        key = (spec.asset_class, spec.interval)
        if key not in self._cache:
            self._cache[key] = generate_market(spec, self.seed)
        return self._cache[key]

    def fetch(
        self, instruments: Sequence[Instrument], start: date, end: date, interval: Interval
    ) -> dict[str, pd.DataFrame]:
        """Return bars of the requested symbols in ``[start, end]`` (inclusive UTC dates).

        Raises
        ------
        UnknownSymbolError
            A symbol is not one of the generated names.
        DataError
            The interval is not generated (weekly, monthly), or the asset class is not
            (index, macro, ...).
        """
        interval = Interval(interval)
        if interval not in self.intervals:
            raise DataError(
                f"The synthetic source has no {interval} bars.",
                hint="Use 1d, 1h, 15m, 5m or 1m, and resample for longer bars.",
            )
        wanted: list[tuple[str, AssetClass]] = []
        for instrument in instruments:
            if instrument.asset_class not in self.asset_classes:
                raise DataError(
                    f"The synthetic source does not generate {instrument.asset_class.value} "
                    f"series ({instrument.symbol}).",
                    hint="Ask for stock, crypto or forex symbols.",
                )
            asset_class = self._asset_class_of(instrument.symbol)
            wanted.append((instrument.symbol, asset_class))
        lo = pd.Timestamp(start).tz_localize("UTC")
        hi = pd.Timestamp(end).tz_localize("UTC") + pd.Timedelta(days=1)
        out: dict[str, pd.DataFrame] = {}
        for symbol, asset_class in wanted:
            bars = self.market(asset_class, interval).bars[symbol]
            mask = (bars.index >= lo) & (bars.index < hi)
            out[symbol] = bars.loc[mask].copy()
        return out

    def _asset_class_of(self, symbol: str) -> AssetClass:
        # Longest prefix first: SYNFX and SYNC both start with SYN.
        for asset_class in sorted(_PREFIX, key=lambda a: -len(_PREFIX[a])):
            if symbol.startswith(_PREFIX[asset_class]):
                if symbol in _symbol_names(asset_class, self.spec.n_symbols):
                    return asset_class
                break
        raise UnknownSymbolError(f"Unknown synthetic symbol {symbol!r}.", hint=self._hint())

    def _hint(self) -> str:
        parts = []
        for asset_class in _PREFIX:
            names = _symbol_names(asset_class, self.spec.n_symbols)
            listed = ", ".join(names) if len(names) <= 3 else f"{names[0]} .. {names[-1]}"
            parts.append(f"{listed} ({asset_class})")
        return f"Valid names: {'; '.join(parts)}."


def _synthetic_factory(config: DataConfig, secrets: SecretsConfig) -> DataSource:
    """Build the registered ``synthetic`` source (default spec, seed 0)."""
    del config, secrets  # the synthetic market needs no configuration and no keys
    return SyntheticSource(SyntheticSpec(), seed=0)


if "synthetic" not in SOURCES:
    SOURCES.add("synthetic", _synthetic_factory)
