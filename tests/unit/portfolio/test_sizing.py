"""Sizing math: the seeds' worked examples by hand, and invariants under Hypothesis."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alphaforge.core.errors import ConfigError, DataError
from alphaforge.portfolio import (
    atr_stop_units,
    forex_lots,
    fractional_kelly,
    payoff_ratio_from_bracket,
    payoff_ratio_from_trades,
    risk_per_trade_units,
    volatility_target_scale,
)

NAN = float("nan")
T0 = pd.Timestamp("2024-01-10", tz="UTC")

# 0.55 has no exact binary form, so the Kelly results match the decimal hand value to 1e-12.
KELLY_REL = 1e-12


def test_full_kelly_of_the_seed_example() -> None:
    # p = 0.55, b = 2: (p b - (1 - p)) / b = (1.10 - 0.45) / 2 = 0.65 / 2 = 0.325.
    f = fractional_kelly(0.55, 2.0, fraction=1.0)
    assert float(f) == pytest.approx(0.325, rel=KELLY_REL, abs=0.0)


def test_quarter_kelly_of_the_seed_example() -> None:
    # A quarter of the full bet: 0.25 x 0.325 = 0.08125.
    f = fractional_kelly(0.55, 2.0)
    assert float(f) == pytest.approx(0.08125, rel=KELLY_REL, abs=0.0)


def test_atr_stop_of_the_seed_example() -> None:
    # Risk 2 % of $10,000 = $200; stop 2 x ATR 5 = $10 a share; 200 / 10 = 20 shares.
    assert float(atr_stop_units(10_000.0, 0.02, 5.0, multiple=2.0)) == 20.0


def test_fixed_fraction_of_the_seed_example() -> None:
    # Risk 1 % of $10,000 = $100; entry 100 - stop 98 = $2 a share; 100 / 2 = 50 shares.
    assert float(risk_per_trade_units(10_000.0, 0.01, 100.0 - 98.0)) == 50.0


def test_forex_lots_of_the_seed_example() -> None:
    # Risk 1 % of $10,000 = $100; 30 pips x $10 a pip = $300 a lot; 100 / 300 = 0.333... lots,
    # rounded down to the 0.01 lot: 0.33.
    assert float(forex_lots(10_000.0, 0.01, 30.0, pip_value_per_lot=10.0)) == 0.33


def test_btc_volatility_target_of_the_seed_example() -> None:
    # Target 15 % a year over BTC's 60 %: 0.15 / 0.60 = 0.25.
    assert float(volatility_target_scale(0.60, target=0.15)) == 0.25


def test_kelly_is_zero_without_an_edge_or_with_unknown_inputs() -> None:
    # p = 0.3, b = 2: 0.3 - 0.7 / 2 = -0.05 <= 0, so no position (never a short).
    f = fractional_kelly([0.3, NAN, 0.6, 1.0 / 3.0], [2.0, 2.0, NAN, 2.0])
    # Last: 1/3 - (2/3) / 2 = 0 exactly at break-even, no position either.
    assert f.tolist() == [0.0, 0.0, 0.0, 0.0]


@pytest.mark.parametrize("fraction", [0.0, -0.1, 1.5, NAN])
def test_kelly_fraction_outside_unit_interval_is_a_config_error(fraction: float) -> None:
    with pytest.raises(ConfigError, match="Kelly fraction") as err:
        fractional_kelly(0.6, 2.0, fraction=fraction)
    assert err.value.hint


def test_kelly_rejects_non_positive_payoff_and_out_of_range_probability() -> None:
    with pytest.raises(ConfigError, match="payoff ratio"):
        fractional_kelly(0.6, [2.0, 0.0])
    with pytest.raises(ConfigError, match="probability"):
        fractional_kelly([0.6, 1.2], 2.0)


def test_payoff_ratio_from_long_and_short_brackets() -> None:
    # Long: |104 - 100| / |100 - 98| = 4 / 2 = 2; short: |94 - 100| / |100 - 102| = 6 / 2 = 3.
    b = payoff_ratio_from_bracket([100.0, 100.0, NAN], [98.0, 102.0, 98.0], [104.0, 94.0, 104.0])
    assert b[:2].tolist() == [2.0, 3.0]
    assert np.isnan(b[2])


def test_bracket_with_stop_and_target_on_one_side_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="opposite sides"):
        payoff_ratio_from_bracket(100.0, 98.0, 99.0)
    with pytest.raises(ConfigError, match="opposite sides"):
        payoff_ratio_from_bracket(100.0, 100.0, 104.0)


def _trades(exit_days: list[int], pnl: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {"exit_time": [T0 + pd.Timedelta(days=d) for d in exit_days], "pnl": pnl},
    )


def test_payoff_ratio_from_trades_closed_strictly_before_t() -> None:
    # Before T0: wins 30, 10 (mean 20) and losses -5, -15 (mean -10): 20 / 10 = 2.
    # The trade closing exactly at T0 (pnl 1000) and the one after (-1000) are not known yet.
    trades = _trades([-3, -2, -2, -1, 0, 1], [30.0, -5.0, 10.0, -15.0, 1000.0, -1000.0])
    assert payoff_ratio_from_trades(trades, T0) == 2.0


def test_payoff_ratio_without_wins_or_losses_is_nan_and_sizes_zero() -> None:
    trades = _trades([-2, -1], [10.0, 0.0])
    b = payoff_ratio_from_trades(trades, T0)
    assert np.isnan(b)
    assert float(fractional_kelly(0.9, b)) == 0.0


def test_payoff_ratio_needs_exit_time_and_pnl() -> None:
    with pytest.raises(DataError, match="pnl"):
        payoff_ratio_from_trades(pd.DataFrame({"exit_time": [T0]}), T0)


def test_volatility_scale_is_capped_and_zero_for_unusable_sigma() -> None:
    # 0.15 / 0.10 = 1.5, capped at 1.0; 0.15 / 0.05 = 3 capped at 2 with cap=2.
    assert volatility_target_scale([0.10, 0.0, NAN, -0.2]).tolist() == [1.0, 0.0, 0.0, 0.0]
    assert float(volatility_target_scale(0.05, cap=2.0)) == 2.0
    with pytest.raises(ConfigError, match="volatility target"):
        volatility_target_scale(0.2, target=0.0)


def test_units_round_down_and_are_zero_for_unusable_stops() -> None:
    # $100 risk / $3 stop = 33.3 -> 33 whole units.
    units = risk_per_trade_units(10_000.0, 0.01, [3.0, 0.0, NAN, -2.0])
    assert units.tolist() == [33.0, 0.0, 0.0, 0.0]
    # $100 risk / (45 pips x $10) = 0.2222 lots -> 0.22.
    assert forex_lots(10_000.0, 0.01, [45.0, 0.0]).tolist() == [0.22, 0.0]
    with pytest.raises(ConfigError, match="risk fraction"):
        risk_per_trade_units(10_000.0, 0.0, 2.0)
    with pytest.raises(ConfigError, match="ATR stop multiple"):
        atr_stop_units(10_000.0, 0.02, 5.0, multiple=0.0)


probabilities = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
payoffs = st.floats(min_value=1e-6, max_value=1e6, allow_nan=False)
fractions = st.floats(min_value=1e-6, max_value=1.0, allow_nan=False)


@given(p=probabilities, b=payoffs, fraction=fractions)
def test_kelly_stays_within_zero_and_the_fraction(p: float, b: float, fraction: float) -> None:
    f = float(fractional_kelly(p, b, fraction=fraction))
    assert 0.0 <= f <= fraction


@given(p1=probabilities, p2=probabilities, b=payoffs, fraction=fractions)
def test_kelly_is_monotone_in_p(p1: float, p2: float, b: float, fraction: float) -> None:
    lo, hi = sorted((p1, p2))
    f = fractional_kelly([lo, hi], b, fraction=fraction)
    assert f[0] <= f[1]


@given(
    equity=st.floats(min_value=-1e9, max_value=1e9, allow_nan=False),
    risk=fractions,
    stop=st.floats(allow_nan=True, allow_infinity=True),
    pip_value=st.floats(min_value=-100.0, max_value=100.0, allow_nan=False),
)
def test_units_and_lots_are_never_negative(
    equity: float, risk: float, stop: float, pip_value: float
) -> None:
    assert float(risk_per_trade_units(equity, risk, stop)) >= 0.0
    assert float(atr_stop_units(equity, risk, stop)) >= 0.0
    assert float(forex_lots(equity, risk, stop, pip_value_per_lot=pip_value)) >= 0.0


pnls = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@given(
    past=st.lists(st.tuples(st.integers(-100, -1), pnls), max_size=20),
    future=st.lists(st.tuples(st.integers(0, 100), pnls), max_size=20),
    shuffled_future=st.lists(pnls, max_size=20),
)
def test_payoff_ratio_ignores_trades_closing_at_or_after_t(
    past: list[tuple[int, float]],
    future: list[tuple[int, float]],
    shuffled_future: list[float],
) -> None:
    rows = past + future
    base = _trades([d for d, _ in rows], [x for _, x in rows])
    # Replace every trade closing at or after T0 with other pnls (and drop or add some).
    changed_future = [(d, x) for (d, _), x in zip(future, shuffled_future, strict=False)]
    changed_rows = past + changed_future
    changed = _trades([d for d, _ in changed_rows], [x for _, x in changed_rows])
    only_past = _trades([d for d, _ in past], [x for _, x in past])
    expected = payoff_ratio_from_trades(only_past, T0)
    for frame in (base, changed):
        got = payoff_ratio_from_trades(frame, T0)
        assert got == expected or (np.isnan(got) and np.isnan(expected))
