"""The research pages of the dashboard: ML analytics, Runs and Market overview.

One project is made by real code once per module (about 15 s on two cores): a small train run
on the synthetic market (it also fills the trial ledger and the model registry), two backtest
runs of a moving-average crossover on the bundled GOOG bars that differ in one parameter, and
the panel features of a synthetic universe with a ^VIX series, stored by the feature store.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from alphaforge.config import AppConfig
from alphaforge.core.clock import SimulatedClock
from alphaforge.core.errors import NotFoundError
from alphaforge.core.types import AssetClass, Interval
from alphaforge.data.synthetic import SyntheticSpec, generate_market
from alphaforge.features.store import FeatureStore
from alphaforge.features.testing import real_bars
from alphaforge.pipeline.backtest_run import run_backtest_command
from alphaforge.pipeline.train import run_training
from alphaforge.service.pages.base import Chart, Page
from alphaforge.service.pages.market import (
    MARKET_FEATURES,
    SENTIMENT_NOTE,
    build_market_page,
    session_windows,
)
from alphaforge.service.pages.ml import build_ml_page
from alphaforge.service.pages.runs import EQUITY_FILE, build_runs_page, config_diff
from alphaforge.service.sources import ServiceSources
from alphaforge.storage import BarStore
from alphaforge.validation.ledger import TrialLedger

#: Monday 2026-12-07, 14:30 UTC: London, New York and the US equity session are open.
NOW = pd.Timestamp("2026-12-07 14:30", tz="UTC")
EXPERIMENT = "pages"
MA = {
    "strategy": {"name": "ma_crossover", "params": {"fast": 10, "slow": 20}},
    "portfolio": {"constructor": "target_weights", "sizing": "all_in", "units": "whole"},
    "backtest": {"symbols": ["GOOG"], "initial_capital": 10_000},
    "risk": {"preset": "none"},
}

Builder = Callable[[ServiceSources, Mapping[str, str]], Page]


def _config(root: Path, **sections: Any) -> AppConfig:
    return AppConfig.model_validate(
        {"data": {"store_dir": str(root / "store")}, "run": {"runs_dir": str(root / "runs")}}
        | sections
    )


def _sources(root: Path, now: pd.Timestamp = NOW) -> ServiceSources:
    return ServiceSources(_config(root), "paper", SimulatedClock(now))


@dataclass(frozen=True)
class Project:
    """A project folder after a train run, two backtests and a panel feature build."""

    root: Path
    train: Path
    fast10: Path
    fast5: Path

    def sources(self) -> ServiceSources:
        return _sources(self.root)


def _store_panel(root: Path) -> None:
    """Store the market features of six synthetic stocks in two sectors, with a ^VIX."""
    spec = SyntheticSpec(
        n_symbols=6,
        n_sectors=2,
        start=date(2019, 1, 1),
        end=date(2021, 6, 30),
        interval=Interval.D1,
        asset_class=AssetClass.STOCK,
    )
    market = generate_market(spec, 3)
    vix = generate_market(replace(spec, n_symbols=1, symbol_prefix="VX"), 4)
    ((vix_symbol, vix_bars),) = vix.bars.items()
    bars = dict(market.bars) | {"^VIX": vix_bars}
    instruments = dict(market.instruments) | {
        "^VIX": replace(vix.instruments[vix_symbol], symbol="^VIX", sector=None)
    }
    FeatureStore(root / "store").update_panel(
        "synth", Interval.D1, bars, list(MARKET_FEATURES), instruments
    )
    store = BarStore(root / "store")
    for symbol, frame in market.bars.items():  # the page reads each member's sector here
        store.write(market.instruments[symbol], Interval.D1, frame, source="synthetic")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    root = tmp_path_factory.mktemp("pages")
    train = _config(
        root,
        demo={"n_symbols": 4, "n_sectors": 2, "start": "2013-01-01", "end": "2015-03-31"},
        features={"names": ["ret_log_1", "ret_log_5", "ret_log_20", "vol_std_20", "rsi_14"]},
        train={"models": ["lightgbm"], "experiment": EXPERIMENT},
        portfolio={"top_k": 2},
        model={"trees": {"n_estimators": 10}},
        walk_forward={"train_months": 6, "validation_months": 2, "test_months": 3},
    )
    trained = run_training(train, out=root / "runs" / "train-small")
    bars, instrument = real_bars("GOOG", 400)
    BarStore(root / "store").write(instrument, Interval.D1, bars, source="sample")
    outs = {}
    for fast in (10, 5):
        strategy = {"name": "ma_crossover", "params": {"fast": fast, "slow": 20}}
        config = _config(root, **(MA | {"strategy": strategy}))
        outs[fast] = run_backtest_command(config, out=root / "runs" / f"ma-{fast}").run.path
    _store_panel(root)
    return Project(root, trained.run.path, outs[10], outs[5])


def _has_data(chart: Chart) -> bool:
    """Return whether some trace of the chart has points (x, y or z values)."""
    for trace in chart.figure.data:
        for axis in ("x", "y", "z"):
            values = getattr(trace, axis, None)
            if values is not None and len(values) > 0:
                return True
    return False


def _assert_charts_have_data(page: Page) -> None:
    json.dumps(page.twin, allow_nan=False)  # the twin is strict JSON: NaN is null
    assert page.charts
    for chart in page.charts:
        assert _has_data(chart), chart.id
        chart.figure.to_json()  # serialisable, as the HTML page embeds it


def _summary(run: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    return loaded


def _float_or_none(text: str) -> float | None:
    value = float(text) if text else math.nan
    return value if math.isfinite(value) else None


# --- ML analytics --------------------------------------------------------------------------------


def test_ml_importances_equal_feature_importance_csv(project: Project) -> None:
    page = build_ml_page(project.sources(), {})
    assert page.twin["run"] == project.train.name
    with (project.train / "feature_importance.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    features = [c for c in rows[0] if c not in ("model", "fold")]
    importance = page.twin["importance"]
    assert importance["features"] == features
    expected = [
        {
            "model": row["model"],
            "fold": int(row["fold"]),
            "importance": {f: _float_or_none(row[f]) for f in features},
        }
        for row in rows
    ]
    assert importance["by_fold"] == expected  # exactly: the same float from the same text
    mean = pd.DataFrame([e["importance"] for e in expected]).mean()
    assert importance["mean"]["lightgbm"] == pytest.approx(mean.to_dict())
    chart = next(c for c in page.charts if c.id == "importance_mean")
    assert list(chart.figure.data[0].x) == sorted(features, key=lambda f: -mean[f])


def test_ml_page_shows_folds_calibration_controls_trials_and_champions(
    project: Project,
) -> None:
    page = build_ml_page(project.sources(), {"run": project.train.name})
    folds = pd.read_csv(project.train / "folds.csv")
    assert [f["test_auc"] for f in page.twin["folds"]] == pytest.approx(folds["test_auc"].tolist())
    calibration = pd.read_csv(project.train / "calibration.csv")
    assert len(page.twin["calibration"]) == len(calibration)
    controls = page.twin["controls"]["metrics"]
    assert set(controls) == {"run (ensemble)", "random-walk control", "permuted-label control"}
    summary = _summary(project.train)
    assert controls["random-walk control"]["auc"] == summary["controls"]["random_walk"]["auc"]

    trials = page.twin["trials"]
    with TrialLedger(project.root / "store" / "ledger" / "trial_ledger.sqlite") as ledger:
        assert trials["n_trials"] == ledger.n_trials(EXPERIMENT)
        assert len(trials["trials"]) == len(ledger.trials(EXPERIMENT))
    assert trials["at_run"]["n_trials"] == summary["overfitting"]["n_trials"]
    with_returns = [t for t in trials["trials"] if t["kind"] == "manual"]
    assert with_returns and all(0.0 <= t["deflated_sharpe"] <= 1.0 for t in with_returns)

    assert [(c["name"], c["version"]) for c in page.twin["champions"]] == [
        (f"{EXPERIMENT}.lightgbm", 1)
    ]
    # Boosted trees keep no per-epoch curves and nothing was updated online: both say so.
    assert page.twin["curves"] == {}
    assert page.twin["drift"]["updates"] == []
    assert any("alphaforge models update" in n for n in page.notes)
    ids = {c.id for c in page.charts}
    assert {"importance_mean", "importance_folds", "fold_auc", "reliability", "controls"} <= ids
    _assert_charts_have_data(page)


def test_ml_page_refuses_an_unknown_run_or_one_that_is_no_train_run(project: Project) -> None:
    with pytest.raises(NotFoundError, match="No run 'nope'"):
        build_ml_page(project.sources(), {"run": "nope"})
    with pytest.raises(NotFoundError, match="not a finished train run"):
        build_ml_page(project.sources(), {"run": project.fast10.name})
    with pytest.raises(NotFoundError):
        build_ml_page(project.sources(), {"run": "../runs"})


# --- Runs ----------------------------------------------------------------------------------------


def test_runs_page_lists_every_run_with_its_command_data_and_metrics(project: Project) -> None:
    page = build_runs_page(project.sources(), {})
    rows = {r["name"]: r for r in page.twin["runs"]}
    assert set(rows) == {project.train.name, project.fast10.name, project.fast5.name}
    assert rows[project.train.name]["command"] == "train"
    assert rows[project.fast10.name]["command"] == "backtest"
    assert rows[project.fast10.name]["first"].startswith("20")
    assert rows[project.fast10.name]["seed"] == AppConfig().run.seed
    summary = _summary(project.fast10)
    assert rows[project.fast10.name]["metrics"]["sharpe"] == summary["metrics"]["sharpe"]
    assert page.twin["compare"] is None
    assert len(page.tables[0].rows) == 3


def test_two_runs_side_by_side_give_the_config_diff_metrics_and_equity(project: Project) -> None:
    a, b = project.fast10.name, project.fast5.name
    page = build_runs_page(project.sources(), {"a": a, "b": b})
    compare = page.twin["compare"]
    assert compare["config_diff"] == [{"key": "strategy.params.fast", "a": 10, "b": 5}]
    sharpe = next(m for m in compare["metrics"] if m["metric"] == "sharpe")
    assert sharpe["a"] == _summary(project.fast10)["metrics"]["sharpe"]
    equity = pd.read_csv(project.fast10 / EQUITY_FILE)
    assert compare["equity"]["a"]["equity"] == equity["equity"].tolist()
    chart = next(c for c in page.charts if c.id == "equity")
    assert [t.name for t in chart.figure.data] == [a, b]
    _assert_charts_have_data(page)

    # A train run keeps no equity curve: the page says so and still compares the rest.
    mixed = build_runs_page(project.sources(), {"a": project.train.name, "b": a})
    assert mixed.twin["compare"]["equity"]["a"] is None
    assert any("kept no equity curve" in n for n in mixed.notes)
    assert any(d["key"] == "train.experiment" for d in mixed.twin["compare"]["config_diff"])


def test_comparing_needs_two_known_runs(project: Project) -> None:
    with pytest.raises(NotFoundError, match="No run 'missing'"):
        build_runs_page(project.sources(), {"a": project.fast10.name, "b": "missing"})
    with pytest.raises(NotFoundError, match="two run names"):
        build_runs_page(project.sources(), {"a": project.fast10.name})


def test_config_diff_flattens_nested_keys_and_marks_one_sided_keys() -> None:
    a = {"model": {"trees": {"n": 10, "depth": 3}}, "seed": 1, "only_a": True}
    b = {"model": {"trees": {"n": 20, "depth": 3}}, "seed": 1, "only_b": [1, 2]}
    assert config_diff(a, b) == [
        {"key": "model.trees.n", "a": 10, "b": 20},
        {"key": "only_a", "a": True, "b": None},
        {"key": "only_b", "a": None, "b": [1, 2]},
    ]
    assert config_diff(a, a) == []


# --- Market overview -----------------------------------------------------------------------------


def test_market_page_reads_regime_breadth_rotation_and_vix_from_the_feature_store(
    project: Project,
) -> None:
    page = build_market_page(project.sources(), {})
    assert page.twin["panel"]["universe"] == "synth"
    (stored,) = FeatureStore(project.root / "store").stored_panels()
    frames = FeatureStore.read_panel(stored)
    assert sorted(frames) == page.twin["panel"]["members"]
    last = pd.concat(frames.values()).groupby(level=0).mean().iloc[-1]

    regime = page.twin["regime"]
    assert regime["history"]["prob_high"][-1] == pytest.approx(last["hmm_state_prob_1"])
    assert regime["current"]["state"] in ("low volatility", "high volatility")
    assert page.twin["breadth"]["above_sma_50"][-1] == pytest.approx(last["breadth_above_sma_50"])
    assert page.twin["vix"]["level"][-1] == pytest.approx(last["vix_level"])
    rotation = {r["symbol"]: r for r in page.twin["rotation"]}
    assert set(rotation) == set(frames)
    assert {r["sector"] for r in rotation.values()} == {"Sector0", "Sector1"}
    assert rotation["SYN00"]["rs_20"] == frames["SYN00"]["sector_rs_20"].dropna().iloc[-1]

    assert {c.id for c in page.charts} == {"regime", "breadth", "vix", "rotation", "sessions"}
    _assert_charts_have_data(page)
    assert page.notes == [SENTIMENT_NOTE]
    assert page.twin["sentiment"] == {"available": False, "note": SENTIMENT_NOTE}


def test_market_page_without_stored_panel_names_the_build_command(tmp_path: Path) -> None:
    page = build_market_page(_sources(tmp_path), {})
    assert page.twin["panel"] is None
    assert page.twin["regime"] is None and page.twin["rotation"] == []
    assert any("alphaforge features build --universe" in n for n in page.notes)
    assert SENTIMENT_NOTE in page.notes
    assert [c.id for c in page.charts] == ["sessions"]  # what has data is still drawn
    _assert_charts_have_data(page)


def test_market_page_of_a_universe_without_a_stored_panel(project: Project) -> None:
    page = build_market_page(project.sources(), {"universe": "sp500"})
    assert page.twin["panel"] is None
    assert any("alphaforge features build --universe sp500" in n for n in page.notes)


def test_sessions_timeline_marks_the_clocks_time() -> None:
    page = build_market_page(_sources(Path("/nonexistent-store")), {})
    sessions = page.twin["sessions"]
    assert sessions["now"] == NOW.isoformat()
    assert sessions["open_now"] == ["London", "New York", "US equities", "Crypto"]
    chart = next(c for c in page.charts if c.id == "sessions")
    marker = next(t for t in chart.figure.data if str(t.name).startswith("now"))
    assert set(marker.x) == {NOW.isoformat()}
    regular = next(w for w in sessions["windows"] if w["part"] == "regular")
    assert (regular["start"], regular["end"]) == (
        "2026-12-07T14:30:00+00:00",  # 09:30 New York in winter
        "2026-12-07T21:00:00+00:00",
    )
    assert regular["open_now"]


def test_session_windows_follow_weekends_early_closes_and_summer_time() -> None:
    sunday = session_windows(date(2026, 12, 6))
    assert {w.session for w in sunday} == {"Crypto"}
    # Friday's after-hours (16:00-20:00 New York) runs into Saturday, UTC.
    saturday = [w for w in session_windows(date(2026, 12, 5)) if w.session != "Crypto"]
    assert [(w.part, w.end) for w in saturday] == [
        ("after-hours", pd.Timestamp("2026-12-05 01:00", tz="UTC"))
    ]
    # Christmas Eve 2024: the NYSE closes at 13:00 New York (18:00 UTC).
    eve = {w.part: w for w in session_windows(date(2024, 12, 24)) if w.session == "US equities"}
    assert eve["regular"].end == pd.Timestamp("2024-12-24 18:00", tz="UTC")
    # In July New York is UTC-4 and London UTC+1.
    july = {w.session: w for w in session_windows(date(2026, 7, 1)) if w.part == "session"}
    assert july["New York"].start == pd.Timestamp("2026-07-01 12:00", tz="UTC")
    assert july["London"].start == pd.Timestamp("2026-07-01 07:00", tz="UTC")


# --- empty project -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("builder", "command"),
    [
        (build_ml_page, "alphaforge train"),
        (build_runs_page, "alphaforge backtest"),
        (build_market_page, "alphaforge features build"),
    ],
)
def test_every_page_of_an_empty_project_gives_notes_and_writes_nothing(
    builder: Builder, command: str, tmp_path: Path
) -> None:
    page = builder(_sources(tmp_path), {})
    assert any(command in note for note in page.notes), page.notes
    json.dumps(page.twin, allow_nan=False)
    for chart in page.charts:
        assert _has_data(chart), chart.id
    assert list(tmp_path.iterdir()) == []  # the service only reads
