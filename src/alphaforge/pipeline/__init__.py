"""Pipelines that wire the stages together: research runs, the demo, reproduction."""

# Names load on first use (PEP 562): importing one submodule, e.g. the charts, does not pull in
# the whole stage (the service reads charts and run files without the engine's imports).
from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from alphaforge.pipeline.research import StrategyRun, run_strategy

_WHERE = {
    "StrategyRun": "alphaforge.pipeline.research",
    "run_strategy": "alphaforge.pipeline.research",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["StrategyRun", "run_strategy"]
