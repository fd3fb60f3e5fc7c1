"""``/ws``: live updates (fills, orders, equity, signals, alerts, job results, heartbeats).

The handshake needs the session cookie or a one-time ticket (``POST /api/v1/ws-ticket``);
without one it is refused (403). Messages are JSON ``{"type": ..., "data": {...}}``.
"""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from alphaforge.service.security import websocket_token

__all__ = ["router"]

router = APIRouter()

#: Close code for a client that fell behind (RFC 6455: try again later).
TRY_AGAIN_LATER = 1013


@router.websocket("/ws")
async def updates(websocket: WebSocket) -> None:
    """Send every new ledger row to this client until it leaves or falls behind."""
    token = websocket_token(websocket)
    if token is None:
        await websocket.close(code=1008, reason="log in or use a ticket")
        return
    state = websocket.app.state.service
    await websocket.accept()
    client = state.hub.join()
    await websocket.send_json({"type": "hello", "data": {"token": token.name}})

    async def drain_incoming() -> None:
        # The client sends nothing we use; reading notices a disconnect at once.
        while True:
            await websocket.receive_text()

    reader = asyncio.create_task(drain_incoming())
    try:
        while not reader.done():
            getter = asyncio.create_task(client.queue.get())
            done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
                break
            await websocket.send_text(getter.result())
            if client.dropped and client.queue.empty():
                await websocket.close(code=TRY_AGAIN_LATER, reason="too slow: reconnect")
                break
        if client.dropped and not reader.done():
            await websocket.close(code=TRY_AGAIN_LATER, reason="too slow: reconnect")
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
            await reader
        state.hub.leave(client)
