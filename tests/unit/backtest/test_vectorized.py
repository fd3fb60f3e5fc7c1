"""Golden backtests on the event-driven engine: next-open timing, missing bars, costs, metrics.

Each case gives a symbol's opens and, unless stated, builds its bars so that bar ``t`` closes
at the next printed open (its last bar closes at its own open): a position bought at bar
``t``'s open and marked at its close then earns exactly ``open[t+1] / open[t] - 1``, which is
how each expectation below is computed by hand. High and low are the open and close's max and
min; volume is large and no participation cap applies. Targets are weights decided at each
bar's close (NaN = hold), passed through unchanged, filled at the symbol's next bar's open.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alphaforge.backtest import (
    METRIC_KEYS,
    drawdown_series,
    max_drawdown,
    performance,
    run_backtest,
)
from alphaforge.backtest.costs import CostSchedule
from alphaforge.backtest.engine import EngineRun, run_engine
from alphaforge.config import BacktestConfig, PortfolioConfig
from alphaforge.core.types import AssetClass, Instrument
from alphaforge.risk import BasicRiskManager
from alphaforge.strategies import MarketFrames, Signals

NAN = math.nan
CAPITAL = 100_000.0


class _Given:
    """The signal values are the target weights (a pass-through portfolio constructor)."""

    def targets(self, signals: Signals, market: MarketFrames) -> pd.DataFrame:
        return signals.value


def _index(n: int) -> pd.DatetimeIndex:
    return pd.date_range("2024-01-01", periods=n, freq="D", tz="UTC", name="timestamp")


def _frame(rows: list[list[float]], columns: list[str] | None = None) -> pd.DataFrame:
    cols = columns or ["A", "B"][: len(rows[0])]
    return pd.DataFrame(rows, index=_index(len(rows)), columns=cols, dtype=np.float64)


def _market(opens: pd.DataFrame, closes: pd.DataFrame | None = None) -> MarketFrames:
    """Bars from opens (NaN = no bar); closes default to the next printed open."""
    bars = {}
    for symbol in opens.columns:
        o = opens[symbol].dropna()
        c = (
            closes[symbol].reindex(o.index)
            if closes is not None
            else pd.Series(np.append(o.to_numpy()[1:], o.to_numpy()[-1:]), index=o.index)
        )
        bars[str(symbol)] = pd.DataFrame(
            {
                "open": o,
                "high": np.maximum(o, c),
                "low": np.minimum(o, c),
                "close": c,
                "volume": 1e12,
            }
        )
    # No lot size: fractional units, as the weights imply.
    instruments = {s: Instrument(s, AssetClass.STOCK, lot_size=0.0) for s in bars}
    return MarketFrames.from_bars(bars, instruments)


def _run(
    opens: pd.DataFrame,
    targets: pd.DataFrame,
    *,
    commission_bps: float = 0.0,
    slippage_bps: float = 0.0,
    closes: pd.DataFrame | None = None,
) -> EngineRun:
    market = _market(opens, closes)
    config = BacktestConfig(
        initial_capital=CAPITAL,
        commission_bps=commission_bps,
        slippage_bps=slippage_bps,
        participation=None,
    )
    portfolio = PortfolioConfig(sizing="weights", units="fractional")
    return run_engine(
        market,
        Signals(targets.reindex(index=market.index, columns=market.symbols)),
        _Given(),
        BasicRiskManager(market.instruments, config.max_leverage),
        CostSchedule.from_config(config),
        config,
        portfolio,
    )


# --- golden two-asset, five-bar case --------------------------------------------------------
#
# Opens, and the closes they imply (next open; the last bar closes at its own open):
#   A opens 100, 110, 99, 108.9, 108.9    closes 110, 99, 108.9, 108.9, 108.9
#   B opens  50,  50, 55,  55,   44       closes  50, 55,  55,   44,   44
GOLDEN_OPENS = [[100.0, 50.0], [110.0, 50.0], [99.0, 55.0], [108.9, 55.0], [108.9, 44.0]]
# Targets decided at each bar's close; NaN = hold; the last bar's target is never filled.
GOLDEN_TARGETS = [[0.5, 0.5], [NAN, NAN], [1.0, -0.5], [0.0, 0.0], [0.3, 0.3]]
COST = (10.0 + 15.0) / 1e4  # commission 10 bps + slippage 15 bps of traded notional

# Bar 0: nothing to fill; equity 100,000.
# Bar 1: the (0.5, 0.5) target fills at the opens (110, 50), sized on equity 100,000:
#   A 0.5 x 100,000 / 110 = 454.5454... units, B 0.5 x 100,000 / 50 = 1,000 units;
#   traded 50,000 + 50,000 = 100,000, costs 0.0025 x 100,000 = 250, cash -250;
#   close (99, 55): 454.5454 x 99 + 1,000 x 55 = 45,000 + 55,000 -> equity 99,750.
UNITS_A1 = 0.5 * 100_000 / 110
EQ1 = -250.0 + UNITS_A1 * 99 + 1_000 * 55  # 99,750
# Bar 2: hold; close (108.9, 55): 454.5454 x 108.9 + 55,000 = 49,500 + 55,000 -> 104,250.
EQ2 = -250.0 + UNITS_A1 * 108.9 + 1_000 * 55  # 104,250
# Bar 3: (1.0, -0.5) sized at the opens (108.9, 55) on equity 104,250:
#   A 104,250 / 108.9 = 957.30 units (buys 957.30 - 454.55, notional 104,250 - 49,500 = 54,750)
#   B -0.5 x 104,250 / 55 = -947.73 units (sells 1,947.73, notional 52,125 + 55,000 = 107,125)
#   traded 161,875, costs 0.0025 x 161,875 = 404.6875;
#   close (108.9, 44): A unchanged, the short gains 947.73 x 11 = 10,425 (= 0.5 x 104,250 x 0.2)
#   -> equity 104,250 - 404.6875 + 10,425 = 114,270.3125.
TRADED3 = 54_750.0 + 107_125.0
COST3 = COST * TRADED3  # 404.6875
EQ3 = 104_250.0 - COST3 + 10_425.0  # 114,270.3125
# Bar 4: (0, 0) closes both at the opens (108.9, 44):
#   notional 957.30 x 108.9 + 947.73 x 44 = 104,250 + 41,700 = 145,950, costs 364.875;
#   the bar closes at its open -> equity 114,270.3125 - 364.875 = 113,905.4375.
TRADED4 = 104_250.0 + 41_700.0
COST4 = COST * TRADED4  # 364.875
EQ4 = EQ3 - COST4  # 113,905.4375
GOLDEN_EQUITY = [CAPITAL, EQ1, EQ2, EQ3, EQ4]


def _golden() -> EngineRun:
    return _run(
        _frame(GOLDEN_OPENS), _frame(GOLDEN_TARGETS), commission_bps=10.0, slippage_bps=15.0
    )


def test_golden_hand_numbers() -> None:
    assert pytest.approx(99_750.0, rel=1e-15) == EQ1
    assert pytest.approx(104_250.0, rel=1e-15) == EQ2
    assert pytest.approx(404.6875, rel=1e-15) == COST3
    assert pytest.approx(114_270.3125, rel=1e-15) == EQ3
    assert pytest.approx(113_905.4375, rel=1e-15) == EQ4


def test_golden_equity_costs_and_turnover() -> None:
    run = _golden()
    result = run.result
    assert list(result.equity.index) == list(_index(5))
    np.testing.assert_allclose(result.equity.to_numpy(), GOLDEN_EQUITY, rtol=1e-12)
    np.testing.assert_allclose(result.costs.to_numpy(), [0, 250, 0, COST3, COST4], rtol=1e-12)
    before = [CAPITAL, EQ1, EQ2, EQ3]
    turnover = [0.0, 100_000 / CAPITAL, 0.0, TRADED3 / EQ2, TRADED4 / EQ3]
    np.testing.assert_allclose(result.turnover.to_numpy(), turnover, rtol=1e-12)
    net = [0.0] + [a / b - 1 for a, b in zip(GOLDEN_EQUITY[1:], before, strict=True)]
    np.testing.assert_allclose(result.returns.to_numpy(), net, rtol=1e-12, atol=1e-15)
    # Before costs: bar 1 earns A -10% and B +10% on half each (0); bar 2 earns A +10% on
    # 49,500 - 4,500 = 45,000 of 99,750; bar 3 earns the short's 10,425.
    gross = [0.0, 0.0, 4_500 / EQ1, 10_425 / EQ2, 0.0]
    np.testing.assert_allclose(result.gross_returns.to_numpy(), gross, rtol=1e-12, atol=1e-15)


def test_golden_fills_are_at_the_next_opens() -> None:
    fills = _golden().fills
    got = [
        (t.day, s, round(q, 6), p)
        for t, s, q, p in fills[["timestamp", "symbol", "quantity", "price"]].itertuples(
            index=False
        )
    ]
    a3 = 104_250 / 108.9
    b3 = -0.5 * 104_250 / 55
    assert got == [
        (2, "A", round(UNITS_A1, 6), 110.0),
        (2, "B", 1_000.0, 50.0),
        (4, "A", round(a3 - UNITS_A1, 6), 108.9),
        (4, "B", round(b3 - 1_000, 6), 55.0),
        (5, "A", round(-a3, 6), 108.9),
        (5, "B", round(-b3, 6), 44.0),
    ]


def test_golden_weights_at_the_closes() -> None:
    weights = _golden().result.weights
    assert list(weights.columns) == ["A", "B"]
    # Bar 1 holds 45,000 of A and 55,000 of B on 99,750; bar 3 holds 104,250 of A and
    # -947.73 x 44 = -41,700 of B on 114,270.3125.
    expected = [
        [0.0, 0.0],
        [45_000 / EQ1, 55_000 / EQ1],
        [49_500 / EQ2, 55_000 / EQ2],
        [104_250 / EQ3, -41_700 / EQ3],
        [0.0, 0.0],
    ]
    np.testing.assert_allclose(weights.to_numpy(), expected, rtol=1e-12, atol=1e-15)


def test_golden_performance_and_cagr() -> None:
    result = _golden().result
    metrics = performance(result, 252.0, CAPITAL)
    assert set(METRIC_KEYS) <= set(metrics)
    assert set(metrics) == {*METRIC_KEYS, "total_return", "years", "periods"}
    # Five bars at 252 a year.
    years = 5 / 252
    assert metrics["periods"] == 5.0
    assert metrics["years"] == pytest.approx(years)
    assert metrics["total_return"] == pytest.approx(EQ4 / CAPITAL - 1, rel=1e-12)
    assert metrics["cagr"] == pytest.approx((EQ4 / CAPITAL) ** (252 / 5) - 1, rel=1e-12)
    assert metrics["costs"] == pytest.approx(250 + COST3 + COST4, rel=1e-12)
    turnover_total = 1.0 + TRADED3 / EQ2 + TRADED4 / EQ3
    assert metrics["turnover"] == pytest.approx(turnover_total / years, rel=1e-12)
    r = [0.0] + [a / b - 1 for a, b in zip(GOLDEN_EQUITY[1:], GOLDEN_EQUITY[:-1], strict=True)]
    mean = sum(r) / 5
    sd = math.sqrt(sum((x - mean) ** 2 for x in r) / 4)
    assert metrics["volatility"] == pytest.approx(sd * math.sqrt(252), rel=1e-9)
    assert metrics["sharpe"] == pytest.approx(mean / sd * math.sqrt(252), rel=1e-9)
    assert 0.0 <= metrics["psr"] <= 1.0
    # The worst fall from a peak: 114,270.3125 -> 113,905.4375.
    assert metrics["max_drawdown"] == pytest.approx(EQ4 / EQ3 - 1, rel=1e-12)


def test_cagr_is_total_return_over_one_year() -> None:
    opens = _frame([[100.0], [100.0], [110.0], [110.0], [110.0]], ["A"])
    targets = _frame([[1.0]] + [[NAN]] * 4, ["A"])
    result = _run(opens, targets).result
    # Bought 1,000 at bar 1's open (100), closed at 110: +10%; every other bar is flat.
    assert result.returns.tolist() == pytest.approx([0.0, 0.1, 0.0, 0.0, 0.0])
    # Five periods a year: CAGR = +10%; ten a year (half a year): 1.1 ** 2 - 1.
    assert performance(result, 5.0, CAPITAL)["cagr"] == pytest.approx(0.1)
    assert performance(result, 10.0, CAPITAL)["cagr"] == pytest.approx(1.1**2 - 1)


def test_rerun_gives_identical_result() -> None:
    a, b = _golden(), _golden()
    pd.testing.assert_series_equal(a.result.equity, b.result.equity)
    pd.testing.assert_frame_equal(a.fills, b.fills)
    pd.testing.assert_frame_equal(a.trades, b.trades)


# --- zero weights, missing bars ---------------------------------------------------------------


@pytest.mark.parametrize("fill", [0.0, NAN])
def test_flat_book_earns_nothing_and_pays_nothing(fill: float) -> None:
    rng = np.random.default_rng(0)
    opens = _frame((100 * np.exp(np.cumsum(rng.normal(0, 0.02, (10, 2)), axis=0))).tolist())
    run = _run(opens, _frame([[fill, fill]] * 10), commission_bps=5, slippage_bps=5)
    result = run.result
    assert run.fills.empty
    assert (result.returns == 0).all()
    assert (result.costs == 0).all()
    assert (result.turnover == 0).all()
    assert (result.equity == CAPITAL).all()
    assert (result.weights == 0).all().all()


def test_a_move_across_a_missing_bar_is_credited_when_the_next_bar_prints() -> None:
    # A has no bar on day 2 (its market is closed while B's trades); explicit closes:
    #   A: bar 0 100/100, bar 1 100/110, bar 2 none, bar 3 120/120, bar 4 120/120.
    opens = _frame([[100.0, 10.0], [100.0, 10.0], [NAN, 10.0], [120.0, 10.0], [120.0, 10.0]])
    closes = _frame([[100.0, 10.0], [110.0, 10.0], [NAN, 10.0], [120.0, 10.0], [120.0, 10.0]])
    targets = _frame([[1.0, 0.0], [NAN, NAN], [NAN, NAN], [NAN, NAN], [NAN, NAN]])
    result = _run(opens, targets, closes=closes).result
    # 1,000 units bought at 100: marked at 110 on bar 1, carried at that last close through
    # bar 2 (no A bar), and at 120 once A prints again.
    assert result.equity.tolist() == pytest.approx([100_000, 110_000, 110_000, 120_000, 120_000])
    assert result.gross_returns.tolist() == pytest.approx([0.0, 0.1, 0.0, 10 / 110, 0.0])


def test_no_fill_at_a_price_that_never_printed() -> None:
    # The exit is decided at bar 2's close (A at 100) but A has no bar 3: the order waits for
    # bar 4's open (50), so the position takes the -50% move that happened in the gap.
    opens = _frame(
        [[100.0, 10.0], [100.0, 10.0], [100.0, 10.0], [NAN, 10.0], [50.0, 10.0], [50.0, 10.0]]
    )
    closes = _frame(
        [[100.0, 10.0], [100.0, 10.0], [100.0, 10.0], [NAN, 10.0], [50.0, 10.0], [50.0, 10.0]]
    )
    targets = _frame([[1.0, 0.0], [NAN, NAN], [0.0, NAN], [NAN, NAN], [NAN, NAN], [NAN, NAN]])
    run = _run(opens, targets, closes=closes)
    fills = run.fills
    assert fills["timestamp"].dt.day.tolist() == [2, 5]  # bars 1 and 4 (days 2 and 5)
    assert fills["price"].tolist() == [100.0, 50.0]
    assert fills["quantity"].tolist() == pytest.approx([1_000.0, -1_000.0])
    # Traded: 100,000 at bar 1 (of 100,000 equity), 50,000 at bar 4 (of 100,000).
    assert run.result.turnover.tolist() == pytest.approx([0.0, 1.0, 0.0, 0.0, 0.5, 0.0])
    assert run.result.equity.iloc[-1] == pytest.approx(50_000.0)


# --- costs ------------------------------------------------------------------------------------


def _random_case(seed: int, n: int, m: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    opens = 100 * np.exp(np.cumsum(rng.normal(0, 0.03, (n, m)), axis=0))
    raw = rng.normal(0, 1, (n, m))
    targets = raw / np.abs(raw).sum(axis=1, keepdims=True)  # gross exposure 1
    targets[rng.random(n) < 0.4] = np.nan
    cols = [f"S{i}" for i in range(m)]
    return (
        pd.DataFrame(targets, index=_index(n), columns=cols),
        pd.DataFrame(opens, index=_index(n), columns=cols),
    )


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    n=st.integers(3, 40),
    m=st.integers(1, 5),
    # Rates a broker can quote: zero or at least 1e-6 bps (a subnormal rate rounds its cost to 0).
    low=st.just(0.0) | st.floats(1e-6, 50.0),
    extra=st.just(0.0) | st.floats(1e-6, 50.0),
)
def test_costs_are_the_rate_times_traded_notional(
    seed: int, n: int, m: int, low: float, extra: float
) -> None:
    targets, opens = _random_case(seed, n, m)
    dear = _run(opens, targets, commission_bps=low, slippage_bps=extra)
    free = _run(opens, targets)
    assert (dear.result.costs >= 0).all()
    assert (free.result.costs == 0).all()
    # Linear costs: each bar pays (commission + slippage) / 1e4 of what it traded.
    fills = dear.fills.astype({"quantity": float, "price": float})
    notional = (fills["quantity"].abs() * fills["price"]).groupby(fills["timestamp"]).sum()
    per_bar = notional.reindex(dear.result.costs.index, fill_value=0.0)
    np.testing.assert_allclose(
        dear.result.costs.to_numpy(), per_bar.to_numpy(np.float64) * (low + extra) / 1e4, rtol=1e-12
    )
    # Sized on the same equity before a rebalance, the costly book ends no higher.
    assert dear.result.equity.iloc[-1] <= free.result.equity.iloc[-1] * (1 + 1e-12)


# --- timing: no lookahead ---------------------------------------------------------------------


def _alternating_opens(n: int) -> pd.DataFrame:
    # Open-to-open moves alternate +10%, -10%, +10%, ...
    prices = [100.0]
    for i in range(n - 1):
        prices.append(prices[-1] * (1.1 if i % 2 == 0 else 0.9))
    return _frame([[p] for p in prices], ["A"])


def test_same_period_future_move_cannot_be_exploited() -> None:
    """A target decided at bar t's close cannot earn the open[t] -> open[t+1] move."""
    n = 12
    opens = _alternating_opens(n)
    o = opens["A"].to_numpy()
    move = np.append(o[1:] / o[:-1] - 1, 0.0)  # move[t] = open[t+1] / open[t] - 1
    # "Cheating" target: the sign of the move that starts at bar t's open.
    targets = _frame([[float(np.sign(x))] for x in move], ["A"])
    result = _run(opens, targets).result
    # It fills at bar t+1's open and is held over open[t+1] -> open[t+2], when the move has
    # reversed: every bar from 1 to n-2 loses 10%; the last bar closes flat at its open.
    np.testing.assert_allclose(result.gross_returns.to_numpy()[1 : n - 1], -0.1, rtol=1e-12)
    assert result.equity.iloc[-1] < CAPITAL


def test_target_earns_the_next_open_to_open_move() -> None:
    """Positive control: a target equal to the sign of open[t+2]/open[t+1]-1 earns |move|."""
    n = 12
    opens = _alternating_opens(n)
    o = opens["A"].to_numpy()
    nxt = np.zeros(n)
    nxt[: n - 2] = o[2:] / o[1:-1] - 1
    targets = _frame([[float(np.sign(x))] for x in nxt], ["A"])
    result = _run(opens, targets).result
    np.testing.assert_allclose(result.gross_returns.to_numpy()[1 : n - 1], 0.1, rtol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gross_return_is_previous_target_times_current_move(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 30
    o = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
    w = rng.uniform(-1, 1, n)
    result = _run(_frame([[x] for x in o], ["A"]), _frame([[x] for x in w], ["A"])).result
    # Bar p holds w[p-1] x equity / open[p] units from open[p] to its close open[p+1].
    expected = [w[p - 1] * (o[p + 1] / o[p] - 1) for p in range(1, n - 1)]
    np.testing.assert_allclose(result.gross_returns.to_numpy()[1 : n - 1], expected, rtol=1e-9)


# --- the opens-only wrapper ---------------------------------------------------------------------


def test_run_backtest_trades_opens_only_as_the_engine_does() -> None:
    config = BacktestConfig(initial_capital=CAPITAL, commission_bps=10.0, slippage_bps=15.0)
    result = run_backtest(_frame(GOLDEN_TARGETS), _frame(GOLDEN_OPENS), config)
    # Bars 1 to n-2 of the golden case (the first has no decision, the last no next open).
    assert list(result.equity.index) == list(_index(5)[1:4])
    np.testing.assert_allclose(result.equity.to_numpy(), [EQ1, EQ2, EQ3], rtol=1e-12)
    np.testing.assert_allclose(result.costs.to_numpy(), [250.0, 0.0, COST3], rtol=1e-12)


def test_run_backtest_waits_for_a_printed_open() -> None:
    opens = _frame([[100.0], [100.0], [100.0], [NAN], [50.0], [50.0], [50.0]], ["A"])
    targets = _frame([[1.0], [NAN], [0.0], [NAN], [NAN], [NAN], [NAN]], ["A"])
    result = run_backtest(targets, opens, BacktestConfig(commission_bps=0.0, slippage_bps=0.0))
    # Bought 1,000 at 100 on bar 1; the exit decided at bar 2 fills at bar 4's open (50).
    # Bar 2 closes at the next printed open (50), so the loss shows there; bar 3 has no bar
    # and trades nothing; bar 4 sells 50,000 of a 50,000 equity: turnover 1.0 again.
    assert result.turnover.tolist() == pytest.approx([1.0, 0.0, 0.0, 1.0, 0.0])
    assert result.equity.iloc[-1] == pytest.approx(50_000.0)


def test_misaligned_frames_are_refused() -> None:
    opens = _frame(GOLDEN_OPENS)
    with pytest.raises(ValueError, match="share index and columns"):
        run_backtest(_frame(GOLDEN_TARGETS).iloc[:-1], opens, BacktestConfig())
    renamed = _frame(GOLDEN_TARGETS).rename(columns={"B": "C"})
    with pytest.raises(ValueError, match="share index and columns"):
        run_backtest(renamed, opens, BacktestConfig())


# --- drawdown ---------------------------------------------------------------------------------


def test_max_drawdown_hand_case() -> None:
    equity = pd.Series([100.0, 120.0, 90.0, 130.0, 65.0, 140.0])
    # Peaks 120 -> 90 (-25%), 130 -> 65 (-50%).
    assert max_drawdown(equity) == pytest.approx(-0.5)
    np.testing.assert_allclose(
        drawdown_series(equity).to_numpy(), [0, 0, -0.25, 0, -0.5, 0], atol=1e-15
    )


def test_max_drawdown_of_a_rising_curve_is_zero() -> None:
    assert max_drawdown(pd.Series([1.0, 2.0, 3.0])) == 0.0


def test_max_drawdown_of_empty_is_nan() -> None:
    assert math.isnan(max_drawdown(pd.Series([], dtype=float)))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(1.0, 1e6), min_size=1, max_size=50))
def test_max_drawdown_is_between_minus_one_and_zero(values: list[float]) -> None:
    equity = pd.Series(values)
    dd = max_drawdown(equity)
    assert -1.0 < dd <= 0.0
    # Brute force over every (peak, later trough) pair.
    worst = min(
        (values[j] / values[i] - 1 for i in range(len(values)) for j in range(i, len(values))),
        default=0.0,
    )
    assert dd == pytest.approx(min(worst, 0.0), abs=1e-12)


def test_performance_drawdown_counts_a_loss_in_the_first_traded_bar() -> None:
    """Equity starts at the initial capital: losing 20% on the first traded bar and then
    staying flat is a 20% drawdown."""
    opens = _frame([[100.0], [100.0], [80.0], [80.0], [80.0], [80.0]], ["A"])
    targets = _frame([[1.0], [0.0], [NAN], [NAN], [NAN], [NAN]], ["A"])
    result = _run(opens, targets).result
    # Bought at 100 on bar 1, marked at its close (the next open, 80), sold at 80 on bar 2.
    assert result.equity.tolist() == pytest.approx([100_000.0] + [80_000.0] * 5)
    assert performance(result, 252.0, CAPITAL)["max_drawdown"] == pytest.approx(-0.2)
