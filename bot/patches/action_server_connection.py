"""Keeps one HTTP client session, with kept-alive connections, per Rasa endpoint.

Rasa 3.6's `EndpointConfig.request` opens a new aiohttp `ClientSession` (and with it a new TCP
connection) for every call, and most messages here call the action server once or twice.
Opening and closing them cost a visible share of each message's CPU, and one session per
endpoint measurably raised throughput (docs/performance.md). `install()` replaces `EndpointConfig.session` so that
`request` borrows the endpoint's session instead; everything else in `request` (headers,
token, timeout, errors) is Rasa's own.

A session belongs to the event loop it was made on, so there is one per endpoint and loop.
Kept-alive connections are dropped after 2 s idle, before the action server (Sanic, 5 s) closes
them, so a request never goes out on a connection the server is closing.
`bot.patches.install()` installs it (`python -m bot`, what tools/serve.py starts), and extends
Rasa's `close_resources` (run when the server stops) to close the sessions it opened.
"""

from __future__ import annotations

import asyncio
from types import TracebackType

import aiohttp
import rasa.core.run
from rasa.utils.endpoints import DEFAULT_REQUEST_TIMEOUT, EndpointConfig
from sanic import Sanic

IDLE_CONNECTION_S = 2.0  # below the action server's keep-alive timeout (Sanic's default, 5 s)


class _Borrowed:
    """`async with` a shared session without closing it at the end, as Rasa's code does."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def __aenter__(self) -> aiohttp.ClientSession:
        return self._session

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        return None


def shared_session(endpoint: EndpointConfig) -> _Borrowed:
    """The endpoint's session on the running loop, made as Rasa's `session()` makes one."""
    loop = asyncio.get_running_loop()
    sessions: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = endpoint.__dict__.setdefault(
        "_sessions_by_loop", {}
    )
    for other in [other for other in sessions if other.is_closed()]:
        del sessions[other]
    session = sessions.get(loop)
    if session is None or session.closed:
        auth = (
            aiohttp.BasicAuth(endpoint.basic_auth["username"], endpoint.basic_auth["password"])
            if endpoint.basic_auth
            else None
        )
        session = aiohttp.ClientSession(
            headers=endpoint.headers,
            auth=auth,
            timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
            connector=aiohttp.TCPConnector(keepalive_timeout=IDLE_CONNECTION_S),
        )
        sessions[loop] = session
        _OPEN.add(session)
    return _Borrowed(session)


# Every session made, so that they can be closed when the server stops.
_OPEN: set[aiohttp.ClientSession] = set()


async def close_sessions() -> None:
    """Closes the sessions opened on the running loop (and forgets closed ones)."""
    loop = asyncio.get_running_loop()
    for session in list(_OPEN):
        if session.closed or session._loop is loop:  # the loop a session was made on
            if not session.closed:
                await session.close()
            _OPEN.discard(session)


_rasa_close_resources = rasa.core.run.close_resources


async def close_resources(app: Sanic, loop: asyncio.AbstractEventLoop) -> None:
    """Rasa's own shutdown clean-up, then our sessions."""
    await _rasa_close_resources(app, loop)
    await close_sessions()


def install() -> None:
    EndpointConfig.session = shared_session
    rasa.core.run.close_resources = close_resources
