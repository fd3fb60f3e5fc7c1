"""Which cost models each asset class pays, built from ``backtest.costs``."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from pydantic import ValidationError

from alphaforge.backtest.costs.base import (
    COST_MODELS,
    CostParams,
    FloatArray,
    HoldingBatch,
    TradeBatch,
)
from alphaforge.backtest.costs.linear import LinearCost
from alphaforge.backtest.costs.presets import COST_PRESETS
from alphaforge.config.models import BacktestConfig, CostModelConfig
from alphaforge.core.errors import ConfigError
from alphaforge.core.types import AssetClass


def create_cost_model(spec: CostModelConfig) -> CostParams:
    """Build the cost model ``spec`` names; an unknown name or parameter is a ConfigError."""
    cls = COST_MODELS.get(spec.name)
    try:
        return cls.model_validate(spec.params)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or spec.name}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(
            f"Cost model {spec.name!r}: {problems}.",
            hint=f"Its parameters: {', '.join(cls.model_fields) or 'none'}.",
        ) from None


@dataclass(frozen=True, slots=True)
class CostSchedule:
    """The cost models of each asset class, in the order they are charged.

    An asset class absent from ``by_class`` pays ``default``.
    """

    by_class: Mapping[AssetClass, tuple[tuple[str, CostParams], ...]]
    default: tuple[tuple[str, CostParams], ...]

    @classmethod
    def from_config(cls, config: BacktestConfig) -> CostSchedule:
        """Return the schedule of ``config.costs`` (linear commission + slippage by default)."""
        default = (
            (
                "linear",
                LinearCost(commission_bps=config.commission_bps, slippage_bps=config.slippage_bps),
            ),
        )
        by_class = {
            asset: tuple((spec.name, create_cost_model(spec)) for spec in specs)
            for asset, specs in _named(config.costs).items()
        }
        return cls(by_class, default)

    def models(self, asset_class: AssetClass) -> tuple[tuple[str, CostParams], ...]:
        """Return the (name, model) pairs charged to ``asset_class``."""
        return self.by_class.get(asset_class, self.default)

    def components(self, asset_classes: Iterable[AssetClass] | None = None) -> list[str]:
        """Return the cost component names ``asset_classes`` (default: any) can pay, in order."""
        names: dict[str, None] = {}
        groups = (
            [self.default, *self.by_class.values()]
            if asset_classes is None
            else [self.models(a) for a in dict.fromkeys(asset_classes)]
        )
        for models in groups:
            for name, _ in models:
                names[name] = None
        return list(names)

    def trade_costs(self, asset_class: AssetClass, batch: TradeBatch) -> dict[str, FloatArray]:
        """Return each trade cost component of ``batch`` (all fills of one asset class)."""
        out: dict[str, FloatArray] = {}
        for name, model in self.models(asset_class):
            if model.kind == "trade":
                out[name] = np.asarray(model.trade_costs(batch), dtype=np.float64)  # type: ignore[attr-defined]
        return out

    def holding_costs(self, asset_class: AssetClass, batch: HoldingBatch) -> dict[str, FloatArray]:
        """Return each holding cost component of ``batch`` (all positions of one asset class)."""
        out: dict[str, FloatArray] = {}
        for name, model in self.models(asset_class):
            if model.kind == "holding":
                out[name] = np.asarray(model.holding_costs(batch), dtype=np.float64)  # type: ignore[attr-defined]
        return out

    def proportional_rate(
        self, asset_class: AssetClass, price: float, symbol: str = "", quantity: float = 1.0
    ) -> float:
        """Return the cost of trading ``quantity`` units at ``price`` as a fraction of notional.

        All-in sizing divides equity by ``price x (1 + rate)``; for proportional models
        (``percent``, ``linear``) this is their exact rate, whatever ``quantity``. For models
        with fixed parts (a minimum per order, a flat fee) pass the order's expected size.
        ``symbol`` is needed by the models that read it (``fx_spread`` prices by pair).
        """
        size = max(abs(quantity), 1e-12)
        batch = TradeBatch.simple([price], [size], (symbol,))
        total = sum(float(v[0]) for v in self.trade_costs(asset_class, batch).values())
        return total / (size * price)


def _named(
    costs: Mapping[AssetClass, list[CostModelConfig]] | str | None,
) -> Mapping[AssetClass, list[CostModelConfig]]:
    """Return the per-class cost models of ``backtest.costs`` (a preset name is looked up)."""
    if costs is None:
        return {}
    if isinstance(costs, str):
        if costs not in COST_PRESETS:
            close = difflib.get_close_matches(costs, list(COST_PRESETS), n=1)
            raise ConfigError(
                f"Unknown cost preset {costs!r}.",
                hint=f"Did you mean {close[0]}?" if close else f"Known: {', '.join(COST_PRESETS)}.",
            )
        return COST_PRESETS[costs]
    return costs


__all__ = ["CostSchedule", "create_cost_model"]
