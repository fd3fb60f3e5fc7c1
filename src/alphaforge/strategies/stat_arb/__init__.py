"""Statistical arbitrage: cointegrated pairs and triangular forex consistency.

The math (:mod:`.cointegration`, :mod:`.kalman`, :mod:`.spread`) is pure; :mod:`.scan` runs
the rolling pair scan; :mod:`.pairs` and :mod:`.fx_triangular` are the registered strategies.
"""

# Importing a member module registers it.
from alphaforge.strategies.stat_arb import fx_triangular, pairs
from alphaforge.strategies.stat_arb.scan import ScanSettings, scan_pairs

__all__ = ["ScanSettings", "fx_triangular", "pairs", "scan_pairs"]
