"""An ASGI app wrapped by ``protect`` (its config from ``BULLETPROOF_CONFIG``), for reload tests
under uvicorn: a replaced instance drains through the guard's ``Connection: close``."""

from __future__ import annotations

import os
from typing import Any

from bulletproof import protect


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = f"ok {os.getpid()}\n".encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(body))],
        }
    )
    await send({"type": "http.response.body", "body": body})


app = protect(_app)
