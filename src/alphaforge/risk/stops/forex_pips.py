"""``forex_pips``: forex stops a number of pips away, by kind of pair."""

from __future__ import annotations

from functools import lru_cache
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

from alphaforge.config.pieces import register_piece
from alphaforge.core.types import AssetClass
from alphaforge.portfolio.book import Book, IntentBatch
from alphaforge.risk.pieces import STOPS, ExitLevels, StopRule
from alphaforge.risk.stops.common import stop_at, trades

PairKind = Literal["major", "minor", "exotic"]

#: The seven major pairs: each major currency against the US dollar.
MAJOR_PAIRS = frozenset({"EURUSD", "GBPUSD", "USDJPY", "USDCHF", "AUDUSD", "USDCAD", "NZDUSD"})
#: The major currencies other than the dollar; a pair of two of them is a minor (a cross).
CROSS_CURRENCIES = frozenset({"EUR", "GBP", "JPY", "CHF", "AUD", "CAD", "NZD"})


@lru_cache(maxsize=4096)
def split_pair(symbol: str, base: str, quote: str) -> tuple[str, str]:
    """Return a pair's (base, quote) currencies from its symbol.

    Reads ``EURUSD``, ``eur/usd``, ``EUR-USD``, ``EUR_USD`` and Yahoo's ``EURUSD=X``; a symbol
    that is not six letters falls back to ``base`` and ``quote`` (the instrument's).
    """
    text = symbol.strip().upper().removesuffix("=X")
    for sep in ("/", "-", "_", " ", "."):
        text = text.replace(sep, "")
    if len(text) == 6 and text.isalpha():
        return text[:3], text[3:]
    return base.upper(), quote.upper()


def pair_kind(base: str, quote: str) -> PairKind:
    """Return ``major`` for the seven dollar majors (either way round), ``minor`` for a
    cross of two major currencies, ``exotic`` for any other pair."""
    if base + quote in MAJOR_PAIRS or quote + base in MAJOR_PAIRS:
        return "major"
    if base in CROSS_CURRENCIES and quote in CROSS_CURRENCIES and base != quote:
        return "minor"
    return "exotic"


@register_piece(STOPS, "forex_pips")
class ForexPipStop(StopRule):
    """Stop each opened forex trade a number of pips from its price, by kind of pair.

    Majors (EURUSD, GBPUSD, USDJPY, USDCHF, AUDUSD, USDCAD, NZDUSD) 30 pips, minors (crosses
    of two major currencies, e.g. EURGBP) 40, exotics (any other pair) 60. A pip is ``pip``
    (0.0001) in the quote currency, or ``jpy_pip`` (0.01) for pairs quoted in yen. Other
    asset classes get no stop from this rule. Prices are the book's at ``Book.time``.

    Parameters
    ----------
    major, minor, exotic
        Stop distance in pips for each kind of pair.
    pip, jpy_pip
        Size of one pip in the quote currency, for other pairs and for pairs quoted in JPY.
    """

    summary: ClassVar[str] = "Forex stop in pips: majors 30, minors 40, exotics 60."

    major: float = Field(30.0, gt=0.0, description="Stop distance of major pairs, pips.")
    minor: float = Field(40.0, gt=0.0, description="Stop distance of minor pairs, pips.")
    exotic: float = Field(60.0, gt=0.0, description="Stop distance of exotic pairs, pips.")
    pip: float = Field(0.0001, gt=0.0, description="One pip, quote currency.")
    jpy_pip: float = Field(0.01, gt=0.0, description="One pip of pairs quoted in JPY.")

    def distance(self, symbol: str, base: str, quote: str) -> float:
        """Return the stop distance of one pair, quote currency per unit."""
        base, quote = split_pair(symbol, base, quote)
        pips = {"major": self.major, "minor": self.minor, "exotic": self.exotic}
        size = self.jpy_pip if quote == "JPY" else self.pip
        return pips[pair_kind(base, quote)] * size

    def levels(self, batch: IntentBatch, book: Book) -> ExitLevels:
        """Return a stop for every opening forex intent."""
        t = trades(batch, book)
        universe = book.universe
        distance = np.full(len(batch), np.nan)
        forex = universe.is_class(AssetClass.FOREX)[batch.index]
        for j in np.flatnonzero(forex & t.live).tolist():
            k = int(batch.index[j])
            distance[j] = self.distance(
                universe.symbols[k], str(universe.base_currency[k]), str(universe.quote_currency[k])
            )
        none = np.full(len(batch), np.nan)
        return ExitLevels(stop_at(t, distance), none, none.copy())


__all__ = ["CROSS_CURRENCIES", "MAJOR_PAIRS", "ForexPipStop", "pair_kind", "split_pair"]
