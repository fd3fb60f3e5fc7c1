"""The data-health gate names known-bad values first and tells how to fix them."""

from __future__ import annotations

import pytest

from alphaforge.core import DataHealthError
from alphaforge.data.health import health_gate, known_bad
from alphaforge.data.validation import Action, Issue, ValidationReport

SPLIT = Issue(
    "split_like_jump",
    Action.FLAGGED,
    1,
    "2020-08-31 x0.250 (~1/4); adjust for splits at the source",
    severe=True,
)
GAP = Issue("calendar_gap", Action.FLAGGED, 30, "30 bars missing")


def _report(symbol: str, score: float, *issues: Issue) -> ValidationReport:
    return ValidationReport(symbol, "1d", 500, 500, issues, False, score)


def test_known_bad_lists_the_severe_issues_only() -> None:
    assert known_bad(_report("A", 0.49, SPLIT, GAP)) == ["split_like_jump"]
    assert known_bad(_report("B", 0.9, GAP)) == []


def test_a_series_with_known_bad_values_is_named_with_them_and_a_fix() -> None:
    reports = {"A": _report("A", 0.49, SPLIT), "B": _report("B", 0.7, GAP)}
    with pytest.raises(DataHealthError) as caught:
        health_gate(reports, 0.8, allow_unhealthy=False)
    message = caught.value.message
    assert "A: health 0.49 below 0.80 known-bad values kept (split_like_jump)" in message
    assert "B: health 0.70 below 0.80 [" in message
    hint = caught.value.hint or ""
    assert hint.startswith("Known-bad values are still in A: fix them at the source")
    assert "allow_unhealthy" in hint


def test_the_override_still_lets_known_bad_series_through_with_a_warning() -> None:
    warnings = health_gate({"A": _report("A", 0.49, SPLIT)}, 0.8, allow_unhealthy=True)
    assert len(warnings) == 1
    assert "known-bad values kept (split_like_jump)" in warnings[0]
    assert warnings[0].endswith("(allowed by override)")
