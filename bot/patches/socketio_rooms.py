"""Rasa's socket.io `session_request` handler, copied from `SocketIOInput.blueprint` with its
missing `await`.

With `session_persistence`, Rasa 3.6 calls `sio.enter_room()` without awaiting it; in
python-socketio >= 5.10 it is a coroutine, so the browser never joins its session's room and
never hears a reply after a page reload (rasa#13027, fix PR #13148 unmerged). Our web chat
channel registers this handler instead of Rasa's. Also refused here: a session id that is not
a short string (a fresh one is made), which Rasa passes on unchecked.
"""

from __future__ import annotations

import uuid

from socketio import AsyncServer

MAX_SESSION_ID_CHARS = 100


def register_session_request(sio: AsyncServer, session_persistence: bool) -> None:
    """Registers the `session_request` handler on the server, as Rasa's blueprint does."""

    @sio.on("session_request")
    async def session_request(sid: str, data: dict | None) -> None:
        session_id = (data or {}).get("session_id") if isinstance(data, dict) else None
        if not isinstance(session_id, str) or not session_id.strip() or len(session_id) > MAX_SESSION_ID_CHARS:
            session_id = uuid.uuid4().hex
        if session_persistence:
            await sio.enter_room(sid, session_id)  # the fix: Rasa forgets this await
        await sio.emit("session_confirm", session_id, room=sid)
