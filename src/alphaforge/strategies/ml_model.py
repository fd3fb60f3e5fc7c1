"""``ml_model``: one trained model's (or the ensemble's) probabilities as a signal.

It reads ``MarketFrames.predictions``: in a backtest, the out-of-fold predictions of a train
run (``oof_predictions.parquet``: ``score_<model>``, ``p_<class>_<model>`` for three classes,
``agreement``, and the quantile model's ``q10`` ... ``q90`` when trained); live and paper, the
champions' latest-bar scores under the same names
(:func:`alphaforge.models.scoring.prediction_row`). Every value at bar ``t`` was decided at
that bar's close, so the strategy is row by row and keeps no state.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from typing import ClassVar

import numpy as np
import pandas as pd
from pydantic import Field
from scipy.stats import norm

from alphaforge.core.errors import DataError
from alphaforge.strategies.base import STRATEGIES, Family, MarketFrames, Signals, StrategyParams

#: q90 - q10 of a normal variable, in standard deviations (2 x 1.2816).
_DECILE_SPREAD = float(2.0 * norm.ppf(0.9))


@STRATEGIES.register("ml_model")
class MLModel(StrategyParams):
    """The signal of one registered model, or of the ensemble, at each bar's close.

    With ``p`` the model's score:

    - binary target: ``2p - 1`` (``p`` = P(class 1));
    - three classes: ``P(BUY) - P(SELL)`` (the ``p_BUY_<model>`` and ``p_SELL_<model>``
      columns are present);
    - meta labels (``primary_feature`` set): ``side x (2p - 1)``, ``side`` the sign of the
      primary feature at the bar's close (0 there: flat).

    ``probability`` and ``confidence`` are the model's probability of the side the signal takes
    (``p`` or ``1 - p``; P(BUY) or P(SELL)). No signal (NaN) where fewer than ``min_agreement``
    of the models are on the ensemble's side (the ``agreement`` column; a source without it,
    one champion, is not gated). When the quantile model was trained (``q10``, ``q50``,
    ``q90``: forward log returns over ``horizon`` bars), ``expected_return`` is the median
    return as a fraction, ``exp(q50) - 1``, and ``volatility`` the normal-equivalent
    annualised volatility ``(q90 - q10) / 2.563 x sqrt(periods_per_year / horizon)``.
    """

    family: ClassVar[Family] = Family.ML
    needs: ClassVar[tuple[str, ...]] = ("scores",)
    summary: ClassVar[str] = (
        "A model's (or the ensemble's) probabilities: 2p - 1, P(BUY) - P(SELL) or side x "
        "(2p - 1); silent when the models disagree."
    )

    model: str = Field(
        "ensemble", min_length=1, description="A trained model's name, or 'ensemble'."
    )
    min_agreement: float = Field(
        0.6,
        ge=0.0,
        le=1.0,
        description="Least share of models on the ensemble's side for a signal.",
    )
    primary_feature: str | None = Field(
        None,
        description="Meta labels: the primary signal's feature (the train run's "
        "labels.primary_feature); its sign is the side.",
    )
    horizon: int = Field(
        5, ge=1, description="Bars the quantile model's returns span (labels.horizon)."
    )
    periods_per_year: float = Field(
        252.0, gt=0.0, description="Bars per year, to annualise the predicted volatility."
    )

    @property
    def features(self) -> tuple[str, ...]:
        """Return the primary feature of meta labels, if any."""
        return () if self.primary_feature is None else (self.primary_feature,)

    def signals(self, market: MarketFrames) -> Signals:
        """Return the model's signal, its probability and the quantile model's forecasts."""
        predictions = _predictions(market)
        score = self._frame(predictions, f"score_{self.model}", market)
        buy = predictions.get(f"p_BUY_{self.model}")
        sell = predictions.get(f"p_SELL_{self.model}")
        if buy is not None and sell is not None:
            buy = buy.reindex_like(market.close)
            sell = sell.reindex_like(market.close)
            value = buy - sell
            probability = buy.where(value >= 0, sell)
        else:
            _check_probabilities(score, self.model)
            value = 2.0 * score - 1.0
            probability = score.where(value >= 0, 1.0 - score)
            if self.primary_feature is not None:
                primary = market.feature(self.primary_feature)
                side = primary.gt(0).astype(float) - primary.lt(0).astype(float)
                value = (side * value).where(primary.notna())
        agreement = predictions.get("agreement")
        if agreement is not None:
            value = value.where(agreement.reindex_like(market.close) >= self.min_agreement)
        traded = market.close.notna() & value.notna()
        value = value.where(traded)
        probability = probability.where(traded)
        expected, volatility = self._quantile_forecasts(predictions, market, traded)
        return Signals(
            value,
            confidence=probability,
            probability=probability,
            expected_return=expected,
            volatility=volatility,
        )

    def _frame(
        self, predictions: Mapping[str, pd.DataFrame], column: str, market: MarketFrames
    ) -> pd.DataFrame:
        frame = predictions.get(column)
        if frame is None:
            known = sorted(c.removeprefix("score_") for c in predictions if c.startswith("score_"))
            close = difflib.get_close_matches(self.model, known, n=3, cutoff=0.5)
            raise DataError(
                f"Strategy ml_model: the predictions hold no scores of model {self.model!r}"
                + (f" (did you mean {', '.join(close)}?)." if close else "."),
                hint=f"Set strategy.params.model to one of: {', '.join(known) or 'none'}.",
            )
        return frame.reindex_like(market.close)

    def _quantile_forecasts(
        self, predictions: Mapping[str, pd.DataFrame], market: MarketFrames, rows: pd.DataFrame
    ) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
        """Return (expected return, annualised volatility) from the quantile model, if any."""
        q10, q50, q90 = (predictions.get(q) for q in ("q10", "q50", "q90"))
        expected = None
        if q50 is not None:
            median = q50.reindex_like(market.close)
            simple = np.expm1(median.to_numpy(np.float64))
            expected = pd.DataFrame(simple, median.index, median.columns).where(rows)
        volatility = None
        if q10 is not None and q90 is not None:
            spread = q90.reindex_like(market.close) - q10.reindex_like(market.close)
            scale = math.sqrt(self.periods_per_year / self.horizon) / _DECILE_SPREAD
            volatility = (spread * scale).where(rows)
        return expected, volatility


def _check_probabilities(score: pd.DataFrame, model: str) -> None:
    """Refuse scores that are not probabilities (a 3-class score without its classes)."""
    values = score.to_numpy(np.float64)
    finite = values[np.isfinite(values)]
    if ((finite < 0.0) | (finite > 1.0)).any():
        raise DataError(
            f"Strategy ml_model: the scores of model {model!r} are not probabilities in "
            "[0, 1] and no p_BUY / p_SELL columns come with them.",
            hint="A 3-class model needs its class probabilities (a train run's predictions).",
        )


def _predictions(market: MarketFrames) -> Mapping[str, pd.DataFrame]:
    if market.predictions is None:
        raise DataError(
            "Strategy ml_model needs model predictions and none were given.",
            hint="Pass a train run (--predictions RUN_DIR), or --champion MODEL for a model of "
            "a binary target (3-class and meta-label champions give trading scores only).",
        )
    return market.predictions


__all__ = ["MLModel"]
