"""Configuration models: the model's name, its device, and one group of settings per model family.

Units are stated per field. Times are UTC.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from alphaforge.config.base import FrozenModel

__all__ = ["DeepConfig", "LinearConfig", "ModelConfig", "TreesConfig"]


class TreesConfig(FrozenModel):
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


class LinearConfig(FrozenModel):
    """Linear models: logistic regression and the linear SVM."""

    regularization: float = Field(
        1.0, gt=0, description="Inverse regularisation strength C of logistic regression and SVM."
    )


class DeepConfig(FrozenModel):
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


class ModelConfig(FrozenModel):
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
