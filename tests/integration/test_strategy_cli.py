"""``alphaforge strategies list | show`` and the one-line refusals of a strategy's config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from tests.integration.test_backtest_cli import MA_CONFIG, assert_ok, assert_one_line_error

from alphaforge.strategies import STRATEGIES

if TYPE_CHECKING:
    from conftest import RunCli


def test_list_prints_every_strategy_with_its_declaration(run_cli: RunCli, tmp_path: Path) -> None:
    result = run_cli(["strategies", "list", "--json"], tmp_path)
    assert_ok(result)
    rows = {row["name"]: row for row in json.loads(result.stdout)["strategies"]}
    assert set(rows) == set(STRATEGIES.names())
    for name, row in rows.items():
        strategy = STRATEGIES.get(name)()
        assert row["family"] == str(type(strategy).family)
        assert row["warmup"] == strategy.warmup
        assert row["interval"] in ("any", *(str(i) for i in ("1m", "5m", "15m", "1h", "1d")))
        for key in ("asset_classes", "needs", "requires", "lookback", "params", "summary"):
            assert key in row, (name, key)
    assert rows["ma_crossover"]["params"] == {"fast": 10, "slow": 20, "mode": "long_short"}
    table = run_cli(["strategies", "list"], tmp_path)
    assert_ok(table)
    assert "ma_crossover" in table.stdout and "fast=10" in table.stdout


def test_show_prints_the_rule_and_each_parameter(run_cli: RunCli, tmp_path: Path) -> None:
    result = run_cli(["strategies", "show", "ma_crossover", "--json"], tmp_path)
    assert_ok(result)
    shown = json.loads(result.stdout)
    assert "cross up" in shown["doc"]
    modes = {p["name"]: p for p in shown["parameters"]}["mode"]
    assert modes["type"] == "long_short | long_only" and modes["default"] == "long_short"
    text = run_cli(["strategies", "show", "ma_crossover"], tmp_path)
    assert_ok(text)
    assert "lookback (bars): 21" in text.stdout


def test_an_unknown_strategy_or_parameter_names_the_closest(
    run_cli: RunCli, tmp_path: Path
) -> None:
    assert_one_line_error(
        run_cli(["strategies", "show", "ma_crosover"], tmp_path), "Did you mean ma_crossover"
    )
    config = {**MA_CONFIG, "strategy": {"name": "ma_crossover", "params": {"fsat": 5}}}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    assert_one_line_error(
        run_cli(["backtest", "--config", "bad.yaml"], tmp_path), "fsat", "Did you mean fast?"
    )
