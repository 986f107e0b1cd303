"""Our patches to Rasa 3.6 (bot/patches, installed by `python -m bot`) change speed, not behaviour: the
action response check accepts and rejects what Rasa's does, with Rasa's message, stored events
become the same objects, and calls to an endpoint keep working across event loops, idle gaps and
a restarted server."""

from __future__ import annotations

import asyncio
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import Event, UserUttered
from rasa.shared.utils.common import all_subclasses
from rasa.utils.endpoints import EndpointConfig

from bot.patches import action_response_validation, action_server_connection, event_types

GOOD = {
    "events": [{"event": "slot", "name": "topic", "value": "shoes", "timestamp": None}],
    "responses": [{"text": "hi"}],
}
BAD = [
    {"events": [{"event": "slot", "name": 3}], "responses": []},
    {"events": [], "responses": "not a list"},
    {"events": [{"event": "no_such_event"}]},
]


def rasas_verdict(result: dict) -> str:
    action = RemoteAction.__new__(RemoteAction)  # only its (static) schema is used
    try:
        RemoteAction._validate_action_result(action, result)
        return "valid"
    except ValidationError as error:
        return error.message


@pytest.mark.parametrize("result", [GOOD, *BAD])
def test_action_responses_get_rasas_verdict(result):
    expected = rasas_verdict(result)
    try:
        ours = "valid" if action_response_validation.validate_action_result(None, result) else "?"
    except ValidationError as error:
        ours = error.message
    assert ours == expected


def test_every_event_type_resolves_to_rasas_class():
    names = {event_class.type_name for event_class in all_subclasses(Event)}
    assert {"user", "bot", "action", "slot", "session_started", "active_loop"} <= names
    for name in names:
        rasas = next(c for c in all_subclasses(Event) if c.type_name == name)  # Rasa's own search
        assert event_types.resolve_by_type(name) is rasas, name


def test_unknown_event_types_get_rasas_answers():
    assert event_types.resolve_by_type("topic") is None  # Rasa's legacy TopicSet events
    assert event_types.resolve_by_type("no_such_event", default=UserUttered) is UserUttered
    with pytest.raises(ValueError, match="Unknown event name 'no_such_event'"):
        event_types.resolve_by_type("no_such_event")


def test_an_event_class_defined_later_is_found():
    class LateEvent(UserUttered):
        type_name = "late_event_for_the_test"

    assert event_types.resolve_by_type("late_event_for_the_test") is LateEvent


class Echo(BaseHTTPRequestHandler):
    """A tiny action-server stand-in that, like Sanic, keeps connections alive."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        body = b'{"events": [], "responses": []}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def serve(port: int = 0) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", port), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def shared_sessions(monkeypatch):
    monkeypatch.setattr(EndpointConfig, "session", action_server_connection.shared_session)


def test_calls_work_on_new_event_loops_after_idle_gaps_and_a_server_restart(shared_sessions):
    server = serve()
    port = server.server_address[1]
    endpoint = EndpointConfig(f"http://127.0.0.1:{port}/webhook")

    async def call() -> dict:
        return await endpoint.request(json={"next_action": "x"}, method="post")

    assert asyncio.run(call()) == {"events": [], "responses": []}  # one loop...
    assert asyncio.run(call()) == {"events": [], "responses": []}  # ...and the next

    async def with_gaps() -> list[dict]:
        answers = [await call()]
        await asyncio.sleep(action_server_connection.IDLE_CONNECTION_S + 0.5)  # connection dropped
        answers.append(await call())
        server.shutdown()
        server.server_close()
        restarted = serve(port)  # the action server comes back on its port
        try:
            answers.append(await call())
        finally:
            restarted.shutdown()
            restarted.server_close()
        return answers

    started = time.monotonic()
    assert asyncio.run(with_gaps()) == [{"events": [], "responses": []}] * 3
    assert time.monotonic() - started < 10


def test_the_sessions_opened_are_closed_when_the_server_stops(monkeypatch):
    """`install()` extends Rasa's shutdown clean-up; after it, no session is left open."""
    import rasa.core.run

    calls = []

    async def rasas_own(app, loop):
        calls.append("rasa")

    monkeypatch.setattr(action_server_connection, "_rasa_close_resources", rasas_own)
    monkeypatch.setattr(rasa.core.run, "close_resources", rasa.core.run.close_resources)
    monkeypatch.setattr(EndpointConfig, "session", EndpointConfig.session)  # restored after the test
    action_server_connection.install()
    assert rasa.core.run.close_resources is action_server_connection.close_resources

    async def serve_then_stop() -> bool:
        borrowed = action_server_connection.shared_session(EndpointConfig("http://127.0.0.1:1/webhook"))
        session = await borrowed.__aenter__()
        await rasa.core.run.close_resources(object(), asyncio.get_running_loop())
        return session.closed

    assert asyncio.run(serve_then_stop()) and calls == ["rasa"]
