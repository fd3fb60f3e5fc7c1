"""Portfolio constructors: one file each, registered in ``CONSTRUCTORS`` on import."""

from alphaforge.portfolio.constructors.bayesian import BayesianRanking
from alphaforge.portfolio.constructors.risk_parity import RiskParity
from alphaforge.portfolio.constructors.target_weights import TargetWeights
from alphaforge.portfolio.constructors.top_k import TopK

__all__ = ["BayesianRanking", "RiskParity", "TargetWeights", "TopK"]
