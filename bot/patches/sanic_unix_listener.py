"""A second listener for a running Sanic app: a Unix socket that only this worker accepts on.

Sanic 21.12's workers share one listening socket, and the kernel hands each new connection to
whichever worker accepts first, so no request can be addressed to a chosen worker. The web
chat's polling requests must reach the worker that holds their socket.io session
(bot/channels/socketio_workers.py). This serves the same app, with Sanic's own HTTP protocol
(`sanic.server.protocols.HttpProtocol`, as `sanic.server.runners.serve` builds it), on a Unix
socket of this worker's, so a sibling can pass a request on to it. Requests arriving there go
through the same routes and middleware as any other.

Reaches into Sanic's server internals, so it checks the Sanic version it was written for.
"""

from __future__ import annotations

import asyncio
import functools
import os
import socket
from importlib.metadata import version
from pathlib import Path

from sanic import Sanic
from sanic.models.server_types import Signal
from sanic.server.protocols.http_protocol import HttpProtocol

SUPPORTED_SANIC = "21.12.2"


def check_sanic_version(installed: str | None = None) -> None:
    installed = installed or version("sanic")
    if installed != SUPPORTED_SANIC:
        raise RuntimeError(
            f"Sanic {installed} is installed, but bot/patches/sanic_unix_listener.py was written for "
            f"Sanic {SUPPORTED_SANIC} (Rasa 3.6.21's): install requirements.lock."
        )


check_sanic_version()


async def listen_on_unix_socket(app: Sanic, path: Path) -> asyncio.AbstractServer:
    """Serves `app` on a new Unix socket at `path` (only this user may connect), on the running loop."""
    loop = asyncio.get_running_loop()
    protocol = functools.partial(
        HttpProtocol, loop=loop, app=app, signal=Signal(), connections=set(), state={"requests_count": 0}
    )
    path.unlink(missing_ok=True)
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    os.chmod(path, 0o600)
    sock.listen(100)
    return await loop.create_server(protocol, sock=sock)
