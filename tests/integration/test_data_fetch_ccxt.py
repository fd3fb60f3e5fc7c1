"""``alphaforge data fetch --source ccxt`` fills the store from the fake Binance exchange."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pytest

from alphaforge.core import AssetClass, Interval
from alphaforge.storage import BarStore
from alphaforge.testing.fake_binance import FakeBinance
from alphaforge.testing.fake_binance_records import synthetic_candle

if TYPE_CHECKING:
    from conftest import RunCli

DAY_MS = 86_400_000


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    with FakeBinance() as server:
        yield server


def test_data_fetch_fills_the_store_from_the_fake(
    run_cli: RunCli, tmp_path: Path, fake: FakeBinance
) -> None:
    env = {**fake.env(), "ALPHAFORGE_DATA__STORE_DIR": "store"}
    args = ["data", "fetch", "BTC-USD", "--source", "ccxt", "-a", "crypto"]
    window = ["--start", "2024-01-01", "--end", "2024-01-31"]
    result = run_cli([*args, *window], tmp_path, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BTC-USD" in result.stdout

    store = BarStore(tmp_path / "store")
    bars = store.read("BTC-USD", Interval.D1, asset_class=AssetClass.CRYPTO)
    expected = pd.date_range("2024-01-01", "2024-01-31", freq="D", tz="UTC")
    assert list(bars.index) == list(expected)
    first = synthetic_candle("BTCUSDT", DAY_MS, int(expected[0].value // 1_000_000), fake.seed)
    assert bars.iloc[0]["close"] == pytest.approx(float(first[4]))
    assert fake.requests[("GET", "/api/v3/klines")] >= 1
    # Public candles: no signed endpoint was called.
    assert not any(path in {"/api/v3/account", "/api/v3/order"} for _, path in fake.requests)

    # A second fetch downloads only what the store lacks.
    again = run_cli([*args, "--start", "2024-01-01", "--end", "2024-02-10"], tmp_path, env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    grown = store.read("BTC-USD", Interval.D1, asset_class=AssetClass.CRYPTO)
    assert grown.index[-1] == pd.Timestamp("2024-02-10", tz="UTC")
    pd.testing.assert_frame_equal(grown.loc[bars.index], bars)


def test_an_unknown_pair_is_one_line(run_cli: RunCli, tmp_path: Path, fake: FakeBinance) -> None:
    env = {**fake.env(), "ALPHAFORGE_DATA__STORE_DIR": "store"}
    args = ["data", "fetch", "DOGE-USD", "--source", "ccxt", "-a", "crypto"]
    result = run_cli([*args, "--start", "2024-01-01", "--end", "2024-01-05"], tmp_path, env=env)
    assert result.returncode != 0
    assert "DOGE-USD" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
