"""Ensembles over out-of-fold predictions: averaging, weights, stacking, agreement."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression

from alphaforge.models.ensemble import (
    InSamplePredictionError,
    StackingEnsemble,
    average_probabilities,
    model_agreement,
    performance_weights,
)
from alphaforge.validation.splits import Fold, PurgedWalkForward

# ---------------------------------------------------------------- averaging and weights


def test_average_probabilities_against_hand_computation() -> None:
    a = np.array([[0.2, 0.8], [0.6, 0.4]])
    b = np.array([[0.6, 0.4], [0.2, 0.8]])
    np.testing.assert_allclose(average_probabilities([a, b]), [[0.4, 0.6], [0.4, 0.6]])
    # Weights 1 and 3 rescale to 1/4 and 3/4: row 0 is 0.25*0.8 + 0.75*0.4 = 0.5 for class 1.
    np.testing.assert_allclose(
        average_probabilities([a, b], weights=[1.0, 3.0]), [[0.5, 0.5], [0.3, 0.7]]
    )
    with pytest.raises(ValueError, match="one weight per model"):
        average_probabilities([a, b], weights=[1.0])
    with pytest.raises(ValueError, match="non-negative"):
        average_probabilities([a, b], weights=[1.0, -1.0])
    with pytest.raises(ValueError, match="shape"):
        average_probabilities([a, b[:1]])


def test_average_propagates_nan_rows() -> None:
    a = np.array([[np.nan, np.nan], [0.5, 0.5]])
    out = average_probabilities([a, np.full((2, 2), 0.5)])
    assert np.isnan(out[0]).all()
    np.testing.assert_allclose(out[1], [0.5, 0.5])


def test_performance_weights_against_hand_computation() -> None:
    scores = [0.55, 0.60, 0.45]
    # Edges over AUC 0.5, clipped at 0: 0.05, 0.10, 0.
    np.testing.assert_allclose(
        performance_weights(scores, method="proportional"), [1 / 3, 2 / 3, 0.0]
    )
    e1, e2, e0 = math.exp(1.0), math.exp(2.0), 1.0  # edges / temperature 0.05
    total = e1 + e2 + e0
    np.testing.assert_allclose(
        performance_weights(scores, method="softmax", temperature=0.05),
        [e1 / total, e2 / total, e0 / total],
    )
    # No model beats chance: proportional falls back to equal weights.
    np.testing.assert_allclose(performance_weights([0.5, 0.4], method="proportional"), [0.5, 0.5])
    # An information coefficient has baseline 0.
    np.testing.assert_allclose(
        performance_weights([0.02, 0.06], method="proportional", baseline=0.0), [0.25, 0.75]
    )
    with pytest.raises(ValueError, match="finite"):
        performance_weights([0.6, float("nan")])
    with pytest.raises(ValueError, match="temperature"):
        performance_weights([0.6, 0.7], temperature=0.0)
    with pytest.raises(ValueError, match="method"):
        performance_weights([0.6, 0.7], method="best")  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(
    scores=st.lists(st.floats(0.3, 0.8), min_size=1, max_size=8),
    method=st.sampled_from(["softmax", "proportional"]),
    temperature=st.floats(0.001, 1.0),
)
def test_weights_are_a_distribution_ordered_like_the_scores(
    scores: list[float], method: str, temperature: float
) -> None:
    w = performance_weights(scores, method=method, temperature=temperature)  # type: ignore[arg-type]
    assert w.sum() == pytest.approx(1.0)
    assert (w >= 0).all()
    order = np.argsort(scores, kind="stable")
    assert (np.diff(w[order]) >= -1e-12).all()


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n_models=st.integers(1, 5),
    n_classes=st.integers(2, 4),
)
def test_weighted_average_rows_sum_to_one(seed: int, n_models: int, n_classes: int) -> None:
    rng = np.random.default_rng(seed)
    probas = [rng.dirichlet(np.ones(n_classes), 30) for _ in range(n_models)]
    weights = rng.uniform(0.0, 1.0, n_models) + 1e-3
    out = average_probabilities(probas, weights)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-12)
    # Independent: an explicit loop over models.
    expected = sum(w * p for w, p in zip(weights / weights.sum(), probas, strict=True))
    np.testing.assert_allclose(out, expected, atol=1e-12)


# ---------------------------------------------------------------- agreement


def test_model_agreement_three_class_hand_case() -> None:
    # Classes SELL=0, HOLD=1, BUY=2; four rows, three models.
    m1 = np.array([[0.6, 0.3, 0.1], [0.2, 0.2, 0.6], [0.1, 0.8, 0.1], [0.5, 0.4, 0.1]])
    m2 = np.array([[0.5, 0.4, 0.1], [0.1, 0.3, 0.6], [0.7, 0.2, 0.1], [0.1, 0.2, 0.7]])
    m3 = np.array([[0.2, 0.7, 0.1], [0.3, 0.3, 0.4], [0.1, 0.1, 0.8], [0.2, 0.6, 0.2]])
    ensemble = np.array([[0.5, 0.4, 0.1], [0.2, 0.2, 0.6], [0.3, 0.4, 0.3], [0.3, 0.3, 0.4]])
    # Directions: models (0,0,1), (2,2,2), (1,0,2), (0,2,1); ensemble 0, 2, 1, 2.
    np.testing.assert_allclose(model_agreement([m1, m2, m3], ensemble), [2 / 3, 1.0, 1 / 3, 1 / 3])


def test_model_agreement_binary_uses_p_up_above_half() -> None:
    up = [0.7, 0.4, 0.5]
    models = [
        np.column_stack([1 - np.array(u), np.array(u)])
        for u in ([0.7, 0.4, 0.5], [0.6, 0.6, 0.51], [0.2, 0.3, 0.49])
    ]
    ensemble = np.column_stack([1 - np.array(up), np.array(up)])
    # Ensemble directions: up, down, down (0.5 is not above one half).
    np.testing.assert_allclose(model_agreement(models, ensemble), [2 / 3, 2 / 3, 2 / 3])
    models[0][1] = np.nan
    assert np.isnan(model_agreement(models, ensemble)[1])


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


def test_multiclass_stacking_and_agreement() -> None:
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
    agreement = model_agreement([p[rows] for p in oof], combined)
    assert ((agreement >= 0) & (agreement <= 1)).all()
    assert set(np.round(agreement * 2, 9)) <= {0.0, 1.0, 2.0}
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
