"""``alphaforge backtest`` on model scores: a train run's out-of-fold scores, or a champion's
scores on bars after its training data; both refused in one line when they do not fit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from tests.integration.test_model_lifecycle import _fails, _ok
from tests.integration.test_model_lifecycle import cli as cli  # the fixture
from typer.testing import CliRunner

from alphaforge.core.errors import ConfigError, DataError


def _config(tmp_path: Path, end: str, **sections: Any) -> Path:
    body: dict[str, Any] = {
        "demo": {"n_symbols": 6, "n_sectors": 2, "start": "2013-01-01", "end": end},
        "features": {"names": ["ret_log_1", "ret_log_5", "ret_log_20", "vol_std_20", "rsi_14"]},
        "strategy": {"name": "oof_scores"},
        "portfolio": {"top_k": 2},
        "model": {"trees": {"n_estimators": 20}},
        "walk_forward": {"train_months": 6, "validation_months": 2, "test_months": 3},
        "data": {"store_dir": str(tmp_path / "store")},
        "run": {"runs_dir": str(tmp_path / "runs")},
    } | sections
    path = tmp_path / f"config-{end}-{len(sections)}.yaml"
    path.write_text(yaml.safe_dump(body))
    return path


def test_backtest_of_oof_scores_and_of_a_champion(cli: CliRunner, tmp_path: Path) -> None:
    trained = _config(tmp_path, "2014-12-31")
    train_run = tmp_path / "train"
    _ok(cli, "train", "--config", str(trained), "--out", str(train_run))

    # Out-of-fold scores of the train run, on the same (regenerated synthetic) universe.
    out = tmp_path / "bt-oof"
    _ok(
        cli,
        "backtest",
        "--config",
        str(trained),
        "--predictions",
        str(train_run),
        "--out",
        str(out),
    )
    summary = json.loads((out / "summary.json").read_text())
    oof = pd.read_parquet(train_run / "oof_predictions.parquet")
    first_score = oof.index.get_level_values("timestamp").min()
    trades = pd.read_parquet(out / "trades.parquet")
    assert summary["trades"] + summary["open_trades"] == len(trades) > 0
    # Nothing is traded before the first out-of-fold score: it fills at the next open.
    assert trades["entry_time"].min() > first_score
    equity = pd.read_parquet(out / "equity.parquet")
    assert equity["timestamp"].min() == first_score

    # Another horizon, or scores moved outside the test blocks, are refused.
    other = _config(tmp_path, "2014-12-31", labels={"horizon": 10})
    message = _fails(
        cli, ConfigError, "backtest", "--config", str(other), "--predictions", str(train_run)
    )
    assert "10" in message and "horizon" in message
    tampered = tmp_path / "tampered"
    tampered.mkdir()
    for name in ("summary.json", "folds.csv"):
        (tampered / name).write_bytes((train_run / name).read_bytes())
    moved = oof.copy()
    stamps = moved.index.get_level_values("timestamp") - pd.Timedelta(days=400)
    moved.index = pd.MultiIndex.from_arrays(
        [stamps, moved.index.get_level_values("symbol")], names=["timestamp", "symbol"]
    )
    moved.to_parquet(tampered / "oof_predictions.parquet")
    message = _fails(
        cli, DataError, "backtest", "--config", str(trained), "--predictions", str(tampered)
    )
    assert "outside every walk-forward test block" in message

    # The registered champion trades only bars after its data plus horizon and embargo.
    later = _config(tmp_path, "2015-12-31")
    out = tmp_path / "bt-champion"
    _ok(
        cli, "backtest", "--config", str(later), "--champion", "default.lightgbm", "--out", str(out)
    )
    equity = pd.read_parquet(out / "equity.parquet")
    assert equity["timestamp"].min() > pd.Timestamp("2014-12-31", tz="UTC")
    message = _fails(
        cli, DataError, "backtest", "--config", str(trained), "--champion", "default.lightgbm"
    )
    assert "nothing unseen" in message
