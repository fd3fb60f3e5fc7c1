"""The service's authentication pieces: tokens, session cookies, login limits, WS tickets."""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alphaforge.core.clock import SimulatedClock
from alphaforge.core.errors import ConfigError
from alphaforge.service.auth import (
    COOKIE_KEY_FILENAME,
    CookieSigner,
    LoginLimiter,
    Scope,
    TokenStore,
    TokenStoreError,
    WsTickets,
    parse_duration,
    parse_scope,
    tokens_path,
)

START = pd.Timestamp("2026-01-05 12:00", tz="UTC")


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(START)


@pytest.fixture
def store(tmp_path: Path, clock: SimulatedClock) -> Iterator[TokenStore]:
    with TokenStore(tokens_path(tmp_path / "service"), clock) as opened:
        yield opened


def _later(clock: SimulatedClock, **delta: float) -> None:
    clock.advance_to(clock.now() + pd.Timedelta(**delta))


# --- scopes and durations -------------------------------------------------------------


def test_each_scope_includes_the_ones_below_it() -> None:
    assert Scope.ADMIN.allows(Scope.TRADE) and Scope.ADMIN.allows(Scope.READ)
    assert Scope.TRADE.allows(Scope.READ) and Scope.TRADE.allows(Scope.TRADE)
    assert not Scope.TRADE.allows(Scope.ADMIN)
    assert not Scope.READ.allows(Scope.TRADE) and Scope.READ.allows(Scope.READ)


def test_a_scope_is_parsed_from_its_name_or_refused_in_one_line() -> None:
    assert parse_scope("Trade") is Scope.TRADE
    with pytest.raises(ConfigError, match="scope 'root'") as info:
        parse_scope("root")
    assert "read, trade or admin" in info.value.one_line()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", pd.Timedelta(minutes=30)),
        ("12h", pd.Timedelta(hours=12)),
        ("90d", pd.Timedelta(days=90)),
        ("2w", pd.Timedelta(weeks=2)),
        ("45s", pd.Timedelta(seconds=45)),
    ],
)
def test_durations_are_a_count_and_a_unit(text: str, expected: pd.Timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "90", "d", "0d", "-1d", "1.5h", "3y", "90 days", "99999w"])
def test_a_bad_duration_is_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError, match="uration"):
        parse_duration(text)


# --- tokens ---------------------------------------------------------------------------


def test_a_created_token_verifies_to_its_record(store: TokenStore) -> None:
    token = store.create("laptop", Scope.TRADE, pd.Timedelta(days=90))
    assert token.startswith("af_") and len(token) == 3 + 43
    info = store.verify(token)
    assert info is not None
    assert (info.name, info.scope, info.revoked) == ("laptop", Scope.TRADE, False)
    assert info.created_at == START and info.expires_at == START + pd.Timedelta(days=90)
    assert info.last_used_at == START
    assert store.get(info.id) == info
    assert store.has_active()


def test_two_tokens_are_different_and_each_verifies_to_its_own(store: TokenStore) -> None:
    first = store.create("a", Scope.READ)
    second = store.create("b", Scope.ADMIN)
    assert first != second
    one, two = store.verify(first), store.verify(second)
    assert one is not None and two is not None
    assert (one.name, two.name) == ("a", "b") and one.id != two.id


def test_only_the_hash_is_on_disk(store: TokenStore) -> None:
    token = store.create("laptop", Scope.READ)
    assert store.verify(token) is not None
    raw = b"".join(p.read_bytes() for p in store.path.parent.glob("tokens.sqlite*"))
    assert token.encode() not in raw
    assert token.removeprefix("af_").encode() not in raw
    with sqlite3.connect(store.path) as conn:
        (stored,) = conn.execute("SELECT token_hash FROM tokens").fetchone()
    conn.close()
    assert len(stored) == 64 and token not in stored


def test_the_token_file_and_its_folder_are_private(store: TokenStore) -> None:
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700


def test_a_token_expires_at_its_expiry(store: TokenStore, clock: SimulatedClock) -> None:
    token = store.create("short", Scope.READ, pd.Timedelta(hours=1))
    info = store.verify(token)
    assert info is not None
    _later(clock, minutes=59)
    assert store.verify(token) is not None
    _later(clock, minutes=1)
    assert store.verify(token) is None
    assert store.get(info.id) is None
    assert not store.has_active()
    (listed,) = store.list()
    assert listed.expired(clock.now()) and not listed.revoked


def test_a_revoked_token_and_its_id_stop_working(store: TokenStore) -> None:
    token = store.create("laptop", Scope.ADMIN)
    info = store.verify(token)
    assert info is not None
    assert store.revoke("laptop") is True
    assert store.verify(token) is None
    assert store.get(info.id) is None
    assert store.revoke("laptop") is False
    assert store.revoke("nobody") is False
    (listed,) = store.list()
    assert listed.revoked and listed.revoked_at == START
    assert not store.has_active()


def test_a_name_is_held_by_one_active_token_at_a_time(
    store: TokenStore, clock: SimulatedClock
) -> None:
    store.create("laptop", Scope.READ, pd.Timedelta(hours=1))
    with pytest.raises(ConfigError, match="already named 'laptop'"):
        store.create("laptop", Scope.TRADE)
    _later(clock, hours=1)  # expired: the name is free again
    second = store.create("laptop", Scope.TRADE)
    store.revoke("laptop")
    third = store.create("laptop", Scope.ADMIN)  # revoked: free again
    assert store.verify(second) is None
    info = store.verify(third)
    assert info is not None and info.scope is Scope.ADMIN
    assert [t.scope for t in store.list()] == [Scope.READ, Scope.TRADE, Scope.ADMIN]


@pytest.mark.parametrize(
    "name", ["", " lead", "lead ", "a" * 65, "x\ny", "<script>", "naïve", "a\tb"]
)
def test_a_bad_name_is_refused(store: TokenStore, name: str) -> None:
    with pytest.raises(ConfigError, match="name"):
        store.create(name, Scope.READ)


@pytest.mark.parametrize("name", ["a", "my laptop", "ci@host-2.local", "a" * 64])
def test_a_good_name_is_accepted(store: TokenStore, name: str) -> None:
    info = store.verify(store.create(name, Scope.READ))
    assert info is not None and info.name == name


@pytest.mark.parametrize("lifetime", [pd.Timedelta(0), pd.Timedelta(seconds=-1)])
def test_a_lifetime_must_be_positive(store: TokenStore, lifetime: pd.Timedelta) -> None:
    with pytest.raises(ConfigError, match="lifetime"):
        store.create("laptop", Scope.READ, lifetime)


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "af_",
        "Bearer af_x",
        "af_" + "é" * 43,
        "af_" + "\ud800" * 43,
        "af_" + "A" * 42 + "\x00",
        "af_" + "A" * 10_000_000,
        "\x00" * 1000,
        "' OR 1=1 --",
        None,
        b"af_" + b"A" * 43,
        12345,
    ],
    ids=lambda g: repr(g)[:20],
)
def test_garbage_never_verifies_and_never_raises(store: TokenStore, garbage: object) -> None:
    real = store.create("laptop", Scope.READ)
    assert store.verify(garbage) is None  # type: ignore[arg-type]
    assert store.verify(real[:-1] + ("A" if real[-1] != "A" else "B")) is None
    assert store.verify(real.upper() if real != real.upper() else real.lower()) is None


@pytest.mark.parametrize("token_id", [0, -1, 2**70, True, "1", None, 1.0])
def test_get_refuses_ids_that_cannot_be_tokens(store: TokenStore, token_id: object) -> None:
    store.create("laptop", Scope.READ)
    assert store.get(token_id) is None  # type: ignore[arg-type]


def test_last_use_is_written_at_most_once_a_minute(
    store: TokenStore, clock: SimulatedClock
) -> None:
    token = store.create("laptop", Scope.READ)
    assert store.list()[0].last_used_at is None
    store.verify(token)
    _later(clock, seconds=30)
    store.verify(token)
    assert store.list()[0].last_used_at == START
    _later(clock, seconds=30)
    store.verify(token)
    assert store.list()[0].last_used_at == START + pd.Timedelta(minutes=1)


def test_a_second_store_on_the_same_file_sees_every_write(
    store: TokenStore, clock: SimulatedClock
) -> None:
    with TokenStore(store.path, clock) as other:  # as the CLI does while the service runs
        token = other.create("laptop", Scope.TRADE)
        assert store.verify(token) is not None
        assert other.revoke("laptop")
        assert store.verify(token) is None


def test_a_deleted_or_replaced_token_file_is_not_read_from_old_connections(
    store: TokenStore, clock: SimulatedClock
) -> None:
    token = store.create("laptop", Scope.TRADE)
    assert store.verify(token) is not None  # a read connection is now open on the file
    for suffix in ("", "-wal", "-shm"):
        Path(f"{store.path}{suffix}").unlink(missing_ok=True)
    with pytest.raises(TokenStoreError, match="token file"):
        store.verify(token)
    assert not store.path.exists()  # not recreated behind the user's back
    with TokenStore(store.path, clock) as fresh:  # a new, empty file in its place
        assert fresh.list() == []
    assert store.verify(token) is None
    assert not store.has_active()


def test_reads_from_many_threads_share_the_store(store: TokenStore) -> None:
    tokens = [store.create(f"user-{i}", Scope.READ) for i in range(4)]
    seen: list[str | None] = []

    def read(token: str) -> None:
        for _ in range(50):
            info = store.verify(token)
            seen.append(None if info is None else info.name)

    threads = [threading.Thread(target=read, args=(t,)) for t in tokens * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 400 and None not in seen
    assert sorted(set(seen)) == [f"user-{i}" for i in range(4)]


def test_concurrent_creates_of_one_name_leave_one_active_token(
    store: TokenStore, clock: SimulatedClock
) -> None:
    outcomes: list[str] = []

    def create() -> None:
        try:
            with TokenStore(store.path, clock) as racer:
                racer.create("race", Scope.READ)
            outcomes.append("created")
        except ConfigError:
            outcomes.append("refused")

    threads = [threading.Thread(target=create) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["created"] + ["refused"] * 5
    assert len(store.list()) == 1


def test_a_file_that_is_not_a_database_is_one_clear_error(
    tmp_path: Path, clock: SimulatedClock
) -> None:
    path = tmp_path / "tokens.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(TokenStoreError, match="token file") as info:
        TokenStore(path, clock)
    assert "delete it" in info.value.one_line()


def test_the_store_shows_no_secret_in_its_repr(store: TokenStore) -> None:
    token = store.create("laptop", Scope.READ)
    info = store.verify(token)
    assert token not in repr(store) and token not in repr(info)


# --- session cookies ------------------------------------------------------------------


@pytest.fixture
def signer(tmp_path: Path) -> CookieSigner:
    return CookieSigner.load_or_create(tmp_path / "service")


def test_a_signed_cookie_verifies_to_its_token_id(signer: CookieSigner) -> None:
    value = signer.sign(7, START)
    assert signer.verify(value, pd.Timedelta(hours=12), START + pd.Timedelta(hours=1)) == 7


def test_a_cookie_older_than_max_age_is_refused(signer: CookieSigner) -> None:
    value = signer.sign(7, START)
    age = pd.Timedelta(hours=12)
    assert signer.verify(value, age, START + age) == 7
    assert signer.verify(value, age, START + age + pd.Timedelta(seconds=1)) is None
    # issued in the future of the checking clock beyond the allowed skew
    assert signer.verify(value, age, START - pd.Timedelta(minutes=5)) is None


def test_a_tampered_cookie_is_refused(signer: CookieSigner) -> None:
    value = signer.sign(7, START)
    token_id, issued, mac = value.split(".")
    later = START + pd.Timedelta(minutes=1)
    age = pd.Timedelta(hours=1)
    assert signer.verify(f"8.{issued}.{mac}", age, later) is None
    assert signer.verify(f"{token_id}.{int(issued) + 1}.{mac}", age, later) is None
    flipped = mac[:-1] + ("A" if mac[-1] != "A" else "B")
    assert signer.verify(f"{token_id}.{issued}.{flipped}", age, later) is None
    assert signer.verify(f"0{token_id}.{issued}.{mac}", age, later) is None


@pytest.mark.parametrize(
    "garbage",
    ["", "...", "7", "7.1", "a.b.c", "7.1." + "é" * 43, "7.1." + "A" * 10_000, None, b"7.1.x"],
    ids=lambda g: repr(g)[:20],
)
def test_a_malformed_cookie_is_refused_without_raising(
    signer: CookieSigner, garbage: object
) -> None:
    assert signer.verify(garbage, pd.Timedelta(hours=1), START) is None  # type: ignore[arg-type]


def test_a_cookie_signed_with_another_key_is_refused(tmp_path: Path) -> None:
    one = CookieSigner.load_or_create(tmp_path / "one")
    two = CookieSigner.load_or_create(tmp_path / "two")
    assert two.verify(one.sign(7, START), pd.Timedelta(hours=1), START) is None


def test_the_key_file_is_made_once_with_mode_0600(tmp_path: Path) -> None:
    service_dir = tmp_path / "service"
    first = CookieSigner.load_or_create(service_dir)
    key = service_dir / COOKIE_KEY_FILENAME
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(service_dir.stat().st_mode) == 0o700
    assert [p.name for p in service_dir.iterdir()] == [COOKIE_KEY_FILENAME]  # no temporary left
    again = CookieSigner.load_or_create(service_dir)  # the next start reuses the key
    value = first.sign(3, START)
    assert again.verify(value, pd.Timedelta(hours=1), START) == 3
    assert "key" in repr(first) and key.read_text().strip() not in repr(first)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620])
def test_a_key_file_open_to_others_is_refused_with_the_fix(tmp_path: Path, mode: int) -> None:
    CookieSigner.load_or_create(tmp_path)
    key = tmp_path / COOKIE_KEY_FILENAME
    os.chmod(key, mode)
    with pytest.raises(ConfigError, match="open to other users") as info:
        CookieSigner.load_or_create(tmp_path)
    assert info.value.one_line().endswith(f"Run: chmod 600 {key}")


@pytest.mark.parametrize("content", ["", "not hex", "ab" * 16])
def test_a_key_file_without_a_key_is_refused(tmp_path: Path, content: str) -> None:
    key = tmp_path / COOKIE_KEY_FILENAME
    fd = os.open(key, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, content.encode())
    os.close(fd)
    with pytest.raises(ConfigError, match="32-byte"):
        CookieSigner.load_or_create(tmp_path)


def test_processes_starting_together_share_one_key(tmp_path: Path) -> None:
    signers: list[CookieSigner] = []
    threads = [
        threading.Thread(target=lambda: signers.append(CookieSigner.load_or_create(tmp_path)))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    value = signers[0].sign(1, START)
    assert all(s.verify(value, pd.Timedelta(hours=1), START) == 1 for s in signers)


# --- login limits ---------------------------------------------------------------------


def test_five_failures_block_a_client_for_a_minute(clock: SimulatedClock) -> None:
    limiter = LoginLimiter(5, clock)
    for _ in range(4):
        limiter.failed("10.0.0.1")
        _later(clock, seconds=1)
    assert not limiter.blocked("10.0.0.1")
    limiter.failed("10.0.0.1")  # the fifth, 4 s after the first
    assert limiter.blocked("10.0.0.1")
    assert not limiter.blocked("10.0.0.2")  # per client
    _later(clock, seconds=55)  # 59 s after the first failure
    assert limiter.blocked("10.0.0.1")
    _later(clock, seconds=1)  # the first failure leaves the window
    assert not limiter.blocked("10.0.0.1")
    _later(clock, seconds=60)
    assert not limiter.blocked("10.0.0.1")
    assert len(limiter) == 0  # nothing remembered once the window is empty


def test_failures_spread_beyond_a_minute_never_block(clock: SimulatedClock) -> None:
    limiter = LoginLimiter(5, clock)
    for _ in range(20):  # one every 15 s: four in any minute
        limiter.failed("10.0.0.1")
        assert not limiter.blocked("10.0.0.1")
        _later(clock, seconds=15)


def test_the_limiter_remembers_a_bounded_number_of_clients(clock: SimulatedClock) -> None:
    limiter = LoginLimiter(2, clock, max_clients=100)
    for i in range(1_000):
        limiter.failed(f"client-{i}")
        limiter.failed(f"client-{i}")
    assert len(limiter) == 100
    assert limiter.blocked("client-999") and not limiter.blocked("client-0")


# --- WebSocket tickets ----------------------------------------------------------------


def test_a_ticket_works_once(clock: SimulatedClock) -> None:
    tickets = WsTickets(clock)
    ticket = tickets.issue(7)
    assert tickets.redeem(ticket) == 7
    assert tickets.redeem(ticket) is None
    assert tickets.issue(7) != ticket


def test_a_ticket_expires_after_its_ttl(clock: SimulatedClock) -> None:
    tickets = WsTickets(clock, ttl_s=30)
    early, late = tickets.issue(1), tickets.issue(2)
    _later(clock, seconds=29)
    assert tickets.redeem(early) == 1
    _later(clock, seconds=1)
    assert tickets.redeem(late) is None
    assert len(tickets) == 0


@pytest.mark.parametrize("garbage", ["", "x" * 100_000, "é", None, 7], ids=repr)
def test_an_unknown_ticket_is_refused_without_raising(
    clock: SimulatedClock, garbage: object
) -> None:
    tickets = WsTickets(clock)
    tickets.issue(1)
    assert tickets.redeem(garbage) is None  # type: ignore[arg-type]


def test_outstanding_tickets_are_bounded(clock: SimulatedClock) -> None:
    tickets = WsTickets(clock, max_outstanding=10)
    issued = [tickets.issue(i) for i in range(50)]
    assert len(tickets) == 10
    assert tickets.redeem(issued[0]) is None and tickets.redeem(issued[-1]) == 49


# --- anything a client may send -------------------------------------------------------


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenStore]:
    path = tokens_path(tmp_path_factory.mktemp("service"))
    with TokenStore(path, SimulatedClock(START)) as opened:
        opened.create("laptop", Scope.ADMIN)
        yield opened


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=200) | st.text(alphabet="af_-AZaz09.", max_size=60))
def test_no_client_text_verifies_or_raises(shared_store: TokenStore, text: str) -> None:
    signer = CookieSigner(b"k" * 32)
    tickets = WsTickets(SimulatedClock(START))
    tickets.issue(1)
    assert shared_store.verify(text) is None
    assert signer.verify(text, pd.Timedelta(days=1), START) is None
    assert tickets.redeem(text) is None
