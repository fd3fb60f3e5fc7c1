"""Configuration models of trading: the strategy, the portfolio, costs and the backtest.

Units are stated per field. Times are UTC.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from alphaforge.config.base import FrozenModel
from alphaforge.config.pieces import PieceConfig
from alphaforge.core.types import AssetClass

__all__ = [
    "AggregateConfig",
    "BacktestConfig",
    "ComponentConfig",
    "CostModelConfig",
    "PortfolioConfig",
    "RiskConfig",
    "StrategyConfig",
]


class ComponentConfig(FrozenModel):
    """The strategy behind one component of an aggregate."""

    name: str = Field(description="Registered strategy (alphaforge strategies list).")
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="The strategy's parameters (numbers, strings, lists, mappings), validated "
        "by the strategy itself; unknown ones are refused.",
    )


class AggregateConfig(FrozenModel):
    """Several strategies combined into one signal (``docs/strategies.md``).

    Each component is named by its weight's key: a registered strategy of that name
    (``rsi``), or, for a model name (``xgboost``), the ``ml_model`` strategy trading that
    model's out-of-fold predictions; ``components`` runs another strategy under a name.
    """

    preset: str | None = Field(
        "seed_alpaca",
        description="Named weights: seed_alpaca (rsi 12, momentum 12, macd 10, gap 8, "
        "random_forest 18, xgboost 18, lstm_attention 22 %).",
    )
    method: Literal["fixed", "performance", "bayesian"] = Field(
        "fixed",
        description="fixed: the weights as given; performance: by each component's hit rate "
        "on outcomes closed before each bar; bayesian: Bayesian model averaging.",
    )
    weights: dict[str, float] | None = Field(
        None, description="Component weights (any scale, normalised); replace the preset's."
    )
    components: dict[str, ComponentConfig] = Field(
        default_factory=dict,
        description="The strategy to run under a component name, when it is not the "
        "registered strategy (or model) of that name.",
    )
    threshold: float = Field(
        0.55, ge=0.0, lt=1.0, description="Trade only where |aggregate signal| exceeds it."
    )
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="Other aggregator settings (horizon, window, forgetting, off_regime, ...: "
        "alphaforge strategies show aggregate).",
    )


class StrategyConfig(FrozenModel):
    """The strategy whose signals the backtest trades (``alphaforge strategies list``)."""

    name: str = Field(
        "oof_scores",
        description="Registered strategy (alphaforge strategies list); ignored when "
        "aggregate is set.",
    )
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="The strategy's parameters (numbers, strings, lists, mappings), validated "
        "by the strategy itself; unknown ones are refused.",
    )
    aggregate: AggregateConfig | None = Field(
        None, description="Combine several strategies into one signal instead of name."
    )

    @property
    def tag(self) -> str:
        """Return the tag written on orders, fills and trades."""
        return "aggregate" if self.aggregate is not None else self.name


class PortfolioConfig(FrozenModel):
    """How signals become target weights and weights become quantities."""

    constructor: str = Field(
        "top_k",
        description="Registered constructor (alphaforge risk list): top_k: equal weights on the "
        "best (and worst) k signals; target_weights: each name's signal x gross_exposure / "
        "number of names; risk_parity; bayesian.",
    )
    constructor_params: dict[str, Any] = Field(
        default_factory=dict,
        description="The constructor's own parameters beyond top_k, long_short, gross_exposure "
        "and rebalance_every.",
    )
    top_k: int = Field(4, ge=1, description="Names held long (and short).")
    long_short: bool = Field(True, description="Short the bottom k as well as buying the top k.")
    gross_exposure: float = Field(1.0, gt=0, le=2.0, description="Sum of |weights|.")
    rebalance_every: int = Field(5, ge=1, description="Bars between rebalances.")
    sizing: Literal["weights", "all_in"] = Field(
        "weights",
        description="weights: quantity = weight x equity / fill price; all_in: the whole equity "
        "less the order's commission, as backtesting.py sizes an order of size 1 - epsilon.",
    )
    units: Literal["fractional", "whole"] = Field(
        "fractional", description="Trade fractional units, or whole units rounded toward zero."
    )
    sizers: list[PieceConfig] = Field(
        default_factory=list,
        description="The sizer chain (alphaforge risk list), run in order after weights become "
        "units: kelly, volatility_target, atr, risk_per_trade, forex_pips, min_position, "
        "liquidity. Merged by name with the risk preset's chain: a name given here replaces "
        "the preset's parameters; enabled: false removes it.",
    )


class CostModelConfig(FrozenModel):
    """One cost model and its parameters (``docs/costs.md`` lists them)."""

    name: str = Field(
        description="Registered cost model (docs/costs.md), e.g. percent, sec_fee, sqrt_impact."
    )
    params: dict[str, float | int | str | bool | dict[str, float]] = Field(
        default_factory=dict, description="The model's parameters; unknown ones are refused."
    )


class BacktestConfig(FrozenModel):
    """Capital, fills and costs of the backtest (``docs/backtest.md``).

    Without ``costs`` every asset class pays ``commission_bps + slippage_bps`` of traded
    notional (the ``linear`` cost model), as earlier versions did.
    """

    symbols: list[str] | None = Field(
        None,
        description="Stored symbols alphaforge backtest trades; None: the train run's symbols "
        "(--predictions) or the members of train.universe.",
    )
    start: date | None = Field(None, description="First session of the backtest (UTC date).")
    end: date | None = Field(None, description="Last session of the backtest (UTC date).")
    initial_capital: float = Field(100_000.0, gt=0, description="Starting equity, USD.")
    commission_bps: float = Field(1.0, ge=0, description="Commission per traded notional, bps.")
    slippage_bps: float = Field(5.0, ge=0, description="Slippage per traded notional, bps.")
    costs: dict[AssetClass, list[CostModelConfig]] | str | None = Field(
        None,
        description="Cost models per asset class (stock, etf, crypto, forex ...), or a preset "
        "name (realistic_us, frictionless); an asset class not named pays the linear "
        "commission_bps + slippage_bps.",
    )
    fill_price: Literal["next_open", "close", "vwap_proxy"] = Field(
        "next_open",
        description="Where market orders fill: the next bar's open, its close, or (H+L+C)/3.",
    )
    participation: float | None = Field(
        0.1,
        gt=0,
        le=1,
        description="Largest share of a bar's volume one symbol's orders may fill (None: no cap).",
    )
    prices: Literal["adjusted", "raw"] = Field(
        "adjusted",
        description="adjusted: the store's split- and dividend-adjusted bars; raw: unadjusted "
        "bars with splits and dividends from corporate_actions.",
    )
    corporate_actions: Path | None = Field(
        None, description="CSV of splits and dividends (symbol, ex_date, split_ratio, dividend)."
    )
    max_leverage: float = Field(
        2.0, gt=0, description="Buying power: largest gross exposure as a multiple of equity."
    )
    benchmark: Literal["equal_weight"] = Field(
        "equal_weight", description="Buy-and-hold benchmark of the universe."
    )


class RiskConfig(FrozenModel):
    """Limits, stops, circuit breakers and regime filters (``alphaforge risk list``).

    ``preset`` names a shipped set (``spec``, ``seed_alpaca``, ``none``); the lists below are
    merged into it by piece name: a piece named here replaces the preset's parameters for it
    (parameters not given keep the piece's defaults), ``enabled: false`` removes it, a new name
    is added. ``alphaforge config show`` prints the effective pieces.
    """

    preset: str = Field(
        "spec",
        description="Shipped preset: spec (the default), seed_alpaca, none (only buying power "
        "and lot sizes).",
    )
    limits: list[PieceConfig] = Field(
        default_factory=list, description="Limits checked on every order before submission."
    )
    stops: list[PieceConfig] = Field(
        default_factory=list, description="Stop and exit rules for the trades orders open."
    )
    breakers: list[PieceConfig] = Field(
        default_factory=list, description="Circuit breakers and drawdown tiers."
    )
    filters: list[PieceConfig] = Field(
        default_factory=list, description="Regime filters on opening orders."
    )
    var_window: int = Field(
        252, ge=20, description="Bars of returns behind the book's VaR and correlations."
    )
    state_file: Path | None = Field(
        None,
        description="SQLite file keeping breaker and drawdown state across restarts (live "
        "trading); the backtest keeps it in memory.",
    )
