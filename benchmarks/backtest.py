"""Time the backtests on synthetic daily bars and check them against their targets.

Run alone (``.venv/bin/python benchmarks/backtest.py``, ``--symbols 50`` for a quick look) or
through ``make bench``. Every figure is measured here, now, on one core (the engine and the
sweep are single-threaded; process CPU time is what the rates are computed from, with wall
time beside it, since other processes on the machine inflate wall time only):

* the event-driven engine (``run_engine``) on an SMA(10, 20) long/short crossover over
  ``--symbols`` x ``--bars`` daily bars, ``target_weights`` book, whole units, risk
  checks on (``BasicRiskManager``: lot rounding and buying power), the default 10 %
  participation cap, costs ``linear`` + ``sqrt_impact`` (sigma and ADV of the 20 bars before
  each bar); throughput in symbol-bars per second (one run, as a user's run: nothing warmed);
* the vectorized sweep (``run_vectorized``) on a 3 x 3 MA crossover grid (fast 5, 10, 15 x
  slow 20, 30, 50) over the same bars, against a plain NumPy loop written here that does the
  same accounting with the cost formulas inlined (both get the same targets; the equity
  curves are compared too);
* vectorbt on the same grid, when it is installed (optional; ``make test`` does not install
  it).

The engine is timed twice: with the base checks only, and with ``risk.preset: spec`` on (its
per-bar inputs, like the cost context, are built before the timing).

Targets are stated for 500 symbols x 2,520 bars: engine >= 500,000 symbol-bars/s (both runs);
sweep within
3x of the plain NumPy loop.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from table import Row, print_table  # benchmarks/table.py, beside this script

#: The sizes the targets are stated for.
TARGET_SYMBOLS = 500
TARGET_BARS = 2_520
#: Symbol-bars per second of the event-driven engine on one core.
TARGET_ENGINE_RATE = 500_000.0
#: Sweep time over the plain NumPy loop's.
TARGET_SWEEP_RATIO = 3.0
FAST = (5, 10, 15)
SLOW = (20, 30, 50)
CAPITAL = 1_000_000.0
LINEAR_BPS = (1.0, 5.0)  # commission, slippage
PERCENT_RATE = 0.0005
IMPACT_K = 1.0
IMPACT_FALLBACK_BPS = 10.0


@dataclass(frozen=True, slots=True)
class Timing:
    """CPU and wall seconds of one piece of work."""

    cpu: float
    wall: float


def _time(work: Callable[[], object], repeats: int = 1) -> tuple[Timing, object]:
    """Return the fastest of ``repeats`` runs (by CPU time) and the last run's value."""
    best: Timing | None = None
    value: object = None
    for _ in range(repeats):
        cpu, wall = time.process_time(), time.perf_counter()
        value = work()
        timing = Timing(time.process_time() - cpu, time.perf_counter() - wall)
        if best is None or timing.cpu < best.cpu:
            best = timing
    assert best is not None
    return best, value


# --------------------------------------------------------------------------- inputs


def _market(symbols: int, bars: int) -> Any:
    from alphaforge.core.types import AssetClass, Instrument
    from alphaforge.features.testing import random_bars
    from alphaforge.strategies import MarketFrames

    frames = {f"S{k:03d}": random_bars(k, bars) for k in range(symbols)}
    instruments = {s: Instrument(s, AssetClass.STOCK) for s in frames}
    return MarketFrames.from_bars(frames, instruments)


def _context(market: Any) -> dict[str, pd.DataFrame]:
    """Sigma of daily log returns and mean volume over the 20 bars before each bar."""
    returns = np.log(market.close).diff()
    return {
        "sigma_daily": returns.rolling(20, min_periods=20).std().shift(1),
        "adv": market.volume.rolling(20, min_periods=20).mean().shift(1),
    }


def _costs() -> tuple[list[Any], str]:
    """Return the stock cost models the targets are stated for, linear + sqrt_impact, and
    their label."""
    from alphaforge.config import CostModelConfig

    linear = CostModelConfig(
        name="linear", params={"commission_bps": LINEAR_BPS[0], "slippage_bps": LINEAR_BPS[1]}
    )
    impact = CostModelConfig(
        name="sqrt_impact", params={"k": IMPACT_K, "fallback_bps": IMPACT_FALLBACK_BPS}
    )
    return [linear, impact], "linear + sqrt_impact"


def _configs(participation: float | None) -> tuple[Any, Any, str]:
    from alphaforge.config import BacktestConfig
    from alphaforge.core.types import AssetClass

    models, label = _costs()
    config = BacktestConfig(
        initial_capital=CAPITAL, costs={AssetClass.STOCK: models}, participation=participation
    )
    from alphaforge.backtest.costs import CostSchedule

    return config, CostSchedule.from_config(config), label


def _grid_targets(market: Any) -> list[pd.DataFrame]:
    from alphaforge.config import PortfolioConfig, StrategyConfig
    from alphaforge.portfolio import create_constructor
    from alphaforge.strategies import create_strategy

    constructor = create_constructor(PortfolioConfig(constructor="target_weights"))
    out = []
    for fast, slow in itertools.product(FAST, SLOW):
        params = {"fast": fast, "slow": slow, "mode": "long_short"}
        strategy = create_strategy(StrategyConfig(name="ma_crossover", params=params))
        out.append(constructor.targets(strategy.signals(market), market))
    return out


# --------------------------------------------------------------------------- the engine


def _engine(
    market: Any, context: dict[str, pd.DataFrame], preset: str | None = None
) -> tuple[Timing, Any, str]:
    """Time one engine run; with ``preset``, the risk preset's sizers, limits, stops and
    breakers are on (their per-bar inputs are built before the timing, as the cost context is).
    """
    from alphaforge.backtest.engine import run_engine
    from alphaforge.backtest.risk_bridge import RiskInputs
    from alphaforge.config import PortfolioConfig, RiskConfig, StrategyConfig
    from alphaforge.portfolio import create_constructor
    from alphaforge.risk import BasicRiskManager
    from alphaforge.risk.setup import resolve
    from alphaforge.strategies import create_strategy

    config, schedule, label = _configs(participation=0.1)
    # Whole units: the risk layer's lot rounding has nothing to cut (no audit row per order).
    portfolio = PortfolioConfig(constructor="target_weights", units="whole")
    params = {"fast": 10, "slow": 20, "mode": "long_short"}
    signals = create_strategy(StrategyConfig(name="ma_crossover", params=params)).signals(market)
    setup = resolve(portfolio, RiskConfig(preset=preset)) if preset else None
    inputs = RiskInputs.build(market) if setup else None

    def work() -> Any:
        risk: Any = BasicRiskManager(market.instruments, config.max_leverage)
        if setup is not None:
            risk = setup.manager(market.instruments, config.max_leverage)
        return run_engine(
            market,
            signals,
            create_constructor(portfolio),
            risk,
            schedule,
            config,
            portfolio,
            sizers=setup.sizers if setup else (),
            inputs=inputs,
            context=context,
        )

    timing, run = _time(work)
    return timing, run, label


# --------------------------------------------------------------------------- the sweep


def _sweep(
    market: Any, targets: list[pd.DataFrame], context: dict[str, pd.DataFrame], repeats: int
) -> tuple[Timing, np.ndarray]:
    from alphaforge.backtest.vectorized import run_vectorized
    from alphaforge.config import PortfolioConfig

    config, schedule, _ = _configs(participation=None)
    portfolio = PortfolioConfig(constructor="target_weights")

    def work() -> np.ndarray:
        sweep = run_vectorized(
            market, targets, schedule, config, portfolio, context=context, keep_positions=False
        )
        return sweep.equity

    timing, equity = _time(work, repeats)
    return timing, np.asarray(equity)


def _plain_inputs(
    market: Any, targets: list[pd.DataFrame], context: dict[str, pd.DataFrame]
) -> dict[str, np.ndarray]:
    """The arrays the plain loop reads (built outside its timing, as the sweep's are not)."""
    index, symbols = market.index, market.symbols
    return {
        "open": market.open.to_numpy(np.float64),
        "close": market.close.to_numpy(np.float64),
        "targets": np.stack(
            [t.reindex(index=index, columns=symbols).to_numpy(np.float64) for t in targets],
            axis=1,
        ),
        "sigma": context["sigma_daily"].reindex(index=index, columns=symbols).to_numpy(),
        "adv": context["adv"].reindex(index=index, columns=symbols).to_numpy(),
    }


def plain_numpy(arrays: dict[str, np.ndarray], impact: bool) -> np.ndarray:
    """Return equity (sets x bars) of the engine's next-open accounting, written directly.

    Targets decided at a close fill at the symbol's next bar's open, sized on equity marked at
    the fill prices; costs are linear bps plus either square-root impact (``impact``) or a
    percent commission, paid from cash; a symbol whose bars end early is closed at its last
    close; positions are marked at each close.
    """
    o, c, targets = arrays["open"], arrays["close"], arrays["targets"]
    sigma, adv = arrays["sigma"], arrays["adv"]
    n, p, m = targets.shape
    active = np.isfinite(o) & np.isfinite(c) & (o > 0) & (c > 0)
    last_bar = n - 1 - active[::-1].argmax(axis=0)
    linear = (LINEAR_BPS[0] + LINEAR_BPS[1]) / 1e4
    quantity = np.zeros((p, m))
    cash = np.full(p, CAPITAL)
    last = np.full(m, np.nan)
    pending = np.full((p, m), np.nan)
    equity = np.zeros((p, n))

    def cost(q: np.ndarray, price: np.ndarray, t: int) -> np.ndarray:
        notional = np.abs(q) * price
        if not impact:
            return notional * (linear + PERCENT_RATE)
        s, a = sigma[t], adv[t]
        known = np.isfinite(s) & np.isfinite(a) & (a > 0)
        rate = np.where(
            known,
            IMPACT_K * np.where(known, s, 0.0) * np.sqrt(np.abs(q) / np.where(known, a, 1.0)),
            IMPACT_FALLBACK_BPS / 1e4,
        )
        return notional * (linear + rate)

    for t in range(n):
        act = active[t]
        due = np.isfinite(pending) & act
        if due.any():
            price = np.where(act, o[t], np.nan)
            marks = np.where(due, price, last)
            eq = cash + np.where(quantity != 0, quantity * marks, 0.0).sum(axis=1)
            target = np.where(due, pending * eq[:, None] / np.where(due, price, 1.0), quantity)
            delta = target - quantity
            trade = due & (np.abs(delta) > 1e-12 * np.maximum(np.abs(target), 1.0))
            delta = np.where(trade, delta, 0.0)
            px = np.where(trade, price, 0.0)
            cash -= (delta * px).sum(axis=1) + np.where(trade, cost(delta, px, t), 0.0).sum(axis=1)
            after = quantity + delta
            after[np.abs(after) < 1e-12 * np.maximum(np.abs(delta), 1.0)] = 0.0
            quantity = np.where(trade, after, quantity)
            pending[due] = np.nan
        if t < n - 1:
            ending = act & (last_bar == t) & (quantity != 0)
            if ending.any():
                close_px = np.where(ending, c[t], 0.0)
                sold = np.where(ending, -quantity, 0.0)
                cash -= (sold * close_px).sum(axis=1) + np.where(
                    ending, cost(sold, close_px, t), 0.0
                ).sum(axis=1)
                quantity = np.where(ending, 0.0, quantity)
        last = np.where(act, c[t], last)
        equity[:, t] = cash + np.where(quantity != 0, quantity * np.nan_to_num(last), 0.0).sum(1)
        row = targets[t]
        decide = np.isfinite(row) & act
        pending = np.where(decide, row, pending)
    return equity


# --------------------------------------------------------------------------- vectorbt


def _vectorbt(market: Any, targets: list[pd.DataFrame], repeats: int) -> Timing | str:
    """Time vectorbt's ``from_orders`` on the grid (target percent at the next open)."""
    try:
        import vectorbt as vbt
    except ImportError:
        return "not installed (skipped)"
    try:
        labels = [f"{f}/{s}" for f, s in itertools.product(FAST, SLOW)]
        # A target decided at t's close is an order at t+1's open.
        size = pd.concat(
            [t.shift(1) for t in targets], axis=1, keys=labels, names=["params", "symbol"]
        )
        price = pd.concat([market.open] * len(targets), axis=1, keys=labels)
        close = pd.concat([market.close] * len(targets), axis=1, keys=labels)
        price.columns = close.columns = size.columns
        fees = (LINEAR_BPS[0] + LINEAR_BPS[1]) / 1e4 + PERCENT_RATE

        def work() -> object:
            return vbt.Portfolio.from_orders(
                close=close,
                size=size,
                size_type="targetpercent",
                price=price,
                fees=fees,
                init_cash=CAPITAL,
                cash_sharing=True,
                group_by="params",
                call_seq="auto",
            ).value()

        timing, _ = _time(work, repeats)
        return timing
    except Exception as exc:  # an optional comparison: report, never fail the benchmark
        return f"failed: {type(exc).__name__}: {exc}"[:80]


# --------------------------------------------------------------------------- table


def run(symbols: int, bars: int, repeats: int) -> list[Row]:
    """Build the market, time every piece and return the table rows."""
    scale = symbols * bars / (TARGET_SYMBOLS * TARGET_BARS)
    scaled = "" if scale == 1 else " (other size)"
    market = _market(symbols, bars)
    context = _context(market)
    symbol_bars = symbols * bars
    rows: list[Row] = []

    engine_time, engine_run, cost_label = _engine(market, context)
    rate = symbol_bars / engine_time.cpu
    rows.append(
        Row(
            f"event-driven engine, MA(10, 20) long/short, {cost_label}, risk checks on: "
            "symbol-bars/s (CPU)",
            f"{rate:,.0f}",
            f">= {TARGET_ENGINE_RATE:,.0f}{scaled}",
            "PASS" if rate >= TARGET_ENGINE_RATE else "FAIL",
        )
    )
    rows.append(
        Row(
            "  engine run: CPU s / wall s; fills; audit rows",
            f"{engine_time.cpu:.2f} / {engine_time.wall:.2f}; {len(engine_run.fills):,}; "
            f"{len(engine_run.audit):,}",
            "",
            "",
        )
    )

    spec_time, spec_run, _ = _engine(market, context, preset="spec")
    spec_rate = symbol_bars / spec_time.cpu
    rows.append(
        Row(
            "event-driven engine, the same with risk.preset spec (Kelly, liquidity, position, "
            "sector, heat, leverage, ATR stops, daily loss breaker): symbol-bars/s (CPU)",
            f"{spec_rate:,.0f}",
            f">= {TARGET_ENGINE_RATE:,.0f}{scaled}",
            "PASS" if spec_rate >= TARGET_ENGINE_RATE else "FAIL",
        )
    )
    rows.append(
        Row(
            "  engine run with spec: CPU s / wall s; fills; audit rows",
            f"{spec_time.cpu:.2f} / {spec_time.wall:.2f}; {len(spec_run.fills):,}; "
            f"{len(spec_run.audit):,}",
            "",
            "",
        )
    )

    targets = _grid_targets(market)
    sweep_time, sweep_equity = _sweep(market, targets, context, repeats)
    arrays = _plain_inputs(market, targets, context)
    impact = "sqrt_impact" in cost_label.split(" (")[0]
    plain_time, plain_equity = _time(lambda: plain_numpy(arrays, impact), repeats)
    assert isinstance(plain_equity, np.ndarray)
    ratio = sweep_time.cpu / plain_time.cpu
    grid = f"{len(FAST)} x {len(SLOW)} MA grid"
    rows.append(
        Row(
            f"vectorized sweep, {grid}: CPU s (wall s)",
            f"{sweep_time.cpu:.2f} ({sweep_time.wall:.2f})",
            "",
            "",
        )
    )
    rows.append(
        Row(
            f"plain NumPy loop, {grid}: CPU s (wall s)",
            f"{plain_time.cpu:.2f} ({plain_time.wall:.2f})",
            "",
            "",
        )
    )
    rows.append(
        Row(
            "vectorized sweep / plain NumPy (CPU time)",
            f"{ratio:.2f}x",
            f"<= {TARGET_SWEEP_RATIO:.0f}x{scaled}",
            "PASS" if ratio <= TARGET_SWEEP_RATIO else "FAIL",
        )
    )
    diff = float(np.max(np.abs(sweep_equity / plain_equity - 1.0)))
    rows.append(
        Row(
            "  largest relative equity difference, sweep vs plain NumPy",
            f"{diff:.1e}",
            "<= 1e-09",
            "PASS" if diff <= 1e-9 else "FAIL",
        )
    )
    sweep_rate = symbol_bars * len(targets) / sweep_time.cpu
    rows.append(
        Row("  sweep throughput: symbol-bars x sets / s (CPU)", f"{sweep_rate:,.0f}", "", "")
    )
    vbt = _vectorbt(market, targets, repeats)
    if isinstance(vbt, Timing):
        rows.append(
            Row(
                "vectorized sweep / vectorbt from_orders (CPU time; fees as one flat rate)",
                f"{sweep_time.cpu / vbt.cpu:.2f}x ({vbt.cpu:.2f} s)",
                "",
                "",
            )
        )
    else:
        rows.append(Row("vectorbt", vbt, "", ""))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments, run the benchmark and print its table; 1 if a target failed."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--symbols", type=int, default=TARGET_SYMBOLS)
    parser.add_argument("--bars", type=int, default=TARGET_BARS)
    parser.add_argument("--repeats", type=int, default=3, help="Sweep and NumPy runs; best counts.")
    args = parser.parse_args(argv)
    if args.symbols < 1 or args.bars < 60 or args.repeats < 1:
        parser.error("--symbols must be >= 1, --bars >= 60, --repeats >= 1")
    started = time.perf_counter()
    rows = run(args.symbols, args.bars, args.repeats)
    print_table(
        rows,
        f"Backtest: {args.symbols} symbols x {args.bars} daily bars (seeded, synthetic), "
        f"{time.perf_counter() - started:.0f} s in all",
    )
    return 1 if any(row.status == "FAIL" for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
