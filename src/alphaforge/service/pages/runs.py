"""Runs: every run folder under ``run.runs_dir``, and two runs side by side.

The table lists each run's command, creation time (UTC), data range, seed and headline
metrics. With ``params["a"]`` and ``params["b"]`` (run folder names) the page adds their
configuration difference (dotted keys whose values differ), their metrics, and their equity
curves where the runs kept one (a backtest's ``tearsheet_data/equity.csv``, in the account
currency per bar close).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from alphaforge.backtest.charts import CurveSet, equity_figure, format_metric, style_figure
from alphaforge.backtest.tearsheet import TEARSHEET_DATA_DIR
from alphaforge.core.errors import NotFoundError
from alphaforge.service.pages.base import Chart, Page, PageTable
from alphaforge.service.pages.run_index import (
    KEY_METRICS,
    RunInfo,
    find_run,
    flatten,
    key_metrics,
    list_runs,
    run_metrics,
)
from alphaforge.service.sources import ServiceSources

__all__ = ["EQUITY_FILE", "build_runs_page", "config_diff", "read_equity"]

#: A backtest run's equity per bar close, relative to its folder.
EQUITY_FILE = f"{TEARSHEET_DATA_DIR}/equity.csv"
_HINT = "alphaforge backtest --config CONFIG` or `alphaforge train --config CONFIG"


def _json_value(value: Any) -> Any:
    """Return a configuration value as the twin holds it (lists and scalars unchanged)."""
    return value if isinstance(value, str | int | float | bool | list | type(None)) else str(value)


def config_diff(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return the dotted keys whose values differ between two configurations, sorted.

    A key only one side has is a difference (its value is None on the other side).
    """
    flat_a, flat_b = flatten(a), flatten(b)
    return [
        {"key": key, "a": _json_value(flat_a.get(key)), "b": _json_value(flat_b.get(key))}
        for key in sorted(set(flat_a) | set(flat_b))
        if flat_a.get(key) != flat_b.get(key)
    ]


def read_equity(run: RunInfo) -> pd.Series | None:
    """Return a run's equity (account currency, UTC bar closes), or None when it kept none."""
    path = run.path / EQUITY_FILE
    if not path.is_file():
        return None
    frame = pd.read_csv(path)
    if "equity" not in frame.columns or frame.empty:
        return None
    stamps = frame["timestamp"] if "timestamp" in frame.columns else frame.iloc[:, 0]
    index = pd.DatetimeIndex(pd.to_datetime(stamps, utc=True), name="timestamp")
    return pd.Series(frame["equity"].to_numpy(dtype=float), index=index, name=run.name)


def _cell(value: float | None) -> float | None:
    return None if value is None else float(value)


def _summary_row(run: RunInfo) -> dict[str, Any]:
    data = run.data
    return {
        "name": run.name,
        "command": run.command,
        "state": run.state,
        "created": run.created.isoformat(),
        "first": data.get("first"),
        "last": data.get("last"),
        "symbols": len(data["symbols"]) if isinstance(data.get("symbols"), list) else None,
        "seed": run.seed,
        "metrics": key_metrics(run),
    }


def build_runs_page(sources: ServiceSources, params: Mapping[str, str]) -> Page:
    """Build the Runs page: the table of runs and, with ``a`` and ``b``, their comparison.

    Raises
    ------
    NotFoundError
        If ``params["a"]`` or ``params["b"]`` names no run folder, or only one is given.
    """
    page = Page(name="runs", title="Runs")
    runs = list_runs(sources.runs_dir)
    rows = [_summary_row(r) for r in runs]
    page.twin["runs"] = rows
    if not runs:
        page.notes.append(f"No runs in {sources.runs_dir} yet: run `{_HINT}`.")
    else:
        columns = ["name", "command", "state", "created", "data", "seed", *KEY_METRICS]
        page.tables.append(
            PageTable(
                "runs",
                "Runs",
                columns,
                [
                    [
                        r["name"],
                        r["command"],
                        r["state"],
                        r["created"][:19],
                        f"{str(r['first'])[:10]} .. {str(r['last'])[:10]}" if r["first"] else "",
                        r["seed"],
                        *(_cell(r["metrics"][k]) for k in KEY_METRICS),
                    ]
                    for r in rows
                ],
            )
        )
    a, b = params.get("a"), params.get("b")
    page.twin["compare"] = None
    if a or b:
        if not (a and b):
            raise NotFoundError("Comparing runs needs two run names.", hint="Pass both a= and b=.")
        _compare(page, find_run(sources.runs_dir, a), find_run(sources.runs_dir, b))
    elif len(runs) >= 2:
        page.notes.append("Pick two runs (a= and b=) to compare them side by side.")
    return page


def _compare(page: Page, a: RunInfo, b: RunInfo) -> None:
    diff = config_diff(a.config, b.config)
    metrics_a, metrics_b = run_metrics(a), run_metrics(b)
    keys = list(dict.fromkeys([*metrics_a, *metrics_b]))
    metrics: list[dict[str, Any]] = [
        {"metric": k, "a": metrics_a.get(k), "b": metrics_b.get(k)} for k in keys
    ]
    equity = {"a": read_equity(a), "b": read_equity(b)}
    page.twin["compare"] = {
        "a": _summary_row(a),
        "b": _summary_row(b),
        "config_diff": diff,
        "metrics": metrics,
        "equity": {
            side: None
            if series is None
            else {
                "timestamps": [t.isoformat() for t in series.index],
                "equity": series.tolist(),
            }
            for side, series in equity.items()
        },
    }
    page.tables.append(
        PageTable(
            "config_diff",
            f"Configuration: {len(diff)} keys differ",
            ["key", a.name, b.name],
            [[d["key"], _text(d["a"]), _text(d["b"])] for d in diff],
        )
    )
    page.tables.append(
        PageTable(
            "metrics",
            "Metrics",
            ["metric", a.name, b.name],
            [
                [
                    m["metric"],
                    format_metric(m["metric"], m["a"]),
                    format_metric(m["metric"], m["b"]),
                ]
                for m in metrics
            ],
        )
    )
    if not diff:
        page.notes.append(f"{a.name} and {b.name} ran with the same configuration.")
    curves = [
        CurveSet(run.name, series, "solid" if side == "a" else "dash")
        for (side, series), run in zip(equity.items(), (a, b), strict=True)
        if series is not None
    ]
    if curves:
        figure = style_figure(equity_figure(curves, log=False))
        page.charts.append(Chart("equity", "Equity", figure))
    for run, series in zip((a, b), equity.values(), strict=True):
        if series is None:
            page.notes.append(
                f"{run.name} ({run.command}) kept no equity curve: a backtest run writes "
                f"{EQUITY_FILE} (`alphaforge backtest --config CONFIG`)."
            )


def _text(value: Any) -> str:
    return "(absent)" if value is None else str(value)
