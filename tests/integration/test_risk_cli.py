"""``alphaforge risk list`` and the one-line errors (exit 2) of bad risk configuration."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from tests.integration.test_backtest_cli import assert_ok, assert_one_line_error

from alphaforge.portfolio.pieces import CONSTRUCTORS, SIZERS
from alphaforge.risk.pieces import BREAKERS, FILTERS, LIMITS, STOPS

if TYPE_CHECKING:
    from conftest import RunCli


def test_risk_list_prints_every_piece_with_its_defaults(run_cli: RunCli, tmp_path: Path) -> None:
    result = run_cli(["risk", "list", "--json"], tmp_path)
    assert_ok(result)
    listed = json.loads(result.stdout)
    names = {(row["kind"], row["name"]): row["params"] for row in listed["pieces"]}
    for kind, registry in (
        ("constructor", CONSTRUCTORS),
        ("sizer", SIZERS),
        ("limit", LIMITS),
        ("stop", STOPS),
        ("breaker", BREAKERS),
        ("filter", FILTERS),
    ):
        for name in registry.names():
            assert (kind, name) in names
    assert names[("sizer", "kelly")] == {"fraction": 0.25}
    assert names[("limit", "position")]["max_weight"] == 0.1
    assert {"spec", "seed_alpaca", "none"} <= set(listed["presets"])
    table = run_cli(["risk", "list"], tmp_path)
    assert_ok(table)
    assert "daily_loss" in table.stdout and "max_loss=0.03" in table.stdout


BAD: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "unknown preset": ({"risk": {"preset": "spek"}}, ("Unknown risk preset 'spek'", "spec")),
    "unknown piece": (
        {"risk": {"limits": [{"name": "positon"}]}},
        ("Unknown limit 'positon'", "position"),
    ),
    "position above gross": (
        {
            "risk": {
                "preset": "none",
                "limits": [
                    {"name": "position", "params": {"max_weight": 0.5}},
                    {"name": "gross", "params": {"max_gross": 0.4}},
                ],
            }
        },
        ("position limit (50% of equity) is above the gross limit (40%)",),
    ),
    "kelly fraction": (
        {"portfolio": {"sizers": [{"name": "kelly", "params": {"fraction": 1.5}}]}},
        ("Sizer 'kelly'", "fraction"),
    ),
    "stop beyond take-profit": (
        {
            "risk": {
                "preset": "seed_alpaca",
                "stops": [{"name": "take_profit", "params": {"percent": 0.02}}],
            }
        },
        ("at or beyond the take-profit",),
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_risk_configuration_is_one_line_and_exit_2(
    case: str, run_cli: RunCli, tmp_path: Path
) -> None:
    body, fragments = BAD[case]
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(body), encoding="utf-8")
    assert_one_line_error(run_cli(["config", "show", "--config", "bad.yaml"], tmp_path), *fragments)
    assert_one_line_error(run_cli(["backtest", "--config", "bad.yaml"], tmp_path), *fragments)
