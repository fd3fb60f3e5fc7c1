"""Presets, merging by name and the one-line errors of bad risk configuration."""

from __future__ import annotations

import pytest

from alphaforge.config import PieceConfig, PortfolioConfig, RiskConfig
from alphaforge.core.errors import ConfigError
from alphaforge.risk.setup import load_preset, merge_pieces, preset_names, resolve


def test_shipped_presets_resolve() -> None:
    assert {"spec", "seed_alpaca", "none"} <= set(preset_names())
    for name in preset_names():
        resolve(PortfolioConfig(), RiskConfig(preset=name))


def test_unknown_preset_names_the_closest() -> None:
    with pytest.raises(ConfigError, match="Unknown risk preset 'spek'") as caught:
        resolve(PortfolioConfig(), RiskConfig(preset="spek"))
    assert "spec" in caught.value.hint


def test_merge_replaces_by_name_removes_disabled_and_appends_new() -> None:
    preset = [PieceConfig(name="a", params={"x": 1}), PieceConfig(name="b")]
    own = [
        PieceConfig(name="a", params={"x": 2}),
        PieceConfig(name="b", enabled=False),
        PieceConfig(name="c"),
    ]
    merged = merge_pieces(preset, own)
    assert [(p.name, p.params) for p in merged] == [("a", {"x": 2}), ("c", {})]


def test_none_preset_is_empty() -> None:
    assert all(pieces == [] for pieces in load_preset("none").values())


def test_unknown_piece_names_the_closest() -> None:
    risk = RiskConfig(preset="none", limits=[PieceConfig(name="no_such_limit")])
    with pytest.raises(ConfigError, match="Unknown limit 'no_such_limit'"):
        resolve(PortfolioConfig(), risk)


def test_a_misspelt_piece_is_refused_even_when_it_switches_one_off() -> None:
    risk = RiskConfig(breakers=[PieceConfig(name="daily_los", enabled=False)])
    with pytest.raises(ConfigError, match="Unknown circuit breaker 'daily_los'") as caught:
        resolve(PortfolioConfig(), risk)
    assert "daily_loss" in caught.value.hint
