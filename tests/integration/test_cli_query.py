"""`alphaforge data query` runs DuckDB SQL across the store; bad SQL is a one-line error."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import RunCli


def test_query_counts_bars_per_symbol(run_cli: RunCli, fast_config: Path, tmp_path: Path) -> None:
    fetched = run_cli(
        ["data", "fetch", "--source", "sample", "GOOG", "^GSPC", "--config", str(fast_config)],
        tmp_path,
    )
    assert fetched.returncode == 0, fetched.stderr
    result = run_cli(
        [
            "data",
            "query",
            "SELECT symbol, count(*) AS n FROM bars GROUP BY symbol ORDER BY symbol",
            "--config",
            str(fast_config),
        ],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "GOOG" in result.stdout
    assert "2148" in result.stdout
    assert "^GSPC" in result.stdout
    assert "5031" in result.stdout


def test_bad_sql_is_a_one_line_error(run_cli: RunCli, fast_config: Path, tmp_path: Path) -> None:
    run_cli(["data", "fetch", "--source", "sample", "GOOG", "--config", str(fast_config)], tmp_path)
    result = run_cli(["data", "query", "SELEC nothing", "--config", str(fast_config)], tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("error: The query failed")
