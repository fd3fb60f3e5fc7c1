"""A throwaway PostgreSQL cluster for tests (a pytest plugin: ``pytest_plugins = ["tests.pg"]``).

``postgres_cluster`` (session) finds Debian's PostgreSQL binaries, installing the ``postgresql``
package when they are missing (best effort, quiet), creates a cluster in a temporary folder
owned by the ``postgres`` user (PostgreSQL refuses to run as root, so commands run through
``runuser -u postgres --`` when the tests run as root), starts it on 127.0.0.1 with a free port,
trust authentication and its unix socket inside that folder, and removes it at the end. Each
pytest-xdist worker starts its own cluster (its own folder and port). When any step fails, the
tests that need it are skipped with the reason.

``postgres_url`` is one database on it for the session; ``fresh_postgres_url`` a new empty
database per test; ``ledger_url`` runs a test on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from alphaforge.storage.atomic import file_lock

#: Seconds a cluster command (initdb, start, stop) may take.
COMMAND_TIMEOUT = 120
#: Seconds ``apt-get install postgresql`` may take.
INSTALL_TIMEOUT = 600


@dataclass(frozen=True)
class PostgresCluster:
    """A running throwaway cluster: superuser ``postgres``, trust authentication on 127.0.0.1."""

    host: str
    port: int
    user: str = "postgres"

    def url(self, database: str) -> str:
        """Return the SQLAlchemy URL of ``database`` on this cluster (psycopg 3)."""
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create an empty database and return its URL."""
        self._admin(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop a database, closing its connections first."""
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _admin(self, statement: str) -> None:
        import psycopg

        dsn = f"host={self.host} port={self.port} user={self.user} dbname=postgres"
        with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
            conn.execute(statement.encode())


def find_bin_dir() -> Path | None:
    """Return the newest ``/usr/lib/postgresql/<version>/bin`` holding ``initdb``, or None."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return Path(found[-1]).parent if found else None


def install_postgres() -> None:
    """Install Debian's ``postgresql`` package (quietly; refreshing the index if needed)."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "postgresql"]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env}
    if subprocess.run(install, timeout=INSTALL_TIMEOUT, check=False, **quiet).returncode == 0:
        return
    subprocess.run(["apt-get", "update", "-q"], timeout=INSTALL_TIMEOUT, check=False, **quiet)
    subprocess.run(install, timeout=INSTALL_TIMEOUT, check=True, **quiet)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _as_postgres() -> list[str]:
    """Return the prefix that runs a command as ``postgres`` (nothing when not root)."""
    if os.geteuid() != 0:
        return []
    if shutil.which("runuser"):
        return ["runuser", "-u", "postgres", "--"]
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"]


def _run(args: list[str]) -> None:
    result = subprocess.run(
        [*_as_postgres(), *args],
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
        cwd="/",
    )
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"{Path(args[0]).name} failed: {' / '.join(tail)}")


def start_cluster(root: Path, bin_dir: Path) -> PostgresCluster:
    """Create and start a cluster under ``root`` (owned by ``postgres`` when run as root)."""
    if os.geteuid() == 0:
        shutil.chown(root, user="postgres", group="postgres")
    data = root / "data"
    _run([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync"])
    last_error: Exception | None = None
    for _ in range(3):  # another process may take the free port before the server binds it
        port = _free_port()
        options = (
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off -c max_connections=50"
        )
        try:
            _run(
                [
                    str(bin_dir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-o",
                    options,
                    "-l",
                    str(root / "server.log"),
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            )
        except RuntimeError as exc:
            last_error = exc
            continue
        return PostgresCluster("127.0.0.1", port)
    raise RuntimeError(f"the PostgreSQL server did not start: {last_error}")


def stop_cluster(root: Path, bin_dir: Path) -> None:
    """Stop the cluster under ``root`` at once and remove its folder."""
    try:
        _run([str(bin_dir / "pg_ctl"), "-D", str(root / "data"), "-m", "immediate", "stop"])
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """Yield a running throwaway cluster for this test session (this xdist worker's own)."""
    try:
        import psycopg  # noqa: F401  (the driver the ledger uses)
    except ImportError as exc:
        pytest.skip(f"PostgreSQL tests need psycopg: {exc}")
    try:
        bin_dir = find_bin_dir()
        if bin_dir is None:
            # xdist workers start together: one installs, the others wait and find it.
            with file_lock(Path(tempfile.gettempdir()) / "alphaforge-pg-install.lock"):
                bin_dir = find_bin_dir()
                if bin_dir is None:
                    install_postgres()
                    bin_dir = find_bin_dir()
        if bin_dir is None:
            raise RuntimeError("initdb is not under /usr/lib/postgresql/*/bin after installing")
    except (OSError, subprocess.SubprocessError, RuntimeError) as exc:
        pytest.skip(f"PostgreSQL is not installed and apt-get could not install it: {exc}")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    # /tmp, not $TMPDIR: the postgres user must reach the folder, and the socket path must
    # stay under the 107 characters a unix socket allows.
    root = Path(tempfile.mkdtemp(prefix=f"alphaforge-pg-{worker}-", dir="/tmp"))
    try:
        cluster = start_cluster(root, bin_dir)
    except (OSError, subprocess.SubprocessError, RuntimeError, LookupError) as exc:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"could not start a throwaway PostgreSQL cluster: {exc}")
    try:
        yield cluster
    finally:
        stop_cluster(root, bin_dir)


@pytest.fixture(scope="session")
def postgres_url(postgres_cluster: PostgresCluster) -> str:
    """Return the URL of a database shared by the session's tests."""
    return postgres_cluster.create_database("alphaforge")


@pytest.fixture
def fresh_postgres_url(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """Yield the URL of a new, empty database, dropped after the test."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    url = postgres_cluster.create_database(name)
    try:
        yield url
    finally:
        postgres_cluster.drop_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Return the URL of an empty ledger database: an SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger' / 'ledger.sqlite'}"
    url: str = request.getfixturevalue("fresh_postgres_url")
    return url
