"""``alphaforge backtest --predictions RUN`` with the ``ml_model`` strategy: it reads every
out-of-fold prediction column of the train run (never its labels) and trades one model's
signal where the models agree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from tests.integration.test_backtest_models import _config
from tests.integration.test_model_lifecycle import _fails, _ok
from tests.integration.test_model_lifecycle import cli as cli  # the fixture
from typer.testing import CliRunner

from alphaforge.core.errors import ConfigError, DataError
from alphaforge.core.types import AssetClass, Instrument
from alphaforge.pipeline.backtest_run import LABEL_COLUMNS, _prediction_frames
from alphaforge.strategies import MarketFrames
from alphaforge.strategies.ml_model import MLModel


def _with_strategy(path: Path, strategy: dict[str, Any]) -> Path:
    body = yaml.safe_load(path.read_text()) | {"strategy": strategy}
    out = path.with_name(f"{path.stem}-{strategy.get('params', {}).get('model', 'x')}.yaml")
    out.write_text(yaml.safe_dump(body))
    return out


def test_backtest_of_ml_model_on_a_train_runs_predictions(cli: CliRunner, tmp_path: Path) -> None:
    trained = _config(
        tmp_path,
        "2014-12-31",
        train={"models": ["lightgbm", "logistic"], "quantiles": True},
    )
    train_run = tmp_path / "train"
    _ok(cli, "train", "--config", str(trained), "--out", str(train_run))

    # What the strategy is given: every prediction column, the quantiles, and no label.
    oof = pd.read_parquet(train_run / "oof_predictions.parquet")
    frames = _prediction_frames(train_run, oof)
    assert {"score_lightgbm", "score_logistic", "score_ensemble", "agreement"} <= set(frames)
    assert {"q10", "q50", "q90"} <= set(frames)
    assert not set(LABEL_COLUMNS) & set(frames)
    pd.testing.assert_series_equal(
        frames["agreement"].stack().rename("agreement"),
        oof["agreement"].dropna(),
        check_index_type=False,
        check_names=False,
    )

    config = _with_strategy(trained, {"name": "ml_model", "params": {"model": "lightgbm"}})
    out = tmp_path / "bt-ml"
    _ok(
        cli, "backtest", "--config", str(config), "--predictions", str(train_run), "--out", str(out)
    )
    summary = json.loads((out / "summary.json").read_text())
    assert summary["strategy"] == "ml_model"
    trades = pd.read_parquet(out / "trades.parquet")
    assert len(trades) > 0
    first_score = oof.index.get_level_values("timestamp").min()
    assert trades["entry_time"].min() > first_score

    # With two models, agreement is 1 or 1/2: the rows at 1/2 carry no signal.
    bars = {
        s: pd.DataFrame(
            {"open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": 1.0},
            index=frames["agreement"].index,
        )
        for s in frames["agreement"].columns
    }
    market = MarketFrames.from_bars(
        bars, {s: Instrument(s, AssetClass.STOCK) for s in bars}, predictions=frames
    )
    value = MLModel(model="lightgbm").signals(market).value
    split = frames["agreement"].reindex_like(value) < 0.6
    assert split.to_numpy().any()
    assert value[split].isna().all().all()
    np.testing.assert_allclose(
        value[~split].stack().to_numpy(),
        (2 * frames["score_lightgbm"].reindex_like(value)[~split] - 1).stack().to_numpy(),
    )

    # An unknown model names the closest; a strategy without scores refuses --predictions.
    wrong = _with_strategy(trained, {"name": "ml_model", "params": {"model": "lightgbn"}})
    message = _fails(
        cli, DataError, "backtest", "--config", str(wrong), "--predictions", str(train_run)
    )
    assert "lightgbm" in message
    plain = _with_strategy(trained, {"name": "ma_crossover"})
    _fails(cli, ConfigError, "backtest", "--config", str(plain), "--predictions", str(train_run))

    # A champion trades only bars after its data plus horizon and embargo, under its kind.
    later = _with_strategy(
        _config(tmp_path, "2015-12-31", train={"models": ["lightgbm", "logistic"]}),
        {"name": "ml_model", "params": {"model": "lightgbm"}},
    )
    out = tmp_path / "bt-champion"
    _ok(
        cli, "backtest", "--config", str(later), "--champion", "default.lightgbm", "--out", str(out)
    )
    equity = pd.read_parquet(out / "equity.parquet")
    assert equity["timestamp"].min() > pd.Timestamp("2014-12-31", tz="UTC")
    assert len(pd.read_parquet(out / "trades.parquet")) > 0
