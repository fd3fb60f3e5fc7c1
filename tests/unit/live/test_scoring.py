"""The live node's ML scoring: champions through ``models/scoring.py``, never ``pipeline``.

A tiny registry is trained once (two models on the synthetic demo market, in a temporary
store); the live scorer, given the node's windows of the same bars, scores as ``predict``
does, persists each decision as Parquet and names it in the audit rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from alphaforge.config import AppConfig
from alphaforge.core.clock import SimulatedClock
from alphaforge.core.errors import ConfigError
from alphaforge.core.types import AssetClass, Instrument, Interval
from alphaforge.execution.brokers.simulated import SimulatedVenue
from alphaforge.live.node import TradingNode
from alphaforge.live.scoring import PREDICTIONS_DIR, LiveScorer
from alphaforge.models.registry_store import ModelRegistry
from alphaforge.pipeline.predict import predict_latest
from alphaforge.pipeline.research import prepare_training_data
from alphaforge.pipeline.train import load_training_universe, run_training
from alphaforge.storage.atomic import TEMP_SUFFIX
from alphaforge.storage.ledger import Ledger

#: ``rsi_14`` has a memory of 418 bars: the window the scorer asks for is longer than the
#: node's default warm-up, so the golden check shows the window is enough.
FEATURES = ["ret_log_1", "ret_log_5", "ret_log_20", "vol_std_20", "rsi_14"]


def _body(store: Path, runs: Path, **sections: Any) -> dict[str, Any]:
    return {
        "demo": {"n_symbols": 4, "n_sectors": 2, "start": "2013-01-01", "end": "2015-03-31"},
        "features": {"names": FEATURES},
        "train": {"models": ["lightgbm", "logistic"], "experiment": "live"},
        "strategy": {"name": "ml_model", "params": {"min_agreement": 0.0}},
        "portfolio": {"top_k": 2},
        "model": {"trees": {"n_estimators": 10}},
        "walk_forward": {"train_months": 6, "validation_months": 2, "test_months": 3},
        "data": {"store_dir": str(store)},
        "run": {"runs_dir": str(runs)},
    } | sections


@dataclass(frozen=True)
class Trained:
    """A configuration whose store holds a trained registry, and the bars predict scores."""

    config: AppConfig
    bars: dict[str, pd.DataFrame]
    instruments: dict[str, Instrument]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    root = tmp_path_factory.mktemp("live-scoring")
    config = AppConfig.model_validate(_body(root / "store", root / "runs"))
    run_training(config, out=root / "train")
    raw, instruments, interval, _ = load_training_universe(config, config.run.seed)
    data = prepare_training_data(raw, instruments, interval, config)
    return Trained(config, dict(data.bars), dict(instruments))


def _node(config: AppConfig, trained: Trained, ledger: Ledger) -> TradingNode:
    symbols = sorted(trained.bars)
    last = max(b.index[-1] for b in trained.bars.values())
    clock = SimulatedClock(last + pd.Timedelta(days=1))
    venue = SimulatedVenue(symbols, 100_000.0, clock)
    return TradingNode(
        config, ledger, venue, clock, trained.instruments, Interval(config.data.interval)
    )


def _fresh_store(trained: Trained, tmp_path: Path) -> AppConfig:
    """Return the configuration with the trained registry in a store of this test's own."""
    store = tmp_path / "store"
    store.mkdir()
    (store / "models").symlink_to(Path(trained.config.data.store_dir) / "models")
    return trained.config.model_copy(
        update={"data": trained.config.data.model_copy(update={"store_dir": store})}
    )


def test_live_scores_equal_predicts_on_the_same_bars(trained: Trained, tmp_path: Path) -> None:
    config = _fresh_store(trained, tmp_path)
    scorer = LiveScorer(config)
    # The longest feature memory (rsi_14: 418) plus the bar itself.
    assert scorer.window == 419
    # Only the trailing window the node keeps, against predict's full history.
    windows = {s: b.tail(scorer.window) for s, b in trained.bars.items()}
    live = scorer.score(windows, trained.instruments)
    expected = predict_latest(config).scores
    pd.testing.assert_frame_equal(live.latest.scores, expected, check_exact=False, atol=1e-9)
    assert live.versions == {"lightgbm": 1, "logistic": 1}
    # The strategies' frames: the ensemble's score and every prediction column at the bar.
    last = expected["timestamp"].max()
    assert live.time == last
    pd.testing.assert_series_equal(
        live.scores.loc[last].sort_index(),
        expected["ensemble"].sort_index(),
        check_names=False,
        atol=1e-9,
    )
    assert {"score_lightgbm", "score_logistic", "score_ensemble", "agreement"} <= set(
        live.predictions
    )


def test_a_node_with_the_ml_strategy_decides_persists_and_audits(
    trained: Trained, tmp_path: Path
) -> None:
    config = _fresh_store(trained, tmp_path)
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    try:
        node = _node(config, trained, ledger)
        assert node.scorer is not None
        # The node keeps what the features need: more than its default 300-bar warm-up.
        assert node.intake.window == node.scorer.window > config.live.warmup_bars
        history = {s: b.iloc[:-1] for s, b in trained.bars.items()}
        node.seed(history)
        first = node.decide()

        # The next bar arrives: the node decides again; the first decision's scores stay.
        for symbol, bars in trained.bars.items():
            assert node.on_bar(symbol, bars.iloc[[-1]]).outcome != "rejected"
        decision = node.decide()
        assert decision.time > first.time
        # The heartbeat carries each champion's inference time of this scoring.
        node.heartbeat()
        inference = ledger.heartbeats()[0].details["inference_s"]
        assert sorted(inference) == ["lightgbm", "logistic"]
        assert all(0 < seconds < 60 for seconds in inference.values())
        # The first scored bar rebalances: long the 2 best signals, short the 2 worst, gross 1.
        ranked = first.signal.sort_values().index
        assert first.weights[ranked[2:]].tolist() == pytest.approx([0.25, 0.25])
        assert first.weights[ranked[:2]].tolist() == pytest.approx([-0.25, -0.25])
        for made in (first, decision):
            signal = made.signal.to_numpy(np.float64)
            assert np.isfinite(signal).all() and (np.abs(signal) <= 1).all()
            assert (signal != 0).all()
        # The next bar is the second scored one: as in the backtest (a rebalance every 5
        # scored bars, counted from the first), positions are left alone, which the node
        # knows only because the first decision's scores are kept.
        assert decision.weights.isna().all()

        store = Path(config.data.store_dir)
        folder = store / PREDICTIONS_DIR
        names = sorted(p.name for p in folder.iterdir())
        assert names == [
            f"live_{first.time:%Y%m%dT%H%M%SZ}.parquet",
            f"live_{decision.time:%Y%m%dT%H%M%SZ}.parquet",
        ]
        assert not list(folder.glob(f"*{TEMP_SUFFIX}"))
        written = pd.read_parquet(folder / names[-1])
        assert sorted(written.index) == sorted(trained.bars)
        assert written[["lightgbm", "logistic", "ensemble", "score_ensemble"]].notna().all().all()
        assert (written["timestamp"] == decision.time).all()

        # The second market holds both decisions' scores, each as it was persisted.
        market = node.market()
        assert market.scores is not None
        persisted = pd.read_parquet(folder / names[0])
        pd.testing.assert_series_equal(
            market.scores.loc[first.time].sort_index(),
            persisted["ensemble"].sort_index(),
            check_names=False,
        )

        audits = [a for a in ledger.audits() if a.time == decision.time]
        assert sorted(a.symbol for a in audits) == sorted(trained.bars)
        for audit in audits:
            assert audit.decision["prediction_file"] == f"{PREDICTIONS_DIR}/{names[-1]}"
            assert audit.model_version == "live: lightgbm v1, logistic v1"
            assert audit.prediction == pytest.approx(float(written.loc[audit.symbol, "ensemble"]))
    finally:
        ledger.close()


def test_a_restarted_node_reads_the_persisted_scores_back(trained: Trained, tmp_path: Path) -> None:
    config = _fresh_store(trained, tmp_path)
    earlier = {s: b.iloc[:-1] for s, b in trained.bars.items()}
    before = LiveScorer(config).score(earlier, trained.instruments)
    # A new scorer (the node restarted) scoring the next bar gets the earlier row from disk.
    after = LiveScorer(config).score(trained.bars, trained.instruments)
    assert list(after.scores.index) == [before.time, after.time]
    pd.testing.assert_frame_equal(after.scores.loc[[before.time]], before.scores)
    for column, frame in before.predictions.items():
        pd.testing.assert_frame_equal(after.predictions[column].loc[[before.time]], frame)


def test_the_scorer_follows_a_promoted_champion(tmp_path: Path) -> None:
    config = AppConfig.model_validate(_body(tmp_path / "store", tmp_path / "runs"))
    run_training(config, out=tmp_path / "train-1")
    retrained = AppConfig.model_validate(
        _body(
            tmp_path / "store",
            tmp_path / "runs",
            run={"runs_dir": str(tmp_path / "runs"), "seed": 7},
        )
    )
    run_training(retrained, out=tmp_path / "train-2")
    scorer = LiveScorer(config)
    assert not scorer.refresh()
    assert {m: v.version for m, v in scorer.champions.versions.items()} == {
        "lightgbm": 1,
        "logistic": 1,
    }
    # The nightly challenge promotes the retrained lightgbm: the next check picks it up.
    with ModelRegistry(tmp_path / "store" / "models") as registry:
        registry.promote("live.lightgbm", 2, reason="won the challenge")
    assert scorer.refresh()
    assert scorer.champions.versions["lightgbm"].version == 2


def test_a_missing_registry_is_one_line(tmp_path: Path) -> None:
    config = AppConfig.model_validate(_body(tmp_path / "store", tmp_path / "runs"))
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    try:
        with pytest.raises(ConfigError) as caught:
            TradingNode(
                config,
                ledger,
                SimulatedVenue(["SYN00"], 1_000.0),
                SimulatedClock(pd.Timestamp("2024-01-02", tz="UTC")),
                {"SYN00": Instrument("SYN00", AssetClass.STOCK)},
                Interval("1d"),
            )
    finally:
        ledger.close()
    line = caught.value.one_line()
    assert "\n" not in line
    assert line.startswith(f"No model registry in {tmp_path / 'store' / 'models'}.")
    assert "alphaforge train" in line
