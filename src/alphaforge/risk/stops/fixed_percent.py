"""``fixed_percent``: a stop a fixed fraction of the price away, by asset class."""

from __future__ import annotations

from typing import Annotated, ClassVar

import numpy as np
from pydantic import Field

from alphaforge.config.pieces import register_piece
from alphaforge.core.types import AssetClass
from alphaforge.portfolio.book import Book, FloatArray, IntentBatch, Universe
from alphaforge.risk.pieces import STOPS, ExitLevels, StopRule
from alphaforge.risk.stops.common import stop_at, trades, weekend_scale, weekend_tighten_field

#: A stop distance as a fraction of price, or None for no stop.
Percent = Annotated[float, Field(gt=0.0, lt=1.0)] | None


@register_piece(STOPS, "fixed_percent")
class FixedPercentStop(StopRule):
    """Stop each opened trade a fixed fraction of its price away, by asset class.

    A long's stop is ``price x (1 - d)``, a short's ``price x (1 + d)``, where ``d`` is the
    fraction of the symbol's class (stocks and ETFs 2 %, BTC and ETH 5 %, other crypto 8 %;
    forex none by default, as forex stops are set in pips by ``forex_pips``). On Saturdays
    and Sundays (UTC) crypto distances are multiplied by ``1 - weekend_crypto_tighten``.
    Prices are those of the book at ``Book.time``; nothing else is read.

    Parameters
    ----------
    stock, etf, crypto_major, altcoin, forex, other
        Stop distance (fraction of price, in (0, 1)) for stocks, ETFs, BTC and ETH, other
        crypto (``Universe.altcoins``), forex, and every other class (index, future, macro);
        None: no stop for that class.
    weekend_crypto_tighten
        Fraction by which crypto distances shrink on weekends (0.3 = 30 % tighter).
    """

    summary: ClassVar[str] = (
        "Stop a fixed % from the price by class: stocks 2 %, BTC/ETH 5 %, altcoins 8 %."
    )

    stock: Percent = Field(0.02, description="Stop distance of stocks, fraction of price.")
    etf: Percent = Field(0.02, description="Stop distance of ETFs, fraction of price.")
    crypto_major: Percent = Field(0.05, description="Stop distance of BTC and ETH.")
    altcoin: Percent = Field(0.08, description="Stop distance of other crypto.")
    forex: Percent = Field(None, description="Stop distance of forex (default none: pips).")
    other: Percent = Field(None, description="Stop distance of indices, futures, macro.")
    weekend_crypto_tighten: float = weekend_tighten_field()

    def by_class(self) -> dict[str, float | None]:
        """Return each class's stop distance (fraction of price; None: no stop), by name."""
        return {
            "stocks": self.stock,
            "ETFs": self.etf,
            "BTC/ETH": self.crypto_major,
            "altcoins": self.altcoin,
            "forex": self.forex,
            "other": self.other,
        }

    def percents(self, universe: Universe) -> FloatArray:
        """Return each symbol's stop distance, fraction of price (NaN: no stop)."""
        out = np.full(len(universe), np.nan if self.other is None else self.other)
        altcoins = universe.altcoins()
        crypto = universe.is_class(AssetClass.CRYPTO)
        for mask, value in (
            (universe.is_class(AssetClass.STOCK), self.stock),
            (universe.is_class(AssetClass.ETF), self.etf),
            (crypto & ~altcoins, self.crypto_major),
            (altcoins, self.altcoin),
            (universe.is_class(AssetClass.FOREX), self.forex),
        ):
            out[mask] = np.nan if value is None else value
        return out

    def levels(self, batch: IntentBatch, book: Book) -> ExitLevels:
        """Return a stop for every opening intent whose class has a distance."""
        t = trades(batch, book)
        fraction = self.percents(book.universe)[batch.index]
        fraction = fraction * weekend_scale(batch, book, self.weekend_crypto_tighten)
        none = np.full(len(batch), np.nan)
        return ExitLevels(stop_at(t, fraction * t.price), none, none.copy())


__all__ = ["FixedPercentStop"]
