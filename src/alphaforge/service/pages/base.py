"""What a page is: the numbers it draws (served as its JSON twin), its Plotly charts, its
tables and the notes that explain an empty state.

A page builder is a function ``build(sources) -> Page``; the HTML page and
``/api/v1/pages/<name>`` are rendered from the same object, so what is drawn is what the twin
holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import plotly.graph_objects as go

__all__ = ["Chart", "Page", "PageTable"]


@dataclass(frozen=True)
class Chart:
    """One Plotly figure of a page; ``id`` is the HTML element's id (unique on the page)."""

    id: str
    title: str
    figure: go.Figure


@dataclass(frozen=True)
class PageTable:
    """A sortable table: column names and rows of JSON-ready cells (str, int, float or None)."""

    id: str
    title: str
    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]


@dataclass
class Page:
    """A built page.

    ``twin`` holds the numbers drawn, JSON-ready (lists, dicts, floats, strings); ``notes``
    are the lines shown when part of the page has nothing to show yet, each naming the command
    that creates what is missing.
    """

    name: str
    title: str
    twin: dict[str, Any] = field(default_factory=dict)
    charts: list[Chart] = field(default_factory=list)
    tables: list[PageTable] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
