"""`alphaforge models challenge` and `alphaforge models update`, end to end through the CLI.

The scenario: train on the synthetic universe up to an early date (the champion), train again
with more data (a challenger), let more bars arrive and run the champion/challenger test; then
update the champion online. Extending ``demo.end`` only appends bars: the generator draws
every series in time order, so the earlier bars are identical (checked below), which is what
"new data arrived" means.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from alphaforge.cli.app import app
from alphaforge.config import load_config
from alphaforge.core.errors import ConfigError, DataError
from alphaforge.data.synthetic import generate_market
from alphaforge.models.online import n_trees
from alphaforge.models.registry_store import ModelRegistry
from alphaforge.pipeline.demo import synthetic_spec
from alphaforge.pipeline.registration import registry_root

if TYPE_CHECKING:
    from conftest import RunCli

NAME = "default.lightgbm"


def _write_config(tmp_path: Path, end: str, **sections: Any) -> Path:
    """Write a small, fast configuration whose market ends at ``end``; return its path."""
    body: dict[str, Any] = {
        "demo": {"n_symbols": 6, "n_sectors": 2, "start": "2013-01-01", "end": end},
        "features": {
            # Panel features too: challenge and update rebuild them over the universe (sectors
            # included) as training did.
            "names": [
                "ret_log_1",
                "ret_log_5",
                "ret_log_20",
                "vol_std_20",
                "rsi_14",
                "month_sin",
                "cs_rank_ret_20",
                "sector_rs_20",
            ],
            "min_history": 60,
        },
        "portfolio": {"top_k": 2},
        "model": {"trees": {"n_estimators": 20}},
        "walk_forward": {"train_months": 6, "validation_months": 2, "test_months": 3},
        "data": {"store_dir": str(tmp_path / "store")},
        "run": {"runs_dir": str(tmp_path / "runs")},
    }
    body |= sections
    path = tmp_path / f"config-{end}-{len(sections)}.yaml"
    path.write_text(yaml.safe_dump(body))
    return path


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for key in list(os.environ):
        if key.upper().startswith("ALPHAFORGE_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("COLUMNS", "200")
    return CliRunner()


def _ok(cli: CliRunner, *args: str) -> str:
    result = cli.invoke(app, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def _fails(cli: CliRunner, error: type[Exception], *args: str) -> str:
    """Run a command that must end in a user error; return its one-line message."""
    result = cli.invoke(app, list(args))
    assert result.exit_code != 0
    assert isinstance(result.exception, error), result.exception
    line = result.exception.one_line()  # type: ignore[attr-defined]
    assert "\n" not in line
    return str(line)


def test_extending_demo_end_only_appends_bars(tmp_path: Path) -> None:
    config = load_config(_write_config(tmp_path, "2014-12-31"))
    spec = synthetic_spec(config)
    short = generate_market(spec, config.run.seed)
    longer = generate_market(replace(spec, end=date(2016, 6, 30)), config.run.seed)
    for symbol, bars in short.bars.items():
        extended = longer.bars[symbol]
        assert len(extended) > len(bars)
        pd.testing.assert_frame_equal(extended.iloc[: len(bars)], bars)


def test_challenge_and_update_through_the_cli(cli: CliRunner, tmp_path: Path) -> None:
    first = _write_config(tmp_path, "2014-12-31")
    second = _write_config(tmp_path, "2015-06-30")
    _ok(cli, "train", "--config", str(first), "--out", str(tmp_path / "run1"))
    _ok(cli, "train", "--config", str(second), "--out", str(tmp_path / "run2"))
    summary = json.loads((tmp_path / "run2" / "summary.json").read_text())
    assert summary["registered"]["lightgbm"]["version"] == 2
    assert f"alphaforge models challenge {NAME}" in summary["registered"]["lightgbm"]["decision"]
    with ModelRegistry(registry_root(load_config(second))) as registry:
        v1, v2 = registry.get(NAME, 1), registry.get(NAME, 2)
    assert (v1.stage, v2.stage) == ("champion", "candidate")
    assert v2.data_end > v1.data_end

    # Too few bars after the challenger's training data: one line, nothing recorded.
    early = _write_config(tmp_path, "2015-07-31")
    message = _fails(cli, DataError, "models", "challenge", NAME, "--config", str(early))
    assert "period(s) after both models' training data" in message
    assert "the test needs at least 20" in message and "Data count from 2015-" in message

    # A year later: the test runs on the periods neither model trained on and is recorded.
    later = _write_config(tmp_path, "2016-06-30")
    output = _ok(cli, "models", "challenge", NAME, "--bootstrap", "500", "--config", str(later))
    assert "Decision (recorded)" in output and "reality check" in output
    with ModelRegistry(registry_root(load_config(later))) as registry:
        decision = registry.decisions(NAME)[-1]
        champion = registry.get(NAME, "champion")
    numbers = decision.numbers
    assert decision.version == 2 and decision.previous_champion == 1
    # About a year of daily bars after mid-2015 plus the 5 + 5 bar gap.
    assert 220 <= numbers["n_periods"] <= 260
    assert 0.0 < numbers["p_value"] <= 1.0 and numbers["n_bootstrap"] == 500
    assert champion.version == (2 if decision.promoted else 1)
    shown = _ok(cli, "models", "show", NAME, "--version", "2", "--config", str(later))
    assert ("promoted:" if decision.promoted else "refused:") in shown
    assert "sharpe-difference reality check" in shown

    # Online update of the champion: a new candidate with more trees and a later data_end.
    output = _ok(cli, "models", "update", NAME, "--rounds", "15", "--config", str(later))
    assert "online update of champion" in output
    assert f"candidate: compare with `alphaforge models challenge {NAME}`" in output
    with ModelRegistry(registry_root(load_config(later))) as registry:
        versions = registry.list(NAME)
        new = versions[-1]
        base_model = registry.load(NAME, champion.version, expected_features=champion.feature_names)
        new_model = registry.load(NAME, new.version, expected_features=new.feature_names)
    assert (new.version, new.stage) == (3, "candidate")
    assert new.config["online_update"]["continued_from"] == champion.version
    assert new.data_end > champion.data_end
    assert new.data_end <= pd.Timestamp("2016-06-30", tz="UTC")
    assert n_trees(new_model) > n_trees(base_model)
    listed = json.loads(_ok(cli, "models", "list", "--json", "--config", str(later)))
    assert [v["stage"] for v in listed].count("champion") == 1

    # The update is the newest challenger; its own training data leave no unseen periods yet.
    message = _fails(cli, DataError, "models", "challenge", NAME, "--config", str(later))
    assert "0 period(s)" in message
    message = _fails(
        cli, ConfigError, "models", "challenge", NAME, "--challenger", "9", "--config", str(later)
    )
    assert "no version 9" in message


def test_update_refuses_a_non_boosting_champion_in_one_line(
    cli: CliRunner, run_cli: RunCli, tmp_path: Path
) -> None:
    config = _write_config(
        tmp_path, "2014-12-31", train={"models": ["logistic"], "experiment": "lin"}
    )
    _ok(cli, "train", "--config", str(config), "--out", str(tmp_path / "run"))
    # The real entry point: the error is one line on stderr and a non-zero exit code.
    result = run_cli(["models", "update", "lin.logistic", "--config", str(config)], tmp_path)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "not a boosting model" in lines[0], result.stderr
    message = _fails(
        cli, ConfigError, "models", "challenge", "lin.logistic", "--config", str(config)
    )
    assert "no version registered after its champion" in message
