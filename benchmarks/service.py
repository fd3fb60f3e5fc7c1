"""Load the dashboard service on loopback: errors, read latency, page loads, live-update lag and
what the service costs the trading node's tick.

Run alone (``.venv/bin/python benchmarks/service.py``; ``--seconds 20`` for a quick look) or
through ``make bench``. Bounded: each phase stops by itself, every child process is stopped at
the end (killed after a grace period if it hangs), and nothing reaches beyond 127.0.0.1.

The world, built first in a temporary folder (``--dir`` puts it elsewhere): seeded synthetic
daily bars of a few stocks (``data/synthetic.py``, 2015) in the bar store, and a dry-run
trading ledger (SQLite, WAL) filled by :func:`~alphaforge.live.replay.replay_dry_run` replaying
the last 40 sessions through the live node (a moving-average crossover in whole units, as in
``tests/integration/test_trade_parity.py``), and a read token. No train or backtest runs: the
ML analytics, runs and predictions pages show their empty states, so their figures are a floor.
The ledger grows as the node below ticks (a fill a tick, in the idle baseline too), and what
the service recomputes from every fill (the equity curve) grows with it: later reads cost more.

Four processes, so that no two share a GIL: this one (it only starts, waits and counts), the
service (:func:`~alphaforge.service.app.create_app` under uvicorn on a free port, as ``alphaforge
serve`` runs it), the node (a writer to the ledger) and the load generator (asyncio: python
``websockets`` and ``httpx.AsyncClient``).

* node tick latency: a node-like tick, every ``--tick-interval`` seconds (0.5), does what
  ``TradingNode`` does against the ledger on a tick that trades: one filled order
  (``Ledger.record_order`` then ``Ledger.record_fill``, each its own transaction), the
  heartbeat (``Ledger.beat``) and the manual commands read (``Ledger.pending_commands``); timed
  from the first call to the last return. First for ``--idle-seconds`` with the service not
  running (the baseline), then during the load. Target: the loaded p99 exceeds the idle p99 by
  less than 20 ms. The tick's fill is also the live update whose lag is measured. Each phase
  ticks a fixed number of times, so with few ticks (``--seconds 20``: 40) p99 is about the max.
* reads: ``--rate`` (200) requests a second for ``--seconds`` (60), open loop (sent on a fixed
  schedule, not waiting for answers, so a slow server queues work as it would with real
  clients), round robin over the read routes under ``/api/v1`` (account, positions, orders,
  fills, equity, signals, models, data-health, jobs, alerts, predictions, runs, risk) with the
  bearer token; each timed from the send until the whole body is read. At most 100 reads
  wait at once (one connection each): a read due while all 100 wait is not sent and fails,
  as its user would see, rather than queueing inside the load generator. Percentiles are
  over every read due, a failed one counting as endless. Target: p99 < 100 ms. Each route is
  also timed alone on the idle service before the load (median of 3), to show where time goes.
* page loads: one page a second (``--page-interval``), cycling through every page
  (``GET /pages/<name>`` with the session cookie from ``POST /login``), each timed until the
  whole HTML is read. Target: p99 and max < 2 s. Each page is loaded once before the load
  starts (first load after start: lazy imports, caches); those times are shown, not targeted.
* WebSocket: ``--clients`` (100) connections to ``/ws`` with one-time tickets, open through
  the whole load. Lag: the node puts its wall time (``time.time_ns``, taken just before
  ``record_fill``) in each fill's execution id; each client notes the wall time the ``fill``
  message arrives; lag = arrival - stamp, over every client and fill. The service's tail reads
  the ledger every ``service.poll_interval_s`` (0.5 s), so about half that is expected on
  average and up to one interval at p99, plus the tail's own work (it recomputes the equity
  curve after every poll that found fills). Reported, no target; every client must get every
  fill (a missing one counts as endless lag and as an error).
* errors (target 0): reads, ticket requests and page loads answered with a non-2xx status or
  failing with an exception (timeout 10 s), WebSocket connections refused or closed by the
  server before the end (1013: the client fell behind), and fills that did not reach a client.

Machine assumptions: the figures come from one shared machine (2 cores in the issue's set-up,
shared with other work) on which all four processes run at once: the load generator's own
CPU competes with the service's, so the latencies are an upper bound for a service alone on
its machine. The table shows each process's CPU and the load average so a busy machine can be
told from a slow service. Wall times use ``time.perf_counter``; the lag compares
``time.time`` across processes of one machine (one clock).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from table import Row, print_table, status  # benchmarks/table.py, beside this script

TARGET_CLIENTS = 100
TARGET_RATE = 200.0
TARGET_SECONDS = 60.0
TARGET_READ_P99_MS = 100.0
TARGET_PAGE_S = 2.0
TARGET_TICK_EXTRA_MS = 20.0
#: The trading mode of the benchmark's ledger (the one replay_dry_run fills).
MODE = "dry-run"
#: Sessions replayed through the node (the rest of the year seeds it).
REPLAYED = 40
#: The read routes the load spreads over (the issue's list of reads).
READS = (
    "account",
    "positions",
    "orders",
    "fills",
    "equity",
    "signals",
    "models",
    "data-health",
    "jobs",
    "alerts",
    "predictions",
    "runs",
    "risk",
)
PAGES = ("portfolio", "predictions", "ml", "trades", "market", "risk", "runs")
#: Times each read route is timed alone on the idle service before the load (median shown).
ALONE_ROUNDS = 3
#: Seconds a request may take before it counts as an error.
REQUEST_TIMEOUT_S = 10.0
#: Reads waiting for an answer at most (one connection each); more are not sent (failed).
MAX_IN_FLIGHT = 100
#: Seconds the service and the clients get to start before the run is abandoned.
START_TIMEOUT_S = 60.0
#: Extra seconds a child may run past its planned end before it is killed.
GRACE_S = 30.0


# --------------------------------------------------------------------------- the world


def _settings(root: Path) -> dict[str, Any]:
    """The configuration of the service and the node (JSON-ready)."""
    return {
        "data": {"store_dir": str(root / "store")},
        "run": {"runs_dir": str(root / "runs")},
        "execution": {"ledger_url": f"sqlite:///{(root / 'ledger' / 'dry-run.sqlite').as_posix()}"},
        "service": {"mode": MODE},
        "strategy": {"name": "ma_crossover", "params": {"fast": 5, "slow": 15}},
        "portfolio": {"constructor": "target_weights", "units": "whole"},
        "risk": {"preset": "none"},
    }


def build_world(root: Path) -> dict[str, Any]:
    """Write the bars, the replayed ledger and a read token under ``root``; return the plan's
    world part (settings, token, the symbols and their last closes)."""
    from alphaforge.config import AppConfig
    from alphaforge.core.clock import SystemClock
    from alphaforge.core.types import AssetClass, Interval
    from alphaforge.data.synthetic import SyntheticSpec, generate_market
    from alphaforge.live.replay import replay_dry_run
    from alphaforge.service.auth import Scope, TokenStore
    from alphaforge.service.sources import SERVICE_DIR, TOKENS_FILE
    from alphaforge.storage.bar_store import BarStore

    settings = _settings(root)
    config = AppConfig.model_validate(settings)
    spec = SyntheticSpec(
        n_symbols=4,
        n_sectors=2,
        start=date(2015, 1, 1),
        end=date(2015, 12, 31),
        interval=Interval.D1,
        asset_class=AssetClass.STOCK,
    )
    market = generate_market(spec, seed=11)
    store = BarStore(config.data.store_dir)
    for symbol, frame in market.bars.items():
        store.write(market.instruments[symbol], Interval.D1, frame, source="synthetic")
    index = next(iter(market.bars.values())).index
    url = config.execution.ledger_url_for(MODE)
    replay_dry_run(market.bars, market.instruments, config, start=index[-REPLAYED], ledger_url=url)
    tokens = TokenStore(Path(config.data.store_dir) / SERVICE_DIR / TOKENS_FILE, SystemClock())
    try:
        token = tokens.create("bench", Scope.READ)
    finally:
        tokens.close()
    closes = {s: float(f["close"].iloc[-1]) for s, f in market.bars.items()}
    return {
        "settings": settings,
        "token": token,
        "ledger_url": url,
        "closes": closes,
        "poll_interval_s": config.service.poll_interval_s,
    }


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# --------------------------------------------------------------------------- child: service


def serve(plan: dict[str, Any]) -> None:
    """Run the service as ``alphaforge serve`` does (uvicorn, warnings only) until SIGINT."""
    import uvicorn

    from alphaforge.config import AppConfig
    from alphaforge.service.app import create_app

    config = AppConfig.model_validate(plan["settings"])
    app = create_app(config, mode=MODE)
    uvicorn.run(app, host="127.0.0.1", port=plan["port"], log_level="warning", access_log=False)


# --------------------------------------------------------------------------- child: node


def node(plan: dict[str, Any], phase: str, work: Path) -> None:
    """Tick for the phase's seconds; write each tick's milliseconds and fills' stamps."""
    import pandas as pd

    from alphaforge.core.orders import Fill, Order, OrderIntent, OrderStatus
    from alphaforge.storage.ledger import Ledger

    ledger = Ledger.open(plan["ledger_url"])
    closes: dict[str, float] = plan["closes"]
    symbols = sorted(closes)
    seconds = plan["idle_seconds"] if phase == "idle" else plan["seconds"]
    interval = plan["tick_interval"]
    ticks: list[float] = []
    fills: list[str] = []
    (work / f"node-{phase}.ready").touch()
    cpu = time.process_time()
    start = time.perf_counter()
    try:
        for k in range(max(1, round(seconds / interval))):
            delay = start + k * interval - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            symbol = symbols[k % len(symbols)]
            # Each symbol bought one round, sold the next: positions stay within one unit.
            quantity = 1.0 if (k // len(symbols)) % 2 == 0 else -1.0
            price = closes[symbol]
            cid = f"bench-{phase}-{k}"
            began = time.perf_counter()
            now = pd.Timestamp.now(tz="UTC")
            order = Order(
                cid,
                OrderIntent(symbol, quantity, strategy="bench-node"),
                created_at=now,
                status=OrderStatus.FILLED,
                filled_quantity=quantity,
                average_price=price,
            )
            ledger.record_order(order, "fill")
            execution = f"bench-{time.time_ns()}"
            ledger.record_fill(
                order,
                Fill(
                    cid,
                    symbol,
                    now,
                    quantity,
                    price,
                    (("commission", 1.0),),
                    "bench-node",
                    "signal",
                    execution,
                ),
            )
            ledger.beat(f"node-{MODE}", {"mode": MODE, "broker": "simulated", "state": "active"})
            ledger.pending_commands()
            ticks.append((time.perf_counter() - began) * 1e3)
            fills.append(execution)
    finally:
        ledger.close()
    out = {"ticks_ms": ticks, "fills": fills, "cpu_s": time.process_time() - cpu}
    _write_json(work / f"node-{phase}.json", out)


# --------------------------------------------------------------------------- child: load


@dataclass
class _Load:
    """What the load generator counts."""

    reads_ms: dict[str, list[float]]
    pages_ms: dict[str, list[float]]
    first_pages_ms: dict[str, float]
    alone_ms: dict[str, list[float]]
    errors: dict[str, int]
    examples: list[str]
    arrivals: list[dict[str, float]]
    connected: int = 0
    late_s: float = 0.0

    def error(self, kind: str, what: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1
        if len(self.examples) < 5:
            self.examples.append(f"{kind}: {what}"[:200])


async def _get(client: Any, path: str, load: _Load, kind: str) -> float | None:
    """GET ``path``; return its milliseconds, or None (counted as an error)."""
    began = time.perf_counter()
    try:
        # httpx's timeout is per step (pool, connect, read); this bounds the whole request.
        async with asyncio.timeout(REQUEST_TIMEOUT_S):
            answer = await client.get(path)
            await answer.aread()
    except Exception as exc:
        load.error(kind, f"{path}: {type(exc).__name__} {exc}")
        return None
    elapsed = (time.perf_counter() - began) * 1e3
    if not 200 <= answer.status_code < 300:
        load.error(kind, f"{path}: {answer.status_code} {answer.text[:100]}")
        return None
    return elapsed


async def _client(
    url: str, ticket: str, arrivals: dict[str, float], stop: asyncio.Event, load: _Load
) -> None:
    """Hold one WebSocket until ``stop``; note when each fill arrives (wall seconds)."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    try:
        async with connect(f"{url}/ws?ticket={ticket}", max_size=None) as ws:
            await ws.recv()  # hello: the client has joined the hub, later rows reach it
            load.connected += 1
            reader = asyncio.create_task(_receive(ws, arrivals))
            stopper = asyncio.create_task(stop.wait())
            await asyncio.wait({reader, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if reader.done():
                reader.result()  # raises what ended it
                load.error("websocket", "closed by the server before the end")
            reader.cancel()
            stopper.cancel()
    except ConnectionClosed as exc:
        if not stop.is_set():
            load.error("websocket", f"closed {exc.rcvd.code if exc.rcvd else '?'}")
    except Exception as exc:
        if not stop.is_set():  # refused, or failed while open
            load.error("websocket", f"{type(exc).__name__} {exc}")


async def _receive(ws: Any, arrivals: dict[str, float]) -> None:
    async for text in ws:
        arrived = time.time()
        if '"fill"' not in text:
            continue
        message = json.loads(text)
        if message["type"] == "fill":
            arrivals[message["data"]["execution_id"]] = arrived


async def _reads(client: Any, plan: dict[str, Any], load: _Load) -> None:
    """Send ``rate`` reads a second on a fixed schedule for ``seconds``."""
    rate, seconds = plan["rate"], plan["seconds"]
    pending: set[asyncio.Task[None]] = set()

    async def one(route: str) -> None:
        ms = await _get(client, f"/api/v1/{route}", load, "read")
        # A failed read counts as endless: percentiles are over every read sent.
        load.reads_ms[route].append(math.inf if ms is None else ms)

    start = time.perf_counter()
    for k in range(round(seconds * rate)):
        delay = start + k / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            load.late_s = max(load.late_s, -delay)
        route = READS[k % len(READS)]
        if k % round(5 * rate) == 0:
            _say(f"read {k}: {len(pending)} in flight, behind {load.late_s:.2f} s")
        if len(pending) >= MAX_IN_FLIGHT:
            # Every connection is waiting on the service: a read sent now would only queue
            # in this process (and slow it), so it counts as failed, as its user would see.
            load.error("read", f"/api/v1/{route}: not sent, {MAX_IN_FLIGHT} reads in flight")
            load.reads_ms[route].append(math.inf)
            continue
        task = asyncio.create_task(one(route))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if pending:  # each is bounded by REQUEST_TIMEOUT_S; this only guards against a hang
        await asyncio.wait(pending, timeout=REQUEST_TIMEOUT_S + 5.0)


async def _pages(client: Any, plan: dict[str, Any], load: _Load, first: bool) -> None:
    """Load every page once (``first``), or one page every ``page_interval`` for ``seconds``."""
    if first:
        for name in PAGES:
            ms = await _get(client, f"/pages/{name}", load, "page")
            if ms is not None:
                load.first_pages_ms[name] = ms
        return
    interval = plan["page_interval"]
    start = time.perf_counter()
    for k in range(max(1, math.floor(plan["seconds"] / interval))):
        delay = start + k * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        name = PAGES[k % len(PAGES)]
        ms = await _get(client, f"/pages/{name}", load, "page")
        load.pages_ms[name].append(math.inf if ms is None else ms)


def _say(text: str) -> None:
    """A progress line in the child's log (shown when the benchmark stops on a failure)."""
    print(f"{time.strftime('%H:%M:%S')} {text}", flush=True)


async def _wait_for(path: Path, timeout_s: float) -> bool:
    deadline = time.perf_counter() + timeout_s
    while not path.exists():
        if time.perf_counter() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def generate_load(plan: dict[str, Any], work: Path) -> None:
    """Connect the clients, then run reads and page loads while the node ticks; write the
    counts to ``load.json``."""
    import httpx

    base = f"http://127.0.0.1:{plan['port']}"
    load = _Load(
        {r: [] for r in READS},
        {p: [] for p in PAGES},
        {},
        {r: [] for r in READS},
        {},
        [],
        [],
    )
    bearer = {"Authorization": f"Bearer {plan['token']}"}
    limits = httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=MAX_IN_FLIGHT)
    timeout = httpx.Timeout(REQUEST_TIMEOUT_S)
    async with (
        httpx.AsyncClient(base_url=base, headers=bearer, limits=limits, timeout=timeout) as api,
        httpx.AsyncClient(base_url=base, timeout=timeout) as browser,
    ):
        login = await browser.post("/login", data={"token": plan["token"]})
        if login.status_code != 303 or "alphaforge_session" not in browser.cookies:
            raise SystemExit(f"login failed: {login.status_code} {login.text[:200]}")
        # Each route alone on the idle service: where a read's time goes without contention.
        for _ in range(ALONE_ROUNDS):
            for route in READS:
                ms = await _get(api, f"/api/v1/{route}", load, "read")
                load.alone_ms[route].append(math.inf if ms is None else ms)
        stop = asyncio.Event()
        clients = []
        for _ in range(plan["clients"]):
            answer = await api.post("/api/v1/ws-ticket")
            if answer.status_code != 200:
                load.error("ticket", f"{answer.status_code} {answer.text[:100]}")
                continue
            arrivals: dict[str, float] = {}
            load.arrivals.append(arrivals)
            task = asyncio.create_task(
                _client(
                    f"ws://127.0.0.1:{plan['port']}", answer.json()["ticket"], arrivals, stop, load
                )
            )
            clients.append(task)
        await _pages(browser, plan, load, first=True)
        deadline = time.perf_counter() + START_TIMEOUT_S
        while load.connected + load.errors.get("websocket", 0) < len(clients):
            if time.perf_counter() > deadline:
                break  # the missing ones count as missed fills
            await asyncio.sleep(0.05)
        _say(f"{load.connected} clients connected, pages loaded once")
        (work / "clients.ready").touch()
        if await _wait_for(work / "node-load.ready", START_TIMEOUT_S):
            await asyncio.gather(_reads(api, plan, load), _pages(browser, plan, load, first=False))
            _say("reads and page loads done")
            # The node's last fills reach the clients within a poll or two.
            await _wait_for(work / "node-load.json", plan["seconds"] + GRACE_S)
            await asyncio.sleep(4 * plan["poll_interval_s"] + 1.0)
        _say("closing the clients")
        stop.set()
        # A close waits for the server's answer; an overloaded service may not give one.
        await asyncio.wait(clients, timeout=REQUEST_TIMEOUT_S)
    out = {
        "reads_ms": load.reads_ms,
        "pages_ms": load.pages_ms,
        "first_pages_ms": load.first_pages_ms,
        "alone_ms": load.alone_ms,
        "errors": load.errors,
        "examples": load.examples,
        "arrivals": load.arrivals,
        "late_s": load.late_s,
        "cpu_s": time.process_time(),
    }
    _write_json(work / "load.json", out)


# --------------------------------------------------------------------------- orchestration


def _write_json(path: Path, value: Any) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(value), encoding="utf-8")
    tmp.replace(path)  # readers never see half a file


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _log(work: Path, role: str, *extra: str) -> Path:
    return work / f"{'-'.join((role, *extra))}.log"


def _child(role: str, work: Path, *extra: str) -> subprocess.Popen[bytes]:
    """Start this script in ``role``, its output to its log in ``work``."""
    with _log(work, role, *extra).open("wb") as log:
        command = [sys.executable, __file__, "--role", role, "--work", str(work), *extra]
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)


def _fail(work: Path, message: str, role: str, *extra: str) -> SystemExit:
    """A SystemExit naming what failed, with the end of its log (the folder is removed)."""
    path = _log(work, role, *extra)
    tail = path.read_text(errors="replace")[-3000:] if path.exists() else ""
    return SystemExit(f"{message}\n{path.name} ends:\n{tail}")


def _stop(process: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    """Interrupt ``process`` (uvicorn shuts down cleanly), kill it if it lingers."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _finish(process: subprocess.Popen[bytes], timeout_s: float, work: Path, *role: str) -> None:
    """Wait for the child ``role``; kill it and stop the benchmark when it overruns or fails."""
    try:
        code = process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise _fail(work, f"{' '.join(role)} ran past {timeout_s:.0f} s: killed", *role) from None
    if code != 0:
        raise _fail(work, f"{' '.join(role)} failed (exit {code})", *role)


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of a running process; NaN where /proc is missing."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_ready(base: str, server: subprocess.Popen[bytes], work: Path) -> None:
    import httpx

    deadline = time.perf_counter() + START_TIMEOUT_S
    while time.perf_counter() < deadline:
        if server.poll() is not None:
            raise _fail(work, "the service exited at start", "service")
        try:
            if httpx.get(f"{base}/login", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise _fail(work, f"the service did not answer within {START_TIMEOUT_S:.0f} s", "service")


def _await_file(path: Path, process: subprocess.Popen[bytes], work: Path, *role: str) -> None:
    """Wait until the child ``role`` creates ``path``; stop if it exits or is slow."""
    deadline = time.perf_counter() + START_TIMEOUT_S
    while not path.exists():
        if process.poll() is not None or time.perf_counter() > deadline:
            raise _fail(work, f"{' '.join(role)} did not get ready in time", *role)
        time.sleep(0.05)


def measure(plan: dict[str, Any], work: Path) -> dict[str, Any]:
    """Run the idle baseline, then the service under load; return every child's counts."""
    _write_json(work / "plan.json", plan)
    idle = _child("node", work, "idle")
    _finish(idle, plan["idle_seconds"] + GRACE_S, work, "node", "idle")
    started: list[subprocess.Popen[bytes]] = []
    try:
        server = _child("service", work)
        started.append(server)
        _wait_ready(f"http://127.0.0.1:{plan['port']}", server, work)
        loader = _child("load", work)
        started.append(loader)
        _await_file(work / "clients.ready", loader, work, "load")
        ticker = _child("node", work, "load")
        started.append(ticker)
        _await_file(work / "node-load.ready", ticker, work, "node", "load")
        cpu = (_cpu_s(server.pid), _cpu_s(loader.pid))
        began = time.perf_counter()
        _finish(ticker, plan["seconds"] + GRACE_S, work, "node", "load")
        cpu = (_cpu_s(server.pid) - cpu[0], _cpu_s(loader.pid) - cpu[1])
        wall = time.perf_counter() - began
        # The load generator ends by itself: its reads' deadline, a grace, the closes.
        _finish(loader, 2 * GRACE_S, work, "load")
    finally:
        for process in reversed(started):  # the clients leave before the service stops
            _stop(process)
    return {
        "idle": _read_json(work / "node-idle.json"),
        "load": _read_json(work / "node-load.json"),
        "clients": _read_json(work / "load.json"),
        "cpu": {"service": cpu[0], "load": cpu[1], "wall": wall},
        "service_log": _log(work, "service").read_text(errors="replace")[-2000:],
    }


# --------------------------------------------------------------------------- table


def _pct(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile, nearest rank upwards (a measured value; failures are inf)."""
    if not values:
        return math.nan
    return float(np.percentile(np.asarray(values, np.float64), q, method="higher"))


def _spread(values: Sequence[float]) -> str:
    """p50 / p95 / p99 / max, milliseconds."""
    return " / ".join(f"{_pct(values, q):.1f}" for q in (50, 95, 99, 100))


def _lags(found: dict[str, Any]) -> tuple[list[float], int]:
    """Milliseconds from each fill's stamp to its arrival, per client and fill (a fill that
    never arrived counts as endless); and how many never arrived."""
    lags = []
    missing = 0
    for arrivals in found["clients"]["arrivals"]:
        for execution in found["load"]["fills"]:
            arrived = arrivals.get(execution)
            if arrived is None:
                missing += 1
                lags.append(math.inf)
            else:
                lags.append(arrived * 1e3 - int(execution.removeprefix("bench-")) / 1e6)
    return lags, missing


def _ok(values: Sequence[float]) -> list[float]:
    """The measured values, failures (inf) left out."""
    return [v for v in values if math.isfinite(v)]


def _fmt(ms: float) -> str:
    return "failed" if math.isinf(ms) else f"{ms:.0f}"


def rows(plan: dict[str, Any], found: dict[str, Any]) -> list[Row]:
    """Turn the children's counts into the table."""
    clients = found["clients"]
    reads = [ms for route in READS for ms in clients["reads_ms"][route]]
    pages = [ms for name in PAGES for ms in clients["pages_ms"][name]]
    lags, missing = _lags(found)
    errors = sum(clients["errors"].values()) + missing
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(clients["errors"].items())) or "none"
    answered = len(_ok(reads))
    idle_ms, load_ms = found["idle"]["ticks_ms"], found["load"]["ticks_ms"]
    extra = _pct(load_ms, 99) - _pct(idle_ms, 99)
    read_p99 = _pct(reads, 99)
    page_p99, page_max = _pct(pages, 99), _pct(pages, 100)
    per_route = ", ".join(f"{r} {_fmt(_pct(clients['reads_ms'][r], 99))}" for r in READS)
    alone = ", ".join(f"{r} {_fmt(_pct(clients['alone_ms'][r], 50))}" for r in READS)
    first = ", ".join(f"{p} {_fmt(clients['first_pages_ms'].get(p, math.inf))}" for p in PAGES)
    cpu = found["cpu"]
    return [
        Row(
            "errors: reads, pages, tickets non-2xx or failed (10 s timeout); WebSockets "
            f"refused or dropped; fills a client missed ({kinds}; missed fills {missing})",
            f"{errors}",
            "0",
            status(errors == 0),
        ),
        Row(
            f"reads: {len(reads)} sent, {plan['rate']:g}/s open loop over {len(READS)} "
            f"routes, bearer token; {answered} answered ({answered / plan['seconds']:.0f}/s): "
            "p99 ms (a failed read counts as endless)",
            _fmt(read_p99),
            f"< {TARGET_READ_P99_MS:.0f}",
            status(read_p99 < TARGET_READ_P99_MS),
        ),
        Row("  p50 / p95 / p99 / max ms", _spread(reads), "", ""),
        Row("  the answered reads alone: p50 / p95 / p99 / max ms", _spread(_ok(reads)), "", ""),
        Row(f"  p99 ms per route under load: {per_route}", "", "", ""),
        Row(
            f"  each route alone on the idle service, median of {ALONE_ROUNDS}, ms: {alone}",
            "",
            "",
            "",
        ),
        Row(
            "  load generator behind its schedule at most, s (its own lateness, not the service's)",
            f"{clients['late_s']:.3f}",
            "",
            "",
        ),
        Row(
            f"page loads: {len(pages)}, one every {plan['page_interval']:g} s (one after "
            f"another) through {len(PAGES)} pages, session cookie, whole HTML: p99 / max ms",
            f"{_fmt(page_p99)} / {_fmt(page_max)}",
            f"< {TARGET_PAGE_S * 1e3:.0f}",
            status(page_max < TARGET_PAGE_S * 1e3 and bool(pages)),
        ),
        Row(
            f"  the {len(_ok(pages))} answered pages alone: p50 / p95 / p99 / max ms",
            _spread(_ok(pages)),
            "",
            "",
        ),
        Row(f"  first load of each page after start (not targeted), ms: {first}", "", "", ""),
        Row(
            f"WebSocket lag, fill stamped -> message at the client, {len(clients['arrivals'])} "
            f"clients x {len(found['load']['fills'])} fills (tail polls every "
            f"{plan['poll_interval_s']:g} s): p50 / p95 / p99 / max ms",
            _spread(lags),
            "",
            "",
        ),
        Row(
            f"node tick (record_order, record_fill, beat, pending_commands), every "
            f"{plan['tick_interval']:g} s: p99 under load - p99 idle, ms",
            f"{extra:+.1f}",
            f"< +{TARGET_TICK_EXTRA_MS:.0f}",
            status(extra < TARGET_TICK_EXTRA_MS),
        ),
        Row(
            f"  idle (service not running), {len(idle_ms)} ticks: p50 / p95 / p99 / max ms",
            _spread(idle_ms),
            "",
            "",
        ),
        Row(
            f"  under load, {len(load_ms)} ticks: p50 / p95 / p99 / max ms",
            _spread(load_ms),
            "",
            "",
        ),
        Row(
            "CPU during the load, % of one core: service / load generator / node "
            f"({os.cpu_count()} CPUs; load average (1 min) at the end)",
            f"{100 * cpu['service'] / cpu['wall']:.0f} / {100 * cpu['load'] / cpu['wall']:.0f}"
            f" / {100 * found['load']['cpu_s'] / cpu['wall']:.0f} ({os.getloadavg()[0]:.1f})",
            "",
            "",
        ),
    ]


@dataclass(frozen=True)
class Settings:
    """How hard and how long to load the service (seconds; rates per second)."""

    seconds: float = TARGET_SECONDS
    idle_seconds: float = 30.0
    clients: int = TARGET_CLIENTS
    rate: float = TARGET_RATE
    page_interval: float = 1.0
    tick_interval: float = 0.5


def run(settings: Settings, folder: Path | None = None) -> tuple[list[Row], list[str]]:
    """Build the world in a temporary folder, measure; return the rows and notes (the first
    errors, the end of the service's log when it logged a traceback)."""
    with tempfile.TemporaryDirectory(prefix="alphaforge-bench-service-", dir=folder) as tmp:
        root = Path(tmp)
        work = root / "work"
        work.mkdir()
        plan = {**build_world(root), "port": _free_port(), **asdict(settings)}
        found = measure(plan, work)
    examples = found["clients"]["examples"]
    notes = ["first errors:\n  " + "\n  ".join(examples)] if examples else []
    if "Traceback" in found["service_log"]:
        notes.append("the service's log ends:\n" + found["service_log"])
    return rows(plan, found), notes


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments, run the benchmark (or one of its child roles) and print the
    table; 1 if a target was missed."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=TARGET_SECONDS, help="Load duration.")
    parser.add_argument(
        "--idle-seconds",
        type=float,
        default=None,
        help="Idle baseline, service not running (default: min(30, --seconds)).",
    )
    parser.add_argument("--clients", type=int, default=TARGET_CLIENTS, help="WebSocket clients.")
    parser.add_argument("--rate", type=float, default=TARGET_RATE, help="Reads per second.")
    parser.add_argument("--page-interval", type=float, default=1.0, help="Seconds between pages.")
    parser.add_argument("--tick-interval", type=float, default=0.5, help="Seconds between ticks.")
    parser.add_argument("--dir", type=Path, default=None, help="Folder for the temporary world.")
    parser.add_argument("--role", choices=["service", "node", "load"], help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("phase", nargs="?", choices=["idle", "load"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role is not None:
        plan = _read_json(args.work / "plan.json")
        if args.role == "service":
            serve(plan)
        elif args.role == "node":
            node(plan, args.phase, args.work)
        else:
            asyncio.run(generate_load(plan, args.work))
        return 0
    idle = args.idle_seconds if args.idle_seconds is not None else min(30.0, args.seconds)
    positive = (args.seconds, idle, args.rate, args.page_interval, args.tick_interval)
    if min(positive) <= 0 or args.clients < 1:
        parser.error(
            "--seconds, --idle-seconds, --rate and the intervals must be > 0, --clients >= 1"
        )
    settings = Settings(
        args.seconds, idle, args.clients, args.rate, args.page_interval, args.tick_interval
    )
    started = time.perf_counter()
    table, notes = run(settings, args.dir)
    print_table(
        table,
        f"Service: {args.clients} WebSocket clients, {args.rate:g} reads/s, a page every "
        f"{args.page_interval:g} s, for {args.seconds:g} s on 127.0.0.1 (idle baseline "
        f"{idle:g} s); {time.perf_counter() - started:.0f} s in all",
    )
    for note in notes:
        print(note)
    return 1 if any(row.status == "FAIL" for row in table) else 0


if __name__ == "__main__":
    sys.exit(main())
