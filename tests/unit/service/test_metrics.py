"""``/metrics``: a scrape reads the ledger as it is now; every metric the Grafana dashboard
names is in it; a missing ledger still gives a valid scrape."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from alphaforge.config.models import AppConfig
from alphaforge.core.clock import SimulatedClock
from alphaforge.core.orders import Fill, Order, OrderIntent, OrderStatus, OrderStep
from alphaforge.core.types import Interval
from alphaforge.data.feeds.base import FeedStatus
from alphaforge.live.heartbeat import heartbeat_details
from alphaforge.service.metrics import (
    ROUNDTRIP_BUCKETS,
    build_registry,
    rejection_reason,
    render,
    roundtrip_seconds,
)
from alphaforge.service.sources import ServiceSources
from alphaforge.storage.ledger import Ledger

T0 = pd.Timestamp("2024-03-04 14:30", tz="UTC")
DASHBOARD = Path(__file__).parents[3] / "deploy" / "grafana" / "alphaforge.json"
REJECTED_FOR_FUNDS = "Alpaca refused the submit of o-3 (HTTP 403): insufficient buying power"
REJECTED_SYMBOL = "ZZZ is not traded by the dry-run venue."
BEAT = heartbeat_details(
    {"mode": "paper", "broker": "alpaca", "state": "active", "open_orders": 0},
    cash=90_000.0,
    positions={"AAA": 30.0},
    closes={"AAA": 101.0},
    currencies={"AAA": "USD"},
    bar_times={"AAA": pd.Timestamp("2024-03-03", tz="UTC")},
    interval=Interval.D1,
    feed=FeedStatus(True, T0 - pd.Timedelta(seconds=20)),
    inference_s={"lightgbm": 0.0125},
)


def _at(seconds: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(seconds=seconds)


def _sent(ledger: Ledger, clock: SimulatedClock, client_id: str, at: float) -> Order:
    """Journal an order's submit (``pending_submit``) at ``at`` seconds after T0."""
    clock.advance_to(_at(at))
    order = Order(client_id, OrderIntent("AAA", 10.0), _at(at), OrderStatus.PENDING_SUBMIT)
    ledger.record_order(order, "create", "signal")
    return order


def _acknowledged(ledger: Ledger, clock: SimulatedClock, order: Order, at: float) -> None:
    """Journal the venue's answer ``submitted -> accepted`` as the gateway does."""
    clock.advance_to(_at(at))
    order.status = OrderStatus.ACCEPTED
    steps = [
        OrderStep(OrderStatus.SUBMITTED, "submitted", "submit answered"),
        OrderStep(OrderStatus.ACCEPTED, "accepted", "submit answered"),
    ]
    ledger.record_steps(order, steps)


def _filled(ledger: Ledger, order: Order, execution_id: str, quantity: float) -> None:
    order.filled_quantity += quantity
    order.average_price = 100.0
    order.status = (
        OrderStatus.FILLED
        if order.filled_quantity >= order.intent.quantity
        else OrderStatus.PARTIALLY_FILLED
    )
    fill = Fill(order.id, "AAA", ledger.clock.now(), quantity, 100.0, execution_id=execution_id)
    assert ledger.record_fill(order, fill)


def _rejected(ledger: Ledger, order: Order, message: str) -> None:
    order.status = OrderStatus.REJECTED
    ledger.record_order(order, "rejected", message)


def _job(
    ledger: Ledger, clock: SimulatedClock, name: str, at: float, took: float, status: str
) -> None:
    clock.advance_to(_at(at))
    run = ledger.start_job(name, _at(at))
    clock.advance_to(_at(at + took))
    ledger.finish_job(run, status, "")


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(T0)


@pytest.fixture
def sources(tmp_path: Path, clock: SimulatedClock) -> Iterator[ServiceSources]:
    url = f"sqlite:///{tmp_path / 'ledger' / 'paper.sqlite'}"
    config = AppConfig.model_validate(
        {"execution": {"ledger_url": url}, "data": {"store_dir": str(tmp_path / "store")}}
    )
    opened = ServiceSources(config=config, mode="paper", clock=clock)
    yield opened
    opened.close()


@pytest.fixture
def ledger(sources: ServiceSources, clock: SimulatedClock) -> Iterator[Ledger]:
    """The node's ledger (a second connection to the file the service reads), filled."""
    with Ledger.open(sources.ledger_url, clock=clock) as written:
        first = _sent(written, clock, "o-1", 0.0)
        _acknowledged(written, clock, first, 0.2)
        _filled(written, first, "e-1", 10.0)
        second = _sent(written, clock, "o-2", 10.0)
        _acknowledged(written, clock, second, 11.5)
        _filled(written, second, "e-2", 4.0)
        _filled(written, second, "e-3", 6.0)
        _rejected(written, _sent(written, clock, "o-3", 20.0), REJECTED_FOR_FUNDS)
        _rejected(written, _sent(written, clock, "o-4", 30.0), REJECTED_SYMBOL)
        # An answer lost, settled by a lookup: not a round trip.
        lost = _sent(written, clock, "o-5", 40.0)
        lost.status = OrderStatus.UNKNOWN
        written.record_order(lost, "unknown", "timeout")
        clock.advance_to(_at(50.0))
        lost.status = OrderStatus.ACCEPTED
        written.record_order(lost, "accepted", "lookup")
        _job(written, clock, "signals", 100.0, 42.0, "done")
        _job(written, clock, "signals", 200.0, 5.0, "failed")
        _job(written, clock, "report", 300.0, 3.0, "done")
        clock.advance_to(_at(400.0))
        written.start_job("nightly", _at(400.0))  # still running: no duration yet
        written.beat("node-paper", BEAT)
        yield written


def _scrape(
    sources: ServiceSources, clients: int = 3
) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Scrape once; return ``sample name -> [(labels, value)]``."""
    registry, requests = build_registry(sources, lambda: clients)
    requests.observe("/api/v1/orders/{client_id}", "get", 200, 0.012)
    body, content_type = render(registry)
    assert content_type.startswith("text/plain")
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def _value(
    samples: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str
) -> float:
    (value,) = [v for got, v in samples[name] if all(got.get(k) == w for k, w in labels.items())]
    return value


def test_a_scrape_reads_the_ledger_as_it_is_now(
    sources: ServiceSources, ledger: Ledger, clock: SimulatedClock
) -> None:
    clock.advance_to(_at(460.0))
    samples = _scrape(sources)
    assert _value(samples, "alphaforge_fills_total") == 3.0
    assert _value(samples, "alphaforge_order_rejections_total", reason="buying_power") == 1.0
    assert _value(samples, "alphaforge_order_rejections_total", reason="symbol") == 1.0
    assert _value(samples, "alphaforge_order_rejections_total", reason="other") == 0.0
    # Two acknowledged submits: 0.2 s and 1.5 s (o-5's answer was lost, o-3/o-4 refused).
    assert _value(samples, "alphaforge_order_roundtrip_seconds_count") == 2.0
    assert _value(samples, "alphaforge_order_roundtrip_seconds_sum") == pytest.approx(1.7)
    assert _value(samples, "alphaforge_order_roundtrip_seconds_bucket", le="0.25") == 1.0
    assert _value(samples, "alphaforge_order_roundtrip_seconds_bucket", le="2.5") == 2.0
    assert _value(samples, "alphaforge_order_roundtrip_seconds_bucket", le="+Inf") == 2.0
    # The newest finished run: signals failed after 5 s (not the earlier 42 s).
    assert _value(samples, "alphaforge_job_duration_seconds", job="signals") == 5.0
    assert _value(samples, "alphaforge_job_duration_seconds", job="report") == 3.0
    assert [labels["job"] for labels, _ in samples["alphaforge_job_duration_seconds"]] == [
        "report",
        "signals",
    ]
    assert _value(samples, "alphaforge_job_failures_total", job="signals") == 1.0
    assert _value(samples, "alphaforge_job_failures_total", job="report") == 0.0
    assert _value(samples, "alphaforge_job_failures_total", job="nightly") == 0.0
    # The heartbeat's readings, aged by the service's clock (the beat was at T0 + 400 s).
    assert _value(samples, "alphaforge_equity_usd") == pytest.approx(BEAT["equity_usd"])
    assert _value(samples, "alphaforge_equity_usd") == pytest.approx(90_000.0 + 30 * 101.0)
    assert _value(samples, "alphaforge_data_staleness_seconds", feed="live_feed") == 480.0
    since_bar = (_at(460.0) - pd.Timestamp("2024-03-04", tz="UTC")).total_seconds()
    assert _value(samples, "alphaforge_data_staleness_seconds", feed="bars:AAA") == since_bar
    assert _value(samples, "alphaforge_model_inference_seconds", model="lightgbm") == 0.0125
    assert _value(samples, "alphaforge_heartbeat_age_seconds", node="node-paper") == 60.0
    assert _value(samples, "alphaforge_websocket_clients") == 3.0
    latency = "alphaforge_http_request_duration_seconds_count"
    assert _value(samples, latency, route="/api/v1/orders/{client_id}", method="GET") == 1.0


def test_nothing_is_kept_between_scrapes(
    sources: ServiceSources, ledger: Ledger, clock: SimulatedClock
) -> None:
    registry, _ = build_registry(sources, lambda: 0)
    before = _parse(render(registry)[0])
    order = _sent(ledger, clock, "o-6", 500.0)
    _acknowledged(ledger, clock, order, 500.05)
    _filled(ledger, order, "e-4", 10.0)
    _rejected(ledger, _sent(ledger, clock, "o-7", 510.0), "stream: rejected")
    after = _parse(render(registry)[0])
    assert before["alphaforge_fills_total"] == 3.0 and after["alphaforge_fills_total"] == 4.0
    assert after["alphaforge_order_roundtrip_seconds_count"] == 3.0
    assert after['alphaforge_order_rejections_total{reason="venue"}'] == 1.0


def _parse(body: bytes) -> dict[str, float]:
    """Return ``name{labels}`` -> value of a scrape."""
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            values[sample.name + (f"{{{labels}}}" if labels else "")] = sample.value
    return values


def test_every_metric_the_grafana_dashboard_names_is_in_a_scrape(
    sources: ServiceSources, ledger: Ledger
) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    expressions = [
        target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])
    ]
    named = {name for expr in expressions for name in re.findall(r"alphaforge_[a-z_]+", expr)}
    scraped = set(_scrape(sources))
    assert named, "the dashboard names no metric"
    assert named <= scraped, f"not in a scrape: {sorted(named - scraped)}"
    # A panel per metric the service serves (a histogram's series under its family's name).
    suffix = r"_(bucket|sum|count|created)$"
    families = {re.sub(suffix, "", name) for name in scraped}
    assert families <= {re.sub(suffix, "", name) for name in named}


def test_a_missing_ledger_gives_a_valid_scrape_without_ledger_samples(
    sources: ServiceSources,
) -> None:
    assert sources.ledger() is None
    registry, _ = build_registry(sources, lambda: 2)
    body, _ = render(registry)
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    assert "alphaforge_equity_usd" in families and "alphaforge_fills" in families
    assert families["alphaforge_websocket_clients"].samples[0].value == 2.0
    assert all(
        not family.samples
        for name, family in families.items()
        if name.startswith("alphaforge_") and name != "alphaforge_websocket_clients"
    )


def test_a_heartbeat_without_equity_gives_no_equity_sample(
    sources: ServiceSources, ledger: Ledger
) -> None:
    ledger.beat("node-paper", {"mode": "paper", "state": "active", "equity_usd": None})
    samples = _scrape(sources)
    assert "alphaforge_equity_usd" not in samples
    # The older format (no readings at all) neither: cash alone would understate the book.
    ledger.beat("node-paper", {"mode": "paper", "state": "active", "open_orders": 0})
    assert "alphaforge_equity_usd" not in _scrape(sources)
    assert "alphaforge_data_staleness_seconds" not in _scrape(sources)


def test_registering_reads_no_ledger_and_uses_its_own_registry(
    sources: ServiceSources, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse() -> None:
        raise AssertionError("the ledger was read at registration")

    monkeypatch.setattr(sources, "ledger", refuse)
    registry, _ = build_registry(sources, lambda: 0)
    assert isinstance(registry, CollectorRegistry)
    from prometheus_client import REGISTRY

    assert REGISTRY.get_sample_value("alphaforge_websocket_clients") is None


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (REJECTED_FOR_FUNDS, "buying_power"),
        ("binance refused order o-1 (Account has insufficient balance).", "buying_power"),
        ("o-1: 0.0001 BTC/USDT is below the minimum quantity 0.001 (step 0.001).", "size"),
        ("o-1: notional 4.20 USDT of BTC/USDT is below the minimum 10.", "size"),
        (REJECTED_SYMBOL, "symbol"),
        ("unknown symbol", "symbol"),
        ("o-1: trailing_stop orders are not sent to binance by this adapter.", "order_type"),
        ("not found at the venue", "not_found"),
        ("stream: rejected", "venue"),
        ("Alpaca refused the submit of o-1 (HTTP 422): qty must be > 0", "other"),
    ],
)
def test_rejection_messages_fall_into_few_reasons(message: str, reason: str) -> None:
    assert rejection_reason(message) == reason


def test_round_trips_start_at_the_first_submit_and_need_the_venues_answer(
    ledger: Ledger,
) -> None:
    journal = ledger.order_journal()
    assert roundtrip_seconds(journal) == pytest.approx([0.2, 1.5])
    assert roundtrip_seconds([]) == []
    assert tuple(sorted(ROUNDTRIP_BUCKETS)) == ROUNDTRIP_BUCKETS
