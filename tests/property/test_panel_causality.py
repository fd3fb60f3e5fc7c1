"""Causality of every panel feature: values known by a time do not depend on later bars.

A panel mixes weekday series (equity-like, one listed later), a 24/7 daily series, a 24/7
6-hourly series and the macro inputs. For a cut time ``c``, every row known by ``c`` (open +
interval <= c) must keep its value when every series is truncated to the bars known by ``c``,
and when every series' later bars are replaced by a different random path.

The training path is held to the same rule: every row of
:func:`~alphaforge.models.dataset.build_panel` stamped at or before ``t`` (per-symbol and
panel features, with the index and macro series as inputs) is unchanged when the bars after
``t`` of every series are replaced or removed.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alphaforge.config.models import LabelsConfig
from alphaforge.core.types import AssetClass, Instrument, Interval
from alphaforge.features.panel import (
    PANEL_FEATURES,
    PanelContext,
    PanelFeatureSpec,
    PanelValues,
    compute_panel_specs,
)
from alphaforge.features.testing import random_bars
from alphaforge.models.dataset import build_panel

N_DAYS = 900
START = pd.Timestamp("2015-01-02", tz="UTC")
_RTOL = 1e-9
_ATOL = 1e-12


def _weekdays(bars: pd.DataFrame) -> pd.DataFrame:
    return bars[pd.DatetimeIndex(bars.index).day_of_week < 5]


@cache
def _panel(with_index: bool) -> dict[str, pd.DataFrame]:
    bars = {
        "AAA": _weekdays(random_bars(1, N_DAYS)),
        "BBB": _weekdays(random_bars(2, N_DAYS)),
        "CCC": _weekdays(random_bars(3, N_DAYS)).iloc[150:],  # listed later
        "BTC-USD": random_bars(4, N_DAYS, volatility=0.03),
        "ETH-USD": random_bars(5, N_DAYS * 4, freq="6h", volatility=0.015),
        "^VIX": _weekdays(random_bars(6, N_DAYS, volatility=0.05)),
        "^TNX": _weekdays(random_bars(7, N_DAYS)),
        "^IRX": _weekdays(random_bars(8, N_DAYS)),
        "DX-Y.NYB": _weekdays(random_bars(9, N_DAYS, volatility=0.004)),
    }
    if with_index:
        bars["^GSPC"] = _weekdays(random_bars(10, N_DAYS))
    return bars


INSTRUMENTS = {
    "AAA": Instrument("AAA", AssetClass.STOCK, sector="tech"),
    "BBB": Instrument("BBB", AssetClass.STOCK, sector="tech"),
    "CCC": Instrument("CCC", AssetClass.STOCK, sector="energy"),
    "BTC-USD": Instrument("BTC-USD", AssetClass.CRYPTO),
    "ETH-USD": Instrument("ETH-USD", AssetClass.CRYPTO),
}


def _known_at(bars: pd.DataFrame) -> pd.DatetimeIndex:
    """Known-at times as the panel infers them without a given interval, from past bars only:
    open + the median spacing of the bars so far (one day for the first), never decreasing."""
    stamps = pd.DatetimeIndex(bars.index).as_unit("ns").asi8
    day = pd.Timedelta(days=1).value
    known = [
        int(stamps[i]) + (int(np.median(np.diff(stamps[: i + 1]))) if i else day)
        for i in range(len(stamps))
    ]
    return pd.DatetimeIndex(np.maximum.accumulate(known), tz="UTC")


def _scramble(bars: pd.DataFrame, keep: int, rng: np.random.Generator) -> pd.DataFrame:
    tail = len(bars) - keep
    if tail <= 0:
        return bars
    factor = np.exp(np.cumsum(rng.normal(0.0, 0.05, tail))) * rng.uniform(0.3, 3.0)
    out = bars.copy()
    for column in ("open", "high", "low", "close"):
        values = out[column].to_numpy(copy=True)
        values[keep:] = values[keep:] * factor
        out[column] = values
    return out


def panel_violations(
    bars: dict[str, pd.DataFrame],
    specs: Sequence[PanelFeatureSpec],
    cut: pd.Timestamp,
    *,
    seed: int,
) -> list[str]:
    """Return a message per feature whose values known by ``cut`` change with the future."""
    rng = np.random.default_rng(seed)
    full = compute_panel_specs(bars, specs, instruments=INSTRUMENTS)
    keep = {s: int((_known_at(b) <= cut).sum()) for s, b in bars.items()}
    truncated = {s: b.iloc[: keep[s]] for s, b in bars.items() if keep[s] > 0}
    scrambled = {s: _scramble(b, keep[s], rng) for s, b in bars.items()}
    variants = {
        "truncated": compute_panel_specs(truncated, specs, instruments=INSTRUMENTS),
        "scrambled": compute_panel_specs(scrambled, specs, instruments=INSTRUMENTS),
    }
    problems: list[str] = []
    for how, frames in variants.items():
        for spec in specs:
            for symbol, frame in full.items():
                n = keep[symbol]
                if n == 0:
                    continue
                reference = frame[spec.name].to_numpy()[:n]
                other = frames[symbol][spec.name].to_numpy()[:n]
                same = (np.isnan(reference) & np.isnan(other)) | np.isclose(
                    reference, other, rtol=_RTOL, atol=_ATOL
                )
                if not same.all():
                    first = bars[symbol].index[int(np.flatnonzero(~same)[0])]
                    problems.append(
                        f"{spec.name} ({symbol}): values known by {cut} change when the future"
                        f" is {how} (first at {first})"
                    )
    return problems


@pytest.mark.parametrize("with_index", [True, False], ids=["gspc", "equal_weight"])
@settings(max_examples=6, deadline=None)
@given(day=st.integers(20, N_DAYS - 5), hour=st.integers(0, 23), seed=st.integers(0, 2**16))
def test_every_panel_feature_is_causal(with_index: bool, day: int, hour: int, seed: int) -> None:
    bars = _panel(with_index)
    specs = [PANEL_FEATURES.get(n) for n in PANEL_FEATURES.names()]
    cut = START + pd.Timedelta(days=day, hours=hour)
    assert panel_violations(bars, specs, cut, seed=seed) == []


@pytest.mark.parametrize("with_index", [True, False], ids=["gspc", "equal_weight"])
def test_cuts_around_the_regime_refits_are_causal(with_index: bool) -> None:
    bars = _panel(with_index)
    specs = [PANEL_FEATURES.get(n) for n in ("hmm_state_prob_0", "hmm_state_prob_1")]
    for cut in ("2016-12-31 12:00", "2017-01-01 00:00", "2017-01-03 06:00", "2017-05-01"):
        assert panel_violations(bars, specs, pd.Timestamp(cut, tz="UTC"), seed=1) == []
    # The cuts above see the fitted HMM: its values are finite before them.
    values = compute_panel_specs(bars, specs, instruments=INSTRUMENTS)["AAA"]
    assert values.loc[:"2016-12-30", "hmm_state_prob_1"].notna().any()


def _next_cross_sectional_mean(ctx: PanelContext) -> PanelValues:
    returns = ctx.master_stat(("log_ret", 1), lambda c, _: np.log(c / np.roll(c, 1, axis=0)))
    mean = np.nanmean(returns, axis=1)
    ahead = np.full_like(mean, np.nan)
    ahead[:-1] = mean[1:]
    return ctx.from_master(np.repeat(ahead[:, None], len(ctx.members), axis=1))


def _benchmark_tomorrow(ctx: PanelContext) -> PanelValues:
    known, level = ctx.benchmark_level()
    ahead = np.full_like(level, np.nan)
    ahead[:-1] = level[1:]
    return ctx.series_to_members(known, ahead)


@pytest.mark.parametrize("kernel", [_next_cross_sectional_mean, _benchmark_tomorrow])
def test_a_leaky_panel_feature_is_flagged(kernel: object) -> None:
    spec = PanelFeatureSpec("leaky", "cross_sectional", 1, "peeks ahead", kernel)  # type: ignore[arg-type]
    bars = _panel(False)
    problems = panel_violations(bars, [spec], pd.Timestamp("2016-03-09 13:00", tz="UTC"), seed=3)
    assert problems
    assert all(p.startswith("leaky (") for p in problems)


# --- the training path: build_panel -----------------------------------------------------------

#: The universe build_panel trains on (one interval: daily; weekday equities, one listed later,
#: and a 24/7 crypto series) and the index and macro series it reads as inputs (no rows).
_TRAIN_MEMBERS = ("AAA", "BBB", "CCC", "BTC-USD")
_TRAIN_NAMES = ["ret_log_5", "rsi_14", *PANEL_FEATURES.names()]
_TRAIN_MIN_HISTORY = 20


def _training_rows(
    bars: dict[str, pd.DataFrame], inputs: dict[str, pd.DataFrame], cut: pd.Timestamp
) -> pd.DataFrame:
    """Return build_panel's feature rows stamped at or before ``cut``."""
    panel = build_panel(
        {s: b for s, b in bars.items() if len(b)},
        Interval.D1,
        LabelsConfig(),
        _TRAIN_NAMES,
        min_history=_TRAIN_MIN_HISTORY,
        instruments=INSTRUMENTS,
        inputs={s: b for s, b in inputs.items() if len(b)},
    )
    stamps = pd.DatetimeIndex(panel.X.index.get_level_values("timestamp"))
    return panel.X[stamps <= cut]


def training_violations(with_index: bool, cut: pd.Timestamp, seed: int) -> list[str]:
    """Return a message per column whose build_panel rows at or before ``cut`` change when
    the bars after ``cut`` are replaced by another path or removed."""
    rng = np.random.default_rng(seed)
    every = _panel(with_index)
    members = {s: every[s] for s in _TRAIN_MEMBERS}
    inputs = {s: b for s, b in every.items() if s.startswith("^") or s == "DX-Y.NYB"}
    reference = _training_rows(members, inputs, cut)

    def after(series: dict[str, pd.DataFrame], how: str) -> dict[str, pd.DataFrame]:
        out = {}
        for symbol, bars in series.items():
            keep = int((pd.DatetimeIndex(bars.index) <= cut).sum())
            out[symbol] = bars.iloc[:keep] if how == "truncated" else _scramble(bars, keep, rng)
        return out

    problems: list[str] = []
    for how in ("scrambled", "truncated"):
        other = _training_rows(after(members, how), after(inputs, how), cut)
        if not other.index.equals(reference.index):
            problems.append(f"rows at or before {cut} differ when the future is {how}")
            continue
        for name in reference.columns:
            a = reference[name].to_numpy(np.float64)
            b = other[name].to_numpy(np.float64)
            same = (np.isnan(a) & np.isnan(b)) | np.isclose(a, b, rtol=_RTOL, atol=_ATOL)
            if not same.all():
                first = reference.index[int(np.flatnonzero(~same)[0])]
                problems.append(
                    f"{name}: build_panel's row {first} (at or before {cut}) changes when the "
                    f"future is {how}"
                )
    return problems


@pytest.mark.parametrize("with_index", [True, False], ids=["gspc", "equal_weight"])
@settings(max_examples=5, deadline=None)
@given(day=st.integers(60, N_DAYS - 5), seed=st.integers(0, 2**16))
def test_build_panel_rows_do_not_change_with_later_bars(
    with_index: bool, day: int, seed: int
) -> None:
    cut = START + pd.Timedelta(days=day)
    assert training_violations(with_index, cut, seed) == []


def test_build_panel_causality_check_sees_every_panel_feature() -> None:
    # Past the HMM's first fit every panel feature has values before the cut, so the property
    # above compares real numbers, not NaN with NaN.
    rows = _training_rows(
        {s: _panel(False)[s] for s in _TRAIN_MEMBERS},
        {s: b for s, b in _panel(False).items() if s.startswith("^") or s == "DX-Y.NYB"},
        START + pd.Timedelta(days=N_DAYS - 5),
    )
    assert set(PANEL_FEATURES.names()) <= set(rows.columns)
    assert rows[PANEL_FEATURES.names()].notna().any().all()
