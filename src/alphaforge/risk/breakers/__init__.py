"""Circuit breakers and drawdown tiers: one file each, registered in ``BREAKERS`` on import.

``daily_loss`` (3 %), ``weekly_loss`` (5 %), ``consecutive_losses`` (5), ``trades_per_day``
(10) and ``drawdown`` (10 / 15 / 20 %). Their state is a JSON object held by the
:class:`~alphaforge.risk.manager.RiskManager` and saved by a
:class:`~alphaforge.risk.state.RiskStateStore`; trading days come from
:mod:`alphaforge.risk.breakers.days`.
"""

from alphaforge.risk.breakers.common import TripBreaker
from alphaforge.risk.breakers.consecutive_losses import ConsecutiveLosses
from alphaforge.risk.breakers.daily_loss import DailyLoss
from alphaforge.risk.breakers.drawdown import Drawdown
from alphaforge.risk.breakers.loss import LossBreaker
from alphaforge.risk.breakers.trades_per_day import TradesPerDay
from alphaforge.risk.breakers.weekly_loss import WeeklyLoss

__all__ = [
    "ConsecutiveLosses",
    "DailyLoss",
    "Drawdown",
    "LossBreaker",
    "TradesPerDay",
    "TripBreaker",
    "WeeklyLoss",
]
