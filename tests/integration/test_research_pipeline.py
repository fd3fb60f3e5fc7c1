"""The research pipeline finds a planted edge, finds none in noise, and is deterministic."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from alphaforge.config import AppConfig, DeepConfig
from alphaforge.core.types import AssetClass, Interval
from alphaforge.data.synthetic import SyntheticSpec, generate_market, random_walk_market
from alphaforge.pipeline.demo import oracle_scores
from alphaforge.pipeline.research import StrategyRun, run_strategy
from alphaforge.validation import auc

SPEC = SyntheticSpec(
    n_symbols=12,
    n_sectors=3,
    start=date(2012, 1, 1),
    end=date(2016, 12, 31),
    interval=Interval.D1,
    asset_class=AssetClass.STOCK,
    signal_strength=0.05,
)


def _config() -> AppConfig:
    return AppConfig.model_validate(
        {
            "model": {"trees": {"n_estimators": 80, "learning_rate": 0.05}},
            "portfolio": {"top_k": 3},
            "walk_forward": {"train_months": 12, "validation_months": 3, "test_months": 2},
        }
    )


@pytest.fixture(scope="module")
def planted() -> tuple[StrategyRun, pd.Series]:
    market = generate_market(SPEC, seed=11)
    config = _config()
    run = run_strategy("planted", market.bars, Interval.D1, config, seed=11)
    # The generator's forecast of the 5-bar label itself, ranked within each bar like the
    # target (the next bar's planted mean alone would be a weaker bar to beat).
    oracle = oracle_scores(market, run.panel, config.labels, seed=0)
    assert oracle is not None
    return run, oracle


def test_the_pipeline_finds_a_planted_edge(planted: tuple[StrategyRun, pd.Series]) -> None:
    run, _ = planted
    assert run.prediction_metrics["auc"] > 0.53
    assert run.prediction_metrics["ic"] > 0.03
    # The backtest's Sharpe moves with the model, which differs across CPUs (an AVX2-only
    # machine measured 0.46 where others gave more than 0.5): the edge shows above 0.3.
    assert run.metrics["sharpe"] > 0.3


def test_no_model_beats_the_oracle(planted: tuple[StrategyRun, pd.Series]) -> None:
    run, oracle_scores_ = planted
    scored = run.walk_forward.scores.notna() & run.panel.target.notna()
    oracle_score = oracle_scores_[scored]
    oracle = auc(run.panel.target[scored], oracle_score)
    model = auc(run.panel.target[scored], run.walk_forward.scores[scored])
    # One standard error of an AUC near 0.5 on n rows is about sqrt(1 / (3 n)).
    noise = 3.0 * np.sqrt(1.0 / (3.0 * scored.sum()))
    assert oracle > 0.53
    assert model <= oracle + noise


def test_pure_noise_gives_chance_results() -> None:
    market = random_walk_market(SPEC, seed=12)
    run = run_strategy("control", market.bars, Interval.D1, _config(), seed=12)
    assert 0.48 <= run.prediction_metrics["auc"] <= 0.52
    # A per-period rank IC of n names has sd ~ 1/sqrt(n - 1); overlapping 5-bar labels leave
    # about one independent period in five.
    periods = run.walk_forward.scores.dropna().index.get_level_values("timestamp").nunique()
    bound = 3.0 / np.sqrt(SPEC.n_symbols - 1) / np.sqrt(periods / 5)
    assert abs(run.prediction_metrics["ic"]) < bound
    # Costs and noise only: no significant positive Sharpe.
    assert run.metrics["psr"] < 0.95


def test_rerun_gives_identical_results() -> None:
    market = generate_market(SPEC, seed=5)
    first = run_strategy("a", market.bars, Interval.D1, _config(), seed=5)
    second = run_strategy("a", market.bars, Interval.D1, _config(), seed=5)
    assert first.metrics == second.metrics
    pd.testing.assert_series_equal(first.walk_forward.scores, second.walk_forward.scores)


def test_the_research_pipeline_takes_three_classes_meta_labels_and_sequence_windows() -> None:
    market = generate_market(SPEC, seed=3)
    base = _config()
    three = base.model_copy(
        update={"labels": base.labels.model_copy(update={"kind": "three_class"})}
    )
    run = run_strategy("three", market.bars, Interval.D1, three, seed=1)
    assert run.walk_forward.probabilities is not None
    assert list(run.walk_forward.probabilities.columns) == ["SELL", "HOLD", "BUY"]
    assert 0.4 < run.prediction_metrics["auc"] < 0.7 and "up_down_auc" in run.prediction_metrics

    meta = base.model_copy(update={"labels": base.labels.model_copy(update={"kind": "meta"})})
    run = run_strategy("meta", market.bars, Interval.D1, meta, seed=1)
    assert run.panel.side is not None and np.isfinite(run.metrics["sharpe"])

    gru = base.model_copy(
        update={
            "model": base.model.model_copy(
                update={
                    "name": "gru",
                    "deep": DeepConfig(lookback=4, epochs=1, hidden_size=8),
                }
            ),
            "features": base.features.model_copy(update={"names": ["ret_log_5", "rsi_14"]}),
        }
    )
    run = run_strategy("gru", market.bars, Interval.D1, gru, seed=1)
    assert run.walk_forward.scores.notna().sum() > 0
