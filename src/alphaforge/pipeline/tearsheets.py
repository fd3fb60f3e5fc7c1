"""The tear sheet of an engine run, shared by ``alphaforge backtest`` and the demo."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from alphaforge.backtest.engine import EngineRun
from alphaforge.backtest.tearsheet import TearSheetData, render_tearsheet


def render_run_tearsheet(
    folder: Path,
    *,
    title: str,
    engine: EngineRun,
    benchmark: EngineRun,
    metrics: Mapping[str, float],
    facts: Mapping[str, str],
    attribution: Mapping[str, pd.DataFrame],
    periods_per_year: float,
) -> Path:
    """Write ``tearsheet.html`` (and its chart data) of an engine run into ``folder``."""
    return render_tearsheet(
        TearSheetData(
            title=title,
            equity=engine.equity,
            returns=engine.result.returns,
            trades=engine.trades,
            costs=engine.costs.set_index("timestamp"),
            metrics=metrics,
            run_facts=facts,
            attribution={name.replace("_", " "): t for name, t in attribution.items()},
            benchmark=benchmark.equity.set_index("timestamp")["equity"],
            periods_per_year=periods_per_year,
        ),
        folder,
    )


__all__ = ["render_run_tearsheet"]
