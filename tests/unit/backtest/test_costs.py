"""Cost models: a hand-computed golden value per member, the fee rules, and the schedule."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import yaml

from alphaforge.backtest.costs import (
    COST_MODELS,
    COST_PRESETS,
    CostSchedule,
    HoldingBatch,
    TradeBatch,
    create_cost_model,
    describe_cost_models,
)
from alphaforge.backtest.costs.fx_spread import FxSpread
from alphaforge.backtest.costs.sqrt_impact import SqrtImpact
from alphaforge.config import BacktestConfig
from alphaforge.config.models import CostModelConfig
from alphaforge.core.errors import AlphaForgeError, ConfigError, DataError
from alphaforge.core.types import AssetClass

NAN = math.nan


def _close(actual: npt.ArrayLike, expected: list[float]) -> None:
    np.testing.assert_allclose(np.asarray(actual), expected, rtol=1e-12, atol=1e-12)


def _model(name: str, **params: float | str | dict[str, float]) -> object:
    return create_cost_model(CostModelConfig(name=name, params=params))


def _trade(name: str, batch: TradeBatch, **params: float | str | dict[str, float]) -> object:
    return _model(name, **params).trade_costs(batch)  # type: ignore[attr-defined]


def _hold(name: str, batch: HoldingBatch, **params: float | str | dict[str, float]) -> object:
    return _model(name, **params).holding_costs(batch)  # type: ignore[attr-defined]


def _batch(
    price: list[float],
    quantity: list[float],
    *,
    symbols: tuple[str, ...] | None = None,
    sigma: list[float] | None = None,
    adv: list[float] | None = None,
    half_spread: list[float] | None = None,
    maker: list[bool] | None = None,
) -> TradeBatch:
    base = TradeBatch.simple(price, quantity, symbols)
    n = len(price)
    return TradeBatch(
        base.price,
        base.quantity,
        base.symbols,
        np.asarray(sigma if sigma is not None else [NAN] * n, dtype=np.float64),
        np.asarray(adv if adv is not None else [NAN] * n, dtype=np.float64),
        np.asarray(half_spread if half_spread is not None else [NAN] * n, dtype=np.float64),
        np.asarray(maker if maker is not None else [False] * n, dtype=bool),
    )


# --- commissions ------------------------------------------------------------------------------


def test_per_share_rate_minimum_and_cap() -> None:
    batch = _batch([50.0, 20.0, 5.0, 10.0], [1000.0, -100.0, 10.0, 0.0])
    # 1000 x 0.005 = 5.00; 100 x 0.005 = 0.50 -> minimum 1.00; 10 x 0.005 = 0.05 -> 1.00,
    # capped at 1 % of $50 = 0.50 (the cap wins, as at IBKR); no quantity, no commission.
    _close(_trade("per_share", batch), [5.0, 1.0, 0.5, 0.0])
    _close(_trade("per_share", batch, max_fraction=math.inf), [5.0, 1.0, 1.0, 0.0])


def test_per_order_charges_each_fill_with_quantity() -> None:
    batch = _batch([10.0, 99.0, 5.0], [100.0, -3.0, 0.0])
    _close(_trade("per_order", batch, amount=2.5), [2.5, 2.5, 0.0])


def test_tiered_rates_are_marginal() -> None:
    batch = _batch([100.0, 50.0, 10.0, 10.0], [5000.0, -100.0, 200.0, 1.0])
    # 300 x 0.0035 + 2,700 x 0.002 + 2,000 x 0.0015 = 1.05 + 5.40 + 3.00 = 9.45;
    # 100 x 0.0035 = 0.35 (= the minimum); 200 x 0.0035 = 0.70;
    # 1 x 0.0035 -> minimum 0.35, capped at 1 % of $10 = 0.10.
    _close(_trade("tiered", batch), [9.45, 0.35, 0.70, 0.10])


def test_tiered_bounds_in_any_order() -> None:
    batch = _batch([1000.0], [-150.0])
    costs = _trade(
        "tiered",
        batch,
        tiers={"inf": 0.001, "100": 0.01},
        min_per_order=0.0,
        max_fraction=math.inf,
    )
    _close(costs, [100 * 0.01 + 50 * 0.001])  # 1.05


# --- regulatory fees --------------------------------------------------------------------------


def test_sec_fee_on_sells_only() -> None:
    batch = _batch([50.0, 50.0], [-1000.0, 1000.0])
    _close(_trade("sec_fee", batch), [1.39, 0.0])  # $50,000 sold x 0.0000278


def test_finra_taf_on_sells_only_and_capped() -> None:
    batch = _batch([10.0] * 5, [-1000.0, -50_000.0, -60_000.0, 100_000.0, 0.0])
    # 1,000 x 0.000166 = 0.166; 50,000 shares reach the cap exactly (8.30); 60,000 would be
    # 9.96 -> 8.30; buys pay nothing.
    _close(_trade("finra_taf", batch), [0.166, 8.30, 8.30, 0.0, 0.0])
    _close(_trade("finra_taf", batch, cap=5.0), [0.166, 5.0, 5.0, 0.0, 0.0])


# --- crypto and forex -------------------------------------------------------------------------


def test_crypto_maker_and_taker() -> None:
    batch = _batch([30_000.0, 30_000.0], [2.0, -2.0], maker=[True, False])
    _close(_trade("crypto_fees", batch), [60.0, 90.0])  # 0.10 % and 0.15 % of $60,000


def test_fx_spread_majors_exotics_and_jpy_pips() -> None:
    symbols = ("EURUSD", "USDJPY", "EUR/TRY", "GBPUSD=X", "EURJPY")
    batch = _batch(
        [1.1, 150.0, 35.0, 1.25, 160.0],
        [100_000.0, -100_000.0, 10_000.0, 50_000.0, 100_000.0],
        symbols=symbols,
    )
    expected = [
        # half of 1 pip x 100,000 = 5 USD, + $5 per 100k
        0.5 * 0.0001 * 100_000 + 5.0,
        # JPY pip 0.01: 500 JPY, + $5 x 150 JPY/USD = 750 JPY
        0.5 * 0.01 * 100_000 + 750.0,
        # exotic 10 pips: 5 TRY, + 0.5 (a cross: charged in quote units)
        0.5 * 10 * 0.0001 * 10_000 + 0.5,
        0.5 * 0.0001 * 50_000 + 2.5,
        # EURJPY is not a default major: 10 pips of 0.01 = 5,000 JPY, + 5 (cross)
        0.5 * 10 * 0.01 * 100_000 + 5.0,
    ]
    _close(_trade("fx_spread", batch), expected)
    assert expected[:2] == [10.0, 1250.0]


def test_fx_spread_per_pair_override() -> None:
    batch = _batch([0.85], [200_000.0], symbols=("EURGBP",))
    _close(_trade("fx_spread", batch, spreads={"EUR/GBP": 1.5}), [15.0 + 10.0])


def test_fx_spread_refuses_a_symbol_that_is_no_pair() -> None:
    with pytest.raises(DataError, match="AAPL"):
        FxSpread().trade_costs(_batch([100.0], [10.0], symbols=("AAPL",)))


# --- spread, slippage, impact -----------------------------------------------------------------


def test_half_spread_with_fallback() -> None:
    batch = _batch([20.0, 10.0, 30.0], [100.0, -200.0, 50.0], half_spread=[0.0005, NAN, -0.001])
    # $2,000 x 5 bps = 1.00; unknown -> fallback 4 bps of $2,000 = 0.80; negative -> 0.
    _close(_trade("half_spread", batch, fallback_bps=4.0), [1.0, 0.8, 0.0])


def test_slippage_bps() -> None:
    _close(_trade("slippage", _batch([40.0], [-300.0]), bps=7.0), [8.4])  # $12,000 x 7 bps


def test_sqrt_impact_and_its_fallback() -> None:
    batch = _batch(
        [50.0, 20.0, 10.0],
        [10_000.0, -1000.0, 100.0],
        sigma=[0.02, NAN, 0.01],
        adv=[1_000_000.0, 5000.0, 0.0],
    )
    # 0.5 x 0.02 x sqrt(10,000 / 1,000,000) = 10 bps of $500,000 = 500; unknown sigma and
    # zero ADV pay the 10 bps fallback: $20,000 -> 20, $1,000 -> 1.
    _close(_trade("sqrt_impact", batch, k=0.5), [500.0, 20.0, 1.0])
    assert SqrtImpact().unpriced(batch).tolist() == [False, True, True]
    _close(_trade("sqrt_impact", batch, fallback_bps=0.0), [1000.0, 0.0, 0.0])


# --- holding costs ----------------------------------------------------------------------------


def test_borrow_actual_360_on_shorts_only() -> None:
    batch = HoldingBatch(
        np.array([-100_000.0, 50_000.0, -20_000.0]),
        np.array([3.0, 3.0, 1.0]),
        ("AAPL", "MSFT", "GME"),
    )
    # 3 % x $100,000 x 3 / 360 = 25.00; a long pays 0; GME at 36 % for one day: 20.00.
    _close(_hold("borrow", batch, rate=0.03, rates={"GME": 0.36}), [25.0, 0.0, 20.0])


def test_fx_carry_sign() -> None:
    batch = HoldingBatch(
        np.array([3_650_000.0, -3_650_000.0, 1_000_000.0, 1_000_000.0]),
        np.array([1.0, 1.0, 73.0, 5.0]),
        ("AUDJPY", "AUD/JPY", "EURUSD=X", "GBPUSD"),
    )
    rates = {"AUD/JPY": 0.04, "EURUSD": -0.015}
    # Long AUDJPY earns 4 % a year: -400 JPY a day (a credit); the short pays 400;
    # long EURUSD pays 1.5 % for 73 days: 3,000 USD; a pair without a rate carries nothing.
    _close(_hold("fx_carry", batch, rates=rates), [-400.0, 400.0, 3000.0, 0.0])


# --- building models --------------------------------------------------------------------------


def test_unknown_model_names_the_closest() -> None:
    with pytest.raises(AlphaForgeError) as info:
        create_cost_model(CostModelConfig(name="per_shares"))
    line = info.value.one_line()
    assert "per_shares" in line
    assert "per_share" in info.value.hint
    assert "\n" not in line


@pytest.mark.parametrize(
    ("name", "params", "words"),
    [
        ("per_share", {"rate_per_share": 0.01}, "rate_per_share"),
        ("sec_fee", {"rate": -0.1}, "rate"),
        ("slippage", {"bps": NAN}, "bps"),
        ("tiered", {"tiers": {"300": 0.0035}}, "inf"),
        ("tiered", {"tiers": {"many": 0.0035, "inf": 0.001}}, "many"),
        ("fx_spread", {"majors": "EURUSD,EURO"}, "EURO"),
        ("fx_carry", {"rates": {"EUR": 0.01}}, "EUR"),
        ("borrow", {"rates": {"GME": -0.1}}, "GME"),
    ],
)
def test_bad_parameter_is_a_one_line_config_error(
    name: str, params: dict[str, float | str | dict[str, float]], words: str
) -> None:
    with pytest.raises(ConfigError) as info:
        create_cost_model(CostModelConfig(name=name, params=params))
    line = info.value.one_line()
    assert "\n" not in line
    assert name in line
    assert words in line


def test_schedule_per_asset_class_with_linear_default() -> None:
    config = BacktestConfig(
        commission_bps=2.0,
        slippage_bps=3.0,
        costs={
            AssetClass.STOCK: [
                CostModelConfig(name="per_share"),
                CostModelConfig(name="sec_fee"),
                CostModelConfig(name="borrow", params={"rate": 0.03}),
            ],
            AssetClass.CRYPTO: [CostModelConfig(name="crypto_fees")],
        },
    )
    schedule = CostSchedule.from_config(config)
    assert [n for n, _ in schedule.models(AssetClass.STOCK)] == ["per_share", "sec_fee", "borrow"]
    assert [n for n, _ in schedule.models(AssetClass.FOREX)] == ["linear"]
    assert schedule.components() == ["linear", "per_share", "sec_fee", "borrow", "crypto_fees"]

    batch = _batch([50.0], [-1000.0])
    stock = schedule.trade_costs(AssetClass.STOCK, batch)
    assert list(stock) == ["per_share", "sec_fee"]
    _close(stock["per_share"], [5.0])
    _close(stock["sec_fee"], [1.39])
    # The unnamed class pays (2 + 3) bps of $50,000.
    _close(schedule.trade_costs(AssetClass.ETF, batch)["linear"], [25.0])
    held = HoldingBatch(np.array([-36_000.0]), np.array([1.0]), ("AAPL",))
    _close(schedule.holding_costs(AssetClass.STOCK, held)["borrow"], [3.0])
    assert schedule.holding_costs(AssetClass.CRYPTO, held) == {}


@pytest.mark.parametrize("preset", sorted(COST_PRESETS))
def test_every_preset_builds(preset: str) -> None:
    schedule = CostSchedule.from_config(BacktestConfig(costs=COST_PRESETS[preset]))
    assert set(schedule.by_class) == set(COST_PRESETS[preset])


def test_realistic_us_preset() -> None:
    schedule = CostSchedule.from_config(BacktestConfig(costs=COST_PRESETS["realistic_us"]))
    stock = ["per_share", "sec_fee", "finra_taf", "half_spread", "sqrt_impact", "borrow"]
    assert [n for n, _ in schedule.models(AssetClass.STOCK)] == stock
    assert [n for n, _ in schedule.models(AssetClass.ETF)] == stock
    assert [n for n, _ in schedule.models(AssetClass.CRYPTO)] == ["crypto_fees", "half_spread"]
    assert [n for n, _ in schedule.models(AssetClass.FOREX)] == ["fx_spread", "fx_carry"]


def test_describe_lists_every_model_and_parameter() -> None:
    listing = {str(entry["name"]): entry for entry in describe_cost_models()}
    assert list(listing) == COST_MODELS.names()
    per_share = listing["per_share"]
    assert per_share["kind"] == "trade"
    assert listing["borrow"]["kind"] == "holding"
    assert per_share["parameters"] == [
        {"name": "rate", "default": 0.005, "description": "Commission per share, quote currency."},
        {
            "name": "min_per_order",
            "default": 1.0,
            "description": "Minimum commission per fill, quote currency.",
        },
        {
            "name": "max_fraction",
            "default": 0.01,
            "description": "Maximum commission as a fraction of notional (.inf: no cap).",
        },
    ]
    assert listing["tiered"]["parameters"][0]["default"] == {  # type: ignore[index]
        "300": 0.0035,
        "3000": 0.002,
        "inf": 0.0015,
    }
    for entry in listing.values():
        assert entry["summary"]
        for param in entry["parameters"]:  # type: ignore[attr-defined]
            assert param["description"]


def test_the_documented_yaml_builds() -> None:
    text = (Path(__file__).resolve().parents[3] / "docs" / "costs.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(.*?)```", text, re.DOTALL)
    assert block is not None
    config = BacktestConfig.model_validate(yaml.safe_load(block.group(1))["backtest"])
    schedule = CostSchedule.from_config(config)
    assert [n for n, _ in schedule.models(AssetClass.ETF)] == ["tiered"]
    tiered = schedule.models(AssetClass.ETF)[0][1]
    assert tiered.max_fraction == math.inf  # type: ignore[attr-defined]
    assert [n for n, _ in schedule.models(AssetClass.FUTURE)] == ["linear"]


def test_proportional_rate_reads_the_symbol() -> None:
    forex = [CostModelConfig(name="fx_spread", params={"commission_per_100k": 0.0})]
    schedule = CostSchedule.from_config(BacktestConfig(costs={AssetClass.FOREX: forex}))
    # Half of one pip (0.0001) per unit of EURUSD at 1.25, as a fraction of the price.
    rate = schedule.proportional_rate(AssetClass.FOREX, 1.25, "EURUSD")
    _close([rate], [0.00005 / 1.25])
    _close([schedule.proportional_rate(AssetClass.STOCK, 40.0)], [6e-4])  # linear 1 + 5 bps


def test_a_cost_preset_names_every_asset_class_schedule() -> None:
    from alphaforge.backtest.costs import CostSchedule
    from alphaforge.config import BacktestConfig
    from alphaforge.core.errors import ConfigError
    from alphaforge.core.types import AssetClass

    schedule = CostSchedule.from_config(BacktestConfig(costs="realistic_us"))
    names = [name for name, _ in schedule.models(AssetClass.STOCK)]
    assert names == ["per_share", "sec_fee", "finra_taf", "half_spread", "sqrt_impact", "borrow"]
    assert [n for n, _ in schedule.models(AssetClass.CRYPTO)] == ["crypto_fees", "half_spread"]
    # A class the preset leaves out pays the linear default.
    assert [n for n, _ in schedule.models(AssetClass.INDEX)] == ["linear"]
    with pytest.raises(ConfigError, match="Unknown cost preset") as info:
        CostSchedule.from_config(BacktestConfig(costs="realistic"))
    assert "realistic_us" in info.value.one_line()
