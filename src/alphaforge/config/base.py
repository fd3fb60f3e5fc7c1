"""The base of every configuration model: frozen, and refusing unknown keys.

Each stage's model lives in its own module of this package (``data``, ``features``,
``labels``, ``validation``, ``model``, ``trading``, ``run``); ``models`` composes them into
``AppConfig``. Nothing reads configuration at import time.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["FrozenModel"]


class FrozenModel(BaseModel):
    """Base of every configuration model: immutable once built, and unknown keys are refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")
