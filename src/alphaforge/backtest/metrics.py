"""Performance metrics of a backtest: return and risk ratios from net per-period returns, drawdown
spells from equity, trade statistics from the round-trip table, and the overfitting checks
(deflated Sharpe with the ledger's trial count, PBO of a sweep).

Conventions shared by every function here:

* A *period* is one bar of the run (a day for daily bars). Returns are simple (not log) net
  returns per period, as fractions (0.01 = 1 %). Annualised numbers multiply by
  ``periods_per_year`` (252 for US equity days, 365 for crypto days ...), which the caller
  states; nothing is inferred from timestamps.
* Equity and P&L are in the account currency. Timestamps are timezone-aware UTC; *calendar
  days* are elapsed wall-clock time divided by 24 hours, so weekends and holidays count.
* Non-finite returns are dropped before a statistic is taken. A statistic that is undefined
  (too few values, a zero denominator, no trades) is NaN, never an exception: an empty trade
  list or a flat equity curve is a legitimate run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from alphaforge.backtest.vectorized import BacktestResult
from alphaforge.core.errors import AlphaForgeError
from alphaforge.validation.ledger import TrialLedger, deflated_sharpe_from_ledger
from alphaforge.validation.overfitting import PBOResult, probability_of_backtest_overfitting
from alphaforge.validation.stats import probabilistic_sharpe_ratio, sharpe_ratio

METRIC_KEYS = ("cagr", "volatility", "sharpe", "psr", "max_drawdown", "turnover", "costs")

#: Columns a trades table must have (one row per round trip; see :func:`trade_statistics`).
TRADE_COLUMNS = (
    "symbol",
    "entry_time",
    "exit_time",
    "quantity",
    "entry_price",
    "exit_price",
    "pnl",
    "costs",
    "strategy",
    "exit_reason",
)

#: Keys :func:`full_metrics` adds to :func:`performance`'s, in display order.
EXTRA_METRIC_KEYS = (
    "sortino",
    "calmar",
    "information_ratio",
    "tail_ratio",
    "var_95",
    "cvar_95",
    "max_drawdown_duration_periods",
    "max_drawdown_duration_days",
    "recovery_periods",
    "recovery_days",
    "exposure_gross",
    "time_in_market",
    "trades",
    "win_rate",
    "profit_factor",
    "average_win",
    "average_loss",
    "expectancy",
    "trades_per_day",
    "deflated_sharpe",
    "n_trials",
    "pbo",
)

_NAN = float("nan")
#: Gross exposure at or below this share of equity counts as out of the market (rounding dust).
_FLAT_EXPOSURE = 1e-12


def _finite(returns: npt.ArrayLike | pd.Series) -> npt.NDArray[np.float64]:
    """Return the finite values of ``returns`` as a float64 array."""
    values = (
        returns.to_numpy(dtype=np.float64)
        if isinstance(returns, pd.Series)
        else np.asarray(returns, dtype=np.float64).ravel()
    )
    return values[np.isfinite(values)]


def max_drawdown(equity: pd.Series) -> float:
    """Return the worst peak-to-trough fall of ``equity`` as a negative fraction (0 if none)."""
    if equity.empty:
        return float("nan")
    running_peak = equity.cummax()
    return float((equity / running_peak - 1.0).min())


def drawdown_series(equity: pd.Series) -> pd.Series:
    """Return the drawdown at each period as a negative fraction of the running peak."""
    return equity / equity.cummax() - 1.0


def performance(
    result: BacktestResult, periods_per_year: float, initial_capital: float
) -> dict[str, float]:
    """Return the headline metrics of a backtest.

    Keys: ``cagr`` (compound annual growth, fraction), ``volatility`` (annualised standard
    deviation of net returns), ``sharpe`` (annualised, zero risk-free rate), ``psr``
    (probability that the true Sharpe exceeds 0), ``max_drawdown`` (negative fraction),
    ``turnover`` (traded notional per year as a multiple of equity, both sides), ``costs``
    (total paid, currency), plus ``total_return``, ``years`` and ``periods``.
    """
    r = result.returns.to_numpy(np.float64)
    n = r.size
    years = n / periods_per_year if n else float("nan")
    final = float(result.equity.iloc[-1]) if n else initial_capital
    total_return = final / initial_capital - 1.0
    cagr = (final / initial_capital) ** (1.0 / years) - 1.0 if n and final > 0 else float("nan")
    volatility = float(r.std(ddof=1) * math.sqrt(periods_per_year)) if n > 1 else float("nan")
    return {
        "cagr": float(cagr),
        "volatility": volatility,
        "sharpe": sharpe_ratio(r) * math.sqrt(periods_per_year),
        "psr": probabilistic_sharpe_ratio(r),
        # Start from the initial capital so a loss in the first period counts as a drawdown.
        "max_drawdown": max_drawdown(
            pd.concat([pd.Series([initial_capital]), result.equity], ignore_index=True)
        ),
        "turnover": float(result.turnover.sum() / years) if n else float("nan"),
        "costs": float(result.costs.sum()),
        "total_return": float(total_return),
        "years": float(years),
        "periods": float(n),
    }


# --- ratios from per-period returns ----------------------------------------------------------


def sortino_ratio(
    returns: npt.ArrayLike | pd.Series, periods_per_year: float, *, target: float = 0.0
) -> float:
    """Return the annualised Sortino ratio of per-period net returns.

    ``mean(r - target) / sqrt(mean(min(r - target, 0)^2)) * sqrt(periods_per_year)``: the
    downside deviation averages the squared shortfalls over *every* period (gains count as
    zero shortfall), as Sortino and empyrical define it.

    Parameters
    ----------
    returns
        Simple net returns, one per period.
    periods_per_year
        Periods in a year, for the annualisation.
    target
        Minimum acceptable return per period (fraction); 0 by default.

    Returns
    -------
    float
        NaN with fewer than two returns or no period below ``target``.
    """
    r = _finite(returns)
    if r.size < 2:
        return _NAN
    excess = r - target
    downside = math.sqrt(float(np.mean(np.minimum(excess, 0.0) ** 2)))
    if downside == 0.0:
        return _NAN
    return float(np.mean(excess) / downside * math.sqrt(periods_per_year))


def _wealth(returns: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Return the growth of one unit of capital, starting with the 1 before the first period."""
    return np.concatenate(([1.0], np.cumprod(1.0 + returns)))


def calmar_ratio(returns: npt.ArrayLike | pd.Series, periods_per_year: float) -> float:
    """Return the Calmar ratio: compound annual growth over the magnitude of the max drawdown.

    Growth compounds the returns over ``n / periods_per_year`` years; the drawdown is taken on
    the same compounded wealth, starting from the capital before the first period (so a loss
    in the first period counts, as in :func:`performance`).

    Returns
    -------
    float
        NaN when there are no returns, wealth ends at or below zero, or there is no drawdown.
    """
    r = _finite(returns)
    if r.size == 0:
        return _NAN
    wealth = _wealth(r)
    if wealth[-1] <= 0.0:
        return _NAN
    cagr = wealth[-1] ** (periods_per_year / r.size) - 1.0
    worst = float(np.min(wealth / np.maximum.accumulate(wealth) - 1.0))
    if worst >= 0.0:
        return _NAN
    return float(cagr / -worst)


def information_ratio(
    returns: pd.Series, benchmark_returns: pd.Series, periods_per_year: float
) -> float:
    """Return the annualised information ratio of ``returns`` against a benchmark.

    Active return ``a = r - b`` on the periods both series have (aligned on their index);
    ``mean(a) / std(a, ddof=1) * sqrt(periods_per_year)``.

    Returns
    -------
    float
        NaN with fewer than two common finite periods or a zero tracking error.
    """
    joined = pd.concat([returns, benchmark_returns], axis=1, join="inner").astype(np.float64)
    active = (joined.iloc[:, 0] - joined.iloc[:, 1]).to_numpy()
    active = active[np.isfinite(active)]
    if active.size < 2:
        return _NAN
    tracking = float(np.std(active, ddof=1))
    if tracking == 0.0:
        return _NAN
    return float(np.mean(active) / tracking * math.sqrt(periods_per_year))


def tail_ratio(returns: npt.ArrayLike | pd.Series) -> float:
    """Return ``|95th percentile| / |5th percentile|`` of per-period returns.

    Percentiles interpolate linearly between order statistics (NumPy's default). Above 1 the
    right tail (gains) is fatter than the left (losses).

    Returns
    -------
    float
        NaN without returns or when the 5th percentile is 0.
    """
    r = _finite(returns)
    if r.size == 0:
        return _NAN
    low = abs(float(np.percentile(r, 5)))
    if low == 0.0:
        return _NAN
    return abs(float(np.percentile(r, 95))) / low


def value_at_risk(returns: npt.ArrayLike | pd.Series, level: float = 0.95) -> float:
    """Return the historical one-period value at risk as a positive loss fraction.

    ``-q`` with ``q`` the ``1 - level`` quantile of the returns (linear interpolation):
    in a share ``1 - level`` of periods the loss was at least this fraction of equity. A
    negative value means even that quantile was a gain.

    Returns
    -------
    float
        NaN without returns.
    """
    r = _finite(returns)
    if r.size == 0:
        return _NAN
    # 0.0 - q, not -q: a flat curve's VaR is 0, not -0.
    return 0.0 - float(np.quantile(r, 1.0 - level))


def conditional_value_at_risk(returns: npt.ArrayLike | pd.Series, level: float = 0.95) -> float:
    """Return the historical one-period expected shortfall (CVaR) as a positive loss fraction.

    Minus the mean of the returns at or below the ``1 - level`` quantile (the same quantile as
    :func:`value_at_risk`), so CVaR >= VaR.

    Returns
    -------
    float
        NaN without returns.
    """
    r = _finite(returns)
    if r.size == 0:
        return _NAN
    cutoff = float(np.quantile(r, 1.0 - level))
    return 0.0 - float(np.mean(r[r <= cutoff]))


# --- drawdown spells ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DrawdownStats:
    """Lengths of the drawdown spells of an equity curve.

    Attributes
    ----------
    longest_periods
        Periods from the peak that starts the longest spell to the first period back at or
        above that peak (to the last period when it never gets back). 0 without drawdowns.
    longest_days
        The same spell in calendar days (NaN without a DatetimeIndex).
    recovery_periods
        Periods from the deepest trough back to its previous peak; NaN if never recovered.
    recovery_days
        The same in calendar days; NaN if never recovered or without a DatetimeIndex.
    """

    longest_periods: float
    longest_days: float
    recovery_periods: float
    recovery_days: float


def _days(index: pd.Index, start: int, end: int) -> float:
    """Return the calendar days between two positions of a DatetimeIndex (NaN otherwise)."""
    if not isinstance(index, pd.DatetimeIndex):
        return _NAN
    return float((index[end] - index[start]) / pd.Timedelta(days=1))


def drawdown_durations(equity: pd.Series) -> DrawdownStats:
    """Return the longest drawdown spell and the recovery from the deepest trough.

    A spell starts at a running peak of ``equity`` and ends at the first later value at or
    above that peak. The first value is the first peak: prepend the starting capital (with its
    timestamp) if a loss in the first period should count as a drawdown.

    Parameters
    ----------
    equity
        Equity in currency, one value per period in time order; a DatetimeIndex (UTC) gives
        the durations in calendar days too. Non-finite values are left out.
    """
    equity = equity[np.isfinite(equity.to_numpy(dtype=np.float64))]
    values = equity.to_numpy(dtype=np.float64)
    if values.size == 0:
        return DrawdownStats(_NAN, _NAN, _NAN, _NAN)
    peak = np.maximum.accumulate(values)
    under = values < peak
    positions = np.arange(values.size)
    # Each underwater period measures from the last period at its running peak.
    origins = np.maximum.accumulate(np.where(under, 0, positions))[under]
    inside = positions[under]
    longest_periods = 0.0
    longest_days = 0.0 if isinstance(equity.index, pd.DatetimeIndex) else _NAN
    if inside.size:
        last = np.flatnonzero(np.diff(origins))
        spell_origin = np.append(origins[last], origins[-1])
        # A spell ends at the first period back at its peak, or at the last period.
        spell_end = np.minimum(np.append(inside[last], inside[-1]) + 1, values.size - 1)
        k = int(np.argmax(spell_end - spell_origin))
        longest_periods = float(spell_end[k] - spell_origin[k])
        longest_days = _days(equity.index, int(spell_origin[k]), int(spell_end[k]))
    drawdowns = values / peak - 1.0
    trough = int(np.argmin(drawdowns))
    if drawdowns[trough] >= 0.0:
        return DrawdownStats(longest_periods, longest_days, _NAN, _NAN)
    back = np.flatnonzero(values[trough:] >= peak[trough])
    if back.size == 0:
        return DrawdownStats(longest_periods, longest_days, _NAN, _NAN)
    recovered = trough + int(back[0])
    return DrawdownStats(
        longest_periods,
        longest_days,
        float(recovered - trough),
        _days(equity.index, trough, recovered),
    )


# --- exposure ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Exposure:
    """How much of the account was at risk.

    Attributes
    ----------
    mean_gross
        Mean over periods of ``gross_exposure / equity`` (1.0 = fully invested, 2.0 = two times
        levered long and short together).
    time_in_market
        Share of periods with a nonzero gross exposure, in [0, 1].
    """

    mean_gross: float
    time_in_market: float


def exposure(equity_frame: pd.DataFrame) -> Exposure:
    """Return the mean gross exposure and the share of periods in the market.

    Parameters
    ----------
    equity_frame
        One row per bar close with ``equity`` and ``gross_exposure`` (the sum of the absolute
        market values of the positions), both in currency.

    Returns
    -------
    Exposure
        NaN fields for an empty frame; rows with non-positive equity are left out of the mean.
    """
    missing = {"equity", "gross_exposure"} - set(equity_frame.columns)
    if missing:
        raise AlphaForgeError(
            f"the equity frame has no column {', '.join(sorted(missing))}",
            hint="pass the engine's equity frame (timestamp, equity, cash, gross_exposure, "
            "net_exposure)",
        )
    gross = equity_frame["gross_exposure"].to_numpy(dtype=np.float64)
    equity = equity_frame["equity"].to_numpy(dtype=np.float64)
    if gross.size == 0:
        return Exposure(_NAN, _NAN)
    usable = np.isfinite(gross) & np.isfinite(equity) & (equity > 0)
    share = np.abs(gross[usable]) / equity[usable]
    mean_gross = float(np.mean(share)) if share.size else _NAN
    in_market = float(np.mean(share > _FLAT_EXPOSURE)) if share.size else _NAN
    return Exposure(mean_gross, in_market)


def exposure_from_weights(weights: pd.DataFrame) -> Exposure:
    """Return :class:`Exposure` from per-period weights (fractions of equity, signed)."""
    if weights.empty:
        return Exposure(_NAN, _NAN)
    gross = weights.abs().sum(axis=1).to_numpy(dtype=np.float64)
    return Exposure(float(np.mean(gross)), float(np.mean(gross > _FLAT_EXPOSURE)))


# --- trades ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TradeStats:
    """Statistics of the closed round trips (currency amounts are net of costs).

    Attributes
    ----------
    trades
        Number of closed trades.
    win_rate
        Share of closed trades with a positive P&L.
    profit_factor
        Sum of winning P&L over the magnitude of the sum of losing P&L (NaN without losers).
    average_win
        Mean P&L of the winners (currency; NaN without winners).
    average_loss
        Mean P&L of the losers (currency, negative; NaN without losers).
    expectancy
        Mean P&L per closed trade (currency).
    trades_per_day
        Closed trades per calendar day of the run.
    """

    trades: float
    win_rate: float
    profit_factor: float
    average_win: float
    average_loss: float
    expectancy: float
    trades_per_day: float


def closed_trades(trades: pd.DataFrame) -> pd.DataFrame:
    """Return the round trips that have an exit (a NaT ``exit_time`` is a trade still open)."""
    missing = {"exit_time", "pnl"} - set(trades.columns)
    if missing:
        raise AlphaForgeError(
            f"the trades table has no column {', '.join(sorted(missing))}",
            hint=f"a trades table has the columns {', '.join(TRADE_COLUMNS)}",
        )
    return trades.loc[trades["exit_time"].notna()]


def run_days(start: pd.Timestamp, end: pd.Timestamp) -> float:
    """Return the calendar days from ``start`` to ``end`` (fractional, weekends included)."""
    return float((end - start) / pd.Timedelta(days=1))


def trade_statistics(trades: pd.DataFrame, days: float) -> TradeStats:
    """Return win rate, profit factor, average win and loss, expectancy and trade frequency.

    Parameters
    ----------
    trades
        Round trips with at least ``exit_time`` and ``pnl`` (net, currency); the full table
        has the columns :data:`TRADE_COLUMNS`. Open trades (NaT ``exit_time``) are left out,
        as backtesting.py leaves out the trade still open at the end.
    days
        Calendar days of the run (:func:`run_days` of its first and last timestamps), for
        ``trades_per_day``; NaN or <= 0 gives a NaN frequency.

    Returns
    -------
    TradeStats
        ``trades`` is 0 and every other field NaN when no trade closed. A P&L of exactly 0 is
        neither a win nor a loss but counts in ``trades`` and ``expectancy``.
    """
    pnl = closed_trades(trades)["pnl"].to_numpy(dtype=np.float64)
    count = float(pnl.size)
    per_day = count / days if math.isfinite(days) and days > 0 else _NAN
    if pnl.size == 0:
        return TradeStats(0.0, _NAN, _NAN, _NAN, _NAN, _NAN, per_day)
    wins, losses = pnl[pnl > 0], pnl[pnl < 0]
    gross_loss = -float(losses.sum())
    return TradeStats(
        trades=count,
        win_rate=float(wins.size / pnl.size),
        profit_factor=float(wins.sum()) / gross_loss if gross_loss > 0 else _NAN,
        average_win=float(wins.mean()) if wins.size else _NAN,
        average_loss=float(losses.mean()) if losses.size else _NAN,
        expectancy=float(pnl.mean()),
        trades_per_day=per_day,
    )


# --- overfitting -----------------------------------------------------------------------------


def deflated_sharpe(
    returns: npt.ArrayLike | pd.Series, ledger: TrialLedger, experiment: str
) -> float:
    """Return the deflated Sharpe ratio of ``returns`` with the trial count from the ledger.

    A probability in [0, 1]: that the true per-period Sharpe exceeds the best Sharpe that as
    many skill-less trials as ``experiment`` records (distinct configurations) would show. The
    returns must be at the frequency of the recorded ones. See
    :func:`alphaforge.validation.ledger.deflated_sharpe_from_ledger`.

    Raises
    ------
    AlphaForgeError
        When the ledger cannot deflate (no trial recorded, or too few with returns).
    """
    try:
        return deflated_sharpe_from_ledger(ledger, experiment, returns)
    except ValueError as exc:
        raise AlphaForgeError(
            f"cannot deflate the Sharpe ratio: {exc}",
            hint="record every evaluated configuration, with its returns, in the trial ledger",
        ) from exc


def sweep_pbo(
    returns: pd.DataFrame,
    *,
    n_partitions: int = 16,
    metric: Literal["sharpe", "mean"] = "sharpe",
) -> PBOResult:
    """Return the probability of backtest overfitting of a parameter sweep (CSCV).

    Parameters
    ----------
    returns
        Periods x parameter sets: net per-period returns of each set of a sweep, in time
        order. Periods where any set has no finite return are dropped, so every set is
        compared on the same periods.
    n_partitions
        Even number of contiguous blocks (16 as in Bailey et al.). A short sweep lowers it to
        the largest even number whose half (``n_partitions / 2`` blocks of
        ``periods // n_partitions`` periods) holds at least two periods.
    metric
        Performance ranked in and out of sample: per-period Sharpe or mean return.

    Raises
    ------
    AlphaForgeError
        With fewer than two parameter sets or fewer than four common periods.
    """
    matrix = returns.astype(np.float64).replace([np.inf, -np.inf], np.nan).dropna(how="any")
    n_rows, n_sets = matrix.shape
    if n_sets < 2:
        raise AlphaForgeError(
            f"PBO needs at least two parameter sets, the sweep has {n_sets}",
            hint="sweep a grid with several values",
        )
    # Each half is n_partitions / 2 blocks of at least n_rows // n_partitions rows and needs
    # two periods: shrink the partition count until the shortest half has them.
    partitions = n_partitions - n_partitions % 2
    while partitions >= 2 and (n_rows // partitions) * (partitions // 2) < 2:
        partitions -= 2
    if partitions < 2:
        raise AlphaForgeError(
            f"PBO needs at least four common periods, the sweep has {n_rows}",
            hint="run the sweep over a longer period",
        )
    return probability_of_backtest_overfitting(
        matrix.to_numpy(), n_partitions=partitions, metric=metric
    )


# --- everything at once ----------------------------------------------------------------------


def _run_span_days(index: pd.Index) -> float:
    if not isinstance(index, pd.DatetimeIndex) or index.size < 2:
        return _NAN
    return run_days(index[0], index[-1])


def full_metrics(
    result: BacktestResult,
    *,
    periods_per_year: float,
    initial_capital: float,
    trades: pd.DataFrame | None = None,
    equity_frame: pd.DataFrame | None = None,
    benchmark_returns: pd.Series | None = None,
    ledger: TrialLedger | None = None,
    experiment: str | None = None,
    sweep_returns: pd.DataFrame | None = None,
) -> dict[str, float]:
    """Return :func:`performance`'s metrics plus every metric of this module, flat.

    Parameters
    ----------
    result
        The run's per-period results (net returns, equity, turnover, costs, weights).
    periods_per_year
        Periods in a year (252 for daily equity bars).
    initial_capital
        Starting equity, currency.
    trades
        Round trips (:data:`TRADE_COLUMNS`); ``None`` or empty gives ``trades = 0`` and NaN
        trade statistics.
    equity_frame
        The engine's equity frame (``timestamp`` column or index, ``equity``,
        ``gross_exposure``): drawdown spells, exposure and the run's calendar span come from
        it. Without it they come from ``result.equity`` and ``result.weights``.
    benchmark_returns
        Benchmark per-period returns on the run's periods, for the information ratio.
    ledger, experiment
        The trial ledger and experiment to deflate the Sharpe ratio with (both or neither).
    sweep_returns
        Periods x parameter sets of a sweep this run was chosen from, for ``pbo``.

    Returns
    -------
    dict of str to float
        :data:`METRIC_KEYS` and the rest of :func:`performance`'s keys, then
        :data:`EXTRA_METRIC_KEYS`; NaN where a metric is undefined or its input is missing.
    """
    metrics = performance(result, periods_per_year, initial_capital)
    returns = result.returns
    if equity_frame is not None:
        frame = (
            equity_frame.set_index("timestamp")
            if "timestamp" in equity_frame.columns
            else equity_frame
        )
        equity_curve = frame["equity"].astype(np.float64)
        spent = exposure(frame)
    else:
        equity_curve = result.equity.astype(np.float64)
        spent = exposure_from_weights(result.weights)
    spells = drawdown_durations(equity_curve)
    stats = trade_statistics(
        trades if trades is not None else pd.DataFrame({"exit_time": [], "pnl": []}),
        _run_span_days(equity_curve.index),
    )
    n_trials, dsr = _NAN, _NAN
    if (ledger is None) != (experiment is None):
        raise AlphaForgeError(
            "a deflated Sharpe ratio needs both the trial ledger and the experiment name",
            hint="pass both ledger= and experiment=, or neither",
        )
    if ledger is not None and experiment is not None:
        n_trials = float(ledger.n_trials(experiment))
        dsr = deflated_sharpe(returns, ledger, experiment)
    metrics.update(
        {
            "sortino": sortino_ratio(returns, periods_per_year),
            "calmar": calmar_ratio(returns, periods_per_year),
            "information_ratio": (
                information_ratio(returns, benchmark_returns, periods_per_year)
                if benchmark_returns is not None
                else _NAN
            ),
            "tail_ratio": tail_ratio(returns),
            "var_95": value_at_risk(returns, 0.95),
            "cvar_95": conditional_value_at_risk(returns, 0.95),
            "max_drawdown_duration_periods": spells.longest_periods,
            "max_drawdown_duration_days": spells.longest_days,
            "recovery_periods": spells.recovery_periods,
            "recovery_days": spells.recovery_days,
            "exposure_gross": spent.mean_gross,
            "time_in_market": spent.time_in_market,
            "trades": stats.trades,
            "win_rate": stats.win_rate,
            "profit_factor": stats.profit_factor,
            "average_win": stats.average_win,
            "average_loss": stats.average_loss,
            "expectancy": stats.expectancy,
            "trades_per_day": stats.trades_per_day,
            "deflated_sharpe": dsr,
            "n_trials": n_trials,
            "pbo": sweep_pbo(sweep_returns).pbo if sweep_returns is not None else _NAN,
        }
    )
    return metrics
