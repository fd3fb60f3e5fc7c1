"""A small trading process for the crash tests: the real gateway, ledger and broker, nothing else.

``python -m alphaforge.testing.crash_trader --ledger URL --cycle N --symbols A,B`` does what
the node does around its orders, without the strategy stack (whose imports would make each
of the hundreds of restarts slow): open the ledger, build the configured broker from the
environment (``ALPHAFORGE_*``: a fake venue's addresses and test keys), recover the journal's
orders, reconcile, place one market order per symbol for decision ``N`` (a deterministic
quantity: the same cycle decides the same orders), wait for their fills, reconcile again and
print one JSON line. Failpoints (``ALPHAFORGE_CRASH_AT``) kill it at the dangerous points.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import pandas as pd

from alphaforge.config import load_config
from alphaforge.core.clock import SystemClock
from alphaforge.core.orders import OrderIntent, OrderType
from alphaforge.execution.brokers import create_broker
from alphaforge.execution.gateway import OrderGateway
from alphaforge.execution.reconcile import reconcile
from alphaforge.storage.ledger import Ledger

#: Decision ``N`` is taken at this time plus ``N`` days (its client ids' key).
T0 = pd.Timestamp("2024-01-02 21:00", tz="UTC")


def intents_of(cycle: int, symbols: list[str]) -> list[OrderIntent]:
    """Return the market orders decided at ``cycle``: one per symbol, alternating sides."""
    out = []
    for k, symbol in enumerate(symbols):
        quantity = float(1 + (cycle + k) % 3) * (1 if (cycle + k) % 2 == 0 else -1)
        out.append(OrderIntent(symbol, quantity, OrderType.MARKET, strategy="crash"))
    return out


def main(argv: list[str] | None = None) -> int:
    """Run one trading cycle; print a JSON summary."""
    parser = argparse.ArgumentParser(prog="crash_trader")
    parser.add_argument("--ledger", required=True)
    parser.add_argument("--cycle", type=int, required=True)
    parser.add_argument("--symbols", required=True)
    parser.add_argument("--mode", default="paper")
    parser.add_argument("--fill-timeout", type=float, default=5.0)
    args = parser.parse_args(argv)
    config = load_config(None)
    symbols = args.symbols.split(",")
    clock = SystemClock()
    ledger = Ledger.open(args.ledger, clock=clock)
    broker = create_broker(config, args.mode)
    try:
        gateway = OrderGateway(broker, ledger, clock)
        gateway.recover()
        first = reconcile(gateway, ledger)
        decided_at = T0 + pd.Timedelta(days=args.cycle)
        for intent in intents_of(args.cycle, symbols):
            gateway.place(intent, decided_at)
        deadline = time.monotonic() + args.fill_timeout
        while time.monotonic() < deadline:
            gateway.sync_fills()
            if not gateway.open_orders():
                break
            for order in gateway.open_orders():
                if order.status.value == "unknown":
                    gateway.settle(order)
            time.sleep(0.05)
        last = reconcile(gateway, ledger)
        print(
            json.dumps(
                {
                    "cycle": args.cycle,
                    "repairs": [r.rule for r in first.repairs + last.repairs],
                    "unresolved": [r.rule for r in last.unresolved],
                    "open": [o.id for o in gateway.open_orders()],
                    "positions": ledger.positions(),
                }
            )
        )
        return 0
    finally:
        broker.close()
        ledger.close()


if __name__ == "__main__":
    sys.exit(main())
