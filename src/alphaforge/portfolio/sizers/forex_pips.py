"""Forex sizing by pip value: lots = risk x equity / (stop pips x pip value of a lot)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from alphaforge.config.pieces import register_piece
from alphaforge.core.types import AssetClass
from alphaforge.portfolio.book import FloatArray
from alphaforge.portfolio.pieces import SIZERS, Sizer, SizingRequest
from alphaforge.portfolio.sizers.common import priced, protective, resize
from alphaforge.portfolio.sizing import forex_lots

#: Quote currencies priced to two decimals, whose pip is 0.01 rather than 0.0001.
_TWO_DECIMAL_QUOTES = frozenset({"JPY", "HUF"})


@register_piece(SIZERS, "forex_pips")
class ForexPipSizer(Sizer):
    """Size forex pairs so the loss at the signal's stop is ``risk`` of equity.

    ``lots = risk x equity / (stop pips x pip value of one lot)``, rounded down to 0.01 lot
    (:func:`~alphaforge.portfolio.sizing.forex_lots`); units = lots x ``lot_units`` (a
    standard lot is 100,000 units of the base currency). A pip is 0.0001 of the quote
    currency (0.01 for JPY- and HUF-quoted pairs). The pip value of one lot in the account
    currency (``account_currency``, which is the equity's) is exact in two cases: a pair
    quoted in the account currency (EURUSD: 100,000 x 0.0001 = 10 USD) and a pair whose base
    is the account currency (USDJPY: 100,000 x 0.01 / price USD). For a cross (EURGBP) it is
    an approximation: ``lot_units x pip / price`` is the pip value in the base currency,
    taken as if the base were worth one unit of account currency (off by the base's rate to
    it, e.g. EURUSD's distance from 1); the book carries no cross rates at ``book.time``.

    Only forex names with a stop on the protective side of the price are sized (the stop is
    the signal's, known at ``book.time``); other names keep their target.
    """

    summary: ClassVar[str] = "Forex: lots = risk / (stop pips x pip value), 1 % at the stop."

    risk: float = Field(0.01, gt=0, le=1, description="Share of equity lost at the stop.")
    lot_units: float = Field(100_000.0, gt=0, description="Units of base currency in a lot.")
    account_currency: str = Field("USD", description="Currency the equity is counted in.")

    def size(self, request: SizingRequest, target: FloatArray) -> FloatArray:
        """Return forex targets sized to the stop in pips (others unchanged)."""
        universe = request.book.universe
        price = request.prices
        forex = universe.asset_class[request.index] == AssetClass.FOREX.value
        quote = universe.quote_currency[request.index]
        known = forex & priced(request) & protective(price, request.stop, target)
        pip = np.where(np.isin(quote, list(_TWO_DECIMAL_QUOTES)), 0.01, 0.0001)
        safe_price = np.where(known, price, 1.0)
        # 0.0030 / 0.0001 is 29.999999999999996 in binary: round to a millionth of a pip so
        # that decimal stops count whole pips (the effect on the risk is below 1e-6 of it).
        pips = np.round(np.abs(safe_price - np.where(known, request.stop, 0.0)) / pip, 6)
        in_account = quote == self.account_currency
        pip_value = np.where(in_account, self.lot_units * pip, self.lot_units * pip / safe_price)
        lots = forex_lots(request.book.equity, self.risk, np.where(known, pips, np.nan), pip_value)
        return resize(target, lots * self.lot_units, known)


__all__ = ["ForexPipSizer"]
