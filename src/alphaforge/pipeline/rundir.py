"""Run directories: one folder per run with its summary, report, log and manifest.

``runs/<UTC time>-<command>/`` holds ``summary.json`` (results), ``manifest.json`` (everything
needed to reproduce: configuration, seed, data hashes, package versions, code version, machine),
``report.html`` and ``run.log``.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from alphaforge import __version__
from alphaforge.core.errors import AlphaForgeError
from alphaforge.storage.atomic import atomic_write_text

SUMMARY = "summary.json"
MANIFEST = "manifest.json"
REPORT = "report.html"
LOG = "run.log"

#: Packages whose versions change results; recorded in every manifest.
TRACKED_PACKAGES = (
    "numpy",
    "pandas",
    "scipy",
    "scikit-learn",
    "lightgbm",
    "ta-lib",
    "pyarrow",
    "duckdb",
    "exchange-calendars",
    "yfinance",
    "arch",
    "backtesting",
    "skfolio",
    "pydantic",
)


@dataclass(frozen=True, slots=True)
class RunDir:
    """A run's folder and the names of what goes in it."""

    path: Path
    run_id: str
    command: str
    created: datetime

    @property
    def summary(self) -> Path:
        """Return the path of ``summary.json``."""
        return self.path / SUMMARY

    @property
    def manifest(self) -> Path:
        """Return the path of ``manifest.json``."""
        return self.path / MANIFEST

    @property
    def report(self) -> Path:
        """Return the path of ``report.html``."""
        return self.path / REPORT

    @property
    def log(self) -> Path:
        """Return the path of ``run.log``."""
        return self.path / LOG


def create_run_dir(runs_dir: Path, command: str, out: Path | None = None) -> RunDir:
    """Create and return a fresh run directory.

    ``out`` names the folder exactly (it must be empty or absent); otherwise the folder is
    ``runs_dir/<UTC time>-<command>`` with a numeric suffix if that already exists.
    """
    created = datetime.now(UTC)
    stamp = created.strftime("%Y%m%dT%H%M%SZ")
    if out is not None:
        path = out
        # Never overwrite anything but the log a failed run left behind.
        if path.exists() and not path.is_dir():
            raise AlphaForgeError(f"Output path {path} is a file.", hint="Choose a folder.")
        if path.exists() and any(p.name != LOG for p in path.iterdir()):
            raise AlphaForgeError(
                f"Output folder {path} is not empty.", hint="Choose a new folder with --out."
            )
    else:
        path = runs_dir / f"{stamp}-{command}"
        suffix = 1
        while path.exists():
            suffix += 1
            path = runs_dir / f"{stamp}-{command}-{suffix}"
    path.mkdir(parents=True, exist_ok=True)
    return RunDir(path=path, run_id=path.name, command=command, created=created)


def attach_log(run: RunDir, level: str) -> logging.Handler:
    """Send the ``alphaforge`` loggers' records to the run's log file; return the handler."""
    handler = logging.FileHandler(run.log, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("alphaforge")
    root.addHandler(handler)
    root.setLevel(level)
    return handler


def detach_log(handler: logging.Handler) -> None:
    """Stop writing to a run's log file."""
    logging.getLogger("alphaforge").removeHandler(handler)
    handler.close()


def code_version() -> str:
    """Return the package version plus the git commit (and ``-dirty``) when run from a checkout."""
    source_root = Path(__file__).resolve().parents[3]
    git = shutil.which("git")
    if git is not None and (source_root / ".git").exists():
        try:
            described = subprocess.run(
                [git, "-C", str(source_root), "describe", "--always", "--dirty", "--abbrev=12"],
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            ).stdout.strip()
        except (subprocess.SubprocessError, OSError):
            described = ""
        if described:
            return f"{__version__}+g{described}"
    return __version__


def package_versions() -> dict[str, str]:
    """Return installed versions of the packages that change results."""
    versions = {}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def machine_info() -> dict[str, Any]:
    """Return the CPU and GPU this run used."""
    gpu = "none"
    smi = shutil.which("nvidia-smi")
    if smi is not None:
        try:
            gpu = (
                subprocess.run(
                    [smi, "--query-gpu=name", "--format=csv,noheader"],
                    capture_output=True,
                    text=True,
                    timeout=10,
                    check=True,
                ).stdout.strip()
                or "none"
            )
        except (subprocess.SubprocessError, OSError):
            gpu = "unknown (nvidia-smi failed)"
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "gpu": gpu,
    }


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write JSON atomically (sorted keys, NaN written as null)."""
    atomic_write_text(path, json.dumps(_clean(payload), indent=2, sort_keys=True) + "\n")


def read_json(path: Path) -> dict[str, Any]:
    """Read a run file, failing with a user-facing error when it is missing or broken."""
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AlphaForgeError(
            f"{path} does not exist.", hint="Pass a run directory created by alphaforge."
        ) from None
    except json.JSONDecodeError:
        raise AlphaForgeError(f"{path} is not valid JSON.", hint="The run is damaged.") from None
    if not isinstance(loaded, dict):
        raise AlphaForgeError(f"{path} does not hold a JSON object.")
    return loaded


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value
