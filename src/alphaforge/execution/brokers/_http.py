"""HTTP plumbing shared by the venue adapters: a rate-limit token bucket and read retries.

Times are seconds on a monotonic clock (injectable); the reset instant of a 429 is a Unix
time in seconds, as venues send it in ``X-RateLimit-Reset``.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Literal, TypeVar

import requests

T = TypeVar("T")
Priority = Literal["order", "read"]


class TimeoutSession(requests.Session):
    """A ``requests`` session whose every request has a timeout unless one is given.

    alpaca-py's REST client sends without a timeout; its ``_session`` is replaced by this so
    a stalled venue cannot hang a submit or a read.
    """

    def __init__(self, timeout_s: float) -> None:
        super().__init__()
        self.timeout_s = timeout_s

    def request(
        self, method: str | bytes, url: str | bytes, *args: object, **kwargs: object
    ) -> requests.Response:
        """Send with ``timeout_s`` as connect and read timeout unless ``timeout`` is given."""
        kwargs.setdefault("timeout", self.timeout_s)
        return super().request(method, url, *args, **kwargs)  # type: ignore[arg-type]


class TokenBucket:
    """A venue's request budget: ``per_minute`` tokens, refilled continuously.

    Order calls go first: a read may not take the last ``reserve`` tokens, so a burst of reads
    never delays a submit or cancel by more than one token's refill. A 429 blocks everyone
    until the venue's reset instant (:meth:`block_until`).

    Parameters
    ----------
    per_minute
        Requests allowed per minute (Alpaca: 200).
    reserve
        Fraction of the bucket kept for order calls.
    clock, sleep
        Monotonic seconds and a sleep; tests inject a fake pair.
    wall
        Unix time in seconds (to turn a reset instant into a wait).
    """

    def __init__(
        self,
        per_minute: int,
        *,
        reserve: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.reserve = max(1.0, self.capacity * reserve) if per_minute > 1 else 0.0
        self._clock = clock
        self._sleep = sleep
        self._wall = wall
        self._tokens = self.capacity
        self._stamp = clock()
        self._blocked_until = 0.0
        self._lock = threading.Lock()

    def acquire(self, priority: Priority = "read") -> float:
        """Take one token, waiting as needed; return the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                delay = self._delay(priority)
                if delay <= 0:
                    self._tokens -= 1.0
                    return waited
            self._sleep(delay)
            waited += delay

    def _delay(self, priority: Priority) -> float:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if now < self._blocked_until:
            return self._blocked_until - now
        floor = 0.0 if priority == "order" else self.reserve
        if self._tokens - 1.0 >= floor - 1e-9:
            return 0.0
        return (floor + 1.0 - self._tokens) / self.rate

    def block_until(self, reset_unix_s: float | None, fallback_s: float = 1.0) -> None:
        """Hold every request until the venue's reset instant (Unix seconds) after a 429."""
        wait = fallback_s if reset_unix_s is None else max(reset_unix_s - self._wall(), 0.0)
        with self._lock:
            self._blocked_until = max(self._blocked_until, self._clock() + wait)


def reset_header(response: requests.Response | None) -> float | None:
    """Return ``X-RateLimit-Reset`` (Unix seconds) of a response, or None."""
    if response is None:
        return None
    raw = response.headers.get("X-RateLimit-Reset")
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None


class Backoff:
    """Exponential backoff with full jitter: attempt ``n`` waits U(0, base * 2**n), capped.

    Parameters
    ----------
    base_s, cap_s
        First ceiling and the largest wait, seconds.
    seed
        Seed of the jitter (reproducible waits in tests).
    sleep
        The sleep to call; tests inject a recorder.
    """

    def __init__(
        self,
        *,
        base_s: float = 0.25,
        cap_s: float = 8.0,
        seed: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_s = base_s
        self.cap_s = cap_s
        self._random = random.Random(seed)
        self._sleep = sleep

    def wait(self, attempt: int) -> float:
        """Sleep before retry ``attempt`` (0-based); return the seconds slept."""
        ceiling = min(self.cap_s, self.base_s * 2.0**attempt)
        delay = self._random.uniform(0.0, ceiling)
        self._sleep(delay)
        return delay


__all__ = ["Backoff", "Priority", "TimeoutSession", "TokenBucket", "reset_header"]
