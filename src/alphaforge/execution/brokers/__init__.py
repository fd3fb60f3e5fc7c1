"""Live brokers: each module adapts one venue to :class:`~alphaforge.execution.broker.LiveBroker`.

Adding a venue is one module that defines its adapter and registers a factory in ``BROKERS``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from alphaforge.config.models import AppConfig
from alphaforge.core.registry import Registry
from alphaforge.execution.broker import LiveBroker

#: Builds a venue's broker from the configuration (its secrets included) and the mode
#: (``paper`` or ``live``: the endpoint and the keys it expects).
BrokerFactory = Callable[[AppConfig, str], LiveBroker]

#: Every live broker, by name.
BROKERS: Registry[BrokerFactory] = Registry("broker")

#: Modules that register a broker; imported on first use (alpaca-py and ccxt load slowly).
_MEMBERS = ("alpaca", "ccxt")


def load_brokers() -> None:
    """Import every broker module so that each registers itself."""
    for name in _MEMBERS:
        importlib.import_module(f"alphaforge.execution.brokers.{name}")


def create_broker(config: AppConfig, mode: str) -> LiveBroker:
    """Return the broker ``execution.broker`` names, for ``paper`` or ``live``."""
    load_brokers()
    return BROKERS.get(config.execution.broker)(config, mode)


__all__ = ["BROKERS", "BrokerFactory", "create_broker", "load_brokers"]
