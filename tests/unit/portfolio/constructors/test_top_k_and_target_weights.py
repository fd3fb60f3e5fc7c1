"""top_k and target_weights as registered pieces, built from a PortfolioConfig or by name."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import Field

from alphaforge.config import PortfolioConfig
from alphaforge.config.pieces import build_piece
from alphaforge.core.errors import ConfigError
from alphaforge.core.types import AssetClass, Instrument
from alphaforge.portfolio import CONSTRUCTORS, TargetWeights, TopK, create_constructor
from alphaforge.portfolio import base as portfolio_base
from alphaforge.portfolio.topk import top_k_weights
from alphaforge.strategies import MarketFrames, Signals


class _NextConfig(PortfolioConfig):
    """The config as the lead will reshape it: any constructor name, and its parameters."""

    constructor: str = "top_k"  # type: ignore[assignment]
    constructor_params: dict[str, Any] = Field(default_factory=dict)


INDEX = pd.date_range("2024-01-01", periods=6, freq="D", tz="UTC", name="timestamp")


def _market(value: pd.DataFrame) -> MarketFrames:
    prices = pd.DataFrame(100.0, index=value.index, columns=value.columns)
    instruments = {str(s): Instrument(str(s), AssetClass.STOCK) for s in value.columns}
    return MarketFrames(prices, prices, prices, prices, prices, instruments)


def test_registered_and_reexported_from_base() -> None:
    assert CONSTRUCTORS.get("top_k") is TopK is portfolio_base.TopK
    assert CONSTRUCTORS.get("target_weights") is TargetWeights is portfolio_base.TargetWeights


def test_create_constructor_passes_the_declared_config_fields() -> None:
    config = PortfolioConfig(top_k=2, long_short=False, gross_exposure=0.8, rebalance_every=3)
    made = create_constructor(config)
    assert made == TopK(top_k=2, long_short=False, gross_exposure=0.8, rebalance_every=3)
    tw = create_constructor(PortfolioConfig(constructor="target_weights", gross_exposure=1.5))
    assert tw == TargetWeights(gross_exposure=1.5)


def test_constructor_params_override_the_config_fields() -> None:
    config = _NextConfig(top_k=2, rebalance_every=4, constructor_params={"top_k": 3})
    assert create_constructor(config) == TopK(top_k=3, rebalance_every=4)
    risk_parity = _NextConfig(constructor="risk_parity", constructor_params={"lookback": 100})
    made = create_constructor(risk_parity)
    assert made == CONSTRUCTORS.get("risk_parity")(lookback=100)


def test_unknown_constructor_and_bad_parameter_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="top_kk") as err:
        create_constructor(_NextConfig(constructor="top_kk"))
    assert "top_k" in (err.value.hint or "")
    with pytest.raises(ConfigError, match="top_k"):
        build_piece(CONSTRUCTORS, "top_k", {"top_k": 0})


def test_top_k_from_a_config_equals_top_k_weights() -> None:
    rng = np.random.default_rng(1)
    value = pd.DataFrame(rng.uniform(-1, 1, (6, 5)), index=INDEX, columns=list("ABCDE"))
    config = PortfolioConfig(top_k=2, rebalance_every=2, gross_exposure=1.2)
    got = TopK(config).targets(Signals(value), _market(value))
    pd.testing.assert_frame_equal(got, top_k_weights(value, config))
    # Keywords override the config's fields.
    other = TopK(config, top_k=1).targets(Signals(value), _market(value))
    expected = top_k_weights(value, PortfolioConfig(top_k=1, rebalance_every=2, gross_exposure=1.2))
    pd.testing.assert_frame_equal(other, expected)


def test_target_weights_by_hand() -> None:
    nan = np.nan
    value = pd.DataFrame({"A": [nan, 1.0, 1.0, -1.0], "B": [0.5, 0.5, nan, 0.5]}, index=INDEX[:4])
    got = TargetWeights(gross_exposure=1.0).targets(Signals(value), _market(value))
    # signal x 1.0 / 2 names, only where it changes from the name's previous known value.
    expected = pd.DataFrame(
        {"A": [nan, 0.5, nan, -0.5], "B": [0.25, nan, nan, nan]}, index=INDEX[:4]
    )
    pd.testing.assert_frame_equal(got, expected)
