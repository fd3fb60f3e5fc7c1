"""Forward returns at several horizons and the BUY / HOLD / SELL and up / down labels."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alphaforge.core import Interval
from alphaforge.labels import (
    BUY,
    CLASS_NAMES,
    HOLD,
    SELL,
    binary_labels,
    forward_log_return,
    forward_return,
    from_class_codes,
    multi_horizon_returns,
    three_class_labels,
    to_class_codes,
    trailing_volatility,
    volatility_thresholds,
)


def _bars(opens: np.ndarray, closes: np.ndarray, *, start: str = "2024-01-01") -> pd.DataFrame:
    n = len(opens)
    index = pd.bdate_range(start, periods=n, tz="UTC", name="timestamp").as_unit("ns")
    return pd.DataFrame(
        {
            "open": np.asarray(opens, dtype=np.float64),
            "high": np.maximum(opens, closes) * 1.01,
            "low": np.minimum(opens, closes) * 0.99,
            "close": np.asarray(closes, dtype=np.float64),
            "volume": np.full(n, 1e6),
        },
        index=index,
    )


def _random_bars(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.015, n)))
    opens = close * np.exp(rng.normal(0, 0.005, n))
    return _bars(opens, close)


def _loop_return(bars: pd.DataFrame, h: int, entry: str, exit: str, kind: str) -> list[float]:
    """Reference: one row at a time, straight from the reference-price table."""
    o, c = list(bars["open"]), list(bars["close"])
    n = len(o)
    out = []
    for t in range(n):
        if entry == "next_open":
            if t + 1 >= n:
                out.append(math.nan)
                continue
            p0 = o[t + 1]
        else:
            p0 = c[t]
        j = t + h + 1 if exit == "open" else t + h
        if j >= n:
            out.append(math.nan)
            continue
        p1 = o[j] if exit == "open" else c[j]
        out.append(math.log(p1 / p0) if kind == "log" else p1 / p0 - 1)
    return out


# ---------------------------------------------------------------- forward returns


@pytest.mark.parametrize("entry", ["next_open", "close"])
@pytest.mark.parametrize("exit", ["open", "close"])
@pytest.mark.parametrize("kind", ["log", "simple"])
def test_multi_horizon_matches_plain_loop(entry: str, exit: str, kind: str) -> None:
    bars = _random_bars(60, seed=3)
    got = multi_horizon_returns(bars, Interval.D1, entry=entry, exit=exit, kind=kind)  # type: ignore[arg-type]
    assert list(got) == [1, 5, 10, 21]
    for h, labels in got.items():
        expected = np.array(_loop_return(bars, h, entry, exit, kind))
        np.testing.assert_allclose(labels.values.to_numpy(), expected, rtol=1e-13, atol=0)
        assert (labels.end.isna() == labels.values.isna()).all()
        closes_at = bars.index + pd.Timedelta(days=1)
        assert list(labels.start) == list(closes_at)


def test_end_times_of_each_horizon() -> None:
    bars = _random_bars(30, seed=1)
    got = multi_horizon_returns(bars, Interval.D1, horizons=(1, 5), exit="close")
    stamps = bars.index
    # Exit on the close of t+h: known at that bar's open stamp plus one day.
    assert got[5].end.iloc[0] == stamps[5] + pd.Timedelta(days=1)
    assert got[1].end.iloc[3] == stamps[4] + pd.Timedelta(days=1)
    opened = multi_horizon_returns(bars, Interval.D1, horizons=(5,))
    # Exit on the open of t+h+1: known at that bar's timestamp.
    assert opened[5].end.iloc[0] == stamps[6]


def test_log_return_is_unchanged_and_named() -> None:
    bars = _random_bars(40, seed=7)
    a = forward_log_return(bars, Interval.D1, 5)
    b = forward_return(bars, Interval.D1, 5)
    pd.testing.assert_series_equal(a.values, b.values)
    assert a.values.name == "fwd_logret_5"
    assert forward_return(bars, Interval.D1, 5, kind="simple").values.name == "fwd_ret_5"


def test_bad_arguments_are_refused() -> None:
    bars = _random_bars(10, seed=0)
    with pytest.raises(ValueError, match="twice"):
        multi_horizon_returns(bars, Interval.D1, horizons=(5, 5))
    with pytest.raises(ValueError, match="at least one"):
        multi_horizon_returns(bars, Interval.D1, horizons=())
    with pytest.raises(ValueError, match="entry"):
        forward_return(bars, Interval.D1, 1, entry="open")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="kind"):
        forward_return(bars, Interval.D1, 1, kind="pct")  # type: ignore[arg-type]


# ---------------------------------------------------------------- three classes


def _first_label(exit_price: float, **kwargs: object) -> float:
    """Row 0 enters at open[1] = 100 and exits 5 bars later at open[6] = ``exit_price``."""
    opens = np.array([100.0] * 6 + [exit_price] + [100.0] * 2)
    labels = three_class_labels(_bars(opens, opens.copy()), Interval.D1, **kwargs)  # type: ignore[arg-type]
    return float(labels.values.iloc[0])


def test_fixed_thresholds_at_exactly_1_2_percent() -> None:
    exits = [101.2, 98.8, 101.19, 98.81, 100.0, 101.21, 98.79]
    got = [_first_label(p) for p in exits]
    # +1.2 % exactly is BUY and -1.2 % exactly is SELL; 1.19 % either way is HOLD.
    assert got == [BUY, SELL, HOLD, HOLD, HOLD, BUY, SELL]


@settings(max_examples=60, deadline=None)
@given(price=st.floats(0.5, 5000.0), sign=st.sampled_from([1, -1]))
def test_exact_threshold_survives_price_rounding(price: float, sign: int) -> None:
    n = 9
    opens = np.full(n, price)
    opens[6] = price * (1 + sign * 0.012)
    labels = three_class_labels(_bars(opens, opens.copy()), Interval.D1)
    assert labels.values.iloc[0] == (BUY if sign > 0 else SELL)
    opens[6] = price * (1 + sign * 0.0119)
    labels = three_class_labels(_bars(opens, opens.copy()), Interval.D1)
    assert labels.values.iloc[0] == HOLD


def test_asymmetric_fixed_thresholds_and_spans() -> None:
    kwargs = {"threshold": 0.015, "lower_threshold": 0.01}
    assert [_first_label(p, **kwargs) for p in (101.0, 99.0, 102.0)] == [HOLD, SELL, BUY]
    bars = _random_bars(30, seed=4)
    labels = three_class_labels(bars, Interval.D1)
    assert labels.values.name == "class3_5"
    fwd = forward_return(bars, Interval.D1, 5)
    pd.testing.assert_series_equal(labels.start, fwd.start)
    pd.testing.assert_series_equal(labels.end, fwd.end)
    assert labels.values.iloc[-6:].isna().all()


def test_class_codes_mapping() -> None:
    assert CLASS_NAMES == ("SELL", "HOLD", "BUY")
    sides = pd.Series([SELL, HOLD, BUY, math.nan])
    codes = to_class_codes(sides)
    np.testing.assert_array_equal(codes.to_numpy(), [0.0, 1.0, 2.0, math.nan])
    pd.testing.assert_series_equal(from_class_codes(codes), sides.astype(np.float64))
    with pytest.raises(ValueError, match="sides"):
        to_class_codes(pd.Series([2.0]))
    with pytest.raises(ValueError, match="codes"):
        from_class_codes(pd.Series([-1.0]))


def _ewm_std_reference(x: list[float], span: int, min_periods: int) -> list[float]:
    """Unbiased exponentially weighted standard deviation, written as weighted sums."""
    alpha = 2 / (span + 1)
    out = []
    for t in range(len(x)):
        seen = [(i, v) for i, v in enumerate(x[: t + 1]) if not math.isnan(v)]
        if len(seen) < min_periods:
            out.append(math.nan)
            continue
        w = [(1 - alpha) ** (t - i) for i, _ in seen]
        v = [val for _, val in seen]
        sw = sum(w)
        mean = sum(wi * vi for wi, vi in zip(w, v, strict=True)) / sw
        var = sum(wi * (vi - mean) ** 2 for wi, vi in zip(w, v, strict=True)) / sw
        var /= 1 - sum(wi * wi for wi in w) / sw**2
        out.append(math.sqrt(var))
    return out


def test_volatility_thresholds_match_reference() -> None:
    bars = _random_bars(80, seed=11)
    closes = list(bars["close"])
    rets = [math.nan] + [math.log(closes[i] / closes[i - 1]) for i in range(1, len(closes))]
    sigma = _ewm_std_reference(rets, span=30, min_periods=10)
    np.testing.assert_allclose(
        trailing_volatility(bars, span=30, min_periods=10).to_numpy(), sigma, rtol=1e-10
    )
    thr = volatility_thresholds(bars, 5, 1.5, vol_span=30, vol_min_periods=10)
    np.testing.assert_allclose(thr.to_numpy(), 1.5 * math.sqrt(5) * np.array(sigma), rtol=1e-10)


def test_vol_scaled_labels_follow_their_thresholds() -> None:
    bars = _random_bars(120, seed=5)
    labels = three_class_labels(bars, Interval.D1, 5, vol_multiplier=1.0, vol_span=20)
    thr = volatility_thresholds(bars, 5, 1.0, vol_span=20).to_numpy()
    simple = _loop_return(bars, 5, "next_open", "open", "simple")
    for t, (r, k) in enumerate(zip(simple, thr, strict=True)):
        got = labels.values.iloc[t]
        if math.isnan(r) or math.isnan(k):
            assert math.isnan(got)
            assert pd.isna(labels.end.iloc[t])
        else:
            assert got == (BUY if r >= k else SELL if r <= -k else HOLD)
    counts = labels.values.value_counts()
    assert set(counts.index) == {-1.0, 0.0, 1.0}


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    cut=st.integers(25, 59),
    scale=st.floats(0.2, 5.0),
)
def test_vol_thresholds_use_only_the_past(seed: int, cut: int, scale: float) -> None:
    bars = _random_bars(60, seed)
    before = volatility_thresholds(bars, 5, 2.0, vol_span=15, vol_min_periods=5)
    future = bars.copy()
    # Rewrite every bar after `cut`: a different future, same past.
    rng = np.random.default_rng(seed + 1)
    shock = np.exp(rng.normal(0, 0.1, len(bars) - cut - 1)) * scale
    for col in ("open", "high", "low", "close"):
        future.iloc[cut + 1 :, future.columns.get_loc(col)] *= shock
    after = volatility_thresholds(future, 5, 2.0, vol_span=15, vol_min_periods=5)
    np.testing.assert_array_equal(before.to_numpy()[: cut + 1], after.to_numpy()[: cut + 1])


def test_threshold_arguments_are_checked() -> None:
    bars = _random_bars(20, seed=2)
    with pytest.raises(ValueError, match="positive"):
        three_class_labels(bars, Interval.D1, threshold=0.0)
    with pytest.raises(ValueError, match="multiplier"):
        three_class_labels(bars, Interval.D1, vol_multiplier=-1.0)


# ---------------------------------------------------------------- up / down


def test_binary_labels_by_hand() -> None:
    closes = np.array([100.0, 101.0, 101.0, 100.5, 102.0])
    bars = _bars(closes.copy(), closes)
    labels = binary_labels(bars, Interval.D1, 1, entry="close", exit="close")
    # close t -> close t+1: up, flat (down), down, up, unknown.
    np.testing.assert_array_equal(labels.values.to_numpy(), [1.0, 0.0, 0.0, 1.0, math.nan])
    assert labels.values.name == "updown_1"
    assert pd.isna(labels.end.iloc[-1])
    raised = binary_labels(bars, Interval.D1, 1, entry="close", exit="close", threshold=0.012)
    np.testing.assert_array_equal(raised.values.to_numpy(), [0.0, 0.0, 0.0, 1.0, math.nan])


@pytest.mark.parametrize("horizon", [1, 5, 10, 21])
def test_binary_labels_agree_with_sign_of_return(horizon: int) -> None:
    bars = _random_bars(50, seed=horizon)
    labels = binary_labels(bars, Interval.D1, horizon)
    ret = forward_log_return(bars, Interval.D1, horizon).values
    known = ret.notna()
    np.testing.assert_array_equal(labels.values[known], (ret[known] > 0).astype(float))
    assert labels.values[~known].isna().all()
