"""The nightly retrain task: challenge the pending candidate, then register a new one.

Models are fitted by hand on the synthetic universe (as in the lifecycle tests), so each
version's training data end is known.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from alphaforge.config import AppConfig
from alphaforge.core.clock import SimulatedClock
from alphaforge.models import create_model
from alphaforge.models.dataset import build_panel
from alphaforge.models.drift import DriftReport
from alphaforge.models.registry_store import ModelRegistry
from alphaforge.pipeline import lifecycle
from alphaforge.pipeline.registration import registry_root
from alphaforge.pipeline.research import prepare_training_data
from alphaforge.pipeline.train import load_training_universe
from alphaforge.scheduler import JobContext
from alphaforge.scheduler.tasks import retrain

NAME = "default.lightgbm"
FEATURES = ["ret_log_1", "ret_log_5", "ret_log_20", "vol_std_20", "rsi_14", "zscore_close_20"]
WHEN = pd.Timestamp("2016-07-01 07:30", tz="UTC")


class _Quiet:
    def notify(self, level: object, source: str, message: str) -> None:
        pass


def _config(tmp_path: Path, retrain_policy: str) -> AppConfig:
    return AppConfig.model_validate(
        {
            "demo": {
                "n_symbols": 8,
                "n_sectors": 2,
                "start": "2013-01-01",
                "end": "2016-06-30",
                "signal_strength": 0.01,
            },
            "features": {"names": FEATURES, "min_history": 60},
            "labels": {"horizon": 5},
            "portfolio": {"top_k": 2},
            "model": {
                "trees": {"n_estimators": 30, "min_child_samples": 50, "early_stopping_rounds": 0}
            },
            "walk_forward": {"embargo_bars": 3},
            "data": {"store_dir": str(tmp_path / "store")},
            "run": {"runs_dir": str(tmp_path / "runs"), "seed": 7},
            "scheduler": {"retrain": retrain_policy},
        }
    )


def _register_fitted(config: AppConfig, ends: list[int]) -> None:
    """Register one model per bar index in ``ends``, trained up to it; the first is champion."""
    raw, instruments, interval, _ = load_training_universe(config, config.run.seed)
    data = prepare_training_data(raw, instruments, interval, config)
    panel = build_panel(data.bars, interval, config.labels, FEATURES, min_history=60)
    stamps = pd.DatetimeIndex(panel.timestamps)
    grid = stamps.unique().sort_values()
    with ModelRegistry(registry_root(config)) as registry:
        for i, at in enumerate(ends):
            end = grid[at]
            rows = np.flatnonzero(panel.target.notna().to_numpy() & (stamps <= end))
            model: Any = create_model(config.model, seed=0, n_jobs=1)
            model.fit(panel.X.to_numpy(np.float64)[rows], panel.target.to_numpy(np.float64)[rows])
            version = registry.register(
                model,
                name=NAME,
                kind="lightgbm",
                feature_names=FEATURES,
                data_start=pd.Timestamp("2013-04-01", tz="UTC"),
                data_end=end,
                symbols=[f"SYN{k:02d}" for k in range(8)],
                label="test label",
                splitter="test splitter",
                metrics={},
                seed=0,
                code_version="test",
                config={},
            )
            if i == 0:
                registry.promote(NAME, version.version, reason="first version")


def _context() -> JobContext:
    return JobContext("nightly_retrain", WHEN, SimulatedClock(WHEN), _Quiet())


def test_the_pending_candidate_is_challenged_then_a_new_one_registered(tmp_path: Path) -> None:
    config = _config(tmp_path, "weekly")
    _register_fitted(config, [200, 400])
    message = retrain(config, _context())
    with ModelRegistry(registry_root(config)) as registry:
        [decision] = [d for d in registry.decisions(NAME) if d.version == 2]
        versions = registry.list(NAME)
    verdict = "promoted" if decision.promoted else "kept the champion"
    assert message.startswith(f"{NAME}: v2 {verdict}; ")
    assert [v.version for v in versions] == [1, 2, 3]
    assert message.endswith(f"{NAME}: candidate v3 registered")


def test_drift_mode_waits_for_data_and_for_drift(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(tmp_path, "drift")
    _register_fitted(config, [400, -15])  # v2 trained almost to the end: nothing unseen yet
    calm = DriftReport({"ret_log_1": 0.01}, 0.25, (), None, False)

    def no_drift(*_: Any, **__: Any) -> DriftReport:
        return calm

    monkeypatch.setattr(lifecycle, "feature_drift", no_drift)
    message = retrain(config, _context())
    assert f"{NAME}: challenge waits for data ({NAME}: " in message
    assert message.endswith(f"{NAME}: not updated: no feature drifted (PSI < 0.25)")
    with ModelRegistry(registry_root(config)) as registry:
        assert [v.version for v in registry.list(NAME)] == [1, 2]
