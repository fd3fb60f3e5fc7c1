"""What the constructors share: building from a ``PortfolioConfig``, and rebalance bars."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from alphaforge.config.models import PortfolioConfig
from alphaforge.portfolio.pieces import Constructor


def config_params(piece: type[Constructor], config: PortfolioConfig) -> dict[str, Any]:
    """Return the ``PortfolioConfig`` fields that ``piece`` declares as parameters, plus the
    config's ``constructor_params`` (when it has them), which win."""
    declared = {
        name: getattr(config, name)
        for name in piece.model_fields
        if name in type(config).model_fields and name != "constructor"
    }
    extra: Mapping[str, Any] = getattr(config, "constructor_params", None) or {}
    return declared | dict(extra)


class ConfiguredConstructor(Constructor):
    """A constructor that may also be built from a ``PortfolioConfig`` given positionally.

    ``TopK(config)`` takes the config's fields the piece declares (``top_k``, ``long_short``,
    ``gross_exposure``, ``rebalance_every`` ...); keyword parameters override them. This keeps
    the constructors' earlier call form working; configuration goes through
    :func:`alphaforge.config.pieces.build_piece` instead.
    """

    def __init__(self, config: PortfolioConfig | None = None, /, **params: Any) -> None:
        given = {} if config is None else config_params(type(self), config)
        super().__init__(**(given | params))


def rebalance_rows(known: npt.NDArray[np.bool_], every: int) -> npt.NDArray[np.int64]:
    """Return the rows that rebalance: every ``every``-th row with something known.

    ``known`` is a bars x names mask (a signal or score is known); rows are counted from the
    first one with any, so the set of rows up to ``t`` depends on rows up to ``t`` only.
    """
    rows: npt.NDArray[np.int64] = np.flatnonzero(known.any(axis=1)).astype(np.int64)
    return rows[::every]


def aligned(frame: pd.DataFrame, like: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` on the index and columns of ``like`` (NaN where it has no value)."""
    return frame.reindex(index=like.index, columns=like.columns)


__all__ = ["ConfiguredConstructor", "aligned", "config_params", "rebalance_rows"]
