"""Stop rules: one file per rule, each registered in ``STOPS`` when this package is imported.

``fixed_percent``, ``atr``, ``quantile`` and ``forex_pips`` set protective stops,
``trailing`` a trailing stop, ``take_profit`` a take-profit, and ``time_stop`` closes
positions held too long. The risk manager combines the rules' exits (the tightest stop and
trail, the nearest take-profit; a stop on an addition may only tighten the working one) and
they become the engine's bracket and trailing orders. Crypto stops tighten by 30 % on
weekends through each distance rule's ``weekend_crypto_tighten``. :func:`check_exits`
refuses a configuration whose percent stop is at or beyond its take-profit.
"""

from alphaforge.risk.stops.atr import AtrStop
from alphaforge.risk.stops.checks import check_exits
from alphaforge.risk.stops.fixed_percent import FixedPercentStop
from alphaforge.risk.stops.forex_pips import ForexPipStop
from alphaforge.risk.stops.quantile import QuantileStop
from alphaforge.risk.stops.take_profit import TakeProfit
from alphaforge.risk.stops.time_stop import TimeStop
from alphaforge.risk.stops.trailing import TrailingStop

__all__ = [
    "AtrStop",
    "FixedPercentStop",
    "ForexPipStop",
    "QuantileStop",
    "TakeProfit",
    "TimeStop",
    "TrailingStop",
    "check_exits",
]
