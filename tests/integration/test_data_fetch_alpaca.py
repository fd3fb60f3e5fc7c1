"""``alphaforge data fetch SPY --source alpaca`` fills the store from the fake Alpaca server."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from alphaforge.data.calendars import session_dates
from alphaforge.testing.fake_alpaca import FakeAlpaca

if TYPE_CHECKING:
    from conftest import RunCli


def _daily_bars(start: date, end: date) -> pd.DataFrame:
    sessions = session_dates("XNYS", start, end)
    rng = np.random.default_rng(5)
    close = 470.0 * np.exp(np.cumsum(rng.normal(0, 0.008, len(sessions))))
    # Alpaca stamps a stock's daily bar at midnight New York time.
    stamps = sessions.tz_localize(None).tz_localize("America/New_York").tz_convert("UTC")
    return pd.DataFrame(
        {
            "open": close * 0.998,
            "high": close * 1.006,
            "low": close * 0.994,
            "close": close,
            "volume": rng.integers(50_000_000, 90_000_000, len(sessions)).astype(float),
        },
        index=stamps,
    )


def test_fetch_from_alpaca_fills_the_store(run_cli: RunCli, tmp_path: Path) -> None:
    bars = _daily_bars(date(2024, 1, 2), date(2024, 6, 28))
    with FakeAlpaca(page_size=50) as fake:
        fake.set_bars("SPY", bars)
        env = {**fake.env(), "ALPHAFORGE_DATA__STORE_DIR": "store"}
        args = ["data", "fetch", "SPY", "--source", "alpaca", "--asset-class", "etf"]
        result = run_cli([*args, "--start", "2024-01-02", "--end", "2024-06-28"], tmp_path, env=env)
        assert result.returncode == 0, result.stdout + result.stderr
        assert fake.requests("GET", "/v2/stocks/bars") == -(-len(bars) // 50)

        again = run_cli([*args, "--start", "2024-01-02", "--end", "2024-06-28"], tmp_path, env=env)
        assert again.returncode == 0, again.stdout + again.stderr

    manifest = json.loads((tmp_path / "store" / "manifest.json").read_text(encoding="utf-8"))
    (entry,) = [e for k, e in manifest["series"].items() if "SPY" in k]
    assert entry["start"][:10] == "2024-01-02" and entry["end"][:10] == "2024-06-28"
    assert "SPY" in result.stdout and str(len(bars)) in result.stdout
    assert fake.api_key not in result.stdout + result.stderr


def test_fetch_from_alpaca_without_keys_is_one_line(run_cli: RunCli, tmp_path: Path) -> None:
    with FakeAlpaca() as fake:
        env: dict[str, str | None] = {**fake.env(), "ALPHAFORGE_DATA__STORE_DIR": "store"}
        env["ALPHAFORGE_SECRETS__ALPACA_API_KEY"] = None
        env["ALPHAFORGE_SECRETS__ALPACA_SECRET_KEY"] = None
        result = run_cli(
            ["data", "fetch", "SPY", "--source", "alpaca", "--start", "2024-01-02"],
            tmp_path,
            env=env,
        )
        assert fake.requests("GET", "/v2/stocks/bars") == 0
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "ALPHAFORGE_SECRETS__ALPACA_API_KEY" in result.stdout + result.stderr
