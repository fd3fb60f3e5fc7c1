"""``benchmarks/risk.py`` runs end to end on a tiny book and prints every row.

The full size (500 intents; 100 and 500 assets) is ``make bench``'s; here the point is that
the script still runs against the current risk layer, times every registered limit, and
builds the book its docstring describes.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest
from tests.unit.benchmarks.scripts import load_benchmark

from alphaforge.portfolio.book import opens


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_benchmark("risk")


def test_tiny_run_prints_a_row_per_limit_and_per_size(
    bench: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    from alphaforge.risk.pieces import LIMITS

    code = bench.main(["--intents", "20", "--assets", "20,30", "--repeats", "1"])
    out = capsys.readouterr().out
    assert "review_batch, 20 intents" in out
    assert f"all {len(LIMITS)} limits" in out
    for name in LIMITS.names():
        assert f"{name}.check alone" in out
    for n in (20, 30):
        assert f"equal_risk_contribution, {n} assets" in out
        assert f"Ledoit-Wolf covariance of 252 x {n} returns" in out
    assert out.count("largest relative spread of risk contributions") == 2
    assert code == 0 and "FAIL" not in out


def test_rows_carry_measurements(bench: ModuleType) -> None:
    rows = bench.run(intents=20, assets=[20], repeats=1)
    review = rows[0]
    assert (review.status, review.target) == ("", "")
    cpu_ms = float(review.measured.split(" ")[0])
    assert cpu_ms > 0
    spread = next(r for r in rows if "largest relative spread" in r.metric)
    # The solver's own tests hold it to 1e-8; here only that the row reports the solve.
    assert float(spread.measured) < 1e-6
    assert all(r.status == "" for r in rows)


def test_book_has_every_class_and_one_whole_lot_intent_per_name(bench: ModuleType) -> None:
    book, batch = bench.make_book(40)
    universe = book.universe
    classes = set(universe.asset_class.tolist())
    assert classes == {"stock", "etf", "crypto", "forex"}
    assert {"BTC-USD", "ETH-USD"} <= set(universe.symbols)
    assert universe.altcoins().any()
    stocks = universe.asset_class == "stock"
    assert (universe.sector[stocks] != "").all()
    assert book.returns is not None and book.returns.shape == (bench.BOOK_ROWS, 40)
    assert {"atr_14", "vol_yang_zhang_20", "dollar_volume_log_20", "beta_60"} <= set(book.features)
    assert sorted(batch.index.tolist()) == list(range(40))
    assert (batch.quantity != 0).all()
    lots = batch.quantity / universe.lot_size[batch.index]
    np.testing.assert_allclose(lots, np.round(lots), atol=1e-6)
    opening = opens(batch.held(book), batch.quantity)
    assert np.isfinite(batch.stop[opening]).all()
    assert np.isnan(batch.stop[~opening]).all()
    assert book.stops is not None
    assert np.isfinite(book.stops[book.units != 0]).all()
    # The book held is what the limits approved from flat: within every one of them.
    for limit in bench.limits():
        assert limit.usage(book) <= 1.0 + 1e-9, limit.piece_name
    again, again_batch = bench.make_book(40)
    np.testing.assert_array_equal(again.units, book.units)
    np.testing.assert_array_equal(again_batch.quantity, batch.quantity)
