"""Execution quality: each live fill against the price it was decided at and the backtest's costs.

A live fill is measured three ways:

- against the **decision price** (the close of the bar the order was decided on): the
  implementation shortfall, ``slippage_bps``, which includes the market's move between the
  decision and the fill;
- against the **arrival price** (the venue's quote, or the next open, when the order was sent),
  where the decision row records one;
- against what the **backtest** would have done with the same order on the same bar: it fills
  at the bar's fill price (``model_price``: the open for ``next_open``) and charges its cost
  schedule (``predicted_cost``). The live fill's ``realised_cost`` is its price difference to
  ``model_price`` plus the venue's commission: the two are in basis points of the same
  notional, ``|quantity| x model_price``, so ``excess_bps = realised_bps - predicted_bps`` says
  by how much the backtest's costs were optimistic (> 0) or conservative (< 0).

Costs are signed so that a positive number is a cost to us, for buys and sells alike.
:func:`~alphaforge.live.cost_fit.fit_costs` re-fits a cost model's parameters to the realised
costs, for ``backtest.costs``; :func:`quality_figure` draws realised against predicted costs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from alphaforge.backtest.charts import BENCHMARK_COLOR, PALETTE, style_figure
from alphaforge.backtest.costs import CostSchedule, TradeBatch
from alphaforge.backtest.runner import market_context
from alphaforge.core.errors import ConfigError, DataError
from alphaforge.core.types import AssetClass, Instrument
from alphaforge.execution.simulated import FillPrice
from alphaforge.strategies.base import MarketFrames

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Columns the fills table must have (the ledger's fills).
FILL_COLUMNS = ("time", "client_id", "execution_id", "symbol", "quantity", "price", "commission")
#: Columns the decisions table must have (the ledger's audit row of each order's decision).
DECISION_COLUMNS = ("time", "client_id", "symbol", "price", "quantity")
#: Fewest usable fills behind a fitted parameter or a verdict.
MIN_FILLS = 20
#: Name of the summary's row over every symbol.
OVERALL = "ALL"

_BPS = 1e4


# --- the table --------------------------------------------------------------------------------


def execution_quality(
    fills: pd.DataFrame,
    decisions: pd.DataFrame,
    bars: Mapping[str, pd.DataFrame],
    cost_model: CostSchedule,
    *,
    instruments: Mapping[str, Instrument],
    fill_price: FillPrice = "next_open",
) -> pd.DataFrame:
    """Return one row per live fill: its prices, delay, realised and predicted costs.

    Parameters
    ----------
    fills
        The ledger's fills, one row per execution: ``time`` (when it filled, tz-aware),
        ``client_id`` (the order's client order id), ``execution_id`` (the venue's id of the
        execution), ``symbol``, ``quantity`` (signed units, > 0 bought), ``price`` (quote
        currency per unit) and ``commission`` (what the venue billed, quote currency, >= 0);
        money may be ``Decimal`` (as the ledger keeps it): it is measured as float64.
        An optional boolean ``maker`` says which fills added liquidity (default: none did,
        as for market orders).
    decisions
        One row per order decided, as the ledger's audit rows: ``time`` (when the order was
        decided, tz-aware: at or after the close of the bar it was decided on), ``client_id``,
        ``symbol``, ``price`` (the decision price: the close of that bar, quote currency) and
        ``quantity`` (signed units ordered). An optional ``arrival_price`` is the venue's
        quote (or the next open) when the order was sent (NaN: unknown).
    bars
        Each symbol's bars (canonical OHLCV indexed by UTC bar open times), covering the
        fills and the 20 sessions before them that the cost models' volatility and volume
        read (``backtest.runner.market_context``, as the backtest computes them).
    cost_model
        The backtest's cost schedule (``CostSchedule.from_config(config.backtest)``).
    instruments
        Each traded symbol's instrument: its asset class picks its cost models.
    fill_price
        Where the backtest fills a market order on its bar (``backtest.fill_price``):
        ``next_open``, ``close`` or ``vwap_proxy``.

    Returns
    -------
    pandas.DataFrame
        The fills' own columns and ``decision_time``, ``decision_price``, ``arrival_price``;
        ``bar_time`` (open time of the bar the fill happened in: the last bar opening at or
        before it, within one bar length), ``model_price`` (where the backtest fills on that
        bar), ``notional`` (``|quantity| x model_price``); ``delay_s`` (fill time minus
        decision time, seconds); ``slippage_bps`` and ``arrival_slippage_bps`` (the fill
        price against the decision and arrival prices, bps, > 0 a cost); ``slippage_cost``
        (``quantity x (price - model_price)``), ``realised_cost`` (that plus commission) and
        ``predicted_cost`` (the schedule's charge for the same quantity at ``model_price`` on
        the same bar), quote currency, each also in bps of ``notional`` (``realised_bps``,
        ``predicted_bps``) and ``excess_bps`` (realised minus predicted); the cost models'
        inputs (``sigma_daily``, ``adv``, ``half_spread``, ``maker``) and each component's
        prediction (``predicted_<name>``). ``skipped`` is empty for a measured fill and
        otherwise says why the fill was left out (its measures are NaN): a zero or missing
        quantity, no decision with its client id, no bar at its time, ...

    Raises
    ------
    DataError
        A table lacks a column, holds naive times, or two decisions share a client id.
    ConfigError
        A fill's symbol has no instrument, or ``fill_price`` is unknown.
    """
    _require_columns(fills, FILL_COLUMNS, "fills")
    _require_columns(decisions, DECISION_COLUMNS, "decisions")
    if fill_price not in ("next_open", "close", "vwap_proxy"):
        raise ConfigError(
            f"Unknown fill price {fill_price!r}.", hint="Use next_open, close or vwap_proxy."
        )
    table = _joined(fills, decisions)
    skipped = _row_problems(table)
    _locate_bars(table, bars, skipped, fill_price)
    table["skipped"] = skipped
    ok = (skipped == "").to_numpy()
    q = table["quantity"].to_numpy(np.float64)
    price = table["price"].to_numpy(np.float64)
    side = np.sign(q)
    decision = table["decision_price"].to_numpy(np.float64)
    arrival = table["arrival_price"].to_numpy(np.float64)
    model = table["model_price"].to_numpy(np.float64)
    notional = np.abs(q) * model
    slippage_cost = q * (price - model)
    realised = slippage_cost + table["commission"].to_numpy(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        measures = {
            "notional": notional,
            "delay_s": (table["time"] - table["decision_time"]).dt.total_seconds().to_numpy(),
            "slippage_bps": side * (price - decision) / decision * _BPS,
            "arrival_slippage_bps": side * (price - arrival) / arrival * _BPS,
            "slippage_cost": slippage_cost,
            "realised_cost": realised,
            "realised_bps": realised / notional * _BPS,
        }
    for name, values in measures.items():
        table[name] = np.where(ok, values, np.nan)
    _predict(table, bars, cost_model, instruments, ok)
    return table[_column_order(table)]


def _require_columns(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"The {what} table lacks column(s) {', '.join(missing)}.",
            hint=f"Give the {what} as the ledger writes them: {', '.join(columns)}.",
        )


def _utc(values: pd.Series, what: str) -> pd.Series:
    """Return ``values`` as UTC timestamps; naive times are refused (their zone is unknown)."""
    times = pd.to_datetime(values)
    if times.dt.tz is None:
        raise DataError(
            f"The {what} times have no time zone.",
            hint="Give timezone-aware times (the ledger stores UTC): tz_localize('UTC').",
        )
    return times.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")


def _joined(fills: pd.DataFrame, decisions: pd.DataFrame) -> pd.DataFrame:
    """Return the fills with their decision's time, price, quantity, symbol and arrival."""
    duplicated = decisions["client_id"].duplicated()
    if duplicated.any():
        first = decisions.loc[duplicated, "client_id"].iloc[0]
        raise DataError(
            f"Two decisions share the client id {first!r}.",
            hint="Each order's client id is decided once: pass one audit row per order.",
        )
    table = fills.reset_index(drop=True).copy()
    table["time"] = _utc(table["time"], "fills")
    for name in ("quantity", "price", "commission"):
        table[name] = pd.to_numeric(table[name], errors="coerce").astype(np.float64)
    table["maker"] = (
        table["maker"].astype("boolean").fillna(False).astype(bool)
        if "maker" in table.columns
        else False
    )
    arrival = decisions["arrival_price"] if "arrival_price" in decisions.columns else np.nan
    right = pd.DataFrame(
        {
            "client_id": decisions["client_id"].to_numpy(),
            "decision_time": _utc(decisions["time"], "decisions").to_numpy(),
            "decision_symbol": decisions["symbol"].to_numpy(),
            "decision_price": pd.to_numeric(decisions["price"], errors="coerce").to_numpy(),
            "decision_quantity": pd.to_numeric(decisions["quantity"], errors="coerce").to_numpy(),
            "arrival_price": pd.to_numeric(pd.Series(arrival, index=decisions.index)).to_numpy(
                np.float64
            ),
        }
    )
    right["decision_time"] = pd.to_datetime(right["decision_time"], utc=True)
    return table.merge(right, on="client_id", how="left", validate="many_to_one")


def _row_problems(table: pd.DataFrame) -> pd.Series:
    """Return why each fill cannot be measured ("" where it can); the first reason wins."""
    q = table["quantity"].to_numpy(np.float64)
    price = table["price"].to_numpy(np.float64)
    decision = table["decision_price"].to_numpy(np.float64)
    decision_q = table["decision_quantity"].to_numpy(np.float64)
    has_decision = table["decision_time"].notna().to_numpy()
    rules: list[tuple[BoolArray, str]] = [
        (~np.isfinite(q), "quantity is missing"),
        (q == 0, "zero quantity"),
        (~(np.isfinite(price) & (price > 0)), "fill price is not a positive number"),
        (~np.isfinite(table["commission"].to_numpy(np.float64)), "commission is missing"),
        (table["execution_id"].duplicated().to_numpy(), "execution id seen before"),
        (~has_decision, "no decision with this client id"),
        (
            (table["decision_symbol"] != table["symbol"]).to_numpy(),
            "symbol differs from its decision's",
        ),
        (~(np.isfinite(decision) & (decision > 0)), "decision price is not a positive number"),
        (~np.isfinite(decision_q), "decision quantity is missing"),
        (np.sign(q) != np.sign(decision_q), "side differs from its decision's"),
        (
            (table["time"] < table["decision_time"]).to_numpy(),
            "filled before its decision",
        ),
    ]
    reasons = np.full(len(table), "", dtype=object)
    for bad, reason in rules:
        reasons = np.where((reasons == "") & bad, reason, reasons)
    return pd.Series(reasons, index=table.index, dtype=object)


def _locate_bars(
    table: pd.DataFrame,
    bars: Mapping[str, pd.DataFrame],
    skipped: pd.Series,
    fill_price: FillPrice,
) -> None:
    """Set each fill's ``bar_time`` and ``model_price``; note the fills without a bar."""
    table["bar_time"] = pd.Series(pd.NaT, index=table.index, dtype="datetime64[ns, UTC]")
    table["model_price"] = np.nan
    for symbol, rows in table.groupby("symbol", sort=False).groups.items():
        frame = bars.get(str(symbol))
        pick = rows[(skipped.loc[rows] == "").to_numpy()]
        if frame is None or frame.empty:
            skipped.loc[pick] = f"no bars of {symbol}"
            continue
        own = _own_bars(frame)
        labels = pd.DatetimeIndex(own.index).as_unit("ns").asi8
        times = pd.DatetimeIndex(table.loc[pick, "time"]).as_unit("ns").asi8
        at = np.searchsorted(labels, times, side="right") - 1
        length = np.median(np.diff(labels)) if len(labels) > 1 else np.inf
        inside = (at >= 0) & (times < labels[np.maximum(at, 0)] + length)
        skipped.loc[pick[~inside]] = f"no bar of {symbol} at the fill time"
        found = pick[inside]
        bar = own.iloc[at[inside]]
        table.loc[found, "bar_time"] = bar.index
        table.loc[found, "model_price"] = _fill_prices(bar, fill_price)
        priced = np.isfinite(table.loc[found, "model_price"].to_numpy(np.float64))
        skipped.loc[found[~priced]] = "no price on the fill's bar"


def _own_bars(frame: pd.DataFrame) -> pd.DataFrame:
    """Return the rows of ``frame`` that are bars (open and close known), sorted by time."""
    _require_columns(frame, ("open", "high", "low", "close", "volume"), "bars")
    index = pd.DatetimeIndex(frame.index)
    if index.tz is None:
        raise DataError(
            "Bars are indexed by naive times.", hint="Index bars by UTC bar open times."
        )
    out = frame.set_axis(index.tz_convert("UTC").as_unit("ns")).sort_index()
    keep = np.isfinite(out["open"].to_numpy(np.float64)) & np.isfinite(
        out["close"].to_numpy(np.float64)
    )
    return pd.DataFrame(out[keep])


def _fill_prices(bar: pd.DataFrame, fill_price: FillPrice) -> FloatArray:
    """Return where the backtest fills a market order on each of ``bar``'s rows."""
    if fill_price == "next_open":
        return bar["open"].to_numpy(np.float64)
    if fill_price == "close":
        return bar["close"].to_numpy(np.float64)
    return ((bar["high"] + bar["low"] + bar["close"]) / 3.0).to_numpy(np.float64)


def _predict(
    table: pd.DataFrame,
    bars: Mapping[str, pd.DataFrame],
    schedule: CostSchedule,
    instruments: Mapping[str, Instrument],
    ok: BoolArray,
) -> None:
    """Set the cost inputs and the schedule's prediction of each measured fill (in place)."""
    ok = ok & (table["skipped"] == "").to_numpy()
    symbols = sorted({str(s) for s in table.loc[ok, "symbol"]})
    classes = {s: _asset_class(instruments, s) for s in symbols}
    components = schedule.components(classes.values()) if symbols else []
    for name in ("sigma_daily", "adv", "half_spread", "predicted_cost"):
        table[name] = np.nan
    for name in components:
        table[f"predicted_{name}"] = np.where(ok, 0.0, np.nan)
    if not symbols:
        table["predicted_bps"] = np.nan
        table["excess_bps"] = np.nan
        return
    market = MarketFrames.from_bars(
        {s: _own_bars(bars[s]) for s in symbols}, {s: instruments[s] for s in symbols}
    )
    # Spreads are estimated whatever the schedule (the engine skips them without a
    # half_spread model, which then reads none): fit_costs("half_spread") needs them.
    context = market_context(market, spreads=True)
    rows = np.flatnonzero(ok)
    at = market.index.get_indexer(pd.DatetimeIndex(table["bar_time"].iloc[rows]))
    col = market.close.columns.get_indexer(pd.Index(table["symbol"].iloc[rows]))
    for name in ("sigma_daily", "adv", "half_spread"):
        table.loc[table.index[rows], name] = context[name].to_numpy(np.float64)[at, col]
    predicted = np.zeros(len(rows))
    for asset in sorted(set(classes.values())):
        mine = np.array([classes[str(s)] is asset for s in table["symbol"].iloc[rows]], bool)
        part = table.iloc[rows[mine]]
        batch = TradeBatch(
            price=part["model_price"].to_numpy(np.float64),
            quantity=part["quantity"].to_numpy(np.float64),
            symbols=tuple(str(s) for s in part["symbol"]),
            sigma_daily=part["sigma_daily"].to_numpy(np.float64),
            adv=part["adv"].to_numpy(np.float64),
            half_spread=part["half_spread"].to_numpy(np.float64),
            maker=part["maker"].to_numpy(np.bool_),
        )
        for name, amounts in schedule.trade_costs(asset, batch).items():
            table.loc[part.index, f"predicted_{name}"] = amounts
            predicted[mine] += amounts
    table.loc[table.index[rows], "predicted_cost"] = predicted
    notional = table["notional"].to_numpy(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        table["predicted_bps"] = table["predicted_cost"].to_numpy(np.float64) / notional * _BPS
    table["excess_bps"] = table["realised_bps"] - table["predicted_bps"]


def _asset_class(instruments: Mapping[str, Instrument], symbol: str) -> AssetClass:
    instrument = instruments.get(symbol)
    if instrument is None:
        raise ConfigError(
            f"No instrument for {symbol!r}: its asset class picks its cost models.",
            hint="Pass every traded symbol's instrument (the bar store's BarStore.instrument).",
        )
    return instrument.asset_class


def _column_order(table: pd.DataFrame) -> list[str]:
    first = [
        *FILL_COLUMNS,
        "maker",
        "decision_time",
        "decision_price",
        "decision_quantity",
        "arrival_price",
        "bar_time",
        "model_price",
        "notional",
        "delay_s",
        "slippage_bps",
        "arrival_slippage_bps",
        "slippage_cost",
        "realised_cost",
        "realised_bps",
        "predicted_cost",
        "predicted_bps",
        "excess_bps",
        "sigma_daily",
        "adv",
        "half_spread",
    ]
    components = sorted(c for c in table.columns if c.startswith("predicted_") and c not in first)
    return [*first, *components, "skipped"]


# --- the summary ------------------------------------------------------------------------------


def summarize_quality(
    table: pd.DataFrame, *, tolerance_bps: float = 2.0, min_fills: int = MIN_FILLS
) -> pd.DataFrame:
    """Return per symbol, then over all symbols (``symbol == "ALL"``), how fills fared.

    Parameters
    ----------
    table
        :func:`execution_quality`'s table.
    tolerance_bps
        How far the mean realised cost may exceed the mean predicted one (bps of notional)
        before the backtest's costs count as optimistic (and fall below it before they count
        as conservative).
    min_fills
        Fewest measured fills behind a verdict.

    Returns
    -------
    pandas.DataFrame
        One row per symbol and the ``ALL`` row: ``fills`` (measured), ``skipped``;
        ``slippage_bps_mean``, ``slippage_bps_median``, ``slippage_bps_p90`` (against the
        decision price); ``realised_bps_mean`` and ``predicted_bps_mean`` (against the
        backtest's fill price, commission included), ``excess_bps_mean`` and
        ``excess_bps_median`` (realised minus predicted), ``above`` (fills whose excess is
        over the tolerance), ``delay_s_mean`` (seconds from decision to fill); ``verdict``:
        ``optimistic`` (the mean excess is over the tolerance: the backtest charged too
        little), ``conservative`` (under minus the tolerance), ``in line``, or ``too few
        fills`` (fewer than ``min_fills``).
    """
    if not (math.isfinite(tolerance_bps) and tolerance_bps >= 0):
        raise ConfigError(
            f"tolerance_bps must be a number >= 0, got {tolerance_bps}.",
            hint="Write 2 bps as tolerance_bps=2.0.",
        )
    measured = table["skipped"] == ""
    groups = [(str(s), table["symbol"] == s) for s in sorted(table["symbol"].astype(str).unique())]
    groups.append((OVERALL, pd.Series(True, index=table.index)))
    rows = []
    for symbol, pick in groups:
        used = table[pick & measured]
        rows.append(
            {
                "symbol": symbol,
                "fills": len(used),
                "skipped": int((pick & ~measured).sum()),
                **_stats(used, tolerance_bps),
                "verdict": _verdict(used, tolerance_bps, min_fills),
            }
        )
    return pd.DataFrame(rows)


def _stats(used: pd.DataFrame, tolerance_bps: float) -> dict[str, float]:
    def agg(column: str, how: str) -> float:
        values = used[column].to_numpy(np.float64)
        values = values[np.isfinite(values)]
        if values.size == 0:
            return math.nan
        if how == "p90":
            return float(np.quantile(values, 0.9))
        return float(np.mean(values) if how == "mean" else np.median(values))

    return {
        "slippage_bps_mean": agg("slippage_bps", "mean"),
        "slippage_bps_median": agg("slippage_bps", "median"),
        "slippage_bps_p90": agg("slippage_bps", "p90"),
        "realised_bps_mean": agg("realised_bps", "mean"),
        "predicted_bps_mean": agg("predicted_bps", "mean"),
        "excess_bps_mean": agg("excess_bps", "mean"),
        "excess_bps_median": agg("excess_bps", "median"),
        "above": int((used["excess_bps"] > tolerance_bps).sum()),
        "delay_s_mean": agg("delay_s", "mean"),
    }


def _verdict(used: pd.DataFrame, tolerance_bps: float, min_fills: int) -> str:
    if len(used) < min_fills:
        return "too few fills"
    excess = float(used["excess_bps"].mean())
    if excess > tolerance_bps:
        return "optimistic"
    if excess < -tolerance_bps:
        return "conservative"
    return "in line"


# --- the figure -------------------------------------------------------------------------------


def quality_figure(table: pd.DataFrame) -> go.Figure:
    """Return realised against predicted costs (bps, one point per fill, the 45-degree line
    where they agree) beside a histogram of the delays from decision to fill (seconds)."""
    used = table[table["skipped"] == ""]
    figure = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=("realised vs predicted cost (bps)", "delay from decision to fill (s)"),
    )
    for k, symbol in enumerate(sorted(used["symbol"].astype(str).unique())):
        mine = used[used["symbol"] == symbol]
        figure.add_trace(
            go.Scatter(
                x=mine["predicted_bps"].to_numpy(np.float64),
                y=mine["realised_bps"].to_numpy(np.float64),
                mode="markers",
                name=symbol,
                marker={"color": PALETTE[k % len(PALETTE)], "size": 7, "opacity": 0.8},
                customdata=mine[["execution_id", "delay_s"]].to_numpy(),
                hovertemplate=(
                    "predicted %{x:.2f} bps<br>realised %{y:.2f} bps<br>"
                    "execution %{customdata[0]}<br>delay %{customdata[1]:.1f} s"
                ),
            ),
            row=1,
            col=1,
        )
    values = used[["predicted_bps", "realised_bps"]].to_numpy(np.float64)
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    figure.add_trace(
        go.Scatter(
            x=[low, high],
            y=[low, high],
            mode="lines",
            name="realised = predicted",
            line={"color": BENCHMARK_COLOR, "dash": "dash"},
        ),
        row=1,
        col=1,
    )
    figure.add_trace(
        go.Histogram(
            x=used["delay_s"].to_numpy(np.float64),
            name="delay",
            marker={"color": PALETTE[0]},
            showlegend=False,
        ),
        row=1,
        col=2,
    )
    figure.update_xaxes(title="predicted (bps)", row=1, col=1)
    figure.update_yaxes(title="realised (bps)", row=1, col=1)
    figure.update_xaxes(title="delay (s)", row=1, col=2)
    figure.update_yaxes(title="fills", row=1, col=2)
    return style_figure(figure, height=420)


__all__ = [
    "DECISION_COLUMNS",
    "FILL_COLUMNS",
    "MIN_FILLS",
    "OVERALL",
    "execution_quality",
    "quality_figure",
    "summarize_quality",
]
