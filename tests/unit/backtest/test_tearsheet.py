"""The tear sheet: files written atomically, data files equal to the inputs and to independent
computations of the derived series, and notes instead of empty charts."""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphaforge.backtest.charts import figure_json, format_metric, plotly_js
from alphaforge.backtest.tearsheet import (
    TEARSHEET_DATA_DIR,
    TearSheetData,
    monthly_returns,
    render_tearsheet,
    rolling_sharpe_volatility,
)
from alphaforge.core.errors import AlphaForgeError

CHARTS = ("equity", "underwater", "monthly", "rolling", "exposure", "returns", "trades", "costs")
TRADE_COLUMNS = [
    "symbol",
    "entry_time",
    "exit_time",
    "quantity",
    "entry_price",
    "exit_price",
    "pnl",
    "costs",
    "strategy",
    "exit_reason",
    "cost_commission",
]


def _bars(n: int) -> pd.DatetimeIndex:
    return pd.date_range("2023-01-02 21:00", periods=n, freq="D", tz="UTC", name="timestamp")


def _trades(closed: bool = True) -> pd.DataFrame:
    if not closed:
        return pd.DataFrame({c: [] for c in TRADE_COLUMNS}).astype(
            {"entry_time": "datetime64[ns, UTC]", "exit_time": "datetime64[ns, UTC]"}
        )
    idx = _bars(120)
    return pd.DataFrame(
        {
            "symbol": ["AAA", "BBB", "AAA", "BBB"],
            "entry_time": idx[[5, 10, 40, 100]],
            "exit_time": pd.DatetimeIndex([idx[20], idx[30], idx[70], pd.NaT]),
            "quantity": [10.0, -5.0, 8.0, 3.0],
            "entry_price": [100.0, 50.0, 101.0, 99.0],
            "exit_price": [104.0, 52.0, 99.5, np.nan],
            "pnl": [39.0, -11.0, -12.5, 2.0],
            "costs": [1.0, 1.0, 0.5, 0.25],
            "strategy": ["ma", "ma", "ma", "ma"],
            "exit_reason": ["signal", "stop", "signal", None],
            "cost_commission": [1.0, 1.0, 0.5, 0.25],
        }
    )


def _data(n: int = 120, *, closed_trades: bool = True, benchmark: bool = True) -> TearSheetData:
    rng = np.random.default_rng(1)
    idx = _bars(n)
    returns = pd.Series(rng.normal(0.0005, 0.01, n), index=idx, name="r")
    equity = 10_000.0 * (1.0 + returns).cumprod()
    gross = equity * np.where(np.arange(n) % 3 == 0, 0.0, 0.9)
    frame = pd.DataFrame(
        {
            "timestamp": idx,
            "equity": equity.to_numpy(),
            "cash": (equity - gross).to_numpy(),
            "gross_exposure": gross.to_numpy(),
            "net_exposure": (gross * 0.5).to_numpy(),
        }
    )
    costs = pd.DataFrame(
        {"commission": rng.uniform(0, 2, n), "slippage": rng.uniform(0, 1, n)}, index=idx
    )
    bench = pd.Series(5_000.0 * np.cumprod(1.0 + rng.normal(0, 0.01, n)), index=idx)
    return TearSheetData(
        title="Test <run> & co",
        equity=frame,
        returns=returns,
        trades=_trades(closed_trades),
        costs=costs,
        metrics={"sharpe": 1.25, "max_drawdown": -0.1, "trades": 3.0, "pbo": math.nan},
        run_facts={"seed": "42", "code version": "deadbeef", "config": "bt.yaml"},
        attribution={
            "P&L by strategy": pd.DataFrame(
                {"pnl": [15.5, -2.0], "trades": [3, 1]},
                index=pd.Index(["ma", "<i>hedge</i>"], name="strategy"),
            )
        },
        benchmark=bench if benchmark else None,
        rolling_window=20,
    )


def _read(path: Path, **kwargs: object) -> pd.DataFrame:
    return pd.read_csv(path, **kwargs)  # type: ignore[arg-type]


def _utc(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, utc=True)


def test_render_writes_the_page_and_every_data_file(tmp_path: Path) -> None:
    page = render_tearsheet(_data(), tmp_path)
    assert page == tmp_path / "tearsheet.html"
    files = {p.name for p in (tmp_path / TEARSHEET_DATA_DIR).iterdir()}
    assert files == {
        "equity.csv",
        "benchmark.csv",
        "returns.csv",
        "trades.csv",
        "costs.csv",
        "metrics.csv",
        "equity_vs_benchmark.csv",
        "drawdown.csv",
        "monthly_returns.csv",
        "rolling.csv",
        "exposure.csv",
        "cumulative_costs.csv",
        "trade_pnl_histogram.csv",
        "attribution_p_l_by_strategy.csv",
    }
    # Atomic writes leave no temporary file behind.
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".")]
    html = page.read_text(encoding="utf-8")
    for key in CHARTS:
        assert f'id="chart-{key}"' in html
    assert "empty-" not in html
    # Every file a chart names exists.
    for source in re.findall(r"<code>(tearsheet_data/[^<]+)</code>", html):
        assert (tmp_path / source).is_file(), source


def test_page_is_offline_escaped_and_shows_facts_and_metrics(tmp_path: Path) -> None:
    html = render_tearsheet(_data(), tmp_path).read_text(encoding="utf-8")
    # plotly.js is inlined from the installed package: nothing is fetched.
    assert not re.search(r"<script[^>]+src=", html)
    assert plotly_js() in html
    assert "Test &lt;run&gt; &amp; co" in html
    assert "<run>" not in html
    for fact in ("seed", "42", "deadbeef", "bt.yaml"):
        assert fact in html
    assert format_metric("sharpe", 1.25) in html
    assert "-10.00%" in html
    assert "n/a" in html  # the undefined PBO
    assert "P&amp;L by strategy" in html
    assert "<td>ma</td>" in html
    assert "<td>&lt;i&gt;hedge&lt;/i&gt;</td>" in html
    assert "1 still open" in html


def test_figures_are_valid_json_with_data(tmp_path: Path) -> None:
    html = render_tearsheet(_data(), tmp_path).read_text(encoding="utf-8")
    blocks = re.findall(r'<script type="application/json"[^>]*>(.*?)</script>', html, re.S)
    assert len(blocks) == len(CHARTS)
    for block in blocks:
        figure = json.loads(block)
        assert figure["data"], "a figure without traces"
    equity = json.loads(blocks[0])
    buttons = equity["layout"]["updatemenus"][0]["buttons"]
    assert [b["args"][0]["yaxis.type"] for b in buttons] == ["linear", "log"]


def test_data_files_equal_the_inputs(tmp_path: Path) -> None:
    data = _data()
    render_tearsheet(data, tmp_path)
    out = tmp_path / TEARSHEET_DATA_DIR

    equity = _read(out / "equity.csv")
    equity["timestamp"] = _utc(equity["timestamp"])
    pd.testing.assert_frame_equal(equity, data.equity, check_exact=True)

    returns = _read(out / "returns.csv", index_col="timestamp")
    assert returns.columns.tolist() == ["return"]
    np.testing.assert_array_equal(returns["return"].to_numpy(), data.returns.to_numpy())
    assert (_utc(returns.index.to_series()).to_numpy() == data.returns.index.to_numpy()).all()

    trades = _read(out / "trades.csv")
    for column in ("entry_time", "exit_time"):
        trades[column] = _utc(trades[column])
    trades["exit_reason"] = (
        trades["exit_reason"].astype(object).where(trades["exit_reason"].notna())
    )
    expected = data.trades.copy()
    expected["exit_reason"] = expected["exit_reason"].astype(object)
    pd.testing.assert_frame_equal(
        trades, expected, check_exact=True, check_dtype=False, check_index_type=False
    )

    costs = _read(out / "costs.csv", index_col="timestamp")
    np.testing.assert_array_equal(costs.to_numpy(), data.costs.to_numpy())
    assert costs.columns.tolist() == ["commission", "slippage"]

    assert data.benchmark is not None
    bench = _read(out / "benchmark.csv", index_col="timestamp")
    np.testing.assert_array_equal(bench["benchmark"].to_numpy(), data.benchmark.to_numpy())

    metrics = _read(out / "metrics.csv", index_col="metric")["value"]
    assert metrics.to_dict().keys() == data.metrics.keys()
    assert metrics["sharpe"] == 1.25
    assert math.isnan(metrics["pbo"])

    table = _read(out / "attribution_p_l_by_strategy.csv", index_col="strategy")
    pd.testing.assert_frame_equal(table, data.attribution["P&L by strategy"])


def test_derived_chart_data_match_independent_computations(tmp_path: Path) -> None:
    data = _data()
    render_tearsheet(data, tmp_path)
    out = tmp_path / TEARSHEET_DATA_DIR
    equity = data.equity["equity"].to_numpy()
    assert data.benchmark is not None
    bench = data.benchmark.to_numpy()

    curves = _read(out / "equity_vs_benchmark.csv")
    np.testing.assert_array_equal(curves["strategy"].to_numpy(), equity)
    np.testing.assert_allclose(curves["benchmark"], bench / bench[0] * equity[0], rtol=1e-12)

    drawdown = _read(out / "drawdown.csv")
    np.testing.assert_allclose(
        drawdown["strategy"], equity / np.maximum.accumulate(equity) - 1.0, rtol=0, atol=1e-15
    )

    exposure = _read(out / "exposure.csv")
    gross = data.equity["gross_exposure"].to_numpy()
    np.testing.assert_allclose(exposure["gross_exposure"], gross / equity, rtol=1e-12)
    np.testing.assert_allclose(exposure["net_exposure"], 0.5 * gross / equity, rtol=1e-12)

    cumulative = _read(out / "cumulative_costs.csv", index_col="timestamp")
    np.testing.assert_allclose(cumulative.to_numpy(), np.cumsum(data.costs.to_numpy(), axis=0))

    bins = _read(out / "trade_pnl_histogram.csv")
    # Closed trades: +39 wins; -11 and -12.5 lose; the open trade (+2) is left out.
    assert bins["winning"].sum() == 1
    assert bins["losing_or_flat"].sum() == 2
    assert bins["bin_start"].iloc[0] == -12.5
    assert bins["bin_end"].iloc[-1] == 39.0
    np.testing.assert_allclose(bins["bin_start"].iloc[1:], bins["bin_end"].iloc[:-1])
    hit = (bins["bin_start"] <= 39.0) & (bins["bin_end"] >= 39.0)
    assert bins.loc[hit, "winning"].sum() == 1

    rolling = _read(out / "rolling.csv", index_col="timestamp")
    r = data.returns.to_numpy()
    window = data.rolling_window
    assert len(rolling) == len(r) - window + 1
    for row, end in ((0, window), (37, window + 37), (len(rolling) - 1, len(r))):
        chunk = r[end - window : end]
        vol = np.std(chunk, ddof=1) * math.sqrt(252)
        assert rolling["rolling_volatility"].iloc[row] == pytest.approx(vol, rel=1e-9)
        assert rolling["rolling_sharpe"].iloc[row] == pytest.approx(
            np.mean(chunk) * 252 / vol, rel=1e-9
        )


def test_monthly_returns_compound_within_each_month() -> None:
    idx = pd.DatetimeIndex(
        ["2023-01-30", "2023-01-31", "2023-02-01", "2023-03-15", "2024-01-02"], tz="UTC"
    )
    table = monthly_returns(pd.Series([0.1, -0.1, 0.05, 0.0, 0.02], index=idx))
    assert table.index.tolist() == [2023, 2024]
    assert table.columns.tolist() == list(range(1, 13))
    assert table.loc[2023, 1] == pytest.approx(1.1 * 0.9 - 1.0)
    assert table.loc[2023, 2] == pytest.approx(0.05)
    assert table.loc[2023, 3] == 0.0
    assert table.loc[2024, 1] == pytest.approx(0.02)
    assert table.isna().sum().sum() == 24 - 4


def test_rolling_window_uses_only_the_past() -> None:
    r = pd.Series(np.random.default_rng(0).normal(0, 0.01, 50), index=_bars(50))
    before = rolling_sharpe_volatility(r, 10, 252.0)
    changed = r.copy()
    changed.iloc[30:] = 0.5
    after = rolling_sharpe_volatility(changed, 10, 252.0)
    pd.testing.assert_frame_equal(before.iloc[: 30 - 9], after.iloc[: 30 - 9])


def test_no_trades_shows_a_note_not_an_error(tmp_path: Path) -> None:
    data = _data(closed_trades=False)
    html = render_tearsheet(data, tmp_path).read_text(encoding="utf-8")
    assert 'id="empty-trades"' in html
    assert "No trades" in html
    assert 'id="chart-trades"' not in html
    for key in CHARTS:
        if key != "trades":
            assert f'id="chart-{key}"' in html, key
    trades = _read(tmp_path / TEARSHEET_DATA_DIR / "trades.csv")
    assert trades.columns.tolist() == TRADE_COLUMNS
    assert trades.empty


def test_open_trades_only_count_as_no_trades(tmp_path: Path) -> None:
    trades = _trades().iloc[[3]]
    data = _data()
    html = render_tearsheet(replace(data, trades=trades), tmp_path).read_text(encoding="utf-8")
    assert 'id="empty-trades"' in html


def test_short_run_without_costs_or_benchmark_degrades_to_notes(tmp_path: Path) -> None:
    data = _data(10, benchmark=False)
    short = replace(data, costs=pd.DataFrame(index=_bars(10)), attribution={})
    html = render_tearsheet(short, tmp_path).read_text(encoding="utf-8")
    assert 'id="empty-rolling"' in html
    assert "fewer than the 20" in html
    assert 'id="empty-costs"' in html
    assert "No attribution tables" in html
    assert not (tmp_path / TEARSHEET_DATA_DIR / "benchmark.csv").exists()
    curves = _read(tmp_path / TEARSHEET_DATA_DIR / "equity_vs_benchmark.csv")
    assert curves.columns.tolist() == ["timestamp", "strategy"]


def test_names_cannot_break_out_of_the_figure_scripts(tmp_path: Path) -> None:
    data = _data()
    costs = data.costs.rename(columns={"commission": "</script><b>x"})
    html = render_tearsheet(replace(data, costs=costs), tmp_path).read_text(encoding="utf-8")
    assert "</script><b>x" not in html
    blocks = re.findall(r'<script type="application/json"[^>]*>(.*?)</script>', html, re.S)
    names = [t.get("name") for b in blocks for t in json.loads(b)["data"]]
    assert "</script><b>x" in names


def test_figure_json_escapes_closing_tags() -> None:
    import plotly.graph_objects as go

    text = figure_json(go.Figure(go.Scatter(x=[1], y=[2], name="</script>")))
    assert "</" not in text
    assert json.loads(text)["data"][0]["name"] == "</script>"


def test_bad_equity_frame_or_benchmark_is_refused(tmp_path: Path) -> None:
    data = _data()
    with pytest.raises(AlphaForgeError, match="gross_exposure"):
        render_tearsheet(
            replace(data, equity=data.equity.drop(columns="gross_exposure")),
            tmp_path,
        )
    assert data.benchmark is not None
    with pytest.raises(AlphaForgeError, match="benchmark"):
        render_tearsheet(replace(data, benchmark=data.benchmark.iloc[1:]), tmp_path)
    assert not (tmp_path / "tearsheet.html").exists()


def test_an_empty_run_renders_notes_not_errors(tmp_path: Path) -> None:
    data = _data(closed_trades=False, benchmark=False)
    idx = _bars(0)
    empty = replace(
        data,
        equity=data.equity.iloc[0:0],
        returns=pd.Series([], index=idx, dtype=float),
        costs=pd.DataFrame(index=idx),
        metrics={},
        attribution={},
    )
    html = render_tearsheet(empty, tmp_path).read_text(encoding="utf-8")
    assert "no bars" in html
    for key in CHARTS:
        assert f'id="empty-{key}"' in html, key
    assert "script.figure" in html
    assert 'class="figure"' not in html


def test_attribution_names_that_share_a_file_name_keep_both_files(tmp_path: Path) -> None:
    one = pd.DataFrame({"pnl": [1.0]}, index=pd.Index(["a"], name="sector"))
    two = pd.DataFrame({"pnl": [2.0]}, index=pd.Index(["b"], name="sector"))
    render_tearsheet(replace(_data(), attribution={"P&L": one, "P L": two}), tmp_path)
    out = tmp_path / TEARSHEET_DATA_DIR
    first = _read(out / "attribution_p_l.csv", index_col="sector")
    second = _read(out / "attribution_p_l_1.csv", index_col="sector")
    pd.testing.assert_frame_equal(first, one)
    pd.testing.assert_frame_equal(second, two)
