"""The store's promises on the command line: no silent replacement, a health gate, versions,
time zones for naive intraday files, read-only queries and whole-file CSV fetches.

Each test runs the real ``alphaforge`` CLI in a subprocess (see conftest), offline.
"""

from __future__ import annotations

import json
import math
import time
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pytest

from alphaforge.core import AssetClass, Interval, content_hash
from alphaforge.data.calendars import session_dates
from alphaforge.storage import BarStore

if TYPE_CHECKING:
    from conftest import CliResult, RunCli


def assert_ok(result: CliResult) -> None:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stdout + result.stderr


def assert_one_line_error(result: CliResult, code: int, *fragments: str) -> str:
    """Fail unless the command exited with ``code`` and one ``error:`` line holding fragments."""
    assert result.returncode == code, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(("error:", "internal error:"))]
    assert len(errors) == 1, result.stderr
    assert errors[0] == lines[-1], result.stderr
    for fragment in fragments:
        assert fragment in errors[0], f"{fragment!r} not in {errors[0]!r}"
    return errors[0]


def table_rows(text: str) -> list[list[str]]:
    return [
        [cell.strip() for cell in line.strip().strip("│").split("│")]
        for line in text.splitlines()
        if line.strip().startswith("│")
    ]


def files_of(root: Path) -> dict[str, bytes]:
    """Return every file under ``root`` (but the lock) by relative path."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def write_csv(path: Path, bars: pd.DataFrame) -> None:
    """Write bars with their UTC stamps and every float digit (repr round-trips)."""
    out = bars.copy()
    out.index = pd.DatetimeIndex(out.index).strftime("%Y-%m-%d")
    out.index.name = "Date"
    out.to_csv(path)


def daily_csv(path: Path, first: date, n: int, *, stale_fraction: float = 0.0) -> None:
    """Write ``n`` clean bars on XNYS sessions from ``first`` (some frozen if asked)."""
    lines = ["Date,Open,High,Low,Close,Volume"]
    day, price = first, 100.0
    frozen = range(10, 10 + int(stale_fraction * n))
    last = first + timedelta(days=2 * n + 30)
    sessions = {ts.date() for ts in session_dates("XNYS", first, last)}
    while len(lines) <= n:
        if day in sessions:  # an XNYS session: weekday holidays would be off the calendar
            i = len(lines)
            close = price if i in frozen else price * (1.0 + 0.01 * math.sin(i))
            high = max(price, close) * (1.0 if i in frozen else 1.004)
            low = min(price, close) * (1.0 if i in frozen else 0.996)
            lines.append(f"{day},{price:.6f},{high:.6f},{low:.6f},{close:.6f},{1000 + 7 * i}")
            price = close
        day += timedelta(days=1)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------- re-import


def test_reimport_merges_refuses_conflicts_and_replace_is_restorable(
    run_cli: RunCli, fast_config: Path, tmp_path: Path
) -> None:
    config = ["--config", str(fast_config)]
    assert_ok(run_cli(["data", "fetch", "--source", "sample", "GOOG", *config], tmp_path))
    store = BarStore(tmp_path / "store")
    original = store.entry("GOOG", Interval.D1)
    assert original is not None
    assert original.rows == 2148
    stored = store.read("GOOG", Interval.D1)

    # The last 100 rows of the stored series: merged, nothing lost, nothing changed.
    write_csv(tmp_path / "tail.csv", stored.iloc[-100:])
    merged = run_cli(["data", "import", "tail.csv", "--symbol", "GOOG", *config], tmp_path)
    assert_ok(merged)
    assert "Stored 2148 bars of GOOG" in merged.stdout
    assert "0 new, version 1" in merged.stdout
    after = store.entry("GOOG", Interval.D1)
    assert after is not None
    assert (after.rows, after.content_hash) == (2148, original.content_hash)

    # A file whose bars differ from the stored ones: refused, nothing written.
    wrong = stored.iloc[-100:].copy()
    wrong.iloc[[5, 6, 7, 8], :4] *= 1.2  # not a split ratio: the file itself is healthy
    write_csv(tmp_path / "wrong.csv", wrong)
    before = files_of(tmp_path / "store")
    refused = run_cli(["data", "import", "wrong.csv", "--symbol", "GOOG", *config], tmp_path)
    first = ", ".join(ts.strftime("%Y-%m-%d") for ts in wrong.index[5:8])
    assert_one_line_error(
        refused,
        2,
        "GOOG 1d: 4 stored bar(s) differ",
        f"first: {first}",
        "largest relative difference 0.167",
        "nothing was stored",
        "--replace",
    )
    assert files_of(tmp_path / "store") == before

    # --replace stores the file and keeps the previous version.
    replaced = run_cli(
        ["data", "import", "wrong.csv", "--symbol", "GOOG", "--replace", *config], tmp_path
    )
    assert_ok(replaced)
    assert "Version 1 is kept: alphaforge data restore GOOG --version 1" in replaced.stdout
    now = store.entry("GOOG", Interval.D1)
    assert now is not None
    assert (now.rows, now.version) == (100, 2)

    listed = run_cli(["data", "history", "GOOG", *config], tmp_path)
    assert_ok(listed)
    rows = table_rows(listed.stdout)
    assert [row[0] for row in rows] == ["1", "2 (current)"]
    assert rows[0][2:5] == ["2148", original.start[:10], original.end[:10]]
    assert rows[0][5] == "sample"
    assert rows[0][7] == original.content_hash[:12]
    assert rows[1][2] == "100"
    assert rows[1][5] == "file:wrong.csv"

    restored = run_cli(["data", "restore", "GOOG", "--version", "1", *config], tmp_path)
    assert_ok(restored)
    assert "Restored version 1 of GOOG 1d as version 3" in restored.stdout
    back = store.entry("GOOG", Interval.D1)
    assert back is not None
    assert back.content_hash == original.content_hash
    assert content_hash(store.read("GOOG", Interval.D1, verify=True)) == original.content_hash
    manifest = json.loads((tmp_path / "store" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["series"]["stock/GOOG/1d"]["content_hash"] == original.content_hash

    unknown = run_cli(["data", "restore", "GOOG", "--version", "9", *config], tmp_path)
    assert_one_line_error(unknown, 2, "has no version 9", "(1, 2, 3)")


def test_history_of_an_unknown_symbol_is_a_one_line_error(
    run_cli: RunCli, fast_config: Path, tmp_path: Path
) -> None:
    result = run_cli(["data", "history", "NOPE", "--config", str(fast_config)], tmp_path)
    assert_one_line_error(result, 2, "No 1d bars are stored for NOPE")


# --------------------------------------------------------------------------- the health gate


def test_unhealthy_import_is_refused_unless_allowed_and_then_marked(
    run_cli: RunCli, fast_config: Path, tmp_path: Path
) -> None:
    config = ["--config", str(fast_config)]
    daily_csv(tmp_path / "frozen.csv", date(2021, 1, 4), 120, stale_fraction=0.4)
    refused = run_cli(["data", "import", "frozen.csv", "--symbol", "FRZ", *config], tmp_path)
    assert_one_line_error(
        refused,
        2,
        "Data health gate failed",
        "FRZ",
        "stale_run",
        "nothing was stored",
        "--allow-unhealthy",
    )
    assert not list(tmp_path.glob("store/**/*.parquet"))

    allowed = run_cli(
        ["data", "import", "frozen.csv", "--symbol", "FRZ", "--allow-unhealthy", *config],
        tmp_path,
    )
    assert_ok(allowed)
    assert "unhealthy (stored by override)" in allowed.stdout

    listed = run_cli(["data", "list", *config], tmp_path)
    assert_ok(listed)
    (row,) = [r for r in table_rows(listed.stdout) if r[1] == "FRZ"]
    assert row[6].endswith("unhealthy"), row

    validated = run_cli(["data", "validate", "FRZ", *config], tmp_path)
    assert_ok(validated)
    assert "health when stored" in validated.stdout
    assert "issues when stored" in validated.stdout
    (report,) = [r for r in table_rows(validated.stdout) if r[0] == "FRZ 1d"]
    assert report[5].endswith("unhealthy"), report
    assert validated.stdout.count("stale_run") == 2  # now, and in the stored report


def test_a_repair_made_at_import_stays_visible_in_validate(
    run_cli: RunCli, fast_config: Path, tmp_path: Path
) -> None:
    config = ["--config", str(fast_config)]
    daily_csv(tmp_path / "x.csv", date(2021, 1, 4), 60)
    lines = (tmp_path / "x.csv").read_text(encoding="utf-8").splitlines()
    # Swap high and low on one bar: a safe repair the validator makes at import.
    day, open_, high, low, close, volume = lines[20].split(",")
    lines[20] = ",".join((day, open_, low, high, close, volume))
    (tmp_path / "x.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert_ok(run_cli(["data", "import", "x.csv", "--symbol", "XYZ", *config], tmp_path))

    validated = run_cli(["data", "validate", "XYZ", *config], tmp_path)
    assert_ok(validated)
    (report,) = [r for r in table_rows(validated.stdout) if r[0] == "XYZ 1d"]
    assert report[6] != "none", report
    # The stored bars are clean now; the report kept in the manifest still names the repair.
    assert validated.stdout.count("high_low_swapped") == 1, validated.stdout
    header = next(line for line in validated.stdout.splitlines() if "issues when stored" in line)
    column = header.index("issues when stored")
    assert any(
        line[column:].lstrip("│ ").startswith("high_low_swapped")
        for line in validated.stdout.splitlines()
    ), validated.stdout

    # Later bars are merged and the series validated again: the repair is still reported.
    daily_csv(tmp_path / "y.csv", date(2021, 4, 5), 20)
    assert_ok(run_cli(["data", "import", "y.csv", "--symbol", "XYZ", *config], tmp_path))
    validated = run_cli(["data", "validate", "XYZ", *config], tmp_path)
    assert_ok(validated)
    assert "earlier (" in validated.stdout
    assert validated.stdout.count("high_low_swapped") == 1, validated.stdout


# --------------------------------------------------------------------------- time zones


def test_naive_intraday_file_is_localized_with_tz(
    run_cli: RunCli, fast_config: Path, tmp_path: Path
) -> None:
    # Hourly bars stamped in New York wall-clock time, across the 2024-03-10 DST change.
    stamps = [
        pd.Timestamp(f"{day} {hour:02d}:30")
        for day in pd.bdate_range("2024-03-04", "2024-03-15").strftime("%Y-%m-%d")
        for hour in range(9, 16)
    ]
    lines = ["Datetime,Open,High,Low,Close,Volume"]
    for i, ts in enumerate(stamps):
        price = 50.0 + 0.1 * math.sin(i)
        lines.append(
            f"{ts:%Y-%m-%d %H:%M:%S},{price},{price + 0.2},{price - 0.2},{price},{500 + i}"
        )
    (tmp_path / "hourly.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    result = run_cli(
        [
            *("data", "import", "hourly.csv", "--symbol", "HRLY", "--interval", "1h"),
            *("--tz", "America/New_York", "--config", str(fast_config)),
        ],
        tmp_path,
    )
    assert_ok(result)
    stored = BarStore(tmp_path / "store").read("HRLY", Interval.H1, asset_class=AssetClass.STOCK)
    assert len(stored) == len(stamps)
    index = pd.DatetimeIndex(stored.index)
    assert index[0] == pd.Timestamp("2024-03-04 14:30", tz="UTC")  # EST, UTC-5
    assert pd.Timestamp("2024-03-11 13:30", tz="UTC") in index  # EDT, UTC-4
    assert pd.Timestamp("2024-03-11 14:30", tz="UTC") in index
    assert index[-1] == pd.Timestamp("2024-03-15 19:30", tz="UTC")
    entry = BarStore(tmp_path / "store").entry("HRLY", Interval.H1)
    assert entry is not None
    assert entry.health_score == pytest.approx(1.0)


def test_naive_daily_dates_stay_dates_with_tz(
    run_cli: RunCli, fast_config: Path, tmp_path: Path
) -> None:
    daily_csv(tmp_path / "d.csv", date(2021, 3, 1), 30)
    result = run_cli(
        [
            *("data", "import", "d.csv", "--symbol", "DLY"),
            *("--tz", "America/New_York", "--config", str(fast_config)),
        ],
        tmp_path,
    )
    assert_ok(result)
    stored = BarStore(tmp_path / "store").read("DLY", Interval.D1)
    index = pd.DatetimeIndex(stored.index)
    assert index[0] == pd.Timestamp("2021-03-01", tz="UTC")
    assert (index == index.normalize()).all()


def test_unknown_time_zone_is_a_one_line_error(
    run_cli: RunCli, fast_config: Path, tmp_path: Path
) -> None:
    daily_csv(tmp_path / "x.csv", date(2021, 1, 4), 20)
    result = run_cli(
        [
            *("data", "import", "x.csv", "--symbol", "X", "--interval", "1h"),
            *("--tz", "Mars/Olympus", "--config", str(fast_config)),
        ],
        tmp_path,
    )
    assert_one_line_error(result, 2, "Unknown time zone 'Mars/Olympus'", "America/New_York")


# --------------------------------------------------------------------------- read-only query


@pytest.fixture(scope="module")
def goog_store(
    run_cli: RunCli, fast_config: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    cwd = tmp_path_factory.mktemp("query")
    fetched = run_cli(
        ["data", "fetch", "--source", "sample", "GOOG", "--config", str(fast_config)], cwd
    )
    assert_ok(fetched)
    return cwd


@pytest.mark.parametrize(
    ("sql", "fragment"),
    [
        ("COPY bars TO 'x.csv'", "COPY statements cannot run"),
        ("COPY (SELECT * FROM bars) TO 'x.parquet' (FORMAT parquet)", "COPY statements cannot run"),
        ("ATTACH 'x.db' AS other", "ATTACH statements cannot run"),
        ("SET enable_external_access = true", "SET statements cannot run"),
        ("CREATE TABLE x AS SELECT * FROM bars", "CREATE statements cannot run"),
        ("SELECT * FROM read_csv('outside.csv')", "disabled by configuration"),
        ("SELECT * FROM 'outside.csv'", "disabled by configuration"),
    ],
)
def test_query_cannot_write_or_read_outside_the_store(
    run_cli: RunCli, fast_config: Path, goog_store: Path, sql: str, fragment: str
) -> None:
    (goog_store / "outside.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    before = files_of(goog_store)
    result = run_cli(["data", "query", sql, "--config", str(fast_config)], goog_store)
    assert_one_line_error(result, 2, fragment)
    assert files_of(goog_store) == before
    assert not list(goog_store.glob("x.*"))


def test_query_prints_floats_without_binary_noise_and_null_as_null(
    run_cli: RunCli, fast_config: Path, goog_store: Path
) -> None:
    result = run_cli(
        [
            "data",
            "query",
            "SELECT 0.1::FLOAT AS f, 0.1::DOUBLE AS d, 1.1::FLOAT * 3 AS g, NULL::DOUBLE AS n, "
            "count(*) AS c FROM bars",
            "--config",
            str(fast_config),
        ],
        goog_store,
    )
    assert_ok(result)
    (row,) = table_rows(result.stdout)
    assert row == ["0.1", "0.1", "3.3000002", "NULL", "2148"]


# --------------------------------------------------------------------------- fetch start


def test_csv_fetch_without_start_keeps_the_whole_file(
    run_cli: RunCli, fast_config: Path, tmp_path: Path
) -> None:
    imports = tmp_path / "imports"  # the csv source reads <store_dir>/../imports
    imports.mkdir()
    daily_csv(imports / "OLD.csv", date(2001, 1, 1), 80)  # first session: 2001-01-02
    result = run_cli(
        ["data", "fetch", "--source", "csv", "OLD", "--config", str(fast_config)], tmp_path
    )
    assert_ok(result)
    assert "look-back" not in result.stdout
    (row,) = table_rows(result.stdout)
    assert row[:3] == ["OLD", "80", "2001-01-02"]
    store = BarStore(tmp_path / "store")
    first = store.entry("OLD", Interval.D1)
    assert first is not None

    # The file grows: a fetch adds only the bars after the stored ones.
    daily_csv(imports / "OLD.csv", date(2001, 1, 1), 90)
    args = ["data", "fetch", "--source", "csv", "OLD", "--config", str(fast_config)]
    grown = run_cli(args, tmp_path)
    assert_ok(grown)
    assert table_rows(grown.stdout)[0][:2] == ["OLD", "10"]
    appended = store.entry("OLD", Interval.D1)
    assert appended is not None
    assert (appended.rows, appended.version) == (90, 2)

    # The file is rewritten at another scale: --replace re-reads it all, keeping version 2.
    frame = pd.read_csv(imports / "OLD.csv")
    frame[["Open", "High", "Low", "Close"]] *= 2.0
    frame.to_csv(imports / "OLD.csv", index=False)
    replaced = run_cli([*args, "--replace"], tmp_path)
    assert_ok(replaced)
    assert "OLD: version 2 is kept: alphaforge data restore OLD --version 2" in replaced.stdout
    now = store.entry("OLD", Interval.D1)
    assert now is not None
    assert (now.rows, now.version) == (90, 3)
    assert store.read("OLD", Interval.D1)["close"].iloc[0] == pytest.approx(2 * 100.0, rel=0.02)


def test_online_fetch_without_start_says_which_look_back_it_applies(
    run_cli: RunCli, tmp_path: Path
) -> None:
    started = time.monotonic()
    result = run_cli(
        ["data", "fetch", "--source", "yfinance", "AAPL"],
        tmp_path,
        env={
            "ALPHAFORGE_DATA__BACKOFF_SECONDS": "0",
            "ALPHAFORGE_DATA__MAX_RETRIES": "1",
            "ALPHAFORGE_DATA__STORE_DIR": "store",
            "XDG_CACHE_HOME": str(tmp_path / "cache"),
        },
        timeout=60,
    )
    assert time.monotonic() - started < 30
    assert "default look-back of 10 years, from " in result.stdout
    assert_one_line_error(result, 3, "could not be reached")
