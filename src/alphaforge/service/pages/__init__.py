"""The dashboard's pages: each builds a :class:`~alphaforge.service.pages.base.Page` from the
service's sources: the numbers it draws (its JSON twin), its charts, tables and notes.

``PAGES`` maps a page's name to its title and builder (``module:function``, imported on first
use so one page's heavy imports do not slow the others); adding a page is one module and one
line here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping

from alphaforge.service.errors import NotFoundError
from alphaforge.service.pages.base import Page
from alphaforge.service.sources import ServiceSources

__all__ = ["PAGES", "PageBuilder", "build_page"]

PageBuilder = Callable[[ServiceSources, Mapping[str, str]], Page]

#: name -> (title, "module:function"), in the navigation's order.
PAGES: dict[str, tuple[str, str]] = {
    "portfolio": ("Portfolio", "alphaforge.service.pages.trading:build_portfolio_page"),
    "predictions": ("Predictions", "alphaforge.service.pages.predictions:build_predictions_page"),
    "ml": ("ML analytics", "alphaforge.service.pages.ml:build_ml_page"),
    "trades": ("Trade history", "alphaforge.service.pages.trading:build_trades_page"),
    "market": ("Market overview", "alphaforge.service.pages.market:build_market_page"),
    "risk": ("Risk monitor", "alphaforge.service.pages.trading:build_risk_page"),
    "runs": ("Runs", "alphaforge.service.pages.runs:build_runs_page"),
}


def builder(name: str) -> PageBuilder:
    """Return the builder of page ``name``; NotFoundError for a name not in :data:`PAGES`."""
    if name not in PAGES:
        raise NotFoundError(f"No page {name!r}.", hint="Pages: " + ", ".join(PAGES) + ".")
    module, function = PAGES[name][1].split(":")
    built: PageBuilder = getattr(importlib.import_module(module), function)
    return built


def build_page(name: str, sources: ServiceSources, params: Mapping[str, str]) -> Page:
    """Build page ``name`` for ``params`` (query parameters such as ``symbol`` or ``run``)."""
    return builder(name)(sources, params)
