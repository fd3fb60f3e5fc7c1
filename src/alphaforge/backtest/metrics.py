"""Performance metrics of a backtest, every one computed from net per-period returns."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from alphaforge.backtest.vectorized import BacktestResult
from alphaforge.validation.stats import probabilistic_sharpe_ratio, sharpe_ratio

METRIC_KEYS = ("cagr", "volatility", "sharpe", "psr", "max_drawdown", "turnover", "costs")


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
