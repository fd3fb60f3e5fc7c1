"""``vix_risk_regime``: risk-on / risk-off across asset classes by the VIX level."""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from alphaforge.core.types import AssetClass, Instrument
from alphaforge.strategies._clock import blank, pair_currencies
from alphaforge.strategies.base import STRATEGIES, Family, MarketFrames, Signals, StrategyParams

_RISK_ASSETS = frozenset({AssetClass.STOCK, AssetClass.ETF, AssetClass.CRYPTO})


@STRATEGIES.register("vix_risk_regime")
class VixRiskRegime(StrategyParams):
    """Read the market's fear from the VIX and lean every asset class the same way.

    The VIX level at a bar is the close of the latest VIX bar at or before it (its values are
    known at its close), carried at most ``max_stale_bars`` bars of the market (NaN beyond:
    no opinion). Three regimes:

    * risk-off, VIX above ``risk_off_above`` (30): stocks, ETFs and crypto short
      (``risk_off_action="short"``, -1) or flat (``"flat"``, 0); forex long the safe havens
      ``havens`` (JPY, CHF): a pair scores +1 per haven as base and -1 per haven as quote,
      so USDJPY and EURCHF are -1 (short USDJPY is long yen), CHFJPY 0, EURUSD 0;
    * risk-on, VIX below ``risk_on_below`` (15): stocks, ETFs and crypto +1, forex the
      opposite of its risk-off side (short the havens);
    * neutral in between: 0 everywhere.

    Runs on any bar interval (daily VIX closes with daily bars, hourly with hourly). Other
    asset classes (the VIX itself, indices, futures) get NaN, as do bars a symbol lacks. No
    state: each bar reads only the VIX's latest close.
    """

    family: ClassVar[Family] = Family.CROSS_ASSET
    asset_classes: ClassVar[frozenset[AssetClass] | None] = frozenset(
        {AssetClass.STOCK, AssetClass.ETF, AssetClass.CRYPTO, AssetClass.FOREX}
    )
    needs: ClassVar[tuple[str, ...]] = ("close",)
    summary: ClassVar[str] = (
        "VIX regime: above 30 short stocks and crypto, long JPY and CHF; below 15 the reverse."
    )

    vix: str = Field("^VIX", min_length=1, description="The volatility index's symbol.")
    risk_off_above: float = Field(30.0, gt=0.0, description="Risk-off above this VIX level.")
    risk_on_below: float = Field(15.0, gt=0.0, description="Risk-on below this VIX level.")
    risk_off_action: Literal["short", "flat"] = Field(
        "short", description="Stocks, ETFs and crypto in risk-off."
    )
    havens: tuple[str, ...] = Field(("JPY", "CHF"), description="Safe-haven currencies.")
    max_stale_bars: int = Field(
        120, ge=0, description="Bars a VIX close is carried (a long weekend of hourly bars)."
    )

    @model_validator(mode="after")
    def _ordered_levels(self) -> VixRiskRegime:
        if self.risk_on_below > self.risk_off_above:
            raise ValueError(
                f"risk_on_below ({self.risk_on_below}) must not exceed "
                f"risk_off_above ({self.risk_off_above})"
            )
        return self

    @property
    def requires(self) -> tuple[str, ...]:
        """Return the VIX symbol."""
        return (self.vix,)

    @property
    def lookback(self) -> int:
        """Return the bars a VIX close can be carried, plus its own bar."""
        return self.max_stale_bars + 1

    def signals(self, market: MarketFrames) -> Signals:
        """Return each asset's side in the regime of the bar (NaN without a VIX level)."""
        value = blank(market)
        if self.vix not in market.close.columns:
            return Signals(value)
        level = market.close[self.vix].ffill(limit=self.max_stale_bars).to_numpy()
        regime = np.where(
            level > self.risk_off_above, -1.0, np.where(level < self.risk_on_below, 1.0, 0.0)
        )
        regime[np.isnan(level)] = np.nan
        for symbol in market.symbols:
            instrument = market.instruments.get(symbol)
            if symbol == self.vix or instrument is None:
                continue
            lean = self._lean(symbol, instrument)
            if lean is None:
                continue
            side = regime * lean
            if instrument.asset_class in _RISK_ASSETS and self.risk_off_action == "flat":
                side = np.where(regime < 0.0, 0.0, side)
            trades = market.close[symbol].notna().to_numpy()
            value[symbol] = np.where(trades, side, np.nan)
        return Signals(value)

    def _lean(self, symbol: str, instrument: Instrument) -> float | None:
        """Return the side an asset takes in risk-on (+1 long), None for one it ignores."""
        if instrument.asset_class in _RISK_ASSETS:
            return 1.0
        if instrument.asset_class is AssetClass.FOREX:
            base, quote = pair_currencies(symbol, instrument)
            havens = {h.upper() for h in self.havens}
            return -(float(base in havens) - float(quote in havens)) + 0.0
        return None
