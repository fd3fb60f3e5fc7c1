"""Panel features against direct computations: per-timestamp loops, numpy, hmmlearn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hmmlearn.hmm import GaussianHMM

from alphaforge.core.types import AssetClass, Instrument
from alphaforge.features import FEATURES
from alphaforge.features.panel import (
    PANEL_FEATURES,
    HmmFit,
    PanelContext,
    asof_positions,
    compute_panel,
    fit_gaussian_hmm,
    forward_filter,
    hmm_regime_probabilities,
)
from alphaforge.features.registry import FloatArray
from alphaforge.features.testing import random_bars

DAY = pd.Timedelta(days=1)


def _weekdays(bars: pd.DataFrame) -> pd.DataFrame:
    return bars[pd.DatetimeIndex(bars.index).day_of_week < 5]


def _frame(close: FloatArray, index: pd.DatetimeIndex) -> pd.DataFrame:
    return pd.DataFrame(
        {"open": close, "high": close, "low": close, "close": close, "volume": 1.0 + 0 * close},
        index=index,
    )


def _logret(close: FloatArray, lag: int) -> FloatArray:
    out = np.full(len(close), np.nan)
    out[lag:] = np.log(close[lag:] / close[:-lag])
    return out


def _aligned_panel(n: int = 160, symbols: int = 6) -> dict[str, pd.DataFrame]:
    return {f"S{i}": random_bars(i, n) for i in range(symbols)}


# --- alignment --------------------------------------------------------------------------------


def test_asof_positions_is_a_backward_join_with_exact_matches() -> None:
    rng = np.random.default_rng(3)
    source = np.sort(rng.choice(1000, 60, replace=False)).astype(np.int64)
    target = np.sort(rng.choice(1000, 80, replace=False)).astype(np.int64)
    got = asof_positions(source, target)
    for t, pos in zip(target, got, strict=True):
        earlier = np.flatnonzero(source <= t)
        assert pos == (earlier[-1] if earlier.size else -1)


def test_mixed_crypto_and_equity_join_on_known_times() -> None:
    # Daily bars: stamped 00:00 UTC, known one day later.
    crypto_index = pd.date_range(
        "2024-01-01", periods=21, freq="D", tz="UTC", name="timestamp"
    ).as_unit("ns")
    equity_index = crypto_index[crypto_index.day_of_week < 5]
    crypto_close = 100.0 + np.arange(21.0)  # close on day d is 100 + d
    equity_close = 1000.0 + np.arange(21.0)[crypto_index.day_of_week < 5]
    bars = {
        "BTC-USD": _frame(crypto_close, crypto_index),
        "AAPL": _frame(equity_close, equity_index),
    }
    ctx = PanelContext(bars)
    equity_on_crypto = ctx.series_to_members(ctx.known["AAPL"], ctx.close["AAPL"])["BTC-USD"]
    crypto_on_equity = ctx.series_to_members(ctx.known["BTC-USD"], ctx.close["BTC-USD"])["AAPL"]
    saturday = crypto_index.get_loc(pd.Timestamp("2024-01-06", tz="UTC"))
    sunday = crypto_index.get_loc(pd.Timestamp("2024-01-07", tz="UTC"))
    friday_close = 1000.0 + 4.0  # Friday 2024-01-05 is day 4
    assert equity_on_crypto[saturday] == friday_close
    assert equity_on_crypto[sunday] == friday_close
    monday = equity_index.get_loc(pd.Timestamp("2024-01-08", tz="UTC"))
    # The equity Monday bar is known Tue 00:00, when Monday's crypto bar (day 7) is known too,
    # but not Tuesday's (day 8).
    assert crypto_on_equity[monday] == 100.0 + 7.0
    # Hourly equity bars on Monday (known at open + 1h) see Sunday's crypto bar only: Monday's
    # daily crypto bar is not known before Tuesday 00:00.
    hours = pd.date_range(
        "2024-01-08 14:00", periods=7, freq="h", tz="UTC", name="timestamp"
    ).as_unit("ns")
    intraday = {"BTC-USD": bars["BTC-USD"], "AAPL": _frame(50.0 + np.arange(7.0), hours)}
    # Declared intervals: inferred from the bars so far, the first hourly bar would count as
    # daily and keep the whole first day known late (conservative, see the module docstring).
    ctx = PanelContext(intraday, intervals={"BTC-USD": "1d", "AAPL": "1h"})
    seen = ctx.series_to_members(ctx.known["BTC-USD"], ctx.close["BTC-USD"])["AAPL"]
    np.testing.assert_array_equal(seen, np.full(7, 100.0 + 6.0))


def test_saturday_crypto_rank_uses_friday_equity_return() -> None:
    crypto = random_bars(1, 200)
    equity = _weekdays(random_bars(2, 200))
    out = compute_panel({"BTC-USD": crypto, "AAPL": equity}, ["cs_zscore_ret_20"])
    saturday = pd.Timestamp("2015-06-06", tz="UTC")
    friday = pd.Timestamp("2015-06-05", tz="UTC")
    btc = _logret(crypto["close"].to_numpy(), 20)[crypto.index.get_loc(saturday)]
    aapl = _logret(equity["close"].to_numpy(), 20)[equity.index.get_loc(friday)]
    # Two members: the z-score is +1 for the larger return, -1 for the smaller.
    assert out["BTC-USD"].loc[saturday, "cs_zscore_ret_20"] == pytest.approx(
        1.0 if btc > aapl else -1.0
    )


# --- cross-sectional --------------------------------------------------------------------------


def test_cs_rank_and_zscore_match_a_per_timestamp_loop() -> None:
    bars = _aligned_panel()
    bars["LATE"] = random_bars(99, 160).iloc[60:]  # joins later: absent before its first bar
    out = compute_panel(bars, ["cs_rank_ret_20", "cs_zscore_ret_20", "cs_rank_vol_20"])
    index = bars["S0"].index
    rets = {s: pd.Series(_logret(b["close"].to_numpy(), 20), b.index) for s, b in bars.items()}
    for t in (20, 50, 79, 80, 120, 159):
        stamp = index[t]
        values = {s: r.get(stamp, np.nan) for s, r in rets.items()}
        finite = {s: v for s, v in values.items() if np.isfinite(v)}
        xs = np.array(list(finite.values()))
        for symbol, v in finite.items():
            below = sum(1 for w in xs if w < v)
            ties = sum(1 for w in xs if w == v) - 1
            expected = (below + ties / 2) / (len(xs) - 1)
            assert out[symbol].loc[stamp, "cs_rank_ret_20"] == pytest.approx(expected)
            z = (v - xs.mean()) / xs.std()
            assert out[symbol].loc[stamp, "cs_zscore_ret_20"] == pytest.approx(z, rel=1e-9)
    # Volatility rank: sample std of the last 20 one-bar log returns.
    t = 100
    vols = {
        s: np.std(_logret(b["close"].to_numpy(), 1)[t - 19 : t + 1], ddof=1)
        for s, b in bars.items()
        if s != "LATE"
    }
    vols["LATE"] = np.std(_logret(bars["LATE"]["close"].to_numpy(), 1)[t - 79 : t - 59], ddof=1)
    order = sorted(vols, key=lambda s: vols[s])
    for rank, symbol in enumerate(order):
        got = out[symbol].loc[index[t], "cs_rank_vol_20"]
        assert got == pytest.approx(rank / (len(order) - 1))


def test_breadth_and_sector_relative_strength() -> None:
    bars = _aligned_panel(symbols=5)
    sectors = {"S0": "tech", "S1": "tech", "S2": "energy", "S3": "energy", "S4": None}
    instruments = {s: Instrument(s, AssetClass.STOCK, sector=sec) for s, sec in sectors.items()}
    out = compute_panel(bars, ["breadth_above_sma_50", "sector_rs_20"], instruments=instruments)
    t = 130
    stamp = bars["S0"].index[t]
    above = [b["close"].iloc[t] > b["close"].iloc[t - 49 : t + 1].mean() for b in bars.values()]
    assert out["S3"].loc[stamp, "breadth_above_sma_50"] == pytest.approx(np.mean(above))
    assert np.isnan(out["S3"]["breadth_above_sma_50"].iloc[48])
    ret = {s: np.log(b["close"].iloc[t] / b["close"].iloc[t - 20]) for s, b in bars.items()}
    tech = (ret["S0"] + ret["S1"]) / 2
    assert out["S0"].loc[stamp, "sector_rs_20"] == pytest.approx(ret["S0"] - tech, rel=1e-9)
    energy = (ret["S2"] + ret["S3"]) / 2
    assert out["S3"].loc[stamp, "sector_rs_20"] == pytest.approx(ret["S3"] - energy, rel=1e-9)
    assert out["S4"]["sector_rs_20"].isna().all()
    # Without sectors the feature is absent by default and refused by name.
    assert "sector_rs_20" not in compute_panel(bars)["S0"].columns
    with pytest.raises(ValueError, match="sector"):
        compute_panel(bars, ["sector_rs_20"])


# --- cross-asset ------------------------------------------------------------------------------


def test_beta_corr_and_leadlag_match_numpy_on_one_window() -> None:
    bars = _aligned_panel(n=200, symbols=3)
    bars["^GSPC"] = random_bars(50, 200)
    out = compute_panel(bars, ["beta_60", "corr_60", "leadlag_corr_60"])
    assert "^GSPC" in out and "beta_60" not in out["^GSPC"].columns  # an input, not a member
    x = _logret(bars["S1"]["close"].to_numpy(), 1)
    y = _logret(bars["^GSPC"]["close"].to_numpy(), 1)
    for t in (61, 150, 199):
        xs, ys = x[t - 59 : t + 1], y[t - 59 : t + 1]
        beta = np.cov(xs, ys)[0, 1] / np.var(ys, ddof=1)
        assert out["S1"]["beta_60"].iloc[t] == pytest.approx(beta, rel=1e-8)
        assert out["S1"]["corr_60"].iloc[t] == pytest.approx(np.corrcoef(xs, ys)[0, 1], rel=1e-8)
        lead = np.corrcoef(xs, y[t - 60 : t])[0, 1]
        assert out["S1"]["leadlag_corr_60"].iloc[t] == pytest.approx(lead, rel=1e-8)
    assert np.isnan(out["S1"]["beta_60"].iloc[59])
    assert np.isnan(out["S1"]["leadlag_corr_60"].iloc[60])


def test_equal_weight_benchmark_when_no_index_is_present() -> None:
    bars = _aligned_panel(n=150, symbols=4)
    out = compute_panel(bars, ["beta_60", "corr_60"])
    rets = np.column_stack([_logret(b["close"].to_numpy(), 1) for b in bars.values()])
    bench = rets.mean(axis=1)
    x = rets[:, 2]
    t = 149
    xs, ys = x[t - 59 : t + 1], bench[t - 59 : t + 1]
    beta = np.cov(xs, ys)[0, 1] / np.var(ys, ddof=1)
    assert out["S2"]["beta_60"].iloc[t] == pytest.approx(beta, rel=1e-8)
    # The betas of the members to their own equal-weight mean average to one.
    mean_beta = np.mean([out[s]["beta_60"].iloc[t] for s in bars])
    assert mean_beta == pytest.approx(1.0, rel=1e-9)
    # SPY, when present, is the benchmark (and stays a member).
    bars["SPY"] = random_bars(77, 150)
    spy = compute_panel(bars, ["beta_60"])
    assert spy["SPY"]["beta_60"].iloc[t] == pytest.approx(1.0)


def test_vix_features_only_with_vix() -> None:
    bars = _aligned_panel(n=120, symbols=3)
    plain = compute_panel(bars)
    assert not any(c.startswith("vix_") for c in plain["S0"].columns)
    with pytest.raises(ValueError, match=r"\^VIX"):
        compute_panel(bars, ["vix_level"])
    vix = _weekdays(random_bars(5, 170))  # weekdays only, beside 24/7 members
    bars["^VIX"] = vix
    out = compute_panel(bars)
    assert {"vix_level", "vix_change_5", "vix_z_60"} <= set(out["S0"].columns)
    assert not any(c in PANEL_FEATURES for c in out["^VIX"].columns)  # an input
    assert set(out["^VIX"].columns) == set(FEATURES.names()) & set(out["^VIX"].columns)
    vclose = vix["close"]
    stamp = pd.Timestamp("2015-04-12", tz="UTC")  # a Sunday: Friday's VIX bar is the latest
    friday = int(np.flatnonzero(vix.index == pd.Timestamp("2015-04-10", tz="UTC"))[0])
    row = out["S1"].loc[stamp]
    assert row["vix_level"] == vclose.iloc[friday]
    assert row["vix_change_5"] == pytest.approx(vclose.iloc[friday] - vclose.iloc[friday - 5])
    window = vclose.iloc[friday - 59 : friday + 1].to_numpy()
    z = (window[-1] - window.mean()) / window.std(ddof=1)
    assert row["vix_z_60"] == pytest.approx(z, rel=1e-9)


def test_yield_curve_and_dollar() -> None:
    bars = _aligned_panel(n=80, symbols=2)
    bars["^TNX"] = random_bars(11, 80)
    assert "yield_curve_slope" not in compute_panel(bars)["S0"].columns
    with pytest.raises(ValueError, match=r"\^IRX"):
        compute_panel(bars, ["yield_curve_slope"])
    bars["^IRX"] = random_bars(12, 80)
    bars["UUP"] = random_bars(13, 80)
    out = compute_panel(bars, ["yield_curve_slope", "dollar_ret_20"])
    slope = bars["^TNX"]["close"] - bars["^IRX"]["close"]
    np.testing.assert_allclose(out["S0"]["yield_curve_slope"], slope, rtol=1e-12)
    dollar = _logret(bars["UUP"]["close"].to_numpy(), 20)
    np.testing.assert_allclose(out["S1"]["dollar_ret_20"], dollar, rtol=1e-12)


# --- names and output -------------------------------------------------------------------------


def test_names_mix_per_symbol_and_panel_and_unknown_names_fail() -> None:
    bars = _aligned_panel(n=80, symbols=3)
    out = compute_panel(bars, ["ret_log_1", "cs_rank_ret_5"])
    assert list(out["S0"].columns) == ["ret_log_1", "cs_rank_ret_5"]
    assert out["S0"].index.equals(bars["S0"].index)
    with pytest.raises(ValueError, match="unknown feature") as info:
        compute_panel(bars, ["cs_rank_ret_7"])
    assert "cs_rank_ret_5" in str(info.value)


def test_every_panel_feature_starts_at_its_warmup() -> None:
    n = 700
    bars = {f"S{i}": random_bars(i, n) for i in range(4)}
    for j, symbol in enumerate(("^VIX", "^TNX", "^IRX", "DX-Y.NYB", "^GSPC")):
        bars[symbol] = random_bars(40 + j, n)
    instruments = {
        f"S{i}": Instrument(f"S{i}", AssetClass.STOCK, sector="a" if i < 2 else "b")
        for i in range(4)
    }
    out = compute_panel(bars, PANEL_FEATURES.names(), instruments=instruments)
    for name in PANEL_FEATURES.names():
        values = out["S2"][name].to_numpy()
        finite = np.flatnonzero(np.isfinite(values))
        assert finite[0] == PANEL_FEATURES.get(name).warmup, name
        assert np.isfinite(values[finite[0] :]).all(), name


# --- the HMM regime ---------------------------------------------------------------------------


def _reference_model(fit: HmmFit) -> GaussianHMM:
    model = GaussianHMM(n_components=2, covariance_type="diag", init_params="", params="")
    model.startprob_ = fit.startprob
    model.transmat_ = fit.transmat
    model.means_ = fit.means[:, None]
    model.covars_ = fit.variances[:, None]
    return model


def test_forward_filter_equals_hmmlearn_posterior_of_the_last_observation() -> None:
    rng = np.random.default_rng(8)
    n = 900
    returns = np.concatenate([[np.nan], rng.standard_t(4, n - 1) * 0.01])
    known = pd.date_range("2015-03-01", periods=n, freq="D", tz="UTC").as_unit("ns").asi8
    probs, fits = hmm_regime_probabilities(returns, known, min_obs=300)
    # First fit once 300 returns exist (row 300), refits on the first bar of 2016 and 2017.
    years = pd.DatetimeIndex(known).year
    assert [f.row for f in fits] == [
        300,
        int(np.flatnonzero(years == 2016)[0]),
        int(np.flatnonzero(years == 2017)[0]),
    ]
    assert np.isnan(probs[:300]).all()
    assert np.isfinite(probs[300:]).all()
    np.testing.assert_allclose(probs.sum(axis=1)[300:], 1.0)
    for k, fit in enumerate(fits):
        assert fit.variances[1] > fit.variances[0]
        end = fits[k + 1].row if k + 1 < len(fits) else n
        model = _reference_model(fit)
        for t in (fit.row, fit.row + 1, (fit.row + end) // 2, end - 1):
            expected = model.predict_proba(returns[1 : t + 1, None])[-1]
            np.testing.assert_allclose(probs[t], expected, rtol=1e-8, atol=1e-12)
    # The filter alone, with one fit, on the whole series.
    filtered = forward_filter(returns, fits[0])
    model = _reference_model(fits[0])
    for t in (1, 2, 57, 444):
        expected = model.predict_proba(returns[1 : t + 1, None])[-1]
        np.testing.assert_allclose(filtered[t], expected, rtol=1e-8, atol=1e-12)
    assert np.isnan(filtered[0]).all()


def test_hmm_finds_the_high_volatility_block() -> None:
    rng = np.random.default_rng(21)

    def quiet(n: int) -> FloatArray:
        return rng.normal(0.0005, 0.006, n)

    def wild(n: int) -> FloatArray:
        return rng.normal(-0.001, 0.03, n)

    # Rows 1-300 quiet, 301-400 wild, 401-700 quiet, 701-850 wild, then quiet.
    returns = np.concatenate([[np.nan], quiet(300), wild(100), quiet(300), wild(150), quiet(400)])
    known = pd.date_range("2012-01-01", periods=len(returns), freq="D", tz="UTC")
    probs, fits = hmm_regime_probabilities(returns, known.as_unit("ns").asi8)
    assert [f.row for f in fits] == [500, 731, 1096]  # first fit, then each new year
    for fit in fits:
        np.testing.assert_allclose(np.sqrt(fit.variances), [0.006, 0.03], rtol=0.15)
    assert np.mean(probs[711:851, 1] > 0.8) > 0.95
    assert np.median(probs[711:851, 1]) > 0.99
    assert np.mean(probs[900:, 1] < 0.2) > 0.95


def test_hmm_panel_feature_uses_the_benchmark() -> None:
    n = 620
    bars = {f"S{i}": random_bars(i, n) for i in range(3)}
    bars["^GSPC"] = random_bars(30, n)
    out = compute_panel(bars, ["hmm_state_prob_0", "hmm_state_prob_1"])
    returns = _logret(bars["^GSPC"]["close"].to_numpy(), 1)
    known = (pd.DatetimeIndex(bars["^GSPC"].index) + DAY).as_unit("ns").asi8
    probs, _ = hmm_regime_probabilities(returns, known)
    np.testing.assert_allclose(out["S1"]["hmm_state_prob_1"].to_numpy(), probs[:, 1])
    total = out["S1"]["hmm_state_prob_0"] + out["S1"]["hmm_state_prob_1"]
    np.testing.assert_allclose(total.iloc[500:], 1.0)


def test_inferred_known_at_times_use_only_past_bars() -> None:
    from alphaforge.features.panel import _interval_ns, _known_at

    # A symbol listed on a Friday: Fri, Mon, Tue, Wed, ... then a holiday gap.
    days = pd.DatetimeIndex(
        ["2024-01-05", "2024-01-08", "2024-01-09", "2024-01-10", "2024-01-11", "2024-01-16"],
        tz="UTC",
    )
    stamps = days.as_unit("ns").asi8
    full = _known_at(stamps, _interval_ns(stamps, None))
    for n in range(1, len(stamps) + 1):
        prefix = stamps[:n]
        np.testing.assert_array_equal(_known_at(prefix, _interval_ns(prefix, None)), full[:n])
    # First bar: one day; Monday: the 3-day spacing seen so far; then the median (1 day)
    # once it dominates; never earlier than a previous bar.
    expected = pd.DatetimeIndex(
        ["2024-01-06", "2024-01-11", "2024-01-11", "2024-01-11", "2024-01-12", "2024-01-17"],
        tz="UTC",
    )
    np.testing.assert_array_equal(full, expected.as_unit("ns").asi8)
    assert (np.diff(full) >= 0).all()


def test_hmm_fit_reaches_the_likelihood_optimum() -> None:
    """EM run by hmmlearn to a standstill (20,000 iterations, no tolerance) from the same start
    gives the same transition matrix to 1e-6; stopping at a 1e-4 gain left it ~1.5e-4 short."""
    rng = np.random.default_rng(0)
    n = 1500
    state = np.zeros(n, dtype=int)
    for t in range(1, n):
        state[t] = state[t - 1] if rng.random() < 0.97 else 1 - state[t - 1]
    returns = rng.normal(0.0, np.where(state == 1, 0.016, 0.01))
    fit = fit_gaussian_hmm(returns)
    scale = float(np.std(returns))
    reference = GaussianHMM(
        n_components=2,
        covariance_type="diag",
        n_iter=20_000,
        tol=0.0,
        init_params="",
        implementation="scaling",
    )
    reference.startprob_ = np.array([0.5, 0.5])
    reference.transmat_ = np.array([[0.98, 0.02], [0.02, 0.98]])
    reference.means_ = np.zeros((2, 1))
    reference.covars_ = np.array([[0.5], [2.0]])
    reference.fit((returns / scale)[:, None])
    order = np.argsort(reference.covars_[:, 0, 0])
    np.testing.assert_allclose(
        fit.transmat, reference.transmat_[np.ix_(order, order)], rtol=0, atol=1e-6
    )
    np.testing.assert_allclose(fit.variances, reference.covars_[order, 0, 0] * scale**2, rtol=1e-5)
