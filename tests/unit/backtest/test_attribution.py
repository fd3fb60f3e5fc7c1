"""Attribution tables over hand-built trades: totals, the as-of rule, open trades flagged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaforge.backtest.attribution import (
    SUMMARY_COLUMNS,
    asof_entry,
    costs_by_component,
    entry_features,
    pnl_by_asset_class,
    pnl_by_regime,
    pnl_by_sector,
    pnl_by_session,
    pnl_by_strategy,
    sizing_chain,
    trade_drivers,
)
from alphaforge.core.errors import DataError
from alphaforge.core.types import AssetClass, Instrument, Interval
from alphaforge.features.registry import compute
from alphaforge.features.testing import random_bars

NaT = pd.NaT


def _t(day: str) -> pd.Timestamp:
    return pd.Timestamp(day, tz="UTC")


def _trades() -> pd.DataFrame:
    """Five round trips; the A trade entered on 2024-01-08 is still open (marked)."""
    return pd.DataFrame(
        {
            "symbol": ["A", "B", "A", "C", "D"],
            "entry_time": [
                _t(d)
                for d in ("2024-01-03", "2024-01-04", "2024-01-08", "2024-01-06", "2024-01-05")
            ],
            "exit_time": [
                _t("2024-01-05"),
                _t("2024-01-08"),
                NaT,
                _t("2024-01-07"),
                _t("2024-01-09"),
            ],
            "quantity": [10.0, -5.0, 3.0, 0.5, 1.0],
            "entry_price": [100.0, 50.0, 110.0, 40000.0, 20.0],
            "exit_price": [110.0, 58.0, np.nan, 40020.0, 15.0],
            "pnl": [97.0, -41.5, 25.0, 9.0, -5.25],
            "costs": [3.0, 1.5, 1.0, 1.0, 0.25],
            "cost_commission": [2.0, 1.0, 1.0, 0.0, 0.25],
            "cost_slippage": [1.0, 0.5, 0.0, 1.0, 0.0],
            "strategy": ["s1", "s1", "s2", "s2", "s1"],
            "exit_reason": ["signal", "stop", "", "signal", "delisted"],
        }
    )


INSTRUMENTS = {
    "A": Instrument("A", AssetClass.STOCK, sector="Technology"),
    "B": Instrument("B", AssetClass.STOCK, sector="Energy"),
    "C": Instrument("C-USD", AssetClass.CRYPTO),
}


def _check_totals(table: pd.DataFrame, trades: pd.DataFrame) -> None:
    assert list(table.columns[-len(SUMMARY_COLUMNS) :]) == list(SUMMARY_COLUMNS)
    assert table["trades"].sum() == len(trades)
    assert table["open_trades"].sum() == trades["exit_time"].isna().sum()
    assert table["total_pnl"].sum() == pytest.approx(trades["pnl"].sum(), abs=1e-12)
    assert table["share_of_pnl"].sum() == pytest.approx(1.0)


def test_pnl_by_strategy_counts_open_trades_in_pnl_and_flags_them() -> None:
    trades = _trades()
    table = pnl_by_strategy(trades).set_index("strategy")
    _check_totals(table, trades)
    total = 97.0 - 41.5 + 25.0 + 9.0 - 5.25
    assert table.loc["s1"].to_dict() == pytest.approx(
        {
            "trades": 3,
            "open_trades": 0,
            "total_pnl": 97.0 - 41.5 - 5.25,
            "mean_pnl": (97.0 - 41.5 - 5.25) / 3,
            "win_rate": 1 / 3,
            "share_of_pnl": (97.0 - 41.5 - 5.25) / total,
        }
    )
    # s2's open trade counts in its P&L, not in its win rate (one closed trade, a win).
    assert table.loc["s2", "open_trades"] == 1
    assert table.loc["s2", "total_pnl"] == pytest.approx(34.0)
    assert table.loc["s2", "win_rate"] == 1.0


def test_asset_class_and_sector_tables_cover_every_trade() -> None:
    trades = _trades()
    by_class = pnl_by_asset_class(trades, INSTRUMENTS).set_index("asset_class")
    _check_totals(by_class, trades)
    assert by_class.loc["stock", "trades"] == 3
    assert by_class.loc["stock", "open_trades"] == 1
    assert by_class.loc["crypto", "total_pnl"] == pytest.approx(9.0)
    assert by_class.loc["unknown", "total_pnl"] == pytest.approx(-5.25)  # D: no instrument
    by_sector = pnl_by_sector(trades, INSTRUMENTS).set_index("sector")
    _check_totals(by_sector, trades)
    assert by_sector.loc["Technology", "total_pnl"] == pytest.approx(122.0)
    assert by_sector.loc["unknown", "trades"] == 2  # crypto has no sector; D is unknown


def _regimes() -> pd.DataFrame:
    """Regime values of A and B, stamped at each bar's open and known at its close."""
    rows = [
        ("2024-01-02", "A", 0.9, 0.1, 1.0),
        ("2024-01-03", "A", 0.1, 0.9, -1.0),  # A's entry bar: known only at its close
        ("2024-01-04", "A", 0.2, 0.8, 0.0),
        ("2024-01-05", "A", 0.3, 0.7, 0.0),
        ("2024-01-03", "B", 0.6, 0.4, -1.0),
        ("2024-01-04", "B", 0.0, 1.0, 1.0),  # B's entry bar
    ]
    index = pd.MultiIndex.from_arrays(
        [[_t(r[0]) for r in rows], [r[1] for r in rows]], names=["timestamp", "symbol"]
    )
    return pd.DataFrame(
        [r[2:] for r in rows],
        index=index,
        columns=["hmm_state_prob_0", "hmm_state_prob_1", "trend_regime_50_200"],
    )


def test_regime_is_read_at_the_decision_bar_never_at_or_after_entry() -> None:
    trades = _trades()
    table = pnl_by_regime(trades, _regimes())
    for _, rows in table.groupby("regime"):
        _check_totals(rows, trades)
    trend = table[table["regime"] == "trend_regime_50_200"].set_index("state")
    hmm = table[table["regime"] == "hmm_state"].set_index("state")
    # A on 01-03 reads 01-02 (up, state 0), not its own bar (down, state 1); B on 01-04
    # reads 01-03 (down, state 0), not 01-04 (up, state 1); A on 01-08 reads 01-05 (flat,
    # state 1); C and D have no regime values.
    assert trend.loc["up", "total_pnl"] == pytest.approx(97.0)
    assert trend.loc["down", "total_pnl"] == pytest.approx(-41.5)
    assert trend.loc["flat", "total_pnl"] == pytest.approx(25.0)
    assert trend.loc["flat", "open_trades"] == 1
    assert trend.loc["unknown", "trades"] == 2
    assert hmm.loc["state_0", "total_pnl"] == pytest.approx(97.0 - 41.5)
    assert hmm.loc["state_1", "total_pnl"] == pytest.approx(25.0)


def test_a_value_stamped_after_entry_is_never_used() -> None:
    trades = _trades().iloc[[0]]
    only_later = _regimes().loc[[(_t("2024-01-04"), "A"), (_t("2024-01-05"), "A")]]
    at_entry = asof_entry(trades, only_later)
    assert at_entry["decision_time"].isna().all()
    assert at_entry["trend_regime_50_200"].isna().all()
    # With bar lengths: a bar read must have closed by the entry.
    regimes = _regimes()
    one_day = asof_entry(trades, regimes, bar_length=pd.Timedelta(days=1))
    assert one_day["decision_time"].iloc[0] == _t("2024-01-02")  # closed 01-03 00:00
    two_days = asof_entry(trades, regimes, bar_length=pd.Timedelta(days=2))
    assert two_days["decision_time"].isna().all()  # 01-02 closes 01-04: after entry


def test_session_is_the_entry_bars_hours() -> None:
    trades = _trades()
    stamps = [_t(d) for d in ("2024-01-03", "2024-01-04", "2024-01-08", "2024-01-06")]
    index = pd.MultiIndex.from_arrays([stamps, ["A", "B", "A", "C"]], names=["timestamp", "symbol"])
    flags = pd.DataFrame(
        {
            "fx_sess_london": [1.0, 1.0, 0.0, np.nan],
            "fx_sess_newyork": [0.0, 1.0, 0.0, np.nan],
        },
        index=index,
    )
    table = pnl_by_session(trades, flags).set_index("session")
    _check_totals(table, trades)
    assert table.loc["fx_sess_london", "total_pnl"] == pytest.approx(97.0)
    assert table.loc["fx_sess_london+fx_sess_newyork", "total_pnl"] == pytest.approx(-41.5)
    assert table.loc["none", "open_trades"] == 1
    assert table.loc["unknown", "trades"] == 2  # C's flags are NaN, D has none


def test_costs_by_component_sum_to_the_trades_costs() -> None:
    trades = _trades()
    table = costs_by_component(trades).set_index("component")
    assert table["total"].sum() == pytest.approx(trades["costs"].sum())
    assert table.loc["commission", "total"] == pytest.approx(4.25)
    assert table.loc["slippage", "mean_per_trade"] == pytest.approx(2.5 / 5)
    assert table["share_of_costs"].sum() == pytest.approx(1.0)


def test_sizing_chain_sums_what_each_step_added_or_took() -> None:
    audit = pd.DataFrame(
        {
            "order": [1, 1, 1, 2, 2, 2],
            "step": ["target", "buying_power", "lot_rounding"] * 2,
            "before": [0.0, 100.0, 80.0, 0.0, -50.0, -50.0],
            "after": [100.0, 80.0, 80.0, -50.0, -50.0, -48.0],
            "price": [10.0, 10.0, 10.0, 20.0, 20.0, 20.0],
        }
    )
    table = sizing_chain(audit).set_index("step")
    assert list(table.index) == ["target", "buying_power", "lot_rounding"]
    assert table.loc["target", "units_added"] == 150.0
    assert table.loc["buying_power", "units_taken"] == -20.0
    assert table.loc["lot_rounding", "changed"] == 1
    assert table.loc["lot_rounding", "net_notional"] == -40.0
    # The steps together make the final sizes out of nothing.
    assert table["net_units"].sum() == 80.0 + 48.0
    assert table["net_notional"].sum() == 80.0 * 10 + 48.0 * 20
    without_price = sizing_chain(audit.drop(columns="price"))
    assert "net_notional" not in without_price.columns
    with pytest.raises(DataError, match="step"):
        sizing_chain(audit.drop(columns="step"))


def _contributions() -> pd.DataFrame:
    index = pd.MultiIndex.from_arrays(
        [[_t("2024-01-02"), _t("2024-01-03"), _t("2024-01-05")], ["A", "A", "D"]],
        names=["timestamp", "symbol"],
    )
    return pd.DataFrame(
        {
            "f1": [0.1, 9.0, 0.0],  # 9.0 is stamped at A's entry: never read for it
            "f2": [-0.5, 0.0, 0.3],
            "f3": [0.2, 0.0, -0.1],
            "bias": [-3.0, -3.0, -3.0],
        },
        index=index,
    ).astype(np.float32)


def test_trade_drivers_rank_features_at_the_decision_bar() -> None:
    trades = _trades()
    drivers = trade_drivers(trades, _contributions(), top=2)
    # Trade 0 (A, 01-03) reads A's 01-02 row; trade 2 (A, 01-08) reads A's 01-03 row;
    # D's only row is stamped at its entry, so trade 4 has none; B and C have none.
    assert sorted(set(drivers["trade"])) == [0, 2]
    first = drivers[drivers["trade"] == 0]
    assert list(first["feature"]) == ["f2", "f3"]
    assert list(first["rank"]) == [1, 2]
    assert first["contribution"].to_numpy() == pytest.approx([-0.5, 0.2])
    assert (first["decision_time"] == _t("2024-01-02")).all()
    assert "bias" not in set(drivers["feature"])
    assert drivers[drivers["trade"] == 2]["feature"].iloc[0] == "f1"


def test_trade_drivers_per_model() -> None:
    one = _contributions()
    two = one.copy()
    two["f3"] = np.float32(5.0)
    both = pd.concat([one.assign(model="lightgbm"), two.assign(model="xgboost")])
    drivers = trade_drivers(_trades(), both, top=1)
    first = drivers[drivers["trade"] == 0].set_index("model")["feature"]
    assert first.to_dict() == {"lightgbm": "f2", "xgboost": "f3"}


def test_bad_tables_are_refused_in_one_line() -> None:
    with pytest.raises(DataError, match="lacks column"):
        pnl_by_strategy(_trades().drop(columns="pnl"))
    flat = _regimes().reset_index()
    with pytest.raises(DataError, match="indexed by"):
        pnl_by_regime(_trades(), flat)
    with pytest.raises(DataError, match="top"):
        trade_drivers(_trades(), _contributions(), top=0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_totals_hold_for_random_trades(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 40
    symbols = rng.choice(["A", "B", "C", "D"], n)
    entry = _t("2024-01-01") + pd.to_timedelta(rng.integers(0, 30, n), unit="D")
    trades = pd.DataFrame(
        {
            "symbol": symbols,
            "entry_time": entry,
            "exit_time": entry.where(rng.random(n) > 0.2) + pd.Timedelta(days=2),
            "pnl": rng.normal(size=n),
            "strategy": rng.choice(["x", "y"], n),
        }
    )
    stamps = pd.date_range("2023-12-20", periods=45, freq="D", tz="UTC")
    index = pd.MultiIndex.from_product([stamps, ["A", "B", "C"]], names=["timestamp", "symbol"])
    regimes = pd.DataFrame(
        {
            "hmm_state_prob_0": rng.random(len(index)),
            "trend_regime_50_200": rng.choice([-1.0, 0.0, 1.0, np.nan], len(index)),
        },
        index=index,
    )
    regimes["hmm_state_prob_1"] = 1 - regimes["hmm_state_prob_0"]
    tables = [
        pnl_by_strategy(trades),
        pnl_by_asset_class(trades, INSTRUMENTS),
        pnl_by_sector(trades, INSTRUMENTS),
        *(rows for _, rows in pnl_by_regime(trades, regimes).groupby("regime")),
    ]
    for table in tables:
        _check_totals(table, trades)


def test_entry_features_computes_regime_and_session_values_like_training() -> None:
    daily = {"A": random_bars(0, 650), "B": random_bars(1, 650)}
    instruments = {"A": Instrument("A", AssetClass.STOCK, sector="Technology")}
    frame = entry_features(daily, instruments, interval=Interval.D1)
    assert list(frame.index.names) == ["timestamp", "symbol"]
    assert {"hmm_state_prob_0", "hmm_state_prob_1", "trend_regime_50_200"} <= set(frame.columns)
    own = frame.xs("A", level="symbol")["trend_regime_50_200"]
    expected = compute(daily["A"], ["trend_regime_50_200"])["trend_regime_50_200"]
    pd.testing.assert_series_equal(own, expected, check_names=False, check_freq=False)
    probs = frame[["hmm_state_prob_0", "hmm_state_prob_1"]].dropna()
    assert len(probs) > 0
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-9)
    # Intraday forex bars get the forex session flags; daily bars get none.
    hourly = {"EURUSD": random_bars(2, 300, freq="1h")}
    fx = entry_features(hourly, {"EURUSD": Instrument("EURUSD", AssetClass.FOREX)})
    assert {"fx_sess_asia", "fx_sess_london", "fx_sess_newyork"} <= set(fx.columns)
    assert not any(c.startswith("fx_sess") for c in frame.columns)
