"""A training run refuses unhealthy data with the reasons listed, unless explicitly overridden."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from alphaforge.config import AppConfig
from alphaforge.core.errors import DataHealthError
from alphaforge.core.types import AssetClass, Interval
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
            "model": {"n_estimators": 20},
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
