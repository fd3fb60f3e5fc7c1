"""Live brokers: each module adapts one venue to :class:`~alphaforge.execution.broker.LiveBroker`.

Adding a venue is one module that defines its adapter and registers a factory in ``BROKERS``.
"""

from __future__ import annotations

from collections.abc import Callable

from alphaforge.config.models import AppConfig
from alphaforge.core.registry import Registry
from alphaforge.execution.broker import LiveBroker

#: Builds a venue's broker from the configuration (its secrets included) and the mode
#: (``paper`` or ``live``: the endpoint and the keys it expects).
BrokerFactory = Callable[[AppConfig, str], LiveBroker]

#: Every live broker, by name.
BROKERS: Registry[BrokerFactory] = Registry("broker")

__all__ = ["BROKERS", "BrokerFactory"]
