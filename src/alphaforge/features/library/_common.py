"""Input tuples shared by the feature modules."""

from __future__ import annotations

OHLC = ("open", "high", "low", "close")
OHLCV = ("open", "high", "low", "close", "volume")
HLC = ("high", "low", "close")
HLCV = ("high", "low", "close", "volume")
HL = ("high", "low")
C = ("close",)
CV = ("close", "volume")
V = ("volume",)
#: Features that read only the bar timestamps (calendar and session facts).
STAMP = ("timestamp",)
