"""The token bucket and backoff the Alpaca broker paces and retries with (fake clock)."""

from __future__ import annotations

import pytest

from alphaforge.execution.brokers._http import Backoff, TokenBucket


class FakeTime:
    """A monotonic clock that only sleeping advances (seconds)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def wall(self) -> float:
        return 1_700_000_000.0 + self.now


def _bucket(per_minute: int, t: FakeTime) -> TokenBucket:
    return TokenBucket(per_minute, clock=t.clock, sleep=t.sleep, wall=t.wall)


def test_bucket_paces_to_the_rate_after_a_burst() -> None:
    t = FakeTime()
    bucket = _bucket(60, t)  # one a second
    for _ in range(60):
        bucket.acquire("order")
    assert t.now == 0.0
    bucket.acquire("order")
    assert t.now == pytest.approx(1.0)
    for _ in range(10):
        bucket.acquire("order")
    assert t.now == pytest.approx(11.0)


def test_orders_go_first_reads_leave_a_reserve() -> None:
    t = FakeTime()
    bucket = _bucket(200, t)
    for _ in range(180):  # 200 minus the 20-token reserve
        bucket.acquire("read")
    assert t.now == 0.0
    for _ in range(20):  # orders may use the reserve at once
        bucket.acquire("order")
    assert t.now == 0.0
    bucket.acquire("read")  # a read now waits until the reserve is back, plus one token
    assert t.now == pytest.approx(21 / (200 / 60))


def test_a_429_holds_everyone_until_the_reset() -> None:
    t = FakeTime()
    bucket = _bucket(200, t)
    bucket.block_until(t.wall() + 7.0)
    waited = bucket.acquire("order")
    assert waited == pytest.approx(7.0) and t.now == pytest.approx(7.0)
    bucket.block_until(None, fallback_s=2.0)
    bucket.acquire("read")
    assert t.now == pytest.approx(9.0)


def test_backoff_is_jittered_exponential_capped_and_seeded() -> None:
    first, second = FakeTime(), FakeTime()
    a = Backoff(base_s=0.5, cap_s=4.0, seed=3, sleep=first.sleep)
    b = Backoff(base_s=0.5, cap_s=4.0, seed=3, sleep=second.sleep)
    waits = [a.wait(n) for n in range(8)]
    assert waits == [b.wait(n) for n in range(8)]
    assert all(0.0 <= w <= min(4.0, 0.5 * 2**n) for n, w in enumerate(waits))
    assert first.sleeps == waits
