"""Drift (PSI, hit-rate degradation), champion/challenger test, online boosting updates."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats
from sklearn.metrics import log_loss

from alphaforge.models import LightGBMClassifier
from alphaforge.models.champion import (
    TEST_NAME,
    check_unseen,
    compare_champion_challenger,
    record_decision,
    stationary_bootstrap_indices,
)
from alphaforge.models.drift import (
    PSI_SHIFT,
    PSI_STABLE,
    drift_report,
    feature_psi,
    hit_rate_degradation,
    population_stability_index,
    rolling_hit_rate,
)
from alphaforge.models.online import continue_training, n_trees
from alphaforge.models.registry_store import ModelRegistry

# ---------------------------------------------------------------- PSI


def test_psi_of_identical_samples_is_zero_and_of_same_distribution_small() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=5000)
    assert population_stability_index(x, x) == 0.0
    # Two samples of one law: E[PSI] ~ (bins - 1) (1/n1 + 1/n2) = 9 * 2 / 20000 (chi-square).
    psi = population_stability_index(rng.normal(size=20000), rng.normal(size=20000))
    assert psi < 0.005
    assert psi < PSI_STABLE


def test_psi_by_hand() -> None:
    # Reference 0..9 in 5 bins: edges at the 20/40/60/80 % quantiles 1.8, 3.6, 5.4, 7.2, so
    # each bin holds 2 of 10 values (p = 0.2). Recent: five 0s and five 9s -> q = 0.5, 0, 0,
    # 0, 0.5; the empty bins take epsilon.
    eps = 1e-4
    expected = 2 * (0.5 - 0.2) * math.log(0.5 / 0.2) + 3 * (eps - 0.2) * math.log(eps / 0.2)
    recent = [0.0] * 5 + [9.0] * 5
    got = population_stability_index(np.arange(10.0), recent, n_bins=5, epsilon=eps)
    assert got == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("shift", [0.25, 0.5, 1.0])
def test_psi_of_a_shifted_normal_matches_the_closed_form(shift: float) -> None:
    # Reference N(0, 1) in deciles: p_i = 0.1 between z_{i-1} and z_i = Phi^-1(i/10);
    # recent N(shift, 1) puts q_i = Phi(z_i - shift) - Phi(z_{i-1} - shift) there.
    z = np.concatenate([[-np.inf], stats.norm.ppf(np.arange(1, 10) / 10), [np.inf]])
    q = np.diff(stats.norm.cdf(z - shift))
    closed = float(np.sum((q - 0.1) * np.log(q / 0.1)))
    # Binning loses information: the binned PSI is below the J-divergence shift^2.
    assert closed < shift**2
    rng = np.random.default_rng(1)
    got = population_stability_index(rng.normal(size=200_000), rng.normal(shift, 1, 200_000))
    assert got == pytest.approx(closed, abs=0.004)


@settings(max_examples=60, deadline=None)
@given(
    ref=arrays(np.float64, st.integers(5, 80), elements=st.floats(-1e6, 1e6)),
    new=arrays(np.float64, st.integers(1, 80), elements=st.floats(-1e6, 1e6)),
    n_bins=st.integers(2, 12),
)
def test_psi_is_non_negative_and_zero_on_itself(
    ref: np.ndarray, new: np.ndarray, n_bins: int
) -> None:
    assert population_stability_index(ref, new, n_bins=n_bins) >= 0.0
    assert population_stability_index(ref, ref, n_bins=n_bins) == 0.0


def test_psi_ignores_nan_and_rejects_bad_settings() -> None:
    x = np.array([1.0, 2.0, np.nan, 3.0, 4.0])
    assert population_stability_index(x, x) == 0.0
    assert math.isnan(population_stability_index([np.nan], x))
    with pytest.raises(ValueError, match="n_bins"):
        population_stability_index(x, x, n_bins=1)


def test_feature_psi_and_drift_report_flag_the_shifted_feature() -> None:
    rng = np.random.default_rng(2)
    reference = pd.DataFrame({"stable": rng.normal(size=5000), "moved": rng.normal(size=5000)})
    recent = pd.DataFrame(
        {"stable": rng.normal(size=2000), "moved": rng.normal(1.0, 1.0, size=2000)}
    )
    psi = feature_psi(reference, recent)
    assert psi["stable"] < PSI_STABLE
    assert psi["moved"] > PSI_SHIFT
    report = drift_report(reference, recent)
    assert report.drifted_features == ("moved",)
    assert report.should_retrain
    assert "moved" in report.reasons[0]
    quiet = drift_report(reference, reference.iloc[:2000])
    assert not quiet.should_retrain
    assert quiet.reasons == ()
    with pytest.raises(ValueError, match="lacks"):
        feature_psi(reference, recent[["stable"]])


# ---------------------------------------------------------------- hit rate


def test_rolling_hit_rate_matches_pandas() -> None:
    hits = np.random.default_rng(3).random(50) < 0.6
    expected = pd.Series(hits.astype(float)).rolling(10).mean().to_numpy()
    np.testing.assert_allclose(rolling_hit_rate(hits, 10), expected, equal_nan=True)


def test_unresolved_hits_are_refused() -> None:
    with pytest.raises(ValueError, match="unresolved"):
        hit_rate_degradation([1.0, 0.0, np.nan], 0.5)
    assert hit_rate_degradation([1, 0, 1, 1], 0.5).hits == 3


def test_binomial_p_value_matches_a_direct_sum() -> None:
    hits = np.array([True] * 40 + [False] * 60)
    check = hit_rate_degradation(hits, 0.55, window=100, alpha=0.01)
    direct = sum(math.comb(100, k) * 0.55**k * 0.45 ** (100 - k) for k in range(41))
    assert check.p_value == pytest.approx(direct, rel=1e-9)
    assert (check.hits, check.window, check.recent) == (40, 100, 0.4)
    assert check.degraded  # P(X <= 40) ~ 0.0017


def test_hit_rate_drop_is_detected_and_stable_data_is_not() -> None:
    rng = np.random.default_rng(4)
    stable = rng.random(600) < 0.55
    dropped = np.concatenate([rng.random(400) < 0.55, rng.random(200) < 0.40])
    assert not hit_rate_degradation(stable, 0.55, window=200).degraded
    check = hit_rate_degradation(dropped, 0.55, window=200)
    assert check.degraded
    assert check.p_value < 1e-3
    rng_x = np.random.default_rng(5)
    frame = pd.DataFrame({"x": rng_x.normal(size=500)})
    report = drift_report(frame, frame, hits=dropped, baseline_hit_rate=0.55, window=200)
    assert report.should_retrain
    assert report.drifted_features == ()
    assert "hit rate" in report.reasons[0]


def test_hit_rate_false_alarm_rate_is_near_alpha() -> None:
    rng = np.random.default_rng(6)
    alarms = sum(
        hit_rate_degradation(rng.random(150) < 0.55, 0.55, window=150, alpha=0.05).degraded
        for _ in range(400)
    )
    # The exact binomial test is conservative: rate <= alpha (0.05), 400 draws (sd ~ 11).
    assert alarms <= 20 + 15


# ---------------------------------------------------------------- champion / challenger


def test_stationary_bootstrap_indices_have_the_asked_block_length() -> None:
    idx = stationary_bootstrap_indices(200, 300, 5.0, np.random.default_rng(0))
    assert idx.shape == (300, 200)
    assert idx.min() >= 0
    assert idx.max() < 200
    continues = idx[:, 1:] == (idx[:, :-1] + 1) % 200
    # A jump lands on the continuation by chance with probability 1/200.
    assert 1 - continues.mean() == pytest.approx(0.2 * (1 - 1 / 200), abs=0.01)


def _returns(seed: int, n: int = 500) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    market = rng.normal(0.0, 0.01, n)
    return market, rng.normal(0.0, 0.01, n)


def test_clearly_better_challenger_is_promoted() -> None:
    market, noise = _returns(0)
    champion = 0.0003 + market
    challenger = 0.003 + 0.5 * market + 0.8 * noise
    decision = compare_champion_challenger(champion, challenger, seed=1)
    assert decision.promote
    assert decision.p_value < 0.01
    assert decision.statistic == pytest.approx(
        challenger.mean() / challenger.std(ddof=1) - champion.mean() / champion.std(ddof=1)
    )
    assert decision.n_periods == 500
    assert decision.test == TEST_NAME
    # Same seed, same numbers.
    assert compare_champion_challenger(champion, challenger, seed=1) == decision


def test_equal_challenger_is_refused() -> None:
    market, noise = _returns(1)
    champion = 0.0005 + market
    identical = compare_champion_challenger(champion, champion.copy(), seed=2)
    assert not identical.promote
    assert identical.statistic == 0.0
    assert identical.p_value > 0.5
    # Same law, different draws: no evidence either way.
    twin = 0.0005 + noise
    decision = compare_champion_challenger(champion, twin, seed=2)
    assert not decision.promote
    assert decision.p_value > 0.05


def test_searching_many_challengers_costs_significance() -> None:
    rng = np.random.default_rng(7)
    champion = rng.normal(0.0005, 0.01, 300)
    tried = rng.normal(0.0005, 0.01, (300, 20))
    best = int(np.argmax(tried.mean(0) / tried.std(0, ddof=1)))
    alone = compare_champion_challenger(champion, tried[:, best], seed=3, n_bootstrap=999)
    joint = compare_champion_challenger(champion, tried, seed=3, n_bootstrap=999)
    assert joint.challenger_index == best
    assert joint.n_challengers == 20
    assert joint.statistic == pytest.approx(alone.statistic)
    assert joint.p_value > alone.p_value


def test_the_max_statistic_controls_data_snooping() -> None:
    # Ten challengers, all as good as the champion. Testing only the best one as if it were
    # the only one tried rejects far too often; the joint (max) test keeps its level.
    rng = np.random.default_rng(9)
    naive = joint = 0
    for i in range(100):
        champion = rng.normal(0.001, 0.01, 120)
        tried = rng.normal(0.001, 0.01, (120, 10))
        best = int(np.argmax(tried.mean(0) / tried.std(0, ddof=1)))
        naive += compare_champion_challenger(
            champion, tried[:, best], alpha=0.1, seed=i, n_bootstrap=199
        ).promote
        joint += compare_champion_challenger(
            champion, tried, alpha=0.1, seed=i, n_bootstrap=199
        ).promote
    # Level 0.1 over 100 comparisons: 10 expected (sd 3); allow bootstrap slack.
    assert joint <= 18
    assert naive >= 2 * joint
    assert naive >= 20


def test_bootstrap_test_false_positive_rate_is_controlled() -> None:
    rng = np.random.default_rng(8)
    rejections = 0
    for i in range(120):
        a, b = rng.normal(0.001, 0.01, (2, 120))
        rejections += compare_champion_challenger(a, b, alpha=0.1, n_bootstrap=199, seed=i).promote
    # Level 0.1 over 120 null comparisons: expect 12 (sd ~ 3.3); allow bootstrap slack.
    assert rejections <= 24


def test_comparison_checks_its_inputs() -> None:
    with pytest.raises(ValueError, match="match"):
        compare_champion_challenger(np.zeros(50), np.zeros(40))
    with pytest.raises(ValueError, match="too few"):
        compare_champion_challenger(np.zeros(5), np.zeros(5))
    with pytest.raises(ValueError, match="finite"):
        compare_champion_challenger(np.full(50, np.nan), np.zeros(50))


class _Tiny:
    def save(self, directory: Path) -> None:
        (directory / "model.txt").write_text("tiny")

    @classmethod
    def load(cls, directory: Path) -> _Tiny:
        return cls()


def test_decision_is_recorded_in_the_registry(tmp_path: Path) -> None:
    with ModelRegistry(tmp_path) as registry:
        common = {
            "feature_names": ["a"],
            "feature_set_version": "v",
            "data_start": "2020-01-01",
            "symbols": ["X"],
            "label": "l",
            "splitter": "s",
            "metrics": {},
            "seed": 0,
            "code_version": "c",
        }
        champ = registry.register(_Tiny(), name="m", data_end="2022-12-30", **common)  # type: ignore[arg-type]
        registry.promote("m", champ.version, reason="first")
        chall = registry.register(_Tiny(), name="m", data_end="2023-03-31", **common)  # type: ignore[arg-type]
        periods = pd.date_range("2023-04-03", periods=500, freq="B", tz="UTC")
        check_unseen(periods, champ, chall)
        with pytest.raises(ValueError, match="gap 5 days"):
            check_unseen(periods, champ, chall, gap=pd.Timedelta(days=5))
        with pytest.raises(ValueError, match="neither model trained on"):
            check_unseen(pd.date_range("2023-03-01", periods=50, freq="B"), champ, chall)

        market, noise = _returns(0)
        decision = compare_champion_challenger(
            0.0003 + market, 0.003 + 0.5 * market + noise, seed=1
        )
        record = record_decision(registry, "m", chall.version, decision)
        assert record.promoted
        assert record.previous_champion == champ.version
        assert record.numbers["p_value"] == decision.p_value
        assert record.numbers["test"] == TEST_NAME
        assert registry.get("m", "champion").version == chall.version

        refused = compare_champion_challenger(0.0003 + market, 0.0003 + market, seed=1)
        third = registry.register(_Tiny(), name="m", data_end="2023-03-31", **common)  # type: ignore[arg-type]
        assert not record_decision(registry, "m", third.version, refused).promoted
        assert registry.get("m", "champion").version == chall.version
        assert [d.promoted for d in registry.decisions("m")] == [True, True, False]


# ---------------------------------------------------------------- online updates


def _regime(seed: int, n: int, column: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = (X[:, column] + 0.3 * rng.normal(size=n) > 0).astype(np.float64)
    return X, y


def test_lightgbm_continuation_adds_trees_and_fits_the_new_data() -> None:
    X_old, y_old = _regime(0, 1500, column=0)
    X_new, y_new = _regime(1, 800, column=1)  # the relationship moved to another feature
    X_test, y_test = _regime(2, 800, column=1)
    model = LightGBMClassifier(
        n_estimators=40, learning_rate=0.1, num_leaves=7, min_child_samples=20, random_state=0
    ).fit(X_old, y_old)
    before = n_trees(model)
    proba_before = model.predict_proba(X_test)

    updated = continue_training(model, X_new, y_new, n_rounds=30)

    assert n_trees(updated) == before + 30
    assert updated.best_iteration_ == before + 30
    assert n_trees(model) == before  # the input is untouched
    np.testing.assert_array_equal(model.predict_proba(X_test), proba_before)
    # The old trees are kept as they were: the first `before` rounds score identically.
    old_raw = model.model_.booster_.predict(X_test, raw_score=True)
    new_raw_prefix = updated.model_.booster_.predict(X_test, raw_score=True, num_iteration=before)
    np.testing.assert_allclose(new_raw_prefix, old_raw)
    loss_before = log_loss(y_test, proba_before[:, 1])
    loss_after = log_loss(y_test, updated.predict_proba(X_test)[:, 1])
    assert loss_after < loss_before - 0.1


def test_continuation_rejects_bad_inputs() -> None:
    X, y = _regime(0, 300, column=0)
    model = LightGBMClassifier(n_estimators=5, min_child_samples=10, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        continue_training(model, X[:, :3], y, 5)
    with pytest.raises(ValueError, match="every class"):
        continue_training(model, X[:10], np.ones(10), 5)
    with pytest.raises(ValueError, match="never saw"):
        continue_training(model, X[:10], np.full(10, 2.0), 5)
    with pytest.raises(ValueError, match="n_rounds"):
        continue_training(model, X, y, 0)
    with pytest.raises(TypeError, match="LightGBM or XGBoost"):
        continue_training(object(), X, y, 5)


def test_xgboost_continuation_adds_trees_and_fits_the_new_data() -> None:
    xgb_models = pytest.importorskip("alphaforge.models.xgb")
    X_old, y_old = _regime(0, 1500, column=0)
    X_new, y_new = _regime(1, 800, column=1)
    X_test, y_test = _regime(2, 800, column=1)
    model = xgb_models.XGBoostModel(
        n_estimators=40, learning_rate=0.1, max_leaves=7, random_state=0, device="cpu"
    ).fit(X_old, y_old)
    before = n_trees(model)
    proba_before = model.predict_proba(X_test)
    updated = continue_training(model, X_new, y_new, n_rounds=30)
    assert n_trees(updated) == before + 30
    assert n_trees(model) == before
    np.testing.assert_array_equal(model.predict_proba(X_test), proba_before)
    loss_before = log_loss(y_test, proba_before[:, 1])
    assert log_loss(y_test, updated.predict_proba(X_test)[:, 1]) < loss_before - 0.1
