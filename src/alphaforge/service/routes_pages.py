"""The HTML pages, the login form and the page assets (plotly.js from the installed package,
one script for the WebSocket, sorting and confirmations, one style sheet).

A page needs a ``read`` session (or bearer token); without one the browser is sent to
``/login``, where pasting a token sets the session cookie (HttpOnly, SameSite=Strict).
Failed logins are limited per client (``service.login_attempts_per_minute``, then 429).
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from alphaforge.backtest.charts import figure_json, plotly_js
from alphaforge.service.auth import Scope
from alphaforge.service.errors import NotFoundError
from alphaforge.service.pages import PAGES, build_page
from alphaforge.service.routes_api import clean
from alphaforge.service.security import COOKIE_NAME, SESSION_AGE, authenticate
from alphaforge.service.views import heartbeat

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@functools.cache
def _templates() -> Environment:
    return Environment(
        loader=PackageLoader("alphaforge.service", "templates"),
        autoescape=select_autoescape(["html"]),
    )


@functools.cache
def _static(name: str) -> bytes:
    return resources.files("alphaforge.service").joinpath("static", name).read_bytes()


@functools.cache
def _plotly() -> bytes:
    return plotly_js().encode()


_TYPES = {".js": "text/javascript", ".css": "text/css"}


@router.get("/static/plotly.min.js")
def plotly_asset() -> Response:
    return Response(
        _plotly(), media_type="text/javascript", headers={"Cache-Control": "max-age=86400"}
    )


@router.get("/favicon.ico")
def favicon() -> Response:
    # No icon: an empty answer rather than a 404 in every browser console.
    return Response(status_code=204)


@router.get("/static/{name}")
def asset(name: str) -> Response:
    if name not in ("app.js", "app.css"):
        raise NotFoundError(f"No asset {name!r}.")
    return Response(_static(name), media_type=_TYPES[name[name.rfind(".") :]])


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.get("/login")
def login_form(request: Request, error: str = "") -> HTMLResponse:
    html = _templates().get_template("login.html").render(error=error[:200])
    return HTMLResponse(html)


@router.post("/login")
def login(request: Request, token: Annotated[str, Form(max_length=512)]) -> Response:
    state = request.app.state.service
    client = _client(request)
    if state.limiter.blocked(client):
        return HTMLResponse(
            _templates()
            .get_template("login.html")
            .render(error="Too many attempts: wait a minute."),
            status_code=429,
        )
    info = state.tokens.verify(token.strip())
    if info is None:
        state.limiter.failed(client)
        return HTMLResponse(
            _templates().get_template("login.html").render(error="That token is not valid."),
            status_code=401,
        )
    now = state.sources.clock.now()
    response = RedirectResponse("/pages/portfolio", status_code=303)
    response.set_cookie(
        COOKIE_NAME,
        state.signer.sign(info.id, now),
        max_age=int(SESSION_AGE.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=False,  # served on loopback over plain HTTP; a TLS proxy may add Secure
        path="/",
    )
    return response


@router.post("/logout")
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE_NAME, path="/")
    return response


@router.get("/")
def home() -> Response:
    return RedirectResponse("/pages/portfolio", status_code=303)


@router.get("/pages/{name}")
def page(request: Request, name: str) -> Response:
    state = request.app.state.service
    sources = state.sources
    token = authenticate(
        request.headers,
        request.cookies,
        state.tokens,
        state.signer,
        sources.clock.now(),
        state.verified,
    )
    if token is None:
        return RedirectResponse("/login", status_code=303)
    if not token.scope.allows(Scope.READ):  # every scope reads today; kept for new scopes
        return HTMLResponse("This needs a read token.", status_code=403)
    params = dict(request.query_params.items())
    try:
        key = ("page", name, tuple(sorted(params.items())))
        built = state.reads.get(key, sources.version(), lambda: build_page(name, sources, params))
    except NotFoundError as exc:
        return HTMLResponse(
            _templates().get_template("error.html").render(message=exc.one_line(), pages=PAGES),
            status_code=404,
        )
    ledger = sources.ledger()
    beat = (
        heartbeat(ledger, sources.clock.now(), sources.config.service.heartbeat_stale_s)
        if ledger
        else None
    )
    charts = [{"id": c.id, "title": c.title, "figure": figure_json(c.figure)} for c in built.charts]
    html = (
        _templates()
        .get_template("page.html")
        .render(
            page=built,
            name=name,
            pages=PAGES,
            charts=charts,
            tables=built.tables,
            twin=_script_safe(json.dumps(clean(built.twin), default=str)),
            heartbeat=beat.text() if beat else "no ledger yet",
            alive=bool(beat and beat.alive),
            token=token.name,
            can_trade=token.scope.allows(Scope.TRADE),
            mode=sources.mode,
            format=_format,
        )
    )
    return HTMLResponse(html)


def _script_safe(text: str) -> str:
    """JSON placed inside a <script> element: a "</" in the data must not end the element."""
    return text.replace("</", "<\\/")


def _format(value: Any) -> str:
    """A table cell as text: numbers to 4 significant digits, None as blank."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    return str(value)
