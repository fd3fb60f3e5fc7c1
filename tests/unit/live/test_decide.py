"""``orders_for_targets`` sizes as the engine does and its risk rows fit the ledger."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from alphaforge.config.models import PortfolioConfig
from alphaforge.core.clock import SimulatedClock
from alphaforge.core.types import AssetClass, Instrument
from alphaforge.live.decide import Decision, orders_for_targets
from alphaforge.risk.base import BasicRiskManager
from alphaforge.storage.ledger import Ledger

WHEN = pd.Timestamp("2024-03-01", tz="UTC")
INSTRUMENTS = {s: Instrument(s, AssetClass.STOCK) for s in ("AAA", "BBB")}


def _decision(weights: dict[str, float]) -> Decision:
    series = pd.Series(weights, dtype=float)
    nan = pd.Series(np.nan, index=series.index)
    return Decision(WHEN, series, nan, nan, series)


def test_equity_marks_a_holding_not_traded_now_at_its_last_close() -> None:
    # AAA is held and not traded: it counts at its last close (100), not at the price it
    # would trade at now (200), as the engine marks it; BBB trades at 50.
    intents, refusals = orders_for_targets(
        _decision({"AAA": np.nan, "BBB": 0.5}),
        {"AAA": 10.0},
        {"AAA": 200.0, "BBB": 50.0},
        1_000.0,
        PortfolioConfig(units="whole"),
        BasicRiskManager(INSTRUMENTS, 2.0),
        "t",
        closes={"AAA": 100.0, "BBB": 48.0},
    )
    assert refusals == []
    assert [(i.symbol, i.quantity) for i in intents] == [("BBB", 20.0)]  # 0.5 x 2000 / 50


def test_a_traded_holding_is_marked_at_its_fill_price() -> None:
    intents, _ = orders_for_targets(
        _decision({"AAA": 0.0, "BBB": 0.5}),
        {"AAA": 10.0},
        {"AAA": 200.0, "BBB": 50.0},
        1_000.0,
        PortfolioConfig(units="whole"),
        BasicRiskManager(INSTRUMENTS, 2.0),
        "t",
        closes={"AAA": 100.0, "BBB": 48.0},
    )
    assert [(i.symbol, i.quantity) for i in intents] == [("AAA", -10.0), ("BBB", 30.0)]


def test_a_resize_by_the_risk_checks_is_stored_in_the_ledger(tmp_path: Path) -> None:
    # 1.5 x equity asked, 1 x allowed: buying power cuts the order.
    intents, refusals = orders_for_targets(
        _decision({"AAA": 1.5}),
        {},
        {"AAA": 10.0},
        1_000.0,
        PortfolioConfig(units="whole"),
        BasicRiskManager(INSTRUMENTS, 1.0),
        "t",
    )
    assert [r["action"] for r in refusals] == ["resize"]
    assert intents and 0 < intents[0].quantity < 150.0
    with Ledger.open(f"sqlite:///{tmp_path / 'l.sqlite'}", clock=SimulatedClock(WHEN)) as ledger:
        ledger.add_risk_decisions([{**r, "intent_id": f"{WHEN.isoformat()}:AAA"} for r in refusals])
        stored = ledger.risk_decisions()
    assert stored["action"].tolist() == ["resize"]
    assert stored["after"].tolist() == [intents[0].quantity]


def test_all_in_sizing_pays_the_orders_cost_out_of_the_budget() -> None:
    # 1 % of notional: all in at 10 buys floor(1000 x (1 - eps) / 10.1) = 99 units, not 100.
    asked: list[tuple[str, float, float]] = []

    def one_percent(symbol: str, price: float, units: float) -> float:
        asked.append((symbol, price, units))
        return 0.01

    portfolio = PortfolioConfig(sizing="all_in", units="whole")
    intents, _ = orders_for_targets(
        _decision({"AAA": 1.0}),
        {},
        {"AAA": 10.0},
        1_000.0,
        portfolio,
        BasicRiskManager(INSTRUMENTS, 2.0),
        "t",
        cost_rate=one_percent,
    )
    assert [(i.symbol, i.quantity) for i in intents] == [("AAA", 99.0)]
    assert asked == [("AAA", 10.0, 100.0)]  # priced at about the size all-in will give


def test_risk_rows_are_stamped_with_the_time_of_the_check() -> None:
    later = WHEN + pd.Timedelta(days=1)
    _, refusals = orders_for_targets(
        _decision({"AAA": 1.5}),
        {},
        {"AAA": 10.0},
        1_000.0,
        PortfolioConfig(units="whole"),
        BasicRiskManager(INSTRUMENTS, 1.0),
        "t",
        when=later,
    )
    assert [r["time"] for r in refusals] == [later]
