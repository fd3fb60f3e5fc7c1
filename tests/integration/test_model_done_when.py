"""Issue 5, "Done when": the ensemble against the oracle, on noise, and against a leaky splitter.

Every test runs the real training pipeline (:func:`alphaforge.pipeline.train.train_panel`,
whose every model is fitted by purged walk-forward and whose ensemble averages their
out-of-fold scores) on a synthetic universe from :mod:`alphaforge.data.synthetic`.

1. Planted signal: the ensemble's out-of-sample AUC is within 0.02 of the oracle's on the same
   rows, and never above it by more than sampling noise.
2. Pure random walk: AUC in [0.48, 0.52] on at least 50,000 out-of-sample rows (slow test; a
   smaller always-run version uses the noise band of its own row count) and a deflated Sharpe
   ratio below 0.95 with the trial count read from a trial ledger.
3. A splitter built without purging is caught by the permuted-label control: its AUC rises
   above :func:`~alphaforge.pipeline.demo.control_auc_threshold`, while the purged splitter
   stays below. The other half of "both tests exist and fail on the bad version" is the split
   property test ``tests/property/test_splits.py::
   test_an_unpurged_splitter_breaks_the_label_end_invariant``.
4. A feature built to peek one bar ahead is flagged by the causality test
   ``tests/property/test_feature_causality.py::test_a_feature_that_peeks_ahead_is_flagged``
   (not repeated here).

AUC standard errors are Hanley and McNeil's (1982) for the class counts, inflated by
``sqrt(horizon)`` because overlapping ``horizon``-bar labels leave about one independent row
in ``horizon`` (the same rule as :func:`~alphaforge.pipeline.demo.control_auc_threshold`).
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from alphaforge.config import AppConfig
from alphaforge.core.types import AssetClass, Interval
from alphaforge.data.synthetic import (
    SyntheticMarket,
    SyntheticSpec,
    generate_market,
    random_walk_market,
)
from alphaforge.models.dataset import Panel, build_panel
from alphaforge.pipeline.demo import control_auc_threshold
from alphaforge.pipeline.train import ENSEMBLE, PanelRuns, permute_labels_in_blocks, train_panel
from alphaforge.validation import (
    PurgedWalkForward,
    TrialLedger,
    auc,
    deflated_sharpe_from_ledger,
    probabilistic_sharpe_ratio,
)

#: The ensemble under test: two boosted-tree models and a linear one, averaged.
MODELS = ["lightgbm", "xgboost", "logistic"]

#: Return and volatility features of the registry: what the planted reversal (a 5-bar return
#: scaled by recent volatility) is made of, so the models can learn it from little data.
RETURN_FEATURES = [
    "ret_log_1",
    "ret_log_2",
    "ret_log_3",
    "ret_log_5",
    "ret_log_10",
    "vol_std_5",
    "vol_std_20",
    "zscore_ret_20",
    "rsi_7",
    "roc_5",
]

#: Slowly varying, scale-free features of the registry whose values differ between symbols
#: and drift slowly in time: together they locate a row's (symbol, time), which is what lets a
#: tree model profit from labels that overlap across an unpurged fold boundary.
SLOW_FEATURES = ["dollar_volume_log_20", "vol_std_60", "dist_sma_200", "ret_log_252", "ret_log_60"]


def _config(
    *,
    models: list[str],
    labels: dict[str, Any] | None = None,
    features: list[str] | None = None,
    model: dict[str, Any] | None = None,
    walk_forward: dict[str, Any] | None = None,
) -> AppConfig:
    return AppConfig.model_validate(
        {
            "labels": labels or {},
            "features": {"names": features, "min_history": 60},
            "model": model
            or {
                "trees": {
                    "n_estimators": 100,
                    "learning_rate": 0.1,
                    "num_leaves": 7,
                    "min_child_samples": 200,
                    "early_stopping_rounds": 20,
                }
            },
            "walk_forward": walk_forward
            or {"train_months": 12, "validation_months": 3, "test_months": 6, "embargo_bars": 1},
            "portfolio": {"top_k": 3},
            "train": {"models": models},
        }
    )


def _panel(market: SyntheticMarket, config: AppConfig) -> Panel:
    return build_panel(
        market.bars,
        Interval.D1,
        config.labels,
        config.features.names,
        min_history=config.features.min_history,
    )


def auc_standard_error(value: float, n_pos: int, n_neg: int, horizon: int = 1) -> float:
    """Return the standard error of an AUC of ``value`` on ``n_pos`` positives and ``n_neg``
    negatives (Hanley and McNeil, 1982), inflated by ``sqrt(horizon)`` for labels that overlap
    over ``horizon`` bars."""
    q1 = value / (2.0 - value)
    q2 = 2.0 * value**2 / (1.0 + value)
    variance = (
        value * (1.0 - value) + (n_pos - 1) * (q1 - value**2) + (n_neg - 1) * (q2 - value**2)
    ) / (n_pos * n_neg)
    return math.sqrt(variance * horizon)


def test_auc_standard_error_matches_the_null_closed_form() -> None:
    # At AUC 0.5 with balanced classes the Mann-Whitney variance is (n1 + n0 + 1) / (12 n1 n0);
    # Hanley-McNeil's approximation gives (1/4 + (n - 1) / 12 + (n - 1) / 12) / n^2 per side.
    n = 1000
    exact_null = math.sqrt((2 * n + 1) / (12.0 * n * n))
    assert auc_standard_error(0.5, n, n) == pytest.approx(exact_null, rel=1e-3)
    assert auc_standard_error(0.5, n, n, horizon=4) == pytest.approx(2 * exact_null, rel=1e-3)


# ---------------------------------------------------------------------------------------------
# 1. Planted signal: the ensemble reaches the oracle, and does not beat it.
# ---------------------------------------------------------------------------------------------

#: 5 % of daily return variance is predictable: the oracle's AUC is about 0.60, so "within
#: 0.02" asks the ensemble to recover at least four fifths of the oracle's edge over chance.
PLANTED = SyntheticSpec(
    n_symbols=20,
    n_sectors=4,
    start=date(2012, 1, 1),
    end=date(2016, 12, 31),
    interval=Interval.D1,
    asset_class=AssetClass.STOCK,
    signal_strength=0.05,
)


def _cross_sectional_rank(score: pd.Series) -> pd.Series:
    """Return each row's percentile rank among the symbols of its own bar."""
    ranked: pd.Series = score.groupby(level="timestamp").rank(pct=True)
    return ranked


def test_the_ensemble_reaches_the_oracle_and_never_beats_it() -> None:
    """The ensemble's AUC is within 0.02 of the oracle's, and at most 3 standard errors above.

    Label: the next close-to-close log return (1 bar, ``entry=close``, ``exit=close``), whose
    conditional mean given everything known at the decision time (bar t's close) is exactly the
    generator's ``expected_return[t]``; the target is "beats the bar's cross-sectional median".
    A 5-bar label would not do: its conditional mean is not ``expected_return[t]`` (later bars'
    means are partly predictable at t), so a model could legitimately beat that "oracle".

    The oracle score is ``expected_return`` at each row's own bar, ranked cross-sectionally
    like the target. Because the target is a within-bar comparison (every bar holds half
    positives), the like-for-like comparison ranks the ensemble's scores within each bar too:
    a pooled AUC of raw scores also rewards matching score levels between bars, which says
    nothing about a within-bar target. Both the pipeline's own (pooled, raw) AUC and the ranked
    one must stay below the oracle's plus 3 standard errors.
    """
    config = _config(
        models=MODELS,
        labels={"horizon": 1, "entry": "close", "exit": "close"},
        features=RETURN_FEATURES,
    )
    market = generate_market(PLANTED, seed=7)
    panel = _panel(market, config)
    runs = train_panel("planted", panel, market.bars, Interval.D1, config, seed=7)

    mean = pd.concat(market.expected_return, names=["symbol", "timestamp"]).swaplevel()
    oracle_score = mean.reindex(panel.target.index)
    scored = runs.ensemble.scores.notna() & panel.target.notna()
    y = panel.target[scored]
    assert scored.sum() > 15_000
    assert oracle_score[scored].notna().all()

    oracle = auc(y, _cross_sectional_rank(oracle_score)[scored])
    ensemble = auc(y, _cross_sectional_rank(runs.ensemble.scores)[scored])
    pipeline_auc = runs.ensemble.prediction["auc"]  # pooled raw scores, as `train` reports it
    n_pos = int(y.sum())
    noise = 3.0 * auc_standard_error(oracle, n_pos, len(y) - n_pos, horizon=1)

    assert oracle > 0.58  # a decisive signal, so "within 0.02" is a real demand
    assert abs(ensemble - oracle) <= 0.02
    assert ensemble <= oracle + noise
    assert pipeline_auc <= oracle + noise
    # The raw scores against the raw conditional mean: also within 0.02.
    assert abs(pipeline_auc - auc(y, oracle_score[scored])) <= 0.02
    # Every member is scored on exactly the ensemble's rows.
    for run in runs.models.values():
        assert run.scores.notna().equals(runs.ensemble.scores.notna())


# ---------------------------------------------------------------------------------------------
# 2. Pure random walk: chance AUC and no significant deflated Sharpe ratio.
# ---------------------------------------------------------------------------------------------


def _deflated_sharpe(runs: PanelRuns, config: AppConfig, ledger_path: Path) -> tuple[float, int]:
    """Record the ensemble and its members in a fresh ledger; return the ensemble's DSR and the
    ledger's trial count."""
    experiment = "random-walk"
    with TrialLedger(ledger_path) as ledger:
        for name, run in (runs.models | {ENSEMBLE: runs.ensemble}).items():
            ledger.record(
                experiment=experiment,
                config={
                    "model": config.model.model_copy(update={"name": name}).model_dump(mode="json"),
                    "ensemble_of": list(config.train.models) if name == ENSEMBLE else None,
                    "labels": config.labels.model_dump(mode="json"),
                    "features": config.features.model_dump(mode="json"),
                },
                kind="variant" if name == ENSEMBLE else "manual",
                seed=0,
                code_version="test",
                metrics=run.prediction,
                returns=run.returns,
            )
        n_trials = ledger.n_trials(experiment)
        dsr = deflated_sharpe_from_ledger(ledger, experiment, runs.ensemble.returns)
    return dsr, n_trials


def _random_walk_checks(
    runs: PanelRuns, config: AppConfig, ledger_path: Path, band: tuple[float, float]
) -> None:
    """The statistical test of the random-walk runs (see the docstrings of the two tests)."""
    prediction = runs.ensemble.prediction
    assert band[0] <= prediction["auc"] <= band[1], prediction
    dsr, n_trials = _deflated_sharpe(runs, config, ledger_path)
    assert n_trials == len(config.train.models) + 1
    assert 0.0 <= dsr < 0.95
    # With more than one trial the deflation benchmark is positive: DSR never exceeds PSR.
    assert dsr <= probabilistic_sharpe_ratio(runs.ensemble.returns.to_numpy()) + 1e-12


def test_a_random_walk_gives_chance_auc_and_no_deflated_sharpe(tmp_path: Path) -> None:
    """Always-run version of the random-walk test on about 14,000 out-of-sample rows.

    The AUC band is chance plus or minus 3 standard errors for this many rows and 5-bar
    labels (:func:`control_auc_threshold`); the deflated Sharpe ratio must stay below 0.95.
    False-positive rate: under the null (no predictable mean, costs charged) the ensemble's
    true Sharpe ratio is at most 0, so its PSR is about uniform or smaller and
    P(PSR >= 0.95) <= 5 %; the DSR tests against the expected best Sharpe ratio of the
    ledger's trials (> 0 for several trials), so P(DSR >= 0.95) <= 5 % too. The AUC band is
    3 standard errors wide (two-sided about 0.3 % under a normal approximation). With the
    fixed seeds the outcome is deterministic; the rates say how unlikely it is that a correct
    pipeline fails at a seed chosen before looking, as these were.
    """
    spec = SyntheticSpec(n_symbols=16, n_sectors=4, start=date(2012, 1, 1), end=date(2016, 12, 31))
    config = _config(models=MODELS, features=RETURN_FEATURES)
    market = random_walk_market(spec, seed=21)
    panel = _panel(market, config)
    runs = train_panel("random walk", panel, market.bars, Interval.D1, config, seed=21)
    rows = runs.ensemble.prediction["oos_rows"]
    assert rows > 12_000
    upper = control_auc_threshold(rows, config.labels.horizon)
    _random_walk_checks(runs, config, tmp_path / "ledger.sqlite", (1.0 - upper, upper))


@pytest.mark.slow
def test_a_large_random_walk_gives_auc_within_two_points_of_chance(tmp_path: Path) -> None:
    """On at least 50,000 out-of-sample rows the ensemble's AUC lies in [0.48, 0.52] and the
    deflated Sharpe ratio of its strategy is below 0.95.

    40 symbols x 7 years of daily bars with the full scale-free feature set (every feature of
    the registry that compares across symbols) and the project's default 5-bar label from the
    next open. With about 55,000 rows and 5-bar overlap the AUC's standard error under the null
    is about 0.006, so [0.48, 0.52] is a band of about 3.5 standard errors (two-sided
    false-positive rate about 0.05 % under a normal approximation; cross-sectional correlation
    of the labels widens the true error a little). The deflated Sharpe ratio's false-positive
    rate is at most 5 %, as argued in the always-run test above. Seeds are fixed, so the
    outcome is deterministic.
    """
    spec = SyntheticSpec(n_symbols=40, n_sectors=4, start=date(2012, 1, 1), end=date(2018, 12, 31))
    config = _config(
        models=MODELS,
        model={
            "trees": {
                "n_estimators": 60,
                "learning_rate": 0.1,
                "num_leaves": 7,
                "min_child_samples": 200,
                "early_stopping_rounds": 20,
            }
        },
    )
    market = random_walk_market(spec, seed=31)
    panel = _panel(market, config)
    runs = train_panel("random walk", panel, market.bars, Interval.D1, config, seed=31)
    assert runs.ensemble.prediction["oos_rows"] >= 50_000
    _random_walk_checks(runs, config, tmp_path / "ledger.sqlite", (0.48, 0.52))


# ---------------------------------------------------------------------------------------------
# 3. An unpurged splitter is caught by the permuted-label control.
# ---------------------------------------------------------------------------------------------

HORIZON = 20


def _leak_setting(models: list[str]) -> tuple[Panel, SyntheticMarket, AppConfig]:
    """The permuted-label control of a 30-symbol, 2-year universe with 20-bar labels.

    Labels are permuted in blocks of ``train.control_block_bars`` = 21 bars per symbol (the
    pipeline's default), one more than the horizon: a purged, embargoed training row ends at
    least 21 bars before the test block and so never shares a block with a test row, while an
    unpurged one right before the test block shares its block (and 19 of 20 label bars) with
    the first test rows.
    """
    config = _config(
        models=models,
        labels={"horizon": HORIZON},
        features=SLOW_FEATURES + ["ret_log_1", "ret_log_5", "vol_std_20", "rsi_7"],
        model={
            "trees": {
                "n_estimators": 100,
                "learning_rate": 0.1,
                "num_leaves": 31,
                "min_child_samples": 20,
                "early_stopping_rounds": 0,
            }
        },
    )
    spec = SyntheticSpec(
        n_symbols=30,
        n_sectors=4,
        start=date(2012, 1, 1),
        end=date(2013, 12, 31),
        signal_strength=0.05,
    )
    market = generate_market(spec, seed=3)
    panel = permute_labels_in_blocks(
        _panel(market, config), config.train.control_block_bars, seed=5
    )
    return panel, market, config


def _control_auc(
    models: list[str], *, purge: bool, setting: tuple[Panel, SyntheticMarket, AppConfig]
) -> tuple[float, float]:
    """Return the permuted-label control's AUC and its alarm threshold.

    Walk-forward in bars: 250 training bars, no validation block, 5-bar test blocks, an
    embargo of the horizon. Short test blocks put every test row within 5 bars of the training
    block, where an unpurged splitter leaks; with the default monthly blocks the same leak is
    spread over a month of mostly unaffected rows and falls short of the alarm.
    """
    panel, market, config = setting
    splitter = PurgedWalkForward(
        unit="bars",
        train_bars=250,
        validation_bars=0,
        test_bars=5,
        embargo_bars=HORIZON,
        purge=purge,
    )
    runs = train_panel(
        "permuted-label control",
        panel,
        market.bars,
        Interval.D1,
        config,
        seed=3,
        splitter=splitter,
    )
    prediction = runs.ensemble.prediction
    return prediction["auc"], control_auc_threshold(prediction["oos_rows"], HORIZON)


@pytest.fixture(scope="module")
def lightgbm_leak_setting() -> tuple[Panel, SyntheticMarket, AppConfig]:
    return _leak_setting(["lightgbm"])


@pytest.mark.parametrize("purge", [False, True], ids=["unpurged", "purged"])
def test_the_permuted_label_control_catches_an_unpurged_splitter(
    purge: bool, lightgbm_leak_setting: tuple[Panel, SyntheticMarket, AppConfig]
) -> None:
    """Without purging the control's AUC rises above the alarm; with purging it stays below.

    No feature is planted: the slowly varying features of the registry (dollar volume, 60-day
    volatility, distance from the 200-day average, 60- and 252-bar returns) locate a row's
    symbol and time well enough for LightGBM to carry the label of the last unpurged training
    rows over to the first test rows of the same symbol. With only fast features (1- and 5-bar
    returns, 20-bar volatility, RSI) the same leak measured AUC 0.55, below the alarm: a
    control built on features that forget quickly cannot see a purge bug, which is why the
    split property test exists beside it. LightGBM alone keeps this always-run test fast; the
    slow test below runs the full ensemble.
    """
    value, threshold = _control_auc(["lightgbm"], purge=purge, setting=lightgbm_leak_setting)
    # Measured: about 0.64 unpurged and 0.54 purged (one standard error above 0.5) against an
    # alarm at 0.60 for these 5,760 rows of 20-bar labels.
    assert (value < threshold) if purge else (value > threshold)


@pytest.mark.slow
def test_the_ensembles_permuted_label_control_catches_an_unpurged_splitter() -> None:
    """The same leak through the full ensemble (LightGBM, XGBoost and logistic, averaged)."""
    setting = _leak_setting(MODELS)
    leaky, threshold = _control_auc(MODELS, purge=False, setting=setting)
    clean, clean_threshold = _control_auc(MODELS, purge=True, setting=setting)
    assert leaky > threshold
    assert clean < clean_threshold
