"""``benchmarks/service.py`` runs end to end at a tiny size and its counts add up.

The full size (100 WebSocket clients, 200 reads a second for 60 s) is ``make bench``'s; here
the point is that the script still starts the real service, node and load generator as
separate processes on 127.0.0.1, that every read, page and fill it plans is counted (answered
or failed), and that it stops by itself and leaves nothing behind. Latency on a shared test
machine is the benchmark's business, not this test's.
"""

from __future__ import annotations

import math
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from tests.unit.benchmarks.scripts import load_benchmark


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_benchmark("service")


def test_percentiles_are_measured_values_and_failures_count_as_endless(
    bench: ModuleType,
) -> None:
    values = [float(v) for v in range(101)]  # 0 .. 100 ms
    assert bench._pct(values, 99) == 99.0 and bench._pct(values, 100) == 100.0
    assert bench._pct(values, 98.5) == 99.0  # the value above, never a blend
    assert bench._pct([*values[:99], math.inf, math.inf], 99) == math.inf
    assert math.isnan(bench._pct([], 99))
    assert bench._spread([1.0, 2.0]) == "2.0 / 2.0 / 2.0 / 2.0"


def test_a_fill_a_client_never_got_is_an_endless_lag(bench: ModuleType) -> None:
    stamps = ["bench-1000000000", "bench-2000000000"]  # wall nanoseconds: 1 s and 2 s
    found: dict[str, Any] = {
        "load": {"fills": stamps},
        "clients": {"arrivals": [{stamps[0]: 1.25, stamps[1]: 2.5}, {stamps[0]: 1.5}]},
    }
    lags, missing = bench._lags(found)
    assert missing == 1
    assert lags[:3] == pytest.approx([250.0, 500.0, 500.0]) and lags[3] == math.inf


def _row(rows: list[Any], start: str) -> Any:
    return next(r for r in rows if r.metric.startswith(start))


def test_tiny_run_counts_every_read_page_and_fill_and_cleans_up(
    bench: ModuleType, tmp_path: Path
) -> None:
    settings = bench.Settings(seconds=2, idle_seconds=1, clients=3, rate=10)
    rows, notes = bench.run(settings, tmp_path)
    # Every read due was sent or counted as failed; every client listened for every fill.
    assert "reads: 20 sent, 10/s open loop over 13 routes" in _row(rows, "reads:").metric
    assert "3 clients x 4 fills" in _row(rows, "WebSocket lag").metric
    assert "2 ticks" in _row(rows, "  idle (service not running)").metric
    assert "4 ticks" in _row(rows, "  under load").metric
    assert "page loads: 2, one every 1 s" in _row(rows, "page loads").metric
    errors = _row(rows, "errors:")
    assert errors.target == "0" and (errors.status == "PASS") == (errors.measured == "0")
    assert (notes == []) == (errors.status == "PASS")
    checks = [r.status for r in rows if r.status]
    assert len(checks) == 4 and set(checks) <= {"PASS", "FAIL"}
    # The world, the ledger and the children's files are gone.
    assert list(tmp_path.iterdir()) == []


def test_main_refuses_impossible_settings(
    bench: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        bench.main(["--seconds", "0"])
    assert stop.value.code == 2 and "must be > 0" in capsys.readouterr().err
