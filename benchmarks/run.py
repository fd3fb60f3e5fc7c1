"""Time the foundation's hot paths on this machine and print a table.

Run with ``make bench``. Every number is measured here, now, as the median of several repeats.
The feature engine's own benchmark (``benchmarks/features.py``: 500 symbols x 2,520 daily bars
against its targets) runs after it; ``--quick`` runs that one on 20 symbols. The model
benchmark (``benchmarks/models.py``: 10 walk-forward folds of LightGBM through the pipeline
against the same fits made directly, and ensemble scoring latency) runs last, on 50 symbols x
2,520 daily bars (``--quick``: 20 symbols) so that it finishes in a few minutes (2 to 5 on 2
shared cores); its targets are stated for 500 symbols: run it alone with ``--symbols 500``.
The demo seeds benchmark (``benchmarks/demo_seeds.py``: the whole demo for 5 seeds, the model's
AUC against the generator's oracle and the control's against chance) runs after it, about two
minutes a seed on 2 shared cores; ``--quick`` runs one seed. The backtest benchmark
(``benchmarks/backtest.py``: the event-driven engine's symbol-bars per second on 500 symbols x
2,520 daily bars, the vectorized sweep against a plain NumPy loop, vectorbt if installed) runs
right after the first table; ``--quick`` runs it on 50 symbols.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from rich.console import Console
from rich.table import Table

import backtest as backtest_benchmark  # benchmarks/backtest.py, beside this script
import demo_seeds as demo_seeds_benchmark  # benchmarks/demo_seeds.py, beside this script
import features as feature_benchmark  # benchmarks/features.py, beside this script
import models as model_benchmark  # benchmarks/models.py, beside this script
from alphaforge.config import AppConfig
from alphaforge.core.types import AssetClass, Interval
from alphaforge.data.synthetic import SyntheticSpec, generate_market
from alphaforge.data.validation import validate_bars
from alphaforge.features import compute
from alphaforge.pipeline.research import run_strategy
from alphaforge.storage import BarStore

REPEATS = 5
#: Symbols (x 2,520 daily bars) of the model benchmark in ``make bench``, and with ``--quick``.
MODEL_SYMBOLS = 50
QUICK_MODEL_SYMBOLS = 20
#: Symbols (x 2,520 daily bars) of the backtest benchmark with ``--quick``.
QUICK_BACKTEST_SYMBOLS = 50


def _median_seconds(work: Callable[[], object], repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    """Run every benchmark and print the tables; 1 if a backtest, feature engine, model or demo
    target failed."""
    parser = argparse.ArgumentParser(description="AlphaForge benchmarks.")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"Feature benchmark on 20 symbols, not 500; model benchmark on {QUICK_MODEL_SYMBOLS}.",
    )
    args = parser.parse_args(argv)
    spec = SyntheticSpec(
        n_symbols=24,
        n_sectors=4,
        start=date(2012, 1, 1),
        end=date(2019, 12, 31),
        interval=Interval.D1,
        asset_class=AssetClass.STOCK,
        signal_strength=0.01,
    )
    market = generate_market(spec, seed=0)
    symbol = next(iter(market.bars))
    bars = market.bars[symbol]
    instrument = market.instruments[symbol]
    rows: list[tuple[str, str, float]] = []

    rows.append(
        (
            "synthetic market, 24 symbols x 8 years daily",
            "generate",
            _median_seconds(lambda: generate_market(spec, seed=1)),
        )
    )
    rows.append(
        (
            f"features, 1 symbol x {len(bars)} daily bars",
            "compute all",
            _median_seconds(lambda: compute(bars)),
        )
    )
    rows.append(
        (
            f"validation, 1 symbol x {len(bars)} daily bars",
            "validate_bars",
            _median_seconds(lambda: validate_bars(bars, instrument, Interval.D1)),
        )
    )
    with tempfile.TemporaryDirectory() as tmp:
        store = BarStore(Path(tmp))
        rows.append(
            (
                "bar store, 1 series",
                "write (atomic)",
                _median_seconds(lambda: store.write(instrument, Interval.D1, bars, source="bench")),
            )
        )
        rows.append(
            (
                "bar store, 1 series",
                "read",
                _median_seconds(lambda: store.read(symbol, Interval.D1)),
            )
        )
    config = AppConfig()
    rows.append(
        (
            "research pipeline, 24 symbols x 8 years (72 folds)",
            "run_strategy",
            _median_seconds(
                lambda: run_strategy("bench", market.bars, Interval.D1, config, seed=0), repeats=1
            ),
        )
    )

    table = Table(title="AlphaForge benchmarks (median wall time)")
    table.add_column("workload")
    table.add_column("operation")
    table.add_column("seconds", justify="right")
    for workload, operation, seconds in rows:
        table.add_row(workload, operation, f"{seconds:.4f}")
    Console().print(table)

    backtest_symbols = QUICK_BACKTEST_SYMBOLS if args.quick else backtest_benchmark.TARGET_SYMBOLS
    backtest_failed = backtest_benchmark.main(["--symbols", str(backtest_symbols)])
    symbols = 20 if args.quick else feature_benchmark.TARGET_SYMBOLS
    features_failed = feature_benchmark.main(["--symbols", str(symbols), "--jobs", "2"])
    model_symbols = QUICK_MODEL_SYMBOLS if args.quick else MODEL_SYMBOLS
    models_failed = model_benchmark.main(["--symbols", str(model_symbols)])
    demo_failed = demo_seeds_benchmark.main(["--seeds", "1" if args.quick else "5"])
    failed = (backtest_failed, features_failed, models_failed, demo_failed)
    return 1 if any(failed) else 0


if __name__ == "__main__":
    sys.exit(main())
