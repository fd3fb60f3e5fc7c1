"""``bollinger``: Bollinger-band mean reversion confirmed by z-score and RSI (seed 004)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field, model_validator

from alphaforge.core.types import AssetClass
from alphaforge.features.registry import FEATURES
from alphaforge.strategies._rules import FloatArray, by_class, latest_event, on_own_bars
from alphaforge.strategies.base import STRATEGIES, Family, MarketFrames, Signals, StrategyParams

RSI_FEATURE = "rsi_14"
ZSCORE_FEATURE = "zscore_close_20"
#: Band widths (standard deviations) with registered 20-bar Bollinger features.
BAND_SIGMAS = {1.5: "1p5", 2.0: "2", 2.5: "2p5"}
_CLASSES = {
    "stock": (AssetClass.STOCK, AssetClass.ETF),
    "forex": (AssetClass.FOREX,),
    "crypto": (AssetClass.CRYPTO,),
}


@STRATEGIES.register("bollinger")
class Bollinger(StrategyParams):
    """Seed 004's "Mean Reversion Logic" on 20-bar Bollinger bands, the z-score and RSI(14).

    At bar ``t`` (each symbol's own bars, decided at the close, traded from the next bar),
    with the class's band width ``k`` (stocks, ETFs and forex 2, crypto 2.5 standard
    deviations) and RSI thresholds (stocks and ETFs 30/70, forex 25/75, crypto 20/80):

    * **buy** when RSI < lower, close < lower band (TA-Lib BBANDS, SMA 20 - k population
      std) and z < -k (``zscore_close_20``: close minus its 20-bar mean over the sample
      std); **sell** (short) the mirror. Seed 004 uses ``k`` as the z threshold too. With
      the sample std the z condition is slightly the stricter of the two, as in the seed;
    * **exit** (flat, 0) when the z-score crosses zero (the close crosses its 20-bar mean:
      the reversion is done), or ``max_hold`` bars after the latest entry (a time stop);
    * otherwise the latest entry within the last ``max_hold`` bars is held (+1 / -1), and a
      symbol with no live entry is flat (0).

    Being held by a bounded window of events (entries and zero crosses in the last
    ``max_hold`` bars), the signal needs no state. ``confidence`` is the seed's 0.8 on bars
    holding a position. Other asset classes get no signal.
    """

    summary: ClassVar[str] = "Bollinger (20, 2; crypto 2.5) mean reversion with z-score and RSI."
    family: ClassVar[Family] = Family.MEAN_REVERSION
    asset_classes: ClassVar[frozenset[AssetClass] | None] = frozenset(
        {AssetClass.STOCK, AssetClass.ETF, AssetClass.FOREX, AssetClass.CRYPTO}
    )

    stock_sigma: float = Field(2.0, description="Stocks, ETFs: band width and |z| to enter.")
    forex_sigma: float = Field(2.0, description="Forex: band width and |z| to enter.")
    crypto_sigma: float = Field(2.5, description="Crypto: band width and |z| to enter.")
    stock_rsi_lower: float = Field(30.0, ge=0, le=100, description="Stocks, ETFs: buy below.")
    stock_rsi_upper: float = Field(70.0, ge=0, le=100, description="Stocks, ETFs: sell above.")
    forex_rsi_lower: float = Field(25.0, ge=0, le=100, description="Forex: buy below.")
    forex_rsi_upper: float = Field(75.0, ge=0, le=100, description="Forex: sell above.")
    crypto_rsi_lower: float = Field(20.0, ge=0, le=100, description="Crypto: buy below.")
    crypto_rsi_upper: float = Field(80.0, ge=0, le=100, description="Crypto: sell above.")
    max_hold: int = Field(20, ge=1, description="Bars an entry is held at most (time stop).")
    confidence: float = Field(0.8, ge=0, le=1, description="Confidence of a held position.")

    @model_validator(mode="after")
    def _check(self) -> Bollinger:
        for side in _CLASSES:
            sigma = getattr(self, f"{side}_sigma")
            if sigma not in BAND_SIGMAS:
                raise ValueError(
                    f"{side}_sigma must be one of {', '.join(map(str, BAND_SIGMAS))} (the "
                    f"registered 20-bar Bollinger bands), got {sigma}"
                )
            lower, upper = getattr(self, f"{side}_rsi_lower"), getattr(self, f"{side}_rsi_upper")
            if lower >= upper:
                raise ValueError(
                    f"{side}_rsi_lower ({lower}) must be below {side}_rsi_upper ({upper})"
                )
        return self

    def _band_names(self) -> list[str]:
        sigmas = sorted({getattr(self, f"{side}_sigma") for side in _CLASSES})
        return [f"bbands_{edge}_20_{BAND_SIGMAS[s]}" for s in sigmas for edge in ("lower", "upper")]

    @property
    def features(self) -> tuple[str, ...]:
        """Return RSI(14), the 20-bar z-score and the bands of the classes' widths."""
        return (RSI_FEATURE, ZSCORE_FEATURE, *self._band_names())

    @property
    def warmup(self) -> int:
        """Return the longest warm-up of its features (the first bar all of them exist)."""
        return max(FEATURES.get(name).warmup for name in self.features)

    @property
    def lookback(self) -> int:
        """Return ``max_hold`` bars of events, each needing its features' memory and a bar."""
        memory = max(FEATURES.get(name).memory or 0 for name in self.features)
        return max(super().lookback, self.max_hold + memory + 1)

    def _per_class(self, market: MarketFrames, field: str) -> FloatArray:
        return by_class(
            market,
            {c: getattr(self, f"{side}_{field}") for side, cs in _CLASSES.items() for c in cs},
        )

    def signals(self, market: MarketFrames) -> Signals:
        """Return the held side (+1 / -1), 0 when flat, NaN before the features exist."""
        close = market.close.to_numpy()
        rsi = market.feature(RSI_FEATURE).to_numpy()
        z = market.feature(ZSCORE_FEATURE).to_numpy()
        sigma = self._per_class(market, "sigma")
        lower_band = np.full(close.shape, np.nan)
        upper_band = np.full(close.shape, np.nan)
        for s, suffix in BAND_SIGMAS.items():
            columns = sigma == s
            if columns.any():
                lower_band[:, columns] = market.feature(f"bbands_lower_20_{suffix}").to_numpy()[
                    :, columns
                ]
                upper_band[:, columns] = market.feature(f"bbands_upper_20_{suffix}").to_numpy()[
                    :, columns
                ]
        rsi_lower = self._per_class(market, "rsi_lower")
        rsi_upper = self._per_class(market, "rsi_upper")
        with np.errstate(invalid="ignore"):
            buy = (rsi < rsi_lower) & (close < lower_band) & (z < -sigma)
            sell = (rsi > rsi_upper) & (close > upper_band) & (z > sigma)
        ready = np.isfinite(rsi) & np.isfinite(z) & np.isfinite(lower_band)
        value = np.full(close.shape, np.nan)
        for k, symbol in enumerate(market.symbols):
            rows = np.flatnonzero(market.close[symbol].notna().to_numpy())
            own_z = z[rows, k]
            events = np.full(rows.size, np.nan)
            before, now = own_z[:-1], own_z[1:]
            with np.errstate(invalid="ignore"):
                crossed = np.r_[False, ((before < 0) & (now >= 0)) | ((before > 0) & (now <= 0))]
            events[crossed] = 0.0
            # An entry on the bar of a cross is the newer news: it wins.
            events[buy[rows, k]] = 1.0
            events[sell[rows, k]] = -1.0
            held = latest_event(events, self.max_hold)
            held[~np.isfinite(held)] = 0.0
            held[~ready[rows, k]] = np.nan
            value[rows, k] = held
        confidence = np.where(np.isfinite(value) & (value != 0.0), self.confidence, np.nan)
        return Signals(on_own_bars(market, value), confidence=on_own_bars(market, confidence))
