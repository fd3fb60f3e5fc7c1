"""Open the tear sheet of a small synthetic run in headless Chromium: every chart draws data,
the log toggle works, nothing is fetched from the network, the console stays clean, and a run
without trades shows its note. A screenshot of each page is saved under pytest's tmp_path."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pytest
from tests.integration.browser import CHROMIUM, CHROMIUM_ARGS

from alphaforge.backtest.metrics import TRADE_COLUMNS, full_metrics
from alphaforge.backtest.tearsheet import TearSheetData, render_tearsheet
from alphaforge.backtest.vectorized import BacktestResult
from alphaforge.validation.ledger import TrialLedger

CAPITAL = 100_000.0
COMMISSION = 0.0005  # of traded notional
SLIPPAGE = 0.0002

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed at /usr/bin/chromium "
    "(.ci/run installs it: apt-get install -y chromium)",
)

#: For each plotted div: how many traces have at least one finite point.
_TRACES_WITH_POINTS = """
() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(gd => {
  const finite = v => typeof v === 'number' && Number.isFinite(v);
  const flat = a => (a == null ? [] : Array.from(a).flatMap(v =>
      (v != null && typeof v === 'object' && v.length !== undefined) ? Array.from(v) : [v]));
  const drawn = gd._fullData.filter(t => t.visible !== false && (
      flat(t.y).some(finite) || flat(t.z).some(finite) ||
      (t.type === 'histogram' && flat(t.x).some(finite))));
  return {id: gd.id, traces: gd._fullData.length, drawn: drawn.length};
})
"""


class _Simulation(NamedTuple):
    equity: pd.DataFrame
    trades: pd.DataFrame
    costs: pd.DataFrame


def _simulate(price: np.ndarray, idx: pd.DatetimeIndex, window: int, *, trade: bool) -> _Simulation:
    """Run a ``window``-bar moving-average long/flat rule on one price series.

    The signal at the close of bar t-1 trades at bar t's price (whole shares, 98 % of cash);
    commission and slippage are fractions of traded notional.
    """
    average = pd.Series(price).rolling(window).mean().to_numpy()
    cash, qty = CAPITAL, 0.0
    entry: tuple[pd.Timestamp, float, float] | None = None
    rows: list[dict[str, Any]] = []
    trades: list[dict[str, Any]] = []
    costs = np.zeros((len(price), 2))
    for t in range(len(price)):
        want = trade and t > window and price[t - 1] > average[t - 1]
        if want and qty == 0:
            qty = math.floor(cash * 0.98 / price[t])
            costs[t] = (COMMISSION * qty * price[t], SLIPPAGE * qty * price[t])
            cash -= qty * price[t] + costs[t].sum()
            entry = (idx[t], price[t], float(costs[t].sum()))
        elif not want and qty > 0 and entry is not None:
            costs[t] = (COMMISSION * qty * price[t], SLIPPAGE * qty * price[t])
            cash += qty * price[t] - costs[t].sum()
            paid = entry[2] + float(costs[t].sum())
            trades.append(
                {
                    "symbol": "SYN",
                    "entry_time": entry[0],
                    "exit_time": idx[t],
                    "quantity": qty,
                    "entry_price": entry[1],
                    "exit_price": price[t],
                    "pnl": qty * (price[t] - entry[1]) - paid,
                    "costs": paid,
                    "strategy": f"ma{window}",
                    "exit_reason": "signal",
                }
            )
            qty, entry = 0.0, None
        value = qty * price[t]
        rows.append(
            {
                "timestamp": idx[t],
                "equity": cash + value,
                "cash": cash,
                "gross_exposure": abs(value),
                "net_exposure": value,
            }
        )
    table = pd.DataFrame(trades, columns=list(TRADE_COLUMNS)).astype(
        {"entry_time": "datetime64[ns, UTC]", "exit_time": "datetime64[ns, UTC]"}
    )
    cost_frame = pd.DataFrame(costs, index=idx, columns=["commission", "slippage"])
    return _Simulation(pd.DataFrame(rows), table, cost_frame)


def _returns(equity: pd.DataFrame) -> pd.Series:
    curve = equity.set_index("timestamp")["equity"]
    return curve / curve.shift(1, fill_value=CAPITAL) - 1.0


def _synthetic_run(
    n: int, seed: int, *, trade: bool, ledger_path: Path
) -> tuple[TearSheetData, dict[str, float]]:
    """Return the tear sheet data and metrics of a 20-bar rule on a random walk.

    Windows 10 to 40 form the sweep: each is recorded in a trial ledger (for the deflated
    Sharpe) and their returns give the PBO.
    """
    rng = np.random.default_rng(seed)
    idx = pd.bdate_range("2021-01-04 21:00", periods=n, tz="UTC", name="timestamp")
    price = 100.0 * np.cumprod(1.0 + rng.normal(0.0006, 0.015, n))
    bench = pd.Series(CAPITAL * np.cumprod(1.0 + rng.normal(0.0003, 0.01, n)), index=idx)
    run = _simulate(price, idx, 20, trade=trade)
    returns = _returns(run.equity)
    sweep = pd.DataFrame(
        {w: _returns(_simulate(price, idx, w, trade=trade).equity) for w in (10, 20, 30, 40)}
    )
    curve = run.equity.set_index("timestamp")["equity"]
    result = BacktestResult(
        returns=returns,
        gross_returns=returns + run.costs.sum(axis=1) / curve.shift(1, fill_value=CAPITAL),
        turnover=run.equity.set_index("timestamp")["gross_exposure"].diff().abs().fillna(0.0)
        / curve,
        costs=run.costs.sum(axis=1),
        equity=curve,
        weights=run.equity.set_index("timestamp")[["net_exposure"]].div(curve, axis=0),
    )
    with TrialLedger(ledger_path) as ledger:
        for window, series in sweep.items():
            ledger.record(
                experiment="ma-sweep",
                config={"window": window},
                kind="variant",
                seed=seed,
                code_version="test",
                returns=series,
            )
        metrics = full_metrics(
            result,
            periods_per_year=252.0,
            initial_capital=CAPITAL,
            trades=run.trades,
            equity_frame=run.equity,
            benchmark_returns=bench.pct_change(),
            ledger=ledger,
            experiment="ma-sweep",
            sweep_returns=sweep,
        )
    attribution = {
        "P&L by strategy": run.trades.groupby("strategy")[["pnl", "costs"]].sum(),
        "Costs by component": run.costs.sum().rename_axis("component").to_frame("cost (USD)"),
    }
    data = TearSheetData(
        title="MA(20) long/flat on SYN (synthetic)",
        equity=run.equity,
        returns=returns,
        trades=run.trades,
        costs=run.costs,
        metrics=metrics,
        run_facts={
            "seed": str(seed),
            "code version": "test",
            "data range": f"{idx[0].date()} to {idx[-1].date()}",
            "config": "synthetic (built in the test)",
        },
        attribution=attribution,
        benchmark=bench,
    )
    return data, metrics


@pytest.fixture(scope="module")
def browser() -> Any:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _open(browser: Any, page_path: Path) -> tuple[Any, list[str], list[str]]:
    """Open the page with the network cut off; return it, its console errors, its requests."""
    context = browser.new_context(viewport={"width": 1320, "height": 900})
    errors: list[str] = []
    requests: list[str] = []

    def refuse(route: Any) -> None:
        requests.append(route.request.url)
        route.abort()

    context.route("http://**", refuse)
    context.route("https://**", refuse)
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(page_path.as_uri(), wait_until="load")
    page.wait_for_function(
        "document.querySelectorAll('.js-plotly-plot').length === "
        "document.querySelectorAll('script.figure').length"
    )
    return page, errors, requests


def test_every_chart_draws_data_offline_without_console_errors(
    browser: Any, tmp_path: Path
) -> None:
    data, metrics = _synthetic_run(320, seed=13, trade=True, ledger_path=tmp_path / "l.sqlite")
    # A normal run: winning and losing trades, every metric of the page defined.
    assert metrics["trades"] >= 5
    assert 0.0 < metrics["win_rate"] < 1.0
    assert 0.0 <= metrics["pbo"] <= 1.0
    assert metrics["n_trials"] == 4.0
    page_path = render_tearsheet(data, tmp_path / "run")
    page, errors, requests = _open(browser, page_path)

    plots = page.evaluate(_TRACES_WITH_POINTS)
    assert [p["id"] for p in plots] == [
        "chart-equity",
        "chart-underwater",
        "chart-monthly",
        "chart-rolling",
        "chart-exposure",
        "chart-returns",
        "chart-trades",
        "chart-costs",
    ]
    for plot in plots:
        assert plot["drawn"] >= 1, plot
    assert page.locator(".empty").count() == 0
    # Benchmark and strategy both drawn; the cost chart stacks both components.
    assert {p["id"]: p["drawn"] for p in plots}["chart-equity"] == 2
    assert {p["id"]: p["drawn"] for p in plots}["chart-costs"] == 2

    # The log-scale toggle switches the equity axis.
    page.locator("#chart-equity .updatemenu-button").nth(1).click()
    page.wait_for_function(
        "document.getElementById('chart-equity')._fullLayout.yaxis.type === 'log'"
    )
    page.locator("#chart-equity .updatemenu-button").nth(0).click()
    page.wait_for_function(
        "document.getElementById('chart-equity')._fullLayout.yaxis.type === 'linear'"
    )

    assert page.locator("table.data-table").count() == 2
    shot = tmp_path / "tearsheet.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 50_000
    assert errors == []
    assert requests == []


def test_a_run_without_trades_shows_the_note_in_the_browser(browser: Any, tmp_path: Path) -> None:
    data, metrics = _synthetic_run(120, seed=3, trade=False, ledger_path=tmp_path / "l.sqlite")
    assert metrics["trades"] == 0.0
    assert math.isnan(metrics["win_rate"])
    page, errors, requests = _open(browser, render_tearsheet(data, tmp_path / "run"))
    note = page.locator("#empty-trades")
    assert note.is_visible()
    assert "No trades" in note.inner_text()
    assert page.locator("#chart-trades").count() == 0
    for plot in page.evaluate(_TRACES_WITH_POINTS):
        assert plot["drawn"] >= 1, plot
    page.screenshot(path=str(tmp_path / "tearsheet_no_trades.png"), full_page=True)
    assert errors == []
    assert requests == []
