"""``crypto_fees``: an exchange's maker and taker fees, fractions of notional."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from alphaforge.backtest.costs.base import COST_MODELS, CostParams, FloatArray, TradeBatch


@COST_MODELS.register("crypto_fees")
class CryptoFees(CostParams):
    """``maker_rate x notional`` for fills that added liquidity, ``taker_rate`` for the rest.

    Parameters
    ----------
    maker_rate
        Fraction of notional paid by a resting (maker) fill; default 0.001 (0.10 %).
    taker_rate
        Fraction of notional paid by a fill that took liquidity; default 0.0015 (0.15 %).

    ``batch.maker`` says which side each fill was: market and marketable orders are takers.
    """

    summary: ClassVar[str] = "Crypto exchange maker / taker fee, fraction of notional."

    maker_rate: float = Field(0.001, ge=0, lt=1, description="Maker fee, fraction of notional.")
    taker_rate: float = Field(0.0015, ge=0, lt=1, description="Taker fee, fraction of notional.")

    def trade_costs(self, batch: TradeBatch) -> FloatArray:
        """Return each fill's fee, quote currency."""
        rate = np.where(batch.maker, self.maker_rate, self.taker_rate)
        return rate * batch.notional
