"""Labels: forward returns and classes, each with the start and end time of its information."""

from alphaforge.labels.barrier import BarrierOutcome, triple_barrier_labels
from alphaforge.labels.classes import (
    BUY,
    CLASS_NAMES,
    HOLD,
    SELL,
    binary_labels,
    from_class_codes,
    three_class_labels,
    to_class_codes,
    volatility_thresholds,
)
from alphaforge.labels.forward import (
    DEFAULT_HORIZONS,
    LabelSet,
    forward_log_return,
    forward_return,
    multi_horizon_returns,
    trailing_volatility,
)
from alphaforge.labels.meta import meta_labels
from alphaforge.labels.weights import (
    age_decay,
    catalyst_flags,
    catalyst_weights,
    concurrency,
    sample_weights,
    uniqueness,
)

__all__ = [
    "BUY",
    "CLASS_NAMES",
    "DEFAULT_HORIZONS",
    "HOLD",
    "SELL",
    "BarrierOutcome",
    "LabelSet",
    "age_decay",
    "binary_labels",
    "catalyst_flags",
    "catalyst_weights",
    "concurrency",
    "forward_log_return",
    "forward_return",
    "from_class_codes",
    "meta_labels",
    "multi_horizon_returns",
    "sample_weights",
    "three_class_labels",
    "to_class_codes",
    "trailing_volatility",
    "triple_barrier_labels",
    "uniqueness",
    "volatility_thresholds",
]
