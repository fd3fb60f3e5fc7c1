"""The run directories under ``run.runs_dir`` as the Runs and ML analytics pages list them.

Each folder that ``train``, ``backtest``, ``demo`` (and ``backtest --sweep``) created holds a
``summary.json`` written last, so a folder without one is an unfinished or killed run. The
summaries are read as plain JSON with tolerant lookups: a page must still list a run written
by an older version, and show a damaged one as damaged rather than fail.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from alphaforge.core.errors import AlphaForgeError, NotFoundError
from alphaforge.pipeline.rundir import MANIFEST, SUMMARY, read_json

__all__ = [
    "KEY_METRICS",
    "RunInfo",
    "find_run",
    "flatten",
    "key_metrics",
    "list_runs",
    "run_metrics",
]

#: Metrics shown per run in the Runs table, in this order (whichever the run has).
KEY_METRICS = ("sharpe", "deflated_sharpe", "cagr", "max_drawdown", "total_return", "auc")
#: Where each command's summary keeps its headline metrics.
_METRIC_SECTION = {
    "train": "ensemble",
    "reproduce": "ensemble",
    "backtest": "metrics",
    "demo": "metrics",
    "sweep": "best_metrics",
}


@dataclass(frozen=True, slots=True)
class RunInfo:
    """One run folder: its name, command, creation time and what its summary says.

    ``state`` is ``finished`` (summary written), ``unfinished`` (no summary: still running,
    killed or failed) or ``damaged`` (a summary that is not a readable JSON object).
    ``created`` is the summary's UTC creation time, else the folder's modification time.
    """

    name: str
    path: Path
    command: str
    created: pd.Timestamp
    state: str
    summary: Mapping[str, Any]

    @property
    def is_train(self) -> bool:
        """Return whether this is a finished training run (``train``, or its reproduction)."""
        return (
            self.state == "finished"
            and isinstance(self.summary.get("ensemble"), Mapping)
            and isinstance(self.summary.get("models"), Mapping)
        )

    @property
    def config(self) -> Mapping[str, Any]:
        """Return the run's configuration as it recorded it (empty when unknown)."""
        config = self.summary.get("config")
        return config if isinstance(config, Mapping) else {}

    @property
    def data(self) -> Mapping[str, Any]:
        """Return the run's data record (universe, symbols, first and last bar)."""
        data = self.summary.get("data")
        return data if isinstance(data, Mapping) else {}

    @property
    def seed(self) -> int | None:
        """Return the run's seed, or None when unknown."""
        seed = self.summary.get("seed")
        return seed if isinstance(seed, int) else None


def _number(value: object) -> float | None:
    """Return ``value`` as a finite float, else None (JSON ``null`` stands for NaN)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def run_metrics(run: RunInfo) -> dict[str, float | None]:
    """Return the run's headline metrics (all of them; None where undefined)."""
    # ``reproduce`` reruns a train or a demo run: its summary is one or the other.
    for key in (_METRIC_SECTION.get(run.command, "metrics"), "metrics", "ensemble"):
        section = run.summary.get(key)
        if isinstance(section, Mapping):
            return {str(k): _number(v) for k, v in section.items()}
    return {}


def key_metrics(run: RunInfo) -> dict[str, float | None]:
    """Return the :data:`KEY_METRICS` of a run (None for those it lacks)."""
    metrics = run_metrics(run)
    return {key: metrics.get(key) for key in KEY_METRICS}


def _command_of(path: Path, summary: Mapping[str, Any]) -> str:
    command = summary.get("command")
    if isinstance(command, str):
        return command
    # An unfinished run: create_run_dir names the folder <UTC time>-<command>[-n].
    parts = path.name.split("-")
    return parts[1] if len(parts) > 1 and parts[0].endswith("Z") else "unknown"


def _read_run(path: Path) -> RunInfo:
    summary: Mapping[str, Any] = {}
    state = "unfinished"
    if (path / SUMMARY).is_file():
        try:
            summary = read_json(path / SUMMARY)
            state = "finished"
        except AlphaForgeError:
            state = "damaged"
    elif (path / MANIFEST).is_file():
        try:  # the manifest still tells the command and configuration
            summary = read_json(path / MANIFEST)
        except AlphaForgeError:
            state = "damaged"
    created = pd.Timestamp(path.stat().st_mtime, unit="s", tz="UTC")
    stamp = summary.get("created")
    if isinstance(stamp, str):
        try:
            parsed = pd.Timestamp(stamp)
            created = parsed.tz_localize("UTC") if parsed.tz is None else parsed.tz_convert("UTC")
        except ValueError:
            pass
    return RunInfo(path.name, path, _command_of(path, summary), created, state, summary)


def list_runs(runs_dir: Path, commands: Sequence[str] | None = None) -> list[RunInfo]:
    """Return the run folders under ``runs_dir``, newest first (``commands`` filters them).

    A folder that holds neither a summary nor a manifest is not a run and is left out.
    """
    if not runs_dir.is_dir():
        return []
    runs = []
    for path in runs_dir.iterdir():
        if not path.is_dir() or not ((path / SUMMARY).exists() or (path / MANIFEST).exists()):
            continue
        run = _read_run(path)
        if commands is None or run.command in commands:
            runs.append(run)
    return sorted(runs, key=lambda r: (r.created, r.name), reverse=True)


def find_run(runs_dir: Path, name: str) -> RunInfo:
    """Return the run folder called ``name`` directly under ``runs_dir``.

    Raises
    ------
    NotFoundError
        If there is no such run (a name with a path separator never matches).
    """
    for run in list_runs(runs_dir):
        if run.name == name:
            return run
    raise NotFoundError(
        f"No run {name!r} in {runs_dir}.", hint="Pick a run from the Runs page's table."
    )


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Return nested mappings as one level with dotted keys (lists stay values)."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat |= flatten(value, f"{name}.")
        else:
            flat[name] = value
    return flat
