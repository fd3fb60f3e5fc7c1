"""The node's heartbeat details: identity, equity marked at the last closes (or none), the
newest data time per source and the models' inference seconds, as ``/metrics`` reads them."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from alphaforge.config.models import AppConfig
from alphaforge.core.clock import SimulatedClock
from alphaforge.core.types import AssetClass, Instrument, Interval
from alphaforge.data.feeds.base import FeedStatus
from alphaforge.execution.brokers.simulated import SimulatedVenue
from alphaforge.live.heartbeat import BARS_PREFIX, LIVE_FEED, equity_usd, heartbeat_details
from alphaforge.live.node import TradingNode
from alphaforge.storage.ledger import Ledger

T0 = pd.Timestamp("2024-03-04 15:00", tz="UTC")
DAYS = pd.date_range("2024-02-26", periods=5, freq="D", tz="UTC")
USD = {"AAA": "USD", "BBB": "USD"}
FEED = FeedStatus(True, T0 - pd.Timedelta(seconds=30))


def _details(
    *,
    bar_times: dict[str, pd.Timestamp] | None = None,
    feed: FeedStatus | None = FEED,
    inference_s: dict[str, float] | None = None,
) -> dict[str, object]:
    return heartbeat_details(
        {"mode": "paper", "state": "active"},
        cash=10_000.0,
        positions={"AAA": 10.0, "BBB": -5.0},
        closes={"AAA": 100.0, "BBB": 50.0},
        currencies=USD,
        bar_times={"BBB": DAYS[-1], "AAA": DAYS[-2]} if bar_times is None else bar_times,
        interval=Interval.D1,
        feed=feed,
        inference_s={"logistic": 0.002, "lightgbm": 0.0125} if inference_s is None else inference_s,
    )


def test_the_details_add_equity_data_times_and_inference_to_the_identity() -> None:
    details = _details()
    assert details["mode"] == "paper" and details["state"] == "active"
    assert details["equity_usd"] == pytest.approx(10_000.0 + 10 * 100.0 - 5 * 50.0)
    # A daily bar is known at its open plus a day; the feed at its last message.
    assert details["data_times"] == {
        f"{BARS_PREFIX}AAA": (DAYS[-2] + pd.Timedelta(days=1)).isoformat(),
        f"{BARS_PREFIX}BBB": (DAYS[-1] + pd.Timedelta(days=1)).isoformat(),
        LIVE_FEED: (T0 - pd.Timedelta(seconds=30)).isoformat(),
    }
    assert details["inference_s"] == {"lightgbm": 0.0125, "logistic": 0.002}
    # What the ledger stores: plain JSON, read back unchanged.
    assert json.loads(json.dumps(details)) == details


def test_no_feed_and_no_scorer_leave_their_entries_out() -> None:
    details = _details(feed=None, inference_s={}, bar_times={})
    assert details["data_times"] == {} and details["inference_s"] == {}
    silent = _details(feed=FeedStatus(True, None), bar_times={})
    assert silent["data_times"] == {}


def test_equity_is_none_rather_than_cash_alone_when_a_holding_cannot_be_valued() -> None:
    assert equity_usd(1_000.0, {}, {}, {}) == 1_000.0
    assert equity_usd(1_000.0, {"AAA": 2.0}, {"AAA": 10.0}, USD) == 1_020.0
    assert equity_usd(1_000.0, {"AAA": 2.0}, {}, USD) is None  # no close
    assert equity_usd(1_000.0, {"AAA": 2.0}, {"AAA": math.nan}, USD) is None
    assert equity_usd(1_000.0, {"AAA": 2.0}, {"AAA": 10.0}, {"AAA": "JPY"}) is None
    assert equity_usd(1_000.0, {"AAA": 2.0}, {"AAA": 10.0}, {}) is None  # unknown instrument


def _bars(closes: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "open": closes,
            "high": [c + 1.0 for c in closes],
            "low": [c - 1.0 for c in closes],
            "close": closes,
            "volume": [1e6] * len(closes),
        },
        index=DAYS[: len(closes)],
    )


def test_a_node_beats_with_its_book_marked_at_the_last_closes(tmp_path: Path) -> None:
    clock = SimulatedClock(T0)
    config = AppConfig.model_validate(
        {"strategy": {"name": "momentum"}, "risk": {"preset": "none"}}
    )
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'ledger.sqlite'}", clock=clock)
    try:
        venue = SimulatedVenue(["AAA", "BBB"], 50_000.0, clock)
        venue.broker.quantity[:] = [100.0, -50.0]  # held at the venue: reconcile books them
        instruments = {s: Instrument(s, AssetClass.STOCK) for s in ("AAA", "BBB")}
        node = TradingNode(config, ledger, venue, clock, instruments, Interval.D1, "paper")
        node.seed({"AAA": _bars([500.0, 510.0, 505.0]), "BBB": _bars([100.0, 98.0])})
        node.start()
        node.attach_feed(lambda: FeedStatus(True, T0 - pd.Timedelta(minutes=2)))
        node.heartbeat()
        (beat,) = ledger.heartbeats()
        assert beat.node == "node-paper" and beat.time == T0
        details = beat.details
        assert details["mode"] == "paper" and details["broker"] == "simulated"
        assert details["state"] == "active" and details["open_orders"] == 0
        assert ledger.positions() == {"AAA": 100.0, "BBB": -50.0}
        expected = ledger.cash() + 100.0 * 505.0 - 50.0 * 98.0
        assert details["equity_usd"] == pytest.approx(expected)
        assert details["data_times"] == {
            f"{BARS_PREFIX}AAA": DAYS[3].isoformat(),
            f"{BARS_PREFIX}BBB": DAYS[2].isoformat(),
            LIVE_FEED: (T0 - pd.Timedelta(minutes=2)).isoformat(),
        }
        assert details["inference_s"] == {}  # a rule strategy scores nothing
    finally:
        ledger.close()
