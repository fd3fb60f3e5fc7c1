"""Configuration models of a run: the demo's synthetic market, what train trains, run
bookkeeping and API keys.

Units are stated per field. Times are UTC.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr

from alphaforge.config.base import FrozenModel

__all__ = ["DemoConfig", "RunConfig", "SecretsConfig", "TrainConfig"]


class DemoConfig(FrozenModel):
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


class TrainConfig(FrozenModel):
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


class RunConfig(FrozenModel):
    """Run bookkeeping."""

    seed: int = Field(42, description="Seed for every random draw of a run.")
    runs_dir: Path = Field(Path("runs"), description="Run directories are created here.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Level of the run log."
    )
    n_jobs: int = Field(1, ge=1, description="Worker threads for model fitting.")


class SecretsConfig(FrozenModel):
    """API keys; read only from the environment or `.env`, never logged or written."""

    alpaca_api_key: SecretStr | None = None
    alpaca_secret_key: SecretStr | None = None
    fred_api_key: SecretStr | None = None
    finnhub_api_key: SecretStr | None = None
    openai_api_key: SecretStr | None = None
    ccxt_api_key: SecretStr | None = None
    ccxt_secret: SecretStr | None = None
    smtp_password: SecretStr | None = None
    webhook_token: SecretStr | None = None
