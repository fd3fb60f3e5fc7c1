"""The risk preset's pieces on a live decision: inputs for the bar about to trade, the stops
working on positions, when positions opened, and the pieces' verdicts on the orders."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphaforge.backtest.risk_bridge import PIECE_FEATURES, RiskInputs, market_series
from alphaforge.config.models import PortfolioConfig, RiskConfig
from alphaforge.core.errors import AlphaForgeError
from alphaforge.core.types import AssetClass, Instrument, Interval
from alphaforge.data.synthetic import SyntheticSpec, generate_market
from alphaforge.live.decide import Decision, orders_for_targets
from alphaforge.live.risk import live_pieces
from alphaforge.live.trips import opened_at, round_trips
from alphaforge.risk.setup import resolve
from alphaforge.storage.bar_store import BarStore
from alphaforge.strategies.base import MarketFrames


def _market(n_symbols: int = 3) -> MarketFrames:
    spec = SyntheticSpec(
        n_symbols=n_symbols,
        n_sectors=2,
        start=date(2020, 1, 1),
        end=date(2020, 12, 31),
        interval=Interval.D1,
        asset_class=AssetClass.STOCK,
    )
    generated = generate_market(spec, seed=5)
    return MarketFrames.from_bars(generated.bars, generated.instruments, None, None, Interval.D1)


def _head(market: MarketFrames, rows: int) -> MarketFrames:
    def cut(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.iloc[:rows]

    return MarketFrames(
        cut(market.open),
        cut(market.high),
        cut(market.low),
        cut(market.close),
        cut(market.volume),
        market.instruments,
        None,
        None,
        market.interval,
    )


def test_the_row_ahead_equals_the_engines_row_of_that_bar() -> None:
    # Inputs over the first n bars with the next bar ahead hold, in that row, exactly what
    # the engine's inputs over n + 1 bars hold in the row of bar n: nothing of bar n itself.
    market = _market()
    n = 230
    engine = RiskInputs.build(_head(market, n + 1))
    live = RiskInputs.build(_head(market, n), ahead=market.index[n])
    for name in PIECE_FEATURES:
        np.testing.assert_array_equal(live.features[name][n], engine.features[name][n])
        assert np.isfinite(live.features[name][n]).all(), name
        np.testing.assert_array_equal(live.features[name][:n], engine.features[name][:n])
    for name, values in engine.market.items():
        np.testing.assert_array_equal(live.market[name], values)
    assert live.returns is not None and engine.returns is not None
    np.testing.assert_array_equal(live.returns[:n], engine.returns[:n])


def test_a_position_opens_at_its_first_fill_since_flat_or_its_reversal() -> None:
    fills = pd.DataFrame(
        [
            ("2024-03-01", "A", 10, 100.0, 1.0),
            ("2024-03-02", "A", 5, 110.0, 1.0),  # adds: still opened on the 1st
            ("2024-03-03", "B", -5, 20.0, 0.0),
            ("2024-03-04", "B", 10, 18.0, 0.5),  # reverses: long 5 opened on the 4th
            ("2024-03-05", "C", 3, 10.0, 0.0),
            ("2024-03-06", "C", -3, 11.0, 0.0),  # flat: not open
        ],
        columns=["time", "symbol", "quantity", "price", "cost"],
    )
    fills["time"] = pd.to_datetime(fills["time"], utc=True)
    assert opened_at(fills) == {
        "A": pd.Timestamp("2024-03-01", tz="UTC"),
        "B": pd.Timestamp("2024-03-04", tz="UTC"),
    }
    # What each closed trip entered: B's short of 5 at 20, C's long of 3 at 10.
    assert [(t.symbol, t.entry_value) for t in round_trips(fills)] == [("B", 100.0), ("C", 30.0)]


def _spec_setup() -> tuple[PortfolioConfig, RiskConfig]:
    return PortfolioConfig(units="whole"), RiskConfig(preset="spec")


def test_the_spec_preset_trims_to_the_position_limit_and_attaches_an_atr_stop() -> None:
    market = _market()
    portfolio, risk = _spec_setup()
    setup = resolve(portfolio, risk)
    manager = setup.manager(market.instruments, 1.0)
    bars = {
        s: pd.DataFrame(
            {f: getattr(market, f)[s] for f in ("open", "high", "low", "close", "volume")}
        )
        for s in market.symbols
    }
    last = market.index[-1]
    weights = pd.Series(0.5, index=market.symbols)  # half the equity each: over 10 %
    nan = pd.Series(np.nan, index=market.symbols)
    decision = Decision(last, weights, nan, nan, weights)
    when = last + pd.Timedelta(days=1)
    pieces = live_pieces(
        manager,
        setup.sizers,
        bars,
        market.instruments,
        Interval.D1,
        decision,
        when,
        whole_units=True,
        working_stops={},
        opened_at={},
        trips=[],
        window=risk.var_window,
    )
    assert pieces is not None
    prices = {s: float(market.close[s].iloc[-1]) for s in market.symbols}
    intents, rows = orders_for_targets(
        decision, {}, prices, 100_000.0, portfolio, manager.base, "t", when=when, pieces=pieces
    )
    assert intents, "orders at the limit, not none"
    atr = pieces.book(when, 100_000.0, np.zeros(3), np.array(list(prices.values())))
    for intent in intents:
        value = abs(intent.quantity) * prices[intent.symbol]
        assert value <= 0.10 * 100_000.0 + 1e-6
        assert intent.bracket is not None and intent.bracket.stop_price is not None
        k = market.symbols.index(intent.symbol)
        expected = prices[intent.symbol] - 2.0 * atr.feature("atr_14")[k]
        assert intent.bracket.stop_price == pytest.approx(expected, rel=1e-12)
    trims = [r for r in rows if r["action"] == "trim"]
    assert {r["symbol"] for r in trims} == set(market.symbols)
    assert all(r["time"] == when for r in rows)


def test_no_pieces_when_the_preset_has_none() -> None:
    market = _market()
    setup = resolve(PortfolioConfig(), RiskConfig(preset="none"))
    manager = setup.manager(market.instruments, 1.0)
    nan = pd.Series(np.nan, index=market.symbols)
    decision = Decision(market.index[-1], nan, nan, nan, nan)
    assert (
        live_pieces(
            manager,
            setup.sizers,
            {},
            market.instruments,
            Interval.D1,
            decision,
            market.index[-1],
            whole_units=True,
            working_stops={},
            opened_at={},
            trips=[],
            window=252,
        )
        is None
    )


def test_a_decision_the_bars_do_not_match_is_a_clear_error() -> None:
    market = _market()
    portfolio, risk = _spec_setup()
    setup = resolve(portfolio, risk)
    bars = {
        s: pd.DataFrame(
            {f: getattr(market, f)[s] for f in ("open", "high", "low", "close", "volume")}
        )
        for s in market.symbols
    }
    stale = market.index[-1] + pd.Timedelta(days=3)  # decided on a bar the node lacks
    nan = pd.Series(np.nan, index=market.symbols)
    with pytest.raises(AlphaForgeError, match="does not match"):
        live_pieces(
            setup.manager(market.instruments, 1.0),
            setup.sizers,
            bars,
            market.instruments,
            Interval.D1,
            Decision(stale, nan, nan, nan, nan),
            stale,
            whole_units=True,
            working_stops={},
            opened_at={},
            trips=[],
            window=252,
        )


def test_a_decision_keeps_the_signals_probability_through_json() -> None:
    when = pd.Timestamp("2024-03-01", tz="UTC")
    weights = pd.Series({"A": 0.1, "B": math.nan})
    probability = pd.Series({"A": 0.6, "B": math.nan})
    decision = Decision(when, weights, weights, weights, weights, probability, None)
    back = Decision.from_json(decision.to_json())
    assert back.probability is not None
    pd.testing.assert_series_equal(back.probability, probability, check_names=False)
    assert back.expected_return is None


def test_the_vix_filter_reads_the_last_vix_known_when_the_bar_opens(tmp_path: Path) -> None:
    market = _market()
    portfolio = PortfolioConfig(units="whole")
    risk = RiskConfig(preset="none", filters=[{"name": "vix", "params": {}}])
    setup = resolve(portfolio, risk)
    days = market.index[-5:]
    vix = pd.DataFrame(
        {"open": 20.0, "high": 30.0, "low": 10.0, "close": [21.0, 22.0, 23.0, 24.0, 25.0]},
        index=days,
    ).assign(volume=0.0)
    vix_index = Instrument("^VIX", AssetClass.INDEX, exchange="CBOE")
    BarStore(tmp_path).write(vix_index, Interval.D1, vix, source="test")
    series = market_series(tmp_path, setup.filters)
    bars = {
        s: pd.DataFrame(
            {f: getattr(market, f)[s] for f in ("open", "high", "low", "close", "volume")}
        )
        for s in market.symbols
    }
    nan = pd.Series(np.nan, index=market.symbols)
    when = market.index[-1] + pd.Timedelta(days=1)
    pieces = live_pieces(
        setup.manager(market.instruments, 1.0),
        setup.sizers,
        bars,
        market.instruments,
        Interval.D1,
        Decision(market.index[-1], nan, nan, nan, nan),
        when,
        whole_units=True,
        working_stops={},
        opened_at={},
        trips=[],
        window=252,
        series=series,
    )
    assert pieces is not None
    book = pieces.book(when, 1.0, np.zeros(3), np.ones(3))
    # The last close (25) is known a day after its bar opened: at ``when`` exactly.
    assert book.market["vix_level"] == 25.0
