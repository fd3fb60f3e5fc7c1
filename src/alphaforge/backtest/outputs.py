"""The tables of an engine run: what the loop accumulated, turned into frames once at the end."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from alphaforge.backtest.trades import TradeBook
from alphaforge.backtest.vectorized import BacktestResult
from alphaforge.config.models import BacktestConfig
from alphaforge.core.orders import Fill
from alphaforge.execution import SimulatedBroker
from alphaforge.risk.audit import audit_frame

#: Columns of the sizing-chain table.
SIZING_COLUMNS = ("timestamp", "symbol", "intent_id", "step", "before", "after", "reason")


@dataclass(frozen=True, slots=True)
class EngineRun:
    """Everything one event-driven run produced (frames as written to the run folder)."""

    result: BacktestResult
    equity: pd.DataFrame
    orders: pd.DataFrame
    fills: pd.DataFrame
    trades: pd.DataFrame
    positions: pd.DataFrame
    audit: pd.DataFrame
    costs: pd.DataFrame
    cost_components: list[str]
    #: The sizing chain of every order one step per row (empty without sizers or pieces).
    sizing: pd.DataFrame
    #: Per bar close: tripped breakers and the drawdown tier (no rows without breakers).
    risk_status: pd.DataFrame
    #: Bars x symbols: units held and close prices at each bar's close (NaN: no price yet).
    held: np.ndarray
    marks: np.ndarray
    #: Bars x symbols: the protective stop working on each position at each close (None when
    #: no stop rule is configured).
    stops: np.ndarray | None
    #: An aggregate's components: each one's fraction of the signal at each bar (bars x
    #: symbols frames by component; None for a single strategy).
    signal_shares: Mapping[str, pd.DataFrame] | None = None
    #: A strategy's group tags (pair legs) at each bar: bars x symbols, "" for none, NaN
    #: where a symbol has no bar; None without tags.
    signal_groups: pd.DataFrame | None = None


class FillTable:
    """The fills table's columns, appended to as fills arrive.

    A run has tens of thousands of fills: keeping a row's values in lists (the floats and
    strings are the fills' own) rather than every :class:`Fill` until the end keeps the
    run's memory, and the pages a first run has to fault in, smaller.
    """

    def __init__(self, components: list[str]) -> None:
        self.components = components
        self.order_id: list[str] = []
        self.symbol: list[str] = []
        self.bar: list[int] = []
        self.quantity: list[float] = []
        self.price: list[float] = []
        self.total: list[float] = []
        self.strategy: list[str] = []
        self.reason: list[str] = []
        self.by_component: list[list[float]] = [[] for _ in components]

    def add(self, fill: Fill, bar: int, total: float, costs: Mapping[str, float]) -> None:
        """Append ``fill`` (booked at bar position ``bar``; ``total`` is its costs' sum)."""
        self.order_id.append(fill.order_id)
        self.symbol.append(fill.symbol)
        self.bar.append(bar)
        self.quantity.append(fill.quantity)
        self.price.append(fill.price)
        self.total.append(total)
        self.strategy.append(fill.strategy)
        self.reason.append(fill.reason)
        for values, name in zip(self.by_component, self.components, strict=True):
            values.append(costs.get(name, 0.0))

    def frame(self, index: pd.DatetimeIndex) -> pd.DataFrame:
        """Return the fills table, timestamps taken from the run's ``index``."""
        names = [
            "order_id",
            "symbol",
            "timestamp",
            "quantity",
            "price",
            "costs",
            "strategy",
            "reason",
            *(f"cost_{name}" for name in self.components),
        ]
        if not self.bar:
            return pd.DataFrame([], columns=names)
        columns: list[object] = [
            self.order_id,
            self.symbol,
            index[np.asarray(self.bar, dtype=np.intp)],
            self.quantity,
            self.price,
            self.total,
            self.strategy,
            self.reason,
            *self.by_component,
        ]
        return pd.DataFrame(dict(zip(names, columns, strict=True)))


def assemble(
    index: pd.DatetimeIndex,
    symbols: list[str],
    config: BacktestConfig,
    held: np.ndarray,
    marks: np.ndarray,
    equity: np.ndarray,
    cash: np.ndarray,
    traded: np.ndarray,
    cost_paid: np.ndarray,
    cost_by_component: np.ndarray,
    components: list[str],
    broker: SimulatedBroker,
    book: TradeBook,
    fills: FillTable,
    audit: list[dict[str, object]],
    *,
    sizing: pd.DataFrame | None = None,
    risk_status: pd.DataFrame | None = None,
    stops: np.ndarray | None = None,
    signal_shares: Mapping[str, pd.DataFrame] | None = None,
    signal_groups: pd.DataFrame | None = None,
) -> EngineRun:
    # In place where it can be: each bars x symbols temporary is pages to fault in.
    value = np.nan_to_num(marks)
    np.multiply(held, value, out=value)
    value[held == 0] = 0.0
    gross = np.abs(value).sum(axis=1)
    net = value.sum(axis=1)
    equity_frame = pd.DataFrame(
        {
            "timestamp": index,
            "equity": equity,
            "cash": cash,
            "gross_exposure": gross,
            "net_exposure": net,
        }
    )
    before = np.concatenate([[config.initial_capital], equity[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        returns = np.where(before > 0, equity / before - 1.0, 0.0)
        gross_returns = np.where(before > 0, (equity + cost_paid) / before - 1.0, 0.0)
        turnover = np.where(before > 0, traded / before, 0.0)
        weights = value / equity[:, None]
        weights[~(equity > 0)] = 0.0
    result = BacktestResult(
        returns=pd.Series(returns, index=index, name="net_return"),
        gross_returns=pd.Series(gross_returns, index=index, name="gross_return"),
        turnover=pd.Series(turnover, index=index, name="turnover"),
        costs=pd.Series(cost_paid, index=index, name="costs"),
        equity=pd.Series(equity, index=index, name="equity"),
        weights=pd.DataFrame(weights, index=index, columns=symbols),
    )
    positions = _positions_frame(index, symbols, held, marks, value)
    costs = pd.DataFrame(cost_by_component, columns=components)
    costs.insert(0, "timestamp", index)
    return EngineRun(
        result=result,
        equity=equity_frame,
        orders=_orders_frame(broker),
        fills=fills.frame(index),
        trades=book.frame(),
        positions=positions,
        audit=audit_frame(audit),
        costs=costs,
        cost_components=components,
        sizing=sizing if sizing is not None else pd.DataFrame(columns=list(SIZING_COLUMNS)),
        risk_status=risk_status
        if risk_status is not None
        else pd.DataFrame(columns=["timestamp", "tripped", "drawdown_tier"]),
        held=held,
        marks=marks,
        stops=stops,
        signal_shares=signal_shares,
        signal_groups=signal_groups,
    )


def _positions_frame(
    index: pd.DatetimeIndex,
    symbols: list[str],
    held: np.ndarray,
    marks: np.ndarray,
    value: np.ndarray,
) -> pd.DataFrame:
    """Return one row per holding per bar: timestamp, symbol, quantity, price, value.

    A row per held name per bar is a million rows for 500 names over ten years: the three
    number columns are written once into the block the frame keeps (no copy on the way).
    """
    flat = np.flatnonzero(held)
    rows, cols = np.divmod(flat, held.shape[1])
    numbers = np.empty((3, flat.size))
    for k, values in enumerate((held, marks, value)):
        np.take(values.reshape(-1), flat, out=numbers[k])
    frame = pd.DataFrame(numbers.T, columns=["quantity", "price", "value"], copy=False)
    frame.insert(0, "timestamp", index[rows])
    # One string per name, then taken per row.
    frame.insert(1, "symbol", pd.Series(symbols, dtype="str").take(cols).reset_index(drop=True))
    return frame


def _orders_frame(broker: SimulatedBroker) -> pd.DataFrame:
    orders = list(broker.manager)
    intents = [order.intent for order in orders]
    # Column by column: a run has an order per signal change, tens of thousands of them.
    # ``str`` of these StrEnum members is their value, without Enum's slower ``.value``.
    columns: dict[str, object] = {
        "order_id": [order.id for order in orders],
        "symbol": [intent.symbol for intent in intents],
        "created_at": pd.DatetimeIndex([order.created_at for order in orders]),
        "updated_at": pd.DatetimeIndex([order.updated_at for order in orders]),
        "type": [str(intent.order_type) for intent in intents],
        "quantity": [intent.quantity for intent in intents],
        "limit_price": [intent.limit_price for intent in intents],
        "stop_price": [intent.stop_price for intent in intents],
        "time_in_force": [str(intent.time_in_force) for intent in intents],
        "status": [str(order.status) for order in orders],
        "filled_quantity": [order.filled_quantity for order in orders],
        "average_price": [order.average_price for order in orders],
        "strategy": [intent.strategy for intent in intents],
        "reason": [intent.reason for intent in intents],
        "status_reason": [order.status_reason for order in orders],
        "oco_group": [intent.oco_group for intent in intents],
    }
    if not orders:
        return pd.DataFrame([], columns=list(columns))
    return pd.DataFrame(columns)


__all__ = ["EngineRun", "FillTable", "assemble"]
