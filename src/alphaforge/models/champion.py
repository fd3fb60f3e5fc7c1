"""Champion / challenger: a retrained model replaces the champion only when it wins by a test.

The test (a reality check in the manner of White, 2000, on Sharpe ratios)
    Both models trade the same periods, none of which either model trained on. Let ``r_c`` and
    ``r_k`` be their per-period out-of-sample returns (one column per challenger when several
    were tried) and ``D_k = SR(r_k) - SR(r_c)`` the gain in per-period Sharpe ratio
    (mean / sample standard deviation, ddof=1). The statistic is ``D = max_k D_k``. Its null
    distribution (no challenger better than the champion) comes from the stationary bootstrap
    (Politis and Romano, 1994): period indices are resampled in blocks of geometric length with
    mean ``mean_block_length``, the *same* indices for every series so their correlation and
    serial dependence are kept, and each resample's ``max_k (D*_k - D_k)`` (recentred) is
    compared with ``D``. ``p = (1 + #{D* - D >= D}) / (1 + B)``. Including every challenger
    tried makes the max statistic pay for the search (data snooping).

The challenger is promoted when ``D > 0`` and ``p < alpha``; an equal challenger is refused.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from alphaforge.models.registry_store import ModelRegistry, ModelVersion, PromotionRecord

__all__ = [
    "TEST_NAME",
    "ChampionDecision",
    "check_unseen",
    "compare_champion_challenger",
    "record_decision",
    "stationary_bootstrap_indices",
]

TEST_NAME = "sharpe-difference reality check (stationary bootstrap)"


@dataclass(frozen=True)
class ChampionDecision:
    """The outcome of one champion/challenger comparison and the numbers behind it.

    Sharpe ratios are per period (not annualised). ``challenger_index`` is the column of the
    best challenger when several were compared (0 for one).
    """

    promote: bool
    test: str
    statistic: float
    p_value: float
    threshold: float
    champion_sharpe: float
    challenger_sharpe: float
    n_periods: int
    n_challengers: int
    challenger_index: int
    n_bootstrap: int
    mean_block_length: float
    seed: int

    def numbers(self) -> dict[str, Any]:
        """Return the decision as JSON-ready values (what the registry records)."""
        return asdict(self)

    def reason(self) -> str:
        """Return a one-line explanation of the decision."""
        verdict = "promoted" if self.promote else "refused"
        return (
            f"{verdict}: Sharpe {self.challenger_sharpe:.4f} vs champion "
            f"{self.champion_sharpe:.4f} per period over {self.n_periods} periods, "
            f"{self.test} p = {self.p_value:.4f} (threshold {self.threshold})"
        )


def stationary_bootstrap_indices(
    n: int, n_resamples: int, mean_block_length: float, rng: np.random.Generator
) -> npt.NDArray[np.int64]:
    """Return ``(n_resamples, n)`` period indices drawn by the stationary bootstrap.

    Each index continues the previous one (wrapping around the end) with probability
    ``1 - 1 / mean_block_length`` and jumps to a uniform random period otherwise.
    """
    if n < 1 or n_resamples < 1:
        raise ValueError("n and n_resamples must be positive.")
    if mean_block_length < 1:
        raise ValueError(f"mean_block_length must be >= 1, got {mean_block_length}.")
    jump = rng.random((n_resamples, n)) < 1.0 / mean_block_length
    fresh = rng.integers(0, n, size=(n_resamples, n))
    idx = np.empty((n_resamples, n), dtype=np.int64)
    idx[:, 0] = fresh[:, 0]
    for t in range(1, n):
        idx[:, t] = np.where(jump[:, t], fresh[:, t], (idx[:, t - 1] + 1) % n)
    return idx


def _sharpe_columns(returns: npt.NDArray[np.float64], axis: int) -> npt.NDArray[np.float64]:
    sd = returns.std(axis=axis, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        sharpe = returns.mean(axis=axis) / sd
    return np.where(sd > 0, sharpe, 0.0)


def compare_champion_challenger(
    champion_returns: npt.ArrayLike,
    challenger_returns: npt.ArrayLike,
    *,
    alpha: float = 0.05,
    n_bootstrap: int = 2000,
    mean_block_length: float | None = None,
    seed: int = 0,
    min_periods: int = 20,
) -> ChampionDecision:
    """Decide whether a challenger beats the champion on the same unseen periods.

    Parameters
    ----------
    champion_returns
        The champion's per-period out-of-sample strategy returns, shape ``(n,)``.
    challenger_returns
        The challenger's returns on the same periods, shape ``(n,)``, or ``(n, k)`` for every
        one of ``k`` challengers tried (the best one is the candidate; the p-value accounts for
        the search).
    alpha
        The test's level: promote when the Sharpe gain is positive and ``p < alpha``.
    n_bootstrap
        Number of bootstrap resamples.
    mean_block_length
        Mean block length in periods; defaults to ``n ** (1/3)`` (at least 1).
    seed
        Seeds the bootstrap.
    min_periods
        Fewer periods raise ``ValueError`` (the test would have no power).

    Returns
    -------
    ChampionDecision
    """
    champ = np.asarray(champion_returns, dtype=np.float64).ravel()
    chall = np.asarray(challenger_returns, dtype=np.float64)
    if chall.ndim == 1:
        chall = chall[:, None]
    if chall.ndim != 2 or chall.shape[0] != champ.size:
        raise ValueError(
            f"challenger returns of shape {chall.shape} do not match the champion's "
            f"{champ.size} periods."
        )
    if not (np.all(np.isfinite(champ)) and np.all(np.isfinite(chall))):
        raise ValueError("returns must be finite (drop periods where either model is missing).")
    n, k = chall.shape
    if n < min_periods:
        raise ValueError(f"{n} periods are too few for the test (at least {min_periods}).")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}.")
    block = float(mean_block_length) if mean_block_length else max(1.0, n ** (1.0 / 3.0))

    sr_champ = float(_sharpe_columns(champ, axis=0))
    sr_chall = _sharpe_columns(chall, axis=0)
    gains = sr_chall - sr_champ
    best = int(np.argmax(gains))
    statistic = float(gains[best])

    rng = np.random.default_rng(seed)
    idx = stationary_bootstrap_indices(n, n_bootstrap, block, rng)
    boot_champ = _sharpe_columns(champ[idx], axis=1)  # (B,)
    boot_chall = np.stack([_sharpe_columns(chall[:, j][idx], axis=1) for j in range(k)], axis=1)
    centred = (boot_chall - boot_champ[:, None]) - gains[None, :]
    null_max = centred.max(axis=1)
    p_value = float((1 + np.sum(null_max >= statistic)) / (1 + n_bootstrap))
    return ChampionDecision(
        promote=bool(statistic > 0 and p_value < alpha),
        test=TEST_NAME,
        statistic=statistic,
        p_value=p_value,
        threshold=alpha,
        champion_sharpe=sr_champ,
        challenger_sharpe=float(sr_chall[best]),
        n_periods=n,
        n_challengers=k,
        challenger_index=best,
        n_bootstrap=n_bootstrap,
        mean_block_length=block,
        seed=seed,
    )


def check_unseen(
    periods: pd.DatetimeIndex | pd.Series,
    *models: ModelVersion,
    gap: pd.Timedelta | None = None,
) -> None:
    """Raise ``ValueError`` unless every period starts after every model's training data.

    ``periods`` are the open times (UTC, naive taken as UTC) of the comparison periods; a
    model's training data ends at its registered ``data_end`` (the last training bar's open
    time). The last training labels resolve later than that: pass their horizon (plus any
    embargo) as ``gap`` so the comparison starts after ``data_end + gap``.
    """
    stamps = pd.DatetimeIndex(periods)
    if stamps.empty:
        raise ValueError("No comparison periods given.")
    stamps = stamps.tz_localize("UTC") if stamps.tz is None else stamps.tz_convert("UTC")
    first = stamps.min()
    margin = gap if gap is not None else pd.Timedelta(0)
    for model in models:
        if first <= model.data_end + margin:
            raise ValueError(
                f"The comparison starts {first}, not after {model.name} v{model.version}'s "
                f"training data, which ends {model.data_end} (gap {margin}): compare on data "
                "neither model trained on."
            )


def record_decision(
    registry: ModelRegistry, name: str, challenger_version: int, decision: ChampionDecision
) -> PromotionRecord:
    """Record ``decision`` in the registry; the challenger becomes champion when it won."""
    numbers = {
        key: (None if isinstance(v, float) and not math.isfinite(v) else v)
        for key, v in decision.numbers().items()
    }
    return registry.promote(
        name,
        challenger_version,
        reason=decision.reason(),
        numbers=numbers,
        promoted=decision.promote,
    )
