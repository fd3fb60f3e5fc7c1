"""The data-health gate: refuse training data whose validation health is too low.

A series with a *severe* issue (values known to be wrong still in it: an unadjusted split, a
kept spike, bars off the calendar, a stale run on a liquid series) scores at most 0.5 (see
:mod:`alphaforge.data.validation`), so it fails the default gate of 0.8; the failure names
those issues first, since lowering the threshold would let known-bad prices through.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from alphaforge.core.errors import DataHealthError
from alphaforge.data.validation import ValidationReport

logger = logging.getLogger(__name__)


def health_gate(
    reports: Mapping[str, ValidationReport], min_score: float, *, allow_unhealthy: bool
) -> list[str]:
    """Refuse series whose health is below ``min_score``, unless explicitly overridden.

    Parameters
    ----------
    reports
        Validation report per symbol.
    min_score
        Lowest acceptable health score, 0..1.
    allow_unhealthy
        The user's explicit override: unhealthy (but not rejected) series pass with a warning.

    Returns
    -------
    list of str
        One warning per unhealthy series let through by the override (empty when all pass).

    Raises
    ------
    DataHealthError
        Listing every failing symbol with its score and reasons, when any series scores below
        ``min_score`` and ``allow_unhealthy`` is False, or when any series was rejected: a
        rejected series always fails, even with the override.
    """
    if not 0.0 <= min_score <= 1.0:
        raise ValueError(f"min_score must be in [0, 1], got {min_score}")
    failing = {
        symbol: report
        for symbol, report in reports.items()
        if report.rejected or report.health_score < min_score
    }
    if not failing:
        return []
    lines = [_describe_failure(symbol, report, min_score) for symbol, report in failing.items()]
    rejected = sorted(symbol for symbol, report in failing.items() if report.rejected)
    severe = sorted(symbol for symbol, report in failing.items() if known_bad(report))
    if rejected or not allow_unhealthy:
        if rejected:
            hint = (
                f"Rejected series cannot be overridden ({', '.join(rejected)}): re-download "
                "them or remove them from the universe."
            )
        elif severe:
            hint = (
                f"Known-bad values are still in {', '.join(severe)}: fix them at the source "
                "(adjust splits, re-download), or override explicitly with "
                "data.allow_unhealthy (the override is recorded)."
            )
        else:
            hint = (
                "Fix or re-download the data, lower data.min_health_score, or override "
                "explicitly with data.allow_unhealthy (the override is recorded)."
            )
        raise DataHealthError(
            f"Data health gate failed for {len(failing)} series (minimum score "
            f"{min_score:.2f}): " + " | ".join(lines),
            hint=hint,
        )
    warnings = [f"{line} (allowed by override)" for line in lines]
    for warning in warnings:
        logger.warning("health gate overridden: %s", warning)
    return warnings


def known_bad(report: ValidationReport) -> list[str]:
    """Return the kinds of the severe issues of ``report``: known-bad values kept in the series."""
    return [issue.kind for issue in report.issues if issue.severe]


def _describe_failure(symbol: str, report: ValidationReport, min_score: float) -> str:
    status = "rejected" if report.rejected else f"below {min_score:.2f}"
    reasons = "; ".join(report.reasons()) or "no issues recorded"
    severe = known_bad(report)
    bad = f" known-bad values kept ({', '.join(severe)})" if severe else ""
    return f"{symbol}: health {report.health_score:.2f} {status}{bad} [{reasons}]"
