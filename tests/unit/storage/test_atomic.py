"""Atomic writes: the target holds the old or the new content, never a mix, never a stray temp."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from alphaforge.storage import atomic
from alphaforge.storage.atomic import (
    TEMP_SUFFIX,
    atomic_path,
    atomic_write_bytes,
    atomic_write_text,
    file_lock,
    remove_stale_temp_files,
)


def _temps(directory: Path) -> list[Path]:
    return sorted(directory.rglob(f"*{TEMP_SUFFIX}"))


def _write_then_fail(target: Path, partial: bytes) -> None:
    with atomic_path(target) as temp:
        temp.write_bytes(partial)
        raise RuntimeError("writer died")


def test_write_bytes_creates_parents_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "blob.bin"
    atomic_write_bytes(target, b"first")
    assert target.read_bytes() == b"first"
    atomic_write_bytes(target, b"second, longer")
    assert target.read_bytes() == b"second, longer"
    assert _temps(tmp_path) == []


def test_write_text_is_byte_exact_utf8(tmp_path: Path) -> None:
    target = tmp_path / "note.txt"
    atomic_write_text(target, "line one\nline two: é €\n")
    assert target.read_bytes() == "line one\nline two: é €\n".encode()


def test_atomic_path_yields_fresh_temp_in_the_same_directory(tmp_path: Path) -> None:
    target = tmp_path / "data.json"
    with atomic_path(target) as temp:
        assert temp.parent == target.parent
        assert temp.name.startswith(".")
        assert temp.name.endswith(TEMP_SUFFIX)
        assert not temp.exists()
        temp.write_text("{}")
        assert not target.exists()  # nothing visible until the block succeeds
    assert target.read_text() == "{}"
    assert _temps(tmp_path) == []


def test_exception_in_block_keeps_previous_content_and_removes_temp(tmp_path: Path) -> None:
    target = tmp_path / "data.bin"
    atomic_write_bytes(target, b"previous")
    with pytest.raises(RuntimeError, match="writer died"):
        _write_then_fail(target, b"half of the new con")
    assert target.read_bytes() == b"previous"
    assert _temps(tmp_path) == []


def test_exception_on_first_write_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "new.bin"
    with pytest.raises(RuntimeError, match="writer died"):
        _write_then_fail(target, b"partial")
    assert not target.exists()
    assert _temps(tmp_path) == []


def test_failing_replace_keeps_previous_content_and_removes_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "data.bin"
    atomic_write_bytes(target, b"previous")

    def broken_replace(src: object, dst: object) -> None:
        raise OSError("disk vanished during rename")

    monkeypatch.setattr(atomic.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk vanished"):
        atomic_write_bytes(target, b"new content")
    assert target.read_bytes() == b"previous"
    assert _temps(tmp_path) == []


def test_failing_fsync_keeps_previous_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "data.bin"
    atomic_write_bytes(target, b"previous")

    def broken_fsync(fd: int) -> None:
        raise OSError("I/O error")

    monkeypatch.setattr(atomic.os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="I/O error"):
        atomic_write_bytes(target, b"new content")
    assert target.read_bytes() == b"previous"
    assert _temps(tmp_path) == []


def test_block_that_writes_nothing_is_an_error(tmp_path: Path) -> None:
    target = tmp_path / "data.bin"
    atomic_write_bytes(target, b"previous")
    with pytest.raises(FileNotFoundError), atomic_path(target):
        pass
    assert target.read_bytes() == b"previous"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
def test_existing_permissions_are_kept(tmp_path: Path) -> None:
    target = tmp_path / "data.bin"
    atomic_write_bytes(target, b"old")
    target.chmod(0o640)
    atomic_write_bytes(target, b"new")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_hard_kill_mid_write_leaves_previous_file_readable(tmp_path: Path) -> None:
    """A process killed while writing (no exception handling runs) cannot damage the target."""
    target = tmp_path / "data.bin"
    atomic_write_bytes(target, b"previous")
    child = textwrap.dedent(
        f"""
        import os
        from alphaforge.storage.atomic import atomic_path
        with atomic_path({str(target)!r}) as temp:
            with open(temp, "wb") as fh:
                fh.write(b"half of the new")
                fh.flush()
            os._exit(9)
        """
    )
    done = subprocess.run([sys.executable, "-c", child], check=False, timeout=120)
    assert done.returncode == 9
    assert target.read_bytes() == b"previous"
    leftovers = _temps(tmp_path)
    assert len(leftovers) == 1  # the killed writer's temp, hidden and suffixed
    assert leftovers[0].name.startswith(".")
    assert remove_stale_temp_files(tmp_path, older_than_s=3600) == []  # too young to sweep
    assert remove_stale_temp_files(tmp_path, older_than_s=0) == leftovers
    assert _temps(tmp_path) == []
    assert target.read_bytes() == b"previous"


def test_remove_stale_temp_files_ignores_missing_directory(tmp_path: Path) -> None:
    assert remove_stale_temp_files(tmp_path / "nope") == []


def test_reader_racing_a_writer_only_sees_whole_versions(tmp_path: Path) -> None:
    """A reader running while the file is replaced again and again sees complete versions."""
    target = tmp_path / "data.bin"
    versions = [bytes([i]) * 200_000 for i in range(30)]
    atomic_write_bytes(target, versions[0])
    seen: list[bytes] = []
    done = threading.Event()

    def read_until_done() -> None:
        while not done.is_set():
            seen.append(target.read_bytes())

    reader = threading.Thread(target=read_until_done)
    reader.start()
    try:
        for version in versions[1:]:
            atomic_write_bytes(target, version)
    finally:
        done.set()
        reader.join()
    assert seen
    assert set(seen) <= set(versions)
    assert os.listdir(tmp_path) == ["data.bin"]


@pytest.mark.skipif(sys.platform == "win32", reason="advisory locks are POSIX only")
def test_file_lock_excludes_other_holders(tmp_path: Path) -> None:
    lock = tmp_path / "sub" / ".lock"
    events: list[str] = []
    holding = threading.Event()

    def contender() -> None:
        holding.wait()
        with file_lock(lock):
            events.append("contender")

    thread = threading.Thread(target=contender)
    thread.start()
    with file_lock(lock):
        holding.set()
        thread.join(timeout=0.3)  # the contender cannot get in while we hold the lock
        events.append("holder")
    thread.join()
    assert events == ["holder", "contender"]
    assert lock.exists()
