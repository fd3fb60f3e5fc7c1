"""`alphaforge train`: several models, their ensemble and both controls, end to end."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

from alphaforge.config import AppConfig
from alphaforge.models.dataset import Panel
from alphaforge.pipeline.train import (
    ScoredRun,
    ensemble_weights,
    model_agreement,
    permute_labels_in_blocks,
)
from alphaforge.validation import FoldReport, WalkForwardResult

if TYPE_CHECKING:
    from conftest import CliResult, RunCli


def _train(
    run_cli: RunCli, cwd: Path, config: Path, env: dict[str, str] | None = None
) -> CliResult:
    """Run ``alphaforge train --out run`` in ``cwd``, check that it succeeded, return it."""
    result = run_cli(["train", "--config", str(config), "--out", "run"], cwd, env=env)
    assert result.returncode == 0, result.stderr
    return result


def test_train_writes_oof_predictions_metrics_and_controls(
    run_cli: RunCli, tmp_path: Path, fast_config: Path
) -> None:
    result = _train(run_cli, tmp_path, fast_config, {"ALPHAFORGE_TRAIN__SEARCH_TRIALS": "2"})
    run = tmp_path / "run"
    for name in (
        "summary.json",
        "manifest.json",
        "report.html",
        "oof_predictions.parquet",
        "folds.csv",
        "feature_importance.csv",
        "run.log",
    ):
        assert (run / name).is_file(), name
    summary = json.loads((run / "summary.json").read_text())
    assert set(summary["controls"]) == {"random_walk", "permuted_labels"}
    assert summary["ensemble"]["oos_rows"] > 0
    folds = pd.read_csv(run / "folds.csv")
    assert summary["search_trials"] == 2 * len(folds)  # nested search: 2 trials per fold
    # Every configuration tried is in the ledger, and the deflated Sharpe counts them all.
    overfitting = summary["overfitting"]
    from alphaforge.validation import TrialLedger

    with TrialLedger(tmp_path / "store" / "ledger" / "trial_ledger.sqlite") as ledger:
        kinds = [t.kind for t in ledger.trials("default")]
    # lightgbm and the search trials; the one-model "ensemble" is lightgbm again, not a trial.
    assert kinds.count("manual") == 1
    assert "variant" not in kinds
    assert overfitting["n_trials"] == len(kinds) >= 1 + 2
    # One configuration with returns: PBO is undefined, and so is the deflated Sharpe (the
    # search trials' Sharpe ratios are unknown), each with its reason.
    assert overfitting["pbo"] is None
    assert "2 distinct configurations" in overfitting["pbo_undefined_reason"]
    assert overfitting["deflated_sharpe"]["ensemble"] is None
    assert any("deflated Sharpe of ensemble not computed" in w for w in summary["warnings"])
    # The registered model uses the configuration its latest fold's search chose.
    from alphaforge.models.registry_store import ModelRegistry

    with ModelRegistry(tmp_path / "store" / "models") as registry:
        registered = registry.get("default.lightgbm", "champion").config["model"]
    assert registered["trees"]["num_leaves"] != AppConfig().model.trees.num_leaves or (
        registered["trees"]["learning_rate"] != AppConfig().model.trees.learning_rate
    )
    diagnostics = summary["diagnostics"]["ensemble"]
    assert 0.0 < diagnostics["brier"] < 0.5 and 0.0 < diagnostics["log_loss"] < 1.0
    calibration = pd.read_csv(run / "calibration.csv")
    assert set(calibration["run"]) == {"lightgbm", "ensemble"}
    assert summary["registered"]["lightgbm"] == {
        "name": "default.lightgbm",
        "version": 1,
        "decision": "champion (first version)",
    }
    known = pd.read_parquet(run / "oof_predictions.parquet")["target"].notna().sum()
    assert calibration["count"].sum() == 2 * known

    # The registry is browsable and predict scores the latest bars with the champion.
    listed = run_cli(["models", "list", "--json", "--config", str(fast_config)], tmp_path)
    assert listed.returncode == 0, listed.stderr
    versions = json.loads(listed.stdout)
    assert [(v["name"], v["version"], v["stage"]) for v in versions] == [
        ("default.lightgbm", 1, "champion")
    ]
    shown = run_cli(["models", "show", "default.lightgbm", "--config", str(fast_config)], tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "first version of this model" in shown.stdout
    scored = run_cli(["predict", "--out", "scores.csv", "--config", str(fast_config)], tmp_path)
    assert scored.returncode == 0, scored.stderr
    scores = pd.read_csv(tmp_path / "scores.csv", index_col="symbol")
    assert len(scores) == len(summary["data"]["symbols"])
    assert scores["ensemble"].between(0, 1).all()
    assert sorted(scores["rank"]) == list(range(1, len(scores) + 1))
    assert "ensemble: average, as trained" in " ".join(scored.stdout.split())
    np.testing.assert_allclose(scores["ensemble"], scores["lightgbm"])  # one model, weight 1
    unknown = run_cli(["models", "show", "nope", "--config", str(fast_config)], tmp_path)
    assert unknown.returncode != 0 and len(unknown.stderr.strip().splitlines()) == 1
    oof = pd.read_parquet(run / "oof_predictions.parquet")
    assert {"score_lightgbm", "score_ensemble", "target", "label_end", "agreement"} <= set(
        oof.columns
    )
    assert oof["score_ensemble"].between(0, 1).all()
    # Every out-of-fold score is explained by its fold's model, feature by feature: the
    # contributions sum to the score's log-odds, and no other row (training-only) has any.
    contributions = pd.read_parquet(run / "oof_contributions.parquet")
    assert contributions.index.names == oof.index.names
    assert set(contributions["model"]) == {"lightgbm"}
    assert contributions.columns[-1] == "bias"
    assert contributions.index.sort_values().equals(oof.index.sort_values())
    margin = contributions.drop(columns="model").to_numpy(np.float64).sum(axis=1)
    score = oof["score_lightgbm"].loc[contributions.index].to_numpy()
    np.testing.assert_allclose(1.0 / (1.0 + np.exp(-margin)), score, atol=1e-5)
    # The controls look like chance on this small universe.
    for control in summary["controls"].values():
        assert 0.4 < control["auc"] < 0.6
    assert "Out-of-fold results" in result.stdout


def _panel(n_days: int = 60, symbols: tuple[str, ...] = ("A", "B", "C")) -> Panel:
    stamps = pd.date_range("2020-01-01", periods=n_days, freq="D", tz="UTC")
    index = pd.MultiIndex.from_product([stamps, symbols], names=["timestamp", "symbol"])
    rng = np.random.default_rng(0)
    target = pd.Series(rng.integers(0, 2, len(index)).astype(float), index=index)
    forward = pd.Series(np.arange(len(index), dtype=float), index=index)
    start = pd.Series(index.get_level_values("timestamp"), index=index)
    X = pd.DataFrame({"f": rng.normal(size=len(index))}, index=index)
    return Panel(X, forward, target, start, start + pd.Timedelta(days=5))


def test_block_permutation_keeps_each_symbols_labels_and_blocks() -> None:
    panel = _panel()
    permuted = permute_labels_in_blocks(panel, block_bars=10, seed=3)
    assert permuted.X is panel.X and permuted.start is panel.start and permuted.end is panel.end
    for symbol in ("A", "B", "C"):
        before = panel.forward_return.xs(symbol, level="symbol").to_numpy()
        after = permuted.forward_return.xs(symbol, level="symbol").to_numpy()
        # Same labels of the same symbol, moved in whole blocks of 10 consecutive rows.
        assert sorted(after) == sorted(before)
        assert not np.array_equal(after, before)
        blocks = after.reshape(-1, 10)
        assert (np.diff(blocks, axis=1) == 3).all()  # consecutive rows of that symbol
    # Seeded.
    again = permute_labels_in_blocks(panel, block_bars=10, seed=3)
    pd.testing.assert_series_equal(again.target, permuted.target)


def _run(name: str, scores: pd.Series, aucs: list[tuple[str, float]]) -> ScoredRun:
    folds = [
        FoldReport(
            i,
            pd.Timestamp(end, tz="UTC") - pd.Timedelta(days=10),
            pd.Timestamp(end, tz="UTC"),
            1,
            1,
            1,
            a,
            0,
        )
        for i, (end, a) in enumerate(aucs)
    ]
    wf = WalkForwardResult(scores, folds, pd.DataFrame())
    probabilities = pd.DataFrame({"down": 1.0 - scores, "up": scores})
    return ScoredRun(name, scores, pd.Series(dtype=float), {}, {}, wf, probabilities)


def test_performance_weights_use_only_folds_closed_before_the_row() -> None:
    panel = _panel(30)
    scores = pd.Series(0.5, index=panel.X.index)
    runs = {
        "good": _run("good", scores, [("2020-01-10", 0.60), ("2020-01-20", 0.60)]),
        "bad": _run("bad", scores, [("2020-01-10", 0.50), ("2020-01-20", 0.70)]),
    }
    weights = ensemble_weights(runs, "performance")
    stamps = weights.index.get_level_values("timestamp")
    early = weights[stamps < pd.Timestamp("2020-01-10", tz="UTC")]
    assert (early == 0.5).all().all()  # no fold closed yet: equal weights
    middle = weights[
        (stamps >= pd.Timestamp("2020-01-10", tz="UTC"))
        & (stamps < pd.Timestamp("2020-01-20", tz="UTC"))
    ]
    assert (middle["good"] == 1.0).all()  # "bad" had AUC 0.5 in the only closed fold
    late = weights[stamps >= pd.Timestamp("2020-01-20", tz="UTC")]
    # Means 0.60 and 0.60: equal once the second fold has closed.
    assert np.allclose(late["good"], 0.5) and np.allclose(late["bad"], 0.5)
    assert np.allclose(weights.sum(axis=1), 1.0)
    assert (ensemble_weights(runs, "average") == 0.5).all().all()


def test_a_folds_auc_counts_only_once_its_last_test_label_has_resolved() -> None:
    panel = _panel(30)
    scores = pd.Series(0.5, index=panel.X.index)
    good = _run("good", scores, [("2020-01-10", 0.60)])
    assert good.walk_forward is not None
    fold = good.walk_forward.folds[0]
    # The block ends on the 10th but its last 5-bar labels resolve on the 15th.
    late = replace(fold, known_at=pd.Timestamp("2020-01-15", tz="UTC"))
    good = replace(good, walk_forward=replace(good.walk_forward, folds=[late]))
    runs = {"good": good, "bad": _run("bad", scores, [("2020-01-10", 0.50)])}
    weights = ensemble_weights(runs, "performance")
    stamps = weights.index.get_level_values("timestamp")
    pending = weights[(stamps >= pd.Timestamp("2020-01-10", tz="UTC")) & (stamps < late.known_at)]
    assert len(pending) > 0 and (pending == 0.5).all().all()
    assert (weights[stamps >= late.known_at]["good"] == 1.0).all()


def test_agreement_is_the_share_of_models_on_the_ensembles_side() -> None:
    index = pd.RangeIndex(3)
    scores = {
        "a": pd.Series([0.7, 0.2, 0.6], index=index),
        "b": pd.Series([0.6, 0.4, 0.4], index=index),
        "c": pd.Series([0.3, 0.6, 0.45], index=index),
    }
    ensemble = pd.Series([0.55, 0.4, np.nan], index=index)
    got = model_agreement(scores, ensemble)
    assert got.iloc[0] == pytest.approx(2 / 3)
    assert got.iloc[1] == pytest.approx(2 / 3)
    assert np.isnan(got.iloc[2])


def test_train_config_defaults() -> None:
    cfg = AppConfig()
    assert cfg.train.models == ["lightgbm"]
    assert cfg.train.universe == "synthetic"


def test_train_refuses_an_unknown_model_in_one_line(
    run_cli: RunCli, tmp_path: Path, fast_config: Path
) -> None:
    result = run_cli(
        ["train", "--config", str(fast_config)],
        tmp_path,
        env={"ALPHAFORGE_TRAIN__MODELS": '["lightgbm", "lightgbn"]'},
    )
    assert result.returncode != 0
    assert "lightgbn" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_models_and_predict_before_any_training_say_to_train_first(
    run_cli: RunCli, tmp_path: Path, fast_config: Path
) -> None:
    for args in (["models", "list"], ["predict"]):
        result = run_cli([*args, "--config", str(fast_config)], tmp_path)
        assert result.returncode != 0
        assert "alphaforge train" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_stacking_scores_are_out_of_fold_and_skip_the_first_fold() -> None:
    from alphaforge.pipeline.ensembling import stacked_probabilities
    from alphaforge.validation import PurgedWalkForward

    panel = _panel(400, ("A", "B", "C"))
    rng = np.random.default_rng(5)
    informative = (panel.target * 0.3 + 0.35 + rng.normal(0, 0.05, len(panel.target))).clip(0, 1)
    noise = pd.Series(rng.uniform(0.3, 0.7, len(panel.target)), index=panel.target.index)
    splitter = PurgedWalkForward(train_months=3, validation_months=0, test_months=1)
    folds = list(splitter.split(panel.start, panel.end))
    tested = np.concatenate([f.test for f in folds])
    frame = pd.DataFrame({"good": np.nan, "noise": np.nan}, index=panel.X.index)
    frame.iloc[tested, 0] = informative.iloc[tested].to_numpy()
    frame.iloc[tested, 1] = noise.iloc[tested].to_numpy()
    probabilities = {c: pd.DataFrame({"down": 1.0 - frame[c], "up": frame[c]}) for c in frame}
    scores = stacked_probabilities(panel, probabilities, folds, seed=0)["up"]
    assert scores.iloc[folds[0].test].isna().all()  # no earlier fold to learn the pool from
    later = np.concatenate([f.test for f in folds[1:]])
    assert scores.iloc[later].notna().all()
    from alphaforge.validation import auc

    assert auc(panel.target.iloc[later], scores.iloc[later]) > 0.9


def test_calibration_wraps_each_model_and_needs_a_validation_block() -> None:
    from alphaforge.core.errors import ConfigError
    from alphaforge.models.calibration import CalibratedModel
    from alphaforge.pipeline.registration import build_model
    from alphaforge.pipeline.train import run_training

    cfg = AppConfig().model_copy(
        update={"train": AppConfig().train.model_copy(update={"calibrate": True})}
    )
    assert isinstance(build_model(cfg, cfg.model, 0), CalibratedModel)
    assert not isinstance(build_model(AppConfig(), AppConfig().model, 0), CalibratedModel)
    no_validation = cfg.model_copy(
        update={"walk_forward": cfg.walk_forward.model_copy(update={"validation_months": 0})}
    )
    with pytest.raises(ConfigError, match="validation block"):
        run_training(no_validation, out=None)


def test_train_on_three_classes_scores_buy_minus_sell_with_one_vs_rest_metrics(
    run_cli: RunCli, tmp_path: Path, fast_config: Path
) -> None:
    result = _train(
        run_cli,
        tmp_path,
        fast_config,
        {
            "ALPHAFORGE_LABELS__KIND": "three_class",
            "ALPHAFORGE_TRAIN__MODELS": '["lightgbm", "logistic"]',
            "ALPHAFORGE_TRAIN__ENSEMBLE": "stacking",
        },
    )
    assert "macro auc (ovr)" in result.stdout and "up_down_auc" in result.stdout
    run = tmp_path / "run"
    summary = json.loads((run / "summary.json").read_text())
    for name in ("lightgbm", "logistic"):
        metrics = summary["models"][name]
        assert 0.3 < metrics["auc"] < 0.7 and 0.3 < metrics["up_down_auc"] < 0.7
        assert 0.0 < metrics["accuracy"] < 1.0
    assert "up_down_auc" in summary["controls"]["random_walk"]
    oof = pd.read_parquet(run / "oof_predictions.parquet")
    assert set(oof["target"].dropna().unique()) <= {0.0, 1.0, 2.0}
    for name in ("lightgbm", "logistic", "ensemble"):
        proba = oof[[f"p_SELL_{name}", f"p_HOLD_{name}", f"p_BUY_{name}"]].dropna()
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
        score = oof[f"score_{name}"].loc[proba.index]
        np.testing.assert_allclose(score, proba[f"p_BUY_{name}"] - proba[f"p_SELL_{name}"])
    contributions = pd.read_parquet(run / "oof_contributions.parquet")
    assert contributions.index.isin(oof.index).all()
    for name in ("lightgbm", "logistic"):
        rows = contributions[contributions["model"] == name].drop(columns="model")
        assert len(rows) == len(oof)
        margin = rows.to_numpy(np.float64).sum(axis=1)
        p = oof.loc[rows.index]
        # BUY against SELL: the log-odds the 3-class contributions add up to.
        expected = np.log(p[f"p_BUY_{name}"]) - np.log(p[f"p_SELL_{name}"])
        np.testing.assert_allclose(margin, expected, atol=1e-4)
    calibration = pd.read_csv(run / "calibration.csv")
    assert set(calibration["class"]) == {"SELL", "HOLD", "BUY"}  # one-vs-rest curves
    assert summary["registered"]["logistic"]["decision"].startswith("champion")
    env = {
        "ALPHAFORGE_LABELS__KIND": "three_class",
        "ALPHAFORGE_TRAIN__MODELS": '["lightgbm", "logistic"]',
    }
    scored = run_cli(
        ["predict", "--out", "scores.csv", "--config", str(fast_config)], tmp_path, env=env
    )
    assert scored.returncode == 0, scored.stderr
    assert "P(BUY) - P(SELL)" in scored.stdout
    # The stacking pool trained with the run combines the champions, as in the backtest.
    assert "ensemble: stacking, as trained" in " ".join(scored.stdout.split())
    one = run_cli(
        ["predict", "--config", str(fast_config)],
        tmp_path,
        env=env | {"ALPHAFORGE_TRAIN__MODELS": '["lightgbm"]'},
    )
    assert "ensemble: mean of the models' probabilities" in " ".join(one.stdout.split())
    latest = pd.read_csv(tmp_path / "scores.csv", index_col="symbol")
    np.testing.assert_allclose(latest["ensemble"], latest["p_BUY"] - latest["p_SELL"])
    np.testing.assert_allclose(latest[["p_SELL", "p_HOLD", "p_BUY"]].sum(axis=1), 1.0)
    # Scoring them under another target is a user mistake, said in one line.
    wrong = run_cli(["predict", "--config", str(fast_config)], tmp_path)
    assert wrong.returncode != 0 and "other labels: kind 'three_class'" in wrong.stderr
    assert len(wrong.stderr.strip().splitlines()) == 1


def test_train_on_meta_labels_trades_the_primary_side(
    run_cli: RunCli, tmp_path: Path, fast_config: Path
) -> None:
    _train(run_cli, tmp_path, fast_config, {"ALPHAFORGE_LABELS__KIND": "meta"})
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert 0.3 < summary["ensemble"]["auc"] < 0.8
    oof = pd.read_parquet(tmp_path / "run" / "oof_predictions.parquet")
    assert set(oof["target"].dropna().unique()) <= {0.0, 1.0}
    env = {"ALPHAFORGE_LABELS__KIND": "meta"}
    scored = run_cli(
        ["predict", "--out", "scores.csv", "--config", str(fast_config)], tmp_path, env=env
    )
    assert scored.returncode == 0, scored.stderr
    latest = pd.read_csv(tmp_path / "scores.csv", index_col="symbol")
    assert set(latest["side"].unique()) <= {-1.0, 0.0, 1.0}
    trading = latest["side"] != 0
    assert latest.loc[~trading, "rank"].isna().all()
    np.testing.assert_allclose(
        latest.loc[trading, "trade_score"],
        latest.loc[trading, "side"] * (latest.loc[trading, "ensemble"] - 0.5),
    )


def test_train_weights_rows_near_scheduled_events(
    run_cli: RunCli, tmp_path: Path, fast_config: Path
) -> None:
    (tmp_path / "events.csv").write_text("time\n2015-03-18\n2015-06-17\n2016-03-16\n")
    _train(
        run_cli,
        tmp_path,
        fast_config,
        {
            "ALPHAFORGE_LABELS__CATALYST_FILE": "events.csv",
            "ALPHAFORGE_LABELS__CATALYST_WEIGHT": "2.0",
        },
    )
    catalysts = json.loads((tmp_path / "run" / "summary.json").read_text())["catalysts"]
    # Three events, one bar either side, eight symbols: 3 x 3 x 8 rows.
    assert catalysts == {"events": 3, "rows_weighted": 72, "factor": 2.0}
    missing = run_cli(
        ["train", "--config", str(fast_config)],
        tmp_path,
        env={"ALPHAFORGE_LABELS__CATALYST_FILE": "nope.csv"},
    )
    assert missing.returncode != 0 and "nope.csv does not exist" in missing.stderr


def test_train_reports_quantile_regression_of_the_forward_return(
    run_cli: RunCli, tmp_path: Path, fast_config: Path
) -> None:
    _train(run_cli, tmp_path, fast_config, {"ALPHAFORGE_TRAIN__QUANTILES": "true"})
    run = tmp_path / "run"
    quantiles = json.loads((run / "summary.json").read_text())["quantiles"]
    for level in (10, 25, 50, 75, 90):
        # Out-of-sample coverage near the level (a loose band: 8 symbols, 1,400 rows).
        assert abs(quantiles[f"coverage_q{level}"] - level / 100) < 0.15
    predictions = pd.read_parquet(run / "quantile_predictions.parquet").dropna()
    assert len(predictions) > 0
    assert (np.diff(predictions.to_numpy(), axis=1) >= 0).all()  # non-crossing
    assert (run / "quantiles.csv").is_file()

    # The quantile model is registered beside the classifiers; later stages load it back.
    from alphaforge.models.quantile import QuantileGBM
    from alphaforge.models.registry_store import ModelRegistry

    summary = json.loads((run / "summary.json").read_text())
    assert summary["registered"]["quantiles"] == {
        "name": "default.quantiles",
        "version": 1,
        "decision": "champion (first version)",
    }
    columns = ["q10", "q25", "q50", "q75", "q90"]
    with ModelRegistry(tmp_path / "store" / "models") as registry:
        version = registry.get("default.quantiles", "champion")
        model = registry.load(
            version.name, version.version, expected_features=version.feature_names
        )
    assert isinstance(model, QuantileGBM) and version.kind == "quantile_gbm"
    assert version.config["columns"] == columns
    assert version.config["quantiles"] == [0.1, 0.25, 0.5, 0.75, 0.9]
    assert version.metrics["coverage_q50"] == quantiles["coverage_q50"]
    assert version.metrics["validation_pinball_q50"] > 0.0
    assert version.data_end < pd.Timestamp(summary["data"]["last"])
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, len(version.feature_names)))
    predicted = model.predict(X)
    assert predicted.shape == (50, 5) and (np.diff(predicted, axis=1) >= 0).all()
    # predict adds the registered quantiles of each symbol's latest bar to the scores.
    scored = run_cli(
        ["predict", "--out", "scores.csv", "--config", str(fast_config)],
        tmp_path,
        env={"ALPHAFORGE_TRAIN__QUANTILES": "true"},
    )
    assert scored.returncode == 0, scored.stderr
    latest = pd.read_csv(tmp_path / "scores.csv", index_col="symbol")[columns]
    assert latest.notna().all().all() and (np.diff(latest.to_numpy(), axis=1) >= 0).all()
    assert (latest["q10"] < 0).all() and (latest["q90"] > 0).all()


def test_train_reports_a_multi_task_model_per_horizon(
    run_cli: RunCli, tmp_path: Path, fast_config: Path
) -> None:
    _train(
        run_cli,
        tmp_path,
        fast_config,
        {
            "ALPHAFORGE_TRAIN__MULTI_TASK_MODEL": "gru",
            "ALPHAFORGE_MODEL__DEEP__HIDDEN_SIZE": "8",
            "ALPHAFORGE_MODEL__DEEP__EPOCHS": "2",
            "ALPHAFORGE_MODEL__DEEP__LOOKBACK": "3",
            "ALPHAFORGE_FEATURES__NAMES": '["ret_log_5", "rsi_14", "vol_yang_zhang_20"]',
        },
    )
    table = pd.read_csv(tmp_path / "run" / "multi_task.csv")
    assert list(table["horizon"]) == [1, 5, 10, 21]
    assert table["auc"].between(0.3, 0.7).all() and (table["oos_rows"] > 0).all()
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert [row["horizon"] for row in summary["multi_task"]] == [1, 5, 10, 21]
    refused = run_cli(
        ["train", "--config", str(fast_config)],
        tmp_path,
        env={"ALPHAFORGE_TRAIN__MULTI_TASK_MODEL": "lightgbm"},
    )
    assert refused.returncode != 0 and len(refused.stderr.strip().splitlines()) == 1


def test_focal_loss_with_three_classes_is_refused_in_one_line(
    run_cli: RunCli, tmp_path: Path, fast_config: Path
) -> None:
    env = {"ALPHAFORGE_LABELS__KIND": "three_class", "ALPHAFORGE_MODEL__TREES__FOCAL_GAMMA": "2.0"}
    for command in ("train", "demo"):
        result = run_cli([command, "--config", str(fast_config)], tmp_path, env=env)
        assert result.returncode != 0 and "focal_gamma" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_reproducing_a_train_run_gives_identical_metrics_and_changes_nothing(
    run_cli: RunCli, tmp_path: Path, fast_config: Path
) -> None:
    from alphaforge.models.registry_store import ModelRegistry
    from alphaforge.validation import TrialLedger

    _train(run_cli, tmp_path, fast_config)
    with ModelRegistry(tmp_path / "store" / "models") as registry:
        versions = len(registry.list())
    ledger_path = tmp_path / "store" / "ledger" / "trial_ledger.sqlite"
    with TrialLedger(ledger_path) as ledger:
        records = sum(t.n_records for t in ledger.trials("default"))
    result = run_cli(["reproduce", "run"], tmp_path)
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    assert "0 of" in text and "metrics differ" in text and "Metrics are identical." in text
    # Isolated: no new model version, the ledger untouched (the snapshot took the trials).
    with ModelRegistry(tmp_path / "store" / "models") as registry:
        assert len(registry.list()) == versions
    with TrialLedger(ledger_path) as ledger:
        assert sum(t.n_records for t in ledger.trials("default")) == records
    match = re.search(r"New run: (\S+)", result.stdout)
    assert match is not None
    assert (tmp_path / match.group(1) / "ledger_snapshot.sqlite").is_file()


def test_train_selects_features_per_fold_and_registers_the_final_choice(
    run_cli: RunCli, tmp_path: Path, fast_config: Path
) -> None:
    from alphaforge.models.registry_store import ModelRegistry

    env = {
        "ALPHAFORGE_SELECTION__METHOD": "importance",
        "ALPHAFORGE_SELECTION__TOP_K": "12",
        "ALPHAFORGE_TRAIN__MODELS": '["lightgbm", "logistic"]',
    }
    _train(run_cli, tmp_path, fast_config, env)
    importances = pd.read_csv(tmp_path / "run" / "feature_importance.csv", index_col=[0, 1])
    # LightGBM saw at most 12 features in each fold: the others have zero importance.
    assert ((importances.loc["lightgbm"] > 0).sum(axis=1) <= 12).all()
    with ModelRegistry(tmp_path / "store" / "models") as registry:
        chosen = [v.feature_names for v in registry.list()]
    assert all(0 < len(names) <= 12 for names in chosen)
    assert chosen[0] == chosen[1]  # the final fit's choice, shared by the run's models
    scored = run_cli(
        ["predict", "--out", "scores.csv", "--config", str(fast_config)], tmp_path, env=env
    )
    assert scored.returncode == 0, scored.stderr
    assert pd.read_csv(tmp_path / "scores.csv")["ensemble"].between(0, 1).all()


#: Per-symbol and panel features of the panel-feature training test (the panel ones read the
#: whole universe, the benchmark, a stored ^VIX series and the market HMM).
PANEL_NAMES = [
    "ret_log_5",
    "rsi_14",
    "vol_std_20",
    "cs_rank_ret_20",
    "beta_60",
    "vix_z_60",
    "hmm_state_prob_1",
]


def _store_vix(config: AppConfig, store_dir: Path) -> None:
    """Store a ^VIX series on the synthetic market's sessions, as `data fetch` would."""
    from alphaforge.core.types import AssetClass, Instrument, Interval
    from alphaforge.data.synthetic import generate_market
    from alphaforge.features.testing import random_bars
    from alphaforge.pipeline.demo import synthetic_spec
    from alphaforge.storage import BarStore

    sessions = next(iter(generate_market(synthetic_spec(config), config.run.seed).bars.values()))
    vix = random_bars(17, len(sessions), volatility=0.03).set_axis(sessions.index)
    instrument = Instrument("^VIX", AssetClass.INDEX, exchange="CBOE")
    BarStore(store_dir).write(instrument, Interval.D1, vix, source="test")


def test_train_with_panel_features_registers_them_and_predict_computes_them(
    run_cli: RunCli, tmp_path: Path, fast_config: Path
) -> None:
    from alphaforge.config import load_config
    from alphaforge.models.dataset import build_panel
    from alphaforge.models.registry_store import ModelRegistry
    from alphaforge.pipeline.research import prepare_training_data
    from alphaforge.pipeline.train import load_panel_inputs, load_training_universe
    from alphaforge.validation.walk_forward import aligned_proba, class_score

    env = {"ALPHAFORGE_FEATURES__NAMES": json.dumps(PANEL_NAMES)}
    config = load_config(
        fast_config,
        environ=env | {"ALPHAFORGE_DATA__STORE_DIR": str(tmp_path / "store")},
        dotenv_path=None,
    )
    # Without the ^VIX series the feature reads, training is refused in one line (after the
    # progress lines).
    refused = run_cli(["train", "--config", str(fast_config)], tmp_path, env=env)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "vix_z_60 needs a ^VIX series" in refused.stderr.strip().splitlines()[-1]
    _store_vix(config, tmp_path / "store")
    _train(run_cli, tmp_path, fast_config, env)

    with ModelRegistry(tmp_path / "store" / "models") as registry:
        version = registry.get("default.lightgbm", "champion")
        model = registry.load(version.name, version.version, expected_features=PANEL_NAMES)
    assert list(version.feature_names) == PANEL_NAMES
    assert version.config["features"]["panel"] == [
        "cs_rank_ret_20",
        "beta_60",
        "vix_z_60",
        "hmm_state_prob_1",
    ]

    scored = run_cli(
        ["predict", "--out", "scores.csv", "--config", str(fast_config)], tmp_path, env=env
    )
    assert scored.returncode == 0, scored.stderr
    scores = pd.read_csv(tmp_path / "scores.csv", index_col="symbol")
    # Asking for quantiles that were not trained is a user mistake, said in one line.
    no_quantiles = run_cli(
        ["predict", "--config", str(fast_config)],
        tmp_path,
        env=env | {"ALPHAFORGE_TRAIN__QUANTILES": "true"},
    )
    assert no_quantiles.returncode != 0 and "default.quantiles" in no_quantiles.stderr
    assert "Traceback" not in no_quantiles.stderr

    # The training path (build_panel) at each symbol's latest bar, scored by the registered
    # model, gives predict's scores: the panel features are computed the same way.
    raw, instruments, interval, _ = load_training_universe(config, config.run.seed)
    data = prepare_training_data(raw, instruments, interval, config)
    inputs = load_panel_inputs(config, data.bars, instruments, interval, PANEL_NAMES)
    assert list(inputs.bars) == ["^VIX"]
    panel = build_panel(
        data.bars,
        interval,
        config.labels,
        PANEL_NAMES,
        min_history=config.features.min_history,
        instruments=instruments,
        inputs=inputs.bars,
    )
    latest = panel.X.groupby(level="symbol").tail(1).droplevel("timestamp")
    assert latest[["cs_rank_ret_20", "beta_60", "vix_z_60", "hmm_state_prob_1"]].notna().all().all()
    expected = class_score(aligned_proba(model, latest.to_numpy(np.float64), 2))
    np.testing.assert_allclose(
        scores["lightgbm"].loc[latest.index].to_numpy(), expected, rtol=1e-12, atol=1e-12
    )
