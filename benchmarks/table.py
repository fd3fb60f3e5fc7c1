"""The result table every benchmark prints: one :class:`Row` per figure, PASS/FAIL in colour.

Imported by the benchmark scripts beside it (``python benchmarks/x.py`` puts this folder on
``sys.path``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the result table."""

    metric: str
    measured: str
    target: str
    status: str  # PASS, FAIL or "" (information only)


def status(ok: bool) -> str:
    """Return ``PASS`` or ``FAIL``."""
    return "PASS" if ok else "FAIL"


def print_table(rows: Sequence[Row], title: str) -> None:
    """Print the rows as a rich table, at least 150 columns wide."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    table.add_column("metric")
    table.add_column("measured", justify="right")
    table.add_column("target", justify="right")
    table.add_column("status")
    for row in rows:
        style = {"PASS": "green", "FAIL": "bold red"}.get(row.status)
        table.add_row(row.metric, row.measured, row.target, row.status, style=style)
    Console(width=max(Console().width, 150)).print(table)
