"""Named cost schedules (``backtest.costs`` per asset class) and a listing of every model."""

from __future__ import annotations

from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from alphaforge.backtest.costs.base import COST_MODELS
from alphaforge.config.models import CostModelConfig
from alphaforge.core.types import AssetClass


def _us_equity() -> list[CostModelConfig]:
    return [
        CostModelConfig(name="per_share"),
        CostModelConfig(name="sec_fee"),
        CostModelConfig(name="finra_taf"),
        CostModelConfig(name="half_spread"),
        CostModelConfig(name="sqrt_impact"),
        CostModelConfig(name="borrow"),
    ]


#: Preset name -> the cost models each asset class pays (every parameter at its default,
#: ``docs/costs.md``). An asset class a preset does not name pays the linear default.
COST_PRESETS: dict[str, dict[AssetClass, list[CostModelConfig]]] = {
    # US equities at Interactive Brokers' fixed rates with regulatory fees, spread, impact and
    # borrow; crypto at 0.10 / 0.15 % maker / taker; forex at 1 / 10 pips plus $5 per 100k.
    "realistic_us": {
        AssetClass.STOCK: _us_equity(),
        AssetClass.ETF: _us_equity(),
        AssetClass.CRYPTO: [
            CostModelConfig(name="crypto_fees"),
            CostModelConfig(name="half_spread"),
        ],
        AssetClass.FOREX: [CostModelConfig(name="fx_spread"), CostModelConfig(name="fx_carry")],
    },
    # No costs at all, for every asset class (to separate gross from net results).
    "frictionless": {asset: [] for asset in AssetClass},
}


def _default(field: FieldInfo) -> object:
    if field.default_factory is not None:
        return field.default_factory()  # type: ignore[call-arg]
    return None if field.default is PydanticUndefined else field.default


def describe_cost_models() -> list[dict[str, object]]:
    """Return every registered cost model: name, kind, summary and its parameters.

    Each parameter is a dict with ``name``, ``default`` and ``description``; models come in
    registration order.
    """
    out: list[dict[str, object]] = []
    for name in COST_MODELS.names():
        cls = COST_MODELS.get(name)
        params = [
            {"name": pname, "default": _default(field), "description": field.description or ""}
            for pname, field in cls.model_fields.items()
        ]
        out.append({"name": name, "kind": cls.kind, "summary": cls.summary, "parameters": params})
    return out


__all__ = ["COST_PRESETS", "describe_cost_models"]
