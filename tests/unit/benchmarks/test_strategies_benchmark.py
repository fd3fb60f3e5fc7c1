"""``benchmarks/strategies.py`` runs end to end on a small market and times every strategy.

The full size (500 symbols x 2,520 bars) is ``make bench``'s; here the point is that the script
still runs against the registered strategies and times each of them.
"""

from __future__ import annotations

import pytest
from tests.unit.benchmarks.scripts import load_benchmark

from alphaforge.strategies import STRATEGIES


def test_small_run_times_every_daily_strategy(capsys: pytest.CaptureFixture[str]) -> None:
    bench = load_benchmark("strategies")
    rows = bench.run(6, 300)
    metrics = [row.metric for row in rows]
    assert metrics[0].startswith("latest-bar signals of") and rows[0].status == "PASS"
    for name in STRATEGIES.names():
        interval = type(STRATEGIES.get(name)()).interval
        timed = any(m.startswith(f"  latest bar, {name}:") for m in metrics)
        skipped = f"  {name}: skipped" in metrics
        if interval is not None and interval.is_intraday:
            assert not timed and not skipped
        else:
            assert timed != skipped, name
    assert any(m.startswith("  latest bar, aggregate (seed_alpaca") for m in metrics)
    assert any(m.startswith("pair scan") for m in metrics)
    assert bench.main(["--symbols", "4", "--bars", "300"]) == 0
    assert "Strategies: 4 symbols x 300 daily bars" in capsys.readouterr().out
