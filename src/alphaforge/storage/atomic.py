"""Atomic file writes: a reader sees the old file or the new one, never half of either.

Every writer puts its bytes into a temporary file in the *target's own directory* (so the final
rename never crosses a file system), flushes it to disk with ``fsync``, then renames it over the
target with :func:`os.replace`, which POSIX and Windows both perform atomically. A crash or an
exception before the rename leaves the previous file untouched; the temporary file is removed on
any exception. Only a hard kill (power loss, ``SIGKILL``) between creating and renaming the
temporary file can leave one behind; its name starts with ``.`` and ends with :data:`TEMP_SUFFIX`
so readers that look for ``bars.parquet`` or ``manifest.json`` never mistake it for data, and
:func:`remove_stale_temp_files` sweeps such leftovers.

The bar store, the feature store and the model registry all write through these helpers.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "TEMP_SUFFIX",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "file_lock",
    "remove_stale_temp_files",
]

#: Suffix of the temporary files written before the atomic rename.
TEMP_SUFFIX = ".tmp"


def _temp_path_for(target: Path) -> Path:
    """Return a fresh, unused temporary path next to ``target``."""
    return target.with_name(f".{target.name}.{uuid.uuid4().hex}{TEMP_SUFFIX}")


def _fsync_file(path: Path) -> None:
    """Flush ``path``'s data to the storage device."""
    # O_RDWR, not O_RDONLY: Windows refuses to flush a handle opened read-only.
    fd = os.open(path, os.O_RDWR | getattr(os, "O_BINARY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(directory: Path) -> None:
    """Flush a directory entry (the rename itself) where the platform allows it."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    try:
        fd = os.open(directory, flags)
    except OSError:  # Windows cannot open a directory; its rename is durable on return.
        return
    try:
        with contextlib.suppress(OSError):  # some file systems reject fsync on directories
            os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path that replaces ``path`` atomically when the block succeeds.

    Write the new content to the yielded path (with any library: ``pyarrow``, ``json``,
    ``joblib``...). When the ``with`` block exits normally the temporary file is flushed to
    disk and renamed over ``path``; when it raises, the temporary file is deleted, ``path``
    keeps its previous content (or stays absent) and the exception propagates.

    Parameters
    ----------
    path
        The file to create or replace. Missing parent directories are created.

    Yields
    ------
    Path
        A not-yet-existing path in the same directory as ``path``.

    Raises
    ------
    FileNotFoundError
        If the block exits normally without creating the temporary file.

    Notes
    -----
    An existing target's permission bits are copied to the new file. Concurrent writers of the
    same target do not corrupt it (the last rename wins) but do lose updates; callers that
    read, modify and write must hold a lock.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = _temp_path_for(target)
    try:
        yield temp
        if not temp.exists():
            raise FileNotFoundError(f"atomic write of {target}: nothing was written to {temp}")
        with contextlib.suppress(FileNotFoundError):
            os.chmod(temp, stat.S_IMODE(target.stat().st_mode))
        _fsync_file(temp)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically.

    Parameters
    ----------
    path
        The file to create or replace; missing parent directories are created.
    data
        The complete new content.
    """
    with atomic_path(path) as temp, open(temp, "xb") as fh:
        fh.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str, *, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically, byte for byte (no newline translation).

    Parameters
    ----------
    path
        The file to create or replace; missing parent directories are created.
    text
        The complete new content.
    encoding
        Text encoding, UTF-8 by default.
    """
    atomic_write_bytes(path, text.encode(encoding))


def remove_stale_temp_files(
    directory: str | os.PathLike[str], *, older_than_s: float = 3600.0
) -> list[Path]:
    """Delete temporary files that a killed writer left under ``directory``.

    Parameters
    ----------
    directory
        Searched recursively.
    older_than_s
        Only files not modified for this many seconds are removed, so a write in progress in
        another process is never disturbed.

    Returns
    -------
    list of Path
        The files removed.
    """
    root = Path(directory)
    if not root.is_dir():
        return []
    cutoff = time.time() - older_than_s
    removed: list[Path] = []
    for candidate in root.rglob(f".*{TEMP_SUFFIX}"):
        try:
            if candidate.is_file() and candidate.stat().st_mtime < cutoff:
                candidate.unlink()
                removed.append(candidate)
        except OSError:  # raced with its writer or another sweeper: leave it
            continue
    return removed


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only

    @contextlib.contextmanager
    def file_lock(path: str | os.PathLike[str]) -> Iterator[None]:
        """Hold no lock: Windows has no portable advisory lock (see the POSIX version)."""
        yield

else:
    import fcntl

    @contextlib.contextmanager
    def file_lock(path: str | os.PathLike[str]) -> Iterator[None]:
        """Hold an exclusive advisory lock on ``path`` (created if missing) for the block.

        Serialises read-modify-write cycles (a manifest update) between processes and between
        threads that each open the lock file. The lock is released when the block exits or the
        process dies. On Windows this is a no-op: run one writing process per store there.

        Parameters
        ----------
        path
            The lock file; it is never deleted, its content is irrelevant.
        """
        lock = Path(path)
        lock.parent.mkdir(parents=True, exist_ok=True)
        with open(lock, "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
