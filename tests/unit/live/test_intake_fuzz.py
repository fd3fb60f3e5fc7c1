"""5,000 malformed bars into the live node: no crash, each refusal or repair has a reason.

A seeded generator mixes sane bars with every kind of garbage a feed can send (NaN, infinite,
negative, zero and absurd prices, high below low, negative and missing volume, duplicate,
out-of-order, future, off-grid and off-session stamps, naive stamps, text, booleans, complex
numbers, bytes, missing and doubled columns, empty frames, None, non-frame objects) and feeds
them through :meth:`TradingNode.on_bar` of a dry-run node. Each bar's kind says which outcomes
it may have; afterwards the windows hold only finite bars and the strategy, asked to decide,
sees no infinity and NaN only where a symbol has no bar. A Hypothesis test throws arbitrary
one-row frames at :meth:`BarIntake.accept`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alphaforge.config.models import AppConfig
from alphaforge.core.clock import SimulatedClock
from alphaforge.core.types import AssetClass, Instrument, Interval
from alphaforge.data.calendars import expected_bars
from alphaforge.execution.brokers.simulated import SimulatedVenue
from alphaforge.live import node as node_module
from alphaforge.live.decide import Decision, decide
from alphaforge.live.intake import BarIntake, IntakeResult
from alphaforge.live.node import TradingNode
from alphaforge.portfolio.base import PortfolioConstructor
from alphaforge.storage.ledger import Ledger
from alphaforge.strategies.base import MarketFrames, Strategy

N_BARS = 5_000
INTERVAL = Interval.D1
INSTRUMENTS = {
    "SPY": Instrument("SPY", AssetClass.ETF),
    "BTC-USD": Instrument("BTC-USD", AssetClass.CRYPTO),
}
HISTORY_END = pd.Timestamp("2019-12-31", tz="UTC")
#: The node's clock: every stamp after it is in the future.
NOW = pd.Timestamp("2024-12-31", tz="UTC")
FIELDS = ("open", "high", "low", "close", "volume")
ANY = frozenset({"accepted", "repaired", "rejected"})
NOT_ACCEPTED = frozenset({"repaired", "rejected"})
REJECTED = frozenset({"rejected"})
REPAIRED = frozenset({"repaired"})


def _history(symbol: str, rng: np.random.Generator) -> pd.DataFrame:
    stamps = expected_bars(INSTRUMENTS[symbol].calendar, "2019-06-01", HISTORY_END.date(), INTERVAL)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, len(stamps))))
    return pd.DataFrame(
        {
            "open": close,
            "high": close * 1.01,
            "low": close * 0.99,
            "close": close,
            "volume": 1e6,
        },
        index=stamps,
    )


@dataclass
class Feed:
    """Each symbol's future session stamps and last sane close (what a good bar continues)."""

    rng: np.random.Generator
    stamps: dict[str, list[pd.Timestamp]]
    last_close: dict[str, float]
    last_stamp: dict[str, pd.Timestamp]
    cursor: dict[str, int] = field(default_factory=dict)

    def next_stamp(self, symbol: str) -> pd.Timestamp:
        return self.stamps[symbol][self.cursor.get(symbol, 0)]

    def advance(self, symbol: str, close: float) -> None:
        self.last_stamp[symbol] = self.next_stamp(symbol)
        self.last_close[symbol] = close
        self.cursor[symbol] = self.cursor.get(symbol, 0) + 1

    def sane(self, symbol: str) -> dict[str, object]:
        close = self.last_close[symbol] * math.exp(self.rng.normal(0.0, 0.01))
        open_ = self.last_close[symbol]
        return {
            "open": open_,
            "high": max(open_, close) * 1.005,
            "low": min(open_, close) * 0.995,
            "close": close,
            "volume": float(self.rng.integers(1_000, 10_000_000)),
        }


def _frame(values: Mapping[str, object], stamp: object) -> pd.DataFrame:
    return pd.DataFrame([values], index=pd.Index([stamp]))


Case = tuple[str, str, object, frozenset[str]]
Maker = Callable[[Feed, str], Case]


def _good(feed: Feed, s: str) -> Case:
    return s, "good", _frame(feed.sane(s), feed.next_stamp(s)), frozenset({"accepted"})


def _pick(feed: Feed, options: Sequence[object]) -> object:
    return options[int(feed.rng.integers(len(options)))]


def _good_ints(feed: Feed, s: str) -> Case:
    # Whole-number prices in integer columns are a valid bar, read as floats.
    row = {k: round(float(str(v))) for k, v in feed.sane(s).items()}
    row["high"] += 1
    row["low"] -= 1
    return s, "good_ints", _frame(row, feed.next_stamp(s)), frozenset({"accepted"})


def _good_new_york(feed: Feed, s: str) -> Case:
    # The same instant in another zone is the same bar.
    stamp = feed.next_stamp(s).tz_convert("America/New_York")
    return s, "good_zone", _frame(feed.sane(s), stamp), frozenset({"accepted"})


def _bad_price(feed: Feed, s: str) -> Case:
    row = feed.sane(s)
    name = str(feed.rng.choice(["open", "high", "low", "close"]))
    bad = [math.nan, math.inf, -math.inf, -feed.last_close[s], 0.0, None, 1e13, 1e308, 1e-300]
    row[name] = _pick(feed, bad)
    return s, "bad_price", _frame(row, feed.next_stamp(s)), REJECTED


def _high_below_low(feed: Feed, s: str) -> Case:
    row = feed.sane(s)
    row["high"], row["low"] = row["low"], row["high"]
    return s, "high_below_low", _frame(row, feed.next_stamp(s)), NOT_ACCEPTED


def _close_outside_range(feed: Feed, s: str) -> Case:
    row = feed.sane(s)
    row["close"] = float(str(row["high"])) * 1.5
    return s, "close_outside", _frame(row, feed.next_stamp(s)), NOT_ACCEPTED


def _bad_volume(feed: Feed, s: str) -> Case:
    row = feed.sane(s)
    row["volume"] = _pick(feed, [-1.0, -1e9, math.nan, math.inf, -math.inf, None, "lots"])
    return s, "bad_volume", _frame(row, feed.next_stamp(s)), NOT_ACCEPTED


def _huge_volume(feed: Feed, s: str) -> Case:
    row = feed.sane(s)
    row["volume"] = _pick(feed, [1e19, 1e300, 1.7e308])
    return s, "huge_volume", _frame(row, feed.next_stamp(s)), REJECTED


def _zero_volume(feed: Feed, s: str) -> Case:
    # A session without trades is possible; the validator may flag it, never crash.
    row = feed.sane(s)
    row["volume"] = 0.0
    return s, "zero_volume", _frame(row, feed.next_stamp(s)), ANY


def _no_volume_column(feed: Feed, s: str) -> Case:
    row = feed.sane(s)
    del row["volume"]
    return s, "no_volume", _frame(row, feed.next_stamp(s)), REPAIRED


def _missing_price_column(feed: Feed, s: str) -> Case:
    row = feed.sane(s)
    del row[str(feed.rng.choice(["open", "high", "low", "close"]))]
    return s, "missing_column", _frame(row, feed.next_stamp(s)), REJECTED


def _wrong_type(feed: Feed, s: str) -> Case:
    row = feed.sane(s)
    name = str(feed.rng.choice(["open", "high", "low", "close"]))
    row[name] = _pick(feed, ["abc", "", True, complex(1.0, 2.0), b"100", object(), (1.0,)])
    return s, "wrong_type", _frame(row, feed.next_stamp(s)), REJECTED


def _text_numbers(feed: Feed, s: str) -> Case:
    row = {k: f"{v:.4f}" if k != "volume" else v for k, v in feed.sane(s).items()}
    return s, "text_numbers", _frame(row, feed.next_stamp(s)), REPAIRED


def _decimal_prices(feed: Feed, s: str) -> Case:
    row = {k: Decimal(str(v)) for k, v in feed.sane(s).items()}
    row["close"] = Decimal("NaN")
    return s, "decimal_nan", _frame(dict(row), feed.next_stamp(s)), REJECTED


def _duplicate_stamp(feed: Feed, s: str) -> Case:
    return s, "duplicate", _frame(feed.sane(s), feed.last_stamp[s]), REJECTED


def _older_stamp(feed: Feed, s: str) -> Case:
    back = pd.Timedelta(days=int(feed.rng.integers(1, 4000)))
    return s, "out_of_order", _frame(feed.sane(s), feed.last_stamp[s] - back), REJECTED


def _future_stamp(feed: Feed, s: str) -> Case:
    ahead = pd.Timedelta(days=int(feed.rng.integers(1, 60_000)))
    return s, "future", _frame(feed.sane(s), NOW + ahead), REJECTED


def _off_grid(feed: Feed, s: str) -> Case:
    shift = pd.Timedelta(minutes=int(feed.rng.integers(1, 1439)))
    return s, "off_grid", _frame(feed.sane(s), feed.next_stamp(s) + shift), REJECTED


def _off_session(feed: Feed, s: str) -> Case:
    # A Saturday: no XNYS session (crypto trades then, so only the stock is asked).
    stamp = feed.next_stamp("SPY")
    saturday = stamp + pd.Timedelta(days=(5 - stamp.day_of_week) % 7 or 7)
    return "SPY", "off_session", _frame(feed.sane("SPY"), saturday), REJECTED


def _naive_stamp(feed: Feed, s: str) -> Case:
    return s, "naive", _frame(feed.sane(s), feed.next_stamp(s).tz_localize(None)), REJECTED


def _not_a_stamp(feed: Feed, s: str) -> Case:
    stamp = _pick(feed, [0, "2024-01-02", None, 3.5, pd.NaT])
    return s, "not_a_stamp", _frame(feed.sane(s), stamp), REJECTED


def _doubled_column(feed: Feed, s: str) -> Case:
    row = feed.sane(s)
    frame = pd.DataFrame(
        [[*row.values(), row["close"]]],
        columns=[*row.keys(), "close"],
        index=pd.DatetimeIndex([feed.next_stamp(s)]),
    )
    return s, "doubled_column", frame, REJECTED


def _not_one_row(feed: Feed, s: str) -> Case:
    stamp = feed.next_stamp(s)
    two = pd.concat([_frame(feed.sane(s), stamp), _frame(feed.sane(s), stamp)])
    options: list[object] = [
        None,
        pd.DataFrame(),
        pd.DataFrame(columns=list(FIELDS)),
        two,
        pd.Series(feed.sane(s)),
        feed.sane(s),
        [1.0, 2.0, 0.5, 1.5, 100.0],
        "open=1 high=2",
        42,
        math.nan,
        object(),
    ]
    return s, "not_a_bar", options[int(feed.rng.integers(len(options)))], REJECTED


def _unknown_symbol(feed: Feed, s: str) -> Case:
    return "NOPE", "unknown_symbol", _frame(feed.sane(s), feed.next_stamp(s)), REJECTED


#: Sane bars come often enough that the windows keep moving (and later garbage meets context).
MAKERS: tuple[tuple[Maker, float], ...] = (
    (_good, 0.22),
    (_good_ints, 0.02),
    (_good_new_york, 0.02),
    (_bad_price, 0.08),
    (_high_below_low, 0.04),
    (_close_outside_range, 0.03),
    (_bad_volume, 0.05),
    (_huge_volume, 0.02),
    (_zero_volume, 0.02),
    (_no_volume_column, 0.02),
    (_missing_price_column, 0.04),
    (_wrong_type, 0.06),
    (_text_numbers, 0.02),
    (_decimal_prices, 0.02),
    (_duplicate_stamp, 0.05),
    (_older_stamp, 0.05),
    (_future_stamp, 0.04),
    (_off_grid, 0.05),
    (_off_session, 0.03),
    (_naive_stamp, 0.04),
    (_not_a_stamp, 0.02),
    (_doubled_column, 0.02),
    (_not_one_row, 0.06),
    (_unknown_symbol, 0.02),
)


def _cases(feed: Feed, n: int) -> Iterator[Case]:
    weights = np.array([w for _, w in MAKERS])
    picks = feed.rng.choice(len(MAKERS), size=n, p=weights / weights.sum())
    symbols = list(INSTRUMENTS)
    for pick in picks:
        symbol = symbols[int(feed.rng.integers(len(symbols)))]
        yield MAKERS[int(pick)][0](feed, symbol)


@pytest.fixture
def node(tmp_path: Path) -> Iterator[TradingNode]:
    config = AppConfig.model_validate(
        {
            "strategy": {"name": "momentum"},
            "portfolio": {"constructor": "target_weights", "sizing": "weights"},
            "risk": {"preset": "none"},
            "live": {"symbols": list(INSTRUMENTS)},
        }
    )
    clock = SimulatedClock(NOW)
    ledger = Ledger.open(f"sqlite:///{(tmp_path / 'ledger.sqlite').as_posix()}", clock=clock)
    venue = SimulatedVenue(list(INSTRUMENTS), 100_000.0, clock)
    try:
        yield TradingNode(config, ledger, venue, clock, INSTRUMENTS, INTERVAL, "dry-run")
    finally:
        venue.close()
        ledger.close()


def _assert_finite_windows(intake: BarIntake) -> None:
    for symbol, window in intake.bars.items():
        assert list(window.columns) == list(FIELDS), symbol
        assert all(dtype == np.float64 for dtype in window.dtypes), symbol
        assert np.isfinite(window.to_numpy()).all(), symbol
        assert (window[["open", "high", "low", "close"]].to_numpy() > 0).all(), symbol
        assert (window["high"] >= window["low"]).all(), symbol
        assert window.index.is_monotonic_increasing and window.index.is_unique, symbol
        assert isinstance(window.index, pd.DatetimeIndex), symbol
        assert str(window.index.tz) == "UTC", symbol


@pytest.mark.parametrize("seed", [14])
def test_five_thousand_malformed_bars_never_crash_the_node(
    node: TradingNode, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(seed)
    history = {s: _history(s, rng) for s in INSTRUMENTS}
    node.seed(history)
    stamps = {
        s: list(expected_bars(i.calendar, "2020-01-01", NOW.date(), INTERVAL))
        for s, i in INSTRUMENTS.items()
    }
    feed = Feed(
        rng,
        stamps,
        {s: float(h["close"].iloc[-1]) for s, h in history.items()},
        {s: h.index[-1] for s, h in history.items()},
    )
    outcomes: Counter[tuple[str, str]] = Counter()
    for symbol, kind, bar, allowed in _cases(feed, N_BARS):
        result = node.on_bar(symbol, bar)
        assert isinstance(result, IntakeResult)
        assert result.outcome in allowed, (kind, bar, result)
        if result.outcome != "accepted":
            assert result.reasons and all(r.strip() for r in result.reasons), (kind, result)
        if result.outcome != "rejected":
            assert result.time is not None
            feed.advance(symbol, float(node.intake.bars[symbol]["close"].iloc[-1]))
        outcomes[(kind, result.outcome)] += 1
    assert len(node.intake_log) == N_BARS
    # The generator did its job: sane bars moved the windows, garbage of every kind was met.
    assert outcomes[("good", "accepted")] > 500
    assert len({kind for kind, _ in outcomes}) == len(MAKERS)
    _assert_finite_windows(node.intake)

    markets: list[MarketFrames] = []

    def recording_decide(
        market: MarketFrames, strategy: Strategy, constructor: PortfolioConstructor
    ) -> Decision:
        markets.append(market)
        return decide(market, strategy, constructor)

    monkeypatch.setattr(node_module, "decide", recording_decide)
    decision = node.decide()
    (market,) = markets
    for name in FIELDS:
        frame: pd.DataFrame = getattr(market, name)
        values = frame.to_numpy(np.float64)
        assert not np.isinf(values).any(), name
        for symbol in frame.columns:
            present = frame.index.isin(node.intake.bars[symbol].index)
            column = frame[symbol].to_numpy(np.float64)
            # NaN only where the symbol has no bar (a stock on a crypto weekend).
            assert np.isfinite(column[present]).all(), (name, symbol)
            assert np.isnan(column[~present]).all(), (name, symbol)
    assert decision.time == max(w.index[-1] for w in node.intake.bars.values())
    assert not np.isinf(decision.weights.to_numpy(np.float64)).any()


SPY_HISTORY = _history("SPY", np.random.default_rng(0))
#: The sessions right after the seeded history: stamps a bar may really have.
NEXT_SESSIONS = list(expected_bars("XNYS", "2020-01-01", "2020-01-31", INTERVAL))

_anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.binary(max_size=4),
    st.complex_numbers(),
)
#: Mostly plausible prices, so that many examples get past the cheap guards.
_value = st.one_of(st.floats(80.0, 130.0), st.floats(80.0, 130.0), _anything)
_stamp = st.one_of(
    st.sampled_from(NEXT_SESSIONS),
    st.sampled_from(NEXT_SESSIONS).map(lambda t: t.tz_localize(None)),
    st.builds(
        lambda t, minutes: t + pd.Timedelta(minutes=minutes),
        st.sampled_from(NEXT_SESSIONS),
        st.integers(-(10**6), 10**6),
    ),
    st.datetimes(timezones=st.sampled_from([None, UTC])),
    st.sampled_from([pd.NaT, "2020-01-03", 0, None]),
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    values=st.dictionaries(st.sampled_from([*FIELDS, "Open", "vwap"]), _value, max_size=7),
    stamp=_stamp,
)
def test_any_one_row_frame_leaves_only_finite_bars(
    values: dict[str, object], stamp: object
) -> None:
    intake = BarIntake(dict(INSTRUMENTS), INTERVAL)
    intake.seed("SPY", SPY_HISTORY)
    result = intake.accept("SPY", pd.DataFrame([values], index=pd.Index([stamp])), NOW)
    assert result.outcome in ANY
    if result.outcome != "accepted":
        assert result.reasons and all(r.strip() for r in result.reasons)
    window = intake.bars["SPY"]
    if result.outcome == "rejected":
        pd.testing.assert_frame_equal(window, SPY_HISTORY)
    else:
        assert len(window) == len(SPY_HISTORY) + 1 and window.index[-1] == result.time
    _assert_finite_windows(intake)


@pytest.mark.parametrize(
    ("symbol", "interval", "stamp", "outcome"),
    [
        ("SPY", Interval.H1, "2024-03-26 14:30", "accepted"),  # XNYS hours, from the open
        ("SPY", Interval.H1, "2024-03-26 14:00", "accepted"),  # Alpaca's, on the clock hour
        ("SPY", Interval.H1, "2024-03-26 14:17", "rejected"),
        ("SPY", Interval.M5, "2024-03-26 15:35", "accepted"),
        ("SPY", Interval.M5, "2024-03-26 15:37", "rejected"),
        ("BTC-USD", Interval.M15, "2024-03-30 00:45", "accepted"),  # crypto on a Saturday
        ("BTC-USD", Interval.M15, "2024-03-30 00:50", "rejected"),
        ("BTC-USD", Interval.D1, "2024-03-30 00:00", "accepted"),
        ("SPY", Interval.D1, "2024-03-30 00:00", "rejected"),  # a Saturday: no XNYS session
        ("SPY", Interval.D1, "2024-03-26 04:00", "rejected"),  # daily bars open at 00:00 UTC
        ("SPY", Interval.W1, "2024-03-25 00:00", "accepted"),
        ("SPY", Interval.W1, "2024-03-25 13:30", "rejected"),
    ],
)
def test_a_stamp_must_sit_on_the_interval_grid(
    symbol: str, interval: Interval, stamp: str, outcome: str
) -> None:
    intake = BarIntake(dict(INSTRUMENTS), interval)
    when = pd.Timestamp(stamp, tz="UTC")
    bar = _frame({"open": 100.0, "high": 101.0, "low": 99.0, "close": 100.5, "volume": 1e4}, when)
    result = intake.accept(symbol, bar, NOW)
    assert result.outcome == outcome, result
    if outcome == "rejected":
        assert symbol not in intake.bars and result.reasons
