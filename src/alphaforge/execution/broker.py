"""The broker protocol: what execution needs from any venue, simulated or real."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import pandas as pd

from alphaforge.core.orders import Order, OrderIntent


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    """Cash and equity in the account currency, and when they were read."""

    timestamp: pd.Timestamp
    cash: float
    equity: float


class Broker(Protocol):
    """Submit and cancel orders; report open orders, positions and the account."""

    def submit(self, intent: OrderIntent, when: pd.Timestamp) -> Order:
        """Send an approved intent; return the order as the broker tracks it."""
        ...

    def cancel(self, order_id: str, when: pd.Timestamp) -> None:
        """Cancel an open order (a no-op for one already done)."""
        ...

    def open_orders(self) -> list[Order]:
        """Return the orders that can still fill."""
        ...

    def positions(self) -> dict[str, float]:
        """Return signed units held per symbol (non-zero only)."""
        ...

    def account(self) -> AccountSnapshot:
        """Return cash and equity now."""
        ...


__all__ = ["AccountSnapshot", "Broker"]
