"""Parity: a dry run replayed on recorded bars places the backtest's orders and gets its fills.

The backtest (:func:`~alphaforge.backtest.runner.run_strategy_backtest`) runs over the whole
recording; :func:`~alphaforge.live.replay.replay_dry_run` replays its last bars (the last
trading day of an hourly recording; the last 40 to 60 sessions of daily ones) through the
live node (intake, trailing-window decisions, sizing against the venue's book, risk checks,
order gateway, ledger) with the dry-run venue, from the book the backtest held at the close
before. Both must give the same orders (time, symbol, signed units), the same fills (time,
symbol, units, price, cost), the same resizes by the risk checks, and end with the same
positions and cash.

The settings avoid what the live path does not do as the engine does (listed in
``alphaforge/live/replay.py``): the symbols share one calendar; stop entries are off; the
cost schedule has no holding cost (borrow), which the venue does not charge; orders stay
under the engine's participation cap (checked: every engine order fills whole on its bar),
which the venue does not apply; ``top_k`` rebalances every bar, since a schedule of every
n-th bar is counted from the first bar of the window a constructor sees.

The ``spec-preset`` case runs the default risk preset (SPEC: Kelly, liquidity, position,
sector, heat and leverage limits, a 2 x ATR stop on every opening order, the daily loss
breaker): limits trim targets, every opening order carries a stop leg, and some stops fire.
Its window (``live.warmup_bars``) holds the whole recording, so the inputs with unbounded
memory (Wilder's ATR) equal the engine's to the last bit; the replay starts with the stops
the engine had working.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from alphaforge.backtest.outputs import EngineRun
from alphaforge.backtest.runner import run_strategy_backtest
from alphaforge.config import AppConfig
from alphaforge.core.orders import OrderIntent
from alphaforge.core.types import AssetClass, Instrument, Interval
from alphaforge.data.synthetic import SyntheticSpec, generate_market
from alphaforge.live.replay import ReplayResult, StartingBook, replay_dry_run
from alphaforge.strategies.base import MarketFrames
from alphaforge.strategies.combined import create_strategy

#: US equity costs at their defaults, without borrow (a holding cost): commission per share
#: with its minimum per order, regulatory fees on sales, half the estimated spread and
#: square-root impact from the bars' volatility and volume.
STOCK_COSTS = [
    {"name": name} for name in ("per_share", "sec_fee", "finra_taf", "half_spread", "sqrt_impact")
]
RTOL = 1e-12


@dataclass(frozen=True)
class Case:
    """One parity scenario: the recording, the settings and how many bars are replayed
    (None: the last trading day's bars)."""

    interval: Interval
    start: date
    end: date
    settings: dict[str, Any]
    replayed: int | None  # None: the last day of hourly bars; 0: from the first order on
    min_orders: int
    min_resizes: int = 0
    min_stop_fills: int = 0
    min_forced: int = 0


CASES = {
    # The last trading day of an hourly recording: momentum ranks rebalanced every bar, so
    # every name trades on every bar (fractional units: each size is compared to the float).
    "hourly-day-top-k": Case(
        Interval.H1,
        date(2015, 10, 1),
        date(2015, 11, 30),
        {
            "data": {"interval": "1h"},
            "strategy": {"name": "momentum", "params": {"period": 10}},
            "portfolio": {
                "constructor": "top_k",
                "top_k": 1,
                "rebalance_every": 1,
                "units": "fractional",
            },
            "backtest": {"costs": {"stock": STOCK_COSTS}},
        },
        replayed=None,
        min_orders=12,
    ),
    # Forty daily sessions of a long/short moving-average crossover in whole units.
    "daily-crossover": Case(
        Interval.D1,
        date(2015, 1, 1),
        date(2015, 12, 31),
        {
            "strategy": {"name": "ma_crossover", "params": {"fast": 5, "slow": 15}},
            "portfolio": {"constructor": "target_weights", "units": "whole"},
            "backtest": {"costs": {"stock": STOCK_COSTS}},
        },
        replayed=40,
        min_orders=8,
    ),
    # All-in sizing in whole units: the order's cost (commission with its minimum, fees,
    # spread, impact) comes off the budget before sizing, as the engine prices it.
    "daily-all-in": Case(
        Interval.D1,
        date(2015, 1, 1),
        date(2015, 12, 31),
        {
            "strategy": {"name": "momentum"},
            "portfolio": {
                "constructor": "top_k",
                "top_k": 1,
                "long_short": False,
                "rebalance_every": 1,
                "sizing": "all_in",
                "units": "whole",
            },
            "backtest": {"costs": {"stock": STOCK_COSTS}},
        },
        replayed=40,
        min_orders=5,
    ),
    # Twice the equity asked for, once allowed: buying power resizes orders on both paths.
    "daily-buying-power": Case(
        Interval.D1,
        date(2015, 1, 1),
        date(2015, 12, 31),
        {
            "strategy": {"name": "ma_crossover", "params": {"fast": 5, "slow": 15}},
            "portfolio": {"constructor": "target_weights", "gross_exposure": 2.0, "units": "whole"},
            "backtest": {"max_leverage": 1.0, "costs": {"stock": STOCK_COSTS}},
        },
        replayed=60,
        min_orders=8,
        min_resizes=2,
    ),
    # A time stop closes positions held five sessions, before the bar's targets. Replayed
    # from the engine's first order: the ledger knows when each position opened.
    "daily-time-stop": Case(
        Interval.D1,
        date(2015, 8, 1),
        date(2015, 12, 31),
        {
            "strategy": {"name": "ma_crossover", "params": {"fast": 5, "slow": 15}},
            "portfolio": {"constructor": "target_weights", "units": "whole"},
            "risk": {"preset": "none", "stops": [{"name": "time_stop", "params": {"max_bars": 5}}]},
            "backtest": {"costs": {"stock": STOCK_COSTS}},
        },
        replayed=0,
        min_orders=8,
        min_forced=4,
    ),
    # The default risk preset (``spec``) on a long/short crossover in whole units.
    "daily-spec-preset": Case(
        Interval.D1,
        date(2015, 1, 1),
        date(2015, 12, 31),
        {
            "strategy": {"name": "ma_crossover", "params": {"fast": 5, "slow": 15}},
            "portfolio": {"constructor": "target_weights", "units": "whole"},
            "risk": {"preset": "spec"},
            "live": {"warmup_bars": 400},
            "backtest": {"costs": {"stock": STOCK_COSTS}},
        },
        replayed=60,
        min_orders=20,
        min_resizes=20,
        min_stop_fills=2,
    ),
}
#: What a risk decision is compared by (the engine's audit row, the node's refusal row).
RISK_COLUMNS = ["time", "symbol", "action", "rule", "before", "after"]


def _config(case: Case) -> AppConfig:
    base: dict[str, Any] = {"risk": {"preset": "none"}}
    return AppConfig.model_validate({**base, **case.settings})


def _bars(case: Case) -> tuple[dict[str, pd.DataFrame], dict[str, Instrument]]:
    spec = SyntheticSpec(
        n_symbols=4,
        n_sectors=2,
        start=case.start,
        end=case.end,
        interval=case.interval,
        asset_class=AssetClass.STOCK,
    )
    market = generate_market(spec, seed=11)
    return market.bars, market.instruments


def _engine_book(run: EngineRun, symbols: list[str], before: int) -> StartingBook:
    """Return the backtest's book at the close of bar ``before``, with the stops working
    then (what of each is left to fill)."""
    held = run.held[before]
    positions = {s: float(q) for s, q in zip(symbols, held.tolist(), strict=True) if q != 0}
    times = run.equity["timestamp"]
    orders = run.orders
    working = orders[
        (orders["type"] == "stop")
        & (orders["created_at"] <= times.iloc[before])
        & (
            (orders["updated_at"] >= times.iloc[before + 1])
            | orders["status"].isin(["accepted", "partially_filled"])
        )
    ]
    stops = [
        OrderIntent(
            str(row.symbol),
            float(row.quantity - row.filled_quantity),
            "stop",
            stop_price=float(row.stop_price),
            reduce_only=True,
            reason="stop",
        )
        for row in working.itertuples()
    ]
    return StartingBook(float(run.equity["cash"].iloc[before]), positions, stops)


def _engine_orders(run: EngineRun, start: pd.Timestamp) -> pd.DataFrame:
    orders = run.orders[run.orders["created_at"] >= start]
    frame = orders.rename(columns={"created_at": "time"})
    return _sorted(frame[["time", "symbol", "quantity", "status", "filled_quantity"]])


def _engine_fills(run: EngineRun, start: pd.Timestamp) -> pd.DataFrame:
    fills = run.fills[run.fills["timestamp"] >= start]
    frame = fills.rename(columns={"timestamp": "time", "costs": "cost"})
    return _sorted(frame[["time", "symbol", "quantity", "price", "cost"]])


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.sort_values(["time", "symbol"], kind="stable").reset_index(drop=True)
    out["time"] = pd.to_datetime(out["time"], utc=True).astype("datetime64[ns, UTC]")
    out["symbol"] = out["symbol"].astype(object)
    for column in out.columns.drop(["time", "symbol"]):
        text = column in ("action", "rule", "status")
        out[column] = out[column].astype(object if text else "float64")
    return out


def _replay(
    case: Case, tmp_path: Path
) -> tuple[EngineRun, ReplayResult, pd.Timestamp, list[str], StartingBook]:
    config = _config(case)
    bars, instruments = _bars(case)
    market = MarketFrames.from_bars(bars, instruments, None, None, config.data.interval)
    run = run_strategy_backtest(
        market, create_strategy(config.strategy), config, strategy_tag=config.strategy.tag
    )
    if case.replayed is None:
        days = market.index.normalize()
        first = int(np.flatnonzero(days == days[-1])[0])
        assert len(market.index) - first >= 6, "a full session of hourly bars"
    elif case.replayed == 0:
        first = int(market.index.get_indexer([run.orders["created_at"].min()])[0])
    else:
        first = len(market.index) - case.replayed
    start = market.index[first]
    book = _engine_book(run, market.symbols, first - 1)
    replay = replay_dry_run(
        bars,
        instruments,
        config,
        start=start,
        ledger_url=f"sqlite:///{tmp_path / 'replay.sqlite'}",
        book=book,
    )
    return run, replay, start, market.symbols, book


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_replayed_dry_run_gives_the_backtests_orders_and_fills(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    run, replay, start, symbols, book = _replay(case, tmp_path)

    # The settings keep out what only the engine does (see the module docstring).
    replayed_orders = run.orders[run.orders["created_at"] >= start]
    signal = replayed_orders[replayed_orders["reason"] == "signal"]
    assert (replayed_orders["reason"] == "time_stop stop").sum() >= case.min_forced
    assert len(replayed_orders) >= case.min_orders
    assert (replayed_orders["type"].isin(["market", "stop"])).all()
    assert (signal["type"] == "market").all()
    assert (signal["status"] == "filled").all()
    assert np.allclose(signal["filled_quantity"], signal["quantity"], rtol=0)
    stops = replayed_orders[replayed_orders["type"] == "stop"]
    assert (stops["filled_quantity"] != 0).sum() >= case.min_stop_fills
    assert all(r.outcome == "accepted" for r in replay.intake), "every recorded bar accepted"
    assert bool(book.positions) == (case.replayed != 0), "a held book unless from the start"

    # Every order, a bracket's stop leg included, with its final status and filled units.
    engine_orders = _engine_orders(run, start)
    live_orders = _sorted(
        replay.orders[["time", "symbol", "quantity", "status", "filled_quantity"]]
    )
    pd.testing.assert_frame_equal(live_orders, engine_orders, check_exact=False, rtol=RTOL)

    engine_fills = _engine_fills(run, start)
    live_fills = _sorted(replay.fills[["time", "symbol", "quantity", "price", "cost"]])
    assert (engine_fills["cost"] > 0).all(), "every fill pays the cost schedule"
    pd.testing.assert_frame_equal(live_fills, engine_fills, check_exact=False, rtol=RTOL)

    engine_risk = _sorted(run.audit.loc[run.audit["time"] >= start, RISK_COLUMNS])
    live_risk = _sorted(pd.DataFrame(replay.refusals, columns=RISK_COLUMNS))
    assert len(engine_risk) >= case.min_resizes
    pd.testing.assert_frame_equal(live_risk, engine_risk, check_exact=False, rtol=RTOL)

    engine_end = {
        s: float(q) for s, q in zip(symbols, run.held[-1].tolist(), strict=True) if q != 0
    }
    assert replay.positions.keys() == engine_end.keys()
    for symbol, quantity in engine_end.items():
        assert replay.positions[symbol] == pytest.approx(quantity, rel=RTOL, abs=1e-9)
    # The ledger sums cash fill by fill in its database: equal to a fraction of a cent.
    assert replay.cash == pytest.approx(float(run.equity["cash"].iloc[-1]), rel=RTOL, abs=1e-6)
