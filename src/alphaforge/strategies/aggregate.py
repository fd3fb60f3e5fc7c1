"""The aggregator: component strategies' signals combined into one signal in [-1, 1].

Three ways to weigh the components (``method``), each weight at bar ``t`` using only what is
known at the close of ``t``:

- ``fixed``: the preset's (or given) weights, renormalised over the components in the run;
- ``performance``: each component's hit rate on the symbol over calls whose outcome closed in
  the trailing window (``aggregation.weights.performance_weights``), the fixed weights where
  no component has an edge yet;
- ``bayesian``: Bayesian model averaging; each signal becomes P(up) by an isotonic map fitted
  on past outcomes, the weights are prior (the fixed weights) x the exponentially discounted
  likelihood of the realised directions (``aggregation.bayes``), and the averaged P(up) gives
  the signal ``2P - 1``.

An outcome is the symbol's return over the next ``horizon`` of its own bars, known at the
close of the last of them (``aggregation.outcomes``). The weights are then tilted by regime
(trend families up in trends, mean-reversion families up in ranges;
``aggregation.weights.regime_multipliers``) and renormalised. The aggregate trades where its
absolute value exceeds ``threshold`` (0.55, seed 002) and is 0 (flat) elsewhere.

Each bar and symbol records the components' shares: ``share_i = w_i * s_i`` with ``w`` the
weights applied at that cell (summing to 1) and ``s_i`` the component's signal (``2 p_i - 1``
for ``bayesian``; 0 where it has no opinion), so the shares sum to the aggregate before the
threshold, which is the traded signal wherever a position is taken.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from alphaforge.core.errors import ConfigError
from alphaforge.features.panel import PANEL_FEATURES, compute_panel_specs
from alphaforge.features.registry import FEATURES
from alphaforge.strategies.aggregation.bayes import (
    bayesian_weights,
    isotonic_probabilities,
)
from alphaforge.strategies.aggregation.outcomes import FloatArray, forward_outcomes
from alphaforge.strategies.aggregation.weights import (
    RANGE_FAMILIES,
    TREND_FAMILIES,
    Missing,
    combine,
    normalise_weights,
    performance_weights,
    regime_multipliers,
    threshold_signal,
    trend_probability,
)
from alphaforge.strategies.base import Family, MarketFrames, Signals, StrategyParams

#: Named weight sets, in percent, keyed by component name.
PRESETS: dict[str, dict[str, float]] = {
    # Seed 002: four rule strategies and three models.
    "seed_alpaca": {
        "rsi": 12.0,
        "momentum": 12.0,
        "macd": 10.0,
        "gap": 8.0,
        "random_forest": 18.0,
        "xgboost": 18.0,
        "lstm_attention": 22.0,
    },
}

#: The per-symbol trend feature and the panel HMM state the regime tilt reads.
ADX_REGIME = "trend_regime_adx_14"
HMM_CALM = "hmm_state_prob_0"

Method = Literal["fixed", "performance", "bayesian"]


@dataclass(frozen=True, slots=True)
class Component:
    """One component's signals (on the market's bars and symbols) and its family."""

    signals: Signals
    family: Family


@dataclass(frozen=True, slots=True)
class Aggregate:
    """What the aggregator says, and how each component contributed, per bar and symbol.

    ``signals.value`` is the traded signal: ``raw`` where ``|raw| > threshold``, else 0;
    NaN where no component has an opinion. ``raw`` is the weighted aggregate in [-1, 1];
    ``shares[name]`` the component's part of it (the shares sum to ``raw``); ``weights[name]``
    the weight applied (summing to 1 over components). For ``bayesian``,
    ``probability`` is the averaged P(up) and ``signals.probability`` the probability that
    the traded direction is right. All frames are bar times x symbols, decided at each
    bar's close.
    """

    signals: Signals
    raw: pd.DataFrame
    shares: dict[str, pd.DataFrame]
    weights: dict[str, pd.DataFrame]
    probability: pd.DataFrame | None = None

    def fractions(self) -> dict[str, pd.DataFrame]:
        """Return each component's fraction of the aggregate (``share / raw``; NaN at 0).

        The fractions sum to 1 wherever the aggregate is non-zero: multiply a position's
        P&L by them to split it by component.
        """
        nonzero = self.raw.where(self.raw != 0)
        return {name: share / nonzero for name, share in self.shares.items()}


class Aggregator(BaseModel):
    """Combine component signals into one (config: ``strategy: {aggregate: {...}}``).

    Weights come from ``weights`` when given, else from ``preset``, else are equal; a
    component of the run that the weights do not name is an error, and named components
    absent from the run are dropped and the rest renormalised.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    method: Method = Field("fixed", description="fixed, performance or bayesian weights.")
    preset: str | None = Field(
        "seed_alpaca", description="Named weights (percent by component); see PRESETS."
    )
    weights: dict[str, float] | None = Field(
        None, description="Weights by component name (any scale); overrides preset."
    )
    threshold: float = Field(
        0.55, ge=0.0, lt=1.0, description="Trade only where |aggregate| exceeds this."
    )
    horizon: int = Field(
        1, ge=1, description="Bars over which a call's outcome (forward return) is measured."
    )
    window: int = Field(252, ge=1, description="Trailing bars of closed outcomes the weights read.")
    min_calls: int = Field(
        20, ge=1, description="performance: closed calls before a hit rate counts."
    )
    forgetting: float = Field(
        0.98, gt=0.0, le=1.0, description="bayesian: per-bar discount of old evidence."
    )
    refit_every: int = Field(
        21, ge=1, description="bayesian: bars between isotonic refits (anchored to the epoch)."
    )
    calibration_window: int = Field(
        504, ge=1, description="bayesian: trailing bars of closed outcomes an isotonic fit uses."
    )
    min_outcomes: int = Field(
        50, ge=1, description="bayesian: outcomes before a fitted map replaces (1 + s) / 2."
    )
    prob_floor: float = Field(
        0.01, gt=0.0, lt=0.5, description="bayesian: P(up) clipped to [floor, 1 - floor]."
    )
    off_regime: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Factor on the weights of families out of their regime (1: no switching).",
    )
    regime_hmm: bool = Field(
        True, description="Let the benchmark HMM's calm-state probability vote on the regime."
    )
    missing: Missing = Field(
        "abstain",
        description="A silent component: abstain (counts 0, keeps its weight) or renormalise.",
    )

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, value: str | None) -> str | None:
        if value is not None and value not in PRESETS:
            close = difflib.get_close_matches(value, list(PRESETS), n=3, cutoff=0.5)
            raise ValueError(
                f"unknown preset {value!r}"
                + (f"; did you mean {', '.join(close)}?" if close else "")
                + f" (presets: {', '.join(PRESETS)})"
            )
        return value

    def prior(self, names: list[str]) -> FloatArray:
        """Return the fixed weights of ``names`` (in order), summing to 1."""
        if self.weights is not None:
            return normalise_weights(self.weights, names)
        if self.preset is not None:
            return normalise_weights(PRESETS[self.preset], names)
        return np.full(len(names), 1.0 / len(names))

    def lookback(self, component_lookback: int) -> int:
        """Return the bars that reproduce the last aggregate, given the components' lookback.

        The components' own history, plus for ``performance`` the outcome window
        (``horizon + window``), and for ``bayesian`` that window plus the history of the
        isotonic map its oldest call went through (one refit period and the calibration
        window). The regime features add their own (``trend_regime_adx_14``'s memory;
        the HMM is refitted yearly on all history, so with ``regime_hmm`` a restart matches
        an unbroken run only once both have refitted on the same data).
        """
        extra = 0
        if self.method == "performance":
            extra = self.horizon + self.window
        elif self.method == "bayesian":
            extra = self.horizon + self.window + self.refit_every + self.calibration_window
        regime = 0
        if self.off_regime != 1.0:
            memory = FEATURES.get(ADX_REGIME).memory
            regime = memory if memory is not None else 0
        return max(component_lookback + extra, regime)

    def combine(self, components: Mapping[str, Component], market: MarketFrames) -> Aggregate:
        """Return the aggregate signal and each component's share at every bar and symbol.

        Parameters
        ----------
        components
            Component name -> its signals on ``market`` (row ``t`` decided at the close of
            ``t``) and family. Names must be weighted by ``weights`` or ``preset``.
        market
            The bars the components ran on; closes give the outcomes, and the regime tilt
            reads ``trend_regime_adx_14`` and the panel's ``hmm_state_prob_0``.
        """
        if not components:
            raise ConfigError(
                "The aggregate strategy has no components.",
                hint="List component strategies under strategy.aggregate.",
            )
        names = list(components)
        prior = self.prior(names)
        if self.method == "bayesian" and (prior <= 0).any():
            zero = ", ".join(n for n, w in zip(names, prior, strict=True) if w <= 0)
            raise ConfigError(
                f"Bayesian averaging needs a positive prior weight; {zero} has weight 0.",
                hint="Give every component a weight > 0, or leave it out of the run.",
            )
        index, columns = market.index, market.symbols
        signals = np.stack(
            [
                components[n]
                .signals.value.reindex(index=index, columns=columns)
                .to_numpy(np.float64)
                for n in names
            ],
            axis=-1,
        )
        signals = np.clip(signals, -1.0, 1.0)
        families = [components[n].family for n in names]
        probability: FloatArray | None = None
        if self.method == "fixed":
            base: FloatArray = np.broadcast_to(prior, signals.shape)
            votes = signals
        else:
            returns, known = forward_outcomes(market.close.to_numpy(np.float64), self.horizon)
            if self.method == "performance":
                base = performance_weights(
                    signals, returns, known, prior, window=self.window, min_calls=self.min_calls
                )
                votes = signals
            else:
                proba = isotonic_probabilities(
                    signals,
                    returns,
                    known,
                    self.refit_rows(market),
                    window=self.calibration_window,
                    min_outcomes=self.min_outcomes,
                )
                base = bayesian_weights(
                    proba,
                    returns,
                    known,
                    prior,
                    forgetting=self.forgetting,
                    window=self.window,
                    floor=self.prob_floor,
                )
                votes = 2.0 * proba - 1.0
        weights = base * self.regime(market, families)
        raw, shares, applied = combine(votes, weights, self.missing)
        if self.method == "bayesian":
            probability = (1.0 + raw) / 2.0
        value = threshold_signal(raw, self.threshold)

        def frame(values: FloatArray) -> pd.DataFrame:
            return pd.DataFrame(values, index=index, columns=columns)

        right = None
        if probability is not None:
            right = frame(
                np.where(value > 0, probability, np.where(value < 0, 1 - probability, np.nan))
            )
        return Aggregate(
            signals=Signals(frame(value), probability=right),
            raw=frame(raw),
            shares={n: frame(shares[..., i]) for i, n in enumerate(names)},
            weights={n: frame(applied[..., i]) for i, n in enumerate(names)},
            probability=None if probability is None else frame(probability),
        )

    def run(self, strategies: Mapping[str, StrategyParams], market: MarketFrames) -> Aggregate:
        """Run each component strategy on ``market`` and combine their signals."""
        return self.combine(
            {n: Component(s.signals(market), type(s).family) for n, s in strategies.items()},
            market,
        )

    def refit_rows(self, market: MarketFrames) -> list[int]:
        """Return the rows at which the isotonic maps are refitted.

        Every ``refit_every`` typical bar spacings, counted from the Unix epoch rather than
        from the first bar, so a run restarted later refits at the same bars.
        """
        spacing = market.spacing
        if spacing is None or len(market.index) == 0:
            return [0] if len(market.index) else []
        period = max(int(spacing.value) * self.refit_every, 1)
        ids = market.index.as_unit("ns").asi8 // period
        return [0, *(int(r) for r in np.flatnonzero(np.diff(ids) != 0) + 1)]

    def regime(self, market: MarketFrames, families: list[Family]) -> FloatArray:
        """Return the regime factor on each component's weight (bars x symbols x components).

        1 everywhere when ``off_regime`` is 1 or no component is a trend or mean-reversion
        family; else :func:`~alphaforge.strategies.aggregation.weights.regime_multipliers`
        of the trend probability from ``trend_regime_adx_14`` and, with ``regime_hmm``, the
        panel's ``hmm_state_prob_0`` (NaN for symbols the panel does not cover).
        """
        shape = (len(market.index), len(market.symbols), len(families))
        tilted = set(families) & (TREND_FAMILIES | RANGE_FAMILIES)
        if self.off_regime == 1.0 or not tilted:
            return np.ones(shape)
        adx = market.feature(ADX_REGIME).to_numpy(np.float64)
        calm = self._hmm_calm(market) if self.regime_hmm else None
        return regime_multipliers(trend_probability(adx, calm), families, self.off_regime)

    @staticmethod
    def _hmm_calm(market: MarketFrames) -> FloatArray:
        bars = {s: market.symbol_bars(s) for s in market.symbols}
        bars = {s: b for s, b in bars.items() if not b.empty}
        panel = compute_panel_specs(
            bars, [PANEL_FEATURES.get(HMM_CALM)], instruments=market.instruments
        )
        calm = pd.DataFrame({s: frame[HMM_CALM] for s, frame in panel.items()}, index=market.index)
        return calm.reindex(index=market.index, columns=market.symbols).to_numpy(np.float64)


__all__ = ["PRESETS", "Aggregate", "Aggregator", "Component", "Method"]
