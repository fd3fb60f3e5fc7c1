"""Quantile report: calibrated on a known conditional law, non-crossing, and leak-free."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from alphaforge.config.models import AppConfig, LabelsConfig, ModelConfig, TreesConfig
from alphaforge.models.dataset import Panel
from alphaforge.pipeline import quantiles as quantiles_module
from alphaforge.pipeline.quantiles import (
    PREDICTIONS_FILE,
    TABLE_FILE,
    quantile_name,
    quantile_report,
    return_end,
)
from alphaforge.validation import PurgedWalkForward

LEVELS = (0.1, 0.25, 0.5, 0.75, 0.9)


def _panel(
    *, n_days: int = 900, n_symbols: int = 8, seed: int = 0, horizon_days: int = 2
) -> tuple[Panel, npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Return a panel whose return is N(mu(x), sigma(x)^2), with mu and sigma per row.

    mu = 0.01 * x0 (a planted mean); sigma is 1.5 % when x1 > 0 and 0.75 % otherwise, so the
    true conditional quantile at level q is mu + sigma * Phi^-1(q) in closed form.
    """
    stamps = pd.date_range("2016-01-01", periods=n_days, freq="D", tz="UTC")
    symbols = [f"S{i}" for i in range(n_symbols)]
    index = pd.MultiIndex.from_product([stamps, symbols], names=["timestamp", "symbol"])
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(len(index), 3))
    mu = 0.01 * x[:, 0]
    sigma = np.where(x[:, 1] > 0, 0.015, 0.0075)
    y = mu + sigma * rng.normal(size=len(index))
    start = pd.Series(index.get_level_values("timestamp"), index=index)
    panel = Panel(
        pd.DataFrame(x, index=index, columns=["a", "b", "c"]),
        pd.Series(y, index=index),
        pd.Series((y > 0).astype(np.float64), index=index),
        start,
        start + pd.Timedelta(days=horizon_days),
    )
    return panel, mu, sigma


def _config(**labels: Any) -> AppConfig:
    model = ModelConfig(
        trees=TreesConfig(
            n_estimators=150,
            learning_rate=0.05,
            num_leaves=7,
            min_child_samples=50,
            early_stopping_rounds=20,
        )
    )
    return AppConfig(model=model, labels=LabelsConfig(**labels))


def _splitter() -> PurgedWalkForward:
    return PurgedWalkForward(train_months=12, validation_months=2, test_months=3, embargo_bars=2)


def _pinball(y: npt.NDArray[np.float64], q_hat: npt.NDArray[np.float64], q: float) -> float:
    # Written as the check function rho_q(u) = u * (q - 1[u < 0]), independently of the package.
    u = y - q_hat
    return float(np.mean(u * (q - (u < 0))))


def test_coverage_matches_each_level_on_a_known_conditional_distribution() -> None:
    panel, mu, sigma = _panel()
    report = quantile_report(panel, _splitter(), _config(), seed=0)
    predictions = report.predictions.to_numpy()
    scored = np.isfinite(predictions).all(axis=1)
    y = panel.forward_return.to_numpy()
    assert list(report.predictions.columns) == ["q10", "q25", "q50", "q75", "q90"]
    assert report.predictions.index.equals(panel.X.index)
    assert scored.sum() > 3000
    # Non-crossing after sorting, on every scored row.
    assert (np.diff(predictions[scored], axis=1) >= 0).all()
    # ~3,800 scored rows: a coverage's sampling s.e. is <= 0.008; GBM estimation error adds
    # about 0.01-0.02 at the tails (seeds 0-3 gave at most 0.016), hence the 0.035 tolerance.
    for j, q in enumerate(LEVELS):
        coverage = np.mean(y[scored] <= predictions[scored, j])
        assert coverage == pytest.approx(q, abs=0.035), (q, coverage)
        assert report.summary["coverage"].iloc[j] == pytest.approx(coverage)
        ours = _pinball(y[scored], predictions[scored, j], q)
        assert report.summary["pinball_loss"].iloc[j] == pytest.approx(ours, rel=1e-9)
        # The closed-form quantiles are the best possible: the model is within 10 % of them
        # and cannot beat them by more than sampling noise.
        oracle = _pinball(y[scored], (mu + sigma * norm.ppf(q))[scored], q)
        assert 0.98 * oracle < ours < 1.10 * oracle, (q, ours, oracle)
    inside = (y[scored] >= predictions[scored, 0]) & (y[scored] <= predictions[scored, 4])
    assert report.intervals.loc["q10-q90", "coverage"] == pytest.approx(inside.mean())
    assert report.intervals.loc["q10-q90", "coverage"] == pytest.approx(0.8, abs=0.05)
    assert report.intervals.loc["q25-q75", "coverage"] == pytest.approx(0.5, abs=0.05)
    assert 0.0 <= report.crossing_rate < 0.1
    for fold in report.folds:
        assert fold.last_label_end < fold.test_start
        assert all(1 <= b <= 150 for b in fold.best_iterations)


class _Spy:
    """Stands in for QuantileGBM: records which rows each fold fitted and predicted.

    Feature column 0 of the test panel holds each row's position, so ``fit`` and
    ``predict_unsorted`` see row identities. Predictions are deliberately crossing on rows of
    even position (levels in reverse order) to test the crossing report.
    """

    calls: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, **params: Any) -> None:
        self.params = params

    def fit(
        self,
        X: npt.NDArray[np.float64],
        y: npt.NDArray[np.float64],
        *,
        sample_weight: npt.NDArray[np.float64] | None = None,
        eval_set: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]] | None = None,
    ) -> Self:
        fitted = X[:, 0].astype(np.int64)
        if eval_set is not None:
            fitted = np.concatenate([fitted, eval_set[0][:, 0].astype(np.int64)])
        self.record = {"fitted": fitted, "weights": sample_weight, "params": self.params}
        self.models_: list[object] = []
        return self

    def predict_unsorted(self, X: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        rows = X[:, 0].astype(np.int64)
        _Spy.calls.append(self.record | {"predicted": rows})
        levels = np.array(self.params["quantiles"], dtype=np.float64)
        raw = np.tile(levels - 0.5, (len(rows), 1)) * 0.02
        raw[rows % 2 == 0] = raw[rows % 2 == 0, ::-1]
        return raw


def _spy_panel(
    horizon: int, *, barrier: bool
) -> tuple[Panel, npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Return a panel with row positions as feature 0, and each return's true start and end.

    The forward return of row t truly ends ``horizon`` days later. With ``barrier`` the panel's
    ``end`` is the decision time itself, as a barrier touched at once would give: purging by
    ``panel.end`` alone would then fit returns that run into the test block.
    """
    panel, _, _ = _panel(n_days=600, n_symbols=3, horizon_days=horizon)
    X = panel.X.assign(a=np.arange(len(panel.X), dtype=np.float64))
    end = panel.start if barrier else panel.end
    spied = Panel(X, panel.forward_return, panel.target, panel.start, end)
    true_start = pd.DatetimeIndex(panel.start).as_unit("ns").asi8
    true_end = pd.DatetimeIndex(panel.start + pd.Timedelta(days=horizon)).as_unit("ns").asi8
    return spied, true_start, true_end


def _leaks(calls: list[dict[str, Any]], start: npt.NDArray[np.int64], end: Any) -> int:
    """Return how many fitted labels end at or after their fold's first predicted row."""
    return sum(int((end[c["fitted"]] >= start[c["predicted"]].min()).sum()) for c in calls)


@pytest.mark.parametrize("kind", ["cross_sectional", "triple_barrier"])
def test_test_rows_are_predicted_only_by_models_fitted_on_labels_that_ended_before(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    horizon = 5
    barrier = kind == "triple_barrier"
    panel, start, end = _spy_panel(horizon, barrier=barrier)
    monkeypatch.setattr(quantiles_module, "QuantileGBM", _Spy)
    _Spy.calls = []
    splitter = PurgedWalkForward(train_months=6, validation_months=1, test_months=2)
    report = quantile_report(panel, splitter, _config(kind=kind, horizon=horizon), seed=3)
    assert len(_Spy.calls) == len(report.folds) >= 5
    assert _leaks(_Spy.calls, start, end) == 0
    predicted = np.concatenate([c["predicted"] for c in _Spy.calls])
    assert len(predicted) == len(np.unique(predicted))  # each row from exactly one fold
    folds = list(splitter.split(panel.start, panel.end))
    np.testing.assert_array_equal(np.sort(predicted), np.concatenate([f.test for f in folds]))
    for call, fold in zip(_Spy.calls, report.folds, strict=True):
        assert call["params"]["random_state"] == 3 + fold.number
        weights = call["weights"]
        assert weights is not None and weights.mean() == pytest.approx(1.0)


def test_the_leak_check_catches_a_barrier_end_taken_at_face_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The same barrier panel, but declared as a kind whose panel.end is trusted: the fits now
    # reach into the test block, so the check above would fail on an unguarded report.
    panel, start, end = _spy_panel(5, barrier=True)
    monkeypatch.setattr(quantiles_module, "QuantileGBM", _Spy)
    _Spy.calls = []
    splitter = PurgedWalkForward(train_months=6, validation_months=1, test_months=2)
    quantile_report(panel, splitter, _config(kind="direction", horizon=5), seed=0)
    assert _leaks(_Spy.calls, start, end) > 0


def test_crossings_are_reported_then_removed_by_sorting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    panel, _, _ = _spy_panel(2, barrier=False)
    monkeypatch.setattr(quantiles_module, "QuantileGBM", _Spy)
    _Spy.calls = []
    splitter = PurgedWalkForward(train_months=6, validation_months=1, test_months=2)
    report = quantile_report(panel, splitter, _config(), seed=0)
    predicted = np.concatenate([c["predicted"] for c in _Spy.calls])
    even = float(np.mean(predicted % 2 == 0))
    assert report.crossing_rate == pytest.approx(even)
    # A reversed row crosses at every adjacent pair.
    np.testing.assert_allclose(report.summary["crossing_rate"].iloc[:-1], even)
    values = report.predictions.to_numpy()[predicted]
    expected = (np.array(LEVELS) - 0.5) * 0.02
    np.testing.assert_allclose(values, np.tile(expected, (len(predicted), 1)))
    y = panel.forward_return.to_numpy()[predicted]
    for j in range(len(LEVELS)):
        assert report.summary["coverage"].iloc[j] == pytest.approx(np.mean(y <= expected[j]))
    assert (
        report.predictions.iloc[np.setdiff1d(np.arange(len(panel.X)), predicted)]
        .isna()
        .all(axis=None)
    )
    report.write(tmp_path)
    back = pd.read_parquet(tmp_path / PREDICTIONS_FILE)
    pd.testing.assert_frame_equal(back, report.predictions, check_freq=False)
    table = pd.read_csv(tmp_path / TABLE_FILE, index_col="name")
    assert list(table.index) == ["q10", "q25", "q50", "q75", "q90", "q10-q90", "q25-q75", "all"]
    assert table.loc["all", "crossing_rate"] == pytest.approx(even)
    metrics = report.metrics()
    assert metrics["quantile_crossing_rate"] == pytest.approx(even)
    assert set(metrics) >= {"pinball_q50", "coverage_q10", "coverage_q10-q90"}


def test_the_barrier_return_end_is_bounded_by_the_row_horizon_plus_one_later() -> None:
    panel, _, _ = _spy_panel(3, barrier=True)
    labels = LabelsConfig(kind="triple_barrier", horizon=3)
    bound = return_end(panel, labels)
    stamps = panel.start.to_numpy()
    # Daily rows: the same symbol's row 4 bars later starts 4 days after the decision.
    has_later = stamps <= stamps.max() - np.timedelta64(4, "D")
    expected = panel.start + pd.Timedelta(days=4)
    assert (bound[has_later] == expected[has_later]).all()
    assert (bound[~has_later] == panel.end[~has_later]).all()
    trusted = return_end(panel, LabelsConfig(kind="three_class"))
    assert (trusted == panel.end).all()


def test_quantile_names() -> None:
    assert [quantile_name(q) for q in LEVELS] == ["q10", "q25", "q50", "q75", "q90"]
    assert quantile_name(0.025) == "q2.5"


class _NoisySpy(_Spy):
    """A spy whose unsorted predictions are random draws (crossing at random)."""

    seed: ClassVar[int] = 0
    spread: ClassVar[float] = 1.0

    def predict_unsorted(self, X: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        rows = X[:, 0].astype(np.int64)
        rng = np.random.default_rng([_NoisySpy.seed, int(rows[0])])
        trend = np.linspace(-0.02, 0.02, len(self.params["quantiles"]))
        raw = trend + 0.01 * _NoisySpy.spread * rng.normal(size=(len(rows), len(trend)))
        _Spy.calls.append(self.record | {"predicted": rows, "raw": raw})
        return raw


_SPY_PANEL = _spy_panel(2, barrier=False)[0]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), spread=st.floats(0.0, 5.0))
def test_sorting_keeps_each_rows_values_and_the_summary_is_consistent(
    seed: int, spread: float
) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(quantiles_module, "QuantileGBM", _NoisySpy)
        _Spy.calls, _NoisySpy.seed, _NoisySpy.spread = [], seed, spread
        splitter = PurgedWalkForward(train_months=6, validation_months=1, test_months=2)
        report = quantile_report(_SPY_PANEL, splitter, _config(), seed=0)
    rows = np.concatenate([c["predicted"] for c in _Spy.calls])
    raw = np.concatenate([c["raw"] for c in _Spy.calls])
    values = report.predictions.to_numpy()[rows]
    assert (np.diff(values, axis=1) >= 0).all()
    np.testing.assert_array_equal(values, np.sort(raw, axis=1))
    descents = (np.diff(raw, axis=1) < 0).any(axis=1)
    assert report.crossing_rate == pytest.approx(descents.mean())
    coverage = report.summary["coverage"].to_numpy()
    assert (np.diff(coverage) >= 0).all()  # sorted quantiles cover more at higher levels
    # With a continuous return, y in [q10, q90] exactly when y <= q90 and not y < q10.
    for name, low, high in (("q10-q90", 0, 4), ("q25-q75", 1, 3)):
        expected = coverage[high] - coverage[low]
        assert report.intervals.loc[name, "coverage"] == pytest.approx(expected, abs=1e-12)
    assert 0.0 <= report.crossing_rate <= 1.0
    if spread == 0.0:
        assert report.crossing_rate == 0.0
