"""Bad input over REST and the web socket: a clear 4xx or a polite reply, and the server stays up."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

import pytest
import socketio

from tests.system.running_assistant import start_assistant


@pytest.fixture(scope="module")
def assistant():
    with start_assistant() as running:
        yield running


def post(base_url: str, body: bytes, timeout: float = 30) -> tuple[int, object]:
    request = urllib.request.Request(f"{base_url}/webhooks/rest/webhook", body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def ask(base_url: str, sender: object, message: object) -> tuple[int, object]:
    return post(base_url, json.dumps({"sender": sender, "message": message}).encode())


def texts(replies: object) -> str:
    assert isinstance(replies, list)
    return "\n".join(r.get("text", "") for r in replies)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b"", 400),
        (b"[1, 2, 3]", 400),
        (json.dumps({"message": "what is bme"}).encode(), 400),  # no sender: not "default"
        (json.dumps({"sender": 42, "message": "what is bme"}).encode(), 400),
        (json.dumps({"sender": "x" * 1000, "message": "what is bme"}).encode(), 400),
        (json.dumps({"sender": "a\x00b", "message": "what is bme"}).encode(), 400),
        (json.dumps({"sender": "bad", "message": ""}).encode(), 400),
        (json.dumps({"sender": "bad", "message": "   \n\t "}).encode(), 400),
        (json.dumps({"sender": "bad", "message": None}).encode(), 400),
        (json.dumps({"sender": "bad", "message": "x" * 100_000}).encode(), 413),
    ],
)
def test_bad_requests_get_a_clear_4xx(assistant, body, status):
    code, answer = post(assistant.base_url, body)
    assert code == status
    assert isinstance(answer, dict) and answer["error"]


@pytest.mark.parametrize(
    "message",
    [
        "what is\x00 bone\x07 marrow edema",
        "🦴🦵❓🙏",
        "ما هي وذمة نخاع العظم؟",
        "<script>alert(1)</script><img src=x onerror=alert(1)>",
        "\u202eamde worram enob si tahw",
        "💥" * 500,
    ],
)
def test_odd_but_valid_messages_get_a_polite_reply(assistant, message):
    code, replies = ask(assistant.base_url, f"odd-{abs(hash(message))}", message)
    assert code == 200
    reply = texts(replies)
    assert reply.strip()
    assert "<script>" not in reply and "onerror" not in reply


def test_control_characters_do_not_stop_understanding(assistant):
    _, replies = ask(assistant.base_url, "ctrl", "what is\x00 bone\x07 marrow edema")
    assert "marrow" in texts(replies).lower()


def test_a_flood_from_one_sender_is_limited_and_others_are_unaffected(assistant):
    async def flood() -> tuple[list[int], float, str]:
        loop = asyncio.get_running_loop()
        flooding = [loop.run_in_executor(None, ask, assistant.base_url, "flooder", "what is bme") for _ in range(25)]
        await asyncio.sleep(0.05)
        started = loop.time()
        _, other = await loop.run_in_executor(None, ask, assistant.base_url, "bystander", "can bme heal on its own?")
        other_s = loop.time() - started
        codes = [code for code, _ in await asyncio.gather(*flooding)]
        return codes, other_s, texts(other)

    codes, other_s, other_reply = asyncio.run(flood())
    assert set(codes) <= {200, 429} and 429 in codes and 200 in codes
    assert "6 weeks to 6 months" in other_reply
    assert other_s < 10
    assert ask(assistant.base_url, "after-flood", "what is bme")[0] == 200  # still up


def test_the_socket_answers_bad_messages_politely_and_stays_up(assistant):
    async def chat() -> list[str]:
        heard: list[str] = []
        client = socketio.AsyncClient()
        client.on("bot_uttered", lambda data: heard.append(data.get("text", "")))
        await client.connect(assistant.base_url, socketio_path="/socket.io", transports=["polling"])
        await client.emit("session_request", {"session_id": "socket-bad-input"})
        await asyncio.sleep(0.5)
        await client.emit("user_uttered", "not a dict")
        await client.emit("user_uttered", {"message": "", "session_id": "socket-bad-input"})
        await client.emit("user_uttered", {"message": "x" * 100_000, "session_id": "socket-bad-input"})
        await client.emit("user_uttered", {"message": "what is bme", "session_id": "socket-bad-input"})
        for _ in range(100):
            if any("marrow" in h for h in heard):
                break
            await asyncio.sleep(0.2)
        await client.disconnect()
        return heard

    heard = asyncio.run(chat())
    assert sum("Please type a question" in h for h in heard) == 2
    assert any("marrow" in h for h in heard)
