"""Volatility and regime features against textbook formulas computed independently.

Each reference below is a plain Python loop over one trailing window (``math`` and
``statistics``), compared with the vectorised kernel at the last bar and a few others, plus
series with a known answer (constant range, flat bars, monotone prices).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
import talib
from scipy import stats

from alphaforge.features import FEATURES, compute
from alphaforge.features.library.volatility import yang_zhang_k
from alphaforge.features.testing import random_bars

N = 420
RTOL = 1e-9


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return random_bars(5, N)


def _cols(bars: pd.DataFrame) -> tuple[list[float], list[float], list[float], list[float]]:
    return (
        [float(x) for x in bars["open"]],
        [float(x) for x in bars["high"]],
        [float(x) for x in bars["low"]],
        [float(x) for x in bars["close"]],
    )


def _rows(warmup: int) -> list[int]:
    """Rows to compare: the first value, two in the middle and the last."""
    return [warmup, (warmup + N) // 2, N - 7, N - 1]


def _log_returns(close: list[float], i: int, n: int) -> list[float]:
    return [math.log(close[j] / close[j - 1]) for j in range(i - n + 1, i + 1)]


def _check(bars: pd.DataFrame, name: str, reference: Callable[[int], float]) -> None:
    values = compute(bars, [name])[name]
    spec = FEATURES.get(name)
    assert values.iloc[: spec.warmup].isna().all()
    for i in _rows(spec.warmup):
        expected = reference(i)
        assert values.iloc[i] == pytest.approx(expected, rel=RTOL, abs=1e-13), (name, i)


# --- close-to-close volatility ----------------------------------------------------------------


@pytest.mark.parametrize("n", [5, 10, 20, 60])
def test_vol_std_is_the_sample_std_of_log_returns(bars: pd.DataFrame, n: int) -> None:
    _, _, _, c = _cols(bars)
    _check(bars, f"vol_std_{n}", lambda i: statistics.stdev(_log_returns(c, i, n)))


def test_semideviations(bars: pd.DataFrame) -> None:
    _, _, _, c = _cols(bars)

    def down(i: int) -> float:
        return math.sqrt(sum(min(r, 0.0) ** 2 for r in _log_returns(c, i, 20)) / 20)

    def up(i: int) -> float:
        return math.sqrt(sum(max(r, 0.0) ** 2 for r in _log_returns(c, i, 20)) / 20)

    _check(bars, "vol_down_20", down)
    _check(bars, "vol_up_20", up)
    # Together they make the root mean square of the returns.
    out = compute(bars, ["vol_down_20", "vol_up_20"])
    rms = math.sqrt(sum(r * r for r in _log_returns(c, N - 1, 20)) / 20)
    assert math.hypot(out["vol_down_20"].iloc[-1], out["vol_up_20"].iloc[-1]) == pytest.approx(
        rms, rel=RTOL
    )


def test_vol_of_vol(bars: pd.DataFrame) -> None:
    _, _, _, c = _cols(bars)

    def reference(i: int) -> float:
        vols = [statistics.stdev(_log_returns(c, j, 20)) for j in range(i - 19, i + 1)]
        return statistics.stdev(vols) / statistics.fmean(vols)

    _check(bars, "vol_of_vol_20", reference)


@pytest.mark.parametrize("short", [5, 20])
def test_vol_ratio(bars: pd.DataFrame, short: int) -> None:
    _, _, _, c = _cols(bars)

    def reference(i: int) -> float:
        return statistics.stdev(_log_returns(c, i, short)) / statistics.stdev(
            _log_returns(c, i, 60)
        )

    _check(bars, f"vol_ratio_{short}_60", reference)


# --- range estimators -------------------------------------------------------------------------


@pytest.mark.parametrize("n", [10, 20, 60])
def test_parkinson(bars: pd.DataFrame, n: int) -> None:
    _, h, lo, _ = _cols(bars)

    def reference(i: int) -> float:
        total = sum(math.log(h[j] / lo[j]) ** 2 for j in range(i - n + 1, i + 1))
        return math.sqrt(total / (4.0 * n * math.log(2.0)))

    _check(bars, f"vol_parkinson_{n}", reference)


@pytest.mark.parametrize("n", [20, 60])
def test_garman_klass(bars: pd.DataFrame, n: int) -> None:
    o, h, lo, c = _cols(bars)

    def reference(i: int) -> float:
        terms = [
            0.5 * math.log(h[j] / lo[j]) ** 2
            - (2.0 * math.log(2.0) - 1.0) * math.log(c[j] / o[j]) ** 2
            for j in range(i - n + 1, i + 1)
        ]
        return math.sqrt(sum(terms) / n)

    _check(bars, f"vol_garman_klass_{n}", reference)


def _rs_term(o: float, h: float, lo: float, c: float) -> float:
    return math.log(h / c) * math.log(h / o) + math.log(lo / c) * math.log(lo / o)


@pytest.mark.parametrize("n", [20, 60])
def test_rogers_satchell(bars: pd.DataFrame, n: int) -> None:
    o, h, lo, c = _cols(bars)

    def reference(i: int) -> float:
        terms = [_rs_term(o[j], h[j], lo[j], c[j]) for j in range(i - n + 1, i + 1)]
        return math.sqrt(sum(terms) / n)

    _check(bars, f"vol_rogers_satchell_{n}", reference)


def test_yang_zhang_weight() -> None:
    assert yang_zhang_k(20) == pytest.approx(0.34 / (1.34 + 21 / 19), rel=1e-15)
    assert yang_zhang_k(60) == pytest.approx(0.34 / (1.34 + 61 / 59), rel=1e-15)


@pytest.mark.parametrize("n", [20, 60])
def test_yang_zhang(bars: pd.DataFrame, n: int) -> None:
    o, h, lo, c = _cols(bars)
    weight = 0.34 / (1.34 + (n + 1) / (n - 1))

    def reference(i: int) -> float:
        window = range(i - n + 1, i + 1)
        overnight = statistics.variance([math.log(o[j] / c[j - 1]) for j in window])
        open_close = statistics.variance([math.log(c[j] / o[j]) for j in window])
        rs = sum(_rs_term(o[j], h[j], lo[j], c[j]) for j in window) / n
        return math.sqrt(overnight + weight * open_close + (1.0 - weight) * rs)

    _check(bars, f"vol_yang_zhang_{n}", reference)


def _frame(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray) -> pd.DataFrame:
    index = pd.date_range("2020-01-01", periods=len(close), freq="D", tz="UTC", name="timestamp")
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": 1e6},
        index=index.as_unit("ns"),
    )


def test_constant_range_gives_a_known_parkinson_value() -> None:
    close = 40.0 * np.exp(np.cumsum(np.random.default_rng(1).normal(0, 0.01, 120)))
    width = 0.03
    out = compute(_frame(close, close * math.exp(width), close, close), ["vol_parkinson_20"])
    expected = width / math.sqrt(4.0 * math.log(2.0))
    np.testing.assert_allclose(out["vol_parkinson_20"].iloc[19:], expected, rtol=1e-12)


def test_range_estimators_are_zero_on_flat_bars() -> None:
    flat = np.full(150, 25.0)
    names = [
        f"vol_{e}_{n}" for e in ("garman_klass", "rogers_satchell", "yang_zhang") for n in (20, 60)
    ]
    out = compute(_frame(flat, flat, flat, flat), [*names, "vol_parkinson_20", "vol_std_20"])
    for name in out.columns:
        values = out[name].dropna()
        assert len(values) == 150 - FEATURES.get(name).warmup
        assert (values == 0.0).all(), name


def test_yang_zhang_on_bars_without_range_is_close_to_close_vol() -> None:
    # open = high = low = close on every bar: only the overnight part is left, i.e. the
    # sample std of close-to-close log returns; Garman-Klass and Rogers-Satchell are 0.
    close = 40.0 * np.exp(np.cumsum(np.random.default_rng(2).normal(0, 0.01, 150)))
    names = ["vol_yang_zhang_20", "vol_std_20", "vol_garman_klass_20", "vol_rogers_satchell_20"]
    out = compute(_frame(close, close, close, close), names)
    np.testing.assert_allclose(
        out["vol_yang_zhang_20"].iloc[20:], out["vol_std_20"].iloc[20:], rtol=1e-9
    )
    assert (out["vol_garman_klass_20"].iloc[19:] == 0.0).all()
    assert (out["vol_rogers_satchell_20"].iloc[19:] == 0.0).all()


# --- ATR, Bollinger, Keltner ------------------------------------------------------------------


def _wilder_atr(h: list[float], lo: list[float], c: list[float], n: int) -> list[float]:
    """Wilder's ATR: the mean of the first n true ranges, then (prev * (n-1) + tr) / n."""
    atr = [math.nan] * len(c)
    tr = [math.nan] + [
        max(h[j] - lo[j], abs(h[j] - c[j - 1]), abs(lo[j] - c[j - 1])) for j in range(1, len(c))
    ]
    atr[n] = sum(tr[1 : n + 1]) / n
    for j in range(n + 1, len(c)):
        atr[j] = (atr[j - 1] * (n - 1) + tr[j]) / n
    return atr


def _ema(c: list[float], n: int) -> list[float]:
    """EMA with alpha 2/(n+1), seeded with the mean of the first n values (TA-Lib's default)."""
    alpha = 2.0 / (n + 1)
    out = [math.nan] * len(c)
    out[n - 1] = sum(c[:n]) / n
    for j in range(n, len(c)):
        out[j] = alpha * c[j] + (1.0 - alpha) * out[j - 1]
    return out


def test_atr_ratio(bars: pd.DataFrame) -> None:
    _, h, lo, c = _cols(bars)
    fast, slow = _wilder_atr(h, lo, c, 14), _wilder_atr(h, lo, c, 50)
    _check(bars, "atr_ratio_14_50", lambda i: fast[i] / slow[i])


def _bollinger(c: list[float], i: int, n: int, dev: float) -> tuple[float, float, float]:
    window = c[i - n + 1 : i + 1]
    mid = statistics.fmean(window)
    sd = statistics.pstdev(window)  # Bollinger (and TA-Lib) use the population std
    return mid - dev * sd, mid, mid + dev * sd


@pytest.mark.parametrize(
    ("n", "dev", "token"),
    [(20, 2.0, "2"), (10, 2.0, "2"), (30, 2.0, "2"), (20, 1.5, "1p5"), (20, 2.5, "2p5")],
)
def test_bollinger_pctb(bars: pd.DataFrame, n: int, dev: float, token: str) -> None:
    _, _, _, c = _cols(bars)

    def reference(i: int) -> float:
        lower, _, upper = _bollinger(c, i, n, dev)
        return (c[i] - lower) / (upper - lower)

    _check(bars, f"bbands_pctb_{n}_{token}", reference)


@pytest.mark.parametrize("n", [10, 20, 30])
def test_bollinger_width(bars: pd.DataFrame, n: int) -> None:
    _, _, _, c = _cols(bars)

    def reference(i: int) -> float:
        lower, mid, upper = _bollinger(c, i, n, 2.0)
        return (upper - lower) / mid

    _check(bars, f"bbands_width_{n}_2", reference)


def test_keltner_channel(bars: pd.DataFrame) -> None:
    _, h, lo, c = _cols(bars)
    ema, atr = _ema(c, 20), _wilder_atr(h, lo, c, 20)
    _check(bars, "keltner_upper_20_2", lambda i: ema[i] + 2.0 * atr[i])
    _check(bars, "keltner_lower_20_2", lambda i: ema[i] - 2.0 * atr[i])
    _check(bars, "keltner_pos_20_2", lambda i: (c[i] - ema[i] + 2.0 * atr[i]) / (4.0 * atr[i]))
    _check(bars, "keltner_width_20_2", lambda i: 4.0 * atr[i] / ema[i])


def test_keltner_squeeze_and_its_duration(bars: pd.DataFrame) -> None:
    _, h, lo, c = _cols(bars)
    ema, atr = _ema(c, 20), _wilder_atr(h, lo, c, 20)
    out = compute(bars, ["keltner_squeeze_20", "keltner_squeeze_bars_20"])
    expected_on: list[float] = []
    expected_bars: list[float] = []
    run = 0
    for i in range(20, N):
        bb_lower, _, bb_upper = _bollinger(c, i, 20, 2.0)
        on = bb_upper <= ema[i] + 2.0 * atr[i] and bb_lower >= ema[i] - 2.0 * atr[i]
        run = run + 1 if on else 0
        expected_on.append(float(on))
        expected_bars.append(float(min(run, 50)))
    assert out["keltner_squeeze_20"].iloc[:20].isna().all()
    assert out["keltner_squeeze_20"].iloc[20:].tolist() == expected_on
    assert out["keltner_squeeze_bars_20"].iloc[20:].tolist() == expected_bars
    assert 0.0 < sum(expected_on) < len(expected_on)  # the sample has both states


def test_squeeze_count_is_capped_on_a_flat_close_with_wide_bars() -> None:
    # Constant close: the Bollinger bands collapse inside any Keltner channel of positive width.
    close = np.full(120, 30.0)
    out = compute(
        _frame(close, close * 1.01, close * 0.99, close),
        ["keltner_squeeze_20", "keltner_squeeze_bars_20", "keltner_pos_20_2", "bbands_pctb_20_2"],
    )
    assert (out["keltner_squeeze_20"].iloc[20:] == 1.0).all()
    expected = np.minimum(np.arange(1, 101), 50).astype(float)
    np.testing.assert_array_equal(out["keltner_squeeze_bars_20"].iloc[20:].to_numpy(), expected)
    np.testing.assert_allclose(out["keltner_pos_20_2"].iloc[20:], 0.5, rtol=1e-12)
    assert (out["bbands_pctb_20_2"].iloc[19:] == 0.5).all()  # collapsed bands: 0.5


def test_scale_free_features_ignore_the_price_level(bars: pd.DataFrame) -> None:
    names = [
        n
        for n in FEATURES.names()
        if FEATURES.get(n).kernel.__module__.endswith(("library.volatility", "library.regime"))
    ]
    scaled = bars.copy()
    scaled[["open", "high", "low", "close"]] *= 7.0
    a, b = compute(bars, names), compute(scaled, names)
    for name in names:
        factor = 1.0 if FEATURES.get(name).scale_free else 7.0
        np.testing.assert_allclose(b[name], a[name] * factor, rtol=1e-7, atol=1e-9, err_msg=name)


# --- regime -----------------------------------------------------------------------------------


def _ref_vol20(c: list[float]) -> list[float]:
    return [math.nan] * 20 + [statistics.stdev(_log_returns(c, i, 20)) for i in range(20, len(c))]


def _ref_rank(vols: list[float], i: int) -> float:
    window = vols[i - 251 : i + 1]
    smaller = sum(v < vols[i] for v in window)
    equal = sum(v == vols[i] for v in window)
    return (smaller + (equal - 1) / 2.0) / 251


def test_vol_regime_rank_and_state(bars: pd.DataFrame) -> None:
    _, _, _, c = _cols(bars)
    vols = list(compute(bars, ["vol_std_20"])["vol_std_20"])
    ref = _ref_vol20(c)
    np.testing.assert_allclose(vols[20:], ref[20:], rtol=1e-10)
    _check(bars, "vol_regime_20_252", lambda i: _ref_rank(vols, i))
    out = compute(bars, ["vol_regime_20_252", "vol_regime_state_20_252"])
    rank = out["vol_regime_20_252"].iloc[271:]
    state = out["vol_regime_state_20_252"].iloc[271:]
    assert ((rank >= 0.0) & (rank <= 1.0)).all()
    assert (state == np.where(rank < 1 / 3, 0.0, np.where(rank < 2 / 3, 1.0, 2.0))).all()


def test_vol_regime_on_rising_volatility_is_the_top_rank() -> None:
    # Returns alternate +-a with a growing: each new 20-bar vol is the highest so far.
    a = np.linspace(0.001, 0.05, 400)
    close = 50.0 * np.exp(np.cumsum(a * np.where(np.arange(400) % 2 == 0, 1.0, -1.0)))
    out = compute(
        _frame(close, close, close, close), ["vol_regime_20_252", "vol_regime_state_20_252"]
    )
    assert (out["vol_regime_20_252"].iloc[271:] == 1.0).all()
    assert (out["vol_regime_state_20_252"].iloc[271:] == 2.0).all()


def test_vol_regime_z(bars: pd.DataFrame) -> None:
    _, _, _, c = _cols(bars)
    log_vols = [math.log(v) if v == v else math.nan for v in _ref_vol20(c)]

    def reference(i: int) -> float:
        window = log_vols[i - 251 : i + 1]
        return (log_vols[i] - statistics.fmean(window)) / statistics.stdev(window)

    _check(bars, "vol_regime_z_20_252", reference)


def test_trend_regime_50_200(bars: pd.DataFrame) -> None:
    _, _, _, c = _cols(bars)

    def reference(i: int) -> float:
        fast, slow = statistics.fmean(c[i - 49 : i + 1]), statistics.fmean(c[i - 199 : i + 1])
        if c[i] > fast > slow:
            return 1.0
        if c[i] < fast < slow:
            return -1.0
        return 0.0

    values = compute(bars, ["trend_regime_50_200"])["trend_regime_50_200"]
    assert values.iloc[:199].isna().all()
    assert values.iloc[199:].tolist() == [reference(i) for i in range(199, N)]


@pytest.mark.parametrize(("step", "sign"), [(0.002, 1.0), (-0.002, -1.0)])
def test_monotone_prices_give_a_clear_trend(step: float, sign: float) -> None:
    close = 50.0 * np.exp(step * np.arange(300) + 0.0005 * np.sin(np.arange(300)))
    frame = _frame(close, close * 1.001, close * 0.999, close)
    out = compute(frame, ["trend_regime_50_200", "trend_regime_adx_14", "drawdown_252"])
    assert (out["trend_regime_50_200"].iloc[199:] == sign).all()
    assert (out["trend_regime_adx_14"].iloc[60:] == sign).all()
    if sign > 0:
        # A rising series is always at its running high.
        assert (out["drawdown_252"].iloc[251:] == 0.0).all()


def test_trend_strength_is_the_slope_t_stat(bars: pd.DataFrame) -> None:
    _, _, _, c = _cols(bars)

    def reference(i: int) -> float:
        fit = stats.linregress(range(20), [math.log(x) for x in c[i - 19 : i + 1]])
        return float(abs(fit.slope) / fit.stderr)

    _check(bars, "trend_strength_20", reference)


def test_trend_strength_known_answers() -> None:
    flat = np.full(60, 10.0)
    assert (
        (compute(_frame(flat, flat, flat, flat), ["trend_strength_20"]).iloc[19:] == 0.0)
        .all()
        .all()
    )
    # log close = 0.01 t + e with residual e = +-d alternating: a large, known t-stat.
    t = np.arange(60, dtype=float)
    e = 0.001 * np.where(np.arange(60) % 2 == 0, 1.0, -1.0)
    close = np.exp(0.01 * t + e)
    got = compute(_frame(close, close, close, close), ["trend_strength_20"])["trend_strength_20"]
    fit = stats.linregress(t[-20:], np.log(close[-20:]))
    assert got.iloc[-1] == pytest.approx(abs(fit.slope) / fit.stderr, rel=1e-9)
    assert got.iloc[-1] > 20.0


def test_trend_regime_adx(bars: pd.DataFrame) -> None:
    h, lo, c = (bars[x].to_numpy() for x in ("high", "low", "close"))
    adx = talib.ADX(h, lo, c, timeperiod=14)
    plus, minus = talib.PLUS_DI(h, lo, c, timeperiod=14), talib.MINUS_DI(h, lo, c, timeperiod=14)
    expected = [
        (1.0 if plus[i] > minus[i] else -1.0 if plus[i] < minus[i] else 0.0)
        if adx[i] > 25.0
        else 0.0
        for i in range(27, N)
    ]
    values = compute(bars, ["trend_regime_adx_14"])["trend_regime_adx_14"]
    assert values.iloc[:27].isna().all()
    assert values.iloc[27:].tolist() == expected
    assert len(set(expected)) >= 2  # the sample has more than one regime


def test_drawdown(bars: pd.DataFrame) -> None:
    _, _, _, c = _cols(bars)
    _check(bars, "drawdown_252", lambda i: c[i] / max(c[i - 251 : i + 1]) - 1.0)


def test_drawdown_known_answer() -> None:
    close = np.concatenate([np.linspace(50.0, 100.0, 260), np.full(10, 90.0)])
    out = compute(_frame(close, close, close, close), ["drawdown_252"])["drawdown_252"]
    assert out.iloc[259] == 0.0
    np.testing.assert_allclose(out.iloc[260:], -0.1, rtol=1e-12)
