"""The backtest benchmark's plain NumPy loop computes what the sweep computes.

``benchmarks/backtest.py`` times the sweep against this loop; if the two drifted apart the
ratio would compare different work. Run here on a small market (the full size is ``make
bench``'s).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

BENCHMARK = Path(__file__).resolve().parents[3] / "benchmarks" / "backtest.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("backtest_benchmark", BENCHMARK)
    assert spec is not None and spec.loader is not None
    # The script imports its sibling benchmarks/table.py, as when run from there.
    if str(BENCHMARK.parent) not in sys.path:
        sys.path.insert(0, str(BENCHMARK.parent))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


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
