"""Ensembles over out-of-fold predictions: averaging, weights, stacking, agreement."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from alphaforge.models.ensemble import InSamplePredictionError, StackingEnsemble
from alphaforge.validation.splits import Fold, PurgedWalkForward

# ---------------------------------------------------------------- stacking

N_BLOCK = 400
N_FOLDS = 6  # block 0 is only ever trained on; blocks 1..5 are predicted


def _planted(seed: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Signal feature, noise features and binary labels with P(up) = sigmoid(1.5 x)."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=(n, 1))
    noise = rng.normal(size=(n, 3))
    p = 1.0 / (1.0 + np.exp(-1.5 * signal[:, 0]))
    y = (rng.uniform(size=n) < p).astype(np.float64)
    return signal, noise, y


def _expanding_folds(n_blocks: int, block: int) -> list[Fold]:
    """Expanding walk-forward: fit on every earlier block, predict the next one."""
    folds = []
    for j in range(1, n_blocks):
        folds.append(
            Fold(
                number=j - 1,
                train=np.arange(0, j * block, dtype=np.int64),
                validation=np.empty(0, dtype=np.int64),
                test=np.arange(j * block, (j + 1) * block, dtype=np.int64),
                test_start=pd.Timestamp("2020-01-01", tz="UTC") + pd.Timedelta(days=30 * j),
                test_end=pd.Timestamp("2020-01-01", tz="UTC") + pd.Timedelta(days=30 * (j + 1)),
            )
        )
    return folds


def _oof(features: list[np.ndarray], y: np.ndarray, folds: list[Fold]) -> list[np.ndarray]:
    """Out-of-fold probabilities of one logistic regression per feature matrix."""
    out = []
    for X in features:
        proba = np.full((len(y), 2), np.nan)
        for fold in folds:
            model = LogisticRegression().fit(X[fold.train], y[fold.train])
            proba[fold.test] = model.predict_proba(X[fold.test])
        out.append(proba)
    return out


def _reference(C: float) -> LogisticRegression:
    """scikit-learn's logistic regression, solved tightly, as the binary reference."""
    return LogisticRegression(C=C, tol=1e-10, max_iter=10_000)


def _log_loss(proba: np.ndarray, y: np.ndarray) -> float:
    p = np.clip(proba[np.arange(len(y)), y.astype(int)], 1e-15, 1.0)
    return float(-np.mean(np.log(p)))


def test_stacking_trusts_the_informative_model_over_the_noise_model() -> None:
    n = N_BLOCK * N_FOLDS
    signal, noise, y = _planted(0, n + 1000)
    folds = _expanding_folds(N_FOLDS, N_BLOCK)
    oof = _oof([signal[:n], noise[:n]], y[:n], folds)
    stack = StackingEnsemble(C=1.0).fit(oof, y[:n], folds=folds)
    informative, useless = stack.coef_
    assert informative == pytest.approx(1.0, abs=0.25)  # a calibrated model is trusted as is
    assert abs(useless) < 0.5 * informative
    # What each model moves the combined log-odds by, row to row.
    moves = [
        np.std(w * np.log(p[N_BLOCK:, 1] / p[N_BLOCK:, 0]))
        for w, p in zip(stack.coef_, oof, strict=True)
    ]
    assert moves[0] > 10 * moves[1]
    # The nested time split: the meta-learner's own OOF rows beat the noise model.
    evaluation = stack.evaluation_
    assert evaluation.folds == N_FOLDS - 2
    assert evaluation.rows == (N_FOLDS - 2) * N_BLOCK
    assert evaluation.meta_log_loss < evaluation.base_log_loss[1] - 0.05
    assert evaluation.base_log_loss[1] == pytest.approx(math.log(2), abs=0.02)
    # Held-out rows after the last fold: base models refit on all rows, then stacked.
    test = np.arange(n, n + 1000)
    base = [LogisticRegression().fit(X[:n], y[:n]).predict_proba(X[test]) for X in (signal, noise)]
    stacked = stack.predict_proba(base)
    np.testing.assert_allclose(stacked.sum(axis=1), 1.0, atol=1e-12)
    assert _log_loss(stacked, y[test]) < _log_loss(base[1], y[test]) - 0.05
    assert stack.predict(base).shape == (1000,)


def test_nested_evaluation_fits_each_fold_on_earlier_oof_rows_only() -> None:
    n = N_BLOCK * 4
    signal, noise, y = _planted(1, n)
    folds = _expanding_folds(4, N_BLOCK)
    oof = _oof([signal, noise], y, folds)
    stack = StackingEnsemble(C=0.5).fit(oof, y, folds=folds)
    logit = np.column_stack([np.log(p[:, 1] / p[:, 0]) for p in oof])
    # Rows of the first predicted block have no earlier OOF rows: the evaluation skips them.
    assert np.isnan(stack.oof_proba_[: 2 * N_BLOCK]).all()
    for j in (2, 3):
        earlier = np.arange(N_BLOCK, j * N_BLOCK)
        block = np.arange(j * N_BLOCK, (j + 1) * N_BLOCK)
        reference = _reference(0.5).fit(logit[earlier], y[earlier])
        np.testing.assert_allclose(
            stack.oof_proba_[block], reference.predict_proba(logit[block]), atol=1e-6
        )
    # The final meta-learner uses every OOF row, and its formula matches scikit-learn's.
    rows = np.arange(N_BLOCK, n)
    final = _reference(0.5).fit(logit[rows], y[rows])
    np.testing.assert_allclose(stack.coef_, final.coef_[0], atol=1e-5)
    np.testing.assert_allclose(stack.intercept_, [0.0, final.intercept_[0]], atol=1e-5)
    np.testing.assert_allclose(
        stack.predict_proba(oof)[rows], final.predict_proba(logit[rows]), atol=1e-6
    )


def test_label_end_purges_meta_training_rows_overlapping_the_predicted_fold() -> None:
    n = N_BLOCK * 4
    signal, noise, y = _planted(2, n)
    folds = _expanding_folds(4, N_BLOCK)
    oof = _oof([signal, noise], y, folds)
    # Give each row a decision time inside its block; the last 50 rows of every block carry
    # labels that end after the next block starts.
    block_of = np.arange(n) // N_BLOCK
    start = pd.Timestamp("2020-01-01", tz="UTC") + pd.to_timedelta(30 * block_of, unit="D")
    end = start + pd.Timedelta(days=1)
    late = (np.arange(n) % N_BLOCK) >= N_BLOCK - 50
    end = end.where(~late, start + pd.Timedelta(days=45))
    stack = StackingEnsemble().fit(oof, y, folds=folds, label_end=pd.DatetimeIndex(end))
    logit = np.column_stack([np.log(p[:, 1] / p[:, 0]) for p in oof])
    # Fold 3 (rows 1200..1599) may use blocks 1 and 2, minus block 2's last 50 rows; block 1's
    # late labels end before block 3 starts and stay.
    earlier = np.arange(N_BLOCK, 3 * N_BLOCK)
    earlier = earlier[~((block_of[earlier] == 2) & late[earlier])]
    block = np.arange(3 * N_BLOCK, n)
    reference = _reference(1.0).fit(logit[earlier], y[earlier])
    np.testing.assert_allclose(
        stack.oof_proba_[block], reference.predict_proba(logit[block]), atol=1e-6
    )


def test_stacking_refuses_in_sample_predictions() -> None:
    n = N_BLOCK * 4
    signal, noise, y = _planted(3, n)
    folds = _expanding_folds(4, N_BLOCK)
    oof = _oof([signal, noise], y, folds)
    # A "fold" that trained on everything and scored its own rows: in-sample predictions.
    everything = np.arange(n, dtype=np.int64)
    in_sample = [
        Fold(
            number=f.number,
            train=everything,
            validation=f.validation,
            test=f.test,
            test_start=f.test_start,
            test_end=f.test_end,
        )
        for f in folds
    ]
    with pytest.raises(InSamplePredictionError, match="in-sample"):
        StackingEnsemble().fit(oof, y, folds=in_sample)
    # Validation rows are fitted rows too.
    leaky = [
        Fold(
            number=f.number,
            train=f.train,
            validation=f.test,
            test=f.test,
            test_start=f.test_start,
            test_end=f.test_end,
        )
        for f in folds
    ]
    with pytest.raises(InSamplePredictionError):
        StackingEnsemble().fit(oof, y, folds=leaky)
    # The same row predicted twice cannot be described by one OOF matrix.
    with pytest.raises(InSamplePredictionError, match="exactly one fold"):
        StackingEnsemble().fit(oof, y, folds=[folds[0], folds[1], folds[1]])
    assert issubclass(InSamplePredictionError, ValueError)


def test_stacking_needs_folds_for_its_own_out_of_sample_evaluation() -> None:
    n = N_BLOCK * 2
    signal, noise, y = _planted(4, n)
    folds = _expanding_folds(2, N_BLOCK)
    oof = _oof([signal, noise], y, folds)
    with pytest.raises(ValueError, match="min_train_folds"):
        StackingEnsemble().fit(oof, y, folds=folds)
    with pytest.raises(ValueError, match="folds must list"):
        StackingEnsemble().fit(oof, y, folds=[])
    five = _expanding_folds(4, N_BLOCK // 2)
    with pytest.raises(ValueError, match="time order"):
        StackingEnsemble().fit(oof, y, folds=[five[1], five[0], five[2]])


def test_rows_outside_every_test_block_are_never_used() -> None:
    n = N_BLOCK * 4
    signal, noise, y = _planted(5, n)
    folds = _expanding_folds(4, N_BLOCK)
    oof = _oof([signal, noise], y, folds)
    baseline = StackingEnsemble().fit(oof, y, folds=folds)
    # Fill block 0 (never a test row) with in-sample-looking, perfectly confident values.
    poisoned = [p.copy() for p in oof]
    for p in poisoned:
        p[:N_BLOCK, 1] = y[:N_BLOCK]
        p[:N_BLOCK, 0] = 1 - y[:N_BLOCK]
    again = StackingEnsemble().fit(poisoned, y, folds=folds)
    np.testing.assert_array_equal(again.coef_, baseline.coef_)


def test_multiclass_stacking() -> None:
    rng = np.random.default_rng(6)
    n_block, n_blocks = 300, 5
    n = n_block * n_blocks
    x = rng.normal(size=(n, 2))
    logits = np.column_stack([-1.5 * x[:, 0], np.zeros(n), 1.5 * x[:, 0]])
    truth = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(3, p=row) for row in truth], dtype=np.float64)
    folds = _expanding_folds(n_blocks, n_block)
    oof = []
    for X in (x[:, :1], x[:, 1:]):
        proba = np.full((n, 3), np.nan)
        for fold in folds:
            model = LogisticRegression().fit(X[fold.train], y[fold.train])
            proba[fold.test] = model.predict_proba(X[fold.test])
        oof.append(proba)
    stack = StackingEnsemble().fit(oof, y, folds=folds)
    assert stack.coef_.shape == (2,)
    assert stack.intercept_.shape == (3,)
    informative, useless = stack.coef_
    assert informative == pytest.approx(1.0, abs=0.25)
    assert abs(useless) < 0.5 * informative
    rows = np.arange(n_block, n)
    combined = stack.predict_proba([p[rows] for p in oof])
    np.testing.assert_allclose(combined.sum(axis=1), 1.0, atol=1e-12)
    # Independent: the weighted geometric mean of the models' distributions, renormalised.
    scores = sum(w * np.log(p[rows]) for w, p in zip(stack.coef_, oof, strict=True))
    scores = scores + stack.intercept_
    expected = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(combined, expected, atol=1e-12)
    assert stack.evaluation_.meta_log_loss < stack.evaluation_.base_log_loss[1]


def test_stacking_save_and_load_round_trip(tmp_path: Path) -> None:
    n = N_BLOCK * 4
    signal, noise, y = _planted(7, n)
    folds = _expanding_folds(4, N_BLOCK)
    oof = _oof([signal, noise], y, folds)
    stack = StackingEnsemble(C=0.3, features="proba").fit(oof, y, folds=folds)
    stack.save(tmp_path)
    loaded = StackingEnsemble.load(tmp_path)
    rows = np.arange(N_BLOCK, n)
    new = [p[rows] for p in oof]
    np.testing.assert_array_equal(loaded.predict_proba(new), stack.predict_proba(new))
    assert loaded.C == 0.3
    assert loaded.features == "proba"
    np.testing.assert_array_equal(loaded.coef_, stack.coef_)
    with pytest.raises(ValueError, match="expected 2 models"):
        loaded.predict_proba(new[:1])


def test_folds_from_the_purged_walk_forward_feed_the_stack() -> None:
    n = 520  # business days, about two years
    start = pd.DatetimeIndex(pd.bdate_range("2021-01-04", periods=n, tz="UTC"))
    end = pd.DatetimeIndex(start + pd.Timedelta(days=7))  # a five-bar label
    signal, noise, y = _planted(8, n)
    splitter = PurgedWalkForward(train_months=6, validation_months=1, test_months=2, embargo_bars=5)
    folds = list(splitter.split(pd.Series(start), pd.Series(end)))
    assert len(folds) >= 5
    oof = _oof([signal, noise], y, folds)
    stack = StackingEnsemble().fit(oof, y, folds=folds, label_end=end)
    tested = np.concatenate([f.test for f in folds])
    assert np.isnan(stack.oof_proba_[: folds[1].test[0]]).all()
    assert stack.evaluation_.rows == len(tested) - len(folds[0].test)
    assert stack.coef_[0] > abs(stack.coef_[1])
