"""Errors the service answers with a status of their own (never a 500).

:class:`NotFoundError` (from :mod:`alphaforge.core.errors`): something named in the request
(page, symbol, run, order, alert, job) does not exist, answered 404 with the reason.
"""

from __future__ import annotations

from alphaforge.core.errors import NotFoundError

__all__ = ["NotFoundError"]
