"""Golden tests of the backtest metrics: hand values on tiny series, independent formulas on
random ones, and the empty / flat edge cases that must give NaN, never an exception."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphaforge.backtest.metrics import (
    EXTRA_METRIC_KEYS,
    METRIC_KEYS,
    calmar_ratio,
    conditional_value_at_risk,
    deflated_sharpe,
    drawdown_durations,
    exposure,
    exposure_from_weights,
    full_metrics,
    information_ratio,
    performance,
    run_days,
    sortino_ratio,
    sweep_pbo,
    tail_ratio,
    trade_statistics,
    value_at_risk,
)
from alphaforge.backtest.vectorized import BacktestResult
from alphaforge.core.errors import AlphaForgeError
from alphaforge.validation.ledger import TrialLedger
from alphaforge.validation.overfitting import probability_of_backtest_overfitting
from alphaforge.validation.stats import deflated_sharpe_ratio

PPY = 252.0
CAPITAL = 1_000.0


def _days(n: int, start: str = "2024-01-01") -> pd.DatetimeIndex:
    return pd.date_range(start, periods=n, freq="D", tz="UTC", name="timestamp")


def _result(returns: list[float] | np.ndarray, *, gross: float = 1.0) -> BacktestResult:
    r = pd.Series(np.asarray(returns, dtype=np.float64), index=_days(len(returns)))
    equity = CAPITAL * (1.0 + r).cumprod()
    weights = pd.DataFrame({"A": np.full(len(r), gross)}, index=r.index)
    return BacktestResult(
        returns=r,
        gross_returns=r,
        turnover=pd.Series(0.0, index=r.index),
        costs=pd.Series(0.0, index=r.index),
        equity=equity,
        weights=weights,
    )


def _trades(pnl: list[float], exits: list[str | None]) -> pd.DataFrame:
    n = len(pnl)
    return pd.DataFrame(
        {
            "symbol": ["A"] * n,
            "entry_time": pd.to_datetime(["2024-01-01"] * n, utc=True),
            "exit_time": pd.to_datetime(exits, utc=True),
            "quantity": [1.0] * n,
            "entry_price": [100.0] * n,
            "exit_price": [100.0 + p for p in pnl],
            "pnl": pnl,
            "costs": [0.0] * n,
            "strategy": ["s"] * n,
            "exit_reason": ["signal"] * n,
        }
    )


# --- ratios on hand-computed series -----------------------------------------------------------


def test_sortino_hand_value() -> None:
    r = [0.01, -0.02, 0.03, -0.01]
    # mean 0.0025; squared shortfalls 0, 4e-4, 0, 1e-4 averaged over all four periods.
    expected = 0.0025 / math.sqrt(0.0005 / 4) * math.sqrt(PPY)
    assert sortino_ratio(r, PPY) == pytest.approx(expected, rel=1e-12)


def test_sortino_matches_the_empyrical_formula_on_random_returns() -> None:
    r = np.random.default_rng(3).normal(0.0005, 0.01, 500)
    target = 0.0001
    # empyrical.sortino_ratio: mean(r - t) / sqrt(mean(clip(r - t, max=0)^2)) * sqrt(ann).
    downside = np.sqrt(np.nanmean(np.square(np.clip(r - target, -np.inf, 0.0))))
    expected = np.nanmean(r - target) / downside * np.sqrt(PPY)
    assert sortino_ratio(pd.Series(r), PPY, target=target) == pytest.approx(expected, rel=1e-12)


def test_calmar_hand_value() -> None:
    # Wealth 1, 1.1, 0.88, 0.968: max drawdown 0.88 / 1.1 - 1 = -20 %; three periods are one
    # year at 3 periods a year, so the CAGR is -3.2 %.
    assert calmar_ratio([0.1, -0.2, 0.1], 3.0) == pytest.approx(-0.032 / 0.2, rel=1e-12)


def test_calmar_counts_a_loss_in_the_first_period() -> None:
    # Wealth 1, 0.9, 0.99: the drawdown is from the starting capital.
    expected = (0.99 ** (2.0 / 2) - 1.0) / 0.1
    assert calmar_ratio([-0.1, 0.1], 2.0) == pytest.approx(expected, rel=1e-12)


def test_information_ratio_hand_value_on_common_periods() -> None:
    idx = _days(4)
    r = pd.Series([0.02, 0.01, 0.03, 0.5], index=idx)
    bench = pd.Series([0.01, 0.01, 0.01], index=idx[:3])
    # Active returns 0.01, 0, 0.02 (the fourth period has no benchmark): mean 0.01, sd 0.01.
    assert information_ratio(r, bench, PPY) == pytest.approx(math.sqrt(PPY), rel=1e-12)


def test_tail_ratio_hand_value() -> None:
    r = [0.02, -0.05, 0.1, -0.01, 0.0, 0.01]
    # Sorted -0.05 -0.01 0 0.01 0.02 0.1; the 95th percentile sits at rank 4.75 -> 0.08, the
    # 5th at rank 0.25 -> -0.04.
    assert tail_ratio(r) == pytest.approx(0.08 / 0.04, rel=1e-12)


def test_var_and_cvar_hand_values() -> None:
    r = np.linspace(-0.10, 0.09, 20)[::-1].copy()
    # The 5 % quantile sits at rank 0.05 * 19 = 0.95 between -0.10 and -0.09: -0.0905. Only
    # -0.10 lies at or below it.
    assert value_at_risk(r) == pytest.approx(0.0905, rel=1e-12)
    assert conditional_value_at_risk(r) == pytest.approx(0.10, rel=1e-12)


def test_var_and_cvar_match_an_independent_sort_on_random_returns() -> None:
    r = np.random.default_rng(11).standard_t(3, 1001) * 0.01
    ordered = np.sort(r)
    # With 1001 values the 5 % quantile is exactly the 51st smallest (rank 50).
    assert value_at_risk(r) == pytest.approx(-ordered[50], rel=1e-12)
    assert conditional_value_at_risk(r) == pytest.approx(-ordered[:51].mean(), rel=1e-12)
    assert conditional_value_at_risk(r) >= value_at_risk(r)


# --- drawdown spells ----------------------------------------------------------------------------


def test_drawdown_durations_hand_values_unrecovered_deepest_trough() -> None:
    equity = pd.Series(
        [100.0, 110, 105, 100, 108, 111, 109, 112, 90, 95], index=_days(10), dtype=float
    )
    stats = drawdown_durations(equity)
    # Spells: peak 1 -> back at 5 (4 periods), 5 -> 7 (2), 7 -> end at 9 (2, unrecovered).
    assert stats.longest_periods == 4.0
    assert stats.longest_days == 4.0
    # The deepest trough (90 against 112) never recovers.
    assert math.isnan(stats.recovery_periods)
    assert math.isnan(stats.recovery_days)


def test_drawdown_durations_hand_values_in_calendar_days() -> None:
    # Friday, Monday, Tuesday, Wednesday, Thursday.
    idx = pd.DatetimeIndex(
        ["2024-01-05", "2024-01-08", "2024-01-09", "2024-01-10", "2024-01-11"], tz="UTC"
    )
    stats = drawdown_durations(pd.Series([100.0, 80, 90, 100, 95], index=idx))
    assert stats.longest_periods == 3.0  # Friday's peak regained on Wednesday
    assert stats.longest_days == 5.0
    assert stats.recovery_periods == 2.0  # trough Monday, back at the peak Wednesday
    assert stats.recovery_days == 2.0


def _naive_durations(values: list[float]) -> tuple[float, float]:
    """Longest spell and recovery by walking the curve (the reference implementation)."""
    longest, peak, peak_at = 0, values[0], 0
    for i in range(1, len(values)):
        if values[i] >= peak:
            if i - peak_at > 1:  # at least one period below the peak in between
                longest = max(longest, i - peak_at)
            peak, peak_at = values[i], i
    longest = max(longest, len(values) - 1 - peak_at)  # a spell still open at the end
    depths = [v / max(values[: i + 1]) - 1 for i, v in enumerate(values)]
    trough = int(np.argmin(depths))
    if depths[trough] >= 0:
        return float(longest), math.nan
    peak = max(values[: trough + 1])
    for j in range(trough, len(values)):
        if values[j] >= peak:
            return float(longest), float(j - trough)
    return float(longest), math.nan


@pytest.mark.parametrize("seed", range(8))
def test_drawdown_durations_match_a_naive_walk(seed: int) -> None:
    values = list(100.0 * np.cumprod(1 + np.random.default_rng(seed).normal(0.001, 0.02, 300)))
    stats = drawdown_durations(pd.Series(values, index=_days(300)))
    longest, recovery = _naive_durations(values)
    assert stats.longest_periods == longest
    assert stats.longest_days == longest  # one bar a day
    assert stats.recovery_periods == pytest.approx(recovery, nan_ok=True)


def test_drawdown_durations_skip_missing_equity() -> None:
    equity = pd.Series([100.0, np.nan, 80.0, 100.0], index=_days(4))
    stats = drawdown_durations(equity)
    assert stats.longest_periods == 2.0  # two valid periods from the peak back to it
    assert stats.longest_days == 3.0
    assert stats.recovery_periods == 1.0


def test_drawdown_durations_of_a_rising_curve_are_zero() -> None:
    stats = drawdown_durations(pd.Series([1.0, 2.0, 3.0], index=_days(3)))
    assert (stats.longest_periods, stats.longest_days) == (0.0, 0.0)
    assert math.isnan(stats.recovery_periods)


# --- exposure and trades --------------------------------------------------------------------


def test_exposure_hand_values() -> None:
    frame = pd.DataFrame(
        {"equity": [100.0, 100.0, 200.0, 100.0], "gross_exposure": [0.0, 50.0, 100.0, 0.0]}
    )
    got = exposure(frame)
    assert got.mean_gross == pytest.approx(0.25, rel=1e-12)
    assert got.time_in_market == 0.5


def test_exposure_needs_its_columns() -> None:
    with pytest.raises(AlphaForgeError, match="gross_exposure"):
        exposure(pd.DataFrame({"equity": [1.0]}))


def test_exposure_from_weights_sums_absolute_weights() -> None:
    w = pd.DataFrame({"A": [0.5, 0.0, -0.5], "B": [-0.5, 0.0, 1.0]})
    got = exposure_from_weights(w)
    assert got.mean_gross == pytest.approx(2.5 / 3, rel=1e-12)
    assert got.time_in_market == pytest.approx(2 / 3, rel=1e-12)


def test_trade_statistics_hand_values_leave_the_open_trade_out() -> None:
    exits = ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05", "2024-01-06", None]
    trades = _trades([10.0, -5.0, 20.0, -15.0, 0.0, 1_000.0], exits)
    days = run_days(pd.Timestamp("2024-01-01", tz="UTC"), pd.Timestamp("2024-01-11", tz="UTC"))
    assert days == 10.0
    stats = trade_statistics(trades, days)
    assert stats.trades == 5.0
    assert stats.win_rate == pytest.approx(2 / 5)
    assert stats.profit_factor == pytest.approx(30 / 20)
    assert stats.average_win == pytest.approx(15.0)
    assert stats.average_loss == pytest.approx(-10.0)
    assert stats.expectancy == pytest.approx(2.0)
    assert stats.trades_per_day == pytest.approx(0.5)
    # Expectancy decomposes into win rate x average win + loss rate x average loss.
    assert stats.expectancy == pytest.approx(0.4 * 15.0 + 0.4 * -10.0)


def test_trade_statistics_of_no_closed_trade_are_nan() -> None:
    for trades in (_trades([], []), _trades([5.0], [None])):
        stats = trade_statistics(trades, 10.0)
        assert stats.trades == 0.0
        assert stats.trades_per_day == 0.0
        for value in (stats.win_rate, stats.profit_factor, stats.average_win, stats.expectancy):
            assert math.isnan(value)


def test_profit_factor_without_losers_is_nan() -> None:
    stats = trade_statistics(_trades([1.0, 2.0], ["2024-01-02", "2024-01-03"]), 1.0)
    assert math.isnan(stats.profit_factor)
    assert math.isnan(stats.average_loss)
    assert stats.win_rate == 1.0


# --- overfitting ------------------------------------------------------------------------------


def test_deflated_sharpe_uses_the_ledger_trial_count_and_variance(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    idx = _days(200)
    series = [pd.Series(rng.normal(0.001 * k, 0.01, 200), index=idx) for k in range(3)]
    with TrialLedger(tmp_path / "ledger.sqlite") as ledger:
        for k, s in enumerate(series):
            ledger.record(
                experiment="sweep",
                config={"fast": k},
                kind="variant",
                seed=0,
                code_version="test",
                returns=s,
            )
        got = deflated_sharpe(series[2], ledger, "sweep")
    sharpes = [s.mean() / s.std(ddof=1) for s in series]
    expected = deflated_sharpe_ratio(
        series[2].to_numpy(), n_trials=3, sharpe_variance=float(np.var(sharpes, ddof=1))
    )
    assert got == pytest.approx(expected, rel=1e-12)
    assert 0.0 <= got <= 1.0


def test_deflated_sharpe_without_trials_is_a_user_error(tmp_path: Path) -> None:
    with (
        TrialLedger(tmp_path / "ledger.sqlite") as ledger,
        pytest.raises(AlphaForgeError, match="no trials recorded"),
    ):
        deflated_sharpe([0.01, 0.02, -0.01], ledger, "nothing")


def test_sweep_pbo_of_a_dominant_parameter_set_is_zero() -> None:
    rng = np.random.default_rng(2)
    noise = rng.normal(0.0, 0.01, (320, 4))
    # Column 0 earns a steady extra 2 % a period: the in-sample winner always, and always the
    # best out of sample too, so no combination ranks it at or below the median.
    noise[:, 0] += 0.02
    assert sweep_pbo(pd.DataFrame(noise)).pbo == 0.0


def test_sweep_pbo_drops_incomplete_periods_and_equals_cscv() -> None:
    rng = np.random.default_rng(4)
    matrix = pd.DataFrame(rng.normal(0.0, 0.01, (200, 5)))
    with_gap = matrix.copy()
    with_gap.iloc[7, 2] = np.nan
    got = sweep_pbo(with_gap, n_partitions=8)
    expected = probability_of_backtest_overfitting(matrix.drop(index=7).to_numpy(), n_partitions=8)
    assert got.pbo == expected.pbo
    np.testing.assert_array_equal(got.logits, expected.logits)


def test_sweep_pbo_lowers_the_partition_count_for_a_short_sweep() -> None:
    matrix = pd.DataFrame(np.random.default_rng(6).normal(0.0, 0.01, (10, 3)))
    got = sweep_pbo(matrix)
    # 10 periods: 16, 14 and 12 blocks leave empty halves; 10 blocks of one period each work.
    assert got.n_combinations == math.comb(10, 5)
    assert got.pbo == probability_of_backtest_overfitting(matrix.to_numpy(), n_partitions=10).pbo


@pytest.mark.parametrize(
    ("matrix", "message"),
    [
        (pd.DataFrame({"a": np.zeros(50)}), "two parameter sets"),
        (pd.DataFrame({"a": [0.1, 0.2, 0.3], "b": [0.0, 0.1, 0.2]}), "four common periods"),
    ],
)
def test_sweep_pbo_refuses_what_cscv_cannot_rank(matrix: pd.DataFrame, message: str) -> None:
    with pytest.raises(AlphaForgeError, match=message):
        sweep_pbo(matrix)


# --- full_metrics -------------------------------------------------------------------------------


def test_full_metrics_keeps_performance_and_adds_every_metric() -> None:
    r = np.random.default_rng(8).normal(0.0005, 0.01, 300)
    result = _result(r, gross=0.8)
    trades = _trades([10.0, -4.0], ["2024-02-01", "2024-03-01"])
    bench = pd.Series(r * 0.5, index=result.returns.index)
    got = full_metrics(
        result,
        periods_per_year=PPY,
        initial_capital=CAPITAL,
        trades=trades,
        benchmark_returns=bench,
    )
    base = performance(result, PPY, CAPITAL)
    assert list(got)[: len(base)] == list(base)
    assert set(METRIC_KEYS) <= set(got)
    assert list(got)[len(base) :] == list(EXTRA_METRIC_KEYS)
    assert all(isinstance(v, float) for v in got.values())
    for key, value in base.items():
        assert got[key] == pytest.approx(value, nan_ok=True)
    assert got["sortino"] == pytest.approx(sortino_ratio(r, PPY))
    assert got["information_ratio"] == pytest.approx(
        np.mean(r * 0.5) / np.std(r * 0.5, ddof=1) * np.sqrt(PPY)
    )
    assert got["exposure_gross"] == pytest.approx(0.8)
    assert got["time_in_market"] == 1.0
    assert got["trades"] == 2.0
    assert got["trades_per_day"] == pytest.approx(2 / 299)
    assert got["profit_factor"] == pytest.approx(2.5)
    for key in ("deflated_sharpe", "n_trials", "pbo"):
        assert math.isnan(got[key])


def test_full_metrics_reads_the_equity_frame_and_the_ledger(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    result = _result(rng.normal(0.0, 0.01, 100))
    idx = result.returns.index
    frame = pd.DataFrame(
        {
            "timestamp": idx,
            "equity": [100.0, 90.0, 100.0] + [100.0] * 97,
            "cash": 0.0,
            "gross_exposure": [0.0, 45.0] + [0.0] * 98,
            "net_exposure": 0.0,
        }
    )
    sweep = pd.DataFrame(rng.normal(0.0, 0.01, (100, 3)), index=idx)
    with TrialLedger(tmp_path / "ledger.sqlite") as ledger:
        for k in range(3):
            ledger.record(
                experiment="e",
                config={"k": k},
                kind="variant",
                seed=0,
                code_version="t",
                returns=sweep[k],
            )
        got = full_metrics(
            result,
            periods_per_year=PPY,
            initial_capital=CAPITAL,
            equity_frame=frame,
            ledger=ledger,
            experiment="e",
            sweep_returns=sweep,
        )
        expected_dsr = deflated_sharpe(result.returns, ledger, "e")
    assert got["max_drawdown_duration_periods"] == 2.0
    assert got["recovery_periods"] == 1.0
    assert got["recovery_days"] == 1.0
    assert got["exposure_gross"] == pytest.approx(0.5 / 100)
    assert got["time_in_market"] == pytest.approx(0.01)
    assert got["n_trials"] == 3.0
    assert got["deflated_sharpe"] == pytest.approx(expected_dsr)
    assert got["pbo"] == sweep_pbo(sweep).pbo


def test_full_metrics_needs_ledger_and_experiment_together(tmp_path: Path) -> None:
    with (
        TrialLedger(tmp_path / "l.sqlite") as ledger,
        pytest.raises(AlphaForgeError, match="both"),
    ):
        full_metrics(
            _result([0.01, 0.02]), periods_per_year=PPY, initial_capital=CAPITAL, ledger=ledger
        )


def test_full_metrics_of_a_flat_curve_without_trades_is_nan_not_an_error() -> None:
    result = _result(np.zeros(50), gross=0.0)
    got = full_metrics(
        result, periods_per_year=PPY, initial_capital=CAPITAL, trades=_trades([], [])
    )
    assert list(got) == [*performance(result, PPY, CAPITAL), *EXTRA_METRIC_KEYS]
    for key in ("sortino", "calmar", "tail_ratio", "win_rate", "profit_factor", "expectancy"):
        assert math.isnan(got[key]), key
    assert got["var_95"] == 0.0
    assert got["cvar_95"] == 0.0
    assert got["max_drawdown_duration_periods"] == 0.0
    assert math.isnan(got["recovery_periods"])
    assert got["time_in_market"] == 0.0
    assert got["trades"] == 0.0
    assert got["trades_per_day"] == 0.0


def test_full_metrics_of_an_empty_run_is_nan_not_an_error() -> None:
    got = full_metrics(_result([]), periods_per_year=PPY, initial_capital=CAPITAL)
    assert got["periods"] == 0.0
    for key in ("sortino", "calmar", "var_95", "max_drawdown_duration_periods", "trades_per_day"):
        assert math.isnan(got[key]), key
