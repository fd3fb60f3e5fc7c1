"""Execution quality: live fills against the decision price and the backtest's cost schedule."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

import numpy as np
import pandas as pd
import pytest

from alphaforge.backtest.costs import CostSchedule
from alphaforge.backtest.engine import run_engine
from alphaforge.backtest.runner import FixedTargets, market_context
from alphaforge.config import BacktestConfig, PortfolioConfig
from alphaforge.core.errors import AlphaForgeError, ConfigError, DataError
from alphaforge.core.types import AssetClass, Instrument
from alphaforge.live.cost_fit import fit_costs
from alphaforge.live.quality import (
    MIN_FILLS,
    OVERALL,
    execution_quality,
    quality_figure,
    summarize_quality,
)
from alphaforge.risk import BasicRiskManager
from alphaforge.strategies import MarketFrames, Signals

STOCKS = {s: Instrument(s, AssetClass.STOCK) for s in ("AAA", "BBB")}


def _bars(seed: int, days: int = 60, start: float = 100.0) -> pd.DataFrame:
    """Daily bars labelled at midnight UTC of each business day (a random walk)."""
    rng = np.random.default_rng(seed)
    index = pd.bdate_range("2024-01-01", periods=days, tz="UTC", name="timestamp")
    close = start * np.exp(np.cumsum(rng.normal(0.0, 0.01, days)))
    open_ = close * np.exp(rng.normal(0.0, 0.003, days))
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * 1.004,
            "low": np.minimum(open_, close) * 0.996,
            "close": close,
            "volume": rng.uniform(5e5, 2e6, days),
        },
        index=index,
    )


def _linear(commission_bps: float = 1.0, slippage_bps: float = 5.0) -> CostSchedule:
    return CostSchedule.from_config(
        BacktestConfig(commission_bps=commission_bps, slippage_bps=slippage_bps)
    )


def _day(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def _tables(
    rows: list[tuple[str, str, float, float, float, str, float, str, float, float]],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fills and decisions from rows ``(client_id, symbol, quantity, price, commission,
    fill_time, decision_price, decision_time, decision_quantity, arrival_price)``."""
    fills = pd.DataFrame(
        {
            "time": [_day(r[5]) for r in rows],
            "client_id": [r[0] for r in rows],
            "execution_id": [f"x{i}" for i in range(len(rows))],
            "symbol": [r[1] for r in rows],
            "quantity": [r[2] for r in rows],
            "price": [r[3] for r in rows],
            "commission": [r[4] for r in rows],
        }
    )
    decisions = pd.DataFrame(
        {
            "time": [_day(r[7]) for r in rows],
            "client_id": [r[0] for r in rows],
            "symbol": [r[1] for r in rows],
            "price": [r[6] for r in rows],
            "quantity": [r[8] for r in rows],
            "arrival_price": [r[9] for r in rows],
        }
    )
    return fills, decisions


def test_slippage_is_a_cost_for_buys_and_sells_and_delay_is_in_seconds() -> None:
    bars = {"AAA": _bars(1)}
    f, d = "2024-01-03 14:31", "2024-01-02 21:00"
    fills, decisions = _tables(
        [
            # bought above the decision price: a cost of 50 bps
            ("b1", "AAA", 10.0, 100.5, 0.0, f, 100.0, d, 10, 100.2),
            # sold below it: a cost of 50 bps too
            ("s1", "AAA", -10.0, 99.5, 0.0, f, 100.0, d, -10, 99.8),
            # sold above it a minute later: a gain, -50 bps
            ("s2", "AAA", -10.0, 100.5, 0.0, "2024-01-03 14:32", 100.0, d, -10, np.nan),
        ]
    )
    table = execution_quality(fills, decisions, bars, _linear(), instruments=STOCKS)
    assert table["skipped"].tolist() == ["", "", ""]
    assert table["slippage_bps"].tolist() == pytest.approx([50.0, 50.0, -50.0], rel=1e-12)
    # against the arrival price: (100.5 - 100.2) / 100.2 and (99.8 - 99.5) / 99.8, unknown
    expected = [0.3 / 100.2 * 1e4, 0.3 / 99.8 * 1e4]
    assert table["arrival_slippage_bps"].iloc[:2].tolist() == pytest.approx(expected, rel=1e-9)
    assert np.isnan(table["arrival_slippage_bps"].iloc[2])
    # 21:00 on the 2nd to 14:31 on the 3rd: 17 h 31 min
    assert table["delay_s"].tolist() == [63_060.0, 63_060.0, 63_120.0]


def test_realised_and_predicted_costs_by_hand() -> None:
    bars = _bars(2)
    bar = bars.loc[_day("2024-01-03")]
    model = float(bar["open"])
    d = "2024-01-02 21:00"
    fills, decisions = _tables(
        [
            ("b1", "AAA", 10.0, model + 0.2, 0.5, "2024-01-03 14:31", 99.0, d, 10, np.nan),
            ("s1", "AAA", -4.0, model - 0.1, 0.0, "2024-01-03 15:00", 99.0, d, -4, np.nan),
        ]
    )
    table = execution_quality(
        fills, decisions, {"AAA": bars}, _linear(1.0, 5.0), instruments=STOCKS
    )
    assert table["bar_time"].tolist() == [_day("2024-01-03")] * 2
    assert table["model_price"].tolist() == [model, model]
    # The backtest fills at the bar's open and charges 1 + 5 bps of |q| x open.
    assert table["predicted_cost"].tolist() == pytest.approx(
        [10 * model * 6e-4, 4 * model * 6e-4], rel=1e-12
    )
    assert table["predicted_bps"].tolist() == pytest.approx([6.0, 6.0], rel=1e-12)
    # Realised: 10 x 0.2 + 0.5 commission; the sell received 0.1 less than the open on 4 units.
    assert table["realised_cost"].tolist() == pytest.approx([2.5, 0.4], rel=1e-9)
    realised_bps = [2.5 / (10 * model) * 1e4, 0.4 / (4 * model) * 1e4]
    assert table["realised_bps"].tolist() == pytest.approx(realised_bps, rel=1e-9)
    assert table["excess_bps"].tolist() == pytest.approx([b - 6.0 for b in realised_bps], rel=1e-9)


def test_maker_fills_are_charged_the_maker_fee() -> None:
    coin = {"BTC-USD": Instrument("BTC-USD", AssetClass.CRYPTO)}
    bars = _bars(23, start=40_000.0)
    open_ = float(bars.loc[_day("2024-01-03"), "open"])
    d = "2024-01-02 21:00"
    fills, decisions = _tables(
        [
            ("m", "BTC-USD", 0.5, open_, 0.0, "2024-01-03 14:31", 1.0, d, 0.5, np.nan),
            ("t", "BTC-USD", 0.5, open_, 0.0, "2024-01-03 14:32", 1.0, d, 0.5, np.nan),
        ]
    )
    fees = {"name": "crypto_fees", "params": {"maker_rate": 0.001, "taker_rate": 0.002}}
    schedule = CostSchedule.from_config(BacktestConfig(costs={AssetClass.CRYPTO: [fees]}))
    for maker in ([True, None], [True, False]):
        table = execution_quality(
            fills.assign(maker=maker), decisions, {"BTC-USD": bars}, schedule, instruments=coin
        )
        assert table["maker"].tolist() == [True, False]
        expected = [0.5 * open_ * 0.001, 0.5 * open_ * 0.002]
        assert table["predicted_crypto_fees"].tolist() == pytest.approx(expected, rel=1e-12)


def test_decimal_money_from_the_ledger_is_measured_as_floats() -> None:
    fills, decisions, bars = _live_inputs(24, 25, 5.0, 1.0)
    as_float = execution_quality(fills, decisions, bars, _linear(), instruments=STOCKS)
    ledger = fills.assign(
        price=[Decimal(repr(p)) for p in fills["price"]],
        quantity=[Decimal(int(q)) for q in fills["quantity"]],
        commission=Decimal("0.00"),
    )
    table = execution_quality(
        ledger, decisions.assign(price=ledger["price"]), bars, _linear(), instruments=STOCKS
    )
    assert table["realised_bps"].to_numpy() == pytest.approx(as_float["realised_bps"].to_numpy())


@pytest.mark.parametrize("fill_price", ["close", "vwap_proxy"])
def test_the_model_price_follows_the_backtests_fill_price(
    fill_price: Literal["close", "vwap_proxy"],
) -> None:
    bars = _bars(3)
    bar = bars.loc[_day("2024-01-04")]
    fills, decisions = _tables(
        [("b1", "AAA", 1.0, 100.0, 0.0, "2024-01-04 20:59", 99.0, "2024-01-03 21:00", 1, np.nan)]
    )
    table = execution_quality(
        fills, decisions, {"AAA": bars}, _linear(), instruments=STOCKS, fill_price=fill_price
    )
    expected = (
        bar["close"] if fill_price == "close" else (bar["high"] + bar["low"] + bar["close"]) / 3
    )
    assert table["model_price"].iloc[0] == pytest.approx(expected, rel=1e-15)


def test_predicted_costs_equal_what_the_engine_charges_for_the_same_fills() -> None:
    bars = {"AAA": _bars(4, 70), "BBB": _bars(5, 70, start=40.0)}
    market = MarketFrames.from_bars(bars, STOCKS)
    index = market.index
    rng = np.random.default_rng(6)
    weights = pd.DataFrame(
        rng.uniform(-0.4, 0.4, (len(index), 2)), index=index, columns=["AAA", "BBB"]
    )
    config = BacktestConfig(costs="realistic_us", participation=None, initial_capital=1e6)
    portfolio = PortfolioConfig(sizing="weights")
    schedule = CostSchedule.from_config(config)
    run = run_engine(
        market,
        Signals(pd.DataFrame(np.nan, index=index, columns=market.symbols)),
        FixedTargets(weights),
        BasicRiskManager(STOCKS, config.max_leverage),
        schedule,
        config,
        portfolio,
        context=market_context(market, spreads=True),
    )
    engine = run.fills
    assert len(engine) > 100
    # The live fills: the engine's, filled 30 minutes into their bar, decided the evening before.
    fills = pd.DataFrame(
        {
            "time": pd.DatetimeIndex(engine["timestamp"]) + pd.Timedelta(minutes=30),
            "client_id": engine["order_id"],
            "execution_id": [f"x{i}" for i in range(len(engine))],
            "symbol": engine["symbol"],
            "quantity": engine["quantity"],
            "price": engine["price"],
            "commission": 0.0,
        }
    )
    decisions = pd.DataFrame(
        {
            "time": pd.DatetimeIndex(engine["timestamp"]) - pd.Timedelta(hours=3),
            "client_id": engine["order_id"],
            "symbol": engine["symbol"],
            "price": engine["price"],
            "quantity": engine["quantity"],
        }
    )
    table = execution_quality(fills, decisions, bars, schedule, instruments=STOCKS)
    assert (table["skipped"] == "").all()
    assert table["predicted_cost"].to_numpy() == pytest.approx(
        engine["costs"].to_numpy(), rel=1e-12
    )
    for name in run.cost_components:
        assert table[f"predicted_{name}"].to_numpy() == pytest.approx(
            engine[f"cost_{name}"].to_numpy(), rel=1e-12, abs=1e-12
        ), name
    # Every fill is at the engine's price: the realised cost is the commission, 0 here.
    assert table["realised_cost"].to_numpy() == pytest.approx(np.zeros(len(engine)), abs=1e-9)
    # Impact and spread were priced from known context, not their fallbacks, for most fills.
    assert table["sigma_daily"].notna().mean() > 0.5


def test_unusable_rows_are_skipped_with_a_reason() -> None:
    bars = {"AAA": _bars(7)}
    d = "2024-01-02 21:00"
    f = "2024-01-03 14:31"
    fills, decisions = _tables(
        [
            ("ok", "AAA", 5.0, 100.0, 0.0, f, 100.0, d, 5, np.nan),
            ("zero", "AAA", 0.0, 100.0, 0.0, f, 100.0, d, 5, np.nan),
            ("nanq", "AAA", np.nan, 100.0, 0.0, f, 100.0, d, 5, np.nan),
            ("nanp", "AAA", 5.0, np.nan, 0.0, f, 100.0, d, 5, np.nan),
            ("side", "AAA", -5.0, 100.0, 0.0, f, 100.0, d, 5, np.nan),
            ("early", "AAA", 5.0, 100.0, 0.0, "2024-01-02 20:00", 100.0, d, 5, np.nan),
            ("nobar", "AAA", 5.0, 100.0, 0.0, "2024-06-03 14:31", 100.0, d, 5, np.nan),
            ("baddec", "AAA", 5.0, 100.0, 0.0, f, np.nan, d, 5, np.nan),
            ("nodq", "AAA", 5.0, 100.0, 0.0, f, 100.0, d, np.nan, np.nan),
        ]
    )
    orphan = fills.iloc[[0]].assign(client_id="orphan", execution_id="x-orphan")
    again = fills.iloc[[0]]  # the same execution heard twice (stream and reconciliation)
    unknown = fills.iloc[[0]].assign(symbol="ZZZ", client_id="zzz", execution_id="x-zzz")
    decisions = pd.concat([decisions, decisions.iloc[[0]].assign(client_id="zzz", symbol="ZZZ")])
    table = execution_quality(
        pd.concat([fills, orphan, again, unknown]),
        decisions,
        bars,
        _linear(),
        instruments={**STOCKS, "ZZZ": Instrument("ZZZ", AssetClass.STOCK)},
    )
    assert table["skipped"].tolist() == [
        "",
        "zero quantity",
        "quantity is missing",
        "fill price is not a positive number",
        "side differs from its decision's",
        "filled before its decision",
        "no bar of AAA at the fill time",
        "decision price is not a positive number",
        "decision quantity is missing",
        "no decision with this client id",
        "execution id seen before",
        "no bars of ZZZ",
    ]
    skipped = table.iloc[1:]
    assert (
        skipped[["realised_cost", "predicted_cost", "slippage_bps", "delay_s"]].isna().all().all()
    )
    assert table["predicted_cost"].iloc[0] == pytest.approx(5 * table["model_price"].iloc[0] * 6e-4)
    summary = summarize_quality(table)
    overall = summary.set_index("symbol").loc[OVERALL]
    assert (overall["fills"], overall["skipped"]) == (1, 11)


def test_bad_tables_are_refused_in_one_line() -> None:
    bars = {"AAA": _bars(8)}
    fills, decisions = _tables(
        [("b1", "AAA", 1.0, 100.0, 0.0, "2024-01-03 14:31", 99.0, "2024-01-02 21:00", 1, np.nan)]
    )
    with pytest.raises(DataError, match="lacks column") as missing:
        execution_quality(
            fills.drop(columns="commission"), decisions, bars, _linear(), instruments=STOCKS
        )
    assert "commission" in missing.value.one_line() and missing.value.hint
    naive = fills.assign(time=fills["time"].dt.tz_localize(None))
    with pytest.raises(DataError, match="no time zone"):
        execution_quality(naive, decisions, bars, _linear(), instruments=STOCKS)
    with pytest.raises(DataError, match="share the client id"):
        execution_quality(
            fills, pd.concat([decisions, decisions]), bars, _linear(), instruments=STOCKS
        )
    with pytest.raises(ConfigError, match="No instrument"):
        execution_quality(fills, decisions, bars, _linear(), instruments={})


def test_summary_by_symbol_and_overall() -> None:
    rng = np.random.default_rng(9)
    n = 30
    bars = {"AAA": _bars(10), "BBB": _bars(11, start=50.0)}
    days = [_day(str(d.date())) for d in bars["AAA"].index[25:55]]
    symbols = ["AAA"] * 25 + ["BBB"] * 5
    opens = [float(bars[s].loc[d, "open"]) for s, d in zip(symbols, days, strict=True)]
    worse = rng.uniform(0.0, 30.0, n)  # bps above the open paid by each buy
    fills = pd.DataFrame(
        {
            "time": [d + pd.Timedelta(hours=14, minutes=31) for d in days],
            "client_id": [f"c{i}" for i in range(n)],
            "execution_id": [f"x{i}" for i in range(n)],
            "symbol": symbols,
            "quantity": 10.0,
            "price": [o * (1 + w / 1e4) for o, w in zip(opens, worse, strict=True)],
            "commission": 0.0,
        }
    )
    decisions = fills[["client_id", "symbol", "quantity"]].assign(
        time=fills["time"] - pd.Timedelta(hours=17), price=[o * 0.999 for o in opens]
    )
    table = execution_quality(fills, decisions, bars, _linear(0.0, 5.0), instruments=STOCKS)
    summary = summarize_quality(table, tolerance_bps=2.0).set_index("symbol")
    assert summary.index.tolist() == ["AAA", "BBB", OVERALL]
    slip = table["slippage_bps"].to_numpy()
    overall = summary.loc[OVERALL]
    assert overall["fills"] == n
    assert overall["slippage_bps_mean"] == pytest.approx(slip.mean(), rel=1e-12)
    assert overall["slippage_bps_median"] == pytest.approx(np.median(slip), rel=1e-12)
    assert overall["slippage_bps_p90"] == pytest.approx(np.quantile(slip, 0.9), rel=1e-12)
    assert overall["predicted_bps_mean"] == pytest.approx(5.0, rel=1e-12)
    assert overall["excess_bps_mean"] == pytest.approx(worse.mean() - 5.0, rel=1e-9)
    assert overall["above"] == int((worse - 5.0 > 2.0 + 1e-9).sum())
    assert overall["delay_s_mean"] == pytest.approx(17 * 3600.0)
    # About 15 bps paid against 5 predicted: the backtest's costs are optimistic.
    assert overall["verdict"] == "optimistic"
    assert summary.loc["AAA", "fills"] == 25
    assert summary.loc["BBB", "verdict"] == "too few fills"
    # Charging 25 bps in the backtest makes the same fills cheaper than predicted.
    dear = execution_quality(fills, decisions, bars, _linear(0.0, 25.0), instruments=STOCKS)
    assert summarize_quality(dear).set_index("symbol").loc[OVERALL, "verdict"] == "conservative"
    fair = execution_quality(
        fills, decisions, bars, _linear(0.0, float(worse.mean())), instruments=STOCKS
    )
    assert summarize_quality(fair).set_index("symbol").loc[OVERALL, "verdict"] == "in line"


def _live_inputs(
    seed: int, n: int, bps: float, noise_bps: float
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, pd.DataFrame]]:
    """Fills, decisions and bars of ``n`` buys and sells that paid ``bps`` over the open."""
    rng = np.random.default_rng(seed)
    bars = {"AAA": _bars(seed, 40 + n)}
    days = bars["AAA"].index[30 : 30 + n]
    opens = bars["AAA"]["open"].to_numpy()[30 : 30 + n]
    side = rng.choice([-1.0, 1.0], n)
    paid = bps + rng.standard_t(3, n) * noise_bps  # heavy tails, symmetric
    fills = pd.DataFrame(
        {
            "time": days + pd.Timedelta(hours=14, minutes=31),
            "client_id": [f"c{i}" for i in range(n)],
            "execution_id": [f"x{i}" for i in range(n)],
            "symbol": "AAA",
            "quantity": side * rng.integers(1, 100, n),
            "price": opens * (1 + side * paid / 1e4),
            "commission": 0.0,
        }
    )
    decisions = fills[["client_id", "symbol", "quantity", "price"]].assign(
        time=fills["time"] - pd.Timedelta(hours=17)
    )
    return fills, decisions, bars


def _live(seed: int, n: int, bps: float, noise_bps: float) -> pd.DataFrame:
    """The quality table of :func:`_live_inputs`, costed at 5 bps of slippage."""
    fills, decisions, bars = _live_inputs(seed, n, bps, noise_bps)
    return execution_quality(fills, decisions, bars, _linear(0.0, 5.0), instruments=STOCKS)


@pytest.mark.parametrize("seed", [12, 22, 32])
def test_fitting_recovers_the_slippage_the_fills_were_generated_with(seed: int) -> None:
    fills, decisions, bars = _live_inputs(seed, 600, 8.0, 3.0)
    table = execution_quality(fills, decisions, bars, _linear(0.0, 5.0), instruments=STOCKS)
    # t(3) noise of scale 3 bps: Huber's estimate is within a few standard errors of 8.
    huber = fit_costs(table, "slippage", method="huber")
    assert huber.params["bps"] == pytest.approx(8.0, abs=0.6)
    assert huber.fills == {"bps": 600}
    fit = fit_costs(table, "linear")
    assert fit.params["slippage_bps"] == pytest.approx(8.0, abs=1.0)
    assert fit.params["commission_bps"] == 0.0
    assert fit.fills == {"commission_bps": 600, "slippage_bps": 600}
    # Least squares weighted by notional: the total slippage over the total notional.
    paid = table["slippage_cost"].sum() / table["notional"].sum() * 1e4
    assert fit.params["slippage_bps"] == pytest.approx(paid, rel=1e-9)
    # A schedule built from the fit charges the same fills what they paid in total.
    slippage = fit_costs(table, "slippage")
    assert slippage.config().model_dump() == {"name": "slippage", "params": slippage.params}
    refit = CostSchedule.from_config(BacktestConfig(costs={AssetClass.STOCK: [slippage.config()]}))
    again = execution_quality(fills, decisions, bars, refit, instruments=STOCKS)
    assert again["predicted_cost"].sum() == pytest.approx(again["realised_cost"].sum(), rel=1e-9)


@pytest.mark.parametrize("method", ["least_squares", "huber"])
def test_a_noise_free_fit_is_exact(method: Literal["least_squares", "huber"]) -> None:
    table = _live(seed=13, n=30, bps=7.0, noise_bps=0.0)
    fit = fit_costs(table, "slippage", method=method)
    assert fit.params["bps"] == pytest.approx(7.0, rel=1e-9)
    assert fit.rmse["bps"] == pytest.approx(0.0, abs=1e-6)


def _synthetic(n: int, seed: int) -> pd.DataFrame:
    """A quality table's fitted columns, drawn at random."""
    rng = np.random.default_rng(seed)
    quantity = rng.choice([-1.0, 1.0], n) * rng.uniform(100, 10_000, n)
    price = rng.uniform(20, 200, n)
    return pd.DataFrame(
        {
            "skipped": "",
            "quantity": quantity,
            "notional": np.abs(quantity) * price,
            "sigma_daily": rng.uniform(0.005, 0.03, n),
            "adv": rng.uniform(1e5, 1e7, n),
            "half_spread": rng.uniform(1e-4, 5e-4, n),
            "maker": rng.random(n) < 0.3,
        }
    )


def test_sqrt_impact_k_is_recovered_net_of_the_schedules_spread() -> None:
    table = _synthetic(300, seed=14)
    x = table["sigma_daily"] * np.sqrt(table["quantity"].abs() / table["adv"])
    spread = table["half_spread"] * table["notional"]
    noise = np.random.default_rng(15).normal(0.0, 2e-5, len(table))
    table["predicted_half_spread"] = spread
    table["slippage_cost"] = spread + (0.7 * x + noise) * table["notional"]
    table["commission"] = 0.0
    fit = fit_costs(table, "sqrt_impact")
    assert fit.params["k"] == pytest.approx(0.7, abs=0.05)
    # No fill lacked sigma or ADV: the fallback keeps its configured value.
    assert "fallback_bps" not in fit.params
    assert any("fallback_bps not fitted" in note for note in fit.notes)
    # The slope is numpy's weighted least-squares one (weights: notional).
    root = np.sqrt(table["notional"].to_numpy())
    y = (table["slippage_cost"] - spread).to_numpy() / table["notional"].to_numpy()
    reference = np.linalg.lstsq((x.to_numpy() * root)[:, None], y * root, rcond=None)[0][0]
    assert fit.params["k"] == pytest.approx(reference, rel=1e-9)


def test_commission_models_fit_the_venues_commission() -> None:
    table = _synthetic(200, seed=16)
    table["slippage_cost"] = 0.0
    rate = np.where(table["maker"], 0.0008, 0.0012)
    table["commission"] = rate * table["notional"]
    fees = fit_costs(table, "crypto_fees")
    assert fees.params == pytest.approx({"maker_rate": 0.0008, "taker_rate": 0.0012}, rel=1e-9)
    table["commission"] = 0.004 * table["quantity"].abs()
    assert fit_costs(table, "per_share").params["rate"] == pytest.approx(0.004, rel=1e-9)
    table["commission"] = 1.25
    assert fit_costs(table, "per_order").params["amount"] == pytest.approx(1.25, rel=1e-9)


def test_a_negative_fit_is_clipped_at_zero_with_a_note() -> None:
    table = _live(seed=17, n=40, bps=-3.0, noise_bps=0.0)
    fit = fit_costs(table, "slippage")
    assert fit.params["bps"] == 0.0
    assert fit.notes and "clipped at 0" in fit.notes[0]


def test_too_few_fills_are_refused_in_one_line() -> None:
    table = _live(seed=18, n=MIN_FILLS - 1, bps=5.0, noise_bps=1.0)
    with pytest.raises(AlphaForgeError, match=f"Only {MIN_FILLS - 1} fills") as info:
        fit_costs(table, "slippage")
    assert info.value.hint and "\n" not in info.value.one_line()
    # Skipped fills do not count.
    table = _live(seed=19, n=MIN_FILLS + 2, bps=5.0, noise_bps=1.0)
    table.loc[table.index[:3], "skipped"] = "zero quantity"
    with pytest.raises(AlphaForgeError, match=f"Only {MIN_FILLS - 1} fills"):
        fit_costs(table, "slippage")


def test_models_that_fills_cannot_fit_are_refused() -> None:
    table = _synthetic(50, seed=20)
    with pytest.raises(AlphaForgeError, match="positions held"):
        fit_costs(table, "borrow")
    with pytest.raises(AlphaForgeError, match="not fitted from fills"):
        fit_costs(table, "sec_fee")
    with pytest.raises(AlphaForgeError, match="Unknown cost model"):
        fit_costs(table, "slipage")


def test_the_figure_draws_realised_against_predicted_and_the_delays() -> None:
    table = _live(seed=21, n=30, bps=6.0, noise_bps=2.0)
    figure = quality_figure(table)
    points = [t for t in figure.data if t.type == "scatter" and t.mode == "markers"]
    assert [t.name for t in points] == ["AAA"]
    assert np.asarray(points[0].y) == pytest.approx(table["realised_bps"].to_numpy())
    (line,) = [t for t in figure.data if t.type == "scatter" and t.mode == "lines"]
    assert list(line.x) == list(line.y)  # the 45-degree line
    (histogram,) = [t for t in figure.data if t.type == "histogram"]
    assert np.asarray(histogram.x) == pytest.approx(table["delay_s"].to_numpy())
