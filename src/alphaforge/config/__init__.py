"""Configuration: frozen per-stage models composed into one, loaded from YAML + environment."""

from alphaforge.config.loader import CONFIG_ENV_VAR, load_config, masked_dump
from alphaforge.config.models import (
    AppConfig,
    BacktestConfig,
    DataConfig,
    DemoConfig,
    FeaturesConfig,
    LabelsConfig,
    ModelConfig,
    PortfolioConfig,
    RunConfig,
    SecretsConfig,
    SelectionConfig,
    TrainConfig,
    ValidationRulesConfig,
    WalkForwardConfig,
)

__all__ = [
    "CONFIG_ENV_VAR",
    "AppConfig",
    "BacktestConfig",
    "DataConfig",
    "DemoConfig",
    "FeaturesConfig",
    "LabelsConfig",
    "ModelConfig",
    "PortfolioConfig",
    "RunConfig",
    "SecretsConfig",
    "SelectionConfig",
    "TrainConfig",
    "ValidationRulesConfig",
    "WalkForwardConfig",
    "load_config",
    "masked_dump",
]
