"""The limit contract, run over every member of ``LIMITS`` at its defaults on random books.

After :func:`cap_position` applies a limit's answer to a batch (as the manager does):

* no order has a larger ``|quantity|`` than asked, nor the other sign; reducing orders pass;
* walking the approved orders in the batch's order, no opening order leaves the book
  breaching the limit at the checked prices: every group the limit bounds ends at most at
  ``max(bound, its level once the order's closing part is done)`` (a group that drifted past
  its bound may not grow; a closing part always passes);
* ``usage(book)`` is the book's worst level / bound.

Each limit's rule is computed here independently (an *oracle* per limit, from the book's
arrays alone), not with the limit's own code.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import alphaforge.risk.limits  # noqa: F401  (registers the limits)
from alphaforge.core.types import AssetClass, Instrument
from alphaforge.portfolio.book import Book, IntentBatch, Universe, cap_position, opens
from alphaforge.risk.base import BasicRiskManager
from alphaforge.risk.manager import RiskManager
from alphaforge.risk.pieces import LIMITS, Limit
from alphaforge.risk.var import historical_var_es

T = pd.Timestamp("2024-03-04 15:00", tz="UTC")
S, E, C, F = AssetClass.STOCK, AssetClass.ETF, AssetClass.CRYPTO, AssetClass.FOREX
INSTRUMENTS = [
    Instrument("AAA", S, sector="Technology"),
    Instrument("BBB", S, sector="Technology"),
    Instrument("GGG", S, sector="Technology"),
    Instrument("CCC", S, sector="Health Care"),
    Instrument("DDD", S, sector="Health Care"),
    Instrument("EEE", S, sector="Energy"),
    Instrument("FFF", S),
    Instrument("SPY", E),
    Instrument("ES1", AssetClass.FUTURE),
    Instrument("BTC-USD", C, lot_size=1e-8),
    Instrument("ETH-USD", C, lot_size=1e-8),
    Instrument("SOL-USD", C, lot_size=1e-8),
    Instrument("DOGE-USD", C, lot_size=1e-8),
    Instrument("EURUSD", F, lot_size=1000),
    Instrument("GBPUSD", F, lot_size=1000),
    Instrument("EURGBP", F, currency="GBP", lot_size=1000),
    Instrument("USDJPY", F, currency="JPY", lot_size=1000),
    Instrument("AUDUSD", F, lot_size=1000),
    Instrument("USDCHF", F, currency="CHF", lot_size=1000),
]
UNIVERSE = Universe.of(INSTRUMENTS)
N = len(INSTRUMENTS)
PRICE_RANGE = {S: (5.0, 500.0), E: (300.0, 500.0), C: (0.1, 70_000.0), F: (0.6, 160.0)}
TOL = 1e-9

# -- the oracles -------------------------------------------------------------------------
# Each maps a book state to {group: (level, bound)}; units are fractions of equity or counts.


@dataclass(frozen=True)
class State:
    """Units held and, for the heat oracle, the risk to stops each position carries."""

    units: np.ndarray
    risk: np.ndarray


Oracle = Callable[[Book, State], "Levels"]


def _value(book: Book, state: State) -> np.ndarray:
    priced = np.isfinite(book.prices) & (book.prices > 0)
    return np.where(priced, state.units * np.nan_to_num(book.prices), 0.0) / book.equity


def _sum_by(labels: list[str], amounts: np.ndarray) -> dict[str, float]:
    out: dict[str, float] = {}
    for label, amount in zip(labels, amounts.tolist(), strict=True):
        out[label] = out.get(label, 0.0) + amount
    return out


Levels = dict[object, tuple[float, float]]


def position_oracle(limit: Any, book: Book, state: State) -> Levels:
    return {k: (abs(v), limit.max_weight) for k, v in enumerate(_value(book, state).tolist())}


def sector_oracle(limit: Any, book: Book, state: State) -> Levels:
    sectors = [i.sector or "" for i in INSTRUMENTS]
    sums = _sum_by(sectors, np.abs(_value(book, state)))
    return {s: (v, limit.max_weight) for s, v in sums.items() if s}


def _classes() -> list[str]:
    return ["stock" if i.asset_class is E else i.asset_class.value for i in INSTRUMENTS]


def asset_class_oracle(limit: Any, book: Book, state: State) -> Levels:
    gross = np.abs(_value(book, state))
    sums = _sum_by(_classes(), gross)
    out: Levels = {c: (v, limit.caps[c]) for c, v in sums.items() if c in limit.caps}
    alt = [i.asset_class is C and i.symbol.split("-")[0] not in ("BTC", "ETH") for i in INSTRUMENTS]
    out["altcoins"] = (
        float(gross[np.array(alt)].sum()),
        limit.altcoin_share * limit.caps["crypto"],
    )
    return out


def leverage_oracle(limit: Any, book: Book, state: State) -> Levels:
    sums = _sum_by(_classes(), np.abs(_value(book, state)))
    return {c: (v, limit.multiples[c]) for c, v in sums.items() if c in limit.multiples}


def gross_oracle(limit: Any, book: Book, state: State) -> Levels:
    return {"gross": (float(np.abs(_value(book, state)).sum()), limit.max_gross)}


def net_oracle(limit: Any, book: Book, state: State) -> Levels:
    return {"net": (abs(float(_value(book, state).sum())), limit.max_net)}


def currency_oracle(limit: Any, book: Book, state: State) -> Levels:
    exposure: dict[str, float] = {}
    for inst, v in zip(INSTRUMENTS, _value(book, state).tolist(), strict=True):
        if inst.asset_class is F:
            base, quote = inst.symbol[:3], inst.symbol[3:6]
            exposure[base] = exposure.get(base, 0.0) + v
            exposure[quote] = exposure.get(quote, 0.0) - v
    return {c: (abs(v), limit.max_weight) for c, v in exposure.items()}


def open_positions_oracle(limit: Any, book: Book, state: State) -> Levels:
    held = [i.asset_class.value for i, u in zip(INSTRUMENTS, state.units, strict=True) if u]
    out: Levels = {c: (float(held.count(c)), float(n)) for c, n in limit.per_class.items()}
    if limit.total is not None:
        out["all"] = (float(len(held)), float(limit.total))
    return out


def heat_oracle(limit: Any, book: Book, state: State) -> Levels:
    return {"heat": (float(state.risk.sum()) / book.equity, limit.max_heat)}


def correlation_groups(limit: Any, book: Book, names: list[int]) -> list[list[int]]:
    """Connected sets of names whose last returns correlate above the threshold."""
    if book.returns is None or len(book.returns) < limit.window:
        return []
    frame = pd.DataFrame(book.returns[-limit.window :]).iloc[:, names]
    frame.columns = names
    usable = [k for k in names if frame[k].notna().all() and frame[k].std() > 0]
    corr = frame[usable].corr()
    parent = {k: k for k in usable}

    def root(k: int) -> int:
        while parent[k] != k:
            k = parent[k]
        return k

    for a in usable:
        for b in usable:
            if a < b and corr.loc[a, b] > limit.threshold:
                parent[root(a)] = root(b)
    groups: dict[int, list[int]] = {}
    for k in usable:
        groups.setdefault(root(k), []).append(k)
    return [g for g in groups.values() if len(g) >= 2]


def var_oracle(limit: Any, book: Book, state: State) -> Levels:
    if book.returns is None or len(book.returns) < limit.min_rows:
        return {}
    history = np.nan_to_num(book.returns[-limit.window :], nan=0.0)
    var = historical_var_es(history @ _value(book, state), limit.confidence).var
    return {"var": (var, limit.max_var)}


SIMPLE: dict[str, Callable[[Any, Book, State], Levels]] = {
    "position": position_oracle,
    "sector": sector_oracle,
    "asset_class": asset_class_oracle,
    "leverage": leverage_oracle,
    "gross": gross_oracle,
    "net": net_oracle,
    "currency": currency_oracle,
    "open_positions": open_positions_oracle,
    "heat": heat_oracle,
    "var": var_oracle,
}
ORACLE_NAMES = {*SIMPLE, "correlation"}


def oracle_for(limit: Limit, book: Book, names: list[int]) -> Oracle:
    """Return the limit's rule as a function of the book's state (names: those grouped)."""
    if limit.piece_name == "correlation":
        groups = correlation_groups(limit, book, names)

        def correlated(book: Book, state: State) -> Levels:
            gross = np.abs(_value(book, state))
            return {tuple(g): (float(gross[g].sum()), limit.max_weight) for g in groups}  # type: ignore[attr-defined]

        return correlated
    rule = SIMPLE[limit.piece_name]
    return lambda book, state: rule(limit, book, state)


#: Tighter parameters, so that every limit binds often on the random books.
TIGHT: dict[str, dict[str, Any]] = {
    "position": {"max_weight": 0.03},
    "sector": {"max_weight": 0.1},
    "asset_class": {"caps": {"stock": 0.2, "crypto": 0.1, "forex": 0.05}, "altcoin_share": 0.5},
    "leverage": {"multiples": {"stock": 0.2, "crypto": 0.1, "forex": 0.3, "future": 0.05}},
    "gross": {"max_gross": 0.3},
    "net": {"max_net": 0.05},
    "currency": {"max_weight": 0.02},
    "open_positions": {"per_class": {"forex": 1, "stock": 2, "crypto": 0}, "total": 4},
    "heat": {"max_heat": 0.02, "unstopped": "ignore"},
    "correlation": {"max_weight": 0.05, "threshold": 0.5, "window": 40},
    "var": {"max_var": 0.02, "confidence": 0.9, "window": 60, "min_rows": 5},
}


# -- random books ------------------------------------------------------------------------


def _risk_per_unit(price: float, stop: float, side: float, whole: bool) -> float:
    """Risk to the stop of one unit (the whole price when no stop); 0 when unpriced."""
    if not (math.isfinite(price) and price > 0):
        return 0.0
    if math.isfinite(stop):
        return max(side * (price - stop), 0.0)
    return price if whole else 0.0


@st.composite
def cases(draw: st.DrawFn) -> tuple[Book, IntentBatch]:
    """Return a random book over the mixed universe and a random batch of orders."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    equity = draw(st.sampled_from([10_000.0, 250_000.0, 1e6]))
    lo = np.array([PRICE_RANGE.get(i.asset_class, (50.0, 5000.0))[0] for i in INSTRUMENTS])
    hi = np.array([PRICE_RANGE.get(i.asset_class, (50.0, 5000.0))[1] for i in INSTRUMENTS])
    prices = np.exp(rng.uniform(np.log(lo), np.log(hi)))
    prices[rng.random(N) < draw(st.sampled_from([0.0, 0.1]))] = np.nan
    scale = draw(st.sampled_from([0.02, 0.1, 0.3]))
    weights = rng.uniform(-scale, scale, N) * (rng.random(N) < 0.5)
    units = np.where(np.isfinite(prices), weights * equity / np.nan_to_num(prices, nan=1.0), 0.0)
    units[np.isnan(prices) & (rng.random(N) < 0.3)] = 7.0  # held, unpriced
    stop_distance = rng.uniform(0.0, 0.15, N)
    stops = prices * (1 - np.sign(units) * stop_distance)
    stops[rng.random(N) < 0.3] = np.nan
    returns = None
    rows = draw(st.sampled_from([0, 10, 80, 80]))
    if rows:
        vol = draw(st.sampled_from([0.01, 0.1]))
        factor = rng.normal(0, vol, (rows, 3))
        loading = rng.normal(0, 1, (3, N)) * (rng.random((3, N)) < 0.6)
        noise = rng.normal(0, vol, (rows, N)) * rng.uniform(0.05, 1.5, N)
        returns = factor @ loading + noise
        returns[rng.random((rows, N)) < 0.01] = np.nan
    book = Book(UNIVERSE, T, equity, units, prices, returns=returns, stops=stops, whole_units=False)
    n = draw(st.integers(1, N))
    index = rng.permutation(N)[:n]
    size = draw(st.sampled_from([0.05, 0.2, 0.6]))
    dw = rng.uniform(-size, size, n)
    safe = np.nan_to_num(prices[index], nan=100.0)
    quantity = dw * equity / safe
    kind = rng.integers(0, 4, n)
    quantity = np.where(kind == 0, -units[index], quantity)  # close
    quantity = np.where(kind == 1, -2.5 * units[index], quantity)  # reverse
    side = np.sign(units[index] + quantity)
    batch_stop = safe * (1 - side * rng.uniform(0.0, 0.1, n))
    batch_stop[rng.random(n) < 0.3] = np.nan
    return book, IntentBatch.of(index, quantity, stop=batch_stop)


# -- the contract ------------------------------------------------------------------------


def _apply(book: Book, state: State, k: int, new_units: float, stop: float, whole: bool) -> State:
    """Return the state after symbol k moves to ``new_units`` (risk for the heat oracle)."""
    units = state.units.copy()
    risk = state.risk.copy()
    held = units[k]
    price = float(book.prices[k])
    if held * new_units < 0 or new_units == 0:
        risk[k] = 0.0
        held = 0.0
    elif abs(new_units) < abs(held):
        risk[k] *= abs(new_units) / abs(held)
    added = abs(new_units) - abs(held)
    if added > 0:
        risk[k] += added * _risk_per_unit(price, stop, math.copysign(1.0, new_units), whole)
    units[k] = new_units
    return State(units, risk)


def _start(book: Book, whole: bool) -> State:
    assert book.stops is not None
    risk = np.array(
        [
            abs(u) * _risk_per_unit(p, s, math.copysign(1.0, u), whole)
            for u, p, s in zip(book.units, book.prices, book.stops, strict=True)
        ]
    )
    return State(book.units.copy(), risk)


def check_contract(limit: Limit, book: Book, batch: IntentBatch) -> None:
    answer = limit.check(batch, book)
    assert answer.max_abs.shape == answer.observed.shape == answer.limit.shape == (len(batch),)
    assert isinstance(answer.rule, str) and answer.rule
    held = batch.held(book)
    approved = cap_position(held, batch.quantity, answer.max_abs)
    # cap_position returns (held + q) - held for an order it keeps: equal up to rounding.
    assert np.all(np.abs(approved) <= np.abs(batch.quantity) * (1 + 1e-12) + 1e-12)
    assert np.all(approved * batch.quantity >= 0)
    reducing = ~opens(held, batch.quantity)
    np.testing.assert_array_equal(approved[reducing], batch.quantity[reducing])
    assert_within(limit, book, batch, approved)

    held_names = np.flatnonzero(book.units).tolist()
    whole = getattr(limit, "unstopped", "full") == "full"
    levels = oracle_for(limit, book, held_names)(book, _start(book, whole))
    want = max((_ratio(lv, b) for lv, b in levels.values()), default=0.0)
    assert limit.usage(book) == pytest.approx(want, rel=1e-9, abs=1e-12)


def assert_within(limit: Limit, book: Book, batch: IntentBatch, approved: np.ndarray) -> None:
    """Walk the approved orders in turn: no opening one may leave the limit breached."""
    held = batch.held(book)
    held_names = np.flatnonzero(book.units).tolist()
    oracle = oracle_for(limit, book, sorted(set(held_names) | set(batch.index.tolist())))
    whole = getattr(limit, "unstopped", "full") == "full"
    state = _start(book, whole)
    for j, k in enumerate(batch.index.tolist()):
        h, a = float(held[j]), float(held[j] + approved[j])
        kept = 0.0 if h * a < 0 else (a if abs(a) < abs(h) else h)
        middle = _apply(book, state, k, kept, math.nan, whole)
        after = _apply(book, middle, k, a, float(batch.stop[j]), whole)
        if opens(np.array([h]), np.array([approved[j]]))[0]:
            # A reversal keeps its position open: the count limit compares with the book before.
            keeps = limit.piece_name == "open_positions"
            before_levels = oracle(book, state if keeps else middle)
            for group, (level, bound) in oracle(book, after).items():
                ceiling = max(bound, before_levels.get(group, (0.0, bound))[0])
                assert level <= ceiling + TOL * max(1.0, bound), (
                    f"{limit.piece_name}: intent {j} leaves {group} at {level} over {ceiling}"
                )
        state = after


def _ratio(level: float, bound: float) -> float:
    """Level / bound; a bound of 0 is used up by anything at all."""
    if bound > 0:
        return level / bound
    return math.inf if level > 0 else 0.0


def test_every_limit_has_an_oracle() -> None:
    assert set(LIMITS.names()) == ORACLE_NAMES == set(TIGHT)


@pytest.mark.parametrize("tight", [False, True], ids=["defaults", "tight"])
@pytest.mark.parametrize("name", LIMITS.names())
def test_limit_contract(name: str, tight: bool) -> None:
    limit = LIMITS.get(name).model_validate(TIGHT[name] if tight else {})

    @settings(max_examples=150, deadline=None)
    @given(cases())
    def contract(case: tuple[Book, IntentBatch]) -> None:
        check_contract(limit, *case)

    contract()


@pytest.mark.parametrize("name", [n for n in LIMITS.names() if n != "open_positions"])
def test_no_equity_refuses_every_opening_order(name: str) -> None:
    limit = LIMITS.get(name)()
    book = Book(UNIVERSE, T, 0.0, np.zeros(N), np.full(N, 100.0))
    batch = IntentBatch.of([0, 13], [5.0, -3000.0])
    answer = limit.check(batch, book)
    np.testing.assert_array_equal(cap_position(np.zeros(2), batch.quantity, answer.max_abs), 0.0)
    assert limit.usage(replace(book, equity=math.nan)) == 0.0


@pytest.mark.parametrize("tight", [False, True], ids=["defaults", "tight"])
def test_the_manager_leaves_no_enabled_limit_breached(tight: bool) -> None:
    # A later limit's cut can change the room an earlier one left (net exposure is bounded on
    # both sides): the manager must still approve nothing that breaches any of them.
    limits = [LIMITS.get(n).model_validate(TIGHT[n] if tight else {}) for n in LIMITS.names()]
    base = BasicRiskManager({i.symbol: i for i in INSTRUMENTS}, 100.0)
    manager = RiskManager(base, limits=limits)

    @settings(max_examples=150, deadline=None)
    @given(cases())
    def reviewed(case: tuple[Book, IntentBatch]) -> None:
        book, batch = case
        approved = manager.review_batch(batch, book).batch.quantity
        assert np.all(np.abs(approved) <= np.abs(batch.quantity) * (1 + 1e-12) + 1e-12)
        for limit in limits:
            assert_within(limit, book, batch, approved)

    reviewed()
