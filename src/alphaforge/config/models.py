"""Frozen configuration models, one per stage; every default lives here.

Units are stated per field. Times are UTC. Each stage receives its own model explicitly;
nothing reads configuration at import time.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from alphaforge.core.types import AssetClass, Interval


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DataConfig(_Frozen):
    """Where bars come from and where they are stored."""

    source: str = Field("sample", description="Default data source: sample, yfinance, csv.")
    store_dir: Path = Field(Path(".alphaforge/store"), description="Root of the Parquet store.")
    interval: Interval = Field(
        Interval.D1, description="Default bar interval (1m 5m 15m 1h 1d 1wk 1mo)."
    )
    start: date | None = Field(None, description="First session to fetch; None = source default.")
    end: date | None = Field(None, description="Last session to fetch; None = today.")
    min_health_score: float = Field(
        0.8, ge=0.0, le=1.0, description="Runs refuse series scoring below this (0..1)."
    )
    allow_unhealthy: bool = Field(False, description="Override the health gate (recorded).")
    max_retries: int = Field(4, ge=0, description="Retries for online sources, with backoff.")
    backoff_seconds: float = Field(1.0, ge=0.0, description="First backoff delay; doubles.")


class ValidationRulesConfig(_Frozen):
    """Thresholds of the bar validator (``docs/data.md`` explains each rule)."""

    split_jump: float = Field(
        0.38,
        gt=0,
        description="Smallest overnight log jump (abs) examined as a possible unadjusted split.",
    )
    split_tolerance: float = Field(
        0.02,
        gt=0,
        lt=0.2,
        description="Largest relative distance of a jump's ratio to a split ratio (0.02 = 2%).",
    )
    volume_surge: float = Field(
        2.0,
        gt=1,
        description="Share and dollar volume vs their 20-bar medians confirming a real move.",
    )
    spike_jump: float = Field(
        0.69,
        gt=0,
        description="Smallest log price step (abs) that can start or end a spike (0.69 ~ x2).",
    )
    spike_window: int = Field(5, ge=1, description="Most bars a spike (jump and revert) covers.")
    spike_revert: float = Field(
        0.25,
        gt=0,
        lt=1,
        description="A spike ends within this fraction of its jump (log) of where it started.",
    )
    drop_spikes: bool = Field(
        True, description="Drop spike bars (counted); False keeps them, flagged as known bad."
    )
    stale_run: int = Field(5, ge=2, description="Identical closes in a row that mark a stale run.")
    max_gap_fraction: float = Field(
        0.05, ge=0, le=1, description="Missing calendar sessions tolerated before a health penalty."
    )


class FeaturesConfig(_Frozen):
    """Which registered features a run computes."""

    names: list[str] | None = Field(
        None,
        description=(
            "Features the model receives, per-symbol and panel (cs_rank_ret_20, vix_z_60...); "
            "None = every scale-free per-symbol feature and every scale-free panel feature "
            "the universe has the inputs for."
        ),
    )
    min_history: int = Field(
        200,
        ge=0,
        description="Bars of each symbol's history used only to warm features up, never as rows.",
    )


class SelectionConfig(_Frozen):
    """Feature selection, fitted inside each walk-forward fold on its training rows only."""

    method: Literal["none", "importance", "mutual_info"] = Field(
        "none", description="Ranking: none (keep all), importance (LightGBM gain), mutual_info."
    )
    top_k: int = Field(40, ge=1, description="Features kept per fold after pruning.")
    correlation_threshold: float = Field(
        0.95,
        gt=0,
        le=1,
        description="Drop a feature whose |rank correlation| with a better one exceeds this.",
    )


class LabelsConfig(_Frozen):
    """The training label."""

    kind: Literal["cross_sectional", "direction", "triple_barrier", "three_class", "meta"] = Field(
        "cross_sectional",
        description=(
            "Target: beats the cross-sectional median, rises, takes profit first (triple "
            "barrier), BUY/HOLD/SELL (three_class), or whether trading the sign of "
            "labels.primary_feature takes profit first (meta)."
        ),
    )
    horizon: int = Field(
        5, ge=1, description="Forward horizon, in bars (the vertical barrier for barriers)."
    )
    barrier_multiplier: float = Field(
        2.0, gt=0, description="Triple barrier, meta: barriers at +-this x trailing volatility."
    )
    threshold: float = Field(
        0.012, gt=0, description="three_class: BUY above +this, SELL below -this simple return."
    )
    volatility_multiplier: float | None = Field(
        None,
        gt=0,
        description="three_class: thresholds of this x volatility x sqrt(horizon) instead.",
    )
    primary_feature: str = Field(
        "ret_log_20", description="meta: the primary signal goes long when this feature > 0."
    )
    entry: Literal["next_open", "close"] = Field(
        "next_open", description="Reference price at decision: next bar's open or bar t's close."
    )
    exit: Literal["open", "close"] = Field("open", description="Exit price h bars later.")
    uniqueness_weights: bool = Field(
        True, description="Weight training rows by label uniqueness (overlapping labels share)."
    )
    weight_half_life_days: float | None = Field(
        60.0, gt=0, description="Age decay of training weights, days; null disables it."
    )
    catalyst_file: Path | None = Field(
        None,
        description=(
            "CSV of scheduled events (column time, optional symbol): training rows within "
            "catalyst_window_bars of one are weighted by catalyst_weight; null = none."
        ),
    )
    catalyst_window_bars: int = Field(
        1, ge=0, description="Bars before and after an event that count as near it."
    )
    catalyst_weight: float = Field(
        1.0, gt=0, description="Weight factor of rows near an event (>1 up-weights them)."
    )


class WalkForwardConfig(_Frozen):
    """Rolling purged walk-forward splitting (lengths in calendar months)."""

    train_months: int = Field(12, ge=1, description="Training block, calendar months.")
    validation_months: int = Field(
        3, ge=0, description="Validation block for early stopping; 0 disables it."
    )
    test_months: int = Field(1, ge=1, description="Out-of-sample block; the window rolls by it.")
    embargo_bars: int | None = Field(
        None,
        ge=0,
        description="Bars a fitted label must end before the next block; null = the label horizon.",
    )
    expanding: bool = Field(
        False, description="Grow the training block from the first bar instead of rolling it."
    )


class TreesConfig(_Frozen):
    """Tree ensembles: gradient boosting (LightGBM, XGBoost, CatBoost) and the random forest."""

    n_estimators: int = Field(300, ge=1, description="Maximum boosting rounds (forest: trees).")
    learning_rate: float = Field(0.03, gt=0, description="Boosting: shrinkage per round.")
    num_leaves: int = Field(15, ge=2, description="Boosting: leaves per tree.")
    min_child_samples: int = Field(100, ge=1, description="Minimum rows per leaf.")
    subsample: float = Field(0.8, gt=0, le=1, description="Row fraction per round (or tree).")
    colsample_bytree: float = Field(0.8, gt=0, le=1, description="Feature fraction per tree.")
    early_stopping_rounds: int = Field(
        30,
        ge=0,
        description="Boosting: rounds without a lower validation log loss before a stop; 0 = off.",
    )
    min_trees: int = Field(
        30,
        ge=1,
        description="Boosting: early stopping keeps at least this many trees (noisy folds).",
    )
    focal_gamma: float | None = Field(
        None, ge=0, description="LightGBM focal-loss gamma (binary targets); null = log loss."
    )


class LinearConfig(_Frozen):
    """Linear models: logistic regression and the linear SVM."""

    regularization: float = Field(
        1.0, gt=0, description="Inverse regularisation strength C of logistic regression and SVM."
    )


class DeepConfig(_Frozen):
    """PyTorch sequence models."""

    hidden_size: int = Field(64, ge=1, description="Hidden units per layer.")
    lookback: int = Field(20, ge=1, description="Bars per input window, ending at the row's bar.")
    epochs: int = Field(30, ge=1, description="Maximum training epochs.")
    early_stopping_rounds: int = Field(
        30, ge=0, description="Epochs without a lower validation loss before a stop; 0 = off."
    )
    learning_rate: float = Field(
        1e-3, gt=0, description="Peak learning rate of the cyclical schedule."
    )
    batch_size: int = Field(256, ge=1, description="Rows per gradient step.")


class ModelConfig(_Frozen):
    """Settings of the registered models: the model's name, the device, and one group of
    settings per model family (each model reads its own group)."""

    name: str = Field("lightgbm", description="Registered model name.")
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto",
        description="XGBoost, CatBoost, PyTorch: auto uses a CUDA GPU when present, else the CPU.",
    )
    trees: TreesConfig = Field(TreesConfig(), description="Boosting and random forest settings.")
    linear: LinearConfig = Field(LinearConfig(), description="Logistic regression and SVM.")
    deep: DeepConfig = Field(DeepConfig(), description="PyTorch sequence models.")


class StrategyConfig(_Frozen):
    """The strategy whose signals the backtest trades (``alphaforge strategies list``)."""

    name: str = Field(
        "oof_scores", description="Registered strategy: oof_scores (model scores), ma_crossover."
    )
    params: dict[str, float | int | str | bool] = Field(
        default_factory=dict, description="The strategy's parameters; unknown ones are refused."
    )


class PortfolioConfig(_Frozen):
    """How signals become target weights and weights become quantities."""

    constructor: Literal["top_k", "target_weights"] = Field(
        "top_k",
        description="top_k: equal weights on the best (and worst) k signals; target_weights: "
        "each name's signal x gross_exposure / number of names.",
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


class CostModelConfig(_Frozen):
    """One cost model and its parameters (``docs/costs.md`` lists them)."""

    name: str = Field(
        description="Registered cost model (docs/costs.md), e.g. percent, sec_fee, sqrt_impact."
    )
    params: dict[str, float | int | str | bool | dict[str, float]] = Field(
        default_factory=dict, description="The model's parameters; unknown ones are refused."
    )


class BacktestConfig(_Frozen):
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


class DemoConfig(_Frozen):
    """The synthetic cross-section the demo models (no package ships a real OHLCV one).

    With ``presets`` on, the demo also uses research settings suited to its market wherever the
    configuration leaves them unset (see ``alphaforge.pipeline.demo.DEMO_PRESETS``): a 24-month
    training block tested 3 months at a time, no age decay of training weights (the synthetic
    market is stationary by construction, so decay only discards data) and small, heavily
    regularised trees (4 leaves, 300 rows per leaf, 30 % of the features per tree) for a
    weak signal among 285 features. A value set in the configuration always wins.
    """

    n_symbols: int = Field(48, ge=4, description="Synthetic equities in the cross-section.")
    n_sectors: int = Field(4, ge=1, description="Sectors they are spread over.")
    start: date = Field(date(2012, 1, 1), description="First session of the synthetic market.")
    end: date = Field(date(2019, 12, 31), description="Last session of the synthetic market.")
    signal_strength: float = Field(
        0.01, ge=0, lt=1, description="Planted predictable share of daily return variance (0..1)."
    )
    presets: bool = Field(
        True,
        description="Use the demo's research settings where the configuration leaves them unset.",
    )


class TrainConfig(_Frozen):
    """What `alphaforge train` trains: the universe, the models and the control runs."""

    universe: str = Field(
        "synthetic",
        description="A universe whose bars are in the store, or synthetic (the demo's market).",
    )
    models: list[str] = Field(
        ["lightgbm"], min_length=1, description="Registered model names trained side by side."
    )
    ensemble: Literal["average", "performance", "stacking"] = Field(
        "average",
        description=(
            "Combine the models' out-of-fold scores: plain mean, weights from past folds' AUC, "
            "or a stacking meta-learner trained on out-of-fold scores only."
        ),
    )
    control_block_bars: int = Field(
        21, ge=1, description="Block length of the permuted-label control, in bars."
    )
    calibrate: bool = Field(
        False,
        description="Isotonic calibration of each model on its fold's validation block only.",
    )
    search_trials: int = Field(
        0,
        ge=0,
        description="Optuna trials per fold, nested in its training rows; 0 = no search.",
    )
    experiment: str = Field(
        "default", description="Experiment name under which every trial is recorded."
    )
    quantiles: bool = Field(
        False,
        description=(
            "Also fit quantile regression (10/25/50/75/90 %) of the forward return by the same "
            "walk-forward; report pinball loss and coverage."
        ),
    )
    multi_task_model: str | None = Field(
        None,
        description=(
            "A PyTorch model also fitted on the 1/5/10/21-bar targets at once; each horizon's "
            "out-of-sample AUC is reported. null = none."
        ),
    )


class RunConfig(_Frozen):
    """Run bookkeeping."""

    seed: int = Field(42, description="Seed for every random draw of a run.")
    runs_dir: Path = Field(Path("runs"), description="Run directories are created here.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Level of the run log."
    )
    n_jobs: int = Field(1, ge=1, description="Worker threads for model fitting.")


class SecretsConfig(_Frozen):
    """API keys; read only from the environment or `.env`, never logged or written."""

    alpaca_api_key: SecretStr | None = None
    alpaca_secret_key: SecretStr | None = None
    fred_api_key: SecretStr | None = None
    finnhub_api_key: SecretStr | None = None
    openai_api_key: SecretStr | None = None


class AppConfig(_Frozen):
    """Every stage's configuration in one frozen object."""

    data: DataConfig = DataConfig()
    validation_rules: ValidationRulesConfig = ValidationRulesConfig()
    features: FeaturesConfig = FeaturesConfig()
    selection: SelectionConfig = SelectionConfig()
    labels: LabelsConfig = LabelsConfig()
    walk_forward: WalkForwardConfig = WalkForwardConfig()
    model: ModelConfig = ModelConfig()
    strategy: StrategyConfig = StrategyConfig()
    portfolio: PortfolioConfig = PortfolioConfig()
    backtest: BacktestConfig = BacktestConfig()
    demo: DemoConfig = DemoConfig()
    train: TrainConfig = TrainConfig()
    run: RunConfig = RunConfig()
    secrets: SecretsConfig = SecretsConfig()
