"""The attribution tables of an ``alphaforge backtest`` run (``attribution/<name>.csv``) and
the sizing chain they include, from the engine's run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from alphaforge.backtest.attribution import (
    costs_by_component,
    entry_features,
    pnl_by_asset_class,
    pnl_by_component,
    pnl_by_group,
    pnl_by_regime,
    pnl_by_sector,
    pnl_by_session,
    pnl_by_strategy,
    sizing_chain,
    trade_drivers,
)
from alphaforge.backtest.engine import EngineRun
from alphaforge.core.types import Interval
from alphaforge.strategies import MarketFrames


def attribution_tables(
    engine: EngineRun,
    market: MarketFrames,
    bars: Mapping[str, pd.DataFrame],
    interval: Interval,
    contributions: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """Return the attribution tables of a run, by file name (``attribution/<name>.csv``).

    P&L by strategy, asset class, sector, regime at entry (HMM state, 50/200 trend) and
    trading session at entry; by group tag; costs by component; the sizing chain; with a
    train run's out-of-fold ``contributions`` (of the model traded), the features behind
    each trade's entry.
    """
    trades = engine.trades
    bar_length = interval.nominal
    features = entry_features(bars, market.instruments, interval=interval)
    regime_columns = [c for c in features.columns if c.startswith(("hmm_state_prob", "trend_"))]
    session_columns = [c for c in features.columns if "sess_" in c]
    tables = {
        "strategy": strategy_table(engine),
        "asset_class": pnl_by_asset_class(trades, market.instruments),
        "sector": pnl_by_sector(trades, market.instruments),
        "regime": pnl_by_regime(trades, features[regime_columns], bar_length=bar_length),
        "costs": costs_by_component(trades),
        "sizing": sizing_chain(sizing_rows(engine)),
    }
    if session_columns:
        tables["session"] = pnl_by_session(trades, features[session_columns])
    if engine.signal_groups is not None:
        tables["group"] = pnl_by_group(trades, engine.signal_groups)
    if contributions is not None and not contributions.empty:
        tables["trade_drivers"] = trade_drivers(trades, contributions, bar_length=bar_length)
    return {
        name: table.reset_index() if table.index.name else table for name, table in tables.items()
    }


def strategy_table(engine: EngineRun) -> pd.DataFrame:
    """Return P&L by strategy tag; for an aggregate, also by component (``component``
    column: ``all`` on the tag's own rows)."""
    table = pnl_by_strategy(engine.trades)
    if not engine.signal_shares:
        return table
    by_component = pnl_by_component(engine.trades, engine.signal_shares)
    tag = str(table["strategy"].iloc[0]) if len(table) else "aggregate"
    return pd.concat(
        [table.assign(component="all"), by_component.assign(strategy=tag)], ignore_index=True
    )[["strategy", "component", *[c for c in table.columns if c != "strategy"]]]


def component_pnl(strategy: pd.DataFrame) -> dict[str, float]:
    """Return an aggregate's P&L by component from its strategy table (empty without one)."""
    if "component" not in strategy.columns:
        return {}
    rows = strategy[strategy["component"] != "all"]
    return {str(c): float(v) for c, v in zip(rows["component"], rows["total_pnl"], strict=True)}


def sizing_rows(engine: EngineRun) -> pd.DataFrame:
    """Return one row per step of each signal order's sizing, valued at the fill price.

    Each order starts with the portfolio's request (weight x equity / price), then every
    sizer, risk piece and base check that changed it (the engine's sizing table). Without
    sizers or pieces the engine keeps no sizing table: the base checks' resizes and
    refusals come from ``audit.parquet``.
    """
    price_of = {
        (o["created_at"], o["symbol"]): float(o["average_price"])
        for o in engine.orders.to_dict("records")
        if o["reason"] == "signal"
    }
    rows: list[dict[str, Any]] = []
    chained: set[tuple[Any, Any]] = set()
    if not engine.sizing.empty:
        for (when, symbol), steps in engine.sizing.groupby(["timestamp", "symbol"], sort=False):
            price = price_of.get((when, symbol), np.nan)
            first = float(steps["before"].iloc[0])
            rows.append({"step": "portfolio", "before": 0.0, "after": first, "price": price})
            rows.extend(
                {"step": str(step), "before": before, "after": after, "price": price}
                for step, before, after in zip(
                    steps["step"].tolist(),
                    steps["before"].astype(float).tolist(),
                    steps["after"].astype(float).tolist(),
                    strict=True,
                )
            )
            chained.add((when, symbol))
    audited = {
        (d["time"], d["symbol"]): d
        for d in engine.audit.to_dict("records")
        if (d["time"], d["symbol"]) not in chained
    }
    for order in engine.orders.to_dict("records"):
        key = (order["created_at"], order["symbol"])
        if order["reason"] != "signal" or key in chained:
            continue
        price = float(order["average_price"])
        decision = audited.pop(key, None)
        requested = float(order["quantity"]) if decision is None else float(decision["before"])
        rows.append({"step": "portfolio", "before": 0.0, "after": requested, "price": price})
        if decision is not None:
            rows.append(
                {
                    "step": str(decision["piece"]),
                    "before": requested,
                    "after": float(order["quantity"]),
                    "price": price,
                }
            )
    for decision in audited.values():  # refused by the base checks: no order
        requested = float(decision["before"])
        rows.append({"step": "portfolio", "before": 0.0, "after": requested, "price": np.nan})
        rows.append(
            {"step": str(decision["piece"]), "before": requested, "after": 0.0, "price": np.nan}
        )
    return pd.DataFrame(rows, columns=["step", "before", "after", "price"])


__all__ = ["attribution_tables", "component_pnl", "sizing_rows", "strategy_table"]
