"""The generator's oracle: its forecast of a forward-return label, and the control's names."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd
import pytest

from alphaforge.core import AssetClass, Instrument, Interval
from alphaforge.data.synthetic import (
    SyntheticSource,
    SyntheticSpec,
    generate_market,
    oracle_forward_return,
    random_walk_market,
)
from alphaforge.labels import forward_log_return

PLANTED = SyntheticSpec(
    n_symbols=12, start=date(2012, 1, 1), end=date(2017, 12, 31), signal_strength=0.05
)


def _frame(series: dict[str, pd.Series]) -> np.ndarray:
    return pd.DataFrame(series).to_numpy(np.float64)


def _labels(bars: dict[str, pd.DataFrame], horizon: int) -> np.ndarray:
    return _frame({k: forward_log_return(b, Interval.D1, horizon).values for k, b in bars.items()})


def test_a_one_bar_close_to_close_oracle_is_the_planted_mean_exactly() -> None:
    # The label's mean is E[r[t+1]] = mu[t]: replaying the recursion over the bars must give
    # back the generator's own means, with no simulation involved.
    market = generate_market(PLANTED, seed=3)
    oracle = oracle_forward_return(market, 1, entry="close", exit="close")
    mean = _frame(oracle.mean)
    planted = _frame(market.expected_return)
    np.testing.assert_allclose(mean[:-1], planted[:-1], rtol=1e-7, atol=1e-12)
    assert np.isnan(mean[-1]).all()  # the label of the last bar is past the data


@pytest.mark.parametrize("seed", [1, 2])
def test_the_five_bar_oracle_is_calibrated_and_beats_the_one_bar_mean(seed: int) -> None:
    # Regressing the realised label on the forecast gives a slope near 1 (a calibrated
    # conditional mean), and the forecast correlates with the label better than the next
    # bar's planted mean does: later bars' means are partly known at t.
    market = generate_market(PLANTED, seed=seed)
    oracle = _frame(oracle_forward_return(market, 5, paths=32).mean)
    label = _labels(market.bars, 5)
    one_bar = _frame(market.expected_return)
    known = np.isfinite(oracle) & np.isfinite(label)
    known[:50] = False
    slope = np.polyfit(oracle[known], label[known], 1)[0]
    assert 0.75 <= slope <= 1.25
    corr = np.corrcoef(oracle[known], label[known])[0, 1]
    corr_one_bar = np.corrcoef(one_bar[known], label[known])[0, 1]
    assert corr > corr_one_bar + 0.03


def test_the_oracle_is_nan_exactly_where_the_label_is() -> None:
    market = generate_market(replace(PLANTED, end=date(2012, 12, 31)), seed=4)
    oracle = _frame(oracle_forward_return(market, 5, paths=8).mean)
    label = _labels(market.bars, 5)
    np.testing.assert_array_equal(np.isnan(oracle), np.isnan(label))


def test_the_simulation_is_seeded_and_its_noise_is_small() -> None:
    market = generate_market(replace(PLANTED, end=date(2013, 12, 31)), seed=5)
    a = _frame(oracle_forward_return(market, 5, paths=32, seed=0).mean)
    again = _frame(oracle_forward_return(market, 5, paths=32, seed=0).mean)
    other = _frame(oracle_forward_return(market, 5, paths=32, seed=1).mean)
    np.testing.assert_array_equal(a, again)
    known = np.isfinite(a)
    assert not np.array_equal(a[known], other[known])
    assert np.corrcoef(a[known], other[known])[0, 1] > 0.99


def test_a_random_walk_has_a_zero_oracle_and_a_positive_spread() -> None:
    market = random_walk_market(replace(PLANTED, end=date(2012, 12, 31)), seed=6)
    oracle = oracle_forward_return(market, 5)
    mean, sd = _frame(oracle.mean), _frame(oracle.sd)
    known = np.isfinite(mean)
    assert (mean[known] == 0.0).all()
    assert (sd[known] > 0.0).all()
    # The label's spread is about sqrt(5) daily volatilities (25 % a year on average).
    assert 0.5 < np.median(sd[known]) / (0.25 * np.sqrt(5 / 252)) < 2.0


def test_the_oracle_refuses_what_it_cannot_forecast() -> None:
    market = generate_market(replace(PLANTED, end=date(2012, 3, 31)), seed=7)
    with pytest.raises(ValueError, match="horizon"):
        oracle_forward_return(market, 0)
    with pytest.raises(ValueError, match="entry/exit"):
        oracle_forward_return(market, 5, entry="midday")


def test_a_symbol_prefix_names_a_universe_apart() -> None:
    spec = replace(PLANTED, n_symbols=3, end=date(2012, 3, 31), symbol_prefix="RW")
    control = random_walk_market(spec, seed=8)
    assert list(control.bars) == ["RW00", "RW01", "RW02"]
    assert list(control.instruments) == list(control.bars)
    assert control.instruments["RW00"].symbol == "RW00"
    planted = generate_market(replace(spec, symbol_prefix=None), seed=8)
    assert list(planted.bars) == ["SYN00", "SYN01", "SYN02"]
    # Same shocks under either name: only the names differ.
    pd.testing.assert_frame_equal(
        random_walk_market(replace(spec, symbol_prefix=None), seed=8).bars["SYN01"],
        control.bars["RW01"],
    )
    with pytest.raises(ValueError, match="symbol_prefix"):
        replace(spec, symbol_prefix="R W")


def test_the_source_keeps_its_own_names_whatever_the_prefix() -> None:
    spec = replace(PLANTED, n_symbols=2, end=date(2012, 2, 28), symbol_prefix="RW")
    source = SyntheticSource(spec, seed=1)
    bars = source.fetch(
        [Instrument("SYN01", AssetClass.STOCK)], date(2012, 1, 1), date(2012, 2, 28), Interval.D1
    )
    assert list(bars) == ["SYN01"]
    assert len(bars["SYN01"]) > 30
