"""The scheduled paper run's live bar feed against the fake Alpaca: a feed silent in market
hours blocks new entries (and alerts), bars arriving allow them again; silence before the
open blocks nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from alphaforge.config.models import AppConfig
from alphaforge.core.clock import SimulatedClock
from alphaforge.core.types import Interval
from alphaforge.data.feeds.base import FeedStatus
from alphaforge.features.testing import real_bars
from alphaforge.live.notify import Alert, Notifier
from alphaforge.pipeline.trade import LiveFeed
from alphaforge.pipeline.trade_session import TradingSession
from alphaforge.scheduler.service import TradingScheduler
from alphaforge.scheduler.tasks import task_registry
from alphaforge.scheduler.trading import live_tasks
from alphaforge.storage.bar_store import BarStore
from alphaforge.testing.fake_alpaca import FakeAlpaca

#: 2013-03-04, a Monday before daylight saving: NYSE opens at 14:30 UTC.
PRE_OPEN = pd.Timestamp("2013-03-04 14:00", tz="UTC")
STALE_S = 60


class Recorder:
    """A notifier channel that keeps what it is sent."""

    name = "recorder"

    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    def send(self, alert: Alert) -> None:
        self.alerts.append(alert)


def _wait(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


@pytest.fixture
def fake() -> Iterator[FakeAlpaca]:
    with FakeAlpaca(paper=True) as server:
        yield server


def _config(tmp_path: Path, fake: FakeAlpaca) -> AppConfig:
    bars, instrument = real_bars("GOOG", 400)
    assert bars.index[-1] < PRE_OPEN.normalize()
    BarStore(tmp_path / "store").write(instrument, Interval.D1, bars, source="sample")
    fake.set_price("GOOG", float(bars["close"].iloc[-1]))
    return AppConfig.model_validate(
        {
            "strategy": {"name": "momentum"},
            "portfolio": {"constructor": "target_weights", "sizing": "weights", "units": "whole"},
            "risk": {"preset": "none"},
            "live": {"symbols": ["GOOG"], "stale_after_s": STALE_S, "fill_wait_s": 2},
            "data": {"store_dir": str(tmp_path / "store")},
            "execution": {
                "broker": "alpaca",
                "alpaca_url": fake.trading_url,
                "alpaca_stream_url": fake.stream_url,
                "ledger_dir": str(tmp_path / "ledger"),
            },
            "secrets": {"alpaca_api_key": fake.api_key, "alpaca_secret_key": fake.secret_key},
            "run": {"runs_dir": str(tmp_path / "runs")},
        }
    )


def test_a_silent_feed_in_market_hours_blocks_entries_until_bars_arrive(
    tmp_path: Path, fake: FakeAlpaca
) -> None:
    config = _config(tmp_path, fake)
    clock = SimulatedClock(PRE_OPEN)
    recorder = Recorder()
    notifier = Notifier(config.notify, channels=[recorder], clock=clock)
    with TradingSession(config, "paper", clock=clock, notifier=notifier) as session:
        service = TradingScheduler(
            config,
            task_registry(live_tasks(session)),
            session.ledger,
            session,
            clock=clock,
            scheduler=BackgroundScheduler(timezone="UTC"),  # never started: jobs run by hand
        )
        day = service.times(date(2013, 3, 4), date(2013, 3, 4))
        at = {name: day[day["job"] == name]["scheduled"].iloc[0] for name in day["job"]}
        # What the scheduled run does first: the paper venue's feed, watched by the node.
        assert session.start_feed()
        _wait(lambda: fake.bar_subscribers("GOOG") == 1 and session.feed_status().connected)
        assert session.node.feed is not None

        # 09:00 New York: nothing heard since the start, but the market is not open yet.
        outcome = service.run_job("morning_signals", at["morning_signals"])
        assert outcome.status == "done", outcome
        assert not session.node.feed_stale() and session.node.gate().entries
        assert session.tick() == []

        # Two minutes after the open, still silent: entries are blocked, with an alert.
        assert at["execution_window"] == pd.Timestamp("2013-03-04 14:30", tz="UTC")
        clock.advance_to(at["execution_window"] + pd.Timedelta(minutes=2))
        gate = session.node.gate()
        assert gate.orders and not gate.entries and "silent" in gate.reason
        (line,) = session.tick()
        assert "silent" in line
        assert [a.level for a in recorder.alerts if a.source == "trade.feed"] == ["warning"]
        outcome = service.run_job("execution_window", at["execution_window"])
        assert outcome.status == "done", outcome
        assert outcome.message.startswith("0 orders placed, 1 resized or refused"), outcome
        assert fake.orders() == []

        # A bar arrives: the feed is heard again, and entries go through.
        fake.push_bar("GOOG", datetime(2013, 3, 4, 14, 31, tzinfo=UTC), (1.0, 1.0, 1.0, 1.0, 1))
        _wait(lambda: session.feed_status().last_message_at == clock.now())
        assert not session.node.feed_stale() and session.node.gate().entries
        (line,) = session.tick()
        assert "heard again" in line
        assert [a.level for a in recorder.alerts if a.source == "trade.feed"] == [
            "warning",
            "info",
        ]
        decision = session.node.stored_decision()
        assert decision is not None
        report = session.node.execute(decision, session.last_closes())
        assert len(report.placed) == 1 and not report.refusals
        assert [o["symbol"] for o in fake.orders()] == ["GOOG"]
    # Closing the session stops the feed.
    _wait(lambda: fake.bar_subscribers("GOOG") == 0)


def test_a_dry_run_attaches_no_feed(tmp_path: Path, fake: FakeAlpaca) -> None:
    config = _config(tmp_path, fake)
    clock = SimulatedClock(PRE_OPEN)
    notifier = Notifier(config.notify, channels=[Recorder()], clock=clock)
    with TradingSession(config, "dry-run", clock=clock, notifier=notifier) as session:
        assert not session.start_feed()
        assert session.node.feed is None and fake.bar_subscribers("GOOG") == 0


class HandFeed:
    """A bar feed the test drives: bars are delivered from a thread of its own."""

    def __init__(self) -> None:
        self.handler: Callable[[str, pd.DataFrame], None] | None = None
        self.stopped = False

    def start(self, symbols: list[str], on_bar: Callable[[str, pd.DataFrame], None]) -> None:
        self.handler = on_bar

    def status(self) -> FeedStatus:
        return FeedStatus(not self.stopped, None)

    def stop(self) -> None:
        self.stopped = True

    def deliver(self, symbol: str, bar: pd.DataFrame) -> None:
        assert self.handler is not None
        thread = threading.Thread(target=self.handler, args=(symbol, bar))
        thread.start()
        thread.join()


def test_bars_of_the_nodes_interval_reach_the_node_at_the_next_tick(
    tmp_path: Path, fake: FakeAlpaca
) -> None:
    config = _config(tmp_path, fake)
    clock = SimulatedClock(PRE_OPEN)
    notifier = Notifier(config.notify, channels=[Recorder()], clock=clock)
    hand = HandFeed()
    with TradingSession(config, "dry-run", clock=clock, notifier=notifier) as session:
        assert session.start_feed(LiveFeed(hand, Interval.D1))
        window = session.node.intake.bars["GOOG"]
        bar = window.iloc[[-1]].copy()
        bar.index = pd.DatetimeIndex([PRE_OPEN.normalize()])
        hand.deliver("GOOG", bar)
        assert session.node.intake.bars["GOOG"].index[-1] < bar.index[0]  # queued, not applied
        session.tick()
        assert session.node.intake.bars["GOOG"].index[-1] == bar.index[0]
        # A replay of the same bar is skipped quietly; the stored bars do not repeat it.
        hand.deliver("GOOG", bar)
        assert session.refresh() == 0
        assert session.node.intake_log[-1].outcome != "rejected"
        # Nothing heard yet: the feed counts from its start (14:00), the silence from the open.
        assert session.feed_status().last_message_at == PRE_OPEN
    assert hand.stopped


def test_the_close_ends_a_silence_without_calling_the_feed_back(
    tmp_path: Path, fake: FakeAlpaca
) -> None:
    config = _config(tmp_path, fake)
    clock = SimulatedClock(pd.Timestamp("2013-03-04 20:00", tz="UTC"))  # 15:00 New York
    recorder = Recorder()
    notifier = Notifier(config.notify, channels=[recorder], clock=clock)
    hand = HandFeed()
    with TradingSession(config, "dry-run", clock=clock, notifier=notifier) as session:
        assert session.start_feed(LiveFeed(hand, Interval.D1))
        clock.advance_to(pd.Timestamp("2013-03-04 20:01:01", tz="UTC"))
        (line,) = session.tick()
        assert "silent" in line
        clock.advance_to(pd.Timestamp("2013-03-04 21:00", tz="UTC"))  # the close
        (line,) = session.tick()
        assert "no longer counts" in line
        assert [a.level for a in recorder.alerts if a.source == "trade.feed"] == [
            "warning",
            "info",
        ]
