"""``alphaforge serve token create|list|revoke`` through the real CLI, and its refusals."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml
from tests.integration.test_backtest_cli import assert_ok, assert_one_line_error

from alphaforge.core.clock import SystemClock
from alphaforge.service.auth import Scope, TokenInfo, TokenStore, tokens_path

if TYPE_CHECKING:
    from conftest import RunCli

TOKEN_RE = re.compile(r"af_[A-Za-z0-9_-]{43}")


@pytest.fixture
def store_env(tmp_path: Path) -> dict[str, str | None]:
    return {"ALPHAFORGE_DATA__STORE_DIR": str(tmp_path / "store")}


def _verify(tmp_path: Path, token: str) -> TokenInfo | None:
    with TokenStore(tokens_path(tmp_path / "store" / "service"), SystemClock()) as store:
        return store.verify(token)


def _count(tmp_path: Path) -> int:
    with TokenStore(tokens_path(tmp_path / "store" / "service"), SystemClock()) as store:
        return len(store.list())


def test_a_token_is_created_shown_once_listed_and_revoked(
    tmp_path: Path, run_cli: RunCli, store_env: dict[str, str | None]
) -> None:
    created = run_cli(
        ["serve", "token", "create", "--name", "laptop", "--scope", "trade", "--expires", "90d"],
        tmp_path,
        env=store_env,
    )
    assert_ok(created)
    (token,) = TOKEN_RE.findall(created.stdout)
    assert created.stdout.splitlines()[0] == token  # alone on its line, for scripts
    assert "only this once" in created.stdout
    info = _verify(tmp_path, token)
    assert info is not None and (info.name, info.scope) == ("laptop", Scope.TRADE)

    listed = run_cli(["serve", "token", "list"], tmp_path, env=store_env)
    assert_ok(listed)
    assert "laptop" in listed.stdout and "trade" in listed.stdout and "active" in listed.stdout
    assert token not in listed.stdout + listed.stderr
    assert TOKEN_RE.search(listed.stdout) is None
    assert re.search(r"[0-9a-f]{64}", listed.stdout) is None  # nor its hash

    revoked = run_cli(["serve", "token", "revoke", "laptop"], tmp_path, env=store_env)
    assert_ok(revoked)
    assert "revoked" in revoked.stdout
    assert _verify(tmp_path, token) is None
    after = run_cli(["serve", "token", "list"], tmp_path, env=store_env)
    assert_ok(after)
    row = next(line for line in after.stdout.splitlines() if "laptop" in line)
    assert row.rstrip(" │").endswith("revoked")


def test_the_config_file_given_to_serve_places_the_tokens(tmp_path: Path, run_cli: RunCli) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"data": {"store_dir": str(tmp_path / "store")}}))
    created = run_cli(
        ["serve", "-c", str(config), "token", "create", "--name", "ci", "--scope", "read"],
        tmp_path,
    )
    assert_ok(created)
    assert "never expires" in created.stderr
    (token,) = TOKEN_RE.findall(created.stdout)
    assert _verify(tmp_path, token) is not None
    listed = run_cli(["serve", "token", "list", "-c", str(config)], tmp_path)
    assert_ok(listed)
    assert "ci" in listed.stdout and "read" in listed.stdout


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--name", "x", "--scope", "root"], "Unknown token scope 'root'"),
        (["--name", "x", "--scope", "read", "--expires", "forever"], "Invalid duration"),
    ],
)
def test_a_bad_create_flag_is_one_line(
    tmp_path: Path,
    run_cli: RunCli,
    store_env: dict[str, str | None],
    args: list[str],
    fragment: str,
) -> None:
    result = run_cli(["serve", "token", "create", *args], tmp_path, env=store_env)
    assert_one_line_error(result, fragment)
    assert not result.stdout.strip()


def test_a_second_active_token_of_one_name_is_one_line(
    tmp_path: Path, run_cli: RunCli, store_env: dict[str, str | None]
) -> None:
    command = ["serve", "token", "create", "--name", "laptop", "--scope", "read"]
    assert_ok(run_cli(command, tmp_path, env=store_env))
    again = run_cli(command, tmp_path, env=store_env)
    assert_one_line_error(again, "already named 'laptop'", "revoke")
    assert TOKEN_RE.search(again.stdout) is None
    assert _count(tmp_path) == 1


def test_revoking_an_unknown_name_is_one_line(
    tmp_path: Path, run_cli: RunCli, store_env: dict[str, str | None]
) -> None:
    assert_one_line_error(
        run_cli(["serve", "token", "revoke", "nobody"], tmp_path, env=store_env), "'nobody'"
    )


def test_serve_with_a_bad_mode_is_one_line(
    tmp_path: Path, run_cli: RunCli, store_env: dict[str, str | None]
) -> None:
    assert_one_line_error(run_cli(["serve", "--mode", "real"], tmp_path, env=store_env), "mode")
