"""Does the demo find its planted edge for every seed, and does its control look like chance?

Run: ``.venv/bin/python benchmarks/demo_seeds.py [--seeds 5] [--first-seed 42] [--config F]``.

Runs the whole demo pipeline (:func:`alphaforge.pipeline.demo.run_demo`: new synthetic and
random-walk markets per seed, purged walk-forward, top-k book, costs on) once per seed, in a
temporary folder, and prints one row per seed: the oracle's AUC (the generator's own forecast
of each label, on the same out-of-sample rows), the model's, the control's, the edge ratio
(model AUC - 0.5 over oracle AUC - 0.5; the bar is 50 %), and the strategy's CAGR against the
equal-weight benchmark of its universe, and whether the control looks like chance (its AUC
within three null standard errors of 0.5 and its PSR before costs below 0.95; the PSR is shown).
Seeds start at 42, the demo's default, so the first row is what ``alphaforge demo`` prints.
Exit status 1 when a seed's model misses the bar. A control that does not look like chance is
reported, not failed: a leak-free control does so by luck 5 % of the time (about 23 % that one
of five does), so only a control that fails often, or by far, says anything.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from alphaforge.config import AppConfig, load_config
from alphaforge.pipeline.demo import EDGE_BAR, run_demo


def _seed_config(base: AppConfig, seed: int, folder: Path) -> AppConfig:
    """Return ``base`` with the seed set and the store and runs inside ``folder``."""
    return base.model_copy(
        update={
            "run": base.run.model_copy(update={"seed": seed, "runs_dir": folder / "runs"}),
            "data": base.data.model_copy(update={"store_dir": folder / "store"}),
        }
    )


def run_seed(base: AppConfig, seed: int) -> dict[str, Any]:
    """Run the demo for one seed and return its row of the table (numbers, not text)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        outcome = run_demo(_seed_config(base, seed, folder), out=folder / "run")
    summary = outcome.summary
    prediction = summary.prediction_metrics
    return {
        "seed": seed,
        "oracle_auc": prediction["oracle_auc"],
        "model_auc": prediction["auc"],
        "control_auc": summary.control.prediction_metrics["auc"],
        "edge_ratio": prediction["edge_ratio"],
        "cagr": summary.metrics["cagr"],
        "benchmark_cagr": summary.benchmark_metrics["cagr"],
        "control_chance": summary.control_looks_like_chance,
        "control_psr": summary.control_gross_psr,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the demo for each seed, print the table; 1 if a seed's model misses the bar."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="How many seeds to run.")
    parser.add_argument("--first-seed", type=int, default=42, help="First seed (then +1, ...).")
    parser.add_argument("--config", type=Path, default=None, help="A configuration file.")
    args = parser.parse_args(argv)
    # Each run logs to its own run.log; nothing of it belongs on the terminal beside the table.
    logging.getLogger("alphaforge").addHandler(logging.NullHandler())
    base = load_config(args.config)
    began = time.perf_counter()
    rows = [run_seed(base, args.first_seed + k) for k in range(args.seeds)]
    demo = base.demo
    table = Table(
        title=f"Demo over {args.seeds} seeds: {demo.n_symbols} synthetic stocks "
        f"{demo.start.year}-{demo.end.year}, planted signal {demo.signal_strength:.1%} of daily "
        "return variance"
    )
    for column in (
        "seed",
        "oracle AUC",
        "model AUC",
        "control AUC",
        "edge ratio",
        "CAGR",
        "equal-weight CAGR",
        "control gross PSR",
        "control like chance",
    ):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(
            str(row["seed"]),
            f"{row['oracle_auc']:.4f}",
            f"{row['model_auc']:.4f}",
            f"{row['control_auc']:.4f}",
            f"{row['edge_ratio']:.0%}",
            f"{row['cagr']:.2%}",
            f"{row['benchmark_cagr']:.2%}",
            f"{row['control_psr']:.2f}",
            "yes" if row["control_chance"] else "NO",
        )
    console = Console(width=120)
    console.print(table)
    missed = [r["seed"] for r in rows if not r["edge_ratio"] >= EDGE_BAR]
    leaky = [r["seed"] for r in rows if not r["control_chance"]]
    console.print(
        f"Edge ratio from {min(r['edge_ratio'] for r in rows):.0%} to "
        f"{max(r['edge_ratio'] for r in rows):.0%} (the bar: {EDGE_BAR:.0%}); seeds below it: "
        f"{missed or 'none'}; controls not like chance: {leaky or 'none'} (a leak-free control "
        f"is not, by luck, 5 % of the time); total runtime {time.perf_counter() - began:.0f} s."
    )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
