"""Time the strategies on synthetic daily bars and check the live-signal target.

Run alone (``.venv/bin/python benchmarks/strategies.py``, ``--symbols 50`` for a quick look)
or through ``make bench``. Every figure is measured here, now, on one core (process CPU time,
wall time beside it):

* latest-bar signals: what a live node computes at each close. For every registered strategy
  that runs on daily bars, its signal at the last bar from the last ``lookback`` bars (all of
  them when the history is shorter), features computed from scratch; plus the ``seed_alpaca``
  aggregate of the components that are registered (fixed weights). Target: all of them
  together for 500 symbols under 10 s on one core (seed 000 asks for 5 minutes);
* each strategy's full-history signals over ``--symbols`` x ``--bars`` (information);
* the rolling pair scan (correlation pre-filter, Engle-Granger every 21 bars) over 100
  symbols, a third of them in planted cointegrated pairs (information).

The market: seeded random walks (``features.testing.random_bars``), stocks, with the
instruments a strategy requires (``SPY``, ``^VIX``) added, and random model predictions for
the strategies that read them. A strategy whose declaration this market does not meet (forex
pairs, hourly bars) is listed as skipped, with the reason.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from table import Row, print_table, status  # benchmarks/table.py, beside this script

TARGET_SYMBOLS = 500
TARGET_BARS = 2_520
#: CPU seconds for the latest-bar signals of every daily strategy plus the aggregate.
TARGET_LATEST_SECONDS = 10.0
PAIR_SYMBOLS = 100
MODELS = ("random_forest", "xgboost", "lstm_attention", "lightgbm", "ensemble")


def _time(work: Callable[[], object]) -> tuple[float, float, object]:
    cpu, wall = time.process_time(), time.perf_counter()
    value = work()
    return time.process_time() - cpu, time.perf_counter() - wall, value


def _market(symbols: int, bars: int, extra: Sequence[str]) -> Any:
    from alphaforge.core.types import AssetClass, Instrument
    from alphaforge.features.testing import random_bars
    from alphaforge.strategies import MarketFrames

    frames = {f"S{k:03d}": random_bars(k, bars) for k in range(symbols)}
    for k, symbol in enumerate(extra):
        frames[symbol] = random_bars(10_000 + k, bars)
    instruments = {
        s: Instrument(s, AssetClass.INDEX if s.startswith("^") else AssetClass.STOCK)
        for s in frames
    }
    names = sorted(frames)
    index = next(iter(frames.values())).index
    rng = np.random.default_rng(0)
    shape = (bars, len(names))
    predictions: dict[str, pd.DataFrame] = {}
    for model in MODELS:
        up = rng.uniform(0.05, 0.9, shape)
        down = rng.uniform(0.0, 1.0, shape) * (1.0 - up)
        predictions[f"score_{model}"] = pd.DataFrame(up - down, index, names)
        predictions[f"p_BUY_{model}"] = pd.DataFrame(up, index, names)
        predictions[f"p_SELL_{model}"] = pd.DataFrame(down, index, names)
        predictions[f"p_HOLD_{model}"] = pd.DataFrame(1.0 - up - down, index, names)
    predictions["agreement"] = pd.DataFrame(rng.uniform(0.4, 1.0, shape), index, names)
    scores = predictions["score_ensemble"]
    return MarketFrames.from_bars(frames, instruments, scores=scores, predictions=predictions)


def _daily_strategies() -> dict[str, Any]:
    from alphaforge.strategies import STRATEGIES

    out = {}
    for name in STRATEGIES.names():
        strategy = STRATEGIES.get(name)()
        interval = type(strategy).interval
        if interval is None or not interval.is_intraday:
            out[name] = strategy
    return out


def _aggregate() -> Any:
    """The seed_alpaca aggregate of the registered components (fixed weights)."""
    from alphaforge.config import AggregateConfig
    from alphaforge.models.base import MODELS as MODEL_REGISTRY
    from alphaforge.strategies import STRATEGIES
    from alphaforge.strategies.aggregate import PRESETS
    from alphaforge.strategies.combined import ML_STRATEGY, combined_strategy

    weights = {
        name: weight
        for name, weight in PRESETS["seed_alpaca"].items()
        if name in STRATEGIES or (name in MODEL_REGISTRY and ML_STRATEGY in STRATEGIES)
    }
    if not weights:
        return None
    return combined_strategy(AggregateConfig(preset=None, weights=weights))


def _latest(strategy: Any, market: Any) -> tuple[float, float]:
    """CPU and wall seconds of the last bar's signal from the last ``lookback`` bars."""
    rows = min(strategy.lookback + 1, len(market.index))
    window = market.window(market.index[-rows:])
    cpu, wall, signals = _time(lambda: strategy.signals(window))
    assert len(signals.value.index) == rows  # type: ignore[attr-defined]
    return cpu, wall


def run(symbols: int, bars: int) -> list[Row]:
    """Measure every figure and return the table rows."""
    strategies = _daily_strategies()
    extra = sorted({s for strategy in strategies.values() for s in strategy.requires})
    market = _market(symbols, bars, extra)
    aggregate = _aggregate()
    rows: list[Row] = []
    skipped = 0
    latest_cpu = 0.0
    runnable: dict[str, Any] = {}
    for name, strategy in strategies.items():
        try:
            strategy.check_data(market)
        except Exception as exc:  # a declaration this market does not meet
            rows.append(Row(f"  {name}: skipped", str(exc).split(".")[0], "", ""))
            skipped += 1
            continue
        runnable[name] = strategy
    if aggregate is not None:
        runnable["aggregate (seed_alpaca, fixed)"] = aggregate
    for name, strategy in runnable.items():
        cpu, wall = _latest(strategy, market)
        latest_cpu += cpu
        rows.append(
            Row(
                f"  latest bar, {name}: CPU s (wall s), lookback {strategy.lookback} bars",
                f"{cpu:.2f} ({wall:.2f})",
                "",
                "",
            )
        )
    scaled = "" if symbols == TARGET_SYMBOLS else f" (target stated for {TARGET_SYMBOLS})"
    rows.insert(
        0,
        Row(
            f"latest-bar signals of {len(strategies) - skipped} daily strategies"
            + (" and the aggregate" if aggregate is not None else "")
            + f", {symbols} symbols: CPU s",
            f"{latest_cpu:.2f}",
            f"< {TARGET_LATEST_SECONDS:.0f}{scaled}",
            status(latest_cpu < TARGET_LATEST_SECONDS),
        ),
    )
    for name, strategy in runnable.items():
        # A fresh copy: features cached by another strategy's run would be free here.
        fresh = market.window(market.index)
        cpu, wall, _ = _time(lambda s=strategy, m=fresh: s.signals(m))
        rate = symbols * bars / cpu if cpu > 0 else float("inf")
        rows.append(
            Row(
                f"full history, {name}: CPU s (wall s); symbol-bars/s",
                f"{cpu:.2f} ({wall:.2f}); {rate:,.0f}",
                "",
                "",
            )
        )
    rows.append(_pair_scan(min(PAIR_SYMBOLS, symbols), bars))
    return rows


def _pair_scan(symbols: int, bars: int) -> Row:
    """Time the rolling pair scan on planted pairs among free walks (a third of the names in
    pairs), as the ``pairs`` strategy runs it."""
    from alphaforge.data.synthetic_pairs import planted_pairs
    from alphaforge.strategies.stat_arb import scan_pairs

    n_pairs = max(symbols // 6, 1)
    universe = planted_pairs(0, n_pairs=n_pairs, n_free=max(symbols - 2 * n_pairs, 0), n=bars)
    closes = pd.DataFrame({s: b["close"] for s, b in universe.bars.items()})
    cpu, wall, found = _time(lambda: scan_pairs(closes))
    assert isinstance(found, pd.DataFrame)
    selected = found[found["selected"]]
    pairs = selected[["y", "x"]].drop_duplicates()
    return Row(
        f"pair scan, {len(closes.columns)} symbols ({n_pairs} planted pairs) x {bars} bars, "
        "re-tested every 21 bars: CPU s (wall s); distinct pairs selected",
        f"{cpu:.2f} ({wall:.2f}); {len(pairs)}",
        "",
        "",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments, run the benchmark and print its table; 1 if a target failed."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--symbols", type=int, default=TARGET_SYMBOLS)
    parser.add_argument("--bars", type=int, default=TARGET_BARS)
    args = parser.parse_args(argv)
    if args.symbols < 2 or args.bars < 300:
        parser.error("--symbols must be >= 2, --bars >= 300")
    started = time.perf_counter()
    rows = run(args.symbols, args.bars)
    print_table(
        rows,
        f"Strategies: {args.symbols} symbols x {args.bars} daily bars (seeded, synthetic), "
        f"{time.perf_counter() - started:.0f} s in all",
    )
    return 1 if any(row.status == "FAIL" for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
