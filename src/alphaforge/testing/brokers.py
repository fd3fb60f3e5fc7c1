"""Harnesses for the broker contract suite: a venue, a way to move its prices, and its broker.

Each harness is a context manager exposing ``broker`` (a
:class:`~alphaforge.execution.broker.LiveBroker`), ``set_price(symbol, price)`` (the price the
next market order fills at and resting orders are checked against) and ``settle()`` (let the
venue act on what was sent: a bar for the dry-run venue, nothing for a fake that fills at
once). The suite in ``tests/contract/test_brokers.py`` runs every harness in ``HARNESSES``.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Protocol, Self, cast

import numpy as np
import pandas as pd

from alphaforge.core.clock import SimulatedClock
from alphaforge.execution.broker import LiveBroker
from alphaforge.execution.brokers.simulated import SimulatedVenue
from alphaforge.execution.simulated import BarView


class BrokerHarness(Protocol):
    """A started venue and the broker that trades it."""

    broker: LiveBroker
    #: Symbols the venue trades (the suite uses the first).
    symbols: tuple[str, ...]
    #: Quantity the suite trades (above the venue's minimums).
    unit: float

    def set_price(self, symbol: str, price: float) -> None:
        """Set the price market orders fill at and resting orders are checked against."""
        ...

    def settle(self) -> None:
        """Let the venue act on what was sent (fill, cancel) before the suite looks."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class SimulatedHarness:
    """The dry-run venue: each ``settle`` feeds one flat bar at the set prices."""

    symbols: tuple[str, ...] = ("SPY", "QQQ")
    unit = 10.0

    def __init__(self) -> None:
        self.clock = SimulatedClock(pd.Timestamp("2024-03-01 14:30", tz="UTC"))
        self.venue = SimulatedVenue(self.symbols, 100_000.0, clock=self.clock)
        self.broker: LiveBroker = self.venue
        self.prices = dict.fromkeys(self.symbols, 100.0)

    def set_price(self, symbol: str, price: float) -> None:
        """Set the next bar's price of ``symbol``."""
        self.prices[symbol] = price

    def settle(self) -> None:
        """Feed one bar (open = high = low = close = the set price) one minute later."""
        when = self.clock.now() + pd.Timedelta(minutes=1)
        self.clock.advance_to(when)
        p = np.array([self.prices[s] for s in self.symbols], dtype=float)
        bar = BarView(when, p, p, p, p, np.full(len(p), 1e9), np.ones(len(p), dtype=bool))
        self.venue.on_bar(bar)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.venue.close()


def _binance() -> BrokerHarness:
    from alphaforge.testing.binance_harness import BinanceHarness

    class Binance(BinanceHarness):
        unit = 1.0

    return cast(BrokerHarness, Binance())


def _alpaca() -> BrokerHarness:
    from alphaforge.testing.fake_alpaca import AlpacaHarness

    class Alpaca(AlpacaHarness):
        symbols: tuple[str, ...] = ("SPY", "QQQ")
        unit = 10.0

    return cast(BrokerHarness, Alpaca())


#: Every harness the contract suite runs, by broker name.
HARNESSES: dict[str, Callable[[], BrokerHarness]] = {
    "simulated": SimulatedHarness,
    "alpaca": _alpaca,
    "ccxt": _binance,
}

__all__ = ["HARNESSES", "BrokerHarness", "SimulatedHarness"]
