"""Several strategies as one: ``strategy: {aggregate: {...}}`` in a configuration.

Each component runs on the same market; :class:`~alphaforge.strategies.aggregate.Aggregator`
combines their signals into one in [-1, 1] and says how much of it each component made. The
combined signal carries those fractions (``Signals.components``), so the backtest splits each
trade's P&L by them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd
from pydantic import ValidationError

from alphaforge.config.models import AggregateConfig, StrategyConfig
from alphaforge.config.pieces import problem
from alphaforge.core.errors import ConfigError
from alphaforge.strategies.aggregate import PRESETS, Aggregator
from alphaforge.strategies.base import (
    STRATEGIES,
    MarketFrames,
    Signals,
    Strategy,
    StrategyParams,
    create_single_strategy,
)

#: The strategy that trades a model's out-of-fold predictions (a component named after a
#: registered model runs it).
ML_STRATEGY = "ml_model"


@dataclass(frozen=True)
class CombinedStrategy:
    """Component strategies by name, and the aggregator that combines them."""

    aggregator: Aggregator
    components: Mapping[str, StrategyParams]

    @property
    def needs(self) -> tuple[str, ...]:
        """Return what any component reads (bar fields, ``scores``)."""
        seen: dict[str, None] = {}
        for strategy in self.components.values():
            seen.update(dict.fromkeys(type(strategy).needs))
        return tuple(seen)

    @property
    def warmup(self) -> int:
        """Return the longest component warm-up (bars)."""
        return max(s.warmup for s in self.components.values())

    @property
    def lookback(self) -> int:
        """Return the bars that reproduce the last aggregate signal."""
        return self.aggregator.lookback(max(s.lookback for s in self.components.values()))

    def check_interval(self, spacing: pd.Timedelta) -> None:
        """Refuse bars coarser than a component runs on."""
        for strategy in self.components.values():
            strategy.check_interval(spacing)

    def check_data(self, market: MarketFrames) -> None:
        """Refuse a market some component's declaration is not met by."""
        for strategy in self.components.values():
            strategy.check_data(market)

    def describe(self) -> dict[str, Any]:
        """Return each component's strategy and parameters, and the aggregator's settings."""
        return {
            "method": self.aggregator.method,
            "threshold": self.aggregator.threshold,
            "components": {
                name: {"strategy": STRATEGIES.name_of(type(s)), "params": s.model_dump()}
                for name, s in self.components.items()
            },
        }

    def signals(self, market: MarketFrames) -> Signals:
        """Return the aggregate signal, with each component's fraction of it."""
        aggregate = self.aggregator.run(self.components, market)
        return replace(aggregate.signals, components=aggregate.fractions())


def combined_strategy(config: AggregateConfig) -> CombinedStrategy:
    """Build the aggregate a configuration describes; a mistake is a one-line ConfigError."""
    try:
        aggregator = Aggregator.model_validate(
            {
                **config.params,
                "method": config.method,
                "preset": config.preset,
                "weights": config.weights,
                "threshold": config.threshold,
            }
        )
    except ValidationError as exc:
        problems = "; ".join(problem(e["loc"], e["msg"]) for e in exc.errors())
        raise ConfigError(
            f"strategy.aggregate: {problems}.",
            hint=f"Its settings: {', '.join(Aggregator.model_fields)}.",
        ) from None
    names = list(config.weights or PRESETS.get(config.preset or "", {}))
    if not names:
        raise ConfigError(
            "strategy.aggregate names no component.",
            hint="Give weights: {component: weight, ...} or a preset (seed_alpaca).",
        )
    unknown = sorted(set(config.components) - set(names))
    if unknown:
        raise ConfigError(
            f"strategy.aggregate.components names {', '.join(unknown)}, which has no weight.",
            hint=f"Weighted components: {', '.join(names)}.",
        )
    components = {name: _component(name, config) for name in names}
    entering = [n for n, c in components.items() if type(c).uses_entries]
    if entering:
        raise ConfigError(
            f"Aggregate component {', '.join(entering)} enters by stop entries, which an "
            "aggregate cannot combine (its signal on those bars is a size, not a side).",
            hint="Run it as its own strategy (strategy: {name: ...}), or drop it from the weights.",
        )
    return CombinedStrategy(aggregator, components)


def _component(name: str, config: AggregateConfig) -> StrategyParams:
    chosen = config.components.get(name)
    if chosen is not None:
        return create_single_strategy(StrategyConfig(name=chosen.name, params=chosen.params))
    if name in STRATEGIES:
        return create_single_strategy(StrategyConfig(name=name))
    from alphaforge.models.base import MODELS

    if name in MODELS:
        return create_single_strategy(StrategyConfig(name=ML_STRATEGY, params={"model": name}))
    raise ConfigError(
        f"Aggregate component {name!r} is neither a strategy nor a model.",
        hint=f"{STRATEGIES.suggest(name)} Or map it: components: {{{name}: {{name: STRATEGY}}}}.",
    )


def create_strategy(config: StrategyConfig) -> Strategy:
    """Build the configured strategy: one registered strategy, or an aggregate of several."""
    if config.aggregate is not None:
        return combined_strategy(config.aggregate)
    return create_single_strategy(config)


__all__ = ["ML_STRATEGY", "CombinedStrategy", "combined_strategy", "create_strategy"]
