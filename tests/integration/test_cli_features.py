"""End-to-end tests of ``alphaforge features list`` and ``alphaforge features build``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from alphaforge.core.types import AssetClass, Instrument, Interval
from alphaforge.features import CATEGORIES, FEATURES
from alphaforge.features.testing import random_bars
from alphaforge.storage import BarStore

if TYPE_CHECKING:
    from conftest import CliResult, RunCli

NAMES = ("ret_log_1", "rsi_14", "sma_20", "atr_14", "obv")
UNIVERSE = """\
name: mini
as_of: 2024-01-02
source: written by the test
defaults: {asset_class: stock, calendar: XNYS}
members:
  - {symbol: AAA, interval: 1d}
  - {symbol: BBB}
  - {symbol: CCC}
"""


def _ok(result: CliResult) -> None:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stdout + result.stderr


def _one_line_error(result: CliResult, *fragments: str) -> str:
    assert result.returncode != 0, f"exit 0\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stdout + result.stderr
    lines = [line.rstrip() for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(("error:", "internal error:"))]
    assert lines and lines[-1].startswith("error:"), result.stderr
    assert len(errors) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[-1], f"{fragment!r} not in {lines[-1]!r}"
    return lines[-1]


def _rows(text: str) -> list[list[str]]:
    return [
        [cell.strip() for cell in line.strip().strip("│").split("│")]
        for line in text.splitlines()
        if line.strip().startswith("│")
    ]


def _build_rows(stdout: str) -> dict[str, tuple[int, int, str]]:
    """Return symbol -> (rows, new rows computed, path) from the build summary table."""
    found: dict[str, tuple[int, int, str]] = {}
    for row in _rows(stdout):
        if len(row) == 7 and row[5] in ("full", "incremental", "cached"):
            found[row[0]] = (int(row[2]), int(row[4]), row[5])
    return found


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A working directory with a config, a universe file and two of its three series."""
    (tmp_path / "config.yaml").write_text("data:\n  store_dir: store\n", encoding="utf-8")
    (tmp_path / "mini.yaml").write_text(UNIVERSE, encoding="utf-8")
    store = BarStore(tmp_path / "store")
    for seed, symbol in enumerate(("AAA", "BBB")):
        bars = random_bars(seed, 410).iloc[:400]
        store.write(Instrument(symbol, AssetClass.STOCK), Interval.D1, bars, source="test")
    return tmp_path


def test_list_shows_every_feature_by_category(run_cli: RunCli, tmp_path: Path) -> None:
    result = run_cli(["features", "list"], tmp_path)
    _ok(result)
    rows = _rows(result.stdout)
    listed = {row[1] for row in rows if len(row) == 6}
    assert set(FEATURES.names()) <= listed
    assert len(listed) >= len(FEATURES)
    categories = {FEATURES.get(n).category for n in FEATURES.names()}
    totals = {row[0]: row for row in rows if len(row) == 4}
    assert categories <= totals.keys()
    assert int(totals["total"][3]) >= len(FEATURES)
    assert "scale-free" in result.stdout and "warm-up" in result.stdout


def test_list_json_parses(run_cli: RunCli, tmp_path: Path) -> None:
    result = run_cli(["features", "list", "--json"], tmp_path)
    _ok(result)
    rows = json.loads(result.stdout)
    by_name = {row["name"]: row for row in rows}
    assert set(FEATURES.names()) <= by_name.keys()
    spec = FEATURES.get("rsi_14")
    assert by_name["rsi_14"]["warmup"] == spec.warmup
    assert by_name["rsi_14"]["category"] == spec.category
    assert by_name["rsi_14"]["scale_free"] is spec.scale_free
    assert all(row["category"] in CATEGORIES for row in rows)
    one = run_cli(["features", "list", "--json", "--category", "price"], tmp_path)
    _ok(one)
    assert {row["category"] for row in json.loads(one.stdout)} == {"price"}


def test_list_unknown_category_is_one_line(run_cli: RunCli, tmp_path: Path) -> None:
    _one_line_error(run_cli(["features", "list", "--category", "nope"], tmp_path), "nope")


def test_build_full_then_cached_then_incremental(run_cli: RunCli, project: Path) -> None:
    args = ["features", "build", "--universe", str(project / "mini.yaml"), "-c", "config.yaml"]
    first = run_cli(args, project)
    _ok(first)
    assert "CCC 1d: no bars in the store; skipped" in first.stderr
    built = _build_rows(first.stdout)
    assert built == {"AAA": (400, 400, "full"), "BBB": (400, 400, "full")}
    files = list((project / "store" / "features").glob("*/1d/*.parquet"))
    assert sorted(f.name for f in files) == ["AAA.parquet", "BBB.parquet"]
    assert str(files[0].parent.resolve()) in first.stdout
    assert "for 2 members (full" in first.stdout
    assert len(list((project / "store" / "features" / "panel").glob("*/1d/*.parquet"))) == 1

    second = run_cli(args, project)
    _ok(second)
    assert _build_rows(second.stdout) == {"AAA": (400, 0, "cached"), "BBB": (400, 0, "cached")}
    assert "for 2 members (cached" in second.stdout

    store = BarStore(project / "store")
    longer = random_bars(0, 410)
    store.write(Instrument("AAA", AssetClass.STOCK), Interval.D1, longer, source="test")
    third = run_cli(args, project)
    _ok(third)
    assert _build_rows(third.stdout) == {
        "AAA": (410, 10, "incremental"),
        "BBB": (400, 0, "cached"),
    }
    assert "for 2 members (full" in third.stdout  # a member changed: the panel is recomputed

    forced = run_cli([*args, "--full", "--names", ",".join(NAMES)], project)
    _ok(forced)
    assert _build_rows(forced.stdout) == {"AAA": (410, 410, "full"), "BBB": (400, 400, "full")}


def test_build_unknown_feature_is_one_line(run_cli: RunCli, project: Path) -> None:
    result = run_cli(
        ["features", "build", "--universe", str(project / "mini.yaml"), "--names", "rsi_14,rsj_99"],
        project,
        env={"ALPHAFORGE_CONFIG": str(project / "config.yaml")},
    )
    _one_line_error(result, "rsj_99", "alphaforge features list")


def test_build_unknown_universe_is_one_line(run_cli: RunCli, tmp_path: Path) -> None:
    _one_line_error(
        run_cli(["features", "build", "--universe", "no_such_universe"], tmp_path),
        "no_such_universe",
    )


def test_build_without_bars_says_to_fetch_first(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "mini.yaml").write_text(UNIVERSE, encoding="utf-8")
    result = run_cli(
        ["features", "build", "--universe", str(tmp_path / "mini.yaml")],
        tmp_path,
        env={"ALPHAFORGE_CONFIG": None},
    )
    universe = str(tmp_path / "mini.yaml")
    _one_line_error(result, f"alphaforge data fetch --universe {universe} first")


def test_list_includes_the_panel_features(run_cli: RunCli, tmp_path: Path) -> None:
    from alphaforge.features import PANEL_FEATURES

    result = run_cli(["features", "list", "--json"], tmp_path)
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert len(rows) == len(FEATURES) + len(PANEL_FEATURES)
    assert rows["cs_rank_ret_20"]["panel"] is True
    assert rows["cs_rank_ret_20"]["category"] == "cross_sectional"
    assert rows["hmm_state_prob_1"]["category"] == "regime"
    table = run_cli(["features", "list", "--category", "cross_asset"], tmp_path)
    assert table.returncode == 0, table.stderr
    assert "beta_60" in table.stdout and "compute_panel" in table.stdout
