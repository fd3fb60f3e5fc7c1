"""A tiny desk for the breaker tests: a two-stock book and a RiskManager over given breakers."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest

from alphaforge.core.orders import OrderIntent
from alphaforge.core.types import AssetClass, Instrument
from alphaforge.portfolio.book import Book, Universe
from alphaforge.risk.base import BasicRiskManager
from alphaforge.risk.manager import Review, RiskManager
from alphaforge.risk.pieces import Breaker, RiskEvent

INSTRUMENTS = [Instrument("AAA", AssetClass.STOCK), Instrument("BBB", AssetClass.STOCK)]
UNIVERSE = Universe.of(INSTRUMENTS)


class Desk:
    """Builds managers, books and events; asks for opening and reducing orders."""

    @staticmethod
    def utc(text: str) -> pd.Timestamp:
        """Return ``text`` as a UTC time."""
        return pd.Timestamp(text, tz="UTC")

    def mark(self, time: str, equity: float) -> RiskEvent:
        """Return an equity mark at ``time`` (UTC)."""
        return RiskEvent("mark", self.utc(time), equity=equity)

    def reset(self, time: str, target: str, reason: str = "reviewed") -> RiskEvent:
        """Return a manual reset of ``target`` at ``time``."""
        return RiskEvent("reset", self.utc(time), target=target, reason=reason)

    def manager(self, *breakers: Breaker) -> RiskManager:
        base = BasicRiskManager({i.symbol: i for i in INSTRUMENTS}, 4.0)
        return RiskManager(base, breakers=breakers)

    def book(self, time: pd.Timestamp, units: Sequence[float] = (100.0, 0.0)) -> Book:
        return Book(UNIVERSE, time, 100_000.0, np.array(units, np.float64), np.array([100.0, 50.0]))

    def ask(self, manager: RiskManager, time: pd.Timestamp) -> tuple[Review, Review, Review]:
        """Review, holding 100 AAA: buy 10 BBB (opens), sell 40 AAA (reduces), buy 10 AAA (adds)."""
        opening, reducing = manager.review(
            [OrderIntent("BBB", 10.0), OrderIntent("AAA", -40.0)], self.book(time)
        )
        (adding,) = manager.review([OrderIntent("AAA", 10.0)], self.book(time))
        return opening, reducing, adding

    def blocked(self, manager: RiskManager, time: pd.Timestamp) -> bool:
        """Return True when opening orders are refused and reducing ones pass unchanged."""
        opening, reducing, adding = self.ask(manager, time)
        assert reducing.action == "approve" and reducing.approved is not None
        assert reducing.approved.quantity == -40.0
        assert (opening.action == "refuse") == (adding.action == "refuse")
        return opening.action == "refuse"


@pytest.fixture
def desk() -> Desk:
    return Desk()
