"""The service's short-lived caches: a read is rebuilt when its data change or it is older
than the TTL; a revoked token stops working within the TTL."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.unit.service.test_app import BASE, T0, auth, make_tokens, service_config

from alphaforge.core.clock import SimulatedClock
from alphaforge.service.app import create_app
from alphaforge.service.auth import TokenStore
from alphaforge.service.cache import TtlCache
from alphaforge.service.sources import SERVICE_DIR, TOKENS_FILE
from alphaforge.storage.ledger import Ledger


def test_a_value_is_rebuilt_when_its_version_changes_or_it_is_too_old() -> None:
    cache = TtlCache(ttl_s=0.2, size=2)
    built: list[int] = []

    def build(n: int) -> Any:
        def make() -> int:
            built.append(n)
            return n

        return make

    assert cache.get("a", 1, build(1)) == 1
    assert cache.get("a", 1, build(2)) == 1  # kept
    assert cache.get("a", 2, build(3)) == 3  # the data changed
    time.sleep(0.25)
    assert cache.get("a", 2, build(4)) == 4  # too old
    cache.get("b", 1, build(5))
    cache.get("c", 1, build(6))  # "a" is the least recently used: dropped
    assert cache.get("a", 2, build(7)) == 7
    assert built == [1, 3, 4, 5, 6, 7]


def test_reads_follow_the_ledger_at_once_and_revocation_within_a_second(tmp_path: Path) -> None:
    clock = SimulatedClock(T0)
    config = service_config(tmp_path)
    ledger = Ledger.open(config.execution.ledger_url_for("paper"), clock=clock)
    ledger.set_cash(1_000.0, "funding")
    tokens = make_tokens(config, clock)
    with TestClient(create_app(config, clock=clock), base_url=BASE) as client:
        headers = auth(tokens["read"])
        assert client.get("/api/v1/alerts", headers=headers).json() == []
        ledger.add_alert("error", "feed", "stale")
        assert len(client.get("/api/v1/alerts", headers=headers).json()) == 1  # no wait
        store = TokenStore(Path(config.data.store_dir) / SERVICE_DIR / TOKENS_FILE, clock)
        assert store.revoke("reader")
        time.sleep(1.1)
        assert client.get("/api/v1/alerts", headers=headers).status_code == 401
    ledger.close()


@pytest.mark.parametrize("path", ["/api/v1/account", "/api/v1/pages/portfolio"])
def test_a_cached_read_still_needs_a_token(tmp_path: Path, path: str) -> None:
    clock = SimulatedClock(T0)
    config = service_config(tmp_path)
    tokens = make_tokens(config, clock)
    with TestClient(create_app(config, clock=clock), base_url=BASE) as client:
        assert client.get(path, headers=auth(tokens["read"])).status_code == 200
        assert client.get(path).status_code == 401
