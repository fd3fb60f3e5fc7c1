"""The trial ledger: recording, reopening, concurrent writers, idempotence, trial counts, and
the deflated Sharpe ratio and PBO inputs it feeds."""

from __future__ import annotations

import math
import multiprocessing
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from alphaforge.validation.ledger import (
    TrialLedger,
    config_hash,
    default_ledger_path,
    deflated_sharpe_from_ledger,
)
from alphaforge.validation.overfitting import probability_of_backtest_overfitting
from alphaforge.validation.stats import deflated_sharpe_ratio, probabilistic_sharpe_ratio

# The ledger stores nanosecond stamps; pandas 3 builds microsecond ranges by default.
_INDEX = pd.date_range("2024-01-01", periods=60, freq="D", tz="UTC").as_unit("ns")


def _returns(seed: int, mean: float = 0.0, n: int = 60) -> pd.Series:
    return pd.Series(np.random.default_rng(seed).normal(mean, 0.01, n), index=_INDEX[:n])


def _record(ledger: TrialLedger, i: int, *, seed: int = 0, experiment: str = "exp") -> str:
    return ledger.record(
        experiment=experiment,
        config={"model": "lgbm", "learning_rate": 0.01 * (i + 1), "leaves": 31},
        kind="search",
        seed=seed,
        code_version="abc123",
        metrics={"auc": 0.5 + i / 100},
        returns=_returns(i),
    )


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[TrialLedger]:
    with TrialLedger(default_ledger_path(tmp_path)) as opened:
        yield opened


# --- hashing ----------------------------------------------------------------------------------


def test_config_hash_is_stable_and_order_free() -> None:
    a = {"model": "lgbm", "params": {"lr": 0.1, "depth": 3}, "features": ("a", "b")}
    b = {"features": ["a", "b"], "params": {"depth": 3.0, "lr": 0.1}, "model": "lgbm"}
    assert config_hash(a) == config_hash(b)
    assert config_hash(a) != config_hash({**a, "params": {"lr": 0.1, "depth": 4}})
    # A fixed value, so a change of the canonical form (which would split old and new trials
    # of one configuration) is caught.
    assert config_hash({"x": 1}) == (
        "5041bf1f713df204784353e82f6a4a535931cb64f1f4b4a5aeaffcb720918b22"
    )


def test_config_hash_rejects_unknown_types() -> None:
    with pytest.raises(ValueError, match="cannot hash"):
        config_hash({"f": object()})


# --- record and read back ---------------------------------------------------------------------


def test_record_and_reopen(tmp_path: Path) -> None:
    path = default_ledger_path(tmp_path)
    assert path == tmp_path / "ledger" / "trial_ledger.sqlite"
    when = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    with TrialLedger(path) as ledger:
        assert ledger.journal_mode == "wal"
        digest = ledger.record(
            experiment="exp",
            config={"a": 1},
            kind="manual",
            seed=7,
            code_version="v1",
            metrics={"sharpe": 0.1},
            returns=_returns(1),
            evaluated_at=when,
        )
    with TrialLedger(path) as reopened:
        (trial,) = reopened.trials("exp")
    assert trial.config_hash == digest == config_hash({"a": 1})
    assert (trial.kind, trial.seed, trial.code_version) == ("manual", 7, "v1")
    assert trial.config == {"a": 1}
    assert trial.metrics == {"sharpe": 0.1}
    assert trial.evaluated_at == when
    assert trial.n_records == 1
    assert trial.returns is not None
    pd.testing.assert_series_equal(trial.returns, _returns(1), check_freq=False)


def test_naive_returns_index_is_read_as_utc(ledger: TrialLedger) -> None:
    naive = _returns(2)
    naive.index = naive.index.tz_localize(None)
    ledger.record(experiment="e", config={"a": 1}, kind="search", seed=0, code_version="v",
                  returns=naive.iloc[::-1])  # fmt: skip
    (trial,) = ledger.trials("e")
    assert trial.returns is not None
    assert trial.returns.index.tz is not None
    pd.testing.assert_series_equal(trial.returns, _returns(2), check_freq=False)


def test_bad_records_raise(ledger: TrialLedger) -> None:
    with pytest.raises(ValueError, match="kind"):
        ledger.record(experiment="e", config={}, kind="other", seed=0, code_version="v")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="DatetimeIndex"):
        ledger.record(experiment="e", config={}, kind="search", seed=0, code_version="v",
                      returns=pd.Series([0.1, 0.2]))  # fmt: skip
    with pytest.raises(ValueError, match="timezone"):
        ledger.record(experiment="e", config={}, kind="search", seed=0, code_version="v",
                      evaluated_at=datetime(2025, 1, 1))  # fmt: skip


# --- idempotence and counting -----------------------------------------------------------------


def test_re_recording_updates_instead_of_duplicating(ledger: TrialLedger) -> None:
    _record(ledger, 0)
    first = ledger.trials("exp")[0]
    ledger.record(
        experiment="exp",
        config={"leaves": 31, "learning_rate": 0.01, "model": "lgbm"},  # same, reordered
        kind="manual",
        seed=0,
        code_version="def456",
        metrics={"auc": 0.6},
    )
    (trial,) = ledger.trials("exp")
    assert ledger.n_trials("exp") == 1
    assert trial.n_records == 2
    assert (trial.kind, trial.code_version, trial.metrics) == ("manual", "def456", {"auc": 0.6})
    assert trial.first_recorded == first.first_recorded
    # Returns were not given again: the stored ones are kept.
    assert trial.returns is not None
    pd.testing.assert_series_equal(trial.returns, _returns(0), check_freq=False)


def test_n_trials_counts_distinct_configurations(ledger: TrialLedger) -> None:
    for i in range(5):
        _record(ledger, i)
    for i in range(3):
        _record(ledger, i)  # identical re-runs
        _record(ledger, i, seed=1)  # another seed of the same configuration
    _record(ledger, 0, experiment="other")
    ledger.record(
        experiment="exp", config={"model": "rf"}, kind="variant", seed=0, code_version="v"
    )  # fmt: skip  (no returns: still a trial)
    assert ledger.n_trials("exp") == 6
    assert ledger.n_trials("exp", count_seeds=True) == 9
    assert ledger.n_trials("other") == 1
    assert ledger.n_trials("missing") == 0
    assert len(ledger.trials("exp")) == 9
    assert len(ledger.trials("exp", kind="variant")) == 1
    assert ledger.experiments() == ["exp", "other"]


def test_a_configuration_with_another_ones_returns_is_not_a_new_trial(
    ledger: TrialLedger,
) -> None:
    first = _record(ledger, 0)
    twin = ledger.record(
        experiment="exp",
        config={"model": "ensemble", "of": ["lgbm"]},
        kind="variant",
        seed=0,
        code_version="v",
        returns=_returns(0),
    )
    assert twin == first
    assert ledger.n_trials("exp") == 1
    assert ledger.returns_matrix("exp").shape[1] == 1
    # The same returns in another experiment, or different returns, are recorded.
    ledger.record(experiment="other", config={"x": 1}, kind="variant", seed=0,
                  code_version="v", returns=_returns(0))  # fmt: skip
    ledger.record(experiment="exp", config={"x": 2}, kind="variant", seed=0,
                  code_version="v", returns=_returns(0) * 1.5)  # fmt: skip
    assert (ledger.n_trials("exp"), ledger.n_trials("other")) == (2, 1)


# --- matrices and Sharpe variance -------------------------------------------------------------


def test_returns_matrix_aligns_and_averages_seeds(ledger: TrialLedger) -> None:
    a = ledger.record(experiment="e", config={"a": 1}, kind="search", seed=0, code_version="v",
                      returns=_returns(1))  # fmt: skip
    ledger.record(experiment="e", config={"a": 1}, kind="search", seed=1, code_version="v",
                  returns=_returns(2))  # fmt: skip
    b = ledger.record(experiment="e", config={"a": 2}, kind="search", seed=0, code_version="v",
                      returns=_returns(3).iloc[10:])  # fmt: skip
    matrix = ledger.returns_matrix("e")
    assert list(matrix.columns) == [a, b]
    assert matrix.index.equals(_INDEX[10:])
    np.testing.assert_allclose(matrix[a], ((_returns(1) + _returns(2)) / 2).iloc[10:])
    np.testing.assert_allclose(matrix[b], _returns(3).iloc[10:])


def test_sharpe_variance_is_the_variance_of_per_period_sharpes(ledger: TrialLedger) -> None:
    sharpes = []
    for i in range(6):
        r = _returns(10 + i, mean=0.001 * i)
        ledger.record(experiment="e", config={"i": i}, kind="search", seed=0, code_version="v",
                      returns=r)  # fmt: skip
        x = r.to_numpy()
        sharpes.append(x.mean() / x.std(ddof=1))
    m = sum(sharpes) / 6
    expected = sum((s - m) ** 2 for s in sharpes) / 5
    assert ledger.sharpe_variance("e") == pytest.approx(expected, rel=1e-10)
    assert math.isnan(ledger.sharpe_variance("missing"))


def test_deflated_sharpe_from_ledger_uses_the_recorded_count(ledger: TrialLedger) -> None:
    best = _returns(99, mean=0.004)
    with pytest.raises(ValueError, match="no trials"):
        deflated_sharpe_from_ledger(ledger, "e", best)
    ledger.record(experiment="e", config={"i": 0}, kind="search", seed=0, code_version="v",
                  returns=best)  # fmt: skip
    # One trial: no selection, so the DSR is the PSR against 0.
    assert deflated_sharpe_from_ledger(ledger, "e", best) == pytest.approx(
        probabilistic_sharpe_ratio(best.to_numpy(), 0.0)
    )
    ledger.record(experiment="e", config={"i": 1}, kind="manual", seed=0, code_version="v")
    with pytest.raises(ValueError, match="fewer than two with returns"):
        deflated_sharpe_from_ledger(ledger, "e", best)
    for i in range(1, 20):
        ledger.record(experiment="e", config={"i": i}, kind="search", seed=0, code_version="v",
                      returns=_returns(i))  # fmt: skip
    expected = deflated_sharpe_ratio(
        best.to_numpy(), n_trials=20, sharpe_variance=ledger.sharpe_variance("e")
    )
    got = deflated_sharpe_from_ledger(ledger, "e", best)
    assert got == pytest.approx(expected)
    assert got < probabilistic_sharpe_ratio(best.to_numpy(), 0.0)


def test_returns_matrix_feeds_pbo(ledger: TrialLedger) -> None:
    for i in range(6):
        _record(ledger, i)
    matrix = ledger.returns_matrix("exp")
    assert matrix.shape == (60, 6)
    result = probability_of_backtest_overfitting(matrix, n_partitions=6)
    assert 0.0 <= result.pbo <= 1.0


# --- concurrency ------------------------------------------------------------------------------

_PER_WORKER = 100


def _writer(path: str, worker: int, go: Any) -> None:
    go.wait(60)  # start together: both open (and create) the new file at the same moment
    ledger = TrialLedger(path)
    try:
        for i in range(_PER_WORKER):
            # Half the configurations are private to this worker, half shared with the other.
            key = i if i % 2 == 0 else 1000 + worker * _PER_WORKER + i
            ledger.record(experiment="race", config={"k": key}, kind="search", seed=0,
                          code_version=f"w{worker}", metrics={"i": float(i)},
                          returns=_returns(key, n=20))  # fmt: skip
    finally:
        ledger.close()


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    # fork: the worker is a module-level function of a test module, which a spawned child
    # could not import under pytest's importlib mode. Each child opens its own engine.
    ctx = multiprocessing.get_context("fork")
    go = ctx.Event()
    workers = [ctx.Process(target=_writer, args=(str(path), w, go)) for w in range(2)]
    for p in workers:
        p.start()
    go.set()
    for p in workers:
        p.join(timeout=120)
    assert [p.exitcode for p in workers] == [0, 0]
    shared = _PER_WORKER // 2
    private = 2 * (_PER_WORKER - shared)
    with TrialLedger(path) as ledger:
        assert ledger.n_trials("race") == shared + private
        trials = ledger.trials("race")
    assert sum(t.n_records for t in trials) == 2 * _PER_WORKER
    assert sorted(t.n_records for t in trials).count(2) == shared
    # The file really is in WAL mode, as seen by a plain sqlite3 connection.
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
