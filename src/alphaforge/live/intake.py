"""Live bar intake: every incoming bar is checked with its trailing window before models see it.

A live feed can send anything: a bar with NaN or infinite prices, high below low, a negative
volume, a stamp out of order, in the future, off the interval's grid or without a time zone,
a string where a number belongs, an absurd magnitude, a split-sized jump that reverts.
:meth:`BarIntake.accept` never raises on such input. Cheap guards reject what cannot be a bar;
the rest goes through :func:`alphaforge.data.validation.validate_bars` together with the
symbol's trailing window, which repairs what it can (and says so) or drops the bar (and says
why). Only a bar that leaves the validator with finite prices joins the window the strategies
read.

Spikes follow the data layer's rule (:func:`alphaforge.data.jumps.find_spikes`, thresholds in
``rules``): a bar whose prices jump and revert within it is refused as a ``price_spike``. A
jump that reverts only with a later bar cannot be told from a real move when it arrives (the
stored data's validation does not flag it either until the revert is stored); the bar that
reverts it shows the bars since the jump to be a spike, and they leave the window then, as the
stored data's validation drops them (:attr:`IntakeResult.removed`).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import pandas as pd

from alphaforge.config.models import ValidationRulesConfig
from alphaforge.core.types import Instrument, Interval
from alphaforge.data.calendars import expected_bars, session_dates
from alphaforge.data.report import Action
from alphaforge.data.validation import validate_bars

log = logging.getLogger(__name__)

_FIELDS = ("open", "high", "low", "close", "volume")
_PRICES = ("open", "high", "low", "close")
#: Prices outside this range (quote currency) are feed errors, not markets: products and
#: squares of such values overflow float64 in the features and models downstream.
PRICE_RANGE = (1e-12, 1e12)
#: Largest volume (units) taken as real; beyond it dollar volumes and their squares overflow.
MAX_VOLUME = 1e18


def _number(value: object) -> tuple[float, str]:
    """Return ``value`` as a float and how it was read (``""``: as a number, else a note).

    Text holding a number is read (a repair worth reporting); anything else that is not a real
    number (None, a boolean, bytes, a complex number, an object) is NaN.
    """
    if isinstance(value, bool | np.bool_):
        return math.nan, f"a boolean ({value})"
    try:
        if isinstance(value, int | float | np.integer | np.floating | Decimal):
            return float(value), ""
        if isinstance(value, str):
            return float(value.strip()), f"text {value[:20]!r}, read as a number"
    except (ArithmeticError, ValueError):
        pass
    return math.nan, f"not a number ({type(value).__name__})"


def _parse_row(bar: pd.DataFrame) -> tuple[np.ndarray, list[str], list[str]]:
    """Return the bar's five fields as float64 (NaN where absent), repairs and refusals."""
    values = np.full(len(_FIELDS), np.nan)
    repairs: list[str] = []
    refusals: list[str] = []
    for j, name in enumerate(_FIELDS):
        if name not in bar.columns:
            continue
        number, note = _number(bar[name].iloc[0])
        values[j] = number
        if note and math.isfinite(number):
            repairs.append(f"{name} given as {note}")
        elif note and name in _PRICES:
            refusals.append(f"{name} is {note}")
    return values, repairs, refusals


def _out_of_range(values: np.ndarray) -> str:
    """Return why finite values are implausible as a bar, or ``""``."""
    lo, hi = PRICE_RANGE
    prices = values[:4]
    # Zero and negative prices are the validator's to judge (it says which column failed).
    if ((prices > hi) | ((prices > 0) & (prices < lo))).any():
        return f"a price outside [{lo:g}, {hi:g}]: a feed or decimal error"
    if math.isfinite(values[4]) and values[4] > MAX_VOLUME:
        return f"volume above {MAX_VOLUME:g}: a feed error"
    return ""


def _off_grid(instrument: Instrument, interval: Interval, stamp: pd.Timestamp) -> str:
    """Return why no bar of ``interval`` can open at ``stamp`` (UTC), or ``""``.

    Daily and longer bars open at 00:00 UTC (their session date); a daily bar needs a session
    of the instrument's calendar that day (weekly and monthly stamps vary by source, so only
    their time is checked). An intraday bar opens on the interval's grid counted from
    midnight UTC (Alpaca, ccxt) or from the session's open (XNYS hours at :30).
    """
    day = stamp.normalize()
    if not interval.is_intraday:
        if stamp != day:
            return f"a {interval.value} bar opens at 00:00 UTC, not at {stamp.isoformat()}"
        if interval == Interval.D1 and day not in session_dates(
            instrument.calendar, day.date(), day.date()
        ):
            return f"no {instrument.calendar} session on {day.date().isoformat()}"
        return ""
    if (stamp - day) % interval.nominal == pd.Timedelta(0):
        return ""
    if stamp in expected_bars(instrument.calendar, day.date(), day.date(), interval):
        return ""
    return f"no {interval.value} bar opens at {stamp.isoformat()} (off the interval's grid)"


@dataclass(frozen=True, slots=True)
class IntakeResult:
    """What happened to one incoming bar: ``accepted``, ``repaired`` or ``rejected``, and why."""

    symbol: str
    time: pd.Timestamp | None
    outcome: str
    reasons: tuple[str, ...] = ()
    #: Earlier bars (their UTC stamps) taken out of the window because this bar ends a price
    #: spike they sit on; the stored data's validation drops them too.
    removed: tuple[pd.Timestamp, ...] = ()


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

    def accept(self, symbol: str, bar: object, now: pd.Timestamp | None = None) -> IntakeResult:
        """Check one incoming bar of ``symbol``; keep it if it is (or was repaired into) sane.

        ``now`` is the time it arrives (the node's clock, UTC): a bar stamped (opening) after
        it is refused. Without it, stamps are not checked against the time.
        """
        try:
            return self._accept(symbol, bar, now)
        except Exception as exc:  # a malformed bar must never stop the node
            log.warning("bar of %s rejected: %s", symbol, exc)
            return IntakeResult(
                symbol, None, "rejected", (f"unreadable: {type(exc).__name__}: {exc}",)
            )

    def _accept(self, symbol: str, bar: object, now: pd.Timestamp | None) -> IntakeResult:
        if symbol not in self.instruments:
            return IntakeResult(symbol, None, "rejected", ("not a traded symbol",))
        if not isinstance(bar, pd.DataFrame) or len(bar) != 1:
            return IntakeResult(symbol, None, "rejected", ("not a one-row bar frame",))
        if bar.columns.has_duplicates:
            return IntakeResult(symbol, None, "rejected", ("a column appears twice",))
        missing = [f for f in _PRICES if f not in bar.columns]
        if missing:
            return IntakeResult(symbol, None, "rejected", (f"missing {', '.join(missing)}",))
        stamp = bar.index[0]
        if not isinstance(stamp, pd.Timestamp) or stamp.tzinfo is None:
            return IntakeResult(symbol, None, "rejected", ("bar time is not a UTC timestamp",))
        stamp = stamp.tz_convert("UTC")
        values, notes, refusals = _parse_row(bar)
        if refusals or not np.isfinite(values[:4]).all():
            why = refusals or ["a price is missing, NaN or infinite"]
            return IntakeResult(symbol, stamp, "rejected", tuple(why))
        implausible = _out_of_range(values)
        if implausible:
            return IntakeResult(symbol, stamp, "rejected", (implausible,))
        if now is not None and stamp > now:
            return IntakeResult(symbol, stamp, "rejected", ("stamped in the future",))
        history = self.bars.get(symbol)
        if history is not None and len(history) and stamp <= history.index[-1]:
            if stamp == history.index[-1]:
                return IntakeResult(symbol, stamp, "rejected", ("a bar already received",))
            return IntakeResult(symbol, stamp, "rejected", ("older than the last bar",))
        instrument = self.instruments[symbol]
        off_grid = _off_grid(instrument, self.interval, stamp)
        if off_grid:
            return IntakeResult(symbol, stamp, "rejected", (off_grid,))
        clean_row = pd.DataFrame([values], index=pd.DatetimeIndex([stamp]), columns=list(_FIELDS))
        context = history.tail(self.check_window) if history is not None else None
        raw = clean_row if context is None else pd.concat([context, clean_row])
        checked, report = validate_bars(raw, instrument, self.interval, self.rules)
        reasons = tuple(notes) + tuple(
            f"{issue.kind} ({issue.action}): {issue.detail}"
            for issue in report.issues
            # Flags and a verdict on the whole (short) series say nothing about this bar.
            if issue.action in (Action.REPAIRED, Action.DROPPED)
        )
        # The window's bars passed the validator when they came; one it drops now is on a spike
        # this bar reverts (the other drops look at one row alone).
        removed = () if context is None else tuple(context.index.difference(checked.index))
        if history is not None and removed:
            history = history.drop(index=list(removed))
            self.bars[symbol] = history
            stamps = ", ".join(t.isoformat() for t in removed)
            reasons = (*reasons, f"removed from the window (a price spike this bar ends): {stamps}")
        if stamp not in checked.index:
            dropped = reasons or ("dropped by the validator",)
            return IntakeResult(symbol, stamp, "rejected", dropped, removed)
        out = checked.reindex(index=[stamp], columns=list(_FIELDS)).to_numpy(np.float64)[0]
        if not np.isfinite(out[:4]).all():
            return IntakeResult(symbol, stamp, "rejected", ("not finite after repair",), removed)
        if not math.isfinite(out[4]):
            out[4] = 0.0
            reasons = (*reasons, "volume missing: set to 0")
        kept = pd.DataFrame([out], index=pd.DatetimeIndex([stamp]), columns=list(_FIELDS))
        window = kept if history is None else pd.concat([history, kept])
        self.bars[symbol] = window.tail(self.window)
        changed = not np.allclose(kept.to_numpy(), clean_row.to_numpy(), equal_nan=True)
        if changed and not reasons:
            reasons = ("values adjusted by the validator",)
        outcome = "repaired" if reasons else "accepted"
        return IntakeResult(symbol, stamp, outcome, reasons, removed)


__all__ = ["BarIntake", "IntakeResult"]
