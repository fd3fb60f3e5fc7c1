"""The service's access tokens: opaque random strings, stored only as SHA-256 hashes.

A token is ``af_`` followed by 32 random bytes in URL-safe base64 (43 characters). It is shown
once, when created; the SQLite file (``<store_dir>/service/tokens.sqlite``) keeps its hash, its
name, its scope (read, trade or admin), when it was made, when it expires and whether it was
revoked. A token is *active* while it is neither revoked nor expired at the store's clock.

Every write is one transaction committed (WAL, ``synchronous = FULL``) on its own connection
before the method returns. Reads (every request's :meth:`TokenStore.verify`) reuse a few open
connections, each used by one thread at a time, so a store may be shared by threads; each read
sees the latest commit, so a token created or revoked by the CLI counts at once in a running
service, and a token file deleted or replaced under it is reopened. Times are stored as integer
nanoseconds since the Unix epoch (UTC) and returned as tz-aware UTC ``pd.Timestamp``.
"""

from __future__ import annotations

import builtins
import contextlib
import dataclasses
import hashlib
import hmac
import os
import re
import secrets
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import pandas as pd

from alphaforge.core.clock import Clock
from alphaforge.core.errors import AlphaForgeError, ConfigError
from alphaforge.storage.sqlite import configure_wal

__all__ = [
    "MAX_DURATION",
    "TOKENS_FILENAME",
    "TOKEN_PREFIX",
    "Scope",
    "TokenInfo",
    "TokenStore",
    "TokenStoreError",
    "ensure_private_dir",
    "parse_duration",
    "parse_scope",
    "tokens_path",
]

#: The token file's name inside the service folder.
TOKENS_FILENAME = "tokens.sqlite"
#: What every token starts with, so that one pasted in the wrong place is recognisable.
TOKEN_PREFIX = "af_"
#: Random bytes in a token (``secrets.token_urlsafe`` turns 32 bytes into 43 characters).
TOKEN_BYTES = 32
_TOKEN_RE = re.compile(rf"{TOKEN_PREFIX}[A-Za-z0-9_-]{{43}}")
_NAME_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9 ._@-]{0,62}[A-Za-z0-9._@-])?")
_DURATION_RE = re.compile(r"([0-9]{1,6})([smhdw])")
_DURATION_SECONDS = {"s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800}
#: The longest lifetime :func:`parse_duration` accepts (leave a token without expiry instead).
MAX_DURATION = pd.Timedelta(days=3_660)
#: ``last_used_at`` is written at most this often per token, so reads do not write each time.
LAST_USED_RESOLUTION = pd.Timedelta(minutes=1)
_BUSY_TIMEOUT_MS = 5_000
_MAX_IDLE = 8
_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    scope TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER,
    last_used_at INTEGER
)
"""
_COLUMNS = "id, name, scope, created_at, expires_at, revoked_at, last_used_at"


class Scope(StrEnum):
    """What a token may do; each scope includes the ones below it (admin ⊇ trade ⊇ read)."""

    READ = "read"
    TRADE = "trade"
    ADMIN = "admin"

    def allows(self, required: Scope) -> bool:
        """Return whether a token of this scope may do what needs ``required``."""
        return _RANK[self] >= _RANK[required]


_RANK = {Scope.READ: 0, Scope.TRADE: 1, Scope.ADMIN: 2}


class TokenStoreError(AlphaForgeError):
    """The token file cannot be read or written (not a database, locked, disk full)."""


@dataclass(frozen=True)
class TokenInfo:
    """What the store knows about one token; never the token nor its hash.

    Times are tz-aware UTC; ``expires_at`` None means it never expires. ``last_used_at`` is
    the last successful :meth:`TokenStore.verify` or :meth:`TokenStore.get`, to the minute.
    """

    id: int
    name: str
    scope: Scope
    created_at: pd.Timestamp
    expires_at: pd.Timestamp | None
    revoked: bool
    last_used_at: pd.Timestamp | None = None
    revoked_at: pd.Timestamp | None = None

    def expired(self, now: pd.Timestamp) -> bool:
        """Return whether the token has expired at ``now`` (it expires at ``expires_at``)."""
        return self.expires_at is not None and now >= self.expires_at

    def is_active(self, now: pd.Timestamp) -> bool:
        """Return whether the token lets its holder in at ``now``."""
        return not self.revoked and not self.expired(now)


def tokens_path(service_dir: Path) -> Path:
    """Return the token file inside the service folder (``<store_dir>/service``)."""
    return Path(service_dir) / TOKENS_FILENAME


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` (and its parents) if missing, the last folder readable by its owner only.

    An existing folder keeps its mode: the files inside carry their own (0600).
    """
    Path(path).mkdir(mode=0o700, parents=True, exist_ok=True)


def parse_scope(text: str) -> Scope:
    """Return the scope named ``text`` (read, trade or admin); anything else is a ConfigError."""
    try:
        return Scope(text.strip().lower())
    except ValueError:
        raise ConfigError(
            f"Unknown token scope {text!r}.", hint="Use read, trade or admin."
        ) from None


def parse_duration(text: str) -> pd.Timedelta:
    """Return the positive duration written as a whole count and a unit: ``30m``, ``90d``, ``2w``.

    Units: ``s`` seconds, ``m`` minutes, ``h`` hours, ``d`` days, ``w`` weeks. Anything else
    (no unit, zero, a fraction, a negative count, more than :data:`MAX_DURATION`) is a
    ConfigError.
    """
    match = _DURATION_RE.fullmatch(text.strip().lower()) if isinstance(text, str) else None
    if match is None or int(match[1]) == 0:
        raise ConfigError(
            f"Invalid duration {text!r}.",
            hint="Write a positive whole count and a unit, e.g. 30m, 12h, 90d or 2w.",
        )
    duration = pd.Timedelta(seconds=int(match[1]) * _DURATION_SECONDS[match[2]])
    if duration > MAX_DURATION:
        raise ConfigError(
            f"Duration {text!r} is longer than ten years.",
            hint="Leave the expiry out for a token that never expires.",
        )
    return duration


class TokenStore:
    """The token file: create, verify, list and revoke tokens.

    Parameters
    ----------
    path
        The SQLite file (see :func:`tokens_path`); it and its folder are created, the file
        with mode 0600 and a new folder with 0700.
    clock
        Stamps creation, revocation and use, and decides expiry.
    """

    def __init__(self, path: Path, clock: Clock) -> None:
        self.path = Path(path)
        self._clock = clock
        ensure_private_dir(self.path.parent)
        # Made before SQLite opens it, so the file (and its -wal and -shm, which SQLite gives
        # the same mode) is never readable by others; hashes only, but no one else's business.
        os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        with self._connect() as conn:
            conn.execute(_SCHEMA)
            conn.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")

    def create(self, name: str, scope: Scope, expires_in: pd.Timedelta | None = None) -> str:
        """Store a new token and return it in plain text; it cannot be read back later.

        Parameters
        ----------
        name
            Who or what holds it (``laptop``); 1-64 letters, digits, spaces or ``._@-``,
            starting and ending with no space.
            A name may not be used by two active tokens at once.
        scope
            What it may do.
        expires_in
            Lifetime from now; None for a token that never expires.
        """
        if not isinstance(name, str) or _NAME_RE.fullmatch(name) is None:
            raise ConfigError(
                f"Invalid token name {name!r}.",
                hint="Use 1-64 letters, digits, spaces or ._@- starting with a letter or digit.",
            )
        scope = Scope(scope)
        if expires_in is not None and not pd.Timedelta(0) < expires_in <= MAX_DURATION:
            raise ConfigError(
                f"A token's lifetime must be positive and at most ten years, got {expires_in}."
            )
        now = self._now()
        expires_at = None if expires_in is None else now + expires_in
        token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
        with self._transaction() as conn:
            for (expiry,) in conn.execute(
                "SELECT expires_at FROM tokens WHERE name = ? AND revoked_at IS NULL", (name,)
            ):
                if expiry is None or expiry > now.value:
                    raise ConfigError(
                        f"An active token is already named {name!r}.",
                        hint=f"Choose another name, or revoke it first: "
                        f"alphaforge serve token revoke {name!r}.",
                    )
            conn.execute(
                "INSERT INTO tokens (name, scope, token_hash, created_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (
                    name,
                    scope.value,
                    _hash(token),
                    now.value,
                    None if expires_at is None else expires_at.value,
                ),
            )
        return token

    def verify(self, token: str) -> TokenInfo | None:
        """Return the token's record if ``token`` is an active token, else None.

        Never raises on what a client sends (any string, however long or strange, or not a
        string at all); only a broken token file raises :class:`TokenStoreError`.
        """
        if not isinstance(token, str) or _TOKEN_RE.fullmatch(token) is None:
            return None
        digest = _hash(token)
        with self._reading() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS}, token_hash FROM tokens WHERE token_hash = ?", (digest,)
            ).fetchone()
        # The lookup found equal hashes; the constant-time comparison is kept so that no
        # future change to the lookup (a prefix index, a cache) can introduce a timing leak.
        if row is None or not hmac.compare_digest(str(row[-1]), digest):
            return None
        return self._used_if_active(_info(row[:-1]))

    def get(self, token_id: int) -> TokenInfo | None:
        """Return token ``token_id``'s record while it is active, else None (for sessions)."""
        if isinstance(token_id, bool) or not isinstance(token_id, int) or token_id <= 0:
            return None
        if token_id > 2**63 - 1:  # beyond SQLite's integers: no such row
            return None
        with self._reading() as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM tokens WHERE id = ?", (token_id,)
            ).fetchone()
        return None if row is None else self._used_if_active(_info(row))

    def list(self) -> builtins.list[TokenInfo]:
        """Return every token ever created, revoked and expired ones included, oldest first."""
        with self._reading() as conn:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM tokens ORDER BY id").fetchall()
        return [_info(row) for row in rows]

    def revoke(self, name: str) -> bool:
        """Revoke every unrevoked token named ``name``; return whether there was one.

        A revoked token stops working at once here, and so do the sessions made with it (a
        running service reuses a check for up to a second: it stops there within that).
        """
        now = self._now()
        with self._transaction() as conn:
            changed = conn.execute(
                "UPDATE tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
                (now.value, name),
            ).rowcount
        return changed > 0

    def has_active(self) -> bool:
        """Return whether at least one token is active now (the service refuses to start if not)."""
        now = self._now()
        with self._reading() as conn:
            row = conn.execute(
                "SELECT 1 FROM tokens WHERE revoked_at IS NULL "
                "AND (expires_at IS NULL OR expires_at > ?) LIMIT 1",
                (now.value,),
            ).fetchone()
        return row is not None

    def close(self) -> None:
        """Nothing stays open between calls (kept so the store can be a context manager)."""

    def __enter__(self) -> TokenStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TokenStore({str(self.path)!r})"

    def _used_if_active(self, info: TokenInfo) -> TokenInfo | None:
        now = self._now()
        if not info.is_active(now):
            return None
        last = info.last_used_at
        if last is not None and now - last < LAST_USED_RESOLUTION:
            return info
        with self._transaction() as conn:
            conn.execute(
                "UPDATE tokens SET last_used_at = ? WHERE id = ? "
                "AND (last_used_at IS NULL OR last_used_at < ?)",
                (now.value, info.id, now.value),
            )
        return dataclasses.replace(info, last_used_at=now)

    def _now(self) -> pd.Timestamp:
        now = pd.Timestamp(self._clock.now())
        if now.tzinfo is None:
            raise ValueError(f"the token store's clock must be timezone-aware, got {now}")
        return now.tz_convert("UTC")

    def _open(self) -> sqlite3.Connection:
        """Open the existing token file (never create it: a deleted file is an error)."""
        try:
            return sqlite3.connect(
                f"{self.path.absolute().as_uri()}?mode=rw",
                uri=True,
                timeout=_BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,
                check_same_thread=False,  # a pooled reader moves between threads, one at a time
            )
        except sqlite3.Error as exc:
            raise _store_error(self.path, exc) from None

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """Yield a new autocommit connection, closed on exit; SQLite errors become one line."""
        conn = self._open()
        try:
            cursor = conn.cursor()
            try:
                configure_wal(cursor, busy_timeout_ms=_BUSY_TIMEOUT_MS, synchronous="FULL")
            finally:
                cursor.close()
            yield conn
        except sqlite3.Error as exc:
            raise _store_error(self.path, exc) from None
        finally:
            conn.close()

    @contextlib.contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """Yield a new read connection, closed on exit.

        Not pooled: a pooled connection shared between the server's threads was seen to keep
        an old snapshot of the file (tokens created by ``serve token create`` in another
        process stayed unknown), and opening one costs under a millisecond.
        """
        with self._connect() as conn:
            yield conn

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """Yield a connection inside ``BEGIN IMMEDIATE``: committed on success, else rolled back.

        IMMEDIATE takes the write lock first, so a check and the write after it (one name,
        one active token) cannot interleave with another process's.
        """
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def _stamp(value: int | None) -> pd.Timestamp | None:
    return None if value is None else pd.Timestamp(int(value), unit="ns", tz="UTC")


def _info(row: tuple[Any, ...]) -> TokenInfo:
    token_id, name, scope, created, expires, revoked, last_used = row
    revoked_at = _stamp(revoked)
    return TokenInfo(
        id=int(token_id),
        name=str(name),
        scope=Scope(str(scope)),
        created_at=pd.Timestamp(int(created), unit="ns", tz="UTC"),
        expires_at=_stamp(expires),
        revoked=revoked_at is not None,
        last_used_at=_stamp(last_used),
        revoked_at=revoked_at,
    )


def _store_error(path: Path, exc: sqlite3.Error) -> TokenStoreError:
    return TokenStoreError(
        f"The token file {path} cannot be used: {exc}.",
        hint="Check the disk and the file; delete it to start over (every token is then lost).",
    )
