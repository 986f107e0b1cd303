"""Who may talk to the assistant: REST can require a token; Rasa's HTTP API is off unless a token is set.

(The web socket's origin check is in test_web_widget.py.)
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from tests.system.running_assistant import start_assistant

REST_TOKEN = "rest-secret-for-tests"
API_TOKEN = "api-secret-for-tests"


@pytest.fixture(scope="module")
def assistant():
    with start_assistant(REST_TOKEN=REST_TOKEN, RASA_API_TOKEN=API_TOKEN) as running:
        yield running


def status_of(request: urllib.request.Request) -> int:
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def rest_request(base_url: str, headers: dict[str, str], query: str = "") -> urllib.request.Request:
    body = json.dumps({"sender": "sec", "message": "what is bme"}).encode()
    headers = {"Content-Type": "application/json", **headers}
    return urllib.request.Request(f"{base_url}/webhooks/rest/webhook{query}", body, headers)


def test_rest_refuses_a_missing_or_wrong_token(assistant):
    assert status_of(rest_request(assistant.base_url, {})) == 401
    assert status_of(rest_request(assistant.base_url, {"Authorization": "Bearer wrong"})) == 401


def test_rest_answers_with_the_token(assistant):
    assert status_of(rest_request(assistant.base_url, {"Authorization": f"Bearer {REST_TOKEN}"})) == 200
    assert status_of(rest_request(assistant.base_url, {}, f"?token={REST_TOKEN}")) == 200


def test_the_http_api_needs_its_token(assistant):
    tracker = f"{assistant.base_url}/conversations/sec/tracker"
    assert status_of(urllib.request.Request(tracker)) in (401, 403)
    assert status_of(urllib.request.Request(f"{tracker}?token={API_TOKEN}")) == 200
