"""End-to-end tests of the ``alphaforge`` command line, run as a subprocess.

Each test works in its own temporary directory (the demo run is shared by the tests that read
it). No test touches the network: every proxy points at a closed local port (see conftest).
"""

from __future__ import annotations

import json
import math
import re
import shutil
import time
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import pytest
import yaml

if TYPE_CHECKING:
    from conftest import CliResult, RunCli

METRIC_KEYS = ("cagr", "volatility", "sharpe", "psr", "max_drawdown", "turnover", "costs")
RUN_FILES = ("summary.json", "manifest.json", "report.html", "run.log")
SECRET_ENV = "s3cr3t-from-environment-7Qx"
SECRET_DOTENV = "s3cr3t-from-dotenv-9Zy"


# --------------------------------------------------------------------------- helpers


def assert_no_traceback(result: CliResult) -> None:
    """Fail when either stream shows a Python traceback."""
    both = result.stdout + result.stderr
    assert "Traceback" not in both, f"traceback shown:\n{result.stderr}"


def assert_ok(result: CliResult) -> None:
    """Fail unless the command succeeded without a traceback."""
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert_no_traceback(result)


def assert_one_line_error(result: CliResult, *fragments: str) -> str:
    """Fail unless the command failed with one ``error:`` line holding every fragment.

    The error must be the last non-blank line on stderr (progress bars may precede it) and the
    only line starting with ``error:``; a message wrapped over several lines fails because the
    fragments (which include the end of the message or its hint) are not all on that line.
    """
    assert result.returncode != 0, f"exit 0\n{result.stdout}\n{result.stderr}"
    assert_no_traceback(result)
    lines = [line.rstrip() for line in result.stderr.splitlines() if line.strip()]
    assert lines, f"nothing on stderr (exit {result.returncode})\n{result.stdout}"
    last = lines[-1]
    errors = [line for line in lines if line.startswith(("error:", "internal error:"))]
    assert last.startswith("error:"), f"last stderr line is not an error line:\n{result.stderr}"
    assert len(errors) == 1, f"{len(errors)} error lines:\n{result.stderr}"
    for fragment in fragments:
        assert fragment in last, f"{fragment!r} not in the error line {last!r}\n{result.stderr}"
    return last


def table_rows(text: str) -> list[list[str]]:
    """Return the body rows of the rich tables in ``text`` as lists of stripped cells."""
    return [
        [cell.strip() for cell in line.strip().strip("│").split("│")]
        for line in text.splitlines()
        if line.strip().startswith("│")
    ]


def write_bars_csv(path: Path, *, header: str = "DATE,Open,HIGH,low,Close,Volume") -> int:
    """Write 60 clean daily NYSE bars (Jan-Mar 2020) with the given header; return the rows."""
    holidays = {datetime(2020, 1, 20).date(), datetime(2020, 2, 17).date()}
    day = datetime(2020, 1, 2).date()
    columns = [c.strip().lower() for c in header.split(",")]
    lines = [header]
    price = 100.0
    while len(lines) <= 60:
        if day.weekday() < 5 and day not in holidays:
            i = len(lines)
            close = price * (1.0 + 0.008 * math.sin(i))
            values = {
                "date": day.isoformat(),
                "open": price,
                "high": max(price, close) * 1.004,
                "low": min(price, close) * 0.996,
                "close": close,
                "volume": 1000 + 37 * i,
            }
            lines.append(
                ",".join(
                    str(values[c]) if c in ("date", "volume") else f"{values[c]:.4f}"
                    for c in columns
                )
            )
            price = close
        day += timedelta(days=1)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines) - 1


def show_config(result: CliResult) -> dict[str, Any]:
    """Parse the YAML that ``config show`` printed."""
    assert_ok(result)
    loaded = yaml.safe_load(result.stdout)
    assert isinstance(loaded, dict)
    return loaded


# --------------------------------------------------------------------------- demo and reproduce


class DemoRun(NamedTuple):
    cwd: Path
    out: Path
    result: CliResult


@pytest.fixture(scope="module")
def demo_run(
    run_cli: RunCli, fast_config: Path, tmp_path_factory: pytest.TempPathFactory
) -> DemoRun:
    """Run ``alphaforge demo --out out`` once with the fast configuration and a secret set."""
    cwd = tmp_path_factory.mktemp("demo")
    result = run_cli(
        ["demo", "--config", fast_config, "--out", "out"],
        cwd,
        env={"ALPHAFORGE_SECRETS__ALPACA_API_KEY": SECRET_ENV},
    )
    assert_ok(result)
    return DemoRun(cwd, cwd / "out", result)


def test_demo_writes_the_run_files(demo_run: DemoRun) -> None:
    for name in RUN_FILES:
        assert (demo_run.out / name).is_file(), name
    assert (demo_run.out / "run.log").read_text(encoding="utf-8").strip()


def test_demo_stdout_says_where_the_report_is(demo_run: DemoRun) -> None:
    lines = [line for line in demo_run.result.stdout.splitlines() if "Report:" in line]
    assert len(lines) == 1, demo_run.result.stdout
    shown = Path(lines[0].split("Report:", 1)[1].strip())
    assert (demo_run.cwd / shown).resolve() == (demo_run.out / "report.html").resolve()
    # The results table lists every headline metric for the strategy, benchmark and control.
    rows = {row[0]: row for row in table_rows(demo_run.result.stdout)}
    for key in METRIC_KEYS:
        assert key in rows, demo_run.result.stdout
        assert len(rows[key]) == 4, demo_run.result.stdout
    assert "synthetic" in demo_run.result.stdout


def _assert_metrics(metrics: dict[str, Any], where: str) -> None:
    for key in METRIC_KEYS:
        assert key in metrics, f"{where}: no {key}"
        value = metrics[key]
        assert isinstance(value, int | float), f"{where}.{key}={value!r}"
        assert math.isfinite(value), f"{where}.{key}={value!r}"
    assert metrics["max_drawdown"] <= 0.0, where
    assert metrics["volatility"] >= 0.0, where
    assert 0.0 <= metrics["psr"] <= 1.0, where
    assert metrics["turnover"] >= 0.0, where
    assert metrics["costs"] >= 0.0, where


def _assert_data_record(data: dict[str, Any]) -> None:
    assert {"real", "strategy", "control"} <= set(data)
    assert {"^GSPC", "GOOG"} <= set(data["real"])
    assert len(data["strategy"]) == 8  # fast.yaml: demo.n_symbols
    assert len(data["control"]) == 8
    for group, series in data.items():
        assert series, group
        for symbol, record in series.items():
            where = f"{group}:{symbol}"
            assert record["start"], where
            assert record["end"], where
            assert record["start"] <= record["end"], where
            assert record["rows"] > 0, where
            assert re.fullmatch(r"[0-9a-f]{64}", record["content_hash"]), where
            assert record["kind"] == ("real" if group == "real" else "synthetic"), where


def test_demo_summary_records_config_seed_data_code_and_metrics(demo_run: DemoRun) -> None:
    summary = json.loads((demo_run.out / "summary.json").read_text(encoding="utf-8"))
    for key in ("config", "seed", "data", "code_version", "metrics", "control"):
        assert key in summary, key
    assert summary["seed"] == 42
    assert summary["config"]["portfolio"]["top_k"] == 2
    assert summary["config"]["demo"]["n_symbols"] == 8
    assert summary["config"]["run"]["seed"] == 42
    assert summary["code_version"].startswith(metadata.version("alphaforge"))
    _assert_data_record(summary["data"])
    _assert_metrics(summary["metrics"], "metrics")
    _assert_metrics(summary["control"]["metrics"], "control.metrics")


def test_demo_manifest_records_everything_needed_to_reproduce(demo_run: DemoRun) -> None:
    manifest = json.loads((demo_run.out / "manifest.json").read_text(encoding="utf-8"))
    summary = json.loads((demo_run.out / "summary.json").read_text(encoding="utf-8"))
    assert manifest["command"] == "demo"
    assert manifest["config"] == summary["config"]
    assert manifest["seed"] == 42
    assert manifest["seeds"]
    assert all(isinstance(v, int) for v in manifest["seeds"].values())
    assert manifest["data"] == summary["data"]
    _assert_data_record(manifest["data"])
    packages = manifest["packages"]
    for name in ("numpy", "pandas", "lightgbm", "scikit-learn"):
        assert packages[name] == metadata.version(name), name
    assert manifest["code_version"] == summary["code_version"]
    machine = manifest["machine"]
    for key in ("platform", "python", "cpu_count"):
        assert machine.get(key), key


def test_demo_report_labels_data_shows_control_and_embeds_plotly(demo_run: DemoRun) -> None:
    html = (demo_run.out / "report.html").read_text(encoding="utf-8")
    assert re.search(r'class="tag-real">real<', html)
    assert re.search(r'class="tag-synthetic">synthetic<', html)
    assert "<th>control</th>" in html
    assert "plotly-graph-div" in html
    assert "Plotly.newPlot" in html
    # plotly.js is embedded, not loaded from a CDN: the report works offline.
    assert not re.search(r"<script[^>]+src=[\"']https?:", html)


def test_demo_never_writes_or_prints_the_secret(demo_run: DemoRun) -> None:
    assert SECRET_ENV not in demo_run.result.stdout + demo_run.result.stderr
    for name in RUN_FILES:
        assert SECRET_ENV not in (demo_run.out / name).read_text(encoding="utf-8"), name
    summary = json.loads((demo_run.out / "summary.json").read_text(encoding="utf-8"))
    assert summary["config"]["secrets"]["alpaca_api_key"] == "********"


def test_reproduce_gives_identical_metrics(run_cli: RunCli, demo_run: DemoRun) -> None:
    result = run_cli(["reproduce", "out"], demo_run.cwd)
    assert_ok(result)
    assert "Metrics are identical." in result.stdout

    original = json.loads((demo_run.out / "summary.json").read_text(encoding="utf-8"))
    match = re.search(r"New run: (\S+)", result.stdout)
    assert match, result.stdout
    new_dir = demo_run.cwd / match.group(1)
    assert (new_dir / "summary.json").is_file()
    reproduced = json.loads((new_dir / "summary.json").read_text(encoding="utf-8"))
    assert reproduced["metrics"] == original["metrics"]
    assert reproduced["prediction_metrics"] == original["prediction_metrics"]
    assert reproduced["benchmark_metrics"] == original["benchmark_metrics"]
    assert reproduced["control"]["metrics"] == original["control"]["metrics"]
    assert reproduced["control"]["prediction_metrics"] == original["control"]["prediction_metrics"]
    assert reproduced["data"] == original["data"]

    # The printed table: one row per recorded metric, every difference exactly 0.
    rows = [row for row in table_rows(result.stdout) if len(row) == 5]
    expected = sum(
        len(section)
        for section in (
            original["metrics"],
            original["benchmark_metrics"],
            original["prediction_metrics"],
            original["control"]["metrics"],
            original["control"]["benchmark_metrics"],
            original["control"]["prediction_metrics"],
            original["rules_plus_ml"]["metrics"],
        )
    )
    assert reproduced["rules_plus_ml"] == original["rules_plus_ml"]
    assert len(rows) == expected, result.stdout
    assert {row[4] for row in rows} == {"0"}, result.stdout


def test_demo_default_run_dir_is_utc_time_demo(
    run_cli: RunCli, fast_config: Path, tmp_path: Path
) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    result = run_cli(["demo", "--config", fast_config], tmp_path)
    after = datetime.now(UTC)
    assert_ok(result)
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1, runs
    match = re.fullmatch(r"(\d{8}T\d{6}Z)-demo", runs[0].name)
    assert match, runs[0].name
    stamp = datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert before <= stamp <= after
    for name in RUN_FILES:
        assert (runs[0] / name).is_file(), name
    assert f"{runs[0].relative_to(tmp_path)}" in result.stdout


def test_demo_health_gate_refuses_rejected_series_even_with_override(
    run_cli: RunCli, fast_config: Path, tmp_path: Path
) -> None:
    # A single session leaves each synthetic series one bar: rejected by validation, and a
    # rejected series cannot be let through with data.allow_unhealthy.
    result = run_cli(
        ["demo", "--config", fast_config, "--out", "out"],
        tmp_path,
        env={
            "ALPHAFORGE_DEMO__START": "2016-01-04",
            "ALPHAFORGE_DEMO__END": "2016-01-04",
            "ALPHAFORGE_DATA__ALLOW_UNHEALTHY": "true",
        },
    )
    assert_one_line_error(result, "Data health gate failed", "too_few_rows", "cannot be overridden")
    assert not (tmp_path / "out" / "summary.json").exists()


# --------------------------------------------------------------------------- configuration


def test_config_option_before_and_after_the_command(
    run_cli: RunCli, fast_config: Path, tmp_path: Path
) -> None:
    before = show_config(run_cli(["--config", fast_config, "config", "show"], tmp_path))
    after = show_config(run_cli(["config", "show", "--config", fast_config], tmp_path))
    assert before == after
    assert before["portfolio"]["top_k"] == 2
    assert before["model"]["trees"]["n_estimators"] == 40
    assert before["data"]["store_dir"] == "store"


def test_config_from_alphaforge_config_variable(
    run_cli: RunCli, fast_config: Path, tmp_path: Path
) -> None:
    shutil.copy(fast_config, tmp_path / "mine.yaml")
    shown = show_config(
        run_cli(["config", "show"], tmp_path, env={"ALPHAFORGE_CONFIG": "mine.yaml"})
    )
    assert shown["portfolio"]["top_k"] == 2
    assert shown["walk_forward"]["test_months"] == 3


@pytest.mark.parametrize("position", ["before", pytest.param("after", marks=pytest.mark.slow)])
def test_config_option_beats_alphaforge_config_variable(
    run_cli: RunCli, fast_config: Path, tmp_path: Path, position: str
) -> None:
    (tmp_path / "other.yaml").write_text("portfolio: {top_k: 3}\n", encoding="utf-8")
    args = (
        ["--config", "other.yaml", "config", "show"]
        if position == "before"
        else ["config", "show", "--config", "other.yaml"]
    )
    shown = show_config(run_cli(args, tmp_path, env={"ALPHAFORGE_CONFIG": str(fast_config)}))
    assert shown["portfolio"]["top_k"] == 3


def test_precedence_yaml_then_dotenv_then_environment(
    run_cli: RunCli, fast_config: Path, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text(
        "ALPHAFORGE_PORTFOLIO__TOP_K=6\nALPHAFORGE_MODEL__TREES__N_ESTIMATORS=7\n", encoding="utf-8"
    )
    shown = show_config(
        run_cli(
            ["config", "show", "--config", fast_config],
            tmp_path,
            env={"ALPHAFORGE_PORTFOLIO__TOP_K": "5"},
        )
    )
    assert shown["model"]["trees"]["n_estimators"] == 7  # .env beats YAML
    assert shown["portfolio"]["top_k"] == 5  # environment beats .env
    assert shown["demo"]["n_symbols"] == 8  # YAML beats defaults


def test_config_show_masks_secrets_from_environment_and_dotenv(
    run_cli: RunCli, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text(
        f"ALPHAFORGE_SECRETS__FRED_API_KEY={SECRET_DOTENV}\n", encoding="utf-8"
    )
    result = run_cli(
        ["config", "show"], tmp_path, env={"ALPHAFORGE_SECRETS__ALPACA_API_KEY": SECRET_ENV}
    )
    shown = show_config(result)
    assert SECRET_ENV not in result.stdout + result.stderr
    assert SECRET_DOTENV not in result.stdout + result.stderr
    assert shown["secrets"]["alpaca_api_key"] == "********"
    assert shown["secrets"]["fred_api_key"] == "********"
    assert shown["secrets"]["openai_api_key"] is None


def test_alphaforge_debug_variable_is_not_taken_for_a_setting(
    run_cli: RunCli, tmp_path: Path
) -> None:
    # The internal-error message tells users to rerun with ALPHAFORGE_DEBUG=1.
    show_config(run_cli(["config", "show"], tmp_path, env={"ALPHAFORGE_DEBUG": "1"}))


# --------------------------------------------------------------------------- data commands


def test_import_odd_case_csv_then_list_and_validate(
    run_cli: RunCli, fast_config: Path, tmp_path: Path
) -> None:
    rows = write_bars_csv(tmp_path / "xyz.csv")
    imported = run_cli(
        ["data", "import", "xyz.csv", "--symbol", "XYZ", "--asset-class", "stock"],
        tmp_path,
        env={"ALPHAFORGE_CONFIG": str(fast_config)},
    )
    assert_ok(imported)
    assert f"Stored {rows} bars of XYZ" in imported.stdout

    listed = run_cli(["data", "list", "--config", fast_config], tmp_path)
    assert_ok(listed)
    (row,) = [r for r in table_rows(listed.stdout) if "XYZ" in r]
    assert row[:4] == ["stock", "XYZ", "1d", str(rows)]
    assert row[4:6] == ["2020-01-02", "2020-03-27"]
    assert row[7] == "file:xyz.csv"

    validated = run_cli(["--config", fast_config, "data", "validate", "XYZ"], tmp_path)
    assert_ok(validated)
    assert "Validation" in validated.stdout
    (report,) = [r for r in table_rows(validated.stdout) if r[0] == "XYZ 1d"]
    assert report[1:4] == [str(rows), str(rows), "1.00"]


def test_import_csv_without_close_column_fails_in_one_line(
    run_cli: RunCli, fast_config: Path, tmp_path: Path
) -> None:
    write_bars_csv(tmp_path / "bad.csv", header="DATE,Open,HIGH,low,Volume")
    # Without COLUMNS rich assumes 80 columns when stderr is not a terminal: the error, longer
    # than that, must still come out as one line.
    result = run_cli(
        ["data", "import", "bad.csv", "--symbol", "BAD", "--config", fast_config],
        tmp_path,
        env={"COLUMNS": None},
    )
    assert_one_line_error(result, "missing column(s) close", "bad.csv", "volume is optional")
    assert not list(tmp_path.glob("store/**/*.parquet")), "bars stored despite the error"


def test_import_prints_a_symbol_with_brackets_as_typed(
    run_cli: RunCli, fast_config: Path, tmp_path: Path
) -> None:
    # Symbols and paths are user text, not rich markup: "[/b]" must neither crash the
    # command after the bars are stored nor vanish from the output.
    rows = write_bars_csv(tmp_path / "xyz.csv")
    result = run_cli(
        ["data", "import", "xyz.csv", "--symbol", "Z[/b]", "-c", fast_config], tmp_path
    )
    assert_ok(result)
    assert f"Stored {rows} bars of Z[/b]" in result.stdout


def test_fetch_sample_stores_then_fetches_nothing_new(
    run_cli: RunCli, fast_config: Path, tmp_path: Path
) -> None:
    args = ["data", "fetch", "--source", "sample", "^GSPC", "GOOG", "--config", fast_config]
    first = run_cli(args, tmp_path)
    assert_ok(first)
    fetched = {row[0]: row for row in table_rows(first.stdout)}
    assert set(fetched) == {"^GSPC", "GOOG"}, first.stdout
    assert all(int(row[1]) > 0 for row in fetched.values())
    manifest = tmp_path / "store" / "manifest.json"
    hashes = {
        key: entry["content_hash"]
        for key, entry in json.loads(manifest.read_text(encoding="utf-8"))["series"].items()
    }
    assert len(hashes) == 2

    second = run_cli(args, tmp_path)
    assert_ok(second)
    again = {row[0]: row for row in table_rows(second.stdout)}
    assert set(again) == {"^GSPC", "GOOG"}
    assert [row[1] for row in again.values()] == ["0", "0"], second.stdout
    assert {k: r[2:4] for k, r in again.items()} == {k: r[2:4] for k, r in fetched.items()}
    after = {
        key: entry["content_hash"]
        for key, entry in json.loads(manifest.read_text(encoding="utf-8"))["series"].items()
    }
    assert after == hashes


def test_fetch_without_network_fails_fast_in_one_line(run_cli: RunCli, tmp_path: Path) -> None:
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
    elapsed = time.monotonic() - started
    assert elapsed < 30, f"took {elapsed:.1f} s"
    assert_one_line_error(result, "AAPL", "could not be reached", "use --source sample")


@pytest.mark.parametrize("keyed", [False, True], ids=["no-key", "key-from-environment"])
def test_fetch_from_fred_gets_its_key_from_the_configuration(
    run_cli: RunCli, tmp_path: Path, keyed: bool
) -> None:
    env = {
        "ALPHAFORGE_DATA__BACKOFF_SECONDS": "0",
        "ALPHAFORGE_DATA__MAX_RETRIES": "0",
        "ALPHAFORGE_DATA__STORE_DIR": "store",
    }
    if keyed:
        env["ALPHAFORGE_SECRETS__FRED_API_KEY"] = SECRET_ENV
    result = run_cli(
        ["data", "fetch", "--source", "fred", "UNRATE", "--asset-class", "macro", "-i", "1mo"],
        tmp_path,
        env=env,
        timeout=60,
    )
    assert result.returncode != 0  # no network in tests either way
    both = result.stdout + result.stderr
    assert SECRET_ENV not in both
    assert ("API key" in both) is not keyed, both


def test_fetch_range_without_bars_exits_non_zero(
    run_cli: RunCli, fast_config: Path, tmp_path: Path
) -> None:
    # GOOG's sample series ends in 2013: the per-symbol failure must fail the command.
    result = run_cli(
        [
            *("data", "fetch", "--source", "sample", "GOOG"),
            *("--start", "2020-01-01", "--end", "2020-12-31", "--config", fast_config),
        ],
        tmp_path,
    )
    assert_one_line_error(result, "GOOG", "no bars between 2020-01-01 and 2020-12-31")


@pytest.mark.slow
def test_validate_exits_non_zero_on_store_integrity_problem(
    run_cli: RunCli, fast_config: Path, tmp_path: Path
) -> None:
    write_bars_csv(tmp_path / "xyz.csv")
    imported = run_cli(
        ["data", "import", "xyz.csv", "--symbol", "XYZ", "-c", fast_config], tmp_path
    )
    assert_ok(imported)
    manifest = tmp_path / "store" / "manifest.json"
    loaded = json.loads(manifest.read_text(encoding="utf-8"))
    (entry,) = loaded["series"].values()
    entry["content_hash"] = "0" * 64
    manifest.write_text(json.dumps(loaded), encoding="utf-8")
    result = run_cli(["data", "validate", "--config", fast_config], tmp_path)
    assert_no_traceback(result)
    assert "integrity" in result.stderr
    assert "XYZ" in result.stderr
    assert result.returncode != 0, f"exit 0 with an integrity problem\n{result.stderr}"


# --------------------------------------------------------------------------- user mistakes


class Mistake(NamedTuple):
    args: list[str]
    fragments: tuple[str, ...]
    env: dict[str, str] | None = None
    files: dict[str, str] | None = None
    slow: bool = False  # variations of a covered mistake, run with -m slow


FAST = "{fast}"  # replaced by the fast configuration's path
GOOD_CSV = "{good_csv}"  # a valid bar file is written under this name

MISTAKES: dict[str, Mistake] = {
    "unknown-sample-symbol": Mistake(
        ["data", "fetch", "--source", "sample", "NOPE"],
        ("No sample series called 'NOPE'", "Did you mean"),
    ),
    "unknown-interval": Mistake(
        ["data", "fetch", "--source", "sample", "GOOG", "--interval", "2d"],
        ("Unknown interval '2d'", "Use one of 1m"),
    ),
    "unknown-asset-class-online": Mistake(
        ["data", "fetch", "--source", "yfinance", "GOOG", "--asset-class", "bond"],
        ("Unknown asset class 'bond'", "Use one of stock"),
    ),
    "unknown-asset-class-sample": Mistake(
        ["data", "fetch", "--source", "sample", "GOOG", "--asset-class", "bond", "-c", FAST],
        ("Unknown asset class 'bond'", "Use one of stock"),
    ),
    "unknown-asset-class-import": Mistake(
        ["data", "import", "good.csv", "--symbol", "X", "--asset-class", "bond", "-c", FAST],
        ("Unknown asset class 'bond'", "Use one of stock"),
        files={"good.csv": GOOD_CSV},
        slow=True,
    ),
    "bad-date": Mistake(
        ["data", "fetch", "--source", "sample", "GOOG", "--start", "2020-13-01"],
        ("Invalid date '2020-13-01'", "YYYY-MM-DD"),
    ),
    "start-after-end": Mistake(
        [
            "data",
            "fetch",
            "--source",
            "sample",
            "GOOG",
            "--start",
            "2020-02-01",
            "--end",
            "2020-01-01",
        ],
        ("Start 2020-02-01 is after end 2020-01-01", "Swap --start and --end"),
        slow=True,
    ),
    "unknown-source": Mistake(
        ["data", "fetch", "--source", "nosuch", "GOOG"],
        ("Unknown data source 'nosuch'",),
        slow=True,
    ),
    "nothing-to-fetch": Mistake(["data", "fetch"], ("Nothing to fetch", "--universe"), slow=True),
    "seed-not-an-integer": Mistake(
        ["config", "show"], ("run.seed", "ALPHAFORGE_"), env={"ALPHAFORGE_RUN__SEED": "abc"}
    ),
    "negative-top-k": Mistake(
        ["--config", "bad.yaml", "config", "show"],
        ("portfolio.top_k", "Fix it in the YAML file"),
        files={"bad.yaml": "portfolio: {top_k: -1}\n"},
    ),
    "unknown-yaml-key": Mistake(
        ["config", "show", "--config", "bad.yaml"],
        ("Unknown configuration key portfolio.topk", "Did you mean 'top_k'?"),
        files={"bad.yaml": "portfolio: {topk: 3}\n"},
    ),
    "unknown-env-key": Mistake(
        ["config", "show"], ("run.nope",), env={"ALPHAFORGE_RUN__NOPE": "1"}, slow=True
    ),
    "env-not-a-setting": Mistake(
        ["config", "show"],
        ("ALPHAFORGE_NOPE", "ALPHAFORGE_<SECTION>__<FIELD>"),
        env={"ALPHAFORGE_NOPE": "1"},
        slow=True,
    ),
    "missing-config-file": Mistake(
        ["--config", "missing.yaml", "config", "show"], ("missing.yaml", "does not exist")
    ),
    "missing-config-file-from-env": Mistake(
        ["config", "show"],
        ("missing.yaml", "does not exist"),
        env={"ALPHAFORGE_CONFIG": "missing.yaml"},
        slow=True,
    ),
    "invalid-yaml": Mistake(
        ["config", "show", "--config", "bad.yaml"],
        ("bad.yaml", "not valid YAML", "Fix its syntax"),
        files={"bad.yaml": "portfolio: [\n"},
        slow=True,
    ),
    "secrets-in-yaml": Mistake(
        ["config", "show", "--config", "bad.yaml"],
        ("'secrets' section", "ALPHAFORGE_SECRETS__"),
        files={"bad.yaml": "secrets: {alpaca_api_key: abc}\n"},
        slow=True,
    ),
    "reproduce-folder-not-a-run": Mistake(
        ["reproduce", "notarun"], ("manifest.json", "does not exist"), files={"notarun/x": ""}
    ),
    "reproduce-missing-folder": Mistake(
        ["reproduce", "nowhere"], ("nowhere", "not a directory"), slow=True
    ),
    "validate-symbol-not-stored": Mistake(
        ["data", "validate", "NOPE", "-c", FAST], ("Not in the store: NOPE",), slow=True
    ),
    "import-missing-file": Mistake(
        ["data", "import", "nofile.csv", "--symbol", "Q", "-c", FAST],
        ("nofile.csv", "does not exist"),
        slow=True,
    ),
    "demo-out-not-empty": Mistake(
        ["demo", "--config", FAST, "--out", "full"],
        ("full is not empty", "--out"),
        files={"full/keep.txt": "x"},
        slow=True,
    ),
    "store-dir-is-a-file": Mistake(
        ["data", "list"],
        ("afile",),
        env={"ALPHAFORGE_DATA__STORE_DIR": "afile"},
        files={"afile": ""},
    ),
    # Text the user typed must be printed as typed, not read as rich markup.
    "symbol-with-brackets": Mistake(
        ["data", "fetch", "--source", "sample", "X[/bold]"], ("No sample series called 'X[/bold]'",)
    ),
    "path-with-brackets": Mistake(
        ["data", "import", "prices[old].csv", "--symbol", "Q", "-c", FAST],
        ("prices[old].csv", "does not exist"),
        slow=True,
    ),
}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=[pytest.mark.slow] if mistake.slow else [])
        for name, mistake in MISTAKES.items()
    ],
)
def test_user_mistake_ends_in_one_line_and_non_zero_exit(
    run_cli: RunCli, fast_config: Path, tmp_path: Path, name: str
) -> None:
    mistake = MISTAKES[name]
    for relative, content in (mistake.files or {}).items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if content == GOOD_CSV:
            write_bars_csv(path)
        else:
            path.write_text(content, encoding="utf-8")
    args = [str(fast_config) if arg == FAST else arg for arg in mistake.args]
    result = run_cli(args, tmp_path, env=mistake.env, timeout=60)
    assert_one_line_error(result, *mistake.fragments)
