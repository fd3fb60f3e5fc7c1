"""``create_app``: the FastAPI application of ``alphaforge serve``.

One router per resource under ``/api/v1`` (:mod:`alphaforge.service.routes_api`,
:mod:`alphaforge.service.routes_control`), the HTML pages and login
(:mod:`alphaforge.service.routes_pages`), the WebSocket ``/ws``, ``/metrics`` and ``/docs``
with Swagger UI's files from the installed ``swagger-ui-bundle`` package (works offline).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

import swagger_ui_bundle
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry
from starlette.exceptions import HTTPException as StarletteHTTPException

from alphaforge.config.models import AppConfig
from alphaforge.core.clock import Clock, SystemClock
from alphaforge.core.errors import AlphaForgeError
from alphaforge.service.auth import (
    CookieSigner,
    LoginLimiter,
    Scope,
    TokenInfo,
    TokenStore,
    WsTickets,
)
from alphaforge.service.cache import TtlCache
from alphaforge.service.errors import NotFoundError
from alphaforge.service.metrics import RequestMetrics, build_registry, render
from alphaforge.service.security import HostOriginGuard, require_scope
from alphaforge.service.sources import TOKENS_FILE, ServiceSources
from alphaforge.service.stream import Hub, LedgerTail

__all__ = ["ServiceState", "create_app"]

log = logging.getLogger(__name__)


@dataclass
class ServiceState:
    """What every route reads: the sources, the token store and signer, the live hub."""

    config: AppConfig
    sources: ServiceSources
    tokens: TokenStore
    signer: CookieSigner
    limiter: LoginLimiter
    tickets: WsTickets
    hub: Hub
    registry: CollectorRegistry
    requests: RequestMetrics
    reads: TtlCache
    verified: TtlCache


def _equity_message(state: ServiceState) -> Any:
    """The newest equity point, sent over the WebSocket after new fills."""

    def latest(ledger: Any) -> dict[str, Any] | None:
        curve = state.sources.equity(ledger)
        if curve.empty:
            return None
        last = curve.frame.iloc[-1]
        return {
            "time": curve.frame.index[-1].isoformat(),
            "equity": float(last["equity"]),
            "drawdown": float(last["drawdown"]),
        }

    return latest


def create_app(
    config: AppConfig, *, clock: Clock | None = None, mode: str | None = None
) -> FastAPI:
    """Build the service for ``config``; ``mode`` picks the trading ledger (default
    ``service.mode``, else ``live.mode``); ``clock`` stamps what the service writes."""
    clock = clock if clock is not None else SystemClock()
    chosen = mode or config.service.mode or config.live.mode
    sources = ServiceSources(config=config, mode=chosen, clock=clock)
    service = config.service
    sources.service_dir.mkdir(parents=True, exist_ok=True)
    hub = Hub(service.ws_queue_size)
    registry, request_metrics = build_registry(sources, lambda: len(hub.clients))
    state = ServiceState(
        config=config,
        sources=sources,
        tokens=TokenStore(sources.service_dir / TOKENS_FILE, clock),
        signer=CookieSigner.load_or_create(sources.service_dir),
        limiter=LoginLimiter(service.login_attempts_per_minute, clock),
        tickets=WsTickets(clock),
        hub=hub,
        registry=registry,
        requests=request_metrics,
        reads=TtlCache(ttl_s=1.0),
        verified=TtlCache(ttl_s=1.0, size=1024),
    )
    tail = LedgerTail(sources, hub, service.poll_interval_s, on_fill=_equity_message(state))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tail.start()
        try:
            yield
        finally:
            await tail.stop()
            sources.close()

    app = FastAPI(
        title="AlphaForge",
        version="1",
        description="The dashboard's API: account, orders, risk, research runs and controls.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.service = state
    _add_handlers(app)
    _add_middleware(app, config, request_metrics)
    _add_docs(app)
    from alphaforge.service import routes_api, routes_control, routes_pages, routes_ws

    app.include_router(routes_api.router)
    app.include_router(routes_control.router)
    app.include_router(routes_pages.router)
    app.include_router(routes_ws.router)

    @app.get("/metrics", include_in_schema=False)
    def metrics(token: Annotated[TokenInfo, Depends(require_scope(Scope.READ))]) -> Response:
        # Prometheus sends the read token as a bearer header (deploy/prometheus.yml).
        body, content_type = render(registry)
        return Response(body, media_type=content_type)

    # Keep a reference so tests and the benchmark can reach the tail (poll counts, last ids).
    app.state.tail = tail
    return app


def _add_handlers(app: FastAPI) -> None:
    @app.exception_handler(NotFoundError)
    async def not_found(request: Request, exc: NotFoundError) -> JSONResponse:
        return JSONResponse({"detail": exc.one_line()}, status_code=404)

    @app.exception_handler(AlphaForgeError)
    async def refused(request: Request, exc: AlphaForgeError) -> JSONResponse:
        # A user-facing error (bad name, missing ledger, bad file): say why, never a 500.
        status = 404 if "NotFoundError" in type(exc).__name__ else 409
        return JSONResponse({"detail": exc.one_line()}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "loc": list(e.get("loc", ())),
                "msg": str(e.get("msg", "")),
                "type": str(e.get("type")),
            }
            for e in exc.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse(
            {"detail": f"The service could not answer: {type(exc).__name__}. See its log."},
            status_code=503,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        headers = getattr(exc, "headers", None)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)


def _add_middleware(app: FastAPI, config: AppConfig, metrics: RequestMetrics) -> None:
    service = config.service

    @app.middleware("http")
    async def timed(request: Request, call_next: Any) -> Response:
        started = time.perf_counter()
        response: Response = await call_next(request)
        route = request.scope.get("route")
        name = getattr(route, "path", "unmatched")
        metrics.observe(name, request.method, response.status_code, time.perf_counter() - started)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    if service.origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(service.origins),
            allow_credentials=True,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    hosts = {*service.allowed_hosts, service.host}
    app.add_middleware(HostOriginGuard, hosts=hosts, origins=service.origins)


def _add_docs(app: FastAPI) -> None:
    app.mount(
        "/static/swagger",
        StaticFiles(directory=swagger_ui_bundle.swagger_ui_path),
        name="swagger",
    )

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="AlphaForge API",
            swagger_js_url="/static/swagger/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger/swagger-ui.css",
            swagger_favicon_url="/static/swagger/favicon-32x32.png",
        )
