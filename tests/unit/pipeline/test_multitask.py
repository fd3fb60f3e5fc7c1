"""Multi-task report: per-horizon targets, purging by the longest label, a planted signal found."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Self

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest

from alphaforge.config import AppConfig
from alphaforge.config.models import DeepConfig, LabelsConfig, ModelConfig, TrainConfig
from alphaforge.core.errors import ConfigError
from alphaforge.core.types import Interval
from alphaforge.models.dataset import Panel, build_panel
from alphaforge.pipeline.multitask import (
    MULTI_TASK_HORIZONS,
    REPORT_COLUMNS,
    HorizonLabels,
    horizon_labels,
    multi_task_report,
    multi_task_walk_forward,
)
from alphaforge.validation.splits import Fold, PurgedWalkForward

N_SYMBOLS = 6
N_BARS = 500
CLOSE_TO_CLOSE = {"entry": "close", "exit": "close"}


def _market(
    signal_lag: int, seed: int = 0
) -> tuple[dict[str, pd.DataFrame], Panel, dict[str, npt.NDArray[np.float64]]]:
    """Daily bars where feature ``x`` at bar t moves the close of bar t + ``signal_lag``.

    Returns the bars, a panel of features ``x`` (the signal) and ``z`` (noise), and each
    symbol's closes. A 1-bar lag makes the 1-bar label the predictable one: over 21 bars the
    same move is one of 21 daily returns.
    """
    rng = np.random.default_rng(seed)
    stamps = pd.date_range("2020-01-01", periods=N_BARS, freq="D", tz="UTC", name="timestamp")
    bars, pieces, closes = {}, [], {}
    for k in range(N_SYMBOLS):
        symbol = f"S{k}"
        x = rng.normal(size=N_BARS)
        moved = np.concatenate([np.zeros(signal_lag), x[:-signal_lag]])
        close = 100.0 * np.exp(np.cumsum(0.01 * (0.8 * moved + 0.6 * rng.normal(size=N_BARS))))
        closes[symbol] = close
        bars[symbol] = pd.DataFrame(
            {
                "open": close,
                "high": close * 1.001,
                "low": close * 0.999,
                "close": close,
                "volume": 1e6,
            },
            index=stamps,
        )
        pieces.append(
            pd.DataFrame(
                {"x": x, "z": rng.normal(size=N_BARS), "symbol": symbol},
                index=stamps,
            )
        )
    X = pd.concat(pieces).reset_index().set_index(["timestamp", "symbol"]).sort_index()
    decision = pd.Series(
        X.index.get_level_values("timestamp") + pd.Timedelta(days=1), index=X.index
    )
    unused = pd.Series(np.nan, index=X.index)
    panel = Panel(X.astype(np.float64), unused, unused, decision, decision)
    return bars, panel, closes


def _config(kind: str = "direction", **model: object) -> AppConfig:
    settings = {
        "hidden_size": 8,
        "epochs": 8,
        "lookback": 3,
        "batch_size": 64,
        "early_stopping_rounds": 3,
        "learning_rate": 0.01,
    } | model
    return AppConfig(
        model=ModelConfig(device="cpu", deep=DeepConfig.model_validate(settings)),
        train=TrainConfig(multi_task_model="gru"),
        labels=LabelsConfig(kind=kind, **CLOSE_TO_CLOSE),
    )


def _splitter() -> PurgedWalkForward:
    return PurgedWalkForward(
        unit="bars", train_bars=200, validation_bars=50, test_bars=50, embargo_bars=0
    )


@pytest.mark.parametrize("kind", ["direction", "cross_sectional"])
def test_horizon_labels_match_closes_computed_by_hand(kind: str) -> None:
    bars, panel, closes = _market(signal_lag=1)
    labels = horizon_labels(panel, bars, Interval.D1, LabelsConfig(kind=kind, **CLOSE_TO_CLOSE))
    assert list(labels.target.columns) == list(MULTI_TASK_HORIZONS)
    stamps = bars["S0"].index
    for h in MULTI_TASK_HORIZONS:
        # log(close[t+h] / close[t]) per symbol, NaN for the last h bars.
        returns = pd.DataFrame(
            {
                s: np.concatenate([np.log(c[h:] / c[:-h]), np.full(h, np.nan)])
                for s, c in closes.items()
            },
            index=stamps,
        )
        if kind == "direction":
            expected = (returns > 0).astype(float).where(returns.notna())
        else:
            expected = returns.gt(returns.median(axis=1), axis=0).astype(float)
            expected = expected.where(returns.notna())
        for s in closes:
            got = labels.target[h].xs(s, level="symbol")
            np.testing.assert_array_equal(got.to_numpy(), expected[s].to_numpy())
            np.testing.assert_allclose(
                labels.forward_return[h].xs(s, level="symbol").to_numpy(),
                returns[s].to_numpy(),
                rtol=1e-12,
            )
        # A label at bar t is known at the close of bar t + h (daily bars close a day later).
        end = labels.end[h].xs("S0", level="symbol")
        known = returns["S0"].notna().to_numpy()
        expected_end = stamps[h:] + pd.Timedelta(days=1)
        assert (pd.DatetimeIndex(end[known]) == expected_end).all()
        assert end[~known].isna().all()
    # The longest known label decides how long a row must stay out of training.
    longest = labels.longest_end.xs("S0", level="symbol")
    assert (longest.iloc[: N_BARS - 21] == labels.end[21].xs("S0", level="symbol").iloc[:-21]).all()
    assert (longest.iloc[-21:-10] == labels.end[10].xs("S0", level="symbol").iloc[-21:-10]).all()
    assert pd.isna(longest.iloc[-1])


@pytest.mark.parametrize("kind", ["direction", "cross_sectional"])
@pytest.mark.parametrize("horizon", [5, 21])
def test_horizon_labels_equal_build_panels_target_at_its_horizon(kind: str, horizon: int) -> None:
    # The run's own panel (default next-open to open prices) is an independent reference.
    bars, _, _ = _market(signal_lag=1)
    config = LabelsConfig(kind=kind, horizon=horizon)
    panel = build_panel(bars, Interval.D1, config, ["ret_log_1"], min_history=10)
    labels = horizon_labels(panel, bars, Interval.D1, config)
    np.testing.assert_array_equal(labels.target[horizon].to_numpy(), panel.target.to_numpy())
    pd.testing.assert_series_equal(labels.end[horizon], panel.end, check_names=False)
    np.testing.assert_allclose(
        labels.forward_return[horizon].to_numpy(), panel.forward_return.to_numpy(), rtol=1e-12
    )


class _Recording:
    """A splitter that remembers the label ends it was given and the folds it yielded."""

    def __init__(self, inner: PurgedWalkForward) -> None:
        self.inner = inner
        self.end: pd.Series | None = None
        self.folds: list[Fold] = []

    def split(self, start: pd.Series, end: pd.Series) -> Iterator[Fold]:
        self.end = end
        self.folds = list(self.inner.split(start, end))
        return iter(self.folds)


class _Constant:
    """A stand-in multi-task model: records its training labels, predicts one half."""

    classes_ = np.array([0.0, 1.0])

    def __init__(self, seen: list[npt.NDArray[np.float64]]) -> None:
        self.seen = seen

    def fit(
        self,
        X: npt.NDArray[np.float64],
        y: npt.NDArray[np.float64],
        *,
        sample_weight: npt.NDArray[np.float64] | None = None,
        eval_set: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]] | None = None,
    ) -> Self:
        self.seen.append(y)
        return self

    def predict_proba_tasks(self, X: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.full((len(X), len(MULTI_TASK_HORIZONS), 2), 0.5)


def _overlapping_training_rows(labels: HorizonLabels, folds: list[Fold]) -> int:
    """Count fitted rows whose 21-bar label ends after their fold's test block starts (a
    label known exactly at the block's first decision time does not overlap it)."""
    end21 = pd.DatetimeIndex(labels.end[21])
    count = 0
    for fold in folds:
        rows = np.concatenate([fold.train, fold.validation])
        ends = end21[rows]
        count += int((~ends.isna() & (ends > fold.test_start)).sum())
    return count


def test_purging_uses_each_rows_longest_label_end() -> None:
    bars, panel, _ = _market(signal_lag=1)
    labels = horizon_labels(
        panel, bars, Interval.D1, LabelsConfig(kind="direction", **CLOSE_TO_CLOSE)
    )
    splitter = _Recording(_splitter())
    seen: list[npt.NDArray[np.float64]] = []
    result = multi_task_walk_forward(panel, labels, splitter, lambda fold: _Constant(seen))
    assert splitter.end is not None
    pd.testing.assert_series_equal(splitter.end, labels.longest_end)
    assert result.folds == len(splitter.folds) == len(seen) == 5
    end21 = pd.DatetimeIndex(labels.end[21])
    starts = pd.DatetimeIndex(panel.start)
    for fold, y in zip(splitter.folds, seen, strict=True):
        # Training rows' 21-bar labels are known by the validation block's first decision,
        # validation rows' by the test block's: no fitted label reaches into the next block.
        first_validation = starts[fold.validation].min()
        assert (end21[fold.train].dropna() <= first_validation).all()
        assert (end21[fold.validation].dropna() <= fold.test_start).all()
        assert y.shape == (len(fold.train), len(MULTI_TASK_HORIZONS))
    assert _overlapping_training_rows(labels, splitter.folds) == 0
    # The same splitter fed the 1-bar ends keeps rows whose 21-bar label reaches the test
    # block: purging by a shorter horizon leaks.
    short = list(_splitter().split(panel.start, labels.end[1]))
    assert _overlapping_training_rows(labels, short) > 0


def test_a_signal_planted_at_one_bar_is_found_at_one_bar() -> None:
    bars, panel, _ = _market(signal_lag=1)
    report = multi_task_report(panel, bars, Interval.D1, _config(), _splitter(), seed=3)
    assert list(report.columns) == list(REPORT_COLUMNS)
    assert report["horizon"].tolist() == list(MULTI_TASK_HORIZONS)
    assert (report["model"] == "gru").all() and (report["folds"] == 5).all()
    auc = report.set_index("horizon")["auc"]
    # The 1-bar return is 0.8 signal + 0.6 noise (Bayes AUC near 0.8); at 21 bars the signal
    # is one of 21 daily moves.
    assert auc[1] > 0.75
    assert auc[1] > auc[5] > 0.5
    assert auc[1] > auc[21] + 0.15
    ic = report.set_index("horizon")["ic"]
    assert ic[1] > 0.3 and ic[1] > ic[21]
    # 5 test blocks of 50 bars x 6 symbols; the last bars' long labels are not known yet.
    assert (report["oos_rows"] == 5 * 50 * N_SYMBOLS).all()
    rows = report.set_index("horizon")["labelled_rows"]
    assert rows[1] == 5 * 50 * N_SYMBOLS - N_SYMBOLS
    assert rows[21] == 5 * 50 * N_SYMBOLS - 21 * N_SYMBOLS
    again = multi_task_report(panel, bars, Interval.D1, _config(), _splitter(), seed=3)
    pd.testing.assert_frame_equal(report, again)


def test_cross_sectional_targets_train_too() -> None:
    bars, panel, _ = _market(signal_lag=1, seed=1)
    report = multi_task_report(
        panel, bars, Interval.D1, _config("cross_sectional", lookback=1), _splitter(), seed=0
    )
    auc = report.set_index("horizon")["auc"]
    assert auc[1] > 0.7 and auc[1] > auc[21]


def test_switched_off_or_unsupported_settings() -> None:
    bars, panel, _ = _market(signal_lag=1)
    off = AppConfig()
    empty = multi_task_report(panel, bars, Interval.D1, off, _splitter(), seed=0)
    assert empty.empty and list(empty.columns) == list(REPORT_COLUMNS)
    lightgbm = AppConfig(train=TrainConfig(multi_task_model="lightgbm"))
    with pytest.raises(ConfigError, match="not a PyTorch sequence model"):
        multi_task_report(panel, bars, Interval.D1, lightgbm, _splitter(), seed=0)
    barrier = AppConfig(
        train=TrainConfig(multi_task_model="gru"), labels=LabelsConfig(kind="triple_barrier")
    )
    with pytest.raises(ConfigError, match="cross_sectional and direction"):
        multi_task_report(panel, bars, Interval.D1, barrier, _splitter(), seed=0)
