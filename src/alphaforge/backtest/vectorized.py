"""The vectorized sweep: many parameter sets of one book simulated at once with NumPy arrays.

Each timestamp is one step over arrays shaped (parameter sets x symbols); there is no loop over
symbols or parameter sets. The accounting is the event-driven engine's (``engine.py``) where
both apply, so every period's equity equals the engine's to float rounding:

- targets (weights, NaN = hold) decided at bar ``t``'s close are executed at each symbol's
  next bar of its own; a symbol without a bar at a timestamp keeps its pending target, and a
  target decided on a bar the symbol does not have is ignored;
- market orders fill at that bar's open (``fill_price: next_open``), in full (no participation
  cap); equity for sizing is marked at the fill prices (the open for the symbols trading, the
  last close for the others); ``sizing: weights`` buys ``w x equity / open`` units,
  ``sizing: all_in`` the equity left after closing the position less the proportional cost
  rate; ``units: whole`` rounds as the engine does;
- fills pay the cost schedule (one :class:`TradeBatch` per asset class per step, covering
  every parameter set's fills) from cash; holding costs (borrow, carry) are charged at the
  start of a symbol's bar for the calendar days since its previous bar, on units x last close;
- a holding whose bars end before the run's last timestamp is closed at its last close;
- positions are marked at each bar's close: one equity value per timestamp.

What the engine does and this path does not: risk checks (it equals an engine whose risk
manager approves every intent, e.g. ``BasicRiskManager`` without lot sizes and with room under
``max_leverage``), limit/stop orders and brackets, other fill prices, participation caps and
corporate actions. Those settings are refused, never ignored.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from alphaforge.backtest.costs import CostSchedule, HoldingBatch, TradeBatch
from alphaforge.config.models import BacktestConfig, PortfolioConfig
from alphaforge.core.errors import ConfigError
from alphaforge.core.types import AssetClass, Instrument
from alphaforge.portfolio.base import PortfolioConstructor
from alphaforge.strategies.base import MarketFrames, Signals

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]

_DAY_NS = 86_400e9
_CONTEXT = ("sigma_daily", "adv", "half_spread")


@dataclass(frozen=True, slots=True)
class BacktestResult:
    """Per-bar results of one backtest, indexed by bar time (one row per timestamp).

    Attributes
    ----------
    returns
        Net simple return of equity from the previous bar's close (the first bar: from the
        initial capital).
    gross_returns
        The same before the bar's costs.
    turnover
        Traded notional of the bar over the previous equity (both sides, fraction).
    costs
        Costs paid during the bar (fills and holding), currency.
    equity
        Equity at the bar's close, currency.
    weights
        Value held per symbol at the bar's close over equity.
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


@dataclass(frozen=True, slots=True)
class SweepResult:
    """Every parameter set's run, stacked: arrays are (parameter sets x bars [x symbols]).

    Attributes
    ----------
    index
        Bar times (UTC), the engine's timestamps.
    symbols
        Symbols in column order.
    labels
        One name per parameter set.
    initial_capital
        Starting equity of each run, currency.
    equity, cash
        At each bar's close, currency.
    costs
        Costs paid during each bar (fills and holding), currency.
    traded
        Notional traded during each bar (both sides), currency.
    gross_exposure, net_exposure
        Sum of absolute and of signed position values at the close, currency.
    components
        Cost component names; ``cost_components[k, t, c]`` is component ``c`` paid at bar ``t``.
    cost_components
        (parameter sets x bars x components), currency.
    positions
        Units held at each close (parameter sets x bars x symbols), or None when the sweep was
        run with ``keep_positions=False``.
    marks
        The price each symbol is marked at, at each close (bars x symbols; its last close).
    """

    index: pd.DatetimeIndex
    symbols: list[str]
    labels: list[str]
    initial_capital: float
    equity: FloatArray
    cash: FloatArray
    costs: FloatArray
    traded: FloatArray
    gross_exposure: FloatArray
    net_exposure: FloatArray
    components: list[str]
    cost_components: FloatArray
    positions: FloatArray | None
    marks: FloatArray

    def __len__(self) -> int:
        return len(self.labels)

    def equity_frame(self) -> pd.DataFrame:
        """Return equity at each close, one column per parameter set."""
        return pd.DataFrame(self.equity.T, index=self.index, columns=self.labels)

    def result(self, k: int | str) -> BacktestResult:
        """Return parameter set ``k`` (position or label) as the engine's result type."""
        if self.positions is None:
            raise ValueError("the sweep ran with keep_positions=False: no weights to return")
        i = self.labels.index(k) if isinstance(k, str) else int(k)
        equity = self.equity[i]
        before = np.concatenate([[self.initial_capital], equity[:-1]])
        held = self.positions[i]
        value = np.where(held != 0, held * np.nan_to_num(self.marks), 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            returns = np.where(before > 0, equity / before - 1.0, 0.0)
            gross = np.where(before > 0, (equity + self.costs[i]) / before - 1.0, 0.0)
            turnover = np.where(before > 0, self.traded[i] / before, 0.0)
            weights = np.where(equity[:, None] > 0, value / equity[:, None], 0.0)
        index = self.index
        return BacktestResult(
            returns=pd.Series(returns, index=index, name="net_return"),
            gross_returns=pd.Series(gross, index=index, name="gross_return"),
            turnover=pd.Series(turnover, index=index, name="turnover"),
            costs=pd.Series(self.costs[i], index=index, name="costs"),
            equity=pd.Series(equity, index=index, name="equity"),
            weights=pd.DataFrame(weights, index=index, columns=self.symbols),
        )

    def results(self) -> list[BacktestResult]:
        """Return every parameter set's result, in label order."""
        return [self.result(k) for k in range(len(self.labels))]


def run_sweep(
    market: MarketFrames,
    signals: Sequence[Signals],
    constructor: PortfolioConstructor,
    schedule: CostSchedule,
    config: BacktestConfig,
    portfolio: PortfolioConfig,
    *,
    labels: Sequence[str] | None = None,
    context: Mapping[str, pd.DataFrame] | None = None,
    keep_positions: bool = True,
) -> SweepResult:
    """Turn each parameter set's signals into targets and simulate them all at once.

    Parameters
    ----------
    market
        Bars as wide frames (UTC bar open times x symbols; NaN where a symbol has no bar).
    signals
        One strategy output per parameter set (row ``t`` known at ``t``'s close). Stops and
        take-profits (brackets) are not modelled here and are refused.
    constructor
        Turns signals into target weights (``top_k``, ``target_weights``).
    schedule, config, portfolio, labels, context, keep_positions
        As :func:`run_vectorized`.
    """
    for k, s in enumerate(signals):
        for name, frame in (("stop", s.stop), ("target", s.target)):
            if frame is not None and bool(np.isfinite(frame.to_numpy(np.float64)).any()):
                raise ConfigError(
                    f"Parameter set {k} has {name} prices: the vectorized sweep has no brackets.",
                    hint="Run it with the event-driven engine (alphaforge backtest).",
                )
    targets = [constructor.targets(s, market) for s in signals]
    return run_vectorized(
        market,
        targets,
        schedule,
        config,
        portfolio,
        labels=labels,
        context=context,
        keep_positions=keep_positions,
    )


def run_vectorized(
    market: MarketFrames,
    targets: Sequence[pd.DataFrame],
    schedule: CostSchedule,
    config: BacktestConfig,
    portfolio: PortfolioConfig,
    *,
    labels: Sequence[str] | None = None,
    context: Mapping[str, pd.DataFrame] | None = None,
    keep_positions: bool = True,
) -> SweepResult:
    """Simulate every parameter set's target weights with the engine's next-open accounting.

    Parameters
    ----------
    market
        Bars as wide frames (UTC bar open times x symbols; NaN where a symbol has no bar).
    targets
        One frame of target weights per parameter set (fractions of equity, signed; NaN =
        hold), decided at each bar's close; reindexed to the market's bars and symbols.
    schedule
        Cost models per asset class (trade and holding models).
    config
        ``initial_capital``; ``fill_price`` must be ``next_open``, ``participation`` None and
        ``prices`` adjusted (the rest is the engine's alone).
    portfolio
        ``sizing`` (``weights`` or ``all_in``) and ``units`` (``fractional`` or ``whole``).
    labels
        One name per parameter set (default ``"0"``, ``"1"``, ...).
    context
        Cost-model inputs known before each bar (``sigma_daily``, ``adv``, ``half_spread``),
        frames shaped like the bars; missing ones are NaN.
    keep_positions
        Keep units per symbol at every close (needed for :meth:`SweepResult.result`'s
        weights); off saves (sets x bars x symbols) floats on large grids.
    """
    _check_supported(config)
    names = [str(k) for k in range(len(targets))] if labels is None else list(labels)
    if len(names) != len(targets):
        raise ValueError(f"{len(names)} labels for {len(targets)} parameter sets")
    symbols = market.symbols
    index = market.index
    plan = _Plan.build(market, targets, schedule, context)
    state = _simulate(plan, config, portfolio, keep_positions)
    return SweepResult(
        index=index,
        symbols=symbols,
        labels=names,
        initial_capital=config.initial_capital,
        equity=state.equity,
        cash=state.cash_at_close,
        costs=state.costs,
        traded=state.traded,
        gross_exposure=state.gross,
        net_exposure=state.net,
        components=plan.components,
        cost_components=state.by_component,
        positions=state.positions,
        marks=state.marks,
    )


def run_backtest(
    targets: pd.DataFrame, opens: pd.DataFrame, config: BacktestConfig
) -> BacktestResult:
    """Trade ``targets`` at next opens when only opens are known (the research pipeline's book).

    Kept for callers that hold opens only: each symbol's bar ``t`` is given the close
    ``open[t']`` of its next printed open ``t'`` (its last printed bar closes at its own open),
    so equity is marked open to open and a move across a missing open is credited when the
    next open prints. A target decided at bar ``t``'s close fills at the symbol's next printed
    open, as in the engine; weights sizing, fractional units, no participation cap.

    Parameters
    ----------
    targets
        Target weights decided at each bar's close (NaN = hold), bars x symbols.
    opens
        Open prices on the same index and columns; a missing open is a bar the symbol does
        not have (an order waits for its next printed open).
    config
        Initial capital and costs (``costs`` per asset class, linear bps by default; every
        symbol is treated as a stock).

    Returns
    -------
    BacktestResult
        Bars 1 to ``n - 2``: the first bar has no decision before it and the last has no
        next open to be marked at.
    """
    if not targets.index.equals(opens.index) or not targets.columns.equals(opens.columns):
        raise ValueError("targets and opens must share index and columns")
    o = opens.to_numpy(np.float64)
    printed = np.isfinite(o) & (o > 0)
    valued = opens.where(printed)
    # The next printed open after each bar, and a symbol's last printed bar marked flat.
    following = valued.shift(-1).bfill()
    close = following.where(printed & following.notna(), valued).where(printed)
    symbols = [str(c) for c in opens.columns]
    frames = {
        str(c): pd.DataFrame(
            {
                "open": valued[c],
                "high": np.fmax(valued[c], close[c]),
                "low": np.fmin(valued[c], close[c]),
                "close": close[c],
                "volume": np.where(printed[:, k], 1.0, np.nan),
            },
            index=opens.index,
        )
        for k, c in enumerate(opens.columns)
    }
    market = MarketFrames(
        open=pd.DataFrame({s: frames[s]["open"] for s in symbols}, index=opens.index),
        high=pd.DataFrame({s: frames[s]["high"] for s in symbols}, index=opens.index),
        low=pd.DataFrame({s: frames[s]["low"] for s in symbols}, index=opens.index),
        close=pd.DataFrame({s: frames[s]["close"] for s in symbols}, index=opens.index),
        volume=pd.DataFrame({s: frames[s]["volume"] for s in symbols}, index=opens.index),
        instruments={s: Instrument(s, AssetClass.STOCK) for s in symbols},
    )
    uncapped = config.model_copy(update={"participation": None})
    sweep = run_vectorized(
        market,
        [targets.set_axis(symbols, axis=1)],
        CostSchedule.from_config(uncapped),
        uncapped,
        PortfolioConfig(sizing="weights", units="fractional"),
    )
    full = sweep.result(0)
    live = slice(1, max(len(opens.index) - 1, 1))
    return BacktestResult(
        returns=full.returns.iloc[live],
        gross_returns=full.gross_returns.iloc[live],
        turnover=full.turnover.iloc[live],
        costs=full.costs.iloc[live],
        equity=full.equity.iloc[live],
        weights=full.weights.iloc[live].set_axis(opens.columns, axis=1),
    )


def _check_supported(config: BacktestConfig) -> None:
    if config.fill_price != "next_open":
        raise ConfigError(
            f"The vectorized sweep fills at the next open, not fill_price {config.fill_price!r}.",
            hint="Set backtest.fill_price: next_open, or run the event-driven engine.",
        )
    if config.participation is not None:
        raise ConfigError(
            "The vectorized sweep fills every order in full (no participation cap).",
            hint="Set backtest.participation: null, or run the event-driven engine.",
        )
    if config.prices != "adjusted" or config.corporate_actions is not None:
        raise ConfigError(
            "The vectorized sweep runs on adjusted prices without corporate actions.",
            hint="Set backtest.prices: adjusted, or run the event-driven engine.",
        )


@dataclass(frozen=True, slots=True)
class _Plan:
    """Everything the loop reads, as arrays (bars x symbols unless stated)."""

    open: FloatArray
    close: FloatArray
    active: BoolArray
    targets: FloatArray  # bars x sets x symbols
    stamps: npt.NDArray[np.int64]
    last_bar: IntArray
    context: dict[str, FloatArray]
    symbols: npt.NDArray[np.object_]
    groups: list[tuple[AssetClass, IntArray]]  # asset class -> its symbol columns
    class_of: IntArray  # symbol -> position in groups
    schedule: CostSchedule
    components: list[str]
    holding: bool

    @classmethod
    def build(
        cls,
        market: MarketFrames,
        targets: Sequence[pd.DataFrame],
        schedule: CostSchedule,
        context: Mapping[str, pd.DataFrame] | None,
    ) -> _Plan:
        symbols = market.symbols
        index = market.index
        o = market.open.to_numpy(np.float64)
        c = market.close.to_numpy(np.float64)
        active = np.isfinite(o) & np.isfinite(c) & (o > 0) & (c > 0)
        stacked = np.empty((len(index), len(targets), len(symbols)))
        for k, frame in enumerate(targets):
            stacked[:, k, :] = frame.reindex(index=index, columns=symbols).to_numpy(np.float64)
        classes = [_asset_class(market.instruments, s) for s in symbols]
        order = list(dict.fromkeys(classes))
        class_of = np.array([order.index(a) for a in classes], dtype=np.intp)
        groups = [(a, np.flatnonzero(class_of == g)) for g, a in enumerate(order)]
        holding = any(model.kind == "holding" for a in order for _, model in schedule.models(a))
        ctx = {key: _values((context or {}).get(key), index, symbols) for key in _CONTEXT}
        return cls(
            open=o,
            close=c,
            active=active,
            targets=stacked,
            stamps=index.asi8,
            last_bar=_last_active(active),
            context=ctx,
            symbols=np.array(symbols, dtype=object),
            groups=groups,
            class_of=class_of,
            schedule=schedule,
            components=schedule.components(classes),
            holding=holding,
        )

    def trade_costs(
        self, t: int, sets: IntArray, cols: IntArray, quantity: FloatArray, price: FloatArray
    ) -> FloatArray:
        """Return each fill's cost per component (fills x components): one batch per class."""
        out = np.zeros((sets.size, len(self.components)))
        for asset, pick in self._split(cols):
            idx = cols[pick]
            batch = TradeBatch(
                price=price[pick],
                quantity=quantity[pick],
                symbols=tuple(self.symbols[idx].tolist()),
                sigma_daily=self.context["sigma_daily"][t, idx],
                adv=self.context["adv"][t, idx],
                half_spread=self.context["half_spread"][t, idx],
                maker=np.zeros(idx.size, dtype=bool),
            )
            for name, values in self.schedule.trade_costs(asset, batch).items():
                out[pick, self.components.index(name)] += values
        return out

    def holding_costs(self, cols: IntArray, value: FloatArray, days: FloatArray) -> FloatArray:
        """Return each position's holding cost per component (positions x components)."""
        out = np.zeros((cols.size, len(self.components)))
        for asset, pick in self._split(cols):
            batch = HoldingBatch(
                value=value[pick], days=days[pick], symbols=tuple(self.symbols[cols[pick]].tolist())
            )
            for name, values in self.schedule.holding_costs(asset, batch).items():
                out[pick, self.components.index(name)] += values
        return out

    def proportional_rates(self, price: FloatArray, cols: IntArray) -> FloatArray:
        """Return the cost of one unit as a fraction of price (the engine's all-in rate)."""
        rate = np.zeros(cols.size)
        for asset, pick in self._split(cols):
            batch = TradeBatch.simple(price[pick], 1.0)
            total = sum(self.schedule.trade_costs(asset, batch).values(), np.zeros(pick.sum()))
            rate[pick] = total / price[pick]
        return rate

    def _split(self, cols: IntArray) -> list[tuple[AssetClass, BoolArray]]:
        if len(self.groups) == 1:
            return [(self.groups[0][0], np.ones(cols.size, dtype=bool))]
        which = self.class_of[cols]
        return [(a, which == g) for g, (a, _) in enumerate(self.groups) if (which == g).any()]


@dataclass(slots=True)
class _State:
    equity: FloatArray
    cash_at_close: FloatArray
    costs: FloatArray
    traded: FloatArray
    gross: FloatArray
    net: FloatArray
    by_component: FloatArray
    positions: FloatArray | None
    marks: FloatArray


def _simulate(
    plan: _Plan, config: BacktestConfig, portfolio: PortfolioConfig, keep_positions: bool
) -> _State:
    n, p, m = plan.targets.shape
    n_comp = len(plan.components)
    quantity = np.zeros((p, m))
    cash = np.full(p, float(config.initial_capital))
    last_price = np.full(m, np.nan)
    prev_time = np.full(m, -1, dtype=np.int64)
    pending = np.full((p, m), np.nan)
    out = _State(
        equity=np.zeros((p, n)),
        cash_at_close=np.zeros((p, n)),
        costs=np.zeros((p, n)),
        traded=np.zeros((p, n)),
        gross=np.zeros((p, n)),
        net=np.zeros((p, n)),
        by_component=np.zeros((p, n, n_comp)),
        positions=np.zeros((p, n, m)) if keep_positions else None,
        marks=np.full((n, m), np.nan),
    )
    for t in range(n):
        act = plan.active[t]

        # 1. Holding costs since each held symbol's previous bar, on units x last close.
        if plan.holding:
            held_now = (quantity != 0) & (act & (prev_time >= 0))[None, :]
            if held_now.any():
                sets, cols = np.nonzero(held_now)
                days = (plan.stamps[t] - prev_time[cols]) / _DAY_NS
                value = quantity[sets, cols] * last_price[cols]
                charged = plan.holding_costs(cols, value, days)
                _pay(out, cash, t, sets, charged, p)

        # 2. Targets decided at earlier closes, sized at this bar's open and filled there.
        due = np.isfinite(pending) & act[None, :]
        sets = cols = np.zeros(0, dtype=np.intp)
        fill_qty = fill_px = np.zeros(0)
        if due.any():
            sets, cols, fill_qty = _orders(
                plan, t, due, pending, quantity, cash, last_price, portfolio
            )
            fill_px = plan.open[t, cols]
            pending[due] = np.nan
            if sets.size:
                before = quantity[sets, cols]
                after = before + fill_qty
                after[np.abs(after) < 1e-12 * np.maximum(np.abs(fill_qty), 1.0)] = 0.0
                quantity[sets, cols] = after

        # 3. A holding whose bars end before the run does is closed at its last close.
        if t < n - 1:
            ending = act & (plan.last_bar == t)
            if ending.any():
                lsets, lcols = np.nonzero((quantity != 0) & ending[None, :])
                if lsets.size:
                    lqty = -quantity[lsets, lcols]
                    quantity[lsets, lcols] = 0.0
                    sets = np.concatenate([sets, lsets])
                    cols = np.concatenate([cols, lcols])
                    fill_qty = np.concatenate([fill_qty, lqty])
                    fill_px = np.concatenate([fill_px, plan.close[t, lcols]])

        if sets.size:
            charged = plan.trade_costs(t, sets, cols, fill_qty, fill_px)
            notional = fill_qty * fill_px
            cash -= np.bincount(sets, weights=notional, minlength=p)
            out.traded[:, t] += np.bincount(sets, weights=np.abs(notional), minlength=p)
            _pay(out, cash, t, sets, charged, p)

        # 4. Mark to market at the close.
        live = act & np.isfinite(plan.close[t])
        last_price[live] = plan.close[t, live]
        prev_time[act] = plan.stamps[t]
        value = np.where(quantity != 0, quantity * np.nan_to_num(last_price), 0.0)
        out.equity[:, t] = cash + value.sum(axis=1)
        out.cash_at_close[:, t] = cash
        out.gross[:, t] = np.abs(value).sum(axis=1)
        out.net[:, t] = value.sum(axis=1)
        out.marks[t] = last_price
        if out.positions is not None:
            out.positions[:, t, :] = quantity

        # 5. This bar's decisions, for each symbol's next bar.
        row = plan.targets[t]
        decide = np.isfinite(row) & act[None, :]
        pending[decide] = row[decide]
    return out


def _orders(
    plan: _Plan,
    t: int,
    due: BoolArray,
    pending: FloatArray,
    quantity: FloatArray,
    cash: FloatArray,
    last_price: FloatArray,
    portfolio: PortfolioConfig,
) -> tuple[IntArray, IntArray, FloatArray]:
    """Return the (set, symbol, signed units) of every order the due targets need."""
    opens = plan.open[t]
    marks = np.where(due, opens[None, :], last_price[None, :])
    equity = cash + np.where(quantity != 0, quantity * marks, 0.0).sum(axis=1)
    sets, cols = np.nonzero(due)
    w = pending[sets, cols]
    price = opens[cols]
    current = quantity[sets, cols]
    if portfolio.sizing == "all_in":
        rate = plan.proportional_rates(price, cols)
        closing = np.bincount(sets, weights=np.abs(current) * price * rate, minlength=due.shape[0])
        budget = np.maximum(equity - closing, 0.0) * (1.0 - sys.float_info.epsilon)
        units = np.abs(w) * budget[sets] / (price * (1.0 + rate))
        units = np.floor(units) if portfolio.units == "whole" else units
        target = np.sign(w) * units
    else:
        target = w * equity[sets] / price
        target = np.trunc(target) if portfolio.units == "whole" else target
    delta = target - current
    trade = np.abs(delta) > 1e-12 * np.maximum(np.abs(target), 1.0)
    return sets[trade], cols[trade], delta[trade]


def _pay(
    out: _State, cash: FloatArray, t: int, sets: IntArray, charged: FloatArray, p: int
) -> None:
    """Take ``charged`` (rows x components) from each set's cash and record it."""
    per_component = (
        np.stack(
            [
                np.bincount(sets, weights=charged[:, c], minlength=p)
                for c in range(charged.shape[1])
            ],
            axis=1,
        )
        if charged.shape[1]
        else np.zeros((p, 0))
    )
    total = per_component.sum(axis=1)
    cash -= total
    out.costs[:, t] += total
    out.by_component[:, t, :] += per_component


def _asset_class(instruments: Mapping[str, Instrument], symbol: str) -> AssetClass:
    instrument = instruments.get(symbol)
    if instrument is None:
        raise ConfigError(
            f"No instrument for {symbol!r}: its asset class picks its cost models.",
            hint="Build the market with MarketFrames.from_bars and every symbol's instrument.",
        )
    return instrument.asset_class


def _values(frame: pd.DataFrame | None, index: pd.Index, columns: list[str]) -> FloatArray:
    if frame is None:
        return np.full((len(index), len(columns)), np.nan)
    return frame.reindex(index=index, columns=columns).to_numpy(np.float64)


def _last_active(active: BoolArray) -> IntArray:
    n = active.shape[0]
    last = n - 1 - active[::-1].argmax(axis=0)
    return np.where(active.any(axis=0), last, -1).astype(np.intp)


__all__ = ["BacktestResult", "SweepResult", "run_backtest", "run_sweep", "run_vectorized"]
