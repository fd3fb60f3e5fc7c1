"""Re-fitting a cost model's parameters to the realised costs of live fills.

The input is :func:`~alphaforge.live.quality.execution_quality`'s table (one row per live
fill, its realised and predicted costs against the backtest's bar price); the output is a
:class:`CostFit` whose parameters go into ``backtest.costs``. Costs are signed so that a
positive number is a cost to us; bps are of the fill's notional, ``|quantity| x model_price``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from alphaforge.backtest.costs import COST_MODELS
from alphaforge.config.models import CostModelConfig
from alphaforge.core.errors import AlphaForgeError, ConfigError
from alphaforge.live.quality import MIN_FILLS

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Cost models that price what the venue bills (the fills' ``commission``); the others price
#: the fill's price against the bar's (spread, slippage, impact). ``linear`` is both.
COMMISSION_MODELS = frozenset(
    {"percent", "per_share", "per_order", "tiered", "crypto_fees", "sec_fee", "finra_taf"}
)
PRICE_MODELS = frozenset({"slippage", "half_spread", "sqrt_impact"})
#: The cost models :func:`fit_costs` re-fits.
FITTED_MODELS = frozenset(
    {"linear", *PRICE_MODELS, "percent", "per_order", "per_share", "crypto_fees"}
)

_BPS = 1e4


@dataclass(frozen=True, slots=True)
class CostFit:
    """A cost model's parameters re-fitted to live fills.

    Attributes
    ----------
    model
        The cost model's registered name.
    params
        The fitted parameters, ready for ``backtest.costs`` (the model's other parameters
        keep their configured values).
    fills
        Measured fills each parameter was fitted on.
    rmse
        Root mean square residual of each parameter's fit (weighted like the fit): bps of
        notional, or quote currency per fill for ``per_order`` and ``per_share``.
    notes
        What to know about the fit: parameters clipped at zero, optional ones not fitted.
    """

    model: str
    params: dict[str, float]
    fills: dict[str, int]
    rmse: dict[str, float]
    notes: tuple[str, ...] = field(default=())

    def config(self) -> CostModelConfig:
        """Return the fit as a ``backtest.costs`` entry."""
        return CostModelConfig(name=self.model, params=dict(self.params))


@dataclass(frozen=True, slots=True)
class _Problem:
    """One parameter to fit: ``y = theta x`` over the fills in ``rows``.

    ``scale`` turns the fitted slope into the parameter's unit (1e4 for bps of notional);
    ``by_notional`` weights each fill by its notional (``y`` is then a fraction of it).
    """

    param: str
    rows: BoolArray
    x: FloatArray
    y: FloatArray
    scale: float
    by_notional: bool = True
    required: bool = True


def fit_costs(
    table: pd.DataFrame,
    model_name: str,
    *,
    method: Literal["least_squares", "huber"] = "least_squares",
    min_fills: int = MIN_FILLS,
) -> CostFit:
    """Re-fit ``model_name``'s parameters to the realised costs of ``table``'s fills.

    Each parameter is the slope of a regression through the origin of what the fills
    realised on what the model multiplies by it, clipped at 0 (cost parameters are >= 0):

    - ``linear``: ``commission_bps`` from the commission, ``slippage_bps`` from the price
      slippage, each in bps of notional;
    - ``slippage``: ``bps``; ``half_spread``: ``fallback_bps`` (fills without a spread
      estimate: a known spread comes from the estimator, not a parameter); ``sqrt_impact``:
      ``k`` on ``sigma_daily x sqrt(|quantity| / adv)`` (fills where both are known) and
      ``fallback_bps`` on the others when there are ``min_fills`` of them;
    - ``percent``: ``rate``; ``per_order``: ``amount``; ``per_share``: ``rate`` per unit
      (its minimum and cap are not fitted); ``crypto_fees``: ``taker_rate`` and
      ``maker_rate`` (each when ``min_fills`` fills of its kind).

    The price slippage is ``slippage_cost`` (the fill against the backtest's bar price) less
    what the schedule's other price models (slippage, half_spread, sqrt_impact) predicted,
    and the commission less the other commission models' predictions, so a fitted model
    explains what the rest of the schedule does not.

    Parameters
    ----------
    table
        :func:`execution_quality`'s table (its skipped fills are left out).
    model_name
        A registered trade cost model in :data:`FITTED_MODELS`.
    method
        ``least_squares`` (default) weights each fill by its notional (per-share and
        per-order commissions: equally), so a proportional model fitted this way charges the
        fills exactly what they paid in total. ``huber`` is Huber's M-estimator
        (``statsmodels`` RLM) on the same weighted problem: steadier where the noise is
        heavy-tailed and symmetric (the price moving between the bar's open and the fill),
        but it discounts rare expensive fills, so where costs are skewed to the right it
        fits lower costs than were paid.
    min_fills
        Fewest fills behind a parameter.

    Raises
    ------
    AlphaForgeError
        Fewer than ``min_fills`` measured fills for a required parameter, or a model that
        fills cannot fit (regulatory fees, tiers, holding costs, forex spreads).
    """
    cls = COST_MODELS.get(model_name)  # an unknown name is a RegistryError with a suggestion
    if cls.kind != "trade":
        raise AlphaForgeError(
            f"Cost model {model_name!r} prices positions held, not fills.",
            hint="Fit a trade cost model: linear, slippage, half_spread, sqrt_impact, ...",
        )
    if model_name not in FITTED_MODELS:
        raise AlphaForgeError(
            f"Cost model {model_name!r} is not fitted from fills.",
            hint=f"Fit one of {', '.join(sorted(FITTED_MODELS))}; regulatory fees, tiers and "
            "forex spreads are set from their published schedules.",
        )
    if method not in ("least_squares", "huber"):
        raise ConfigError(f"Unknown fit method {method!r}.", hint="Use least_squares or huber.")
    used = table[table["skipped"] == ""]
    notional = used["notional"].to_numpy(np.float64)
    params: dict[str, float] = {}
    fills: dict[str, int] = {}
    rmse: dict[str, float] = {}
    notes: list[str] = []
    for problem in _problems(used, model_name):
        keep = problem.rows & np.isfinite(problem.x) & np.isfinite(problem.y)
        keep &= np.isfinite(notional) & (notional > 0)
        count = int(keep.sum())
        if count < min_fills:
            if problem.required:
                raise AlphaForgeError(
                    f"Only {count} fills to fit {model_name}.{problem.param} ({min_fills} needed).",
                    hint=_refusal_hint(model_name),
                )
            notes.append(f"{problem.param} not fitted: {count} fills ({min_fills} needed)")
            continue
        weight = notional[keep] if problem.by_notional else np.ones(count)
        theta, residual = _fit_slope(problem.x[keep], problem.y[keep], weight, method)
        if theta < 0:
            notes.append(f"{problem.param} fitted {theta * problem.scale:.6g}, clipped at 0")
            theta = 0.0
        params[problem.param] = float(theta * problem.scale)
        fills[problem.param] = count
        rmse[problem.param] = residual * (_BPS if problem.by_notional else 1.0)
    return CostFit(model_name, params, fills, rmse, tuple(notes))


def _refusal_hint(model: str) -> str:
    if model == "half_spread":
        return (
            "half_spread prices fills from the spread estimator; only fills without an "
            "estimate fit its fallback_bps: fit slippage or linear instead."
        )
    return "Trade longer before re-fitting, or keep the configured costs."


def _problems(used: pd.DataFrame, model: str) -> list[_Problem]:
    """Return the regressions that fit ``model``'s parameters."""
    n = len(used)
    notional = used["notional"].to_numpy(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        price_part = _net(used, "slippage_cost", PRICE_MODELS - {model}) / notional
        commission = _net(used, "commission", COMMISSION_MODELS - {model})
        commission_part = commission / notional
    every = np.ones(n, bool)
    one = np.ones(n)
    units = np.abs(used["quantity"].to_numpy(np.float64))
    match model:
        case "linear":
            return [
                _Problem("commission_bps", every, one, commission_part, _BPS),
                _Problem("slippage_bps", every, one, price_part, _BPS),
            ]
        case "slippage":
            return [_Problem("bps", every, one, price_part, _BPS)]
        case "half_spread":
            unknown = ~np.isfinite(used["half_spread"].to_numpy(np.float64))
            return [_Problem("fallback_bps", unknown, one, price_part, _BPS)]
        case "sqrt_impact":
            sigma = used["sigma_daily"].to_numpy(np.float64)
            adv = used["adv"].to_numpy(np.float64)
            known = np.isfinite(sigma) & np.isfinite(adv) & (adv > 0)
            with np.errstate(invalid="ignore", divide="ignore"):
                x = np.maximum(sigma, 0.0) * np.sqrt(units / adv)
            return [
                _Problem("k", known, x, price_part, 1.0),
                _Problem("fallback_bps", ~known, one, price_part, _BPS, required=False),
            ]
        case "percent":
            return [_Problem("rate", every, one, commission_part, 1.0)]
        case "per_order":
            return [_Problem("amount", every, one, commission, 1.0, by_notional=False)]
        case "per_share":
            return [_Problem("rate", every, units, commission, 1.0, by_notional=False)]
        case "crypto_fees":
            maker = used["maker"].to_numpy(np.bool_)
            return [
                _Problem("taker_rate", ~maker, one, commission_part, 1.0),
                _Problem("maker_rate", maker, one, commission_part, 1.0, required=False),
            ]
    raise AssertionError(model)  # fit_costs refuses every other model first


def _net(used: pd.DataFrame, column: str, others: frozenset[str]) -> FloatArray:
    """Return ``column`` less the predictions of the schedule's ``others`` models."""
    out = used[column].to_numpy(np.float64).copy()
    for name in sorted(others):
        if f"predicted_{name}" in used.columns:
            out -= used[f"predicted_{name}"].to_numpy(np.float64)
    return out


def _fit_slope(
    x: FloatArray, y: FloatArray, weight: FloatArray, method: str
) -> tuple[float, float]:
    """Return the slope of ``y = theta x`` (weighted) and its residuals' weighted RMS."""
    root = np.sqrt(weight)
    xw, yw = x * root, y * root
    denominator = float(np.dot(xw, xw))
    if denominator == 0.0:
        return 0.0, float(np.sqrt(np.average(y**2, weights=weight)))
    theta = float(np.dot(xw, yw)) / denominator
    if method == "huber":
        residual = yw - theta * xw
        spread = float(np.median(np.abs(residual - np.median(residual))))
        # Residuals without spread (a noise-free fit) leave Huber's scale at zero.
        if spread > 1e-12 * max(float(np.max(np.abs(yw))), 1e-300):
            import statsmodels.api as sm  # imported here: it is slow, only this fit needs it

            norm = sm.robust.norms.HuberT()
            theta = float(sm.RLM(yw, xw[:, None], M=norm).fit().params[0])
    residual = y - theta * x
    return theta, float(np.sqrt(np.average(residual**2, weights=weight)))


__all__ = [
    "COMMISSION_MODELS",
    "FITTED_MODELS",
    "PRICE_MODELS",
    "CostFit",
    "fit_costs",
]
