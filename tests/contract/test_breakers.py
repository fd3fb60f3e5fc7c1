"""The breaker contract, run over every member of ``BREAKERS`` (defaults, and a few other
calendars and reset rules) on random event sequences.

- ``observe`` returns a new state and leaves its input unchanged;
- the state round-trips through ``json.dumps`` / ``json.loads`` (finite numbers only);
- a tripped breaker blocks every opening order (the manager zeroes its opening part) and lets
  every reducing order through unchanged; a clear one changes nothing;
- it stays tripped until its reset: up to ``until`` and clear just after it (a time reset),
  at any later time without events (``manual``, or a drawdown tier that ends with recovery),
  and a manual reset with a reason clears it at once and keeps the reason.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import alphaforge.risk.breakers  # noqa: F401 - registers the breakers
from alphaforge.core.types import AssetClass, Instrument
from alphaforge.portfolio.book import Book, IntentBatch, Universe, opens, scale_opening
from alphaforge.risk.base import BasicRiskManager
from alphaforge.risk.manager import RiskManager
from alphaforge.risk.pieces import BREAKERS, Breaker, RiskEvent, State

UNIVERSE = Universe.of([Instrument(s, AssetClass.STOCK) for s in ("AAA", "BBB", "CCC")])
START = pd.Timestamp("2024-01-01 00:00", tz="UTC")
NS = pd.Timedelta(1, "ns")
LATER = pd.Timedelta(days=3650)

CONFIGS: list[tuple[str, dict[str, Any]]] = [(name, {}) for name in BREAKERS.names()] + [
    ("daily_loss", {"calendar": "24/7"}),
    ("daily_loss", {"calendar": "24/5", "reset": "next_week"}),
    ("consecutive_losses", {"max_losses": 2, "reset": "next_trading_day", "calendar": "24/7"}),
    ("trades_per_day", {"max_trades": 3, "calendar": "XLON"}),
    ("weekly_loss", {"max_loss": 0.02, "reset": "manual"}),
    ("drawdown", {"warn": 0.03, "reduce": 0.05, "flatten": 0.08, "pause_days": 2}),
]


@st.composite
def events(draw: st.DrawFn) -> list[RiskEvent]:
    """Return events in time order: marks on a random walk, fills, trades and resets."""
    out = []
    time = START + pd.Timedelta(minutes=draw(st.integers(0, 7 * 1440)))
    equity = 100_000.0
    for _ in range(draw(st.integers(1, 40))):
        time += pd.Timedelta(minutes=draw(st.sampled_from([1, 30, 400, 1440, 4000, 20_000])))
        kind = draw(st.sampled_from(["mark", "mark", "fill", "fills", "trade", "losses", "reset"]))
        if kind in ("fills", "losses"):  # bursts, so that counting breakers trip too
            for _ in range(draw(st.integers(1, 12))):
                time += pd.Timedelta(minutes=1)
                if kind == "fills":
                    out.append(RiskEvent("fill", time, opening=True, symbol="AAA"))
                else:
                    out.append(RiskEvent("trade", time, pnl=-draw(st.floats(0.01, 100))))
        elif kind == "mark":
            equity *= draw(st.one_of(st.floats(0.75, 1.1), st.sampled_from([0.97, 0.95, 0.85])))
            out.append(RiskEvent("mark", time, equity=equity))
        elif kind == "fill":
            out.append(RiskEvent("fill", time, opening=draw(st.booleans()), symbol="AAA"))
        elif kind == "trade":
            out.append(RiskEvent("trade", time, pnl=draw(st.floats(-100, 50)), symbol="AAA"))
        else:
            out.append(RiskEvent("reset", time, reason="contract check"))
    return out


@st.composite
def orders(draw: st.DrawFn) -> tuple[np.ndarray, IntentBatch]:
    """Return holdings over the universe and a batch of at most one order per symbol."""
    held = np.array(draw(st.lists(st.integers(-50, 50), min_size=3, max_size=3)), np.float64)
    index = draw(st.lists(st.integers(0, 2), min_size=1, max_size=3, unique=True))
    quantity = draw(st.lists(st.integers(-120, 120), min_size=len(index), max_size=len(index)))
    return held, IntentBatch.of(index, [float(q) for q in quantity])


def _review(
    breaker: Breaker, state: State, time: pd.Timestamp, held: np.ndarray, batch: IntentBatch
) -> np.ndarray:
    manager = RiskManager(
        BasicRiskManager({}, 1.0),
        breakers=[breaker],
        state={"breakers": {breaker.piece_name: state}},
    )
    book = Book(UNIVERSE, time, 100_000.0, held, np.array([10.0, 20.0, 30.0]))
    return manager.review_batch(batch, book).batch.quantity


def _check_tripped(breaker: Breaker, state: State, time: pd.Timestamp) -> None:
    status = breaker.status(state, time)
    assert status.tripped and status.blocks_opening
    if status.until == "manual":
        assert breaker.status(state, time + LATER).tripped
    elif status.until is None:
        assert breaker.status(state, time + LATER).tripped  # ends with recovery or by hand
    else:
        until = pd.Timestamp(status.until)
        assert until >= time
        middle = time + (until - time) / 2
        for before in (middle, until - NS):
            if before >= time:
                assert breaker.status(state, before).tripped, before
        assert not breaker.status(state, until + NS).tripped
    reset = breaker.observe(state, RiskEvent("reset", time, reason="by hand"))
    assert not breaker.status(reset, time).tripped
    assert reset["last_reset"] == {"time": time.isoformat(), "reason": "by hand"}


@pytest.mark.parametrize(("name", "params"), CONFIGS, ids=lambda v: str(v))
def test_breaker_contract(name: str, params: dict[str, Any]) -> None:
    breaker = BREAKERS.get(name).model_validate(params)

    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        sequence=events(),
        asks=st.lists(orders(), min_size=1, max_size=2),
        offset=st.floats(0.0, 1.0),
    )
    def run(
        sequence: list[RiskEvent], asks: list[tuple[np.ndarray, IntentBatch]], offset: float
    ) -> None:
        state = breaker.initial_state()
        for k, event in enumerate(sequence):
            before = copy.deepcopy(state)
            new = breaker.observe(state, event)
            assert state == before, "observe changed its input"
            assert new is not state
            state = new
            assert json.loads(json.dumps(state, allow_nan=False)) == state
            following = sequence[k + 1].time if k + 1 < len(sequence) else event.time
            time = event.time + (following - event.time) * offset
            status = breaker.status(state, time)
            for held, batch in asks:
                q = batch.quantity
                approved = _review(breaker, state, time, held, batch)
                reducing = ~opens(held[batch.index], q)
                assert np.array_equal(approved[reducing], q[reducing])
                if status.tripped and status.blocks_opening:
                    expected = scale_opening(held[batch.index], q, np.zeros(len(q)))
                    assert np.array_equal(approved, expected)
                elif not status.tripped:
                    assert np.array_equal(approved, q)
            if status.tripped:
                _check_tripped(breaker, state, time)

    run()
