"""Models behind one estimator protocol, registered by name.

Importing this package registers every model: lightgbm, lightgbm_dart (``gbm``), logistic,
svm, random_forest (``classical``), xgboost (``xgb``), catboost (``catboost_model``) and the
PyTorch sequence models lstm_attention, gru, bilstm, cnn_lstm, transformer, tcn (``deep``;
torch is imported only when one of them is built).
"""

from alphaforge.models import catboost_model as _catboost_model  # registers catboost
from alphaforge.models import classical as _classical  # registers logistic, svm, random_forest
from alphaforge.models import deep as _deep  # registers the PyTorch models (torch imported lazily)
from alphaforge.models import gbm as _gbm  # registers lightgbm, lightgbm_dart
from alphaforge.models import xgb as _xgb  # registers xgboost
from alphaforge.models.base import MODELS, Classifier, Model, ModelFactory, create_model
from alphaforge.models.catboost_model import CatBoostModel
from alphaforge.models.classical import LogisticRegressionModel, RandomForestModel, SVMModel
from alphaforge.models.device import resolve_device
from alphaforge.models.explain import ContributionsUnavailableError, Explainable, explain
from alphaforge.models.gbm import LightGBMClassifier
from alphaforge.models.quantile import QuantileGBM, pinball_loss
from alphaforge.models.xgb import XGBoostModel

__all__ = [
    "MODELS",
    "CatBoostModel",
    "Classifier",
    "ContributionsUnavailableError",
    "Explainable",
    "LightGBMClassifier",
    "LogisticRegressionModel",
    "Model",
    "ModelFactory",
    "QuantileGBM",
    "RandomForestModel",
    "SVMModel",
    "XGBoostModel",
    "create_model",
    "explain",
    "pinball_loss",
    "resolve_device",
]

del _catboost_model, _classical, _deep, _gbm, _xgb
