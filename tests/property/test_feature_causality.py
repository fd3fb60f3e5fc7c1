"""The generic causality test: every registered feature, random cut times, two futures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alphaforge.features import FEATURES, FeatureSpec
from alphaforge.features.causality import causality_violations
from alphaforge.features.registry import BarArrays, FloatArray

N_BARS = 420


def _bars(seed: int, n: int = N_BARS) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 50.0 * np.exp(np.cumsum(rng.standard_t(4, n) * 0.012))
    open_ = close * np.exp(rng.normal(0, 0.004, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.008, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.008, n)))
    volume = rng.lognormal(13, 0.5, n)
    index = pd.date_range("2015-01-01", periods=n, freq="D", tz="UTC", name="timestamp")
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index
    )


@pytest.mark.parametrize("name", FEATURES.names())
@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), data=st.data())
def test_every_feature_is_causal(name: str, seed: int, data: st.DataObject) -> None:
    spec = FEATURES.get(name)
    cuts = data.draw(
        st.lists(st.integers(spec.warmup + 1, N_BARS - 2), min_size=1, max_size=3), label="cuts"
    )
    bars = _bars(seed)
    assert causality_violations(spec, bars, cuts, seed=seed) == []


def _peek_one_bar_ahead(b: BarArrays) -> FloatArray:
    out = np.full_like(b.close, np.nan)
    out[:-1] = np.log(b.close[1:] / b.close[:-1])
    return out


def _centered_mean(b: BarArrays) -> FloatArray:
    return pd.Series(b.close).rolling(5, center=True).mean().to_numpy(np.float64)


@pytest.mark.parametrize("kernel", [_peek_one_bar_ahead, _centered_mean])
def test_a_feature_that_peeks_ahead_is_flagged(kernel: object) -> None:
    spec = FeatureSpec("leaky", "test", 5, ("close",), "peeks ahead", kernel)  # type: ignore[arg-type]
    problems = causality_violations(spec, _bars(7), [100, 250, 400], seed=7)
    assert len(problems) == 6
    assert all(p.startswith("leaky: ") for p in problems)


@pytest.mark.parametrize("name", FEATURES.names())
def test_warmup_is_declared_exactly(name: str) -> None:
    spec = FEATURES.get(name)
    values = spec.kernel(BarArrays.from_frame(_bars(3)))
    leading_nan = int(np.argmax(~np.isnan(values)))
    assert leading_nan == spec.warmup
