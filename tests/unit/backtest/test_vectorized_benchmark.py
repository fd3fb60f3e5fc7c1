"""The backtest benchmark's plain NumPy loop computes what the sweep computes.

``benchmarks/backtest.py`` times the sweep against this loop; if the two drifted apart the
ratio would compare different work. Run here on a small market (the full size is ``make
bench``'s).
"""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest
from tests.unit.benchmarks.scripts import load_benchmark


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_benchmark("backtest")


def test_plain_numpy_loop_equals_the_sweep(bench: ModuleType) -> None:
    from alphaforge.backtest.vectorized import run_vectorized
    from alphaforge.config import PortfolioConfig

    market = bench._market(6, 300)
    context = bench._context(market)
    targets = bench._grid_targets(market)
    config, schedule, label = bench._configs(participation=None)
    sweep = run_vectorized(
        market,
        targets,
        schedule,
        config,
        PortfolioConfig(constructor="target_weights"),
        context=context,
    )
    impact = "sqrt_impact" in label.split(" (")[0]
    plain = bench.plain_numpy(bench._plain_inputs(market, targets, context), impact)
    assert sweep.costs.sum() > 0
    np.testing.assert_allclose(plain, sweep.equity, rtol=1e-12, atol=0.0)


def test_benchmark_table_has_every_row(bench: ModuleType) -> None:
    rows = bench.run(symbols=4, bars=120, repeats=1)
    metrics = " | ".join(row.metric for row in rows)
    for part in ("event-driven engine", "symbol-bars/s", "plain NumPy", "vectorbt"):
        assert part in metrics or any(part in row.measured for row in rows)
    diff = next(row for row in rows if "relative equity difference" in row.metric)
    assert diff.status == "PASS"
