"""Pipelines that wire the stages together: research runs, the demo, reproduction."""

from alphaforge.pipeline.research import StrategyRun, run_strategy

__all__ = ["StrategyRun", "run_strategy"]
