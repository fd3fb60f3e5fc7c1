"""Position-sizing math: Kelly, payoff ratios, volatility targeting, risk-per-trade, forex lots.

Pure functions over NumPy arrays: one call sizes every name of one decision timestamp. Every
input is assumed known at the close of the decision bar (probabilities, stops, ATR, volatility,
equity); nothing here looks at later data. The functions return sizes (fractions, units, lots);
turning them into orders and recording the sizing chain is the constructor's job.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from alphaforge.core.errors import ConfigError, DataError

__all__ = [
    "atr_stop_units",
    "forex_lots",
    "fractional_kelly",
    "payoff_ratio_from_bracket",
    "payoff_ratio_from_trades",
    "risk_per_trade_units",
    "volatility_target_scale",
]

# A quantity within this relative distance below a whole step counts as that step: decimal inputs
# such as 0.01 are not exact in binary, and 99.99999999999999 units must not floor to 99.
_ROUNDING_SLACK = 1e-9

# Micro lots: forex sizes are multiples of 1 / 100 of a standard lot.
_FOREX_STEPS_PER_LOT = 100


def _floats(x: ArrayLike) -> NDArray[np.float64]:
    return np.asarray(x, dtype=np.float64)


def _check_fraction(value: float, name: str) -> None:
    if not (0.0 < value <= 1.0):
        raise ConfigError(
            f"{name} must be in (0, 1], got {value}.",
            hint=f"Set {name} to a fraction such as 0.25 (a quarter).",
        )


def _check_positive(value: float, name: str) -> None:
    if not (np.isfinite(value) and value > 0.0):
        raise ConfigError(
            f"{name} must be a positive number, got {value}.", hint=f"Set {name} > 0."
        )


def _floor_to_steps(x: NDArray[np.float64], steps_per_unit: int) -> NDArray[np.float64]:
    with np.errstate(over="ignore"):  # an overflow is +inf, which the finite test turns into 0
        steps = np.floor(x * steps_per_unit * (1.0 + _ROUNDING_SLACK))
    # Dividing by the whole count (not multiplying by 0.01) gives the nearest double to 33/100.
    out: NDArray[np.float64] = np.where(
        np.isfinite(steps) & (steps > 0.0), steps / steps_per_unit, 0.0
    )
    return out


def fractional_kelly(p: ArrayLike, b: ArrayLike, fraction: float = 0.25) -> NDArray[np.float64]:
    """Return the fractional Kelly bet ``fraction x (p b - (1 - p)) / b`` per name.

    Parameters
    ----------
    p
        Calibrated probability that the trade wins, in [0, 1], known at the decision bar's close.
    b
        Payoff ratio: average win over average loss (dimensionless, > 0), from the bracket
        (:func:`payoff_ratio_from_bracket`) or from trades closed before the decision time
        (:func:`payoff_ratio_from_trades`). NaN means "unknown" and sizes 0.
    fraction
        Share of the full Kelly bet, in (0, 1]; 0.25 (quarter Kelly) by default.

    Returns
    -------
    numpy.ndarray
        Fraction of equity to risk, in [0, ``fraction``]; 0 where the edge is not positive
        (no position, never a short from a negative Kelly) and where ``p`` or ``b`` is NaN.

    Raises
    ------
    ConfigError
        If ``fraction`` is outside (0, 1], a finite ``b`` is not positive, or a finite ``p`` is
        outside [0, 1].
    """
    _check_fraction(fraction, "Kelly fraction")
    p_arr, b_arr = np.broadcast_arrays(_floats(p), _floats(b))
    known = np.isfinite(p_arr) & np.isfinite(b_arr)
    if np.any(np.isfinite(b_arr) & (b_arr <= 0.0)):
        raise ConfigError(
            "Kelly payoff ratio b must be positive.",
            hint="Use a take profit beyond the entry on the side opposite the stop.",
        )
    if np.any(np.isfinite(p_arr) & ((p_arr < 0.0) | (p_arr > 1.0))):
        raise ConfigError(
            "Kelly probability p must lie in [0, 1].",
            hint="Size from a calibrated probability, not a raw score.",
        )
    safe_p = np.where(known, p_arr, 0.0)
    safe_b = np.where(known, b_arr, 1.0)
    # p - (1 - p) / b equals (p b - (1 - p)) / b, is monotone in p and never exceeds p <= 1, so
    # the result stays within [0, fraction] under floating-point rounding too.
    full = safe_p - (1.0 - safe_p) / safe_b
    out: NDArray[np.float64] = np.where(known & (full > 0.0), fraction * full, 0.0)
    return out


def payoff_ratio_from_bracket(
    entry: ArrayLike, stop: ArrayLike, target: ArrayLike
) -> NDArray[np.float64]:
    """Return the payoff ratio ``|target - entry| / |entry - stop|`` of each bracket.

    Parameters
    ----------
    entry, stop, target
        Entry, stop-loss and take-profit prices (same currency), set at the decision bar's close.

    Returns
    -------
    numpy.ndarray
        Reward-to-risk ratio (dimensionless, > 0); NaN where any price is NaN.

    Raises
    ------
    ConfigError
        If a stop and target are not on opposite sides of the entry (including stop or target
        equal to the entry).
    """
    e, s, t = np.broadcast_arrays(_floats(entry), _floats(stop), _floats(target))
    known = np.isfinite(e) & np.isfinite(s) & np.isfinite(t)
    # Long: stop < entry < target; short: target < entry < stop. Both make this product positive.
    if np.any(known & ((t - e) * (e - s) <= 0.0)):
        raise ConfigError(
            "A bracket's stop and take profit must lie on opposite sides of the entry.",
            hint="For a long put the stop below the entry and the target above (a short: reverse).",
        )
    risk = np.where(known, np.abs(e - s), 1.0)
    out: NDArray[np.float64] = np.where(known, np.abs(t - e) / risk, np.nan)
    return out


def payoff_ratio_from_trades(trades: pd.DataFrame, t: pd.Timestamp) -> float:
    """Return average win / |average loss| of the trades closed strictly before ``t``.

    Parameters
    ----------
    trades
        One row per closed trade with columns ``exit_time`` (UTC; naive times are read as UTC)
        and ``pnl`` (realised profit, account currency), e.g. out-of-fold trades.
    t
        Decision time (timezone-aware UTC). Only trades with ``exit_time < t`` count: a trade
        closing at ``t`` is not known when deciding at ``t``.

    Returns
    -------
    float
        Payoff ratio (dimensionless, > 0); NaN when no winning or no losing trade closed before
        ``t`` (not enough history: :func:`fractional_kelly` then sizes 0). Zero-pnl trades count
        as neither.

    Raises
    ------
    DataError
        If ``exit_time`` or ``pnl`` is missing.
    """
    missing = [c for c in ("exit_time", "pnl") if c not in trades.columns]
    if missing:
        raise DataError(
            f"The trades table lacks column(s) {', '.join(missing)}.",
            hint="Pass closed trades with an exit_time and a pnl column.",
        )
    # Object-typed (e.g. empty) columns compare only once parsed; naive times are read as UTC.
    closed = pd.to_datetime(trades["exit_time"], utc=True) < t
    pnl = trades.loc[closed, "pnl"].to_numpy(dtype=np.float64)
    wins = pnl[pnl > 0.0]
    losses = pnl[pnl < 0.0]
    if wins.size == 0 or losses.size == 0:
        return float("nan")
    return float(wins.mean() / abs(losses.mean()))


def volatility_target_scale(
    sigma_annual: ArrayLike, target: float = 0.15, cap: float = 1.0
) -> NDArray[np.float64]:
    """Return the exposure scale ``min(target / sigma, cap)`` that targets a yearly volatility.

    Parameters
    ----------
    sigma_annual
        Annualised volatility forecast per name (0.60 = 60 % a year), e.g. ``vol_yang_zhang_20``
        at the decision bar's close.
    target
        Target annualised volatility; 0.15 (15 % a year) by default.
    cap
        Largest scale returned; 1.0 by default, so a calm name is never levered up.

    Returns
    -------
    numpy.ndarray
        Scale in [0, ``cap``]; 0 where the volatility is NaN, infinite or not positive.

    Raises
    ------
    ConfigError
        If ``target`` or ``cap`` is not positive.
    """
    _check_positive(target, "volatility target")
    _check_positive(cap, "volatility scale cap")
    sigma = _floats(sigma_annual)
    usable = np.isfinite(sigma) & (sigma > 0.0)
    scale = target / np.where(usable, sigma, 1.0)
    out: NDArray[np.float64] = np.where(usable, np.minimum(scale, cap), 0.0)
    return out


def risk_per_trade_units(
    equity: ArrayLike, risk_fraction: float, stop_distance: ArrayLike
) -> NDArray[np.float64]:
    """Return whole units whose loss at the stop is at most ``equity x risk_fraction``.

    Parameters
    ----------
    equity
        Account equity (account currency) at the decision bar's close.
    risk_fraction
        Share of equity lost if the stop is hit, in (0, 1]; 0.01 risks 1 %.
    stop_distance
        Distance from entry to stop per unit (price units, same currency as equity).

    Returns
    -------
    numpy.ndarray
        ``floor(equity x risk_fraction / stop_distance)`` units: rounded down to whole units so
        the risk never exceeds the budget (beyond a 1e-9 relative slack for decimal inputs);
        0 where the stop distance or equity is NaN or not positive. Never negative.

    Raises
    ------
    ConfigError
        If ``risk_fraction`` is outside (0, 1].
    """
    _check_fraction(risk_fraction, "risk fraction")
    eq, dist = np.broadcast_arrays(_floats(equity), _floats(stop_distance))
    usable = np.isfinite(dist) & (dist > 0.0) & np.isfinite(eq) & (eq > 0.0)
    with np.errstate(over="ignore"):  # an overflow is +inf, which sizes 0 below
        raw = np.where(usable, eq * risk_fraction / np.where(usable, dist, 1.0), 0.0)
    return _floor_to_steps(raw, 1)


def atr_stop_units(
    equity: ArrayLike, risk_fraction: float, atr: ArrayLike, multiple: float = 2.0
) -> NDArray[np.float64]:
    """Return whole units for a stop ``multiple x atr`` away: :func:`risk_per_trade_units`.

    Parameters
    ----------
    equity
        Account equity (account currency) at the decision bar's close.
    risk_fraction
        Share of equity lost at the stop, in (0, 1]; the spec risks 2 %.
    atr
        Average true range per name (price units), e.g. ``atr_14`` at the decision bar's close.
    multiple
        Stop distance in ATRs; 2 by default.

    Returns
    -------
    numpy.ndarray
        Whole units, rounded down, never negative; 0 where the ATR is NaN or not positive.

    Raises
    ------
    ConfigError
        If ``risk_fraction`` is outside (0, 1] or ``multiple`` is not positive.
    """
    _check_positive(multiple, "ATR stop multiple")
    with np.errstate(over="ignore"):  # an infinite stop distance sizes 0
        distance = multiple * _floats(atr)
    return risk_per_trade_units(equity, risk_fraction, distance)


def forex_lots(
    equity: ArrayLike,
    risk_fraction: float,
    stop_pips: ArrayLike,
    pip_value_per_lot: ArrayLike = 10.0,
) -> NDArray[np.float64]:
    """Return forex lots ``equity x risk_fraction / (stop_pips x pip_value_per_lot)``.

    Parameters
    ----------
    equity
        Account equity (account currency) at the decision bar's close.
    risk_fraction
        Share of equity lost at the stop, in (0, 1].
    stop_pips
        Stop distance in pips per pair.
    pip_value_per_lot
        Value of one pip for one standard lot (100,000 units), in the account currency; $10 for
        a USD-quoted pair in a USD account.

    Returns
    -------
    numpy.ndarray
        Lots rounded DOWN to 0.01 (a micro lot) so the risk never exceeds the budget (beyond a
        1e-9 relative slack for decimal inputs); 0 where the stop or pip value is NaN or not
        positive. Never negative.

    Raises
    ------
    ConfigError
        If ``risk_fraction`` is outside (0, 1].
    """
    _check_fraction(risk_fraction, "risk fraction")
    eq, pips, pip_value = np.broadcast_arrays(
        _floats(equity), _floats(stop_pips), _floats(pip_value_per_lot)
    )
    with np.errstate(over="ignore", invalid="ignore"):  # inf and NaN size 0 through `usable`
        risk_per_lot = pips * pip_value
        usable = (
            np.isfinite(risk_per_lot)
            & (risk_per_lot > 0.0)  # tiny pips x tiny pip value can underflow to 0
            & (pips > 0.0)
            & (pip_value > 0.0)
            & np.isfinite(eq)
            & (eq > 0.0)
        )
        raw = np.where(usable, eq * risk_fraction / np.where(usable, risk_per_lot, 1.0), 0.0)
    return _floor_to_steps(raw, _FOREX_STEPS_PER_LOT)
