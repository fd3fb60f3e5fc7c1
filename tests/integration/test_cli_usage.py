"""Usage mistakes get typer's usage line and exit 2, never "internal error" (every command)."""

from __future__ import annotations

import sys

import pytest
import typer

from alphaforge.cli.app import app, main


def _command_paths() -> list[tuple[str, ...]]:
    """Return the path of every command and group of the CLI, the root included."""
    root = typer.main.get_command(app)
    paths: list[tuple[str, ...]] = [()]
    stack: list[tuple[tuple[str, ...], object]] = [((), root)]
    while stack:
        path, command = stack.pop()
        children = getattr(command, "commands", None) or {}
        for name, child in children.items():
            paths.append((*path, name))
            stack.append(((*path, name), child))
    return sorted(paths)


COMMANDS = _command_paths()


def _run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *argv: str
) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["alphaforge", *argv])
    with pytest.raises(SystemExit) as info:
        main()
    captured = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 1), captured.out + captured.err


def test_the_cli_has_the_commands_we_expect() -> None:
    # Guards the walk below: a broken walk would make the parametrized test vacuous.
    names = {" ".join(path) for path in COMMANDS}
    assert {"data import", "data fetch", "train", "predict", "demo", "models list"} <= names


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "alphaforge")
def test_every_command_refuses_an_unknown_flag_with_its_usage(
    path: tuple[str, ...], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, output = _run(monkeypatch, capsys, *path, "--bogus")
    assert code == 2, output
    assert "internal error" not in output
    assert "Traceback" not in output
    assert "Usage: alphaforge" in output
    assert "No such option: --bogus" in output


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (("bogus-command",), "No such command 'bogus-command'"),
        (("data", "import"), "Missing argument"),
        (("data", "query", "SELECT 1", "--limit", "many"), "Invalid value for '--limit'"),
        (("data", "fetch", "--start"), "requires an argument"),
    ],
)
def test_usage_mistakes_exit_2_with_the_problem(
    argv: tuple[str, ...],
    problem: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, output = _run(monkeypatch, capsys, *argv)
    assert code == 2, output
    assert problem in output
    assert "Usage: alphaforge" in output
    assert "internal error" not in output
