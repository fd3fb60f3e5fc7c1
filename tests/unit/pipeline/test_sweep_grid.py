"""The sweep's grid: one strategy's parameters, refused for an aggregate in one line."""

from __future__ import annotations

import pytest

from alphaforge.config import AppConfig
from alphaforge.core.errors import ConfigError
from alphaforge.pipeline.sweep_run import SweepGrid, expand_grid


def test_an_aggregate_is_not_swept_without_a_named_strategy() -> None:
    config = AppConfig.model_validate({"strategy": {"aggregate": {"preset": "seed_alpaca"}}})
    grid = SweepGrid.model_validate({"params": {"fast": [5, 10]}})
    with pytest.raises(ConfigError, match=r"strategy\.aggregate combines several"):
        expand_grid(grid, config)
    named = SweepGrid.model_validate({"strategy": "ma_crossover", "params": {"fast": [5, 10]}})
    sets, labels, skipped = expand_grid(named, config)
    assert [s.params["fast"] for s in sets] == [5, 10] and not skipped
    assert labels == ["fast=5", "fast=10"]
