"""``alphaforge strategies list | show`` and the one-line refusals of a strategy's config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pytest
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
    aggregate = run_cli(["strategies", "show", "aggregate", "--json"], tmp_path)
    assert_ok(aggregate)
    settings = json.loads(aggregate.stdout)
    assert settings["presets"]["seed_alpaca"]["lstm_attention"] == 22
    assert {"method", "threshold", "forgetting"} <= {p["name"] for p in settings["parameters"]}


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


AGGREGATE = {
    **MA_CONFIG,
    "strategy": {
        "aggregate": {
            "preset": None,
            "method": "fixed",
            "weights": {"ma_crossover": 0.6, "fast_ma": 0.4},
            "components": {"fast_ma": {"name": "ma_crossover", "params": {"fast": 5, "slow": 10}}},
            "threshold": 0.3,
        }
    },
}


def test_an_aggregate_splits_its_pnl_by_component(run_cli: RunCli, tmp_path: Path) -> None:
    assert_ok(run_cli(["data", "fetch", "GOOG", "--source", "sample"], tmp_path))
    (tmp_path / "agg.yaml").write_text(yaml.safe_dump(AGGREGATE), encoding="utf-8")
    out = tmp_path / "run"
    assert_ok(run_cli(["backtest", "--config", "agg.yaml", "--out", str(out)], tmp_path))
    table = pd.read_csv(out / "attribution" / "strategy.csv")
    whole = table[table["component"] == "all"]
    parts = table[table["component"] != "all"]
    assert list(whole["strategy"]) == ["aggregate"]
    assert set(parts["component"]) <= {"ma_crossover", "fast_ma", "unattributed"}
    assert {"ma_crossover", "fast_ma"} <= set(parts["component"])
    total = float(whole["total_pnl"].iloc[0])
    assert abs(total) > 0  # it traded
    assert parts["total_pnl"].sum() == pytest.approx(total, rel=1e-9, abs=1e-9)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["strategy"] == "aggregate"
    assert sum(summary["pnl_by_component"].values()) == pytest.approx(total, rel=1e-9, abs=1e-9)
    trades = pd.read_parquet(out / "trades.parquet")
    assert set(trades["strategy"]) == {"aggregate"}


def test_an_hourly_strategy_on_daily_bars_is_one_line(run_cli: RunCli, tmp_path: Path) -> None:
    config = {**MA_CONFIG, "strategy": {"name": "asian_london_breakout"}}
    (tmp_path / "asian.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    assert_one_line_error(
        run_cli(["backtest", "--config", "asian.yaml"], tmp_path),
        "Strategy asian_london_breakout needs bars of 1h or finer",
        "1 day apart",
    )


def test_a_book_that_holds_nothing_finishes_and_says_why(run_cli: RunCli, tmp_path: Path) -> None:
    """One symbol and the default long/short top-k book: no trade, a warning, no error."""
    assert_ok(run_cli(["data", "fetch", "GOOG", "--source", "sample"], tmp_path))
    config = {
        "strategy": {"name": "rsi"},
        "backtest": {"symbols": ["GOOG"], "initial_capital": 10_000},
        "risk": {"preset": "none"},
    }
    (tmp_path / "one.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    out = tmp_path / "run"
    result = run_cli(["backtest", "--config", "one.yaml", "--out", str(out)], tmp_path)
    assert_ok(result)
    assert "with 1 symbol it holds none" in result.stderr + result.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["trades"] == 0 and any("holds none" in w for w in summary["warnings"])
    assert (out / "attribution" / "regime.csv").is_file()
