"""Authentication pieces the service's routes use: tokens, session cookies, login limits,
WebSocket tickets.

- :class:`~alphaforge.service.tokens.TokenStore` (re-exported here) holds the access tokens.
- :class:`CookieSigner` signs a session cookie naming a token id and when it was issued, with a
  key made at first start in ``<service_dir>/cookie.key`` (mode 0600; there is no built-in
  key). The cookie names the token rather than holding it, so revoking or expiring the token
  ends its sessions: the routes check :meth:`TokenStore.get` on every request.
- :class:`LoginLimiter` counts failed logins per client over a sliding minute.
- :class:`WsTickets` hands out one-time tickets for the WebSocket handshake.

Times are tz-aware UTC ``pd.Timestamp`` read from an injected clock; nothing here reads the
wall clock. The limiter and the tickets live in the service process's memory and are
thread-safe.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import re
import secrets
import stat
import threading
from collections import OrderedDict, deque
from pathlib import Path

import pandas as pd

from alphaforge.core.clock import Clock
from alphaforge.core.errors import ConfigError
from alphaforge.service.tokens import (
    TOKENS_FILENAME,
    Scope,
    TokenInfo,
    TokenStore,
    TokenStoreError,
    ensure_private_dir,
    parse_duration,
    parse_scope,
    tokens_path,
)

__all__ = [
    "COOKIE_KEY_FILENAME",
    "TOKENS_FILENAME",
    "CookieSigner",
    "LoginLimiter",
    "Scope",
    "TokenInfo",
    "TokenStore",
    "TokenStoreError",
    "WsTickets",
    "parse_duration",
    "parse_scope",
    "tokens_path",
]

#: The session key's file name inside the service folder.
COOKIE_KEY_FILENAME = "cookie.key"
#: Bytes of the session key (HMAC-SHA256 key as long as its output).
COOKIE_KEY_BYTES = 32
#: A cookie issued this far in the future of the verifying clock still passes (clock steps).
COOKIE_CLOCK_SKEW = pd.Timedelta(seconds=60)
#: The window over which :class:`LoginLimiter` counts failures.
LOGIN_WINDOW = pd.Timedelta(seconds=60)
_MAC_CONTEXT = b"alphaforge-session-v1\x00"
# token id . issued at (ns since the epoch, UTC) . HMAC-SHA256 in unpadded URL-safe base64
_COOKIE_RE = re.compile(r"([0-9]{1,19})\.([0-9]{1,20})\.([A-Za-z0-9_-]{43})")
_MAX_COOKIE_CHARS = 128
_MAX_TICKET_CHARS = 128


class CookieSigner:
    """Sign and check session cookies with the service's secret key.

    Parameters
    ----------
    key
        32 secret bytes; use :meth:`load_or_create` for the service's key file.
    """

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if len(key) != COOKIE_KEY_BYTES:
            raise ValueError(f"a cookie key has {COOKIE_KEY_BYTES} bytes, got {len(key)}")
        self._key = bytes(key)

    @classmethod
    def load_or_create(cls, service_dir: Path) -> CookieSigner:
        """Return the signer with the key in ``<service_dir>/cookie.key``, made if missing.

        A new key file is written whole with mode 0600 (in a new folder of mode 0700) and then
        linked into place, so a second process starting at the same moment reads the same
        complete key. A key file that its group or others may read or write is refused with
        a :class:`ConfigError` saying how to fix it, as is a file that holds no valid key.
        """
        service_dir = Path(service_dir)
        ensure_private_dir(service_dir)
        path = service_dir / COOKIE_KEY_FILENAME
        if not path.exists():
            _write_new_key(path)
        return cls(_read_key(path))

    def sign(self, token_id: int, issued_at: pd.Timestamp) -> str:
        """Return the cookie value for a session of token ``token_id`` opened at ``issued_at``.

        The value holds only ASCII digits, dots and URL-safe base64: no quoting needed.
        """
        issued = pd.Timestamp(issued_at)
        if issued.tzinfo is None:
            raise ValueError(f"a session's issue time must be timezone-aware, got {issued}")
        if token_id <= 0 or issued.value < 0:
            raise ValueError(f"cannot sign token id {token_id} issued at {issued}")
        payload = f"{int(token_id)}.{issued.value}"
        return f"{payload}.{self._mac(payload)}"

    def verify(self, value: str, max_age: pd.Timedelta, now: pd.Timestamp) -> int | None:
        """Return the token id of a cookie this key signed and that is at most ``max_age`` old.

        None for anything else: tampered, malformed, signed with another key, older than
        ``max_age`` at ``now``, or issued more than :data:`COOKIE_CLOCK_SKEW` after ``now``.
        Never raises on what a client sends.
        """
        if not isinstance(value, str) or len(value) > _MAX_COOKIE_CHARS:
            return None
        match = _COOKIE_RE.fullmatch(value)
        if match is None:
            return None
        token_text, issued_text, mac = match.groups()
        if not hmac.compare_digest(self._mac(f"{token_text}.{issued_text}"), mac):
            return None
        age_ns = pd.Timestamp(now).value - int(issued_text)
        if age_ns > pd.Timedelta(max_age).value or age_ns < -COOKIE_CLOCK_SKEW.value:
            return None
        token_id = int(token_text)
        return token_id if token_id > 0 else None

    def __repr__(self) -> str:
        return "CookieSigner(key=<hidden>)"

    def _mac(self, payload: str) -> str:
        digest = hmac.new(self._key, _MAC_CONTEXT + payload.encode("ascii"), hashlib.sha256)
        return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode("ascii")


def _write_new_key(path: Path) -> None:
    """Write a new random key to ``path`` unless another process got there first."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_bytes(COOKIE_KEY_BYTES).hex() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # the key appeared meanwhile: keep that one
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _read_key(path: Path) -> bytes:
    mode = path.stat().st_mode
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"The session key {path} is open to other users (mode {stat.S_IMODE(mode):04o}).",
            hint=f"Run: chmod 600 {path}",
        )
    text = path.read_text(encoding="ascii", errors="replace").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != COOKIE_KEY_BYTES:
        raise ConfigError(
            f"The session key {path} does not hold a {COOKIE_KEY_BYTES}-byte hex key.",
            hint="Delete it: a new one is made at the next start (everyone logs in again).",
        )
    return key


class LoginLimiter:
    """Count failed logins per client over a sliding 60 s window.

    Parameters
    ----------
    attempts_per_minute
        Failures a client may make within any 60 s; at that count it is blocked until the
        oldest of them is 60 s old.
    clock
        Times the failures.
    max_clients
        Clients remembered at once; past it the one whose last failure is oldest is forgotten
        (memory stays bounded whatever the number of addresses trying).
    """

    def __init__(
        self, attempts_per_minute: int, clock: Clock, *, max_clients: int = 10_000
    ) -> None:
        if attempts_per_minute < 1 or max_clients < 1:
            raise ValueError("attempts_per_minute and max_clients must be at least 1")
        self._attempts = attempts_per_minute
        self._clock = clock
        self._max_clients = max_clients
        # Per client, its last ``attempts`` failure times (ns); ordered by latest failure.
        self._failures: OrderedDict[str, deque[int]] = OrderedDict()
        self._lock = threading.Lock()

    def blocked(self, client: str) -> bool:
        """Return whether ``client`` has failed ``attempts_per_minute`` times in the last 60 s."""
        now = self._clock.now().value
        with self._lock:
            self._prune(now)
            times = self._failures.get(client)
            if times is None:
                return False
            cutoff = now - LOGIN_WINDOW.value
            return sum(1 for t in times if t > cutoff) >= self._attempts

    def failed(self, client: str) -> None:
        """Record a failed login by ``client`` now."""
        now = self._clock.now().value
        with self._lock:
            times = self._failures.pop(client, None)
            if times is None:
                times = deque(maxlen=self._attempts)  # older failures cannot change the answer
            times.append(now)
            self._failures[client] = times  # now the most recent
            while len(self._failures) > self._max_clients:
                self._failures.popitem(last=False)
            self._prune(now)

    def __len__(self) -> int:
        """Return how many clients have a failure inside the window."""
        with self._lock:
            self._prune(self._clock.now().value)
            return len(self._failures)

    def _prune(self, now: int) -> None:
        """Forget the clients whose latest failure is 60 s old or more.

        Clients are ordered by their latest failure, so the sweep stops at the first one
        still inside the window: amortized constant time per call.
        """
        cutoff = now - LOGIN_WINDOW.value
        while self._failures:
            client, times = next(iter(self._failures.items()))
            if times[-1] > cutoff:
                break
            del self._failures[client]


class WsTickets:
    """One-time tickets that let a WebSocket handshake through without a cookie.

    A ticket is 32 random bytes (URL-safe base64); it names a token id, works once and
    expires ``ttl_s`` seconds after it is issued. Tickets live in memory only: a restart of
    the service voids them.

    Parameters
    ----------
    clock
        Times issue and expiry.
    ttl_s
        Seconds a ticket stays valid.
    max_outstanding
        Tickets kept at once; past it the oldest is dropped.
    """

    def __init__(self, clock: Clock, ttl_s: float = 30.0, *, max_outstanding: int = 10_000) -> None:
        if ttl_s <= 0 or max_outstanding < 1:
            raise ValueError("ttl_s must be positive and max_outstanding at least 1")
        self._clock = clock
        self._ttl_ns = pd.Timedelta(seconds=ttl_s).value
        self._max = max_outstanding
        # ticket -> (token id, expiry in ns); issue order is expiry order (one ttl, one clock).
        self._tickets: OrderedDict[str, tuple[int, int]] = OrderedDict()
        self._lock = threading.Lock()

    def issue(self, token_id: int) -> str:
        """Return a new ticket for token ``token_id``."""
        now = self._clock.now().value
        ticket = secrets.token_urlsafe(32)
        with self._lock:
            self._prune(now)
            self._tickets[ticket] = (int(token_id), now + self._ttl_ns)
            while len(self._tickets) > self._max:
                self._tickets.popitem(last=False)
        return ticket

    def redeem(self, ticket: str) -> int | None:
        """Return the ticket's token id and void it; None if unknown, used or expired."""
        if not isinstance(ticket, str) or len(ticket) > _MAX_TICKET_CHARS:
            return None
        now = self._clock.now().value
        with self._lock:
            entry = self._tickets.pop(ticket, None)
            self._prune(now)
        if entry is None or now >= entry[1]:
            return None
        return entry[0]

    def __len__(self) -> int:
        """Return how many tickets are outstanding (issued, unused, unexpired)."""
        with self._lock:
            self._prune(self._clock.now().value)
            return len(self._tickets)

    def _prune(self, now: int) -> None:
        while self._tickets:
            ticket, (_, expires) = next(iter(self._tickets.items()))
            if expires > now:
                break
            del self._tickets[ticket]
