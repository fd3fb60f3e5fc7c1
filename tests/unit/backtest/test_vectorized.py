"""The vectorized backtest: golden numbers, costs, timing (no lookahead) and metrics."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alphaforge.backtest import (
    METRIC_KEYS,
    BacktestResult,
    drawdown_series,
    max_drawdown,
    performance,
    run_backtest,
)
from alphaforge.config import BacktestConfig

NAN = math.nan
CAPITAL = 100_000.0


def _index(n: int) -> pd.DatetimeIndex:
    return pd.date_range("2024-01-01", periods=n, freq="D", tz="UTC", name="timestamp")


def _frame(rows: list[list[float]], columns: list[str] | None = None) -> pd.DataFrame:
    cols = columns or ["A", "B"][: len(rows[0])]
    return pd.DataFrame(rows, index=_index(len(rows)), columns=cols, dtype=np.float64)


# --- golden two-asset, five-bar case --------------------------------------------------------
#
# Open-to-open returns r[p] = open[p+1] / open[p] - 1:
#   A: +10%, -10%, +10%, 0%          B: 0%, +10%, 0%, -20%
GOLDEN_OPENS = [[100.0, 50.0], [110.0, 50.0], [99.0, 55.0], [108.9, 55.0], [108.9, 44.0]]
# Targets decided at each bar's close; NaN = keep positions; the last bar's target is never used.
GOLDEN_TARGETS = [[0.5, 0.5], [NAN, NAN], [1.0, -0.5], [0.0, 0.0], [0.3, 0.3]]
COST = (10.0 + 15.0) / 1e4  # commission 10 bps + slippage 15 bps


def _golden() -> BacktestResult:
    config = BacktestConfig(initial_capital=CAPITAL, commission_bps=10.0, slippage_bps=15.0)
    return run_backtest(_frame(GOLDEN_TARGETS), _frame(GOLDEN_OPENS), config)


def test_golden_periods_are_bars_one_to_three() -> None:
    result = _golden()
    assert list(result.returns.index) == list(_index(5)[1:4])
    for series in (result.gross_returns, result.turnover, result.costs, result.equity):
        assert series.index.equals(result.returns.index)


def test_golden_weights_and_turnover() -> None:
    result = _golden()
    # Period 1 (bar 1): trade target of bar 0 from flat -> turnover 0.5 + 0.5.
    # It earns r[1] = (-10%, +10%): gross 0 and weights drift to (0.45, 0.55).
    # Period 2: hold (NaN target); earns r[2] = (+10%, 0): gross 0.045, weights drift to
    # (0.495, 0.55) / 1.045.
    # Period 3: trade to (1.0, -0.5) from the drifted weights.
    drifted = (0.495 / 1.045, 0.55 / 1.045)
    turnover3 = abs(1.0 - drifted[0]) + abs(-0.5 - drifted[1])
    np.testing.assert_allclose(result.turnover.to_numpy(), [1.0, 0.0, turnover3], atol=1e-14)
    np.testing.assert_allclose(
        result.weights.to_numpy(), [[0.5, 0.5], [0.45, 0.55], [1.0, -0.5]], atol=1e-14
    )
    assert list(result.weights.columns) == ["A", "B"]


def test_golden_returns_costs_and_equity() -> None:
    result = _golden()
    drifted = (0.495 / 1.045, 0.55 / 1.045)
    turnover3 = abs(1.0 - drifted[0]) + abs(-0.5 - drifted[1])
    # Period 3 earns r[3] = (0, -20%) on (1.0, -0.5): gross +10%.
    gross = [0.0, 0.045, 0.1]
    np.testing.assert_allclose(result.gross_returns.to_numpy(), gross, atol=1e-14)
    # Costs are paid on the equity before the trade; the rest earns the period's return.
    eq0 = CAPITAL
    cost1 = 1.0 * COST * eq0  # 250
    eq1 = (eq0 - cost1) * (1 + 0.0)  # 99_750
    cost2 = 0.0
    eq2 = (eq1 - cost2) * (1 + 0.045)  # 104_238.75
    cost3 = turnover3 * COST * eq2
    eq3 = (eq2 - cost3) * (1 + 0.1)
    assert cost1 == pytest.approx(250.0)
    assert eq2 == pytest.approx(104_238.75)
    np.testing.assert_allclose(result.costs.to_numpy(), [cost1, cost2, cost3], rtol=1e-12)
    np.testing.assert_allclose(result.equity.to_numpy(), [eq1, eq2, eq3], rtol=1e-12)
    np.testing.assert_allclose(
        result.returns.to_numpy(), [eq1 / eq0 - 1, eq2 / eq1 - 1, eq3 / eq2 - 1], atol=1e-14
    )


def test_golden_performance_and_cagr() -> None:
    result = _golden()
    eq3 = float(result.equity.iloc[-1])
    # Three periods at 252 per year.
    years = 3 / 252
    metrics = performance(result, 252.0, CAPITAL)
    assert set(METRIC_KEYS) <= set(metrics)
    assert set(metrics) == {*METRIC_KEYS, "total_return", "years", "periods"}
    assert metrics["periods"] == 3.0
    assert metrics["years"] == pytest.approx(years)
    assert metrics["total_return"] == pytest.approx(eq3 / CAPITAL - 1)
    assert metrics["cagr"] == pytest.approx((eq3 / CAPITAL) ** (252 / 3) - 1, rel=1e-12)
    assert metrics["costs"] == pytest.approx(float(result.costs.sum()))
    turnover_total = float(result.turnover.sum())
    assert metrics["turnover"] == pytest.approx(turnover_total / years)
    r = result.returns.to_numpy()
    mean = sum(r) / 3
    sd = math.sqrt(sum((x - mean) ** 2 for x in r) / 2)
    assert metrics["volatility"] == pytest.approx(sd * math.sqrt(252))
    assert metrics["sharpe"] == pytest.approx(mean / sd * math.sqrt(252))
    assert 0.0 <= metrics["psr"] <= 1.0
    assert metrics["max_drawdown"] <= 0.0


def test_cagr_is_total_return_over_one_year() -> None:
    opens = _frame([[100.0]] * 2 + [[110.0]] * 3, ["A"])
    targets = _frame([[1.0]] + [[NAN]] * 4, ["A"])
    config = BacktestConfig(initial_capital=CAPITAL, commission_bps=0.0, slippage_bps=0.0)
    result = run_backtest(targets, opens, config)
    # Period 1 earns 110/100 - 1, periods 2-3 earn 0; with 3 periods a year CAGR = +10%.
    assert result.returns.tolist() == pytest.approx([0.1, 0.0, 0.0])
    assert performance(result, 3.0, CAPITAL)["cagr"] == pytest.approx(0.1)
    # Over half a year (6 periods a year) the same gain compounds to 1.1**2 - 1.
    assert performance(result, 6.0, CAPITAL)["cagr"] == pytest.approx(1.1**2 - 1)


def test_rerun_gives_identical_result() -> None:
    a, b = _golden(), _golden()
    pd.testing.assert_series_equal(a.equity, b.equity)
    pd.testing.assert_series_equal(a.costs, b.costs)
    pd.testing.assert_frame_equal(a.weights, b.weights)


# --- zero weights, missing opens, shapes ------------------------------------------------------


@pytest.mark.parametrize("fill", [0.0, NAN])
def test_flat_book_earns_nothing_and_pays_nothing(fill: float) -> None:
    rng = np.random.default_rng(0)
    opens = _frame((100 * np.exp(np.cumsum(rng.normal(0, 0.02, (10, 2)), axis=0))).tolist())
    targets = _frame([[fill, fill]] * 10)
    result = run_backtest(targets, opens, BacktestConfig(commission_bps=5, slippage_bps=5))
    assert (result.returns == 0).all()
    assert (result.gross_returns == 0).all()
    assert (result.costs == 0).all()
    assert (result.turnover == 0).all()
    assert (result.equity == BacktestConfig().initial_capital).all()
    assert (result.weights == 0).all().all()


def test_a_move_across_a_missing_open_is_credited_when_the_next_open_prints() -> None:
    opens = _frame([[100.0], [100.0], [NAN], [120.0], [120.0]], ["A"])
    targets = _frame([[1.0], [NAN], [NAN], [NAN], [NAN]], ["A"])
    config = BacktestConfig(commission_bps=0.0, slippage_bps=0.0)
    result = run_backtest(targets, opens, config)
    assert np.isfinite(result.equity).all()
    assert result.gross_returns.tolist() == pytest.approx([0.0, 0.2, 0.0])
    assert result.equity.iloc[-1] == pytest.approx(120_000.0)


def test_no_fill_at_a_price_that_never_printed() -> None:
    # The exit is decided at bar 2 but bar 3 has no open: the order waits for bar 4's open,
    # so the position takes the -50% move that happened in the gap.
    opens = _frame([[100.0], [100.0], [100.0], [NAN], [50.0], [50.0], [50.0]], ["A"])
    targets = _frame([[1.0], [NAN], [0.0], [NAN], [NAN], [NAN], [NAN]], ["A"])
    config = BacktestConfig(commission_bps=0.0, slippage_bps=0.0)
    result = run_backtest(targets, opens, config)
    assert result.turnover.tolist() == [1.0, 0.0, 0.0, 1.0, 0.0]
    assert result.equity.iloc[-1] == pytest.approx(50_000.0)


def test_misaligned_frames_are_refused() -> None:
    opens = _frame(GOLDEN_OPENS)
    with pytest.raises(ValueError, match="share index and columns"):
        run_backtest(_frame(GOLDEN_TARGETS).iloc[:-1], opens, BacktestConfig())
    renamed = _frame(GOLDEN_TARGETS).rename(columns={"B": "C"})
    with pytest.raises(ValueError, match="share index and columns"):
        run_backtest(renamed, opens, BacktestConfig())


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


@settings(max_examples=50, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    n=st.integers(3, 40),
    m=st.integers(1, 5),
    low=st.floats(0.0, 50.0),
    extra=st.floats(0.0, 50.0),
)
def test_costs_are_monotone(seed: int, n: int, m: int, low: float, extra: float) -> None:
    targets, opens = _random_case(seed, n, m)
    cheap = run_backtest(targets, opens, BacktestConfig(commission_bps=low, slippage_bps=0.0))
    dear = run_backtest(targets, opens, BacktestConfig(commission_bps=low, slippage_bps=extra))
    free = run_backtest(targets, opens, BacktestConfig(commission_bps=0.0, slippage_bps=0.0))
    for result in (cheap, dear, free):
        assert (result.costs >= 0).all()
        assert (result.turnover >= 0).all()
    assert (free.costs == 0).all()
    assert dear.equity.iloc[-1] <= cheap.equity.iloc[-1] * (1 + 1e-12)
    assert cheap.equity.iloc[-1] <= free.equity.iloc[-1] * (1 + 1e-12)
    # As a fraction of the equity before the trade, a dearer rate never costs less.
    capital = BacktestConfig().initial_capital
    frac = {}
    for name, result in (("cheap", cheap), ("dear", dear)):
        before_trade = np.concatenate([[capital], result.equity.to_numpy()[:-1]])
        frac[name] = result.costs.to_numpy() / before_trade
    assert (frac["dear"] >= frac["cheap"] - 1e-15).all()
    np.testing.assert_allclose(
        frac["dear"], dear.turnover.to_numpy() * (low + extra) / 1e4, rtol=1e-9, atol=1e-15
    )
    # Costs never change what is traded or earned before costs.
    pd.testing.assert_series_equal(dear.gross_returns, free.gross_returns)
    pd.testing.assert_series_equal(dear.turnover, free.turnover)
    # Net return = gross return after paying the period's costs on the equity before trading.
    before = np.concatenate([[BacktestConfig().initial_capital], dear.equity.to_numpy()[:-1]])
    expected_equity = (before - dear.costs.to_numpy()) * (1 + dear.gross_returns.to_numpy())
    np.testing.assert_allclose(dear.equity.to_numpy(), expected_equity, rtol=1e-10)


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
    config = BacktestConfig(commission_bps=0.0, slippage_bps=0.0)
    result = run_backtest(targets, opens, config)
    # Each target is applied one period later, when the move has reversed: it loses every time.
    np.testing.assert_allclose(result.gross_returns.to_numpy(), -0.1, rtol=1e-12)
    assert result.equity.iloc[-1] < config.initial_capital


def test_target_earns_the_next_open_to_open_move() -> None:
    """Positive control: a target equal to the sign of open[t+2]/open[t+1]-1 earns |move|."""
    n = 12
    opens = _alternating_opens(n)
    o = opens["A"].to_numpy()
    nxt = np.zeros(n)
    nxt[: n - 2] = o[2:] / o[1:-1] - 1
    targets = _frame([[float(np.sign(x))] for x in nxt], ["A"])
    result = run_backtest(targets, opens, BacktestConfig(commission_bps=0.0, slippage_bps=0.0))
    np.testing.assert_allclose(result.gross_returns.to_numpy(), 0.1, rtol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gross_return_is_previous_target_times_current_move(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 30
    o = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
    w = rng.uniform(-1, 1, n)
    opens = _frame([[x] for x in o], ["A"])
    targets = _frame([[x] for x in w], ["A"])
    result = run_backtest(targets, opens, BacktestConfig(commission_bps=0.0, slippage_bps=0.0))
    # Period p (bar p, 1 <= p <= n-2) holds the target of bar p-1 over open[p] -> open[p+1].
    expected = [w[p - 1] * (o[p + 1] / o[p] - 1) for p in range(1, n - 1)]
    np.testing.assert_allclose(result.gross_returns.to_numpy(), expected, rtol=1e-12)


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


def test_performance_drawdown_counts_a_loss_in_the_first_period() -> None:
    """Equity starts at the initial capital: losing 20% at once and then staying flat is a
    20% drawdown, even though the equity series begins after the first period."""
    opens = _frame([[100.0], [100.0], [80.0], [80.0], [80.0], [80.0]], ["A"])
    targets = _frame([[1.0], [0.0], [NAN], [NAN], [NAN], [NAN]], ["A"])
    config = BacktestConfig(initial_capital=CAPITAL, commission_bps=0.0, slippage_bps=0.0)
    result = run_backtest(targets, opens, config)
    assert result.equity.tolist() == pytest.approx([80_000.0] * 4)
    assert performance(result, 252.0, CAPITAL)["max_drawdown"] == pytest.approx(-0.2)
