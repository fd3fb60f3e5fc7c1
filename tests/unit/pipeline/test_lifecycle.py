"""Champion/challenger on unseen periods and online updates (`pipeline.lifecycle`).

Models are fitted and registered by hand on the synthetic universe, so each test controls
exactly what each version trained on. Expected cut-offs are counted on the generator's own
bar calendar, independently of the code's bar grid.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from alphaforge.config import AppConfig
from alphaforge.core.errors import ConfigError, DataError
from alphaforge.data.synthetic import generate_market
from alphaforge.models import create_model
from alphaforge.models.dataset import Panel, build_panel
from alphaforge.models.drift import DriftReport
from alphaforge.models.online import n_trees
from alphaforge.models.registry_store import ModelRegistry, ModelVersion
from alphaforge.pipeline import lifecycle
from alphaforge.pipeline.demo import synthetic_spec
from alphaforge.pipeline.registration import registry_root
from alphaforge.pipeline.research import prepare_training_data
from alphaforge.pipeline.train import load_training_universe

NAME = "default.lightgbm"
FEATURES = ["ret_log_1", "ret_log_5", "ret_log_20", "vol_std_20", "rsi_14", "zscore_close_20"]
HORIZON = 5
EMBARGO = 3


def _config(tmp_path: Path, *, end: str = "2016-06-30", strength: float = 0.01) -> AppConfig:
    return AppConfig.model_validate(
        {
            "demo": {
                "n_symbols": 8,
                "n_sectors": 2,
                "start": "2013-01-01",
                "end": end,
                "signal_strength": strength,
            },
            "features": {"names": FEATURES, "min_history": 60},
            "labels": {"horizon": HORIZON},
            "portfolio": {"top_k": 2},
            "model": {
                "trees": {"n_estimators": 30, "min_child_samples": 50, "early_stopping_rounds": 0}
            },
            "walk_forward": {"embargo_bars": EMBARGO},
            "data": {"store_dir": str(tmp_path / "store")},
            "run": {"runs_dir": str(tmp_path / "runs"), "seed": 7},
        }
    )


def _calendar(config: AppConfig) -> pd.DatetimeIndex:
    """Bar open times of the synthetic market (every symbol shares the calendar)."""
    market = generate_market(synthetic_spec(config), config.run.seed)
    return pd.DatetimeIndex(next(iter(market.bars.values())).index)


def _panel(config: AppConfig) -> Panel:
    raw, instruments, interval, _ = load_training_universe(config, config.run.seed)
    data = prepare_training_data(raw, instruments, interval, config)
    return build_panel(
        data.bars, interval, config.labels, FEATURES, min_history=config.features.min_history
    )


def _fit(
    config: AppConfig, panel: Panel, end: pd.Timestamp, *, flip: bool = False, **kw: Any
) -> Any:
    """Fit a model on the labelled rows up to ``end`` (labels inverted when ``flip``)."""
    stamps = pd.DatetimeIndex(panel.timestamps)
    rows = np.flatnonzero(panel.target.notna().to_numpy() & (stamps <= end))
    y = panel.target.to_numpy(np.float64)[rows]
    name = kw.pop("name", config.model.name)  # the model; anything else is a tree setting
    model_config = config.model.model_copy(
        update={"name": name, "trees": config.model.trees.model_copy(update=kw)}
    )
    model = create_model(model_config, seed=0, n_jobs=1)
    model.fit(panel.X.to_numpy(np.float64)[rows], 1.0 - y if flip else y)
    return model


def _register(
    config: AppConfig,
    model: Any,
    end: pd.Timestamp,
    *,
    champion: bool,
    kind: str = "lightgbm",
    recorded: dict[str, Any] | None = None,
) -> ModelVersion:
    with ModelRegistry(registry_root(config)) as registry:
        version = registry.register(
            model,
            name=NAME,
            kind=kind,
            feature_names=FEATURES,
            data_start=pd.Timestamp("2013-04-01", tz="UTC"),
            data_end=end,
            symbols=[f"SYN{i:02d}" for i in range(8)],
            label="test label",
            splitter="test splitter",
            metrics={},
            seed=0,
            code_version="test",
            config=recorded or {},
        )
        if champion:
            registry.promote(NAME, version.version, reason="first version")
        return registry.get(NAME, version.version)


@pytest.fixture
def setup(tmp_path: Path) -> tuple[AppConfig, Panel, pd.DatetimeIndex]:
    config = _config(tmp_path)
    return config, _panel(config), _calendar(config)


# ------------------------------------------------------------------ challenge
def test_the_comparison_starts_after_both_models_labels_and_embargo(
    setup: tuple[AppConfig, Panel, pd.DatetimeIndex],
) -> None:
    config, panel, calendar = setup
    end1, end2 = calendar[300], calendar[420]
    _register(config, _fit(config, panel, end1), end1, champion=True)
    _register(config, _fit(config, panel, end2, num_leaves=4), end2, champion=False)
    result = lifecycle.challenge(config, NAME, n_bootstrap=300)

    assert lifecycle.gap_bars(config) == HORIZON + EMBARGO == result.gap_bars
    # The first scored bar is the first one more than horizon + embargo bars after the later
    # data_end; its score trades at the next open, so holding periods (close to close, on
    # the engine) start one bar later and run to the last bar's close.
    first_scored = 420 + HORIZON + EMBARGO + 1
    assert result.first_period == calendar[first_scored + 1]
    assert result.last_period == calendar[-1]
    assert result.decision.n_periods == len(calendar) - 1 - first_scored
    assert 0.0 < result.decision.p_value <= 1.0
    assert result.decision.seed == config.run.seed and result.decision.n_bootstrap == 300
    # The decision and its numbers are recorded against the challenger.
    with ModelRegistry(registry_root(config)) as registry:
        decisions = registry.decisions(NAME)
        assert decisions[-1].version == 2 and decisions[-1].previous_champion == 1
        assert decisions[-1].numbers["p_value"] == pytest.approx(result.decision.p_value)
        assert decisions[-1].numbers["n_periods"] == result.decision.n_periods
        stage = registry.get(NAME, 2).stage
    assert stage == ("champion" if result.promoted else "candidate")


@pytest.mark.parametrize("kind", ["cross_sectional", "three_class", "meta"])
def test_an_identical_challenger_is_refused_with_p_one(tmp_path: Path, kind: str) -> None:
    config = _config(tmp_path)
    config = config.model_copy(
        update={"labels": config.labels.model_copy(update={"kind": kind, "threshold": 0.01})}
    )
    panel, calendar = _panel(config), _calendar(config)
    end = calendar[400]
    model = _fit(config, panel, end)
    _register(config, model, end, champion=True)
    _register(config, model, end, champion=False)
    result = lifecycle.challenge(config, NAME, n_bootstrap=200)
    d = result.decision
    # Same trades every period: zero gain, and every recentred resample ties it (p = 1).
    assert d.statistic == 0.0 and d.champion_sharpe == d.challenger_sharpe != 0.0
    assert d.p_value == 1.0 and not result.promoted
    assert result.champion_metrics == result.challenger_metrics
    with ModelRegistry(registry_root(config)) as registry:
        assert registry.get(NAME, "champion").version == 1
        assert registry.get(NAME, 2).stage == "candidate"
        assert registry.decisions(NAME)[-1].promoted is False


def test_a_clearly_better_challenger_is_promoted(tmp_path: Path) -> None:
    # A strong planted signal; the champion learned it backwards (labels inverted).
    config = _config(tmp_path, strength=0.08)
    panel, calendar = _panel(config), _calendar(config)
    end = calendar[350]
    _register(config, _fit(config, panel, end, flip=True), end, champion=True)
    _register(config, _fit(config, panel, end), end, champion=False)
    result = lifecycle.challenge(config, NAME, n_bootstrap=500)
    assert result.decision.challenger_sharpe > result.decision.champion_sharpe
    assert result.decision.p_value < 0.05 and result.promoted
    with ModelRegistry(registry_root(config)) as registry:
        assert registry.get(NAME, "champion").version == 2
        assert registry.get(NAME, 1).stage == "retired"


def test_too_few_unseen_periods_say_how_many_and_from_when(
    setup: tuple[AppConfig, Panel, pd.DatetimeIndex],
) -> None:
    config, panel, calendar = setup
    n = len(calendar)
    end2 = calendar[n - 1 - (HORIZON + EMBARGO) - 12]  # 12 bars after the gap: 10 periods
    _register(config, _fit(config, panel, calendar[300]), calendar[300], champion=True)
    _register(config, _fit(config, panel, end2), end2, champion=False)
    with pytest.raises(DataError) as err:
        lifecycle.challenge(config, NAME)
    message = err.value.one_line()
    first = calendar[n - 12].date()
    assert "10 period(s)" in message and "at least 20" in message
    assert f"from {first}" in message and "\n" not in message
    with ModelRegistry(registry_root(config)) as registry:
        assert len(registry.decisions(NAME)) == 1  # only the first promotion: nothing new


def test_user_mistakes_are_config_errors(setup: tuple[AppConfig, Panel, pd.DatetimeIndex]) -> None:
    config, panel, calendar = setup
    with pytest.raises(ConfigError, match="No model registry"):
        lifecycle.challenge(config, NAME)
    end = calendar[300]
    model = _fit(config, panel, end)
    _register(config, model, end, champion=False)
    with pytest.raises(ConfigError, match="'nope' is not in the registry"):
        lifecycle.challenge(config, "nope")
    with pytest.raises(ConfigError, match="has no champion"):
        lifecycle.challenge(config, NAME)
    with ModelRegistry(registry_root(config)) as registry:
        registry.promote(NAME, 1, reason="test")
    with pytest.raises(ConfigError, match="no version registered after its champion v1"):
        lifecycle.challenge(config, NAME)
    with pytest.raises(ConfigError, match="cannot challenge itself"):
        lifecycle.challenge(config, NAME, challenger=1)
    with pytest.raises(ConfigError, match="has no version 5"):
        lifecycle.challenge(config, NAME, challenger=5)
    with pytest.raises(ConfigError, match="alpha"):
        lifecycle.challenge(config, NAME, alpha=1.5)


# ------------------------------------------------------------------ update
@pytest.mark.parametrize("kind", ["lightgbm", "xgboost"])
def test_update_adds_trees_on_resolved_rows_and_registers_a_candidate(
    setup: tuple[AppConfig, Panel, pd.DatetimeIndex], kind: str
) -> None:
    config, panel, calendar = setup
    end = calendar[400]
    base = _fit(config, panel, end, name=kind)
    _register(config, base, end, champion=True, kind=kind)
    result = lifecycle.update(config, NAME, rounds=7)

    assert result.new is not None and result.skipped is None
    new = result.new
    assert (new.version, new.stage) == (2, "candidate")
    assert result.trees_before == n_trees(base) == 30
    assert result.trees_after == 37
    # Rows after the base's data_end whose label resolved: a next-open-to-open label of
    # bar t ends at the open of t + 1 + horizon, so the newest is the bar horizon + 1 before
    # the last one.
    n = len(calendar)
    assert result.first_row == calendar[401]
    assert result.last_row == new.data_end == calendar[n - 2 - HORIZON]
    assert result.rows == 8 * (n - 2 - HORIZON - 400)
    online = new.config["online_update"]
    assert online["continued_from"] == 1 and online["rows"] == result.rows
    assert online["first_row"] == calendar[401].isoformat()
    with ModelRegistry(registry_root(config)) as registry:
        loaded = registry.load(NAME, 2, expected_features=FEATURES)
        assert n_trees(loaded) == 37
        assert registry.get(NAME, "champion").version == 1
        decision = registry.decisions(NAME)[-1]
    assert decision.version == 2 and not decision.promoted
    assert f"alphaforge models challenge {NAME}" in decision.reason


def _drift(should_retrain: bool) -> DriftReport:
    drifted = ("ret_log_1",) if should_retrain else ()
    return DriftReport(
        {"ret_log_1": 0.5 if should_retrain else 0.01}, 0.25, drifted, None, should_retrain
    )


def test_only_if_drifted_updates_only_when_drift_advises_it(
    setup: tuple[AppConfig, Panel, pd.DatetimeIndex], monkeypatch: pytest.MonkeyPatch
) -> None:
    config, panel, calendar = setup
    end = calendar[400]
    _register(config, _fit(config, panel, end), end, champion=True)
    monkeypatch.setattr(lifecycle, "feature_drift", lambda *_, **__: _drift(False))
    skipped = lifecycle.update(config, NAME, rounds=3, only_if_drifted=True)
    assert skipped.new is None and skipped.skipped is not None
    assert "no feature drifted" in skipped.skipped
    monkeypatch.setattr(lifecycle, "feature_drift", lambda *_, **__: None)
    assert "too few bars" in str(lifecycle.update(config, NAME, only_if_drifted=True).skipped)
    with ModelRegistry(registry_root(config)) as registry:
        assert len(registry.list(NAME)) == 1
    monkeypatch.setattr(lifecycle, "feature_drift", lambda *_, **__: _drift(True))
    done = lifecycle.update(config, NAME, rounds=3, only_if_drifted=True)
    assert done.new is not None and done.drift is not None and done.drift.should_retrain
    assert done.new.config["online_update"]["drifted_features"] == ["ret_log_1"]


def test_update_checks_the_champions_hit_rate_on_the_new_rows(
    setup: tuple[AppConfig, Panel, pd.DatetimeIndex], monkeypatch: pytest.MonkeyPatch
) -> None:
    config, panel, calendar = setup
    end = calendar[400]
    model = _fit(config, panel, end)
    _register(config, model, end, champion=True)
    seen: dict[str, np.ndarray] = {}

    def spy(*_: object, hits: np.ndarray | None = None) -> DriftReport:
        assert hits is not None
        seen["hits"] = hits
        return _drift(False)

    monkeypatch.setattr(lifecycle, "feature_drift", spy)
    done = lifecycle.update(config, NAME, rounds=3)
    hits = seen["hits"]
    assert hits.dtype == bool and len(hits) == done.rows
    # Independently: the champion's most probable class on the same rows, in time order.
    stamps = pd.DatetimeIndex(panel.timestamps)
    rows = np.flatnonzero(panel.target.notna().to_numpy() & (stamps > end))
    rows = rows[np.argsort(stamps[rows], kind="stable")]
    proba = model.predict_proba(panel.X.to_numpy()[rows])
    expected = model.classes_[np.argmax(proba, axis=1)] == panel.target.to_numpy()[rows]
    np.testing.assert_array_equal(hits, expected)


def test_update_refuses_non_boosting_models_and_too_few_rows(
    setup: tuple[AppConfig, Panel, pd.DatetimeIndex],
) -> None:
    config, panel, calendar = setup
    n = len(calendar)
    end = calendar[n - 2 - HORIZON - 10]  # 10 resolved bars x 8 symbols = 80 rows
    _register(config, _fit(config, panel, end), end, champion=True)
    with pytest.raises(DataError, match="80 row"):
        lifecycle.update(config, NAME)
    with pytest.raises(ConfigError, match="rounds"):
        lifecycle.update(config, NAME, rounds=0)

    other = _config(config.data.store_dir.parent / "other")
    logistic = _fit(other, panel, calendar[300], name="logistic")
    _register(other, logistic, calendar[300], champion=True, kind="logistic")
    with pytest.raises(ConfigError, match="logistic model, not a boosting model"):
        lifecycle.update(other, NAME)


def test_a_quantile_model_is_not_challenged_as_a_classifier(
    setup: tuple[AppConfig, Panel, pd.DatetimeIndex],
) -> None:
    from alphaforge.models.quantile import QuantileGBM

    config, panel, calendar = setup
    stamps = pd.DatetimeIndex(panel.timestamps)
    for end, champion in ((calendar[300], True), (calendar[420], False)):
        rows = np.flatnonzero(panel.forward_return.notna().to_numpy() & (stamps <= end))
        model = QuantileGBM(n_estimators=5).fit(
            panel.X.to_numpy(np.float64)[rows], panel.forward_return.to_numpy(np.float64)[rows]
        )
        _register(config, model, end, champion=champion, kind="quantile_gbm")
    with pytest.raises(ConfigError, match="quantile regression") as error:
        lifecycle.challenge(config, NAME)
    assert error.value.hint is not None and "pinball" in error.value.hint


def _recorded(config: AppConfig, **labels: Any) -> dict[str, Any]:
    return {
        "labels": config.labels.model_copy(update=labels).model_dump(mode="json"),
        "walk_forward": config.walk_forward.model_dump(mode="json"),
    }


def test_a_version_trained_on_other_labels_is_refused_in_one_line(
    setup: tuple[AppConfig, Panel, pd.DatetimeIndex],
) -> None:
    config, panel, calendar = setup
    end1, end2 = calendar[300], calendar[420]
    other = _recorded(config, horizon=10)
    _register(config, _fit(config, panel, end1), end1, champion=True, recorded=other)
    _register(config, _fit(config, panel, end2), end2, champion=False)
    with pytest.raises(ConfigError, match=r"horizon 10 \(now 5\)"):
        lifecycle.challenge(config, NAME, n_bootstrap=50)
    with pytest.raises(ConfigError, match="other labels"):
        lifecycle.update(config, NAME, rounds=3)


def test_each_versions_own_embargo_sets_the_cut_off(
    setup: tuple[AppConfig, Panel, pd.DatetimeIndex],
) -> None:
    config, panel, calendar = setup
    end1, end2 = calendar[300], calendar[420]
    longer = _recorded(config)
    longer["walk_forward"]["embargo_bars"] = 30
    _register(config, _fit(config, panel, end1), end1, champion=True)
    _register(config, _fit(config, panel, end2), end2, champion=False, recorded=longer)
    result = lifecycle.challenge(config, NAME, n_bootstrap=50)
    assert result.gap_bars == HORIZON + 30
    # The first scored bar lies more than horizon + 30 bars after v2's data; its first
    # holding period starts one bar later.
    assert result.first_period == calendar[420 + HORIZON + 30 + 1 + 1]


def test_testing_the_same_pair_again_divides_alpha_by_the_looks(
    setup: tuple[AppConfig, Panel, pd.DatetimeIndex],
) -> None:
    config, panel, calendar = setup
    end1, end2 = calendar[300], calendar[420]
    _register(config, _fit(config, panel, end1), end1, champion=True)
    _register(config, _fit(config, panel, end2, flip=True), end2, champion=False)
    first = lifecycle.challenge(config, NAME, n_bootstrap=50, alpha=0.05)
    assert first.looks == 1 and first.decision.threshold == pytest.approx(0.05)
    assert not first.promoted  # inverted labels do not win
    second = lifecycle.challenge(config, NAME, n_bootstrap=50, alpha=0.05)
    assert second.looks == 2 and second.decision.threshold == pytest.approx(0.025)


def test_an_update_continues_from_the_champions_best_iteration(
    setup: tuple[AppConfig, Panel, pd.DatetimeIndex],
) -> None:
    config, panel, calendar = setup
    end = calendar[400]
    stamps = pd.DatetimeIndex(panel.timestamps)
    known = panel.target.notna().to_numpy()
    train = np.flatnonzero(known & (stamps <= calendar[300]))
    valid = np.flatnonzero(known & (stamps > calendar[300]) & (stamps <= end))
    X, y = panel.X.to_numpy(np.float64), panel.target.to_numpy(np.float64)
    trees = config.model.trees.model_copy(update={"n_estimators": 300, "early_stopping_rounds": 5})
    stopping = config.model.model_copy(update={"trees": trees})
    model = create_model(stopping, seed=0).fit(X[train], y[train], eval_set=(X[valid], y[valid]))
    best = int(model.best_iteration_)  # type: ignore[attr-defined]
    assert best < 300
    _register(config, model, end, champion=True)
    done = lifecycle.update(config, NAME, rounds=4)
    assert (done.trees_before, done.trees_after) == (best, best + 4)
