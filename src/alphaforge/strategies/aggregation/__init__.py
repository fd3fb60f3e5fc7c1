"""Pure array functions behind the aggregator: outcomes, weights, Bayesian averaging."""

from alphaforge.strategies.aggregation.bayes import (
    bayesian_weights,
    isotonic_fit,
    isotonic_probabilities,
    log_likelihoods,
    prior_probability,
)
from alphaforge.strategies.aggregation.outcomes import (
    NEVER,
    arrivals,
    forward_outcomes,
    trailing_sum,
)
from alphaforge.strategies.aggregation.weights import (
    RANGE_FAMILIES,
    TREND_FAMILIES,
    combine,
    hit_counts,
    normalise_weights,
    performance_weights,
    regime_multipliers,
    threshold_signal,
    trend_probability,
)

__all__ = [
    "NEVER",
    "RANGE_FAMILIES",
    "TREND_FAMILIES",
    "arrivals",
    "bayesian_weights",
    "combine",
    "forward_outcomes",
    "hit_counts",
    "isotonic_fit",
    "isotonic_probabilities",
    "log_likelihoods",
    "normalise_weights",
    "performance_weights",
    "prior_probability",
    "regime_multipliers",
    "threshold_signal",
    "trailing_sum",
    "trend_probability",
]
