"""Every stage's configuration composed into one frozen object, ``AppConfig``.

Each stage's model is defined in its own module (``config/data.py``, ``features.py``,
``labels.py``, ``validation.py``, ``model.py``, ``trading.py``, ``run.py``) and re-exported here,
so ``from alphaforge.config.models import X`` works for every model. Units are stated per field.
Times are UTC. Each stage receives its own model explicitly; nothing reads configuration at
import time.
"""

from __future__ import annotations

from alphaforge.config.base import FrozenModel
from alphaforge.config.data import DataConfig, ValidationRulesConfig
from alphaforge.config.features import FeaturesConfig, SelectionConfig
from alphaforge.config.labels import LabelsConfig
from alphaforge.config.live import ExecutionConfig, LiveConfig, NotifyConfig, SchedulerConfig
from alphaforge.config.model import DeepConfig, LinearConfig, ModelConfig, TreesConfig
from alphaforge.config.run import DemoConfig, RunConfig, SecretsConfig, TrainConfig
from alphaforge.config.service import ServiceConfig
from alphaforge.config.trading import (
    AggregateConfig,
    BacktestConfig,
    ComponentConfig,
    CostModelConfig,
    PortfolioConfig,
    RiskConfig,
    StrategyConfig,
)
from alphaforge.config.validation import WalkForwardConfig

__all__ = [
    "AggregateConfig",
    "AppConfig",
    "BacktestConfig",
    "ComponentConfig",
    "CostModelConfig",
    "DataConfig",
    "DeepConfig",
    "DemoConfig",
    "ExecutionConfig",
    "FeaturesConfig",
    "FrozenModel",
    "LabelsConfig",
    "LinearConfig",
    "LiveConfig",
    "ModelConfig",
    "NotifyConfig",
    "PortfolioConfig",
    "RiskConfig",
    "RunConfig",
    "SchedulerConfig",
    "SecretsConfig",
    "SelectionConfig",
    "ServiceConfig",
    "StrategyConfig",
    "TrainConfig",
    "TreesConfig",
    "ValidationRulesConfig",
    "WalkForwardConfig",
]


class AppConfig(FrozenModel):
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
    risk: RiskConfig = RiskConfig()
    backtest: BacktestConfig = BacktestConfig()
    demo: DemoConfig = DemoConfig()
    train: TrainConfig = TrainConfig()
    run: RunConfig = RunConfig()
    execution: ExecutionConfig = ExecutionConfig()
    live: LiveConfig = LiveConfig()
    scheduler: SchedulerConfig = SchedulerConfig()
    notify: NotifyConfig = NotifyConfig()
    service: ServiceConfig = ServiceConfig()
    secrets: SecretsConfig = SecretsConfig()
