"""The live side of the risk layer: the risk preset's pieces on a live decision.

The engine runs the sizer chain, the limits' trims of rebalance targets and the risk
manager's pieces (breakers, regime filters, stops, limits) on every order before the base
checks (``backtest/engine.py:_submit_targets``). The node asks the same
:class:`~alphaforge.backtest.risk_bridge.RiskBridge` the same questions, on a book built
from what it knows when the execution window opens:

- inputs (features, market values, trailing returns) from the intake's trailing window,
  with one more row for the bar about to trade (:meth:`RiskInputs.build` with ``ahead``),
  which holds what was known at the window's last close, as the engine's row of that bar;
- the stops working on each position: the venue's open stop orders on the closing side;
- when each position opened and the payoff of the closed round trips, from the ledger's
  fills (Kelly's win/loss ratio, time stops).

Inputs with unbounded memory (Wilder's ATR) computed on a window differ from the engine's,
computed over all history, by what decays out of the window (``live.warmup_bars``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from alphaforge.backtest.risk_bridge import RiskBridge, RiskInputs
from alphaforge.core.errors import AlphaForgeError
from alphaforge.core.types import Instrument, Interval
from alphaforge.live.decide import Decision
from alphaforge.live.trips import RoundTrip
from alphaforge.portfolio.book import Book, Universe
from alphaforge.portfolio.pieces import Sizer
from alphaforge.risk.manager import RiskManager
from alphaforge.strategies.base import MarketFrames, Signals


@dataclass(frozen=True, slots=True)
class LivePieces:
    """The risk pieces' view of one execution: the bridge and the rows of its inputs.

    ``row`` is the inputs' row of the bar about to trade (the book's), ``decided`` the row of
    the decided bar (the sizers read the signal's probability there); ``stops`` the price of
    the stop working on each position of the universe (NaN: none).
    """

    bridge: RiskBridge
    row: int
    decided: int
    stops: np.ndarray

    @property
    def manager(self) -> RiskManager:
        """Return the risk manager the pieces belong to."""
        return self.bridge.manager

    def book(
        self, when: pd.Timestamp, equity: float, units: np.ndarray, prices: np.ndarray
    ) -> Book:
        """Return the book at ``when`` (UTC), marked at ``prices`` (per unit, universe order)."""
        return self.bridge.book(self.row, when, equity, units, prices, stops=self.stops)


def live_pieces(
    manager: RiskManager,
    sizers: Sequence[Sizer],
    bars: Mapping[str, pd.DataFrame],
    instruments: Mapping[str, Instrument],
    interval: Interval,
    decision: Decision,
    when: pd.Timestamp,
    *,
    whole_units: bool,
    working_stops: Mapping[str, float],
    opened_at: Mapping[str, pd.Timestamp],
    trips: Sequence[RoundTrip],
    window: int,
    series: Mapping[str, pd.Series] | None = None,
) -> LivePieces | None:
    """Return the pieces' view for executing ``decision`` at ``when``; None when no sizer
    and no piece beyond the base checks is configured.

    ``bars``: the intake's trailing window per symbol (decided on); ``working_stops``: the
    tightest stop on each held symbol's closing side; ``opened_at``: when each held position
    opened (UTC); ``trips``: the closed round trips (Kelly's average win and loss);
    ``series``: market-wide series the filters read (``^VIX``, stamped when known).
    """
    if not (manager.pieces_on or sizers):
        return None
    symbols = [str(s) for s in decision.weights.index]
    # What was known at the decided bar's close: bars the feed brought since are not used.
    frames = {s: bars[s].loc[: decision.time] for s in symbols if s in bars}
    market = MarketFrames.from_bars(
        {s: f for s, f in frames.items() if len(f)}, instruments, None, None, interval
    )
    if market.symbols != symbols or market.index[-1] != decision.time:
        raise AlphaForgeError(
            f"The decision of {decision.time} does not match the node's bars "
            f"({', '.join(market.symbols)} to {market.index[-1]}).",
            hint="Restart the node: its bars and its stored decision disagree.",
        )
    ahead = when if when > decision.time else decision.time + pd.Timedelta(1, "ns")
    inputs = RiskInputs.build(market, series=series, window=window, ahead=ahead)
    index = pd.DatetimeIndex(market.index.append(pd.DatetimeIndex([ahead])))
    at = pd.DatetimeIndex([decision.time])

    def one_row(values: pd.Series | None) -> pd.DataFrame | None:
        if values is None:
            return None
        return pd.DataFrame([values.reindex(symbols).to_numpy(np.float64)], at, symbols)

    signals = Signals(
        pd.DataFrame(np.nan, index=at, columns=symbols),
        probability=one_row(decision.probability),
        expected_return=one_row(decision.expected_return),
    )
    bridge = RiskBridge(
        manager,
        sizers,
        Universe.of([instruments[s] for s in symbols]),
        inputs,
        signals,
        index=index,
        whole_units=whole_units,
    )
    for k, symbol in enumerate(symbols):
        opened = opened_at.get(symbol)
        if opened is not None:
            bridge.opened_at[k] = pd.Timestamp(opened).as_unit("ns").value
    for trip in trips:
        bridge.record_payoff(trip.pnl, trip.entry_value)
    stops = np.array([working_stops.get(s, math.nan) for s in symbols], dtype=np.float64)
    return LivePieces(bridge, len(index) - 1, len(index) - 2, stops)


__all__ = ["LivePieces", "live_pieces"]
