"""``ml_model`` on constructed prediction tables whose right signal is known."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from alphaforge.core.errors import DataError
from alphaforge.core.types import AssetClass, Instrument
from alphaforge.features.testing import random_bars
from alphaforge.strategies import STRATEGIES, MarketFrames
from alphaforge.strategies.ml_model import MLModel

N = 6


def _market(predictions: dict[str, list[list[float]]] | None) -> MarketFrames:
    """Two stocks, ``N`` daily bars; ``predictions`` by column: rows of (A, B) values."""
    bars = {s: random_bars(seed, N) for seed, s in enumerate(("A", "B"))}
    index = bars["A"].index
    frames = (
        None
        if predictions is None
        else {
            name: pd.DataFrame(rows, index=index, columns=["A", "B"])
            for name, rows in predictions.items()
        }
    )
    instruments = {s: Instrument(s, AssetClass.STOCK) for s in bars}
    return MarketFrames.from_bars(bars, instruments, predictions=frames)


def _column(values: list[float]) -> list[list[float]]:
    """Return ``N`` rows of ``values`` (A, B)."""
    return [values] * N


def test_registered_in_the_ml_family() -> None:
    assert STRATEGIES.get("ml_model") is MLModel
    assert str(MLModel.family) == "ml"
    assert "scores" in MLModel.needs


def test_binary_signal_is_two_p_minus_one_with_the_probability_of_its_side() -> None:
    market = _market({"score_lightgbm": _column([0.8, 0.3]), "agreement": _column([1.0, 1.0])})
    signals = MLModel(model="lightgbm").signals(market)
    np.testing.assert_allclose(signals.value["A"], 0.6)
    np.testing.assert_allclose(signals.value["B"], -0.4)
    assert signals.probability is not None and signals.confidence is not None
    np.testing.assert_allclose(signals.probability["A"], 0.8)
    np.testing.assert_allclose(signals.probability["B"], 0.7)  # P(down) = 1 - 0.3
    pd.testing.assert_frame_equal(signals.confidence, signals.probability)
    assert signals.expected_return is None and signals.volatility is None


def test_three_classes_signal_is_p_buy_minus_p_sell() -> None:
    market = _market(
        {
            "score_ensemble": _column([0.5, -0.4]),
            "p_SELL_ensemble": _column([0.1, 0.6]),
            "p_HOLD_ensemble": _column([0.3, 0.2]),
            "p_BUY_ensemble": _column([0.6, 0.2]),
            "agreement": _column([1.0, 1.0]),
        }
    )
    signals = MLModel().signals(market)
    np.testing.assert_allclose(signals.value["A"], 0.5)
    np.testing.assert_allclose(signals.value["B"], -0.4)
    assert signals.probability is not None
    np.testing.assert_allclose(signals.probability["A"], 0.6)  # P(BUY)
    np.testing.assert_allclose(signals.probability["B"], 0.6)  # P(SELL)


def test_no_signal_when_fewer_than_sixty_percent_of_the_models_agree() -> None:
    # Row by row: 3 of 5 models agree (0.6, traded), 1 of 2 (0.5, not), all (1.0, traded).
    agreement = [[0.6, 0.5], [0.5, 1.0], [0.59, 0.61], [1.0, 0.0], [0.6, 0.6], [0.4, 0.8]]
    market = _market({"score_ensemble": _column([0.9, 0.2]), "agreement": agreement})
    value = MLModel().signals(market).value
    expected = pd.DataFrame(
        [[0.8, np.nan], [np.nan, -0.6], [np.nan, -0.6], [0.8, np.nan], [0.8, -0.6], [np.nan, -0.6]],
        index=market.index,
        columns=["A", "B"],
    )
    pd.testing.assert_frame_equal(value, expected, check_exact=False, atol=1e-12)
    # The threshold is a parameter; 0 turns the gate off.
    assert MLModel(min_agreement=0.0).signals(market).value.notna().all().all()


def test_meta_labels_trade_the_primary_side_times_two_p_minus_one() -> None:
    market = _market({"score_ensemble": _column([0.9, 0.2]), "agreement": _column([1.0, 1.0])})
    strategy = MLModel(primary_feature="ret_log_1")
    side = np.sign(market.feature("ret_log_1"))
    value = strategy.signals(market).value
    pd.testing.assert_frame_equal(
        value, (side * pd.DataFrame({"A": 0.8, "B": -0.6}, index=market.index))
    )
    assert strategy.features == ("ret_log_1",)
    assert value.iloc[0].isna().all()  # the primary feature is still warming up


def test_the_quantile_model_gives_expected_return_and_annualised_volatility() -> None:
    market = _market(
        {
            "score_ensemble": _column([0.7, 0.4]),
            "q10": _column([-0.02, -0.05]),
            "q50": _column([0.01, -0.01]),
            "q90": _column([0.04, 0.03]),
        }
    )
    signals = MLModel(horizon=5, periods_per_year=252.0).signals(market)
    assert signals.expected_return is not None and signals.volatility is not None
    np.testing.assert_allclose(signals.expected_return["A"], math.exp(0.01) - 1.0)
    np.testing.assert_allclose(signals.expected_return["B"], math.exp(-0.01) - 1.0)
    # Normal decile spread: q90 - q10 = 2 x 1.28155 sigma over 5 bars; sqrt(252 / 5) a year.
    sigma = 0.06 / (2 * 1.2815515655446004)
    np.testing.assert_allclose(signals.volatility["A"], sigma * math.sqrt(252 / 5), rtol=1e-9)
    # No agreement column (one champion): nothing gated.
    assert signals.value.notna().all().all()


def test_missing_predictions_or_model_fail_in_one_line() -> None:
    with pytest.raises(DataError, match="needs model predictions"):
        MLModel().signals(_market(None))
    market = _market({"score_lightgbm": _column([0.5, 0.5])})
    with pytest.raises(DataError, match="did you mean lightgbm") as caught:
        MLModel(model="lightgbn").signals(market)
    assert "\n" not in str(caught.value)


def test_a_score_outside_zero_one_without_class_columns_is_refused() -> None:
    market = _market({"score_ensemble": _column([0.5, -0.4])})  # a 3-class score alone
    with pytest.raises(DataError, match="not probabilities"):
        MLModel().signals(market)


def test_no_signal_where_a_symbol_has_no_bar_or_no_score() -> None:
    rows = _column([0.8, 0.3])
    rows = [[math.nan, 0.3], *rows[1:]]
    market = _market({"score_ensemble": rows})
    value = MLModel().signals(market).value
    assert math.isnan(value["A"].iloc[0]) and value["A"].iloc[1:].notna().all()
