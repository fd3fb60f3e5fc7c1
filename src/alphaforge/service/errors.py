"""Errors the service answers with a status of their own (never a 500)."""

from __future__ import annotations

from alphaforge.core.errors import AlphaForgeError

__all__ = ["NotFoundError"]


class NotFoundError(AlphaForgeError):
    """Something named in the request (page, symbol, run, order, alert, job) does not exist:
    answered 404 with the reason."""
