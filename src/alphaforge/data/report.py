"""The validation report: issues, what was done about them, and the health they cost.

:class:`ValidationReport` is what :func:`alphaforge.data.validation.validate_bars` returns beside
the repaired frame, what the store keeps in its manifest and what the health gate
(:mod:`alphaforge.data.health`) reads. The rules that produce the issues, and the table of
:data:`HEALTH_PENALTIES`, are in the :mod:`alphaforge.data.validation` docstring.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Final

import pandas as pd

from alphaforge.core.errors import DataError
from alphaforge.core.types import Interval

__all__ = [
    "EXAMPLES",
    "HEALTH_PENALTIES",
    "SEVERE_PENALTY",
    "Action",
    "Findings",
    "Issue",
    "ValidationReport",
    "share_of",
    "stamp_examples",
]

# Issues are logged under the validator's name: that is the logger users configure.
logger = logging.getLogger("alphaforge.data.validation")

#: Timestamps quoted in an issue's detail.
EXAMPLES: Final = 3

#: Health lost, once, when any severe issue (known-bad values kept in the frame) is found.
SEVERE_PENALTY: Final = 0.5

#: Health-score weight of each issue kind (see the module docstring for the affected fraction).
HEALTH_PENALTIES: Mapping[str, float] = MappingProxyType(
    {
        "naive_timezone": 0.05,
        "daily_stamp_timezone": 0.0,
        "unsorted": 0.0,
        "invalid_timestamp": 1.0,
        "duplicate_timestamp": 0.5,
        "non_finite": 1.0,
        "non_positive_price": 1.0,
        "non_positive_low": 1.0,
        "non_finite_volume": 0.25,
        "negative_volume": 0.25,
        "high_low_swapped": 0.5,
        "price_outside_range": 1.0,
        "range_rounding": 0.0,
        "price_spike": 1.0,
        "missing_column": 0.1,
        "calendar_gap": 1.0,
        "gap_fraction_exceeded": 0.25,
        "off_calendar": 0.5,
        "off_session_time": 0.5,
        "zero_volume": 0.5,
        "split_like_jump": 1.0,
        "stale_run": 1.0,
    }
)


class Action(StrEnum):
    """What the validator did about an issue."""

    REPAIRED = "repaired"
    DROPPED = "dropped"
    FLAGGED = "flagged"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Issue:
    """One kind of problem found in a series.

    Parameters
    ----------
    kind
        What is wrong (``duplicate_timestamp``, ``calendar_gap``, ...; see the module docstring).
    action
        What was done about it.
    count
        How many rows (or bars, or jumps) it concerns. Only a rejection can count 0 (an
        empty series); for a rejection it is the number of rows in the rejected frame.
    detail
        One human-readable line, with examples and what to do.
    severe
        True when values known to be wrong are still in the frame (an unadjusted split, a kept
        spike, bars off the calendar, a stale run on a liquid series): the series then scores
        below the default health gate however few rows they are.
    """

    kind: str
    action: Action
    count: int
    detail: str
    severe: bool = False

    def to_dict(self) -> dict[str, object]:
        """Return the issue as a JSON-able dict."""
        return {
            "kind": self.kind,
            "action": str(self.action),
            "count": self.count,
            "detail": self.detail,
            "severe": self.severe,
        }


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """What the validator found in, and did to, one series.

    Parameters
    ----------
    symbol
        The instrument's symbol.
    interval
        The bar interval (``1d``, ``1h``, ...).
    rows_in
        Rows in the raw frame.
    rows_out
        Rows in the returned frame; ``rows_in - rows_out`` is the sum of the ``DROPPED`` counts.
    issues
        Every issue found, in the order the checks ran.
    rejected
        True when the series is unusable (too few rows left, or most rows dropped).
    health_score
        0..1; 1 is clean, 0 is rejected. See the module docstring for the penalties.
    """

    symbol: str
    interval: str
    rows_in: int
    rows_out: int
    issues: tuple[Issue, ...]
    rejected: bool
    health_score: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.health_score <= 1.0:
            raise ValueError(f"health_score must be in [0, 1], got {self.health_score}")

    def to_dict(self) -> dict[str, object]:
        """Return the report as a JSON-able dict (for the store manifest and run reports)."""
        return {
            "symbol": self.symbol,
            "interval": self.interval,
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "issues": [issue.to_dict() for issue in self.issues],
            "rejected": self.rejected,
            "health_score": self.health_score,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> ValidationReport:
        """Rebuild a report written by :meth:`to_dict`.

        Raises
        ------
        DataError
            If ``d`` is not a report.
        """
        try:
            raw_issues = d["issues"]
            if not isinstance(raw_issues, list | tuple):
                raise TypeError("issues is not a list")
            issues = tuple(
                Issue(
                    kind=str(item["kind"]),
                    action=Action(str(item["action"])),
                    count=_as_int(item["count"]),
                    detail=str(item["detail"]),
                    severe=_as_bool(item.get("severe", False)),
                )
                for item in raw_issues
            )
            rejected = d["rejected"]
            if not isinstance(rejected, bool):
                raise TypeError("rejected is not a bool")
            score = d["health_score"]
            if not isinstance(score, int | float) or isinstance(score, bool):
                raise TypeError("health_score is not a number")
            return cls(
                symbol=str(d["symbol"]),
                interval=str(d["interval"]),
                rows_in=_as_int(d["rows_in"]),
                rows_out=_as_int(d["rows_out"]),
                issues=issues,
                rejected=rejected,
                health_score=float(score),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(
                f"Malformed validation report ({exc}).",
                hint="Re-run validation for this series (re-download or re-import it).",
            ) from None

    def reasons(self) -> list[str]:
        """Return one human-readable line per issue (empty for a clean series)."""
        return [f"{i.kind} ({i.action}, {i.count}): {i.detail}" for i in self.issues]


def _as_bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{value!r} is not a bool")
    return value


def _as_int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise TypeError(f"{value!r} is not an integer")
    return int(value)


@dataclass(slots=True)
class Findings:
    """Collects the validator's issues and their health penalties, logging each one."""

    symbol: str
    interval: Interval
    issues: list[Issue] = field(default_factory=list)
    penalty: float = 0.0

    def add(
        self,
        kind: str,
        action: Action,
        count: int,
        detail: str,
        fraction: float,
        *,
        severe: bool = False,
    ) -> None:
        """Record an issue; ``fraction`` (>= 0) times the kind's weight is its health penalty.

        An issue with a zero count is not recorded, except a rejection (of an empty series).
        """
        if count <= 0 and action is not Action.REJECTED:
            return
        issue = Issue(kind=kind, action=action, count=int(count), detail=detail, severe=severe)
        self.issues.append(issue)
        self.penalty += HEALTH_PENALTIES.get(kind, 0.0) * min(1.0, max(0.0, fraction))
        level = logging.INFO if action is Action.REPAIRED else logging.WARNING
        logger.log(
            level,
            "%s %s: %s %s %d: %s",
            self.symbol,
            self.interval.value,
            kind,
            action.value,
            issue.count,
            detail,
        )


def share_of(count: int, total: int) -> float:
    return count / total if total > 0 else 0.0


def stamp_examples(stamps: pd.DatetimeIndex, interval: Interval) -> str:
    fmt = "%Y-%m-%d %H:%M" if interval.is_intraday else "%Y-%m-%d"
    shown = ", ".join(ts.strftime(fmt) for ts in stamps[:EXAMPLES])
    more = len(stamps) - EXAMPLES
    return f"{shown} and {more} more" if more > 0 else shown
