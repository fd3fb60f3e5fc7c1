"""``fx_spread``: the bid-ask spread of a currency pair in pips, plus a commission per lot."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field, field_validator

from alphaforge.backtest.costs._pairs import normalize_pair, pip_size, require_pair
from alphaforge.backtest.costs.base import COST_MODELS, CostParams, FloatArray, TradeBatch

DEFAULT_MAJORS = "EURUSD,GBPUSD,USDJPY,USDCHF,AUDUSD,USDCAD,NZDUSD"


def _pairs(text: str) -> frozenset[str]:
    pairs = {normalize_pair(item) for item in text.split(",") if item.strip()}
    if None in pairs:
        raise ValueError(f"not a comma-separated list of currency pairs: {text!r}")
    return frozenset(p for p in pairs if p is not None)


@COST_MODELS.register("fx_spread")
class FxSpread(CostParams):
    """Half the pair's spread per unit traded, plus ``commission_per_100k`` per 100,000 units.

    ``cost = spread_pips / 2 x pip x |quantity| + commission_per_100k x |quantity| / 100,000``

    A fill crosses half the spread (bars are mid prices: a buy pays mid + half spread, a sell
    receives mid - half spread), so a round trip pays one full spread. ``pip`` is 0.01 for
    pairs quoted in JPY and 0.0001 otherwise. Symbols may be spelled ``EURUSD``, ``EUR/USD``
    or ``EURUSD=X``; a symbol that is no pair is a DataError.

    Parameters
    ----------
    major_pips
        Spread of a major pair, pips (default 1.0).
    exotic_pips
        Spread of any other pair, pips (default 10.0).
    majors
        Comma-separated major pairs (default the seven USD majors).
    spreads
        Per-pair spread in pips, overriding the two defaults (e.g. ``{"EURGBP": 1.5}``).
    commission_per_100k
        Commission in USD per 100,000 units of the base currency (default 5.0). It is
        converted to the quote currency exactly when USD is one side of the pair (x price
        when USD is the base); for crosses it is charged as that many units of the quote
        currency, an approximation (the batch carries no third exchange rate).

    Amounts are in the pair's quote currency.
    """

    summary: ClassVar[str] = "Forex spread in pips (half per fill) plus commission per 100k."

    major_pips: float = Field(1.0, ge=0, description="Spread of a major pair, pips.")
    exotic_pips: float = Field(10.0, ge=0, description="Spread of other pairs, pips.")
    majors: str = Field(DEFAULT_MAJORS, description="Comma-separated major pairs.")
    spreads: dict[str, float] = Field(
        default_factory=dict, description="Per-pair spread in pips, overriding the defaults."
    )
    commission_per_100k: float = Field(
        5.0, ge=0, description="Commission, USD per 100,000 base units."
    )

    @field_validator("majors")
    @classmethod
    def _check_majors(cls, majors: str) -> str:
        _pairs(majors)
        return majors

    @field_validator("spreads")
    @classmethod
    def _check_spreads(cls, spreads: dict[str, float]) -> dict[str, float]:
        for pair, pips in spreads.items():
            if normalize_pair(pair) is None:
                raise ValueError(f"{pair!r} is not a currency pair")
            if not pips >= 0:
                raise ValueError(f"spread of {pair} must be >= 0 pips")
        return spreads

    def spread_pips(self, pair: str) -> float:
        """Return the full spread of normalized ``pair``, pips."""
        overrides = {normalize_pair(p): v for p, v in self.spreads.items()}
        if pair in overrides:
            return overrides[pair]
        return self.major_pips if pair in _pairs(self.majors) else self.exotic_pips

    def _per_unit(self, pair: str) -> tuple[float, float, bool]:
        """Return (half spread per unit, commission per unit, scale commission by price)."""
        half = 0.5 * self.spread_pips(pair) * pip_size(pair)
        return half, self.commission_per_100k / 100_000.0, pair[:3] == "USD"

    def trade_costs(self, batch: TradeBatch) -> FloatArray:
        """Return each fill's spread and commission, quote currency."""
        known: dict[str, tuple[float, float, bool]] = {}
        for symbol in set(batch.symbols):
            known[symbol] = self._per_unit(require_pair(symbol, "fx_spread"))
        rows = [known[s] for s in batch.symbols]
        half = np.array([r[0] for r in rows], dtype=np.float64)
        commission = np.array([r[1] for r in rows], dtype=np.float64)
        usd_base = np.array([r[2] for r in rows], dtype=bool)
        commission = np.where(usd_base, commission * batch.price, commission)
        return (half + commission) * np.abs(batch.quantity)
