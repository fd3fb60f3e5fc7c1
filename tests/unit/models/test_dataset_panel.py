"""build_panel's panel features: cross-sectional, cross-asset and regime columns in training."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaforge.config.models import LabelsConfig
from alphaforge.core.errors import ConfigError
from alphaforge.core.types import AssetClass, Instrument, Interval
from alphaforge.features import PANEL_FEATURES, feature_set_version
from alphaforge.features.panel import combined_feature_set_version, compute_panel_specs
from alphaforge.features.testing import random_bars
from alphaforge.models.dataset import build_panel, compute_features, needed_inputs

LABELS = LabelsConfig()
MIN_HISTORY = 50


def _weekdays(bars: pd.DataFrame) -> pd.DataFrame:
    return bars[pd.DatetimeIndex(bars.index).day_of_week < 5]


UNIVERSE = {s: _weekdays(random_bars(i, 1000)) for i, s in enumerate(("AA", "BB", "CC", "DD"))}
INSTRUMENTS = {
    s: Instrument(s, AssetClass.STOCK, sector=("tech" if i < 2 else "energy"))
    for i, s in enumerate(UNIVERSE)
}
VIX = _weekdays(random_bars(9, 1000, volatility=0.04))


def _column(panel_x: pd.DataFrame, symbol: str, name: str) -> np.ndarray:
    return np.asarray(panel_x.xs(symbol, level="symbol")[name].to_numpy(), dtype=np.float64)


def test_named_panel_features_reach_the_panel_as_the_panel_engine_computes_them() -> None:
    names = ["ret_log_5", "cs_rank_ret_20", "sector_rs_20", "beta_60", "hmm_state_prob_1"]
    panel = build_panel(
        UNIVERSE, Interval.D1, LABELS, names, min_history=MIN_HISTORY, instruments=INSTRUMENTS
    )
    assert list(panel.X.columns) == names  # the caller's order: the registered model's order
    panel_names = names[1:]
    expected = compute_panel_specs(
        UNIVERSE,
        [PANEL_FEATURES.get(n) for n in panel_names],
        instruments=INSTRUMENTS,
        intervals=dict.fromkeys(UNIVERSE, "1d"),
    )
    for symbol in UNIVERSE:
        for name in panel_names:
            np.testing.assert_array_equal(
                _column(panel.X, symbol, name),
                expected[symbol][name].to_numpy()[MIN_HISTORY:],
            )
    ranks = panel.X["cs_rank_ret_20"].dropna()
    assert len(ranks) > 0 and ranks.between(0.0, 1.0).all()
    assert panel.X["hmm_state_prob_1"].notna().any()


def test_the_default_set_adds_the_scale_free_panel_features_the_universe_supports() -> None:
    universe = UNIVERSE | {"^VIX": VIX}
    panel = build_panel(universe, Interval.D1, LABELS, min_history=MIN_HISTORY)
    columns = set(panel.X.columns)
    assert {"cs_rank_ret_20", "beta_60", "hmm_state_prob_0", "vix_z_60"} <= columns
    assert "vix_level" not in columns  # index points: not comparable, as sma_20 is not
    assert not {"sector_rs_20", "sector_rs_60"} & columns  # no sectors given
    assert "ret_log_5" in columns and "sma_20" not in columns
    # ^VIX is an input, not a member of the cross-section: its rows carry no panel values.
    vix_rows = panel.X.xs("^VIX", level="symbol")
    assert vix_rows["cs_rank_ret_20"].isna().all() and vix_rows["ret_log_5"].notna().any()


def test_an_input_series_feeds_panel_features_without_becoming_rows() -> None:
    names = ["ret_log_5", "vix_z_60", "cs_rank_ret_5"]
    panel = build_panel(
        UNIVERSE, Interval.D1, LABELS, names, min_history=MIN_HISTORY, inputs={"^VIX": VIX}
    )
    assert set(panel.X.index.get_level_values("symbol")) == set(UNIVERSE)
    with_vix = compute_panel_specs(
        UNIVERSE | {"^VIX": VIX},
        [PANEL_FEATURES.get("vix_z_60")],
        intervals=dict.fromkeys([*UNIVERSE, "^VIX"], "1d"),
    )
    np.testing.assert_array_equal(
        _column(panel.X, "AA", "vix_z_60"), with_vix["AA"]["vix_z_60"].to_numpy()[MIN_HISTORY:]
    )
    # An ETF given as an input (UUP) is still not a member: the cross-section is unchanged.
    uup = random_bars(11, 1400, volatility=0.004)
    dollar = build_panel(
        UNIVERSE,
        Interval.D1,
        LABELS,
        [*names, "dollar_ret_20"],
        min_history=MIN_HISTORY,
        instruments={"UUP": Instrument("UUP", AssetClass.ETF)},
        inputs={"^VIX": VIX, "UUP": uup},
    )
    pd.testing.assert_series_equal(dollar.X["cs_rank_ret_5"], panel.X["cs_rank_ret_5"])
    assert dollar.X["dollar_ret_20"].notna().any()


def test_a_panel_feature_without_its_input_is_refused_naming_the_series() -> None:
    with pytest.raises(ConfigError, match=r"vix_z_60 needs a \^VIX series") as error:
        build_panel(UNIVERSE, Interval.D1, LABELS, ["ret_log_5", "vix_z_60"])
    assert error.value.hint is not None and "data fetch" in error.value.hint


def test_an_unknown_feature_name_is_a_config_error_with_a_suggestion() -> None:
    with pytest.raises(ConfigError, match="cs_rank_ret_21") as error:
        build_panel(UNIVERSE, Interval.D1, LABELS, ["cs_rank_ret_21"])
    assert error.value.hint is not None and "cs_rank_ret_20" in error.value.hint


def test_needed_inputs_picks_only_the_series_the_named_features_read() -> None:
    stored = {
        "^VIX": VIX,
        "^TNX": _weekdays(random_bars(12, 500)),
        "^IRX": _weekdays(random_bars(13, 500)),
        "DX-Y.NYB": _weekdays(random_bars(14, 500)),
    }
    assert needed_inputs(UNIVERSE, ["vix_change_5", "rsi_14"], stored) == ["^VIX"]
    assert needed_inputs(UNIVERSE, ["yield_curve_slope"], stored) == ["^TNX", "^IRX"]
    assert needed_inputs(UNIVERSE, ["cs_rank_ret_5", "beta_60"], stored) == []
    assert needed_inputs(UNIVERSE, None, stored) == []
    # Present in the universe already: nothing to load.
    assert needed_inputs(UNIVERSE | {"^VIX": VIX}, ["vix_z_60"], stored) == []
    # Not stored: nothing to load (build_panel then names the missing series).
    assert needed_inputs(UNIVERSE, ["dollar_ret_20"], {"^VIX": VIX}) == []


def test_predict_and_training_compute_the_same_latest_rows() -> None:
    names = ["rsi_14", "cs_zscore_ret_20", "breadth_above_sma_50", "corr_60"]
    panel = build_panel(UNIVERSE, Interval.D1, LABELS, names, min_history=MIN_HISTORY)
    computed = compute_features(UNIVERSE, Interval.D1, names)
    for symbol, frame in computed.items():
        last = panel.X.xs(symbol, level="symbol").iloc[-1]
        np.testing.assert_array_equal(last.to_numpy(), frame.iloc[-1].to_numpy())


def test_the_feature_set_version_covers_panel_features_and_keeps_per_symbol_versions() -> None:
    per_symbol = ["ret_log_5", "rsi_14"]
    assert combined_feature_set_version(per_symbol) == feature_set_version(per_symbol)
    mixed = combined_feature_set_version([*per_symbol, "cs_rank_ret_20"])
    assert mixed != feature_set_version(per_symbol)
    assert mixed != combined_feature_set_version([*per_symbol, "cs_rank_ret_60"])
    assert mixed == combined_feature_set_version(["cs_rank_ret_20", *reversed(per_symbol)])
