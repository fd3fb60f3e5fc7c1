"""Regime filters: one file per filter, each registered in ``FILTERS`` on import.

A filter answers, for every intent of a batch, a factor in [0, 1] on its opening part; the
risk manager applies it with :func:`~alphaforge.portfolio.book.scale_opening`, so reducing
orders always pass. Each reads only the :class:`~alphaforge.portfolio.book.Book` (values
known at its time) or, for the event blackout, a schedule read once when it is built; a
filter whose input is missing passes everything. Each names what it reads in the class
attribute ``inputs`` (``market.vix_level``, ``features.beta_60``, ``time``, ``events_file``).
"""

from alphaforge.risk.filters.bear_market import BearMarketFilter
from alphaforge.risk.filters.beta import BetaFilter
from alphaforge.risk.filters.crypto_volatility import CryptoVolatilityFilter
from alphaforge.risk.filters.event_blackout import EventBlackoutFilter
from alphaforge.risk.filters.forex_session import ForexSessionFilter
from alphaforge.risk.filters.vix import VixFilter

__all__ = [
    "BearMarketFilter",
    "BetaFilter",
    "CryptoVolatilityFilter",
    "EventBlackoutFilter",
    "ForexSessionFilter",
    "VixFilter",
]
