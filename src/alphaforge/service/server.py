"""``alphaforge serve``: check the set-up, then run the app under uvicorn.

Start is refused, with one line, when the port is taken, when a non-loopback interface is
asked for without ``--allow-remote``, when no token exists yet (``serve token create``) or
when the cookie key can be read by others. Stopping the service never stops trading: the
node is another process.
"""

from __future__ import annotations

import ipaddress
import logging
import socket

from alphaforge.config.models import AppConfig
from alphaforge.core.clock import SystemClock
from alphaforge.core.errors import ConfigError
from alphaforge.service.auth import CookieSigner, TokenStore
from alphaforge.service.sources import SERVICE_DIR, TOKENS_FILE

__all__ = ["check_bind", "run_server"]

log = logging.getLogger(__name__)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, port: int, allow_remote: bool) -> None:
    """Refuse a non-loopback ``host`` without ``allow_remote`` and a port already in use."""
    if not _is_loopback(host) and not allow_remote:
        raise ConfigError(
            f"Refusing to listen on {host}: only loopback without --allow-remote.",
            hint="Add --allow-remote (and put TLS in front) to serve other machines.",
        )
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigError(
                f"Cannot listen on {host}:{port}: {exc.strerror or exc}.",
                hint="Pick another port with --port, or stop what uses it.",
            ) from None


def run_server(
    config: AppConfig,
    *,
    host: str | None = None,
    port: int | None = None,
    allow_remote: bool | None = None,
    mode: str | None = None,
) -> None:
    """Serve the dashboard and API until interrupted."""
    import uvicorn

    from alphaforge.service.app import create_app

    service = config.service
    host = host or service.host
    port = port or service.port
    remote = service.allow_remote if allow_remote is None else allow_remote
    check_bind(host, port, remote)
    folder = config.data.store_dir / SERVICE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    CookieSigner.load_or_create(folder)  # refuses a key others can read
    tokens = TokenStore(folder / TOKENS_FILE, clock=SystemClock())
    if not tokens.has_active():
        raise ConfigError(
            "No token yet: nobody could log in.",
            hint="Create one: alphaforge serve token create --name laptop --scope trade.",
        )
    if not _is_loopback(host):
        log.warning("serving on %s: other machines can reach the dashboard", host)
        print(f"warning: serving on {host}: other machines can reach this dashboard")
    updated = config.model_copy(
        update={"service": service.model_copy(update={"host": host, "port": port})}
    )
    app = create_app(updated, mode=mode)
    print(f"Dashboard: http://{host}:{port}  (API docs: http://{host}:{port}/docs; Ctrl-C stops)")
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
