"""Live bar intake: every incoming bar is checked with its trailing window before models see it.

A live feed can send anything: a bar with NaN or infinite prices, high below low, a negative
volume, a stamp out of order or without a time zone, a string where a number belongs, a
split-sized jump that reverts. :meth:`BarIntake.accept` never raises on such input. Cheap
guards reject what cannot be a bar; the rest goes through
:func:`alphaforge.data.validation.validate_bars` together with the symbol's trailing window,
which repairs what it can (and says so) or drops the bar (and says why). Only a bar that
leaves the validator with finite prices joins the window the strategies read.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from alphaforge.config.models import ValidationRulesConfig
from alphaforge.core.types import Instrument, Interval
from alphaforge.data.report import Action
from alphaforge.data.validation import validate_bars

log = logging.getLogger(__name__)

_FIELDS = ("open", "high", "low", "close", "volume")


@dataclass(frozen=True, slots=True)
class IntakeResult:
    """What happened to one incoming bar: ``accepted``, ``repaired`` or ``rejected``, and why."""

    symbol: str
    time: pd.Timestamp | None
    outcome: str
    reasons: tuple[str, ...] = ()


@dataclass
class BarIntake:
    """Per symbol, the trailing window of accepted bars (what the strategies read).

    Parameters
    ----------
    instruments
        Instruments by symbol (calendar and asset class drive the validator's rules).
    interval
        The bars' interval.
    window
        Bars kept per symbol (the strategies' warm-up and the validator's context).
    check_window
        Trailing bars the validator sees with each new bar (its jump and stale-run checks
        need context; more costs time per bar).
    """

    instruments: dict[str, Instrument]
    interval: Interval
    rules: ValidationRulesConfig = field(default_factory=ValidationRulesConfig)
    window: int = 300
    check_window: int = 40
    bars: dict[str, pd.DataFrame] = field(default_factory=dict)

    def seed(self, symbol: str, history: pd.DataFrame) -> None:
        """Start ``symbol``'s window from stored, already validated history."""
        self.bars[symbol] = history.loc[:, list(_FIELDS)].astype(np.float64).tail(self.window)

    def accept(self, symbol: str, bar: object) -> IntakeResult:
        """Check one incoming bar of ``symbol``; keep it if it is (or was repaired into) sane."""
        try:
            return self._accept(symbol, bar)
        except Exception as exc:  # a malformed bar must never stop the node
            log.warning("bar of %s rejected: %s", symbol, exc)
            return IntakeResult(
                symbol, None, "rejected", (f"unreadable: {type(exc).__name__}: {exc}",)
            )

    def _accept(self, symbol: str, bar: object) -> IntakeResult:
        if symbol not in self.instruments:
            return IntakeResult(symbol, None, "rejected", ("not a traded symbol",))
        if not isinstance(bar, pd.DataFrame) or len(bar) != 1:
            return IntakeResult(symbol, None, "rejected", ("not a one-row bar frame",))
        missing = [f for f in ("open", "high", "low", "close") if f not in bar.columns]
        if missing:
            return IntakeResult(symbol, None, "rejected", (f"missing {', '.join(missing)}",))
        stamp = bar.index[0]
        if not isinstance(stamp, pd.Timestamp) or stamp.tzinfo is None:
            return IntakeResult(symbol, None, "rejected", ("bar time is not a UTC timestamp",))
        stamp = stamp.tz_convert("UTC")
        row = bar.reindex(columns=list(_FIELDS))
        values = pd.to_numeric(row.iloc[0], errors="coerce").astype(np.float64)
        prices = values[["open", "high", "low", "close"]].to_numpy()
        if not np.isfinite(prices).all():
            return IntakeResult(symbol, stamp, "rejected", ("a price is missing, NaN or infinite",))
        history = self.bars.get(symbol)
        if history is not None and len(history) and stamp <= history.index[-1]:
            if stamp == history.index[-1]:
                return IntakeResult(symbol, stamp, "rejected", ("a bar already received",))
            return IntakeResult(symbol, stamp, "rejected", ("older than the last bar",))
        clean_row = pd.DataFrame(
            [values.to_numpy()], index=pd.DatetimeIndex([stamp]), columns=list(_FIELDS)
        )
        context = history.tail(self.check_window) if history is not None else None
        raw = clean_row if context is None else pd.concat([context, clean_row])
        checked, report = validate_bars(raw, self.instruments[symbol], self.interval, self.rules)
        reasons = tuple(
            f"{issue.kind} ({issue.action}): {issue.detail}"
            for issue in report.issues
            if issue.action is not Action.FLAGGED
        )
        if stamp not in checked.index:
            return IntakeResult(symbol, stamp, "rejected", reasons or ("dropped by the validator",))
        out = checked.reindex(index=[stamp], columns=list(_FIELDS)).to_numpy(np.float64)[0]
        if not np.isfinite(out[:4]).all():
            return IntakeResult(symbol, stamp, "rejected", ("not finite after repair",))
        if not math.isfinite(out[4]):
            out[4] = 0.0
            reasons = (*reasons, "volume missing: set to 0")
        kept = pd.DataFrame([out], index=pd.DatetimeIndex([stamp]), columns=list(_FIELDS))
        window = kept if history is None else pd.concat([history, kept])
        self.bars[symbol] = window.tail(self.window)
        changed = not np.allclose(kept.to_numpy(), clean_row.to_numpy(), equal_nan=True)
        outcome = "repaired" if changed or "volume missing: set to 0" in reasons else "accepted"
        return IntakeResult(symbol, stamp, outcome, reasons)


__all__ = ["BarIntake", "IntakeResult"]
