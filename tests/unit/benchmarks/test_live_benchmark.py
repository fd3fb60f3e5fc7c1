"""``benchmarks/live.py`` runs end to end at a tiny size and every check in it holds.

The full size (500 orders, 2,000 fills, 200 symbols x 2,520 bars) is ``make bench``'s; here the
point is that the script still drives the real gateway, ledger, Alpaca adapter, fake server and
trading node, and that what it counts (orders acknowledged, fills stored, audit rows) adds up.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from tests.unit.benchmarks.scripts import load_benchmark


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_benchmark("live")


def _row(rows: list[Any], start: str) -> Any:
    return next(r for r in rows if r.metric.startswith(start))


def test_tiny_run_measures_every_figure_and_its_checks_pass(
    bench: ModuleType, tmp_path: Path
) -> None:
    rows = bench.run(orders=6, fills=12, symbols=4, bars=300, folder=tmp_path)
    submit = _row(rows, "submit to acknowledgement, 6 market orders")
    # Latency on a shared test machine is the benchmark's business, not this test's.
    assert submit.target == "< 100" and float(submit.measured) > 0
    # Each order's time, split: three journal commits before place returns.
    # pending_submit, then submitted and accepted together (one commit per venue answer).
    assert "ledger writes (2 transactions" in _row(rows, "  per order, p50 ms").metric
    warm = bench.WARMUP_ORDERS
    assert _row(rows, "  orders accepted in the ledger").measured == f"6 / {6 + warm}"
    assert _row(rows, "  fills applied / orders placed").measured == f"{6 + warm} / {6 + warm}"
    assert _row(rows, "  fills stored / position").measured == "12 / 12 / filled"
    rate = _row(rows, "fills committed per second, 12 fills").measured
    assert float(rate.replace(",", "")) > 0
    job = _row(rows, "09:00 signal job")
    assert job.status == "PASS" and "4 symbols of us_large_cap x 300" in job.metric
    counts = _row(rows, "  bars accepted by the intake").measured.split("; ")
    assert counts[0] == "4 / 4" and counts[1] == "4 / 4" and counts[-1] == "4"
    checks = [r for r in rows if r.status and r is not submit]
    assert len(checks) == 4 and all(r.status == "PASS" for r in checks)
    # The temporary ledgers and store are gone afterwards.
    assert list(tmp_path.iterdir()) == []


def test_main_prints_the_table_and_fails_only_on_a_missed_target(
    bench: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--orders", "3", "--fills", "3", "--symbols", "3", "--bars", "300"]
    code = bench.main([*args, "--dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert "Live: 3 orders, 3 fills, 09:00 job on 3 symbols x 300 daily bars" in out
    assert "p50 / p95 / max / mean ms" in out and "decide again, warm" in out
    assert code == (1 if "FAIL" in out else 0)
