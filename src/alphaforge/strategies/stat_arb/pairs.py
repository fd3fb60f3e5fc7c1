"""``pairs``: trade the z-score of cointegrated pairs' spreads.

Every ``retest_every`` bars (on a clock fixed to the bar times, :mod:`.scan`) the strategy
re-tests the universe's pairs over the trailing ``window`` bars: correlation pre-filter,
Engle-Granger (or Johansen), AR(1) half-life; a disjoint set of passing pairs is selected,
each with its hedge ratio. Until the next re-test, a selected pair may open a spread trade
when its z-score reaches the entry level; an open trade runs (across later re-tests, passed
or failed) until the z-score is back at the exit level, reaches the stop, or has been held
``max_holding`` bars. A pair that fails its re-test opens nothing new. A later passed
re-test that opens a trade on the same pair takes over the older trade (with its newer hedge).

Signals (``value``): a leg's share of the pair's gross exposure, signed. Short the spread
(z high) is ``y: -1 / (1 + |b|)``, ``x: +b / (1 + |b|)``; long is the mirror; flat is 0, so a
pair's legs sum to 1 in absolute value and their ratio is the hedge ratio ``b`` (dollars of
``x`` per dollar of ``y``; log prices). A symbol in trades of several pairs at once holds the
sum, and a bar whose largest absolute value would exceed 1 is scaled down as a whole (every
hedge kept). A symbol is flat (0) once it has ``window`` bars within the test span and no
trade; NaN before that, on bars it does not trade, and on bars its partner does not trade
while their trade is open (nothing to rebalance against). ``group`` names the trade each
position belongs to (``Y~X``; pairs sharing a symbol join as ``A~B+A~C``).

No state is kept: everything at bar ``t`` is recomputed from the last :attr:`Pairs.lookback`
bars (the tests of the re-tests whose trades can still be open, and their windows).
"""

from __future__ import annotations

from typing import ClassVar, Literal, NamedTuple

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from alphaforge.core.types import AssetClass, Instrument
from alphaforge.strategies.base import STRATEGIES, Family, MarketFrames, Signals, StrategyParams
from alphaforge.strategies.stat_arb.kalman import innovation_z, kalman_regression
from alphaforge.strategies.stat_arb.scan import ScanSettings, retest_rows, scan_pairs
from alphaforge.strategies.stat_arb.spread import (
    BoolArray,
    FloatArray,
    IntArray,
    leg_weights,
    spread_sides,
)


class _PairTest(NamedTuple):
    """One passed re-test of a pair: its row and the spread it defines."""

    row: int
    intercept: float
    hedge: float
    spread_std: float


@STRATEGIES.register("pairs")
class Pairs(StrategyParams):
    """Cointegrated pairs, traded on their spread's z-score.

    Re-tested every ``retest_every`` bars on the trailing ``window``; a selected pair opens
    a trade until the next re-test, and the trade runs to the exit, the stop or
    ``max_holding``. A leg's value is its signed share of the pair's gross exposure
    (``y: -1 / (1 + |b|)``, ``x: +b / (1 + |b|)`` short the spread); both legs carry the
    group name ``Y~X``. Details in the module docstring.
    """

    family: ClassVar[Family] = Family.STAT_ARB
    summary: ClassVar[str] = (
        "Cointegrated pairs (Engle-Granger or Johansen, re-tested monthly): short the spread "
        "at z >= 2, long at z <= -2, out at 0, stop at 3."
    )

    window: int = Field(252, ge=30, description="Bars both legs trade that each test uses.")
    retest_every: int = Field(21, ge=1, description="Bars between re-tests.")
    min_correlation: float | None = Field(
        0.6, ge=-1.0, le=1.0, description="Pre-filter: least log-return correlation (None: off)."
    )
    max_pvalue: float = Field(
        0.05, gt=0.0, lt=1.0, description="Engle-Granger p-value a pair must be under."
    )
    max_half_life: float = Field(63.0, gt=0.0, description="Slowest spread half-life, bars.")
    test: Literal["engle_granger", "johansen"] = Field(
        "engle_granger", description="Cointegration test (Johansen: trace test at 95 %)."
    )
    hedge: Literal["ols", "kalman"] = Field(
        "ols",
        description="Hedge ratio: OLS on the test window, or a Kalman filter (z of innovations).",
    )
    process_noise: float = Field(
        1e-4, ge=0.0, description="Kalman: coefficient noise per bar relative to the residual's."
    )
    entry_z: float = Field(2.0, gt=0.0, description="|z| that opens a trade.")
    entry_z_crypto: float = Field(2.5, gt=0.0, description="|z| that opens one on crypto.")
    exit_z: float = Field(0.0, ge=0.0, description="|z| back to which a trade closes.")
    stop_z: float = Field(3.0, gt=0.0, description="|z| at which an open trade is stopped.")
    max_holding: int = Field(63, ge=1, description="Bars after which an open trade closes.")

    @model_validator(mode="after")
    def _ordered_levels(self) -> Pairs:
        for entry in (self.entry_z, self.entry_z_crypto):
            if not self.exit_z < entry < self.stop_z:
                raise ValueError(
                    f"levels must satisfy exit_z < entry < stop_z; got {self.exit_z}, "
                    f"{entry}, {self.stop_z}"
                )
        return self

    @property
    def settings(self) -> ScanSettings:
        """Return the pair scan's settings."""
        return ScanSettings(
            window=self.window,
            retest_every=self.retest_every,
            min_correlation=self.min_correlation,
            max_pvalue=self.max_pvalue,
            max_half_life=self.max_half_life,
            test=self.test,
        )

    @property
    def warmup(self) -> int:
        """Return ``window - 1`` bars: a symbol is tested at its ``window``-th bar."""
        return self.window - 1

    @property
    def lookback(self) -> int:
        """Return the bars behind any signal: a test span, its trading block and holding."""
        return self.settings.span + self.retest_every + self.max_holding + 1

    def signals(self, market: MarketFrames) -> Signals:
        """Return the legs' signals and group names (module docstring)."""
        closes = market.close
        symbols = market.symbols
        values = closes.to_numpy(dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_prices = np.where(values > 0.0, np.log(values), np.nan)
        own = np.isfinite(log_prices)
        counted = pd.DataFrame(own).rolling(self.settings.span, min_periods=1).sum().to_numpy()
        value = np.where(own & (counted >= self.window), 0.0, np.nan)
        # The re-test clock from the run's interval and the instruments' calendars, never
        # from the bar times (a later bar would move earlier re-tests).
        spacing = market.spacing
        spacing_ns = None if spacing is None else int(spacing.value)
        weekends = any(_trades_weekends(i) for i in market.instruments.values())
        scan = scan_pairs(closes, self.settings, spacing_ns=spacing_ns, weekends=weekends)
        chosen = scan[scan["selected"].astype(bool)]
        starts = retest_rows(market.index, self.retest_every, spacing_ns, weekends)
        column = {s: k for k, s in enumerate(symbols)}
        held: list[tuple[int, int, BoolArray]] = []  # legs and rows of each pair's open trade
        hold = np.zeros_like(own)
        for (y, x), tests in chosen.groupby(["y", "x"], sort=True):
            i, j = column[str(y)], column[str(x)]
            crypto = _is_crypto(market, str(y)) or _is_crypto(market, str(x))
            entry = self.entry_z_crypto if crypto else self.entry_z
            sides, hedges = self.pair_trades(
                log_prices[:, i], log_prices[:, j], tests, starts, entry
            )
            trading = np.isfinite(sides)
            for leg in (i, j):
                value[trading & np.isnan(value[:, leg]), leg] = 0.0
            for row in np.flatnonzero(trading & (sides != 0.0)).tolist():
                w_y, w_x = leg_weights(float(sides[row]), float(hedges[row]))
                value[row, i] += w_y
                value[row, j] += w_x
            # A leg trading while its partner has no bar keeps its position (NaN).
            carried = pd.Series(sides).ffill(limit=self.retest_every).to_numpy()
            open_ = np.isfinite(carried) & (carried != 0.0)
            partner_missing = ~(own[:, i] & own[:, j])
            hold[:, i] |= open_ & partner_missing & own[:, i]
            hold[:, j] |= open_ & partner_missing & own[:, j]
            held.append((i, j, open_))
        value[hold] = np.nan
        out = pd.DataFrame(_fit_rows(value), index=closes.index, columns=closes.columns)
        group = _group_frame(held, own, closes)
        return Signals(out, group=group)

    def pair_trades(
        self,
        log_y: FloatArray,
        log_x: FloatArray,
        tests: pd.DataFrame,
        starts: IntArray,
        entry: float,
    ) -> tuple[FloatArray, FloatArray]:
        """Return one pair's side and hedge per market row.

        ``tests`` are the pair's passed re-tests (rows of :func:`.scan.scan_pairs`), ``starts``
        the market's re-test rows. Each passed re-test at row ``r`` may open trades on the
        rows both legs trade in ``[r, next re-test)`` (at most ``retest_every`` rows) and
        runs them to at most ``max_holding`` rows later. Side is NaN on rows no trading
        period covers and on rows a leg has no bar; hedge is the one the trade opened with.
        """
        n = log_y.size
        joint = np.isfinite(log_y) & np.isfinite(log_x)
        sides = np.full(n, np.nan)
        hedges = np.full(n, np.nan)
        ordered = tests.sort_values("row")
        for test in map(
            _PairTest._make,
            zip(
                ordered["row"].to_numpy(np.int64).tolist(),
                ordered["intercept"].to_numpy(np.float64).tolist(),
                ordered["hedge"].to_numpy(np.float64).tolist(),
                ordered["spread_std"].to_numpy(np.float64).tolist(),
                strict=True,
            ),
        ):
            r = test.row
            later = starts[starts > r]
            entry_end = min(int(later[0]) if later.size else n, r + self.retest_every)
            horizon = min(n, r + self.retest_every + self.max_holding)
            rows = (np.flatnonzero(joint[r:horizon]) + r).astype(np.int64)
            if rows.size == 0:
                continue
            z, bar_hedge = self._z_scores(log_y, log_x, joint, rows, test)
            side = spread_sides(
                z,
                rows < entry_end,
                rows,
                entry=entry,
                exit=self.exit_z,
                stop=self.stop_z,
                max_holding=self.max_holding,
            )
            uncovered = rows[np.isnan(sides[rows])]
            sides[uncovered] = 0.0
            opened = np.flatnonzero(side != 0.0)
            if opened.size == 0:
                continue
            # A trade opened here takes over whatever an older test still held.
            first = int(opened[0])
            sides[rows[first:]] = side[first:]
            hedges[rows[first:]] = _hedge_at_entry(side, bar_hedge)[first:]
        return sides, hedges

    def _z_scores(
        self,
        log_y: FloatArray,
        log_x: FloatArray,
        joint: BoolArray,
        rows: IntArray,
        test: _PairTest,
    ) -> tuple[FloatArray, FloatArray]:
        """Return the spread's z-score and hedge ratio on ``rows`` (from the test at its row)."""
        if self.hedge == "ols":
            spread = log_y[rows] - test.intercept - test.hedge * log_x[rows]
            return spread / test.spread_std, np.full(rows.size, float(test.hedge))
        r = test.row
        lo = max(0, r + 1 - self.settings.span)
        formation = (np.flatnonzero(joint[lo : r + 1]) + lo)[-self.window :]
        path = np.union1d(formation, rows)
        kf = kalman_regression(
            log_y[path], log_x[path], delta=self.process_noise, obs_var=test.spread_std**2
        )
        # The hedge a trade opens with is the one known before the bar (the z's prediction).
        prior = np.concatenate([[np.nan], kf.hedge[:-1]])
        tail = path.size - rows.size
        return innovation_z(kf)[tail:], prior[tail:]


def _hedge_at_entry(side: FloatArray, bar_hedge: FloatArray) -> FloatArray:
    """Return, on each bar of a trade, the hedge ratio of the bar that opened it."""
    previous = np.concatenate([[0.0], side[:-1]])
    opening = (side != 0.0) & (previous == 0.0)
    last_open = np.maximum.accumulate(np.where(opening, np.arange(side.size), 0))
    return np.where(side != 0.0, bar_hedge[last_open], np.nan)


def _fit_rows(value: FloatArray) -> FloatArray:
    """Scale down each row whose largest absolute signal exceeds 1 (hedges kept)."""
    with np.errstate(invalid="ignore"):
        largest = np.nanmax(np.abs(np.where(np.isfinite(value), value, 0.0)), axis=1)
    scale = np.where(largest > 1.0, largest, 1.0)
    return value / scale[:, None]


def _group_frame(
    held: list[tuple[int, int, BoolArray]], own: BoolArray, closes: pd.DataFrame
) -> pd.DataFrame:
    """Name the trade of each held leg; pairs sharing a symbol on a bar share one name."""
    names = [str(c) for c in closes.columns]
    out = np.full(own.shape, None, dtype=object)
    if held:
        rows = np.flatnonzero(np.logical_or.reduce([h[2] for h in held]))
        for row in rows.tolist():
            legs = [(i, j) for i, j, open_ in held if open_[row]]
            for members, label in _components(legs, names):
                for leg in members:
                    if own[row, leg]:
                        out[row, leg] = label
    return pd.DataFrame(out, index=closes.index, columns=closes.columns, dtype=object)


def _components(legs: list[tuple[int, int]], names: list[str]) -> list[tuple[set[int], str]]:
    """Join pairs that share a symbol; label each group by its pairs' names."""
    groups: list[tuple[set[int], list[str]]] = []
    for i, j in legs:
        label = f"{names[i]}~{names[j]}"
        touching = [g for g in groups if i in g[0] or j in g[0]]
        members, labels = {i, j}, [label]
        for g in touching:
            groups.remove(g)
            members |= g[0]
            labels += g[1]
        groups.append((members, labels))
    return [(members, "+".join(sorted(labels))) for members, labels in groups]


def _trades_weekends(instrument: Instrument) -> bool:
    """Whether the instrument trades on weekends (crypto, a 24/7 calendar)."""
    return instrument.asset_class is AssetClass.CRYPTO or instrument.calendar == "24/7"


def _is_crypto(market: MarketFrames, symbol: str) -> bool:
    instrument = market.instruments.get(symbol)
    return instrument is not None and instrument.asset_class == AssetClass.CRYPTO


__all__ = ["Pairs"]
