"""Value at Risk and Expected Shortfall of a book: historical, parametric, Monte Carlo.

Conventions shared by every function here:

* **Returns** are simple daily returns (0.01 is +1 %), one row per trading day in ascending
  order. The history ends at the evaluation time t and must hold nothing after it: the caller
  slices it to rows ``<= t``; nothing here looks at dates.
* **Losses** are positive numbers: VaR 0.02 means "a loss of 2 % of book value or more happens
  with probability ``1 - confidence``". ES is the mean loss in that tail, so ``es >= var``.
  Functions return fractions of book value; :func:`risk_table` multiplies by a book value in
  currency when one is given.
* **Confidence** is a probability such as 0.95 or 0.99; **horizon** is a whole number of
  trading days (1 or 10 in the risk table). An h-day return is the sum of h daily returns
  (no compounding), which is what square-root-of-time scaling assumes.
* **Empirical quantile** (historical, Monte Carlo, bootstrap): the lower-tail empirical quantile
  with no interpolation. With the n losses sorted ascending, VaR is the k-th smallest,
  ``k = ceil(confidence * n)`` (numpy's ``method="inverted_cdf"``), the smallest sample loss
  that at least ``confidence`` of the sample does not exceed; ES is the mean of the losses
  ``>= VaR``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from numpy.typing import ArrayLike, NDArray

from alphaforge.core.errors import ConfigError, DataError

CONFIDENCES: tuple[float, ...] = (0.95, 0.99)
HORIZONS: tuple[int, ...] = (1, 10)

# The standard library's normal (Wichura's AS241 quantile, double precision) keeps
# `import alphaforge.risk` free of scipy.stats and scikit-learn, about a second of start-up;
# those two load only inside the functions that need them.
_STD_NORMAL = NormalDist()


@dataclass(frozen=True)
class RiskMeasure:
    """VaR and ES of a book for one method, confidence and horizon.

    Parameters
    ----------
    method
        ``historical``, ``normal``, ``cornish_fisher``, ``monte_carlo_normal`` or ``bootstrap``.
    confidence
        Probability of the quantile, e.g. 0.95 or 0.99.
    horizon_days
        Horizon in trading days.
    var
        Value at Risk as a positive loss: a fraction of book value, or currency in
        :func:`risk_table` when a book value is given.
    es
        Expected Shortfall (mean loss beyond VaR), same unit as ``var``; ``es >= var``.
    """

    method: str
    confidence: float
    horizon_days: int
    var: float
    es: float


def _check_confidence(confidence: float) -> float:
    if not 0.0 < confidence < 1.0 or math.isnan(confidence):
        raise ConfigError(
            f"VaR confidence {confidence} is outside (0, 1).",
            hint="Use a probability such as 0.95 or 0.99.",
        )
    return float(confidence)


def _check_horizon(horizon_days: int) -> int:
    if int(horizon_days) != horizon_days or horizon_days < 1:
        raise ConfigError(
            f"VaR horizon {horizon_days} is not a whole number of days >= 1.",
            hint="Use 1 or 10 trading days.",
        )
    return int(horizon_days)


def _check_positive(name: str, value: int) -> int:
    if int(value) != value or value < 1:
        raise ConfigError(
            f"{name} must be a whole number >= 1, got {value}.", hint=f"Raise {name}."
        )
    return int(value)


def _check_returns(returns: ArrayLike, min_rows: int = 1) -> NDArray[np.float64]:
    arr = np.asarray(returns, dtype=np.float64)
    if arr.ndim != 1:
        raise DataError(
            f"Book returns must be one-dimensional, got shape {arr.shape}.",
            hint="Pass one return per day, or build them with book_returns().",
        )
    if arr.size < min_rows:
        raise DataError(
            f"The return history has {arr.size} day(s); this method needs at least {min_rows}.",
            hint="Load a longer history ending at the evaluation date.",
        )
    if not np.isfinite(arr).all():
        raise DataError(
            "The return history holds NaN or infinite values.",
            hint="Drop or fill the missing days before computing VaR.",
        )
    return arr


def _check_asset_returns(asset_returns: ArrayLike, min_rows: int = 1) -> NDArray[np.float64]:
    arr = np.asarray(asset_returns, dtype=np.float64)
    if arr.ndim != 2:
        raise DataError(
            f"Asset returns must be a dates x assets matrix, got shape {arr.shape}.",
            hint="Pass one row per day and one column per asset.",
        )
    if arr.shape[0] < min_rows or arr.shape[1] == 0:
        raise DataError(
            f"Asset returns have shape {arr.shape}; need >= {min_rows} day(s) and >= 1 asset.",
            hint="Load a longer history ending at the evaluation date.",
        )
    if not np.isfinite(arr).all():
        raise DataError(
            "Asset returns hold NaN or infinite values.",
            hint="Drop or fill the missing days before computing VaR.",
        )
    return arr


def _check_weights(weights: ArrayLike, n_assets: int) -> NDArray[np.float64]:
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or w.size != n_assets:
        raise DataError(
            f"The book has {w.size} weight(s) for {n_assets} asset column(s).",
            hint="Give one weight or value per column of the returns matrix, in the same order.",
        )
    if not np.isfinite(w).all():
        raise DataError("A book weight is NaN or infinite.", hint="Check the positions.")
    return w


def book_returns(
    holdings: ArrayLike,
    asset_returns: ArrayLike,
    *,
    book_value: float | None = None,
) -> NDArray[np.float64]:
    """Return the daily return history of today's book held constant over the past.

    Parameters
    ----------
    holdings
        One entry per asset column: weights as fractions of book value when ``book_value`` is
        None (a long-short book's weights sum to its net exposure), else values in currency.
    asset_returns
        Dates x assets matrix of simple daily returns, ascending dates ending at t.
    book_value
        Book value in currency that ``holdings`` (then values) are divided by. Pass the
        account's equity; ``holdings`` are taken as weights when None.

    Returns
    -------
    numpy.ndarray
        One simple return per date, as a fraction of book value: ``asset_returns @ weights``.
        Uses today's weights on every past day (no rebalancing history), the usual
        "current book" convention of historical VaR.
    """
    r = _check_asset_returns(asset_returns)
    w = _check_weights(holdings, r.shape[1])
    if book_value is not None:
        if not math.isfinite(book_value) or book_value <= 0.0:
            raise DataError(
                f"Book value {book_value} is not a positive amount.",
                hint="Pass the account equity in currency.",
            )
        w = w / book_value
    return np.asarray(r @ w, dtype=np.float64)


def _empirical(losses: NDArray[np.float64], confidence: float) -> tuple[float, float]:
    """VaR and ES of a loss sample by the module's lower-tail, no-interpolation quantile."""
    var = float(np.quantile(losses, confidence, method="inverted_cdf"))
    # max() only undoes rounding in the mean: every averaged loss is >= var.
    es = max(float(losses[losses >= var].mean()), var)
    return var, es


def historical_var_es(returns: ArrayLike, confidence: float, horizon_days: int = 1) -> RiskMeasure:
    """Historical VaR and ES from past book returns.

    Parameters
    ----------
    returns
        Simple daily book returns, ascending, ending at t (nothing after t).
    confidence
        Quantile probability in (0, 1), e.g. 0.95.
    horizon_days
        Horizon in trading days. For h > 1 the sample is the overlapping h-day sums of the
        daily returns (``n - h + 1`` of them), not a square-root scaling: the fat tails and
        autocorrelation of the history carry over. Needs at least h days.

    Returns
    -------
    RiskMeasure
        ``method="historical"``; losses as positive fractions of book value, by the lower-tail
        empirical quantile with no interpolation (see the module docstring).
    """
    c = _check_confidence(confidence)
    h = _check_horizon(horizon_days)
    r = _check_returns(returns, min_rows=h)
    sums = np.convolve(r, np.ones(h), mode="valid") if h > 1 else r
    var, es = _empirical(-sums, c)
    return RiskMeasure("historical", c, h, var, es)


def normal_var_es_from_moments(
    mean: float, std: float, confidence: float, horizon_days: int = 1
) -> RiskMeasure:
    """Normal VaR and ES from a daily mean and standard deviation of book returns.

    Parameters
    ----------
    mean, std
        Daily mean and standard deviation of simple book returns (fractions).
    confidence
        Quantile probability in (0, 1).
    horizon_days
        Horizon h in trading days; square-root-of-time: mean x h, std x sqrt(h).

    Returns
    -------
    RiskMeasure
        ``method="normal"``: ``var = sigma z - mu`` and ``es = sigma pdf(z) / (1 - c) - mu``
        with z the standard normal c-quantile, mu and sigma at the horizon.
    """
    c = _check_confidence(confidence)
    h = _check_horizon(horizon_days)
    if not (math.isfinite(mean) and math.isfinite(std)) or std < 0.0:
        raise DataError(
            f"Return moments mean={mean}, std={std} are not usable.",
            hint="The standard deviation must be finite and >= 0.",
        )
    mu, sigma = mean * h, std * math.sqrt(h)
    z = _STD_NORMAL.inv_cdf(c)
    var = sigma * z - mu
    es = sigma * _STD_NORMAL.pdf(z) / (1.0 - c) - mu
    return RiskMeasure("normal", c, h, var, es)


def normal_var_es(returns: ArrayLike, confidence: float, horizon_days: int = 1) -> RiskMeasure:
    """Parametric normal VaR and ES from the sample mean and std (ddof=1) of book returns.

    Parameters
    ----------
    returns
        Simple daily book returns, ascending, ending at t; at least 2 days.
    confidence
        Quantile probability in (0, 1).
    horizon_days
        Horizon in trading days, scaled by square root of time.

    Returns
    -------
    RiskMeasure
        See :func:`normal_var_es_from_moments`.
    """
    r = _check_returns(returns, min_rows=2)
    return normal_var_es_from_moments(
        float(r.mean()), float(r.std(ddof=1)), confidence, horizon_days
    )


def cornish_fisher_var_es_from_moments(
    mean: float,
    std: float,
    skew: float,
    excess_kurtosis: float,
    confidence: float,
    horizon_days: int = 1,
) -> RiskMeasure:
    """Cornish-Fisher (modified) VaR and ES from daily moments of book returns.

    The lower-tail normal quantile ``q = norm.ppf(1 - c)`` is adjusted for skew S and excess
    kurtosis K: ``q_cf = q + (q^2 - 1) S/6 + (q^3 - 3q) K/24 - (2q^3 - 5q) S^2/36`` and
    ``var = -(mu + sigma q_cf)``. ES is the exact tail mean of that expansion,
    ``es = sigma pdf(q)/(1 - c) [1 + S q/6 + K (q^2 - 1)/24 - S^2 (2q^2 - 1)/36] - mu``.
    At S = K = 0 both equal the normal values.

    Parameters
    ----------
    mean, std
        Daily mean and standard deviation of simple book returns.
    skew, excess_kurtosis
        Daily skewness and excess kurtosis (0 for a normal), held constant over the horizon.
    confidence
        Quantile probability in (0, 1).
    horizon_days
        Horizon in trading days: mean x h, std x sqrt(h) as for the normal method.

    Returns
    -------
    RiskMeasure
        ``method="cornish_fisher"``. The expansion is only a valid quantile function while it is
        monotone in the tail; for very large skew or kurtosis its tail mean can come out below
        its quantile, which no distribution allows, and ES is then reported equal to VaR.
    """
    base = normal_var_es_from_moments(mean, std, confidence, horizon_days)
    if not (math.isfinite(skew) and math.isfinite(excess_kurtosis)):
        raise DataError(
            f"Skew {skew} or excess kurtosis {excess_kurtosis} is not finite.",
            hint="Use a history with some variation in it.",
        )
    c, h = base.confidence, base.horizon_days
    mu, sigma = mean * h, std * math.sqrt(h)
    s, k = skew, excess_kurtosis
    q = _STD_NORMAL.inv_cdf(1.0 - c)
    q_cf = q + (q**2 - 1) * s / 6 + (q**3 - 3 * q) * k / 24 - (2 * q**3 - 5 * q) * s**2 / 36
    var = -(mu + sigma * q_cf)
    bracket = 1 + s * q / 6 + k * (q**2 - 1) / 24 - s**2 * (2 * q**2 - 1) / 36
    es = sigma * _STD_NORMAL.pdf(q) / (1.0 - c) * bracket - mu
    return RiskMeasure("cornish_fisher", c, h, var, max(es, var))


def cornish_fisher_var_es(
    returns: ArrayLike, confidence: float, horizon_days: int = 1
) -> RiskMeasure:
    """Cornish-Fisher VaR and ES from the sample moments of book returns.

    Parameters
    ----------
    returns
        Simple daily book returns, ascending, ending at t; at least 4 days. Mean, std (ddof=1),
        bias-corrected skew and excess kurtosis (``scipy.stats``); a constant history counts
        as normal (S = K = 0).
    confidence
        Quantile probability in (0, 1).
    horizon_days
        Horizon in trading days.

    Returns
    -------
    RiskMeasure
        See :func:`cornish_fisher_var_es_from_moments`.
    """
    from scipy import stats

    r = _check_returns(returns, min_rows=4)
    std = float(r.std(ddof=1))
    if std > 0.0 and np.ptp(r) > 1e-12 * max(1.0, float(np.abs(r).max())):
        skew = float(stats.skew(r, bias=False))
        kurt = float(stats.kurtosis(r, fisher=True, bias=False))
    else:
        skew, kurt = 0.0, 0.0
    return cornish_fisher_var_es_from_moments(
        float(r.mean()), std, skew, kurt, confidence, horizon_days
    )


def monte_carlo_normal_var_es(
    weights: ArrayLike,
    asset_returns: ArrayLike,
    confidence: float,
    horizon_days: int = 1,
    *,
    n_draws: int = 100_000,
    seed: int,
) -> RiskMeasure:
    """Monte Carlo VaR and ES from multivariate normal asset returns on a shrunk covariance.

    Parameters
    ----------
    weights
        One weight per asset column, as fractions of book value.
    asset_returns
        Dates x assets matrix of simple daily returns, ascending, ending at t; >= 2 days.
        Its column means and Ledoit-Wolf covariance (scikit-learn) define the daily law.
    confidence
        Quantile probability in (0, 1).
    horizon_days
        Horizon h in trading days: draws from N(h mu, h Sigma), square root of time.
    n_draws
        Number of simulated book returns.
    seed
        Seed of the ``numpy.random.Generator``; the same seed gives the same result.

    Returns
    -------
    RiskMeasure
        ``method="monte_carlo_normal"``, by the module's empirical quantile of the draws.
    """
    from sklearn.covariance import LedoitWolf

    c = _check_confidence(confidence)
    h = _check_horizon(horizon_days)
    n = _check_positive("n_draws", n_draws)
    r = _check_asset_returns(asset_returns, min_rows=2)
    w = _check_weights(weights, r.shape[1])
    cov = LedoitWolf().fit(r).covariance_
    mean = r.mean(axis=0)
    rng = np.random.default_rng(seed)
    draws = rng.multivariate_normal(mean * h, cov * h, size=n, method="eigh")
    var, es = _empirical(-(draws @ w), c)
    return RiskMeasure("monte_carlo_normal", c, h, var, es)


def bootstrap_var_es(
    returns: ArrayLike,
    confidence: float,
    horizon_days: int = 1,
    *,
    block_length: int = 5,
    n_paths: int = 20_000,
    seed: int,
) -> RiskMeasure:
    """Block-bootstrap VaR and ES from past book returns.

    Each simulated h-day path glues ``ceil(h / block_length)`` blocks of consecutive past days,
    each starting at a uniform day (blocks do not wrap around the end), cuts it to h days and
    sums it. Blocks keep short-range dependence such as volatility clustering.

    Parameters
    ----------
    returns
        Simple daily book returns, ascending, ending at t; at least ``block_length`` days.
    confidence
        Quantile probability in (0, 1).
    horizon_days
        Horizon in trading days.
    block_length
        Days per block (1 is the plain i.i.d. bootstrap).
    n_paths
        Number of simulated paths.
    seed
        Seed of the ``numpy.random.Generator``; the same seed gives the same result.

    Returns
    -------
    RiskMeasure
        ``method="bootstrap"``, by the module's empirical quantile of the path sums.
    """
    c = _check_confidence(confidence)
    h = _check_horizon(horizon_days)
    length = _check_positive("block_length", block_length)
    paths = _check_positive("n_paths", n_paths)
    r = _check_returns(returns, min_rows=length)
    n_blocks = -(-h // length)
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, r.size - length + 1, size=(paths, n_blocks))
    idx = (starts[:, :, None] + np.arange(length)).reshape(paths, n_blocks * length)[:, :h]
    var, es = _empirical(-r[idx].sum(axis=1), c)
    return RiskMeasure("bootstrap", c, h, var, es)


def risk_table(
    weights: ArrayLike,
    asset_returns: ArrayLike,
    *,
    seed: int,
    book_value: float | None = None,
    confidences: Sequence[float] = CONFIDENCES,
    horizons: Sequence[int] = HORIZONS,
    n_draws: int = 100_000,
    block_length: int = 5,
    n_paths: int = 20_000,
) -> list[RiskMeasure]:
    """Every method at every confidence and horizon for the current book.

    Parameters
    ----------
    weights
        One weight per asset column, as fractions of book value.
    asset_returns
        Dates x assets matrix of simple daily returns, ascending, ending at t (nothing after
        t); needs at least max(horizons), block_length and 4 days.
    seed
        Seed of both Monte Carlo methods.
    book_value
        Book value in currency; when given, ``var`` and ``es`` are in currency, else fractions.
    confidences, horizons
        Defaults 0.95 / 0.99 and 1 / 10 days.
    n_draws, block_length, n_paths
        Passed to :func:`monte_carlo_normal_var_es` and :func:`bootstrap_var_es`.

    Returns
    -------
    list of RiskMeasure
        Ordered by method (historical, normal, cornish_fisher, monte_carlo_normal, bootstrap),
        then confidence, then horizon.
    """
    if book_value is not None and (not math.isfinite(book_value) or book_value <= 0.0):
        raise DataError(
            f"Book value {book_value} is not a positive amount.",
            hint="Pass the account equity in currency, or None for fractions.",
        )
    book = book_returns(weights, asset_returns)
    out: list[RiskMeasure] = []
    for method in ("historical", "normal", "cornish_fisher", "monte_carlo_normal", "bootstrap"):
        for c in confidences:
            for h in horizons:
                if method == "historical":
                    m = historical_var_es(book, c, h)
                elif method == "normal":
                    m = normal_var_es(book, c, h)
                elif method == "cornish_fisher":
                    m = cornish_fisher_var_es(book, c, h)
                elif method == "monte_carlo_normal":
                    m = monte_carlo_normal_var_es(
                        weights, asset_returns, c, h, n_draws=n_draws, seed=seed
                    )
                else:
                    m = bootstrap_var_es(
                        book, c, h, block_length=block_length, n_paths=n_paths, seed=seed
                    )
                if book_value is not None:
                    m = RiskMeasure(
                        m.method,
                        m.confidence,
                        m.horizon_days,
                        m.var * book_value,
                        m.es * book_value,
                    )
                out.append(m)
    return out
