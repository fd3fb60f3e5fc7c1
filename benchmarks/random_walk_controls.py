"""How much a random-walk control varies from one random-walk market to the next.

Run: ``.venv/bin/python benchmarks/random_walk_controls.py [--markets 8] [--model logistic]``.

The model table (``benchmarks/model_table.py``) varies the models' seeds over one fixed
random-walk market, so its spread says nothing about the market's own draw. This script runs
the same research pipeline (purged walk-forward, top-k book, costs on) with one model on
several independent random-walk markets of the table's shape (16 symbols, 2014-2019, daily,
12-month test blocks) and prints each market's out-of-sample AUC, IC and Sharpe ratio: the
range in which a leak-free pipeline's control lands by chance.
"""

from __future__ import annotations

import argparse
import logging
import time
from datetime import date

from rich.console import Console
from rich.table import Table

from alphaforge.config import AppConfig
from alphaforge.core.types import AssetClass, Interval
from alphaforge.data.synthetic import SyntheticSpec, random_walk_market
from alphaforge.pipeline.research import run_strategy

SPEC = SyntheticSpec(
    n_symbols=16,
    n_sectors=4,
    start=date(2014, 1, 1),
    end=date(2019, 12, 31),
    interval=Interval.D1,
    asset_class=AssetClass.STOCK,
    signal_strength=0.0,
)


def main() -> None:
    """Run the pipeline on ``--markets`` random-walk markets and print one row per market."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markets", type=int, default=8, help="Random-walk markets (seeds 1..N).")
    parser.add_argument("--model", default="logistic", help="Registered model name.")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    config = AppConfig.model_validate(
        {"model": {"name": args.model}, "walk_forward": {"test_months": 12}}
    )
    began = time.perf_counter()
    table = Table(
        title=f"Random-walk controls: {args.model}, {SPEC.n_symbols} symbols x "
        f"{SPEC.start.year}-{SPEC.end.year}, one market per seed"
    )
    for column in ("market seed", "AUC", "IC", "Sharpe"):
        table.add_column(column, justify="right")
    aucs = []
    for seed in range(1, args.markets + 1):
        market = random_walk_market(SPEC, seed)
        run = run_strategy("random walk", market.bars, Interval.D1, config, seed=0)
        aucs.append(run.prediction_metrics["auc"])
        table.add_row(
            str(seed),
            f"{run.prediction_metrics['auc']:.4f}",
            f"{run.prediction_metrics['ic']:.4f}",
            f"{run.metrics['sharpe']:.2f}",
        )
    console = Console(width=120)
    console.print(table)
    console.print(
        f"AUC from {min(aucs):.4f} to {max(aucs):.4f} over {len(aucs)} markets; "
        f"total runtime {time.perf_counter() - began:.0f} s."
    )


if __name__ == "__main__":
    main()
