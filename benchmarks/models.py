"""Time model training and scoring against the targets of the ensemble issue; print a table.

Run alone (``.venv/bin/python benchmarks/models.py --symbols 500 --bars 2520``, or
``--symbols 50`` for a quick look) or through ``make bench``. Every figure is measured here,
now, on seeded synthetic bars (``alphaforge.features.testing.random_bars``, one per symbol,
on a shared daily calendar):

* **Training overhead.** The panel (every default scale-free feature, 5-bar label) is built
  with ``build_panel`` first and timed apart. Then 10 purged walk-forward folds of LightGBM
  run through ``walk_forward_predict`` on the ``Panel``, weighted by ``fold_weigher`` exactly
  as ``alphaforge train`` does. The control is the same 10 fits called directly on
  ``lightgbm.LGBMClassifier``: the fold rows are gathered into numpy arrays beforehand
  (untimed), with the same weights, the same validation block for early stopping, the same
  parameters and seeds, and each fold's test rows are scored too. Both sides are timed as
  wall and process CPU time, ``--repeats`` times each in ABBA order (best of each counts);
  the ratio uses wall time. The time our side spends computing the sample weights is shown
  apart. No control run and no hyperparameter search run here: they are not part of either
  side. The scores of both sides are compared (they must agree, or the comparison is not of
  the same work). ``OMP_WAIT_POLICY`` defaults to ``PASSIVE`` (idle OpenMP threads sleep):
  spinning threads make LightGBM many times slower whenever anything else uses the CPUs.
* **Scoring latency.** Every registered (non-deep) model is fitted on the panel's most recent
  labelled rows (fitting untimed). Then the latest bar of every symbol is scored in one batch
  by all of them and averaged (the ensemble), features already computed and models loaded;
  the median over repeats / symbols is the per-symbol latency. One symbol scored alone is
  printed beside it.

Targets are stated for 500 symbols x 2,520 daily bars; smaller runs are a look, not a test.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np

from table import Row, print_table  # benchmarks/table.py, beside this script
from table import status as _status

#: The sizes the targets are stated for.
TARGET_SYMBOLS = 500
TARGET_BARS = 2_520
#: Wall time of our walk-forward over the direct fits.
TARGET_OVERHEAD_RATIO = 1.3
#: Median batch scoring time per symbol, milliseconds.
TARGET_SCORE_MS = 10.0
#: Walk-forward folds, and the rolling blocks in bars (about 12 and 3 months of sessions).
FOLDS = 10
TRAIN_BARS = 252
VALIDATION_BARS = 63
#: LightGBM budget of the training benchmark.
TREES = 100
LEARNING_RATE = 0.05
EARLY_STOPPING = 20
#: Scoring benchmark: labelled rows the models are fitted on, and repeats of the timing.
SCORING_FIT_ROWS = 10_000
#: Feature fraction per tree of the scoring models (keeps the random forest's fit short).
SCORING_COLSAMPLE = 0.3
SCORING_REPEATS = 21
SEED = 0


def _timed(work: Callable[[], Any]) -> tuple[Any, float, float]:
    """Return ``work()``, its wall seconds and this process's CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def _bars_by_symbol(symbols: int, bars: int) -> dict[str, Any]:
    from alphaforge.features.testing import random_bars

    return {f"S{i:04d}": random_bars(i, bars) for i in range(symbols)}


def _splitter(n_bars: int) -> Any:
    """Return a bar-unit purged walk-forward with exactly ``FOLDS`` test blocks over the grid."""
    from alphaforge.config import LabelsConfig
    from alphaforge.validation import PurgedWalkForward
    from alphaforge.validation.splits import default_embargo_bars

    span = n_bars - TRAIN_BARS - VALIDATION_BARS
    if span < FOLDS:
        raise SystemExit(
            f"{n_bars} panel bars leave {span} for testing; {FOLDS} folds need more "
            f"(use --bars >= {TRAIN_BARS + VALIDATION_BARS + FOLDS + 200})."
        )
    return PurgedWalkForward(
        unit="bars",
        train_bars=TRAIN_BARS,
        validation_bars=VALIDATION_BARS,
        test_bars=math.ceil(span / FOLDS),
        embargo_bars=default_embargo_bars(LabelsConfig().horizon),
    )


def _lgbm_params(n_jobs: int) -> dict[str, Any]:
    """The parameters ``LightGBMClassifier`` hands LightGBM for this budget (keep in step)."""
    from alphaforge.config import TreesConfig

    cfg = TreesConfig(
        n_estimators=TREES, learning_rate=LEARNING_RATE, early_stopping_rounds=EARLY_STOPPING
    )
    return {
        "boosting_type": "gbdt",
        "n_estimators": cfg.n_estimators,
        "learning_rate": cfg.learning_rate,
        "num_leaves": cfg.num_leaves,
        "min_child_samples": cfg.min_child_samples,
        "subsample": cfg.subsample,
        "subsample_freq": 1,
        "colsample_bytree": cfg.colsample_bytree,
        "n_jobs": n_jobs,
        "deterministic": True,
        "force_row_wise": True,
        "verbosity": -1,
    }


def training_overhead(panel: Any, n_jobs: int, repeats: int) -> dict[str, Any]:
    """Time 10 folds through ``walk_forward_predict`` and the same fits made directly."""
    import lightgbm as lgb

    from alphaforge.config import ModelConfig, TreesConfig
    from alphaforge.models import create_model
    from alphaforge.models.base import Classifier
    from alphaforge.models.dataset import fold_weigher
    from alphaforge.validation import walk_forward_predict

    n_bars = len(np.unique(panel.start.to_numpy()))
    splitter = _splitter(n_bars)
    config = ModelConfig(
        name="lightgbm",
        trees=TreesConfig(
            n_estimators=TREES, learning_rate=LEARNING_RATE, early_stopping_rounds=EARLY_STOPPING
        ),
    )
    weigh = fold_weigher(panel, half_life_days=60.0, uniqueness_weights=True)
    assert weigh is not None

    def make_model(fold: int) -> Classifier:
        return create_model(config, seed=SEED + fold, n_jobs=n_jobs)

    # The direct side's inputs: the same rows, weights and validation blocks, prepared untimed.
    X = panel.X.to_numpy(np.float64)
    y = panel.target.to_numpy(np.float64)
    prepared = []
    weigh_seconds = 0.0
    for fold in splitter.split(panel.start, panel.end):
        train = fold.train[np.isfinite(y[fold.train])]
        validation = fold.validation[np.isfinite(y[fold.validation])]
        # The sample weights are work our side does inside the loop: time them to show it.
        weights, wall, _ = _timed(partial(weigh, train))
        weigh_seconds += wall
        prepared.append(
            (
                fold.number,
                np.ascontiguousarray(X[train]),
                y[train],
                weights,
                np.ascontiguousarray(X[validation]),
                y[validation],
                np.ascontiguousarray(X[fold.test]),
                fold.test,
            )
        )
    if len(prepared) != FOLDS:
        raise RuntimeError(f"the splitter gave {len(prepared)} folds, not {FOLDS}")
    del X

    def direct() -> tuple[np.ndarray, list[int]]:
        scores = np.full(len(y), np.nan)
        trees = []
        for number, Xt, yt, wt, Xv, yv, Xs, test in prepared:
            model = lgb.LGBMClassifier(random_state=SEED + number, **_lgbm_params(n_jobs))
            model.fit(
                Xt,
                yt,
                sample_weight=wt,
                eval_X=(Xv,),
                eval_y=(yv,),
                callbacks=[lgb.early_stopping(EARLY_STOPPING, verbose=False)],
            )
            scores[test] = np.asarray(model.predict_proba(Xs))[:, 1]
            trees.append(int(model.best_iteration_ or TREES))
        return scores, trees

    def ours() -> Any:
        return walk_forward_predict(panel, splitter, make_model, weigh=weigh)

    # One small fit first, so that neither side pays for loading LightGBM and its threads.
    _, Xt, yt, *_ = prepared[0]
    lgb.LGBMClassifier(random_state=SEED, **_lgbm_params(n_jobs)).fit(Xt[:2_000], yt[:2_000])
    # ABBA order, best of each: a change in the machine's load hits both sides alike.
    direct_times: list[tuple[float, float]] = []
    ours_times: list[tuple[float, float]] = []
    for i in range(repeats):
        for side in ("direct", "ours") if i % 2 == 0 else ("ours", "direct"):
            if side == "direct":
                (direct_scores, direct_trees), wall, cpu = _timed(direct)
                direct_times.append((wall, cpu))
            else:
                wf, wall, cpu = _timed(ours)
                ours_times.append((wall, cpu))
    direct_wall, direct_cpu = min(direct_times)
    ours_wall, ours_cpu = min(ours_times)
    ours_scores = wf.scores.to_numpy()
    both = np.isfinite(direct_scores) & np.isfinite(ours_scores)
    return {
        "folds": len(wf.folds),
        "train_rows": [f.train_rows for f in wf.folds],
        "test_bars": splitter.test_bars,
        "ours_wall": ours_wall,
        "ours_cpu": ours_cpu,
        "direct_wall": direct_wall,
        "direct_cpu": direct_cpu,
        "weigh_wall": weigh_seconds,
        "ours_trees": [f.best_iteration for f in wf.folds],
        "direct_trees": direct_trees,
        "max_score_diff": float(np.max(np.abs(direct_scores[both] - ours_scores[both]))),
        "same_rows": bool(np.array_equal(np.isfinite(direct_scores), np.isfinite(ours_scores))),
    }


def scoring_latency(panel: Any, n_jobs: int) -> dict[str, Any]:
    """Fit every registered model, then time scoring the latest bar of every symbol."""
    from alphaforge.config import ModelConfig, TreesConfig
    from alphaforge.models import MODELS, create_model
    from alphaforge.models.deep import SEQUENCE_MODELS

    X = panel.X.to_numpy(np.float64)
    y = panel.target.to_numpy(np.float64)
    labelled = np.flatnonzero(np.isfinite(y))[-SCORING_FIT_ROWS:]
    cut = int(len(labelled) * 0.8)
    fit_rows, val_rows = labelled[:cut], labelled[cut:]
    stamps = panel.timestamps
    latest = np.flatnonzero(stamps == stamps.max())
    batch = np.ascontiguousarray(X[latest])
    models = []
    for name in MODELS.names():
        if name in SEQUENCE_MODELS:
            continue  # the target is the non-deep ensemble
        budget = ModelConfig(
            name=name,
            trees=TreesConfig(
                n_estimators=TREES,
                learning_rate=LEARNING_RATE,
                early_stopping_rounds=EARLY_STOPPING,
                colsample_bytree=SCORING_COLSAMPLE,
            ),
        )
        model = create_model(budget, seed=SEED, n_jobs=n_jobs)
        model.fit(X[fit_rows], y[fit_rows], eval_set=(X[val_rows], y[val_rows]))
        models.append((name, model))

    def score(rows: np.ndarray) -> np.ndarray:
        return np.asarray(np.mean([m.predict_proba(rows)[:, 1] for _, m in models], axis=0))

    score(batch)  # warm-up: first calls allocate and load thread pools
    batch_times = []
    single_times = []
    one = batch[:1]
    for _ in range(SCORING_REPEATS):
        _, wall, _ = _timed(lambda: score(batch))
        batch_times.append(wall)
        _, wall, _ = _timed(lambda: score(one))
        single_times.append(wall)
    per_model = {}
    for name, model in models:
        times = []
        for _ in range(5):
            _, wall, _ = _timed(partial(model.predict_proba, batch))
            times.append(wall)
        per_model[name] = statistics.median(times)
    return {
        "models": [n for n, _ in models],
        "symbols": len(latest),
        "fit_rows": len(fit_rows),
        "batch_median": statistics.median(batch_times),
        "single_median": statistics.median(single_times),
        "per_model": per_model,
    }


def run(symbols: int, bars: int, n_jobs: int, repeats: int = 2) -> list[Row]:
    """Measure everything and return the rows of the result table."""
    from alphaforge.config import LabelsConfig
    from alphaforge.core.types import Interval
    from alphaforge.models.dataset import build_panel

    data, gen_wall, _ = _timed(lambda: _bars_by_symbol(symbols, bars))
    panel, panel_wall, panel_cpu = _timed(
        lambda: build_panel(data, Interval.D1, LabelsConfig(), None, min_history=200)
    )
    n_rows, n_features = panel.X.shape
    at_target = symbols == TARGET_SYMBOLS and bars == TARGET_BARS
    size_note = "" if at_target else " (not the target size)"
    train = training_overhead(panel, n_jobs, repeats)
    ratio = train["ours_wall"] / train["direct_wall"]
    cpu_ratio = train["ours_cpu"] / train["direct_cpu"]
    scoring = scoring_latency(panel, n_jobs)
    per_symbol_ms = 1000 * scoring["batch_median"] / scoring["symbols"]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return [
        Row(
            f"panel: {symbols} symbols x {bars} bars -> {n_rows:,} rows x {n_features} features",
            "",
            "",
            "",
        ),
        Row(
            "  synthetic bars, then features + labels (build_panel), timed apart (wall / CPU s)",
            f"{gen_wall:.1f} + {panel_wall:.1f} / {panel_cpu:.1f}",
            "",
            "",
        ),
        Row(
            f"LightGBM budget: <= {TREES} trees, lr {LEARNING_RATE}, early stopping "
            f"{EARLY_STOPPING} on the validation block, {n_jobs} thread(s), OMP_WAIT_POLICY="
            f"{os.environ.get('OMP_WAIT_POLICY', 'unset')}; best of {repeats} runs per side",
            "",
            "",
            "",
        ),
        Row(
            f"{train['folds']} purged walk-forward folds ({TRAIN_BARS} train / "
            f"{VALIDATION_BARS} validation / {train['test_bars']} test bars), "
            f"train rows {min(train['train_rows']):,}..{max(train['train_rows']):,}",
            "",
            "",
            "",
        ),
        Row(
            "  walk_forward_predict on the Panel, weighted as in train (wall / CPU s)",
            f"{train['ours_wall']:.1f} / {train['ours_cpu']:.1f}",
            "",
            "",
        ),
        Row(
            "  same fits direct on prepared arrays, LGBMClassifier (wall / CPU s)",
            f"{train['direct_wall']:.1f} / {train['direct_cpu']:.1f}",
            "",
            "",
        ),
        Row(
            "    of ours: sample weights (label uniqueness x age decay per fold; the direct "
            "side gets them precomputed) (wall s)",
            f"{train['weigh_wall']:.1f}",
            "",
            "",
        ),
        Row(
            f"  ours / direct, wall (CPU ratio {cpu_ratio:.2f}){size_note}",
            f"{ratio:.2f}",
            f"<= {TARGET_OVERHEAD_RATIO}",
            _status(ratio <= TARGET_OVERHEAD_RATIO),
        ),
        Row(
            "  ours without the weights' time / direct, wall (information)",
            f"{(train['ours_wall'] - train['weigh_wall']) / train['direct_wall']:.2f}",
            "",
            "",
        ),
        Row(
            "  same work: trees per fold equal, same rows scored, max |score difference|",
            f"{train['ours_trees'] == train['direct_trees']}, {train['same_rows']}, "
            f"{train['max_score_diff']:.1e}",
            "True, True, < 1e-9",
            _status(
                train["ours_trees"] == train["direct_trees"]
                and train["same_rows"]
                and train["max_score_diff"] < 1e-9
            ),
        ),
        Row("  control run and hyperparameter search", "not run", "timed apart", ""),
        Row(
            f"ensemble scored: {', '.join(scoring['models'])} (averaged; fitted on "
            f"{scoring['fit_rows']:,} rows, <= {TREES} trees, feature fraction "
            f"{SCORING_COLSAMPLE})",
            "",
            "",
            "",
        ),
        Row(
            f"  latest bar of {scoring['symbols']} symbols, one batch (median of "
            f"{SCORING_REPEATS}, ms)",
            f"{1000 * scoring['batch_median']:.1f}",
            "",
            "",
        ),
        Row(
            f"  per symbol: batch median / {scoring['symbols']} (ms){size_note}",
            f"{per_symbol_ms:.3f}",
            f"< {TARGET_SCORE_MS:.0f}",
            _status(per_symbol_ms < TARGET_SCORE_MS),
        ),
        Row(
            "  one symbol scored alone (median, ms)",
            f"{1000 * scoring['single_median']:.1f}",
            "",
            "",
        ),
        *(
            Row(f"    {name} alone on the batch (median, ms)", f"{1000 * t:.1f}", "", "")
            for name, t in scoring["per_model"].items()
        ),
        Row(f"load average (1 min) at the end, {os.cpu_count()} CPUs", f"{load:.1f}", "", ""),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments, run the benchmark and print its table; 1 if a target failed."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--symbols", type=int, default=TARGET_SYMBOLS)
    parser.add_argument("--bars", type=int, default=TARGET_BARS)
    parser.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 1, help="Threads per model fit."
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=2,
        help="Timed runs of each training side, in ABBA order; the best of each counts.",
    )
    args = parser.parse_args(argv)
    if args.symbols < 2 or args.bars < 2 or args.repeats < 1:
        parser.error("--symbols and --bars must be >= 2, --repeats >= 1")
    # Idle OpenMP threads sleep instead of spinning: with spinning, LightGBM and XGBoost slow
    # down many times over when anything else runs on the machine. Same for both sides.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    started = time.perf_counter()
    rows = run(args.symbols, args.bars, max(args.jobs, 1), args.repeats)
    print_table(
        rows,
        f"Models: {args.symbols} symbols x {args.bars} daily bars (seeded, synthetic), "
        f"{time.perf_counter() - started:.0f} s in all",
    )
    return 1 if any(row.status == "FAIL" for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
