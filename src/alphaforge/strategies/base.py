"""The strategy contract: market data to signals in [-1, 1] per instrument.

A strategy sees bars as wide frames (bar times x symbols) on the union of every symbol's bar
times, NaN where a symbol has no bar. Row ``t`` of its output may use only data known at the
close of bar ``t`` (trailing windows), so computing every row at once in a backtest gives the
same values as computing the last row live; the generic causality test checks it.
"""

from __future__ import annotations

import difflib
from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Protocol

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError

from alphaforge.config.models import StrategyConfig
from alphaforge.config.pieces import problem
from alphaforge.core.errors import ConfigError, DataError
from alphaforge.core.registry import Registry
from alphaforge.core.types import AssetClass, Instrument, Interval
from alphaforge.features.registry import FEATURES, BarArrays, compute_matrix

#: Bar fields a strategy may read besides features.
BAR_FIELDS = ("open", "high", "low", "close", "volume")


class Family(StrEnum):
    """What kind of edge a strategy trades (the aggregator's regime switch groups by it)."""

    TREND = "trend"
    MEAN_REVERSION = "mean_reversion"
    BREAKOUT = "breakout"
    STAT_ARB = "stat_arb"
    CROSS_ASSET = "cross_asset"
    ML = "ml"


@dataclass(frozen=True, slots=True)
class MarketFrames:
    """Bars of a universe as wide frames sharing one index (UTC bar open times) and columns.

    ``scores`` holds out-of-fold model scores decided at each bar's close (higher = more
    attractive), for strategies that trade a model; ``None`` when no model was run.
    ``predictions`` holds every column of a train run's ``oof_predictions.parquet`` (or a
    champion's scoring) as wide frames by column name (``score_<model>``,
    ``p_<class>_<model>``, ``agreement``, quantiles), decided at each bar's close; ``None``
    when no model was run.
    """

    open: pd.DataFrame
    high: pd.DataFrame
    low: pd.DataFrame
    close: pd.DataFrame
    volume: pd.DataFrame
    instruments: Mapping[str, Instrument]
    scores: pd.DataFrame | None = None
    predictions: Mapping[str, pd.DataFrame] | None = None
    #: The bars' interval (``data.interval``), when the caller knows it: the bar clocks of
    #: strategies (bar length, re-test and refit schedules) read it. None: inferred from the
    #: bar times, which reads every bar, later ones included; the pipeline always sets it.
    interval: Interval | None = None
    #: Features computed so far, by name (filled by :meth:`feature`; not part of equality).
    _features: dict[str, pd.DataFrame] = field(default_factory=dict, compare=False, repr=False)
    #: Each symbol's bar rows and bar arrays, built on the first feature (not part of equality).
    _arrays: list[tuple[np.ndarray, BarArrays]] = field(
        default_factory=list, compare=False, repr=False
    )

    @property
    def index(self) -> pd.DatetimeIndex:
        """Return the bar times."""
        return pd.DatetimeIndex(self.close.index)

    @property
    def symbols(self) -> list[str]:
        """Return the symbols in column order."""
        return [str(c) for c in self.close.columns]

    @property
    def spacing(self) -> pd.Timedelta | None:
        """Return the bar spacing: the interval's length when :attr:`interval` is set, else
        the median gap between bar times (None: < 2 bars).

        Daily bars with weekends give one day; hourly crypto bars one hour. The inferred
        spacing reads every bar time, later ones included: runs that must be causal even
        against irregular bar times set :attr:`interval`.
        """
        if self.interval is not None:
            return self.interval.nominal
        if len(self.index) < 2:
            return None
        gaps = np.diff(self.index.as_unit("ns").asi8)
        return pd.Timedelta(int(np.median(gaps)), unit="ns")

    def symbol_bars(self, symbol: str) -> pd.DataFrame:
        """Return one symbol's own bars (the rows where it has a close), canonical OHLCV.

        ``attrs["spacing_ns"]`` holds the market's :attr:`spacing` in nanoseconds (absent
        when unknown), for strategies that need a bar's length.
        """
        rows = self.close[symbol].notna().to_numpy()
        bars = pd.DataFrame(
            {name: getattr(self, name)[symbol].to_numpy()[rows] for name in BAR_FIELDS},
            index=self.index[rows],
        )
        spacing = self.spacing
        if spacing is not None:
            bars.attrs["spacing_ns"] = int(spacing.value)
        return bars

    def feature(self, name: str) -> pd.DataFrame:
        """Return a registered per-symbol feature as a wide frame (bar times x symbols).

        Each symbol's value is computed on its own bars by the feature's kernel, as
        ``features.registry.compute`` does, so the value at a row is known at that bar's
        close; NaN where the symbol has no bar, is in the feature's warm-up, or is of an asset
        class the feature does not apply to. Computed once per market and cached; the bar
        arrays (and their shared intermediates) are built once per symbol for all features.
        """
        cached = self._features.get(name)
        if cached is not None:
            return cached
        spec = FEATURES.get(name)  # an unknown name: one line with the closest names
        out = np.full(self.close.shape, np.nan)
        for j, (rows, arrays) in enumerate(self._symbol_arrays()):
            if rows.size == 0:
                continue
            if spec.asset_classes is not None and arrays.asset_class not in spec.asset_classes:
                continue
            out[rows, j] = compute_matrix(arrays, [name])[:, 0]
        frame = pd.DataFrame(out, index=self.close.index, columns=self.close.columns)
        self._features[name] = frame
        return frame

    def _symbol_arrays(self) -> list[tuple[np.ndarray, BarArrays]]:
        """Return each symbol's bar rows and its bars as arrays, in column order (cached)."""
        if self._arrays or not self.symbols:
            return self._arrays
        o, h, lo, c, v = (getattr(self, f).to_numpy(np.float64) for f in BAR_FIELDS)
        stamps = self.index.as_unit("ns").asi8
        for j, symbol in enumerate(self.symbols):
            rows = np.flatnonzero(np.isfinite(c[:, j]))
            instrument = self.instruments.get(symbol)

            def column(values: np.ndarray, j: int = j, rows: np.ndarray = rows) -> np.ndarray:
                return np.ascontiguousarray(values[rows, j])

            arrays = BarArrays(
                open=column(o),
                high=column(h),
                low=column(lo),
                close=column(c),
                volume=column(v),
                timestamp=np.ascontiguousarray(stamps[rows]),
                asset_class=instrument.asset_class if instrument is not None else None,
                calendar=instrument.calendar if instrument is not None else None,
            )
            self._arrays.append((rows, arrays))
        return self._arrays

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
            None
            if self.predictions is None
            else {k: v.loc[index] for k, v in self.predictions.items()},
            self.interval,
        )

    @classmethod
    def from_bars(
        cls,
        bars_by_symbol: Mapping[str, pd.DataFrame],
        instruments: Mapping[str, Instrument],
        scores: pd.DataFrame | None = None,
        predictions: Mapping[str, pd.DataFrame] | None = None,
        interval: Interval | None = None,
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
        if predictions is not None:
            predictions = {
                k: v.reindex(index=index, columns=symbols) for k, v in predictions.items()
            }
        return cls(
            aligned["open"],
            aligned["high"],
            aligned["low"],
            aligned["close"],
            aligned["volume"],
            dict(instruments),
            scores,
            predictions,
            interval,
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

    ``entry_above`` and ``entry_below`` ask for stop entries instead of a market order: where
    one is finite at bar ``t``, the engine rests a buy stop at ``entry_above`` (to go long by
    the signal's size) and/or a sell stop at ``entry_below`` (to go short) for bar ``t + 1``
    only, one cancelling the other; ``value`` there is the size (its sign is ignored). A
    strategy that still wants the entry on the next bar says so again at ``t + 1``. Each leg
    takes ``stop`` and ``target`` as its bracket, or its own exits where the two sides need
    different ones: ``above_stop`` / ``above_target`` for the buy stop, ``below_stop`` /
    ``below_target`` for the sell stop (absolute prices; NaN: none).

    ``components`` (aggregates only) holds each component's fraction of ``value`` at each bar
    (they sum to 1 where the aggregate before its threshold is not 0); the backtest splits a
    trade's P&L by the fractions of the bar that decided its entry.

    ``group`` names, per bar and symbol, the trade a position belongs to (strings; None or
    NaN: on its own): a pair's two legs carry one name (``KO~PEP``), so risk and attribution
    can treat them as one position. None: no groups.
    """

    value: pd.DataFrame
    confidence: pd.DataFrame | None = None
    stop: pd.DataFrame | None = None
    target: pd.DataFrame | None = None
    probability: pd.DataFrame | None = None
    expected_return: pd.DataFrame | None = None
    volatility: pd.DataFrame | None = None
    entry_above: pd.DataFrame | None = None
    entry_below: pd.DataFrame | None = None
    above_stop: pd.DataFrame | None = None
    above_target: pd.DataFrame | None = None
    below_stop: pd.DataFrame | None = None
    below_target: pd.DataFrame | None = None
    components: Mapping[str, pd.DataFrame] | None = None
    group: pd.DataFrame | None = None


class Strategy(Protocol):
    """Anything that turns market frames into signals."""

    @property
    def needs(self) -> tuple[str, ...]:
        """Return what it reads: bar fields and ``scores``."""
        ...

    @property
    def warmup(self) -> int:
        """Return the bars of history needed before the first signal."""
        ...

    @property
    def lookback(self) -> int:
        """Return the bars of history that reproduce its signal at the last bar."""
        ...

    def check_interval(self, spacing: pd.Timedelta) -> None:
        """Refuse, in one line, bars further apart than it runs on."""
        ...

    def check_data(self, market: MarketFrames) -> None:
        """Refuse, in one line, a market its declaration is not met by."""
        ...

    def signals(self, market: MarketFrames) -> Signals:
        """Return the signals of every bar; row ``t`` uses data to the close of ``t`` only."""
        ...


class StrategyParams(BaseModel):
    """Base of every registered strategy: its fields are its parameters (frozen).

    A strategy keeps no state between calls: whatever its signal at ``t`` depends on (a
    breakout already taken today, an open spread trade) is recomputed from the last
    :attr:`lookback` bars, so a restarted live node gives the same signal as an unbroken run.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: The kind of edge (:class:`Family`).
    family: ClassVar[Family] = Family.TREND
    #: Asset classes it is meant for (None: any). Other symbols get no signal (NaN).
    asset_classes: ClassVar[frozenset[AssetClass] | None] = None
    #: The coarsest bar interval it runs on (None: any); coarser data are refused.
    interval: ClassVar[Interval | None] = None
    #: What it reads: bar fields and ``scores``.
    needs: ClassVar[tuple[str, ...]] = ("close",)
    #: One line for listings.
    summary: ClassVar[str] = ""
    #: Whether it enters by stop entries (``entry_above`` / ``entry_below``): its ``value``
    #: on the asking bars is a size, not a side, so it cannot be an aggregate's component.
    uses_entries: ClassVar[bool] = False

    @property
    def warmup(self) -> int:
        """Return the bars of a symbol's own history before its first possible signal."""
        return 0

    @property
    def features(self) -> tuple[str, ...]:
        """Return the registered features it reads (``MarketFrames.feature``)."""
        return ()

    @property
    def requires(self) -> tuple[str, ...]:
        """Return other instruments it reads that must be in the market (``^VIX``, ``SPY``)."""
        return ()

    @property
    def lookback(self) -> int:
        """Return the bars of history before a bar that reproduce its signal at that bar exactly.

        Counted like a feature's ``memory``: the signal at bar ``t`` needs bars
        ``t - lookback .. t``, so a restarted node loads ``lookback + 1`` bars. At least
        :attr:`warmup`, and at least the ``memory`` of every feature it reads (TA-Lib
        EMAs fade slowly: ``ema_200`` needs 3,193 bars to agree to 1e-9). A feature of
        unbounded memory (a cumulative sum) cannot be reproduced from any window and is not
        counted: a live node feeds such a strategy its full history.
        """
        memories = [FEATURES.get(name).memory for name in self.features]
        bounded = [m for m in memories if m is not None]
        return max([self.warmup, *bounded])

    def describe(self) -> dict[str, Any]:
        """Return what ``alphaforge strategies list`` prints about this instance."""
        classes = type(self).asset_classes
        return {
            "family": str(type(self).family),
            "asset_classes": sorted(str(c) for c in classes) if classes else ["any"],
            "interval": str(type(self).interval) if type(self).interval else "any",
            "needs": [*type(self).needs, *self.features],
            "requires": list(self.requires),
            "warmup": self.warmup,
            "lookback": self.lookback,
            "summary": type(self).summary,
        }

    def check_interval(self, spacing: pd.Timedelta) -> None:
        """Refuse, in one line, bars further apart than the coarsest interval it runs on."""
        interval = type(self).interval
        if interval is not None and spacing > interval.nominal:
            name = STRATEGIES.name_of(type(self))
            raise DataError(
                f"Strategy {name} needs bars of {interval} or finer; these bars are "
                f"{_spacing_text(spacing)} apart.",
                hint=f"Set data.interval: {interval} (or finer) and fetch those bars.",
            )

    def check_data(self, market: MarketFrames) -> None:
        """Refuse, in one line, a market that does not meet this strategy's declaration."""
        name = STRATEGIES.name_of(type(self))
        if market.spacing is not None:
            self.check_interval(market.spacing)
        classes = type(self).asset_classes
        if classes is not None:
            served = [s for s, i in market.instruments.items() if i.asset_class in classes]
            if not served:
                wanted = ", ".join(sorted(str(c) for c in classes))
                raise DataError(
                    f"Strategy {name} trades {wanted} and the universe holds none.",
                    hint="Pick a universe with those assets, or another strategy.",
                )
        missing = [s for s in self.requires if s not in market.instruments]
        if missing:
            raise DataError(
                f"Strategy {name} reads {', '.join(missing)}, which the data do not hold.",
                hint=f"Add {', '.join(missing)} to the universe (alphaforge data fetch).",
            )
        for field_name in type(self).needs:
            if field_name == "scores" and market.scores is None:
                raise DataError(
                    f"Strategy {name} needs model scores and none were given.",
                    hint="Run alphaforge train first and pass its run (--predictions RUN_DIR).",
                )
        longest = int(market.close.notna().sum().max()) if len(market.index) else 0
        if longest <= self.warmup:
            raise DataError(
                f"Strategy {name} needs more than {self.warmup} bars of warm-up; the longest "
                f"series here has {longest}.",
                hint="Load a longer history (data.start earlier).",
            )

    @abstractmethod
    def signals(self, market: MarketFrames) -> Signals:
        """Return the signals of every bar; row ``t`` uses data to the close of ``t`` only."""


def _spacing_text(spacing: pd.Timedelta) -> str:
    if spacing >= pd.Timedelta(days=1):
        days = spacing / pd.Timedelta(days=1)
        return f"{days:g} day" + ("s" if days != 1 else "")
    hours = spacing / pd.Timedelta(hours=1)
    if hours >= 1:
        return f"{hours:g} hour" + ("s" if hours != 1 else "")
    return f"{spacing / pd.Timedelta(minutes=1):g} minutes"


STRATEGIES: Registry[type[StrategyParams]] = Registry("strategy")


def create_single_strategy(config: StrategyConfig) -> StrategyParams:
    """Build one registered strategy (``strategy.name``); an unknown name or parameter is a
    one-line ConfigError. ``strategies.combined.create_strategy`` also builds aggregates."""
    cls = STRATEGIES.get(config.name)
    try:
        return cls.model_validate(config.params)
    except ValidationError as exc:
        problems = "; ".join(problem(e["loc"], e["msg"]) for e in exc.errors())
        unknown = [str(e["loc"][0]) for e in exc.errors() if e["type"] == "extra_forbidden"]
        close = [
            match
            for name in unknown
            for match in difflib.get_close_matches(name, list(cls.model_fields), n=2, cutoff=0.5)
        ]
        hint = f"Its parameters: {', '.join(cls.model_fields) or 'none'}."
        if close:
            hint = f"Did you mean {', '.join(dict.fromkeys(close))}? {hint}"
        raise ConfigError(f"Strategy {config.name!r}: {problems}.", hint=hint) from None


__all__ = [
    "BAR_FIELDS",
    "STRATEGIES",
    "Family",
    "MarketFrames",
    "Signals",
    "Strategy",
    "StrategyParams",
    "create_single_strategy",
]
