"""Fixtures for end-to-end tests that run the real ``alphaforge`` CLI in a subprocess.

Every command runs with a clean environment: no ``ALPHAFORGE_*`` variable of the parent
process leaks in, ``COLUMNS=200`` keeps rich tables unwrapped, and every proxy variable points
at a closed port on 127.0.0.1 so that nothing can reach the network.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY")
#: Seconds any single CLI call may take before the test fails.
DEFAULT_TIMEOUT = 120.0


class CliResult(NamedTuple):
    """What a CLI call returned."""

    returncode: int
    stdout: str
    stderr: str


RunCli = Callable[..., CliResult]


def _closed_port() -> int:
    """Return a local TCP port nothing listens on (bound once, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def base_env() -> dict[str, str]:
    """Return the environment every CLI call starts from."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.upper().startswith("ALPHAFORGE_")
        and key.upper() not in ("NO_PROXY", "FORCE_COLOR", "PYTEST_ADDOPTS")
    }
    proxy = f"http://127.0.0.1:{_closed_port()}"
    for name in PROXY_VARIABLES:
        env[name] = proxy
        env[name.lower()] = proxy
    env["COLUMNS"] = "200"
    env["PYTHONIOENCODING"] = "utf-8"
    return env


@pytest.fixture(scope="session")
def run_cli(base_env: dict[str, str]) -> RunCli:
    """Return ``run(args, cwd, env=None, timeout=...) -> CliResult`` running the real CLI.

    ``env`` holds overrides of the base environment; a value of ``None`` removes a variable.
    """

    def run(
        args: Sequence[str | os.PathLike[str]],
        cwd: Path,
        env: Mapping[str, str | None] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> CliResult:
        full_env = dict(base_env)
        for key, value in (env or {}).items():
            if value is None:
                full_env.pop(key, None)
            else:
                full_env[key] = value
        completed = subprocess.run(
            [sys.executable, "-m", "alphaforge.cli.app", *map(str, args)],
            cwd=cwd,
            env=full_env,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=timeout,
            check=False,
        )
        return CliResult(completed.returncode, completed.stdout, completed.stderr)

    return run


@pytest.fixture(scope="session")
def fast_config() -> Path:
    """Return the path of the small, fast YAML configuration."""
    return FIXTURES / "fast.yaml"
