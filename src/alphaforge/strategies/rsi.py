"""``rsi``: buy oversold, sell overbought, with thresholds by asset class (seed 004)."""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from alphaforge.core.types import AssetClass
from alphaforge.features.registry import FEATURES
from alphaforge.strategies._rules import by_class, on_own_bars, require_feature
from alphaforge.strategies.base import STRATEGIES, Family, MarketFrames, Signals, StrategyParams


@STRATEGIES.register("rsi")
class RSIStrategy(StrategyParams):
    """Wilder RSI (TA-Lib, feature ``rsi_<period>``, 0-100) against per-class thresholds.

    At each bar ``t`` (decided at its close, traded from the next bar) the signal reads that
    bar's RSI only: +1 while RSI < ``lower``, -1 (``long_short``) or 0 (``long_only``) while
    RSI > ``upper``, and NaN in between. So the signal holds on every bar beyond a threshold,
    not only on the bar that crosses it, and NaN leaves the position alone: a long bought
    oversold is kept until RSI goes above ``upper``. Nothing is remembered between bars, so
    the signal is the same however far back a run starts (given the feature's memory).

    Thresholds (strict inequalities): stocks and ETFs 30/70, forex 25/75, crypto 20/80 (seed
    004's "Mean Reversion" indicators). Other asset classes get no signal.
    """

    family: ClassVar[Family] = Family.MEAN_REVERSION
    asset_classes: ClassVar[frozenset[AssetClass] | None] = frozenset(
        {AssetClass.STOCK, AssetClass.ETF, AssetClass.FOREX, AssetClass.CRYPTO}
    )
    summary: ClassVar[str] = "RSI(14) oversold/overbought: stocks 30/70, forex 25/75, crypto 20/80."

    period: int = Field(14, ge=2, description="RSI length, bars (a registered rsi_<n> feature).")
    stock_lower: float = Field(30.0, ge=0, le=100, description="Stocks and ETFs: buy below.")
    stock_upper: float = Field(70.0, ge=0, le=100, description="Stocks and ETFs: sell above.")
    forex_lower: float = Field(25.0, ge=0, le=100, description="Forex: buy below.")
    forex_upper: float = Field(75.0, ge=0, le=100, description="Forex: sell above.")
    crypto_lower: float = Field(20.0, ge=0, le=100, description="Crypto: buy below.")
    crypto_upper: float = Field(80.0, ge=0, le=100, description="Crypto: sell above.")
    mode: Literal["long_short", "long_only"] = Field(
        "long_short", description="Overbought: short (long_short) or flat (long_only)."
    )

    @model_validator(mode="after")
    def _check(self) -> RSIStrategy:
        require_feature(self.feature_name, f"period {self.period}")
        for side in ("stock", "forex", "crypto"):
            lower, upper = getattr(self, f"{side}_lower"), getattr(self, f"{side}_upper")
            if lower >= upper:
                raise ValueError(f"{side}_lower ({lower}) must be below {side}_upper ({upper})")
        return self

    @property
    def feature_name(self) -> str:
        """Return the RSI feature read."""
        return f"rsi_{self.period}"

    @property
    def features(self) -> tuple[str, ...]:
        """Return the RSI feature."""
        return (self.feature_name,)

    @property
    def warmup(self) -> int:
        """Return the RSI's warm-up: its first value is the first possible signal."""
        return FEATURES.get(self.feature_name).warmup

    def signals(self, market: MarketFrames) -> Signals:
        """Return +1 / -1 (or 0) on bars beyond the thresholds, NaN elsewhere."""
        rsi = market.feature(self.feature_name).to_numpy()
        lower = by_class(
            market,
            {
                AssetClass.STOCK: self.stock_lower,
                AssetClass.ETF: self.stock_lower,
                AssetClass.FOREX: self.forex_lower,
                AssetClass.CRYPTO: self.crypto_lower,
            },
        )
        upper = by_class(
            market,
            {
                AssetClass.STOCK: self.stock_upper,
                AssetClass.ETF: self.stock_upper,
                AssetClass.FOREX: self.forex_upper,
                AssetClass.CRYPTO: self.crypto_upper,
            },
        )
        value = np.full(rsi.shape, np.nan)
        with np.errstate(invalid="ignore"):
            value[rsi < lower[None, :]] = 1.0
            value[rsi > upper[None, :]] = -1.0 if self.mode == "long_short" else 0.0
        return Signals(on_own_bars(market, value))
