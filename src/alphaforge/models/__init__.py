"""Models behind one estimator protocol, registered by name."""

from alphaforge.models import gbm as _gbm  # registers lightgbm
from alphaforge.models.base import MODELS, Classifier, ModelFactory, create_model
from alphaforge.models.gbm import LightGBMClassifier

__all__ = ["MODELS", "Classifier", "LightGBMClassifier", "ModelFactory", "create_model"]

del _gbm
