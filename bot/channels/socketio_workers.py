"""The web chat on several Sanic workers: each socket.io session's polling requests reach its worker.

A socket.io session lives in the process that accepted it. Over a WebSocket (what the widget
tries first) everything of a session travels on one connection, so any worker serves it
whole. Over HTTP long-polling (the widget's fallback when a proxy blocks WebSockets, and the
Python socket.io clients of the tests) each request is a new HTTP request, and with several
workers on one port the kernel hands it to any of them: the others do not know the session and
refuse it, so the conversation breaks. A load balancer in front would need sticky sessions;
`make run` has none, so the workers route among themselves:

- each worker stamps the engine.io session ids it makes with its process id;
- each worker also listens on a Unix socket of its own (bot/patches/sanic_unix_listener.py), in
  a directory of this server's that only its user can enter;
- a polling request that names another worker's session is passed on, whole, to that worker's
  socket, and its answer returned as it came (one extra local hop, for the fallback only).

A session that started on polling may try to upgrade to a WebSocket: if that request reaches
another worker it is refused, and the session stays on polling. Replies always reach the user:
a message is handled by the worker that holds the session, which sends its replies itself.
Two browser tabs of one conversation open on different workers each get the replies to their
own messages only (with one worker, both get every reply).
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import aiohttp
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncServer

from bot import workers
from bot.patches.sanic_unix_listener import listen_on_unix_socket

logger = logging.getLogger(__name__)

# Longer than engine.io's longest poll (ping interval 25 s + ping timeout 20 s).
FORWARD_TIMEOUT_S = 90.0
# Not passed on: they describe one hop's connection, not the request or its answer.
_HOP_BY_HOP = {
    "content-type",  # given to Sanic's response separately
    "connection",
    "keep-alive",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "proxy-connection",
    "te",
    "trailer",
}
_SEPARATOR = "."


def owner_of(session_id: str) -> int | None:
    """The worker (process id) that made an engine.io session id, if one of ours made it."""
    stamp, separator, _ = session_id.partition(_SEPARATOR)
    if not separator:
        return None
    try:
        return int(stamp, 16)
    except ValueError:
        return None


def stamp_session_ids(sio: AsyncServer) -> None:
    """Makes the engine.io server prefix its session ids with this process's id (read when each
    id is made, so ids made in a forked worker carry the worker's)."""
    engine = sio.eio
    make_id = engine.generate_id

    def generate_id() -> str:
        return f"{os.getpid():x}{_SEPARATOR}{make_id()}"

    engine.generate_id = generate_id


def _server_directory() -> Path:
    return Path(tempfile.gettempdir()) / f"bme-workers-{workers.server_id().replace(':', '-')}"


def socket_of(pid: int) -> Path:
    return _server_directory() / f"{pid}.sock"


class WorkerRouting:
    """The routing of one web chat channel's polling requests between this server's workers."""

    def __init__(self, socketio_path: str) -> None:
        self.prefix = f"/{socketio_path.strip('/')}/"
        self._listener: asyncio.AbstractServer | None = None
        self._sessions: dict[int, aiohttp.ClientSession] = {}

    @property
    def active(self) -> bool:
        return self._listener is not None

    async def start(self, app: Sanic) -> None:
        """Listens on this worker's own socket, when the server has several workers."""
        if workers.main_process() is None:
            return
        directory = _server_directory()
        directory.mkdir(mode=0o700, exist_ok=True)
        self._listener = await listen_on_unix_socket(app, socket_of(os.getpid()))

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.close()
            socket_of(os.getpid()).unlink(missing_ok=True)
            self._listener = None
        for session in self._sessions.values():
            await session.close()
        self._sessions.clear()

    async def route(self, request: Request) -> HTTPResponse | None:
        """Request middleware: None to handle the request here, or the answer of the worker
        that holds the session it names."""
        if not self.active or not request.path.startswith(self.prefix):
            return None
        owner = owner_of(request.args.get("sid", ""))
        if owner is None or owner == os.getpid():
            return None
        if request.headers.get("upgrade", "").lower() == "websocket":
            # The upgrade of a polling session that lives elsewhere: refused, it stays on polling.
            return response.json({"message": "Upgrade on the session's own worker only"}, status=400)
        return await self._forward(request, owner)

    async def _forward(self, request: Request, owner: int) -> HTTPResponse:
        headers = {name: value for name, value in request.headers.items() if name.lower() not in _HOP_BY_HOP}
        url = f"http://worker{request.path}" + (f"?{request.query_string}" if request.query_string else "")
        try:
            session = self._session_for(owner)
            async with session.request(request.method, url, headers=headers, data=request.body) as answer:
                body = await answer.read()
                kept = {name: value for name, value in answer.headers.items() if name.lower() not in _HOP_BY_HOP}
                content_type = answer.headers.get("Content-Type", "application/octet-stream")
                return response.raw(body, status=answer.status, headers=kept, content_type=content_type)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as error:
            # The worker has stopped: its sessions are gone, as engine.io says of an unknown one.
            logger.info("Web chat: the worker of a polling session is gone (%s)", type(error).__name__)
            self._sessions.pop(owner, None)
            return response.json({"code": 1, "message": "Session ID unknown"}, status=400)

    def _session_for(self, owner: int) -> aiohttp.ClientSession:
        session = self._sessions.get(owner)
        if session is None or session.closed:
            connector = aiohttp.UnixConnector(path=str(socket_of(owner)))
            timeout = aiohttp.ClientTimeout(total=FORWARD_TIMEOUT_S)
            # Passed on as they came: compressed bodies stay compressed, with their headers.
            session = aiohttp.ClientSession(connector=connector, timeout=timeout, auto_decompress=False)
            self._sessions[owner] = session
        return session


def register(app: Sanic, routing: WorkerRouting) -> None:
    """Adds the routing to the app: its middleware, and its socket from start to stop."""
    app.register_middleware(routing.route, "request")

    async def start(app: Sanic, _loop: Any) -> None:
        await routing.start(app)

    async def stop(_app: Sanic, _loop: Any) -> None:
        await routing.stop()

    def remove_directory(_app: Sanic, _loop: Any) -> None:
        """In Sanic's main process, once every worker has stopped (the same server id there)."""
        shutil.rmtree(_server_directory(), ignore_errors=True)

    app.register_listener(start, "after_server_start")
    app.register_listener(stop, "before_server_stop")
    app.register_listener(remove_directory, "main_process_stop")
