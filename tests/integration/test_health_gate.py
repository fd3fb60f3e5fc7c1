"""A training run refuses unhealthy data with the reasons listed, unless explicitly overridden."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from alphaforge.config import AppConfig
from alphaforge.core.errors import DataHealthError
from alphaforge.core.types import AssetClass, Interval
from alphaforge.data.sources.sample import sample_bars, sample_instrument
from alphaforge.data.synthetic import SyntheticSpec, generate_market
from alphaforge.pipeline.research import prepare_training_data, run_strategy

SPEC = SyntheticSpec(
    n_symbols=8,
    n_sectors=2,
    start=date(2014, 1, 1),
    end=date(2016, 12, 31),
    interval=Interval.D1,
    asset_class=AssetClass.STOCK,
)


def _corrupted_market() -> tuple[dict, dict]:
    market = generate_market(SPEC, seed=3)
    bars = {s: b.copy() for s, b in market.bars.items()}
    frozen = bars["SYN02"]
    # A feed frozen for 40% of its history: zero range, unchanged close.
    stuck = slice(100, 100 + int(0.4 * len(frozen)))
    price = frozen["close"].iloc[99]
    for column in ("open", "high", "low", "close"):
        frozen.iloc[stuck, frozen.columns.get_loc(column)] = price
    # Every tenth bar of another symbol lost.
    holes = bars["SYN05"]
    bars["SYN05"] = holes[np.arange(len(holes)) % 10 != 0]
    return bars, market.instruments


def test_unhealthy_training_data_is_refused_with_reasons() -> None:
    bars, instruments = _corrupted_market()
    with pytest.raises(DataHealthError) as caught:
        prepare_training_data(bars, instruments, Interval.D1, AppConfig())
    message = caught.value.one_line()
    assert "SYN02" in message
    assert "stale_run" in message
    assert "SYN05" in message
    assert "calendar_gap" in message
    for healthy in ("SYN00", "SYN01", "SYN03"):
        assert healthy not in message


def test_the_override_lets_the_run_go_on_and_records_why() -> None:
    bars, instruments = _corrupted_market()
    config = AppConfig.model_validate(
        {
            "data": {"allow_unhealthy": True},
            "model": {"trees": {"n_estimators": 20}},
            "portfolio": {"top_k": 2},
            "walk_forward": {"test_months": 6},
        }
    )
    prepared = prepare_training_data(bars, instruments, Interval.D1, config)
    assert len(prepared.warnings) == 2
    assert any("SYN02" in w for w in prepared.warnings)
    assert any("SYN05" in w for w in prepared.warnings)
    assert prepared.reports["SYN02"].health_score < config.data.min_health_score
    run = run_strategy("override", prepared.bars, Interval.D1, config, seed=3)
    assert run.prediction_metrics["folds"] > 0


def test_clean_data_passes_the_gate_without_warnings() -> None:
    market = generate_market(SPEC, seed=4)
    prepared = prepare_training_data(market.bars, market.instruments, Interval.D1, AppConfig())
    assert prepared.warnings == []
    assert all(r.health_score == 1.0 for r in prepared.reports.values())


def test_real_sample_series_with_real_moves_pass_the_default_gate() -> None:
    # AAPL's -52 % day (2000-09-29) and the VIX's +116 % day (2018-02-05) are real moves; the old
    # validator called them splits and the VIX failed the gate (health 0.75).
    raw = {symbol: sample_bars(symbol) for symbol in ("AAPL", "^VIX")}
    instruments = {symbol: sample_instrument(symbol) for symbol in raw}
    prepared = prepare_training_data(raw, instruments, Interval.D1, AppConfig())
    assert prepared.warnings == []
    assert all(r.health_score >= 0.8 for r in prepared.reports.values())


def test_an_unadjusted_split_fails_the_gate_however_few_rows_it_touches() -> None:
    market = generate_market(SPEC, seed=5)
    bars = {s: b.copy() for s, b in market.bars.items()}
    late = bars["SYN03"]
    t = len(late) - 3  # only the last three bars are on the new scale
    late.iloc[t:, :4] = late.iloc[t:, :4] / 2.0
    late.iloc[t, late.columns.get_loc("open")] = late["close"].iloc[t - 1] / 2.0
    late.iloc[t, late.columns.get_loc("high")] = late.iloc[t, :4].max()
    with pytest.raises(DataHealthError) as caught:
        prepare_training_data(bars, market.instruments, Interval.D1, AppConfig())
    message = caught.value.one_line()
    assert "SYN03" in message
    assert "split_like_jump" in message
    assert "adjust for splits at the source" in message
    assert "SYN00" not in message


def test_a_fat_finger_bar_is_dropped_and_the_series_passes() -> None:
    market = generate_market(SPEC, seed=6)
    bars = {s: b.copy() for s, b in market.bars.items()}
    spiked = bars["SYN01"]
    stamp = spiked.index[300]
    spiked.iloc[300, :4] = spiked.iloc[300, :4] * 100
    prepared = prepare_training_data(bars, market.instruments, Interval.D1, AppConfig())
    assert prepared.warnings == []
    assert stamp not in prepared.bars["SYN01"].index
    kinds = {i.kind for i in prepared.reports["SYN01"].issues}
    assert "price_spike" in kinds
    assert "split_like_jump" not in kinds
