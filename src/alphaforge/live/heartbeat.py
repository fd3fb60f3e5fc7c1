"""What the node's heartbeat row says: who it is, its state, and the readings ``/metrics`` serves.

The service never imports the node; it reads the node's heartbeat row in the ledger
(:meth:`~alphaforge.storage.ledger_records.LedgerRecords.beat`, one row per node, replaced).
Besides the node's identity and state, the details carry:

- ``equity_usd``: cash plus the holdings marked at their last accepted close, as the ledger
  books them (no broker call: the heartbeat is frequent). None when a holding has no close
  or is not quoted in USD: no number is better than a wrong one.
- ``data_times``: per data source, the UTC time (ISO 8601) of the newest data the node has:
  ``live_feed`` for the live bar feed's last message (when a feed is attached) and
  ``bars:<symbol>`` for the close of the symbol's newest accepted bar (open + interval).
  A reader subtracts it from its own clock to get how stale the data are.
- ``inference_s``: per model, the seconds its last scoring took (a model strategy only).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

import pandas as pd

from alphaforge.core.types import Interval
from alphaforge.data.feeds.base import FeedStatus

if TYPE_CHECKING:
    from alphaforge.live.node import TradingNode

__all__ = ["BARS_PREFIX", "LIVE_FEED", "equity_usd", "heartbeat_details", "node_details"]

#: ``data_times`` key of the live bar feed's last message.
LIVE_FEED = "live_feed"
#: ``data_times`` key prefix of a symbol's newest accepted bar.
BARS_PREFIX = "bars:"


def node_details(node: TradingNode) -> dict[str, object]:
    """Return the heartbeat details of ``node`` as it is now (two ledger reads, no broker)."""
    latest = node.scorer.last if node.scorer is not None else None
    return heartbeat_details(
        {
            "mode": node.mode,
            "broker": node.broker.capabilities.name,
            "state": node.state.current(),
            "open_orders": len(node.gateway.open_orders()),
        },
        cash=node.ledger.cash(),
        positions=node.ledger.positions(),
        closes=node.last_closes(),
        currencies={s: i.currency for s, i in node.instruments.items()},
        bar_times={s: pd.Timestamp(b.index[-1]) for s, b in node.intake.bars.items() if len(b)},
        interval=node.interval,
        feed=node.feed() if node.feed is not None else None,
        inference_s=latest.latest.seconds if latest is not None else {},
    )


def heartbeat_details(
    identity: Mapping[str, object],
    *,
    cash: float,
    positions: Mapping[str, float],
    closes: Mapping[str, float],
    currencies: Mapping[str, str],
    bar_times: Mapping[str, pd.Timestamp],
    interval: Interval,
    feed: FeedStatus | None,
    inference_s: Mapping[str, float],
) -> dict[str, object]:
    """Return the heartbeat's details: ``identity`` plus the readings (JSON-ready values).

    Parameters
    ----------
    identity
        Who the node is and its state (``mode``, ``broker``, ``state``, ``open_orders``).
    cash
        The ledger's cash (USD for a USD account).
    positions
        Signed units held per symbol.
    closes
        Each symbol's last accepted close (its mark).
    currencies
        Quote currency per symbol (``Instrument.currency``).
    bar_times
        Open time (UTC) of each symbol's newest accepted bar.
    interval
        The bars' interval: a bar is known at its open plus the interval.
    feed
        The live feed's status, None without a feed.
    inference_s
        Seconds of each model's last scoring.
    """
    data_times = {
        f"{BARS_PREFIX}{symbol}": _iso(pd.Timestamp(opened) + interval.offset)
        for symbol, opened in sorted(bar_times.items())
    }
    if feed is not None and feed.last_message_at is not None:
        data_times[LIVE_FEED] = _iso(feed.last_message_at)
    return {
        **identity,
        "equity_usd": equity_usd(cash, positions, closes, currencies),
        "data_times": data_times,
        "inference_s": {model: float(s) for model, s in sorted(inference_s.items())},
    }


def equity_usd(
    cash: float,
    positions: Mapping[str, float],
    closes: Mapping[str, float],
    currencies: Mapping[str, str],
) -> float | None:
    """Return cash plus each holding at its close, or None when that is not a USD amount.

    None when a holding has no finite close or is quoted in another currency than USD (an
    unknown symbol counts as not USD): cash alone would understate the book.
    """
    total = float(cash)
    for symbol, units in sorted(positions.items()):
        close = closes.get(symbol, math.nan)
        if currencies.get(symbol) != "USD" or not math.isfinite(close):
            return None
        total += units * close
    return total if math.isfinite(total) else None


def _iso(when: pd.Timestamp) -> str:
    return pd.Timestamp(when).tz_convert("UTC").isoformat()
