"""``/metrics``: Prometheus metrics read from the trading ledger at scrape time.

:class:`LedgerCollector` keeps nothing between scrapes: each scrape reads the ledger's order
journal, fill count, job runs and the node's heartbeat (a handful of queries), so the numbers
are the ledger's, whoever wrote them and whenever the service started. Without a ledger (no
node has run yet) or when it cannot be read, every ledger metric is served without samples and
the scrape still succeeds.

Where each number comes from:

- ``alphaforge_order_roundtrip_seconds``: per order, from its ``pending_submit`` row (written
  just before the submit is sent) to its ``submitted`` row (written when the venue's answer
  arrived), both stamped by the node's clock. An order whose answer was lost (``unknown``,
  settled later by a lookup) or refused before an acknowledgment is not counted.
- ``alphaforge_fills_total``: the ledger's fills (one per venue execution).
- ``alphaforge_order_rejections_total{reason}``: orders journalled ``rejected``, by a reason
  class of :data:`REJECTION_REASONS` (a venue's message carries ids and amounts: as a label
  it would make a series per order).
- ``alphaforge_equity_usd``, ``alphaforge_data_staleness_seconds{feed}``,
  ``alphaforge_model_inference_seconds{model}``: the node's newest heartbeat
  (``alphaforge.live.heartbeat``: ``equity_usd``, ``data_times``, ``inference_s``); staleness
  is this service's clock minus the newest data time. A heartbeat without equity gives no
  sample, never cash alone.
- ``alphaforge_heartbeat_age_seconds{node}``: how long ago each node last beat (a dead node's
  numbers stop moving; this says so).
- ``alphaforge_job_duration_seconds{job}`` (the newest finished run, done or failed) and
  ``alphaforge_job_failures_total{job}``: the scheduler's job runs.
- ``alphaforge_websocket_clients``: the service's own count, asked of a callable.
- ``alphaforge_http_request_duration_seconds{route,method,status}``: :class:`RequestMetrics`,
  observed by the app per request.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from alphaforge.service.sources import ServiceSources
from alphaforge.storage.ledger import Ledger, LedgerError
from alphaforge.storage.ledger_rows import HeartbeatRow, OrderEventRow

__all__ = [
    "REJECTION_REASONS",
    "REQUEST_BUCKETS",
    "ROUNDTRIP_BUCKETS",
    "LedgerCollector",
    "RequestMetrics",
    "build_registry",
    "rejection_reason",
    "render",
    "roundtrip_seconds",
]

log = logging.getLogger(__name__)

#: Upper bounds (seconds) of the order round-trip histogram: a venue answers in tens of
#: milliseconds to seconds; beyond 30 s the answer was as good as lost.
ROUNDTRIP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: Upper bounds (seconds) of the request-latency histogram (the benchmark's p99 goal: 0.1 s).
REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
#: Rejection reason classes and the words of a venue's or the node's message that pick them
#: (lower case, first match wins); anything else is ``other``.
REJECTION_REASONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("not_found", ("not found at the venue",)),
    ("buying_power", ("buying power", "insufficient", "balance", "funds", "margin")),
    ("size", ("minimum", "below the min", "quantity", "notional", "lot size")),
    ("symbol", ("not traded", "unknown symbol", "not tradable", "asset", "symbol")),
    ("order_type", ("order type", "orders are not sent", "replace")),
    ("price", ("price",)),
    ("market_closed", ("market is closed", "market closed", "trading halt")),
    ("rate_limit", ("rate limit", "too many requests")),
    ("venue", ("stream:",)),
)
_OTHER = "other"
#: Heartbeat detail keys written by ``alphaforge.live.heartbeat`` (the service may not import
#: the node's package; a test writes a heartbeat with that module and scrapes it here).
_EQUITY = "equity_usd"
_DATA_TIMES = "data_times"
_INFERENCE = "inference_s"
#: Job runs looked at per job for the newest finished one (skipped runs come in between).
_RUNS_PER_JOB = 20


def rejection_reason(message: str) -> str:
    """Return the class of a rejection's message (a label of bounded cardinality)."""
    text = message.lower()
    for label, words in REJECTION_REASONS:
        if any(word in text for word in words):
            return label
    return _OTHER


def roundtrip_seconds(journal: Iterable[OrderEventRow]) -> list[float]:
    """Return, per acknowledged order, seconds from its submit row to the venue's answer.

    ``journal``: order events oldest first (at least those into ``pending_submit`` and
    ``submitted``). The submit is the order's first ``pending_submit`` row; the answer its
    ``pending_submit -> submitted`` row. Negative gaps (a clock set back) count as 0.
    """
    sent: dict[str, pd.Timestamp] = {}
    seconds: list[float] = []
    for event in journal:
        if event.to_status == "pending_submit":
            sent.setdefault(event.client_id, event.time)
        elif event.to_status == "submitted" and event.from_status == "pending_submit":
            start = sent.pop(event.client_id, None)
            if start is not None:
                seconds.append(max(0.0, (event.time - start).total_seconds()))
    return seconds


@dataclass(frozen=True)
class _Readings:
    """What one scrape read from the ledger."""

    roundtrips: list[float]
    fills: int
    rejections: dict[str, int]
    job_seconds: dict[str, float]
    job_failures: dict[str, int]
    heartbeat_ages: dict[str, float]
    equity: float | None
    staleness: dict[str, float]
    inference: dict[str, float]


class LedgerCollector:
    """Prometheus collector of the trading ledger's metrics, read at each scrape.

    Parameters
    ----------
    sources
        Where the ledger is (``sources.ledger()``, None before any node ran) and the clock
        that ages heartbeats and data (UTC).
    websocket_clients
        Returns the number of WebSocket clients connected now.
    """

    def __init__(self, sources: ServiceSources, websocket_clients: Callable[[], int]) -> None:
        self.sources = sources
        self.websocket_clients = websocket_clients

    def describe(self) -> list[Metric]:
        """Return the metric families without samples (registration reads no ledger)."""
        return list(_families(None, None))

    def collect(self) -> Iterator[Metric]:
        """Read the ledger now and yield every metric family."""
        readings: _Readings | None = None
        try:
            ledger = self.sources.ledger()
            if ledger is not None:
                readings = _read(ledger, self.sources.clock.now())
        except LedgerError as exc:
            log.warning("metrics: the ledger could not be read: %s", exc.message)
        yield from _families(readings, float(self.websocket_clients()))


def _read(ledger: Ledger, now: pd.Timestamp) -> _Readings:
    """Read everything one scrape serves (UTC ``now`` ages heartbeats and data)."""
    journal = ledger.order_journal(("pending_submit", "submitted", "rejected"))
    rejections = dict.fromkeys([label for label, _ in REJECTION_REASONS] + [_OTHER], 0)
    for event in journal:
        if event.to_status == "rejected":
            rejections[rejection_reason(event.reason)] += 1
    counts = ledger.job_run_counts()
    failures: dict[str, int] = defaultdict(int)
    for (job, status), count in counts.items():
        failures[job] += count if status == "failed" else 0
    beats = sorted(ledger.heartbeats(), key=lambda beat: beat.time)
    newest = beats[-1].details if beats else {}
    equity = newest.get(_EQUITY)
    return _Readings(
        roundtrips=roundtrip_seconds(journal),
        fills=ledger.fill_count(),
        rejections=rejections,
        job_seconds=_job_seconds(ledger, sorted(failures)),
        job_failures=dict(failures),
        heartbeat_ages={b.node: max(0.0, (now - b.time).total_seconds()) for b in beats},
        equity=float(equity) if isinstance(equity, int | float) and math.isfinite(equity) else None,
        staleness={
            feed: max(0.0, (now - pd.Timestamp(stamp)).total_seconds())
            for feed, stamp in _merged(beats, _DATA_TIMES).items()
            if isinstance(stamp, str)
        },
        inference={
            model: float(s)
            for model, s in _merged(beats, _INFERENCE).items()
            if isinstance(s, int | float)
        },
    )


def _job_seconds(ledger: Ledger, jobs: Sequence[str]) -> dict[str, float]:
    """Return each job's newest finished run's duration (done or failed), seconds."""
    seconds: dict[str, float] = {}
    for job in jobs:
        for run in ledger.job_runs(job, limit=_RUNS_PER_JOB):
            if run.finished_at is not None and run.status in ("done", "failed"):
                seconds[job] = max(0.0, (run.finished_at - run.started_at).total_seconds())
                break
    return seconds


def _merged(beats: Sequence[HeartbeatRow], key: str) -> dict[str, object]:
    """Return the mapping ``key`` of the heartbeats merged, the newest beat's entries last."""
    merged: dict[str, object] = {}
    for beat in beats:
        value = beat.details.get(key)
        if isinstance(value, Mapping):
            merged.update({str(k): v for k, v in value.items()})
    return merged


def _families(readings: _Readings | None, websocket_clients: float | None) -> Iterator[Metric]:
    """Yield the collector's families; without readings, the ledger's have no samples."""
    roundtrip = HistogramMetricFamily(
        "alphaforge_order_roundtrip_seconds",
        "Seconds from an order's submit to the venue's acknowledgment (journal times).",
    )
    fills = CounterMetricFamily("alphaforge_fills", "Fills recorded in the ledger.")
    rejections = CounterMetricFamily(
        "alphaforge_order_rejections",
        "Orders rejected, by reason class.",
        labels=["reason"],
    )
    equity = GaugeMetricFamily(
        "alphaforge_equity_usd",
        "Cash plus holdings at their last close, USD, from the node's newest heartbeat.",
    )
    staleness = GaugeMetricFamily(
        "alphaforge_data_staleness_seconds",
        "Seconds since the newest data of each feed (live_feed, bars:<symbol>).",
        labels=["feed"],
    )
    job_seconds = GaugeMetricFamily(
        "alphaforge_job_duration_seconds",
        "Duration of each job's newest finished run, seconds.",
        labels=["job"],
    )
    job_failures = CounterMetricFamily(
        "alphaforge_job_failures", "Failed runs of each job.", labels=["job"]
    )
    inference = GaugeMetricFamily(
        "alphaforge_model_inference_seconds",
        "Seconds each model's last live scoring took.",
        labels=["model"],
    )
    heartbeat = GaugeMetricFamily(
        "alphaforge_heartbeat_age_seconds",
        "Seconds since each trading node's last heartbeat.",
        labels=["node"],
    )
    clients = GaugeMetricFamily(
        "alphaforge_websocket_clients", "WebSocket clients connected to the service."
    )
    if readings is not None:
        roundtrip.add_metric([], _buckets(readings.roundtrips), math.fsum(readings.roundtrips))
        fills.add_metric([], float(readings.fills))
        for reason, count in sorted(readings.rejections.items()):
            rejections.add_metric([reason], float(count))
        if readings.equity is not None:
            equity.add_metric([], readings.equity)
        for feed, seconds in sorted(readings.staleness.items()):
            staleness.add_metric([feed], seconds)
        for job, seconds in sorted(readings.job_seconds.items()):
            job_seconds.add_metric([job], seconds)
        for job, count in sorted(readings.job_failures.items()):
            job_failures.add_metric([job], float(count))
        for model, seconds in sorted(readings.inference.items()):
            inference.add_metric([model], seconds)
        for node, seconds in sorted(readings.heartbeat_ages.items()):
            heartbeat.add_metric([node], seconds)
    if websocket_clients is not None:
        clients.add_metric([], websocket_clients)
    yield from (
        roundtrip,
        fills,
        rejections,
        equity,
        staleness,
        job_seconds,
        job_failures,
        inference,
        heartbeat,
        clients,
    )


def _buckets(values: Sequence[float]) -> list[tuple[str, float]]:
    """Return cumulative ``(le, count)`` buckets of :data:`ROUNDTRIP_BUCKETS` and ``+Inf``."""
    bounds = [
        (repr(bound), float(sum(1 for v in values if v <= bound))) for bound in ROUNDTRIP_BUCKETS
    ]
    return [*bounds, ("+Inf", float(len(values)))]


class RequestMetrics:
    """The service's request latency, observed by the app after each request.

    Parameters
    ----------
    registry
        The registry the histogram is served from.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.histogram = Histogram(
            "alphaforge_http_request_duration_seconds",
            "Seconds to answer an HTTP request, by route template, method and status.",
            labelnames=("route", "method", "status"),
            buckets=REQUEST_BUCKETS,
            registry=registry,
        )

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one answered request.

        ``route`` is the matched route's template (``/api/v1/orders/{client_id}``), never the
        raw path: one series per route, not per id asked for. ``seconds``: wall time.
        """
        self.histogram.labels(route=route, method=method.upper(), status=str(status)).observe(
            seconds
        )


def build_registry(
    sources: ServiceSources, websocket_clients: Callable[[], int]
) -> tuple[CollectorRegistry, RequestMetrics]:
    """Return the service's own registry (the ledger collector registered) and its request
    metrics; the process-global default registry is not used."""
    registry = CollectorRegistry()
    registry.register(LedgerCollector(sources, websocket_clients))
    return registry, RequestMetrics(registry)


def render(registry: CollectorRegistry) -> tuple[bytes, str]:
    """Return the scrape's body (Prometheus text format) and its content type."""
    return generate_latest(registry), CONTENT_TYPE_LATEST
