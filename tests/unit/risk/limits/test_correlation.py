"""Correlation limit: names with 60-bar correlation > 0.7 hold at most 15 % combined."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaforge.core.types import AssetClass, Instrument
from alphaforge.portfolio.book import Book, IntentBatch, Universe, cap_position
from alphaforge.risk.limits.correlation import CorrelationLimit

T = pd.Timestamp("2024-01-02 14:30", tz="UTC")
UNIVERSE = Universe.of([Instrument(s, AssetClass.STOCK) for s in ("X", "Y", "Z", "W")])
# Two orthogonal, zero-mean patterns of equal size over 60 bars.
_t = np.arange(60) * 2 * np.pi / 60
F1, F2 = 0.01 * np.sin(_t), 0.01 * np.cos(_t)
# corr(X, Y) = corr(Y, Z) = 1 / sqrt(2) = 0.707 > 0.7; corr(X, Z) = 0; W = -X (corr -1).
RETURNS = np.column_stack([F1, F1 + F2, F2, -F1])


def _book(units: list[float], returns: np.ndarray | None = RETURNS) -> Book:
    return Book(UNIVERSE, T, 100_000.0, np.array(units), np.full(4, 100.0), returns=returns)


def _approved(book: Book, batch: IntentBatch) -> np.ndarray:
    check = CorrelationLimit().check(batch, book)
    return cap_position(batch.held(book), batch.quantity, check.max_abs)


def test_the_hand_correlations_are_as_described() -> None:
    corr = np.corrcoef(RETURNS, rowvar=False)
    assert corr[0, 1] == pytest.approx(2**-0.5) and corr[1, 2] == pytest.approx(2**-0.5)
    assert abs(corr[0, 2]) < 1e-12 and corr[0, 3] == pytest.approx(-1.0)


def test_linked_names_form_one_group_even_through_a_chain() -> None:
    # X 10 % held; Y (traded) links X and Z into one group (single linkage) although X and Z
    # are uncorrelated: Y takes 2 % of the 5 % left, Z the 3 % after it.
    book = _book([100.0, 0.0, 0.0, 0.0])
    batch = IntentBatch.of([1, 2], [20.0, 100.0])
    check = CorrelationLimit().check(batch, book)
    np.testing.assert_allclose(check.max_abs, [50.0, 30.0])
    np.testing.assert_allclose(check.observed, [0.12, 0.22])
    np.testing.assert_allclose(_approved(book, batch), [20.0, 30.0])
    assert check.rule == "names with 60-bar correlation > 0.7 <= 15 % of equity combined"


def test_only_names_held_or_traded_are_grouped() -> None:
    # X held, Z traded, Y neither: X and Z (correlation 0) are no group.
    book = _book([100.0, 0.0, 0.0, 0.0])
    assert CorrelationLimit().check(IntentBatch.of([2], [500.0]), book).max_abs[0] == np.inf
    assert CorrelationLimit().groups(book, np.array([0, 2])).tolist() == [-1] * 4
    assert CorrelationLimit().groups(book, np.array([0, 1, 2])).tolist()[:3] == [0, 0, 0]


def test_negative_correlation_does_not_link() -> None:
    book = _book([100.0, 0.0, 0.0, 0.0])
    assert CorrelationLimit().check(IntentBatch.of([3], [500.0]), book).max_abs[0] == np.inf


def test_without_enough_returns_the_limit_does_nothing() -> None:
    batch = IntentBatch.of([1], [500.0])
    for returns in (None, RETURNS[-59:]):
        book = _book([100.0, 0.0, 0.0, 0.0], returns)
        assert CorrelationLimit().check(batch, book).max_abs[0] == np.inf
        assert CorrelationLimit().usage(book) == 0.0


def test_a_group_that_drifted_past_the_bound_takes_no_opening_order() -> None:
    # X 10 % and Y 8 % held: 18 % in one group.
    book = _book([100.0, 80.0, 0.0, 0.0])
    batch = IntentBatch.of([0, 1], [1.0, -1.0])
    np.testing.assert_allclose(_approved(book, batch), [0.0, -1.0])
    assert CorrelationLimit().usage(book) == pytest.approx(0.18 / 0.15)
