"""Ledger: every table round-trips on SQLite and PostgreSQL; fills count once, atomically."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator

import pandas as pd
import pytest
from sqlalchemy import event

from alphaforge.core.clock import SimulatedClock
from alphaforge.core.orders import (
    Bracket,
    Fill,
    Order,
    OrderIntent,
    OrderStatus,
    OrderStep,
    OrderType,
    SizingStep,
    TimeInForce,
)
from alphaforge.risk.audit import AUDIT_COLUMNS, RiskDecision
from alphaforge.storage import ledger as ledger_module
from alphaforge.storage.ledger import FILL_COLUMNS, RISK_DECISION_COLUMNS, Ledger

T0 = pd.Timestamp("2024-01-02 14:30:00.123456789", tz="UTC")


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(T0)


@pytest.fixture
def ledger(ledger_url: str, clock: SimulatedClock) -> Iterator[Ledger]:
    with Ledger.open(ledger_url, clock=clock) as opened:
        yield opened


def _order(client_id: str = "o-1", symbol: str = "SPY", quantity: float = 10.0) -> Order:
    intent = OrderIntent(
        symbol,
        quantity,
        order_type=OrderType.STOP_LIMIT,
        limit_price=101.25,
        stop_price=100.5,
        time_in_force=TimeInForce.DAY,
        strategy="momentum",
        oco_group="g1",
        bracket=Bracket(stop_price=95.0, take_profit=110.0, trail_percent=0.05),
        reduce_only=True,
        reason="rebalance",
        sizing=(SizingStep("kelly", 12.0, 10.0, "cap"), SizingStep("lot", 10.0, 10.0)),
    )
    return Order(
        id=client_id,
        intent=intent,
        created_at=T0,
        status=OrderStatus.PENDING_SUBMIT,
        average_price=math.nan,
        updated_at=T0 + pd.Timedelta(microseconds=1, nanoseconds=7),
        status_reason="stored",
        parent_id="o-0",
        trail_stop=96.5,
        replaces="o-00",
    )


def _fill(order: Order, execution_id: str, quantity: float, price: float) -> Fill:
    return Fill(
        order_id=order.id,
        symbol=order.symbol,
        timestamp=T0 + pd.Timedelta(seconds=5),
        quantity=quantity,
        price=price,
        costs=(("commission", 1.0), ("sec_fee", 0.25)),
        strategy=order.intent.strategy,
        reason=order.intent.reason,
        execution_id=execution_id,
    )


def _apply(order: Order, fill: Fill) -> None:
    """Update the order as the order manager would before ``record_fill``."""
    old = order.filled_quantity
    total = old + fill.quantity
    prior = 0.0 if math.isnan(order.average_price) else order.average_price * old
    order.average_price = (prior + fill.price * fill.quantity) / total
    order.filled_quantity = total
    order.status = (
        OrderStatus.FILLED if total == order.intent.quantity else OrderStatus.PARTIALLY_FILLED
    )


def _same(a: Order, b: Order | None) -> bool:
    """Return True when ``b`` equals ``a`` field by field (a NaN average price equals NaN)."""
    assert b is not None
    left, right = dataclasses.asdict(a), dataclasses.asdict(b)
    if math.isnan(left["average_price"]) and math.isnan(right["average_price"]):
        del left["average_price"], right["average_price"]
    return left == right


def test_an_order_round_trips_exactly_and_its_journal_is_kept(
    ledger: Ledger, clock: SimulatedClock
) -> None:
    order = _order()
    ledger.record_order(order, "store", "intent approved")
    assert _same(order, ledger.order("o-1"))
    clock.advance_to(T0 + pd.Timedelta(seconds=1))
    order.status = OrderStatus.SUBMITTED
    ledger.record_order(order, "submit", venue_order_id="v-77")
    order.status = OrderStatus.ACCEPTED
    order.updated_at = T0 + pd.Timedelta(seconds=2)
    ledger.record_order(order, "ack")
    loaded = ledger.order("o-1")
    assert loaded is not None and dataclasses.asdict(loaded)["status"] == OrderStatus.ACCEPTED
    assert _same(order, loaded)
    assert ledger.venue_order_id("o-1") == "v-77"  # kept by the later record without it
    assert ledger.client_id_of("v-77") == "o-1"
    events = ledger.order_events("o-1")
    assert [(e.from_status, e.to_status, e.event) for e in events] == [
        (None, "pending_submit", "store"),
        ("pending_submit", "submitted", "submit"),
        ("submitted", "accepted", "ack"),
    ]
    assert events[0].reason == "intent approved"
    assert events[0].time == T0 and events[1].time == T0 + pd.Timedelta(seconds=1)
    assert str(events[0].time.tz) == "UTC"
    assert ledger.order("nope") is None


def test_record_steps_journals_each_step_in_one_commit(ledger: Ledger) -> None:
    order = _order()
    ledger.record_order(order, "store")
    commits: list[int] = []
    event.listen(ledger._engine, "commit", lambda _conn: commits.append(1))
    order.status = OrderStatus.ACCEPTED
    steps = [
        OrderStep(OrderStatus.SUBMITTED, "submitted", "submit answered"),
        OrderStep(OrderStatus.ACCEPTED, "accepted", "submit answered"),
    ]
    ledger.record_steps(order, steps)
    assert len(commits) == 1
    assert _same(order, ledger.order("o-1"))
    assert [(e.from_status, e.to_status, e.event, e.reason) for e in ledger.order_events("o-1")][
        1:
    ] == [
        ("pending_submit", "submitted", "submitted", "submit answered"),
        ("submitted", "accepted", "accepted", "submit answered"),
    ]


def test_record_steps_is_atomic_and_refuses_steps_that_miss_the_order(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    order = _order()
    ledger.record_order(order, "store")
    order.status = OrderStatus.ACCEPTED
    steps = [OrderStep(OrderStatus.SUBMITTED, "submitted"), OrderStep(OrderStatus.ACCEPTED, "ack")]
    journal = ledger_module._journal
    calls: list[int] = []

    def second_fails(*args: object) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("killed mid-transaction")
        journal(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(ledger_module, "_journal", second_fails)
    with pytest.raises(RuntimeError, match="mid-transaction"):
        ledger.record_steps(order, steps)
    monkeypatch.undo()
    stored = ledger.order("o-1")
    assert stored is not None and stored.status is OrderStatus.PENDING_SUBMIT
    assert [e.event for e in ledger.order_events("o-1")] == ["store"]
    with pytest.raises(ValueError, match="end at submitted"):
        ledger.record_steps(order, steps[:1])
    with pytest.raises(ValueError, match="end at None"):
        ledger.record_steps(order, [])
    ledger.record_steps(order, steps)
    assert [e.event for e in ledger.order_events("o-1")] == ["store", "submitted", "ack"]


def test_load_orders_open_only_and_a_plain_market_order(ledger: Ledger) -> None:
    working = _order("o-1")
    done = Order("o-2", OrderIntent("QQQ", -3.0), created_at=T0 + pd.Timedelta(seconds=1))
    done.status, done.filled_quantity, done.average_price = OrderStatus.FILLED, -3.0, 400.0
    ledger.record_order(working, "store")
    ledger.record_order(done, "fill")
    assert [o.id for o in ledger.load_orders()] == ["o-1", "o-2"]
    assert [o.id for o in ledger.load_orders(open_only=True)] == ["o-1"]
    reloaded = ledger.load_orders()[1]
    assert dataclasses.asdict(reloaded) == dataclasses.asdict(done)
    assert reloaded.intent.bracket is None and reloaded.intent.sizing == ()


def test_set_venue_id_of_an_unknown_order_raises(ledger: Ledger) -> None:
    ledger.record_order(_order(), "store")
    ledger.set_venue_id("o-1", "v-1")
    assert ledger.venue_order_id("o-1") == "v-1"
    with pytest.raises(KeyError, match="o-9"):
        ledger.set_venue_id("o-9", "v-2")


def test_fills_update_order_position_and_cash_once_per_execution_id(ledger: Ledger) -> None:
    ledger.set_cash(10_000.0, "funding")
    order = _order(quantity=10.0)
    ledger.record_order(order, "store")
    first = _fill(order, "e-1", 4.0, 100.0)
    _apply(order, first)
    assert ledger.record_fill(order, first, checkpoint=("fills:alpaca", "c-1"))
    assert not ledger.record_fill(order, first, checkpoint=("fills:alpaca", "c-9"))
    second = _fill(order, "e-2", 6.0, 101.0)
    _apply(order, second)
    assert ledger.record_fill(order, second)
    assert ledger.positions() == {"SPY": 10.0}
    assert ledger.cash() == pytest.approx(10_000.0 - 400.0 - 606.0 - 2 * 1.25)
    assert ledger.checkpoint("fills:alpaca") == "c-1"  # a repeat changes nothing
    assert ledger.has_fill("e-1") and not ledger.has_fill("e-3")
    stored = ledger.order("o-1")
    assert stored is not None and stored.status is OrderStatus.FILLED
    assert stored.filled_quantity == 10.0 and stored.average_price == order.average_price
    assert ledger.load_fills() == [first, second]
    assert ledger.load_fills(client_id="o-2") == []
    frame = ledger.fills()
    assert tuple(frame.columns) == FILL_COLUMNS and len(frame) == 2
    assert list(frame["execution_id"]) == ["e-1", "e-2"]
    assert frame["costs"].iloc[0] == {"commission": 1.0, "sec_fee": 0.25}
    assert frame["cost"].tolist() == [1.25, 1.25]
    assert str(frame["time"].dt.tz) == "UTC"
    assert ledger.fills(since=T0 + pd.Timedelta(seconds=6)).empty
    assert [e.event for e in ledger.order_events("o-1")] == ["store", "fill", "fill"]
    assert ledger.fill_count() == 2


def test_order_journal_reads_every_order_in_one_pass(ledger: Ledger) -> None:
    assert ledger.order_journal() == []
    first, second = _order("o-1"), _order("o-2")
    ledger.record_order(first, "store")
    ledger.record_order(second, "store")
    second.status = OrderStatus.REJECTED
    ledger.record_order(second, "rejected", "insufficient buying power")
    journal = ledger.order_journal()
    assert [(e.client_id, e.to_status) for e in journal] == [
        ("o-1", "pending_submit"),
        ("o-2", "pending_submit"),
        ("o-2", "rejected"),
    ]
    assert journal == ledger.order_events("o-1") + ledger.order_events("o-2")
    rejected = ledger.order_journal([OrderStatus.REJECTED])
    assert [(e.client_id, e.reason) for e in rejected] == [("o-2", "insufficient buying power")]
    assert ledger.fill_count() == 0


def test_a_fill_for_an_order_not_yet_stored_stores_it(ledger: Ledger) -> None:
    order = _order()
    fill = _fill(order, "e-1", 10.0, 99.0)
    _apply(order, fill)
    assert ledger.record_fill(order, fill)
    assert _same(order, ledger.order("o-1"))


def test_fills_without_execution_id_or_of_another_order_are_refused(ledger: Ledger) -> None:
    order = _order()
    with pytest.raises(ValueError, match="execution id"):
        ledger.record_fill(order, _fill(order, "", 1.0, 100.0))
    with pytest.raises(ValueError, match="o-1"):
        ledger.record_fill(order, dataclasses.replace(_fill(order, "e", 1, 1), order_id="x"))


def test_record_fill_is_atomic(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    ledger.set_cash(1000.0, "funding")
    order = _order()
    ledger.record_order(order, "store")
    fill = _fill(order, "e-1", 2.0, 100.0)
    _apply(order, fill)

    def broken(*_: object) -> None:
        raise RuntimeError("killed mid-transaction")

    monkeypatch.setattr(ledger_module, "_add_cash", broken)
    with pytest.raises(RuntimeError, match="mid-transaction"):
        ledger.record_fill(order, fill, checkpoint=("fills", "c-1"))
    assert not ledger.has_fill("e-1")
    assert ledger.positions() == {} and ledger.cash() == 1000.0
    assert ledger.checkpoint("fills") is None
    stored = ledger.order("o-1")
    assert stored is not None and stored.status is OrderStatus.PENDING_SUBMIT
    assert [e.event for e in ledger.order_events("o-1")] == ["store"]
    monkeypatch.undo()
    assert ledger.record_fill(order, fill)  # the same fill goes in once the fault is gone
    assert ledger.positions() == {"SPY": 2.0}


def test_positions_adjusted_by_hand_are_logged(ledger: Ledger) -> None:
    order = _order(quantity=5.0)
    fill = _fill(order, "e-1", 5.0, 10.0)
    _apply(order, fill)
    ledger.record_fill(order, fill)
    ledger.adjust_position("SPY", 3.0, "sold 2 by hand at the broker")
    ledger.adjust_position("QQQ", -1.5, "broker-only position")
    ledger.adjust_position("QQQ", 0.0, "closed", rule="flat at the broker")
    assert ledger.positions() == {"SPY": 3.0}
    log = ledger.reconcile_events()
    assert [(r.kind, r.symbol, r.before, r.after) for r in log] == [
        ("position", "SPY", "5.0", "3.0"),
        ("position", "QQQ", "0.0", "-1.5"),
        ("position", "QQQ", "-1.5", "0.0"),
    ]
    assert log[0].rule == "position changed by hand" and log[2].rule == "flat at the broker"
    assert log[0].message == "sold 2 by hand at the broker"


def test_cash_set_and_logged(ledger: Ledger) -> None:
    assert ledger.cash() == 0.0
    ledger.set_cash(5000.0, "initial funding")
    ledger.set_cash(5100.5, "broker says")
    assert ledger.cash() == 5100.5
    assert [(r.kind, r.before, r.after, r.message) for r in ledger.reconcile_events()] == [
        ("cash", None, "5000.0", "initial funding"),
        ("cash", "5000.0", "5100.5", "broker says"),
    ]


def test_checkpoints(ledger: Ledger) -> None:
    assert ledger.checkpoint("fills") is None
    ledger.set_checkpoint("fills", "2024-01-02T15:00:00Z")
    ledger.set_checkpoint("fills", "next")
    ledger.set_checkpoint("other", "x")
    assert ledger.checkpoint("fills") == "next" and ledger.checkpoint("other") == "x"


def test_trading_state_defaults_to_active_and_keeps_history(
    ledger: Ledger, clock: SimulatedClock
) -> None:
    assert ledger.trading_state().state == "active"
    assert ledger.trading_state().since == T0
    clock.advance_to(T0 + pd.Timedelta(minutes=1))
    ledger.set_trading_state("halted", "ledger mismatch")
    clock.advance_to(T0 + pd.Timedelta(minutes=2))
    ledger.set_trading_state("reducing", "daily loss")
    state = ledger.trading_state()
    assert (state.state, state.reason, state.since) == (
        "reducing",
        "daily loss",
        T0 + pd.Timedelta(minutes=2),
    )
    assert [s.state for s in ledger.trading_state_history()] == ["reducing", "halted", "active"]
    with pytest.raises(ValueError, match="trading state"):
        ledger.set_trading_state("paused", "x")  # type: ignore[arg-type]


def test_commands_queue_and_complete(ledger: Ledger, clock: SimulatedClock) -> None:
    first = ledger.add_command("pause", {"by": "cli"})
    second = ledger.add_command("cancel", {"client_id": "o-1"})
    third = ledger.add_command("flatten")
    assert [c.id for c in ledger.pending_commands()] == [first, second, third]
    assert ledger.pending_commands()[1].args == {"client_id": "o-1"}
    clock.advance_to(T0 + pd.Timedelta(seconds=3))
    assert ledger.complete_command(first, "done", "paused")
    assert not ledger.complete_command(first, "failed", "again")  # already done
    assert ledger.complete_command(second, "failed", "unknown order")
    assert [c.kind for c in ledger.pending_commands()] == ["flatten"]
    newest = ledger.commands()
    assert [c.status for c in newest] == ["pending", "failed", "done"]
    assert newest[2].result == "paused" and newest[2].completed_at == T0 + pd.Timedelta(seconds=3)
    assert newest[0].completed_at is None and newest[0].created_at == T0
    with pytest.raises(ValueError, match="command"):
        ledger.add_command("sell_everything")
    with pytest.raises(ValueError, match="done"):
        ledger.complete_command(third, "ok")


def test_job_runs(ledger: Ledger, clock: SimulatedClock) -> None:
    at = pd.Timestamp("2024-01-02 14:00", tz="UTC")
    run = ledger.start_job("signals", at)
    other = ledger.start_job("report", at)
    clock.advance_to(T0 + pd.Timedelta(minutes=1))
    ledger.finish_job(run, "done", "200 symbols")
    last = ledger.last_job_run("signals")
    assert last is not None and last.id == run and last.status == "done"
    assert last.scheduled_for == at and last.started_at == T0
    assert last.finished_at == T0 + pd.Timedelta(minutes=1) and last.message == "200 symbols"
    assert [r.id for r in ledger.job_runs()] == [other, run]
    assert ledger.job_runs("report")[0].status == "running"
    assert ledger.job_runs("report")[0].finished_at is None
    assert ledger.last_job_run("nightly") is None
    assert len(ledger.job_runs(limit=1)) == 1
    ledger.finish_job(ledger.start_job("signals", at + pd.Timedelta(days=1)), "failed", "boom")
    assert ledger.job_run_counts() == {
        ("report", "running"): 1,
        ("signals", "done"): 1,
        ("signals", "failed"): 1,
    }


def test_alerts_and_heartbeats(ledger: Ledger, clock: SimulatedClock) -> None:
    first = ledger.add_alert("error", "ledger", "disk full")
    clock.advance_to(T0 + pd.Timedelta(minutes=1))
    second = ledger.add_alert("warning", "feed", "stale")
    assert [a.id for a in ledger.alerts()] == [first, second]
    assert [a.message for a in ledger.alerts(since=T0 + pd.Timedelta(seconds=30))] == ["stale"]
    ledger.beat("node-a", {"bars": 3})
    clock.advance_to(T0 + pd.Timedelta(minutes=2))
    ledger.beat("node-a", {"bars": 4, "state": "active"})
    ledger.beat("node-b", {})
    beats = ledger.heartbeats()
    assert [(b.node, b.details) for b in beats] == [
        ("node-a", {"bars": 4, "state": "active"}),
        ("node-b", {}),
    ]
    assert beats[0].time == T0 + pd.Timedelta(minutes=2)


def test_risk_decisions_round_trip_as_the_audit_table(ledger: Ledger) -> None:
    assert RISK_DECISION_COLUMNS == AUDIT_COLUMNS
    resize = RiskDecision(T0, "SPY", "i-1", "limit.position", "pos <= 10 %", 0.1, 0.2, 10, 5, "cap")
    refuse = RiskDecision(T0, "QQQ", "i-2", "filter.vix", "vix", math.nan, math.nan, -3, 0, "vix")
    ledger.add_risk_decisions([{**resize.row(), "strategy": "m"}, refuse.row()])
    ledger.add_risk_decisions([])
    frame = ledger.risk_decisions()
    assert tuple(frame.columns) == AUDIT_COLUMNS
    assert frame["action"].tolist() == ["resize", "refuse"]
    assert frame["strategy"].tolist() == ["m", ""]
    assert frame.loc[0, "limit"] == 0.1 and math.isnan(frame.loc[1, "observed"])
    assert frame["after"].tolist() == [5.0, 0.0] and frame["time"].iloc[0] == T0
    assert ledger.risk_decisions(since=T0 + pd.Timedelta(seconds=1)).empty


def test_audit_rows_name_their_prediction(ledger: Ledger) -> None:
    decision = {
        "model": "gbm",
        "model_version": "v3",
        "prediction": 0.0123,
        "signal": 0.5,
        "target_weight": 0.04,
        "features": {"rsi": 61.0},
    }
    row_id = ledger.add_audit(T0, "o-1", "SPY", decision)
    ledger.add_audit(T0, None, "QQQ", {"signal": -1.0})
    rows = ledger.audits()
    assert rows[0].id == row_id and rows[0].decision == decision
    assert (rows[0].model, rows[0].model_version, rows[0].prediction) == ("gbm", "v3", 0.0123)
    assert (rows[0].signal, rows[0].target_weight) == (0.5, 0.04)
    assert rows[1].model is None and rows[1].signal == -1.0 and rows[1].client_id is None
    assert [r.symbol for r in ledger.audits(client_id="o-1")] == ["SPY"]


def test_reconcile_events_round_trip(ledger: Ledger, clock: SimulatedClock) -> None:
    ledger.add_reconcile_event("missed_fill", "SPY", "o-1", None, "e-9", "insert", "stream gap")
    clock.advance_to(T0 + pd.Timedelta(minutes=5))
    ledger.add_reconcile_event("cancelled", "SPY", "o-2", "accepted", "cancelled", "cancel", "")
    rows = ledger.reconcile_events()
    assert [(r.kind, r.before, r.after, r.rule) for r in rows] == [
        ("missed_fill", None, "e-9", "insert"),
        ("cancelled", "accepted", "cancelled", "cancel"),
    ]
    assert [r.kind for r in ledger.reconcile_events(since=T0 + pd.Timedelta(minutes=1))] == [
        "cancelled"
    ]


def test_naive_times_are_refused(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ledger.start_job("x", pd.Timestamp("2024-01-02 14:00"))


def test_rows_survive_a_reopen(ledger_url: str, clock: SimulatedClock) -> None:
    with Ledger.open(ledger_url, clock=clock) as first:
        first.record_order(_order(), "store")
        first.set_trading_state("halted", "test")
    with Ledger.open(ledger_url, clock=clock) as again:
        assert _same(_order(), again.order("o-1"))
        assert again.trading_state().state == "halted"
