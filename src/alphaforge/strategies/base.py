"""The strategy contract: market data to signals in [-1, 1] per instrument.

A strategy sees bars as wide frames (bar times x symbols) on the union of every symbol's bar
times, NaN where a symbol has no bar. Row ``t`` of its output may use only data known at the
close of bar ``t`` (trailing windows), so computing every row at once in a backtest gives the
same values as computing the last row live; the generic causality test checks it.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Protocol

import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError

from alphaforge.config.models import StrategyConfig
from alphaforge.config.pieces import problem
from alphaforge.core.errors import ConfigError
from alphaforge.core.registry import Registry
from alphaforge.core.types import AssetClass, Instrument


@dataclass(frozen=True, slots=True)
class MarketFrames:
    """Bars of a universe as wide frames sharing one index (UTC bar open times) and columns.

    ``scores`` holds out-of-fold model scores decided at each bar's close (higher = more
    attractive), for strategies that trade a model; ``None`` when no model was run.
    """

    open: pd.DataFrame
    high: pd.DataFrame
    low: pd.DataFrame
    close: pd.DataFrame
    volume: pd.DataFrame
    instruments: Mapping[str, Instrument]
    scores: pd.DataFrame | None = None

    @property
    def index(self) -> pd.DatetimeIndex:
        """Return the bar times."""
        return pd.DatetimeIndex(self.close.index)

    @property
    def symbols(self) -> list[str]:
        """Return the symbols in column order."""
        return [str(c) for c in self.close.columns]

    def window(self, index: pd.Index) -> MarketFrames:
        """Return the same market restricted to the bar times ``index``."""
        return MarketFrames(
            self.open.loc[index],
            self.high.loc[index],
            self.low.loc[index],
            self.close.loc[index],
            self.volume.loc[index],
            self.instruments,
            None if self.scores is None else self.scores.loc[index],
        )

    @classmethod
    def from_bars(
        cls,
        bars_by_symbol: Mapping[str, pd.DataFrame],
        instruments: Mapping[str, Instrument],
        scores: pd.DataFrame | None = None,
    ) -> MarketFrames:
        """Align canonical bars (sorted symbol columns, union of bar times)."""
        symbols = sorted(bars_by_symbol)
        fields = {
            f: pd.DataFrame({s: bars_by_symbol[s][f] for s in symbols}).sort_index()
            for f in ("open", "high", "low", "close", "volume")
        }
        index = fields["close"].index
        aligned = {f: frame.reindex(index=index, columns=symbols) for f, frame in fields.items()}
        if scores is not None:
            scores = scores.reindex(index=index, columns=symbols)
        return cls(
            aligned["open"],
            aligned["high"],
            aligned["low"],
            aligned["close"],
            aligned["volume"],
            dict(instruments),
            scores,
        )


@dataclass(frozen=True, slots=True)
class Signals:
    """What a strategy says at each bar close, as frames shaped like the market's.

    ``value`` is in [-1, 1] (> 0 long, < 0 short, 0 flat), NaN where the strategy has no
    opinion (the position is left alone). ``confidence`` is in [0, 1]; ``stop`` and ``target``
    are absolute prices for a protective stop and a take-profit of a position entered on the
    signal (NaN: none). For sizers and the Bayesian ranking, a model-driven strategy may add
    ``probability`` (calibrated probability that the signal's direction is right, [0, 1]),
    ``expected_return`` (to the horizon, a fraction; e.g. the median return quantile) and
    ``volatility`` (predicted, annualised; e.g. from the quantile spread); None: unknown.
    """

    value: pd.DataFrame
    confidence: pd.DataFrame | None = None
    stop: pd.DataFrame | None = None
    target: pd.DataFrame | None = None
    probability: pd.DataFrame | None = None
    expected_return: pd.DataFrame | None = None
    volatility: pd.DataFrame | None = None


class Strategy(Protocol):
    """Anything that turns market frames into signals."""

    @property
    def warmup(self) -> int:
        """Return the bars of history needed before the first signal."""
        ...

    def signals(self, market: MarketFrames) -> Signals:
        """Return the signals of every bar; row ``t`` uses data to the close of ``t`` only."""
        ...


class StrategyParams(BaseModel):
    """Base of every registered strategy: its fields are its parameters (frozen)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: ``rule`` or ``ml``.
    family: ClassVar[str] = "rule"
    #: Asset classes it is meant for (None: any).
    asset_classes: ClassVar[frozenset[AssetClass] | None] = None
    #: What it reads: bar fields and ``scores``.
    needs: ClassVar[tuple[str, ...]] = ("close",)
    #: One line for listings.
    summary: ClassVar[str] = ""

    @property
    def warmup(self) -> int:
        """Return the bars of history needed before the first signal."""
        return 0

    @abstractmethod
    def signals(self, market: MarketFrames) -> Signals:
        """Return the signals of every bar; row ``t`` uses data to the close of ``t`` only."""


STRATEGIES: Registry[type[StrategyParams]] = Registry("strategy")


def create_strategy(config: StrategyConfig) -> StrategyParams:
    """Build the configured strategy; an unknown name or parameter is a one-line ConfigError."""
    cls = STRATEGIES.get(config.name)
    try:
        return cls.model_validate(config.params)
    except ValidationError as exc:
        problems = "; ".join(problem(e["loc"], e["msg"]) for e in exc.errors())
        raise ConfigError(
            f"Strategy {config.name!r}: {problems}.",
            hint=f"Its parameters: {', '.join(cls.model_fields) or 'none'}.",
        ) from None


__all__ = [
    "STRATEGIES",
    "MarketFrames",
    "Signals",
    "Strategy",
    "StrategyParams",
    "create_strategy",
]
