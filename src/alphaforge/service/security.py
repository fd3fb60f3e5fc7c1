"""Who may do what: the Host allowlist, the Origin check, and the token and cookie checks
behind every route.

Reads of account data need a ``read`` token, actions a ``trade`` token. A request proves
itself with ``Authorization: Bearer <token>`` or with the session cookie that ``/login``
set (HttpOnly, SameSite=Strict, signed with the service's key and naming the token, so a
revoked or expired token ends its sessions).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import pandas as pd
from fastapi import HTTPException, Request, WebSocket
from starlette.types import ASGIApp, Receive, Scope, Send

from alphaforge.service.auth import CookieSigner, TokenInfo, TokenStore
from alphaforge.service.auth import Scope as TokenScope
from alphaforge.service.cache import TtlCache

__all__ = [
    "COOKIE_NAME",
    "SESSION_AGE",
    "HostOriginGuard",
    "authenticate",
    "require_scope",
]

#: Name of the session cookie set by ``/login``.
COOKIE_NAME = "alphaforge_session"
#: How long a login lasts (the token's own expiry still applies).
SESSION_AGE = pd.Timedelta(hours=12)
#: Methods that change something: they need a trade token and a matching Origin.
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _host_of(headers: Iterable[tuple[bytes, bytes]]) -> tuple[str | None, str | None]:
    host = origin = None
    for key, value in headers:
        if key == b"host":
            host = value.decode("latin-1")
        elif key == b"origin":
            origin = value.decode("latin-1")
    return host, origin


class HostOriginGuard:
    """ASGI middleware: refuse (403) a Host outside the allowlist, and an Origin from another
    site on a mutation or the WebSocket handshake.

    The Host check stops DNS rebinding (a foreign page resolving its name to 127.0.0.1); the
    Origin check stops another site's page from making the browser act with its cookie.
    """

    def __init__(self, app: ASGIApp, hosts: Iterable[str], origins: Iterable[str]) -> None:
        self.app = app
        self.hosts = {h.lower() for h in hosts}
        self.origins = {o.rstrip("/").lower() for o in origins}

    def _host_ok(self, host: str | None) -> bool:
        if host is None:
            return False
        name = host.lower()
        # "[::1]:8765" keeps its brackets; "127.0.0.1:8765" loses its port.
        name = name[: name.find("]") + 1] if name.startswith("[") else name.rsplit(":", 1)[0]
        return name in self.hosts

    def _origin_ok(self, origin: str | None, host: str | None) -> bool:
        if origin is None:
            return True  # not a browser's cross-site request (curl, Prometheus, tests)
        origin = origin.rstrip("/").lower()
        same = host is not None and origin in (f"http://{host.lower()}", f"https://{host.lower()}")
        return same or origin in self.origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host, origin = _host_of(scope["headers"])
        method = scope.get("method", "GET")
        checks_origin = scope["type"] == "websocket" or method in MUTATING
        if self._host_ok(host) and (not checks_origin or self._origin_ok(origin, host)):
            await self.app(scope, receive, send)
            return
        reason = "host not allowed" if not self._host_ok(host) else "origin not allowed"
        if scope["type"] == "websocket":
            await receive()  # the websocket.connect message
            await send({"type": "websocket.close", "code": 1008, "reason": reason})
            return
        body = f'{{"detail": "{reason}"}}'.encode()
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})


def authenticate(
    headers: Any,
    cookies: dict[str, str],
    tokens: TokenStore,
    signer: CookieSigner,
    now: pd.Timestamp,
    verified: TtlCache | None = None,
) -> TokenInfo | None:
    """Return the valid token behind a bearer header or the session cookie, else None.

    With ``verified``, a token's check is reused for its TTL (a revocation or expiry then
    takes effect within it); the key is the token's SHA-256, never the token itself.
    """
    header = headers.get("authorization")
    if header is not None:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return None
        token = value.strip()
        if verified is None:
            return tokens.verify(token)
        digest = hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()
        return verified.get(("bearer", digest), None, lambda: tokens.verify(token))
    cookie = cookies.get(COOKIE_NAME)
    if cookie:
        token_id = signer.verify(cookie, SESSION_AGE, now)
        if token_id is not None:
            if verified is None:
                return tokens.get(token_id)
            return verified.get(("session", token_id), None, lambda: tokens.get(token_id))
    return None


def require_scope(
    scope: TokenScope,
) -> Callable[[Request], Awaitable[TokenInfo]]:
    """A FastAPI dependency: the request's token, 401 without a valid one, 403 if too weak."""

    async def check(request: Request) -> TokenInfo:
        state = request.app.state.service
        token = authenticate(
            request.headers,
            request.cookies,
            state.tokens,
            state.signer,
            state.sources.clock.now(),
            state.verified,
        )
        if token is None:
            raise HTTPException(
                status_code=401,
                detail="A valid token is needed: Authorization: Bearer <token>, or log in.",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not token.scope.allows(scope):
            raise HTTPException(
                status_code=403,
                detail=f"This needs a {scope} token; {token.name} is {token.scope}.",
            )
        return token

    return check


def websocket_token(websocket: WebSocket) -> TokenInfo | None:
    """Return the token of a WebSocket handshake: its one-time ticket, else its cookie."""
    state = websocket.app.state.service
    ticket = websocket.query_params.get("ticket")
    if ticket:
        token_id = state.tickets.redeem(ticket)
        return None if token_id is None else state.tokens.get(token_id)
    return authenticate(
        websocket.headers, websocket.cookies, state.tokens, state.signer, state.sources.clock.now()
    )
