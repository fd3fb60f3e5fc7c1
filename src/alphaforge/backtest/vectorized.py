"""A vectorized backtest of target weights with next-open execution and linear costs.

Timing: a target decided at the close of bar t trades at the open of bar t+1 and is held
open-to-open, so bar t+1's realised return is ``w . (open[t+2] / open[t+1] - 1)``. Weights drift
with prices between rebalances; turnover is measured against the drifted weights. Costs are
``(commission_bps + slippage_bps) / 1e4`` per unit of traded notional, taken from the return of
the period in which the trade happens.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from alphaforge.config.models import BacktestConfig


@dataclass(frozen=True, slots=True)
class BacktestResult:
    """Per-period results, indexed by the bar whose open starts the holding period.

    Attributes
    ----------
    returns
        Net simple return of each period (after costs).
    gross_returns
        Return before costs.
    turnover
        Sum of absolute weight changes traded at the period's open (fraction of equity).
    costs
        Costs paid at the period's open, in currency.
    equity
        Equity at the end of each period, in currency.
    weights
        Weights held during each period (after trading at its open).
    """

    returns: pd.Series
    gross_returns: pd.Series
    turnover: pd.Series
    costs: pd.Series
    equity: pd.Series
    weights: pd.DataFrame

    def since(self, start: pd.Timestamp) -> BacktestResult:
        """Return the periods from ``start`` on (equity keeps its level, not rebased)."""
        return BacktestResult(
            returns=self.returns.loc[start:],
            gross_returns=self.gross_returns.loc[start:],
            turnover=self.turnover.loc[start:],
            costs=self.costs.loc[start:],
            equity=self.equity.loc[start:],
            weights=self.weights.loc[start:],
        )


def run_backtest(
    targets: pd.DataFrame, opens: pd.DataFrame, config: BacktestConfig
) -> BacktestResult:
    """Simulate holding ``targets`` (bars x symbols, NaN rows = hold) traded at next opens.

    Parameters
    ----------
    targets
        Target weights decided at each bar's close (see :func:`top_k_weights`).
    opens
        Open prices on the same index and columns. A missing open (a halt, a dropped bar, a
        market closed while another trades) cannot be traded at: positions in that name are
        carried unchanged, and the price move is credited when the next open prints.
    config
        Costs (bps of traded notional) and initial capital.
    """
    if not targets.index.equals(opens.index) or not targets.columns.equals(opens.columns):
        raise ValueError("targets and opens must share index and columns")
    o = opens.to_numpy(np.float64)
    tradable = np.isfinite(o) & (o > 0)
    # Value positions at the last printed open, so a move across a gap is not lost.
    valued = opens.where(tradable).ffill().to_numpy(np.float64)
    asset_ret = np.zeros_like(o)
    with np.errstate(divide="ignore", invalid="ignore"):
        asset_ret[:-1] = valued[1:] / valued[:-1] - 1.0
    asset_ret[~np.isfinite(asset_ret)] = 0.0
    t = targets.to_numpy(np.float64)
    n, m = t.shape
    cost_rate = (config.commission_bps + config.slippage_bps) / 1e4
    # Period p starts at the open of bar p and trades the target decided at the close of p-1.
    held = np.zeros((n, m))
    gross = np.zeros(n)
    turnover = np.zeros(n)
    current = np.zeros(m)
    # Per-name orders not yet filled (NaN = none): a name with no open keeps its position and
    # its order waits for the next printed open.
    pending = np.full(m, np.nan)
    for p in range(1, n - 1):
        if np.isfinite(t[p - 1]).all():
            pending = t[p - 1].copy()
        fill = tradable[p] & np.isfinite(pending)
        if fill.any():
            target = np.where(fill, pending, current)
            turnover[p] = np.abs(target - current).sum()
            current = target
            pending[fill] = np.nan
        held[p] = current
        r = asset_ret[p]
        gross[p] = float(current @ r)
        grown = current * (1.0 + r)
        denominator = 1.0 + gross[p]
        current = grown / denominator if denominator > 0 else np.zeros(m)
    cost_frac = turnover * cost_rate
    net = (1.0 + gross) * (1.0 - cost_frac) - 1.0
    equity = config.initial_capital * np.cumprod(1.0 + net)
    equity_before = np.concatenate([[config.initial_capital], equity[:-1]])
    costs = cost_frac * equity_before
    # The first period has no decision yet and the last has no closing price: drop both.
    live = slice(1, n - 1)
    index = targets.index[live]
    return BacktestResult(
        returns=pd.Series(net[live], index=index, name="net_return"),
        gross_returns=pd.Series(gross[live], index=index, name="gross_return"),
        turnover=pd.Series(turnover[live], index=index, name="turnover"),
        costs=pd.Series(costs[live], index=index, name="costs"),
        equity=pd.Series(equity[live], index=index, name="equity"),
        weights=pd.DataFrame(held[live], index=index, columns=targets.columns),
    )
