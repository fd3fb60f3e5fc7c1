"""Feature registry and kernels against independent pandas / TA-Lib computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import talib

from alphaforge.core import BAR_COLUMNS, DataError
from alphaforge.core.types import AssetClass, Instrument
from alphaforge.features import CATEGORIES, FEATURES, BarArrays, FeatureSpec, compute
from alphaforge.features.testing import instrument_for

N = 700


def _bars(seed: int = 0, n: int = N) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 80.0 * np.exp(np.cumsum(rng.normal(0.0002, 0.015, n)))
    open_ = close * np.exp(rng.normal(0, 0.005, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.006, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.006, n)))
    volume = rng.lognormal(12, 0.4, n)
    index = pd.date_range("2020-01-01", periods=n, freq="D", tz="UTC", name="timestamp")
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume},
        index=index.as_unit("ns"),
    )


def _assert_series_close(got: pd.Series, expected: pd.Series) -> None:
    assert got.isna().equals(expected.isna())
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=1e-10, atol=1e-13)


# --- compute ----------------------------------------------------------------------------------


def _instrument(spec: FeatureSpec) -> Instrument | None:
    if spec.asset_classes is None:
        return None
    return instrument_for(sorted(spec.asset_classes, key=lambda a: a.value)[0])


def _one(bars: pd.DataFrame, name: str) -> pd.Series:
    return compute(bars, [name], instrument=_instrument(FEATURES.get(name)))[name]


def test_compute_all_returns_float64_on_the_same_index() -> None:
    bars = _bars()
    out = compute(bars)
    expected = [
        n
        for n in FEATURES.names()
        if FEATURES.get(n).asset_classes is None and not FEATURES.get(n).intraday_only
    ]
    assert list(out.columns) == expected
    assert len(expected) >= 200
    assert out.index.equals(bars.index)
    assert (out.dtypes == np.float64).all()
    assert not np.isinf(out.to_numpy()).any()
    # Past the longest warm-up every feature has a value.
    assert out.iloc[-50:].notna().all().all()


def test_one_daily_call_gives_200_features_besides_candlesticks() -> None:
    out = compute(_bars())
    candles = [n for n in out.columns if FEATURES.get(n).category == "candlestick"]
    assert out.shape[1] - len(candles) >= 200


@pytest.mark.parametrize(
    ("asset_class", "present", "absent"),
    [
        (AssetClass.STOCK, ["sess_regular", "pre_holiday", "hour_sin"], ["fx_sess_london"]),
        (AssetClass.FOREX, ["fx_sess_london", "hour_sin"], ["sess_regular", "pre_holiday"]),
        (AssetClass.CRYPTO, ["crypto_weekend"], ["sess_regular", "fx_sess_london"]),
    ],
)
def test_instrument_adds_its_asset_class_session_features(
    asset_class: AssetClass, present: list[str], absent: list[str]
) -> None:
    bars = _bars(n=300).set_axis(
        pd.date_range("2024-03-04", periods=300, freq="5min", tz="UTC", name="timestamp"),
        axis=0,
    )
    out = compute(bars, instrument=instrument_for(asset_class))
    assert set(present) <= set(out.columns)
    assert not set(absent) & set(out.columns)
    daily = compute(_bars(n=300), instrument=instrument_for(asset_class))
    assert not {n for n in daily.columns if FEATURES.get(n).intraday_only}


def test_a_session_feature_without_an_instrument_is_refused() -> None:
    with pytest.raises(ValueError, match="needs instrument"):
        compute(_bars(n=50), ["sess_regular"])


def test_compute_selected_names_in_order() -> None:
    out = compute(_bars(), ["rsi_14", "ret_log_1"])
    assert list(out.columns) == ["rsi_14", "ret_log_1"]


def test_compute_unknown_name_lists_close_names() -> None:
    with pytest.raises(ValueError, match="unknown feature") as info:
        compute(_bars(), ["rsi_14", "rsi_15", "ret_log_4"])
    text = str(info.value)
    assert "rsi_15" in text
    assert "ret_log_4" in text
    assert "rsi_14" in text.split("rsi_15:")[1]  # suggested for the typo
    assert "ret_log_5" in text.split("ret_log_4:")[1]


def test_compute_refuses_non_canonical_bars() -> None:
    bars = _bars()
    bars.index = bars.index.tz_localize(None)
    with pytest.raises(DataError):
        compute(bars, ["ret_log_1"])


def test_compute_turns_infinities_into_nan() -> None:
    bars = _bars(n=30)
    bars.iloc[10, bars.columns.get_loc("low")] = 0.0  # log(high / 0) = inf
    out = compute(bars, ["range_log_hl"])
    assert np.isnan(out["range_log_hl"].iloc[10])
    assert out["range_log_hl"].drop(bars.index[10]).notna().all()


def test_registry_has_200_features_besides_candlesticks_in_every_category() -> None:
    categories = [FEATURES.get(n).category for n in FEATURES.names()]
    assert len([c for c in categories if c != "candlestick"]) >= 200
    assert set(CATEGORIES) - {"cross_asset", "cross_sectional"} <= set(categories)
    assert {"ret_log_5", "vol_std_20", "dist_sma_20", "rsi_14"} <= set(FEATURES)


@pytest.mark.parametrize("name", FEATURES.names())
def test_spec_metadata(name: str) -> None:
    spec = FEATURES.get(name)
    assert isinstance(spec, FeatureSpec)
    assert spec.name == name
    assert isinstance(spec.category, str)
    assert spec.category.strip()
    assert spec.inputs
    assert set(spec.inputs) <= {*BAR_COLUMNS, "timestamp"}
    assert spec.category in CATEGORIES
    assert spec.memory is None or spec.memory >= spec.warmup
    assert spec.description.strip()
    assert isinstance(spec.warmup, int)
    assert spec.warmup >= 0


@pytest.mark.parametrize("name", FEATURES.names())
def test_warmup_is_the_first_valued_row(name: str) -> None:
    spec = FEATURES.get(name)
    values = _one(_bars(), name).to_numpy()
    assert np.isnan(values[: spec.warmup]).all()
    assert np.isfinite(values[spec.warmup])


@pytest.mark.parametrize("name", FEATURES.names())
def test_kernel_reads_only_its_declared_inputs(name: str) -> None:
    spec = FEATURES.get(name)
    bars = _bars(1)
    base = _one(bars, name)
    changed = bars.copy()
    for column in set(BAR_COLUMNS) - set(spec.inputs):
        # A different but valid bar: undeclared columns must not matter.
        if column == "volume":
            changed[column] = changed[column] * 3.0
        elif column == "open":
            changed[column] = (changed["high"] + changed["low"]) / 2
        elif column == "high":
            changed[column] = changed[column] * 1.01
        elif column == "low":
            changed[column] = changed[column] * 0.99
        else:
            changed[column] = (changed["high"] + changed["low"]) / 2
    _assert_series_close(_one(changed, name), base)


# --- golden values ----------------------------------------------------------------------------


def test_ret_log_5_golden() -> None:
    bars = _bars()
    expected = np.log(bars["close"]) - np.log(bars["close"].shift(5))
    _assert_series_close(compute(bars, ["ret_log_5"])["ret_log_5"], expected)


def test_vol_std_20_golden() -> None:
    bars = _bars()
    r = np.log(bars["close"] / bars["close"].shift(1))
    expected = r.rolling(20).std(ddof=1)
    got = compute(bars, ["vol_std_20"])["vol_std_20"]
    _assert_series_close(got, expected)
    # One window by hand.
    window = r.iloc[N - 20 :].to_list()
    mean = sum(window) / 20
    by_hand = (sum((x - mean) ** 2 for x in window) / 19) ** 0.5
    assert got.iloc[-1] == pytest.approx(by_hand, rel=1e-10)


def test_dist_sma_20_golden() -> None:
    bars = _bars()
    expected = bars["close"] / bars["close"].rolling(20).mean() - 1.0
    _assert_series_close(compute(bars, ["dist_sma_20"])["dist_sma_20"], expected)


def test_rsi_14_matches_talib() -> None:
    bars = _bars()
    expected = talib.RSI(bars["close"].to_numpy(), timeperiod=14)
    got = compute(bars, ["rsi_14"])["rsi_14"].to_numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-12, equal_nan=True)
    assert np.nanmin(got) >= 0
    assert np.nanmax(got) <= 100


def test_rsi_14_hand_case_all_gains_is_100() -> None:
    close = np.arange(1.0, 31.0)
    bars = pd.DataFrame(
        {"open": close, "high": close + 0.5, "low": close - 0.5, "close": close, "volume": 1.0},
        index=pd.date_range("2020-01-01", periods=30, freq="D", tz="UTC", name="timestamp"),
    )
    got = compute(bars, ["rsi_14"])["rsi_14"]
    assert got.iloc[14:].tolist() == pytest.approx([100.0] * 16)


def test_simple_price_features_golden() -> None:
    bars = _bars()
    out = compute(bars, ["gap_log", "range_log_hl", "ret_log_1"])
    _assert_series_close(out["gap_log"], np.log(bars["open"] / bars["close"].shift(1)))
    _assert_series_close(out["range_log_hl"], np.log(bars["high"] / bars["low"]))
    _assert_series_close(out["ret_log_1"], np.log(bars["close"]).diff())


def test_volume_and_range_features_golden() -> None:
    bars = _bars()
    out = compute(bars, ["volume_z_20", "vol_parkinson_20", "amihud_20", "skew_ret_20"])
    lv = np.log1p(bars["volume"])
    _assert_series_close(
        out["volume_z_20"], (lv - lv.rolling(20).mean()) / lv.rolling(20).std(ddof=1)
    )
    hl2 = np.log(bars["high"] / bars["low"]) ** 2
    _assert_series_close(out["vol_parkinson_20"], np.sqrt(hl2.rolling(20).mean() / (4 * np.log(2))))
    r = np.log(bars["close"]).diff()
    illiq = r.abs() / (bars["close"] * bars["volume"]) * 1e9
    _assert_series_close(out["amihud_20"], illiq.rolling(20).mean())
    _assert_series_close(out["skew_ret_20"], r.rolling(20).skew())


def test_bar_arrays_from_frame() -> None:
    bars = _bars(n=5)
    arrays = BarArrays.from_frame(bars)
    assert len(arrays) == 5
    for column in BAR_COLUMNS:
        values = getattr(arrays, column)
        assert values.dtype == np.float64
        assert values.flags["C_CONTIGUOUS"]
        np.testing.assert_array_equal(values, bars[column].to_numpy())


def test_macdhist_norm_is_talibs_histogram_over_close() -> None:
    bars = _bars()
    close = bars["close"].to_numpy()
    _, _, hist = talib.MACD(close, fastperiod=12, slowperiod=26, signalperiod=9)
    expected = pd.Series(hist / close, index=bars.index)
    _assert_series_close(
        compute(bars, ["macdhist_norm_12_26_9"])["macdhist_norm_12_26_9"], expected
    )
