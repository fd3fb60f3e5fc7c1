"""Execution: the broker protocol, the simulated broker and the order state machine."""

from alphaforge.execution.broker import AccountSnapshot, Broker
from alphaforge.execution.orders import TRANSITIONS, IllegalTransitionError, OrderManager
from alphaforge.execution.simulated import BarView, FillCoster, FillPrice, SimulatedBroker

__all__ = [
    "TRANSITIONS",
    "AccountSnapshot",
    "BarView",
    "Broker",
    "FillCoster",
    "FillPrice",
    "IllegalTransitionError",
    "OrderManager",
    "SimulatedBroker",
]
