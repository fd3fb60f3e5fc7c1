"""``benchmarks/strategies.py`` runs end to end on a small market and prints every row.

The full size (500 symbols x 2,520 bars) is ``make bench``'s; here the point is that the script
still runs against the registered strategies and times each of them.
"""

from __future__ import annotations

import pytest
from tests.unit.benchmarks.scripts import load_benchmark

from alphaforge.strategies import STRATEGIES


def test_small_run_times_every_daily_strategy(capsys: pytest.CaptureFixture[str]) -> None:
    bench = load_benchmark("strategies")
    code = bench.main(["--symbols", "6", "--bars", "300"])
    out = capsys.readouterr().out
    assert "latest-bar signals of" in out
    for name in STRATEGIES.names():
        strategy = STRATEGIES.get(name)()
        interval = type(strategy).interval
        if interval is not None and interval.is_intraday:
            assert f"latest bar, {name}:" not in out
        else:
            assert f"latest bar, {name}:" in out or f"{name}: skipped" in out
    assert "pair scan" in out
    assert code == 0 and "FAIL" not in out
