"""The demo scores the generator's oracle beside the model and the control, and says plainly
whether the strategy found the planted edge and whether the control looks like chance."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import numpy as np
import pandas as pd
import pytest
from markupsafe import escape

from alphaforge.cli.app import _print_summary
from alphaforge.config import AppConfig, masked_dump
from alphaforge.pipeline.demo import (
    DEMO_PRESETS,
    DemoOutcome,
    control_auc_threshold,
    control_verdict,
    demo_config,
    edge_ratio,
    run_demo,
    strategy_verdict,
)
from alphaforge.pipeline.research import StrategyRun
from alphaforge.pipeline.results import DemoSummary, read_result


def _control(auc: float, rows: float, gross: np.ndarray) -> StrategyRun:
    """A stand-in for a control run: the verdict reads only these attributes."""
    stub = SimpleNamespace(
        prediction_metrics={"auc": auc, "labelled_rows": rows},
        backtest=SimpleNamespace(gross_returns=pd.Series(gross)),
    )
    return cast(StrategyRun, stub)


def _noise_returns(seed: int, drift: float = 0.0, n: int = 1500) -> np.ndarray:
    return np.random.default_rng(seed).normal(drift, 0.01, n)


def test_edge_ratio_is_the_share_of_the_oracles_edge() -> None:
    assert edge_ratio(0.53, 0.56) == pytest.approx(0.5)
    assert edge_ratio(0.50, 0.56) == pytest.approx(0.0)
    assert edge_ratio(0.49, 0.56) < 0.0
    assert np.isnan(edge_ratio(0.53, 0.5))  # an oracle without an edge has no ratio
    assert np.isnan(edge_ratio(0.53, float("nan")))


def test_the_strategy_verdict_applies_the_half_edge_bar() -> None:
    assert strategy_verdict(0.537, 0.554).startswith("strategy finds the planted edge: yes")
    assert "69% of its edge" in strategy_verdict(0.537, 0.554)
    assert strategy_verdict(0.506, 0.556).startswith("strategy finds the planted edge: no")
    assert "n/a" in strategy_verdict(0.51, 0.5)


def test_a_chance_control_is_called_chance() -> None:
    chance, line = control_verdict(_control(0.499, 36_000, _noise_returns(1, -0.001)), 5)
    assert chance
    assert line.startswith("control looks like chance: yes, AUC 0.499 (chance: 0.5 +- 0.020)")
    assert "gross PSR 0.00" in line


@pytest.mark.parametrize("auc", [0.53, 0.47])
def test_an_auc_outside_the_band_on_either_side_is_not_chance(auc: float) -> None:
    chance, line = control_verdict(_control(auc, 36_000, _noise_returns(2, -0.001)), 5)
    assert not chance
    assert line.startswith("control looks like chance: NO")


def test_a_significant_gross_sharpe_is_not_chance() -> None:
    chance, line = control_verdict(_control(0.5, 36_000, _noise_returns(3, drift=0.002)), 5)
    assert not chance
    assert "gross PSR 1.00" in line


def test_the_band_is_three_null_standard_errors_inflated_for_overlap() -> None:
    # 3,000 rows with 5-bar labels: 3 * sqrt((n + 1) / 3) / n * sqrt(5) = 0.0707.
    assert control_auc_threshold(3_000, 5) - 0.5 == pytest.approx(0.0707, abs=1e-4)
    assert control_auc_threshold(1e6, 5) - 0.5 == pytest.approx(0.02)  # the floor


def test_presets_fill_only_what_the_configuration_leaves_unset() -> None:
    user = AppConfig.model_validate(
        {"walk_forward": {"train_months": 12}, "model": {"trees": {"num_leaves": 8}}}
    )
    config = demo_config(user)
    assert config.walk_forward.train_months == 12  # set by the user: kept
    assert config.walk_forward.test_months == DEMO_PRESETS["walk_forward"]["test_months"]
    assert config.model.trees.num_leaves == 8
    assert config.model.trees.min_child_samples == DEMO_PRESETS["model.trees"]["min_child_samples"]
    assert config.labels.weight_half_life_days is None
    assert config.risk.preset == "none"  # the demo's book: base checks only
    assert demo_config(AppConfig.model_validate({"risk": {"preset": "spec"}})).risk.preset == "spec"
    # The effective configuration, once recorded and read back, is left as it is.
    recorded = AppConfig.model_validate(masked_dump(config) | {"secrets": {}})
    assert demo_config(recorded) == recorded
    off = AppConfig.model_validate({"demo": {"presets": False}})
    assert demo_config(off) == off


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory: pytest.TempPathFactory) -> DemoOutcome:
    folder = tmp_path_factory.mktemp("demo")
    config = AppConfig.model_validate(
        {
            "demo": {
                "n_symbols": 8,
                "n_sectors": 2,
                "start": "2014-01-01",
                "end": "2016-12-31",
            },
            "portfolio": {"top_k": 2},
            "model": {"trees": {"n_estimators": 40}},
            "walk_forward": {"train_months": 12, "validation_months": 3, "test_months": 3},
            "data": {"store_dir": str(folder / "store")},
            "run": {"runs_dir": str(folder / "runs")},
        }
    )
    return run_demo(config, out=folder / "out")


def test_the_demo_records_oracle_model_and_control_aucs(small_demo: DemoOutcome) -> None:
    summary = json.loads(small_demo.run.summary.read_text(encoding="utf-8"))
    strategy = summary["prediction_metrics"]
    control = summary["control"]["prediction_metrics"]
    assert 0.5 < strategy["oracle_auc"] < 0.7
    assert strategy["edge_ratio"] == pytest.approx(
        (strategy["auc"] - 0.5) / (strategy["oracle_auc"] - 0.5)
    )
    # The control's generator plants nothing: its oracle is exactly chance.
    assert control["oracle_auc"] == 0.5
    assert 0.4 < control["auc"] < 0.6
    verdicts = summary["verdicts"]
    assert verdicts["strategy"].startswith("strategy finds the planted edge: ")
    assert verdicts["control"].startswith("control looks like chance: ")
    assert isinstance(summary["control_looks_like_chance"], bool)
    psr = summary["control_gross_psr"]
    assert 0.0 <= psr <= 1.0
    assert f"gross PSR {psr:.2f}" in verdicts["control"]
    # The presets filled what the configuration left unset; the user's values stayed.
    assert (
        summary["config"]["model"]["trees"]["num_leaves"]
        == (DEMO_PRESETS["model.trees"]["num_leaves"])
    )
    assert summary["config"]["walk_forward"]["train_months"] == 12


def test_the_control_universe_has_its_own_names_and_no_crypto_row(
    small_demo: DemoOutcome,
) -> None:
    data = small_demo.summary.data
    assert sorted(data["strategy"]) == [f"SYN{k:02d}" for k in range(8)]
    assert sorted(data["control"]) == [f"RW{k:02d}" for k in range(8)]
    assert set(data) == {"real", "strategy", "control"}
    html = small_demo.run.report.read_text(encoding="utf-8")
    assert "RW00" in html
    assert "crypto coverage" not in html


def test_the_report_and_the_terminal_show_the_oracle_and_verdicts(
    small_demo: DemoOutcome, capsys: pytest.CaptureFixture[str]
) -> None:
    html = small_demo.run.report.read_text(encoding="utf-8")
    assert "<td>oracle_auc</td>" in html
    assert "<td>edge_ratio</td>" in html
    for line in small_demo.summary.verdicts.values():
        assert str(escape(line)) in html
    # As written to and read back from summary.json.
    summary = read_result(small_demo.run.summary, DemoSummary)
    _print_summary(summary)
    out = capsys.readouterr().out
    assert "oracle auc" in out
    assert "strategy finds the planted edge:" in out
    assert "control looks like chance:" in out


def test_the_verdicts_are_logged_in_the_run_log(small_demo: DemoOutcome) -> None:
    log = Path(small_demo.run.log).read_text(encoding="utf-8")
    assert "verdict: control looks like chance:" in log


def test_the_demo_trades_rules_plus_ml_and_splits_its_pnl_by_component(
    small_demo: DemoOutcome,
) -> None:
    summary = json.loads(small_demo.run.summary.read_text(encoding="utf-8"))
    book = summary["rules_plus_ml"]
    assert book["weights"] == {"rsi": 12, "momentum": 12, "macd": 10, "gap": 8, "lightgbm_oof": 58}
    assert "standing for seed 002's random_forest" in book["note"]
    parts = book["pnl_by_component"]
    assert {"rsi", "momentum", "macd", "gap", "lightgbm_oof"} <= set(parts)
    # Every cost is charged to a trade, so the trades' P&L is the change in equity.
    capital = summary["config"]["backtest"]["initial_capital"]
    total = book["metrics"]["total_return"] * capital
    assert sum(parts.values()) == pytest.approx(total, rel=1e-6, abs=1e-6)
    html = small_demo.run.report.read_text(encoding="utf-8")
    assert "P&amp;L by component: rules_plus_ml" in html
    assert "<th>rules + ML (seed weights)</th>" in html
