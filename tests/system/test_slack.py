"""The Slack channel, end to end: Slack's side is played by this test, everything else is real.

The assistant runs as `make run` starts it, with SLACK_* set and its Web API pointed at a fake
Slack on 127.0.0.1 that records what the bot posts. Events and button clicks reach the
webhook signed as Slack signs them. Rasa answers from a background task, so a test waits for
the post. To show that something got *no* answer, a test then sends an ordinary message in
the same conversation: Rasa handles one conversation's messages in order, so once that one is
answered, an answer to the earlier one would have been posted already.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any

import pytest

from tests.system.fakes import SLACK_SECRET, SLACK_TOKEN, FakeSlack, FakeSlackApi
from tests.system.running_assistant import RunningAssistant, start_assistant

TOKEN = SLACK_TOKEN

DEFINITION = "what is bone marrow edema?"  # answered with what BME is, mentioning MRI
HEEL_SHOES = "which shoes are best for my heel?"  # answered with "Altra Paradigm 7"


@pytest.fixture(scope="module")
def running() -> Iterator[tuple[FakeSlack, RunningAssistant]]:
    """The assistant with Slack on, and one with Slack off, started side by side (~30 s)."""
    api = FakeSlackApi()
    with ExitStack() as stack, ThreadPoolExecutor(2) as pool:
        stack.callback(api.server.shutdown)  # last, once both assistants have stopped
        slack_on = pool.submit(
            stack.enter_context,
            start_assistant(SLACK_BOT_TOKEN=TOKEN, SLACK_SIGNING_SECRET=SLACK_SECRET, SLACK_API_URL=api.url),
        )
        slack_off = pool.submit(stack.enter_context, start_assistant(SLACK_BOT_TOKEN="", SLACK_SIGNING_SECRET=""))
        on, off = slack_on.result(), slack_off.result()
        yield FakeSlack(on.base_url, api), off


@pytest.fixture(scope="module")
def slack(running: tuple[FakeSlack, RunningAssistant]) -> FakeSlack:
    return running[0]


def test_a_direct_message_is_answered_in_that_channel(slack: FakeSlack) -> None:
    assert slack.say("U_ANNA", "D_ANNA", DEFINITION) == 200
    answer = slack.api.wait_for_post("D_ANNA", lambda post: "MRI" in post.get("text", ""))
    assert "marrow" in answer["text"]
    texts = slack.api.texts("D_ANNA")
    assert "bone marrow edema (BME) assistant" in texts and "not medical advice" in texts  # welcome, disclaimer
    calls = [(method, args, auth) for method, args, auth in slack.api.calls if args.get("channel") == "D_ANNA"]
    assert all(auth == f"Bearer {TOKEN}" for _, _, auth in calls)
    assert all("as_user" not in args for _, args, _ in calls)  # new Slack apps reject as_user


def test_a_json_event_with_a_charset_is_answered_too(slack: FakeSlack) -> None:
    assert slack.say("U_CHARSET", "D_CHARSET", HEEL_SHOES, content_type="application/json; charset=utf-8") == 200
    slack.api.wait_for_post("D_CHARSET", lambda post: "Altra Paradigm 7" in post.get("text", ""))


def test_slack_url_verification_is_answered(slack: FakeSlack) -> None:
    challenge = {"token": "unused", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}
    status, body = slack.post(json.dumps({**challenge, "type": "url_verification"}).encode(), "application/json")
    assert status == 200 and json.loads(body) == {"challenge": challenge["challenge"]}


@pytest.mark.parametrize(
    ("case", "options"),
    [("bad_signature", {"secret": "not-the-signing-secret"}), ("stale", {"age_s": 600})],
)
def test_an_unsigned_or_stale_request_is_refused_and_not_answered(
    slack: FakeSlack, case: str, options: dict[str, Any]
) -> None:
    user, channel = f"U_{case}", f"D_{case}"
    assert slack.say(user, channel, HEEL_SHOES, **options) == 401
    slack.answered(user, channel, DEFINITION, expected="MRI")
    assert "Altra Paradigm 7" not in slack.api.texts(channel)


@pytest.mark.parametrize(
    ("case", "marks"),
    [("app", {"bot_id": "B0001"}), ("legacy", {"bot_id": "B0001", "subtype": "bot_message"})],
)
def test_the_bots_own_message_gets_no_reply(slack: FakeSlack, case: str, marks: dict[str, str]) -> None:
    user, channel = f"U_ECHO_{case}", f"D_ECHO_{case}"
    assert slack.send_event(slack.message_event(user, channel, HEEL_SHOES, **marks)) == 200
    slack.answered(user, channel, DEFINITION, expected="MRI")
    assert "Altra Paradigm 7" not in slack.api.texts(channel)


def test_a_retried_event_is_answered_once(slack: FakeSlack) -> None:
    event = slack.message_event("U_RETRY", "D_RETRY", HEEL_SHOES)
    retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_error"}
    assert slack.send_event(event) == 200
    assert slack.send_event(event, headers=retry) == 200  # while the first is being answered
    slack.answered("U_RETRY", "D_RETRY", "how long does overuse bme take to heal", expected="4–8 weeks")
    assert slack.send_event(event, headers={**retry, "X-Slack-Retry-Num": "2"}) == 200  # after it was answered
    slack.answered("U_RETRY", "D_RETRY", DEFINITION, expected="MRI")
    assert sum("Altra Paradigm 7" in post.get("text", "") for post in slack.api.posts("D_RETRY")) == 1


def test_buttons_are_slack_buttons_and_a_click_is_answered(slack: FakeSlack) -> None:
    assert slack.say("U_WALKER", "D_WALKER", "which shoes help with bone marrow oedema") == 200
    question = slack.api.wait_for_post("D_WALKER", lambda post: bool(post.get("blocks")))
    actions = [block for block in question["blocks"] if block["type"] == "actions"]
    assert len(actions) == 1
    buttons = actions[0]["elements"]
    assert all(button["type"] == "button" for button in buttons)
    assert len(buttons) == 4
    ankle = next(button for button in buttons if button["text"]["text"] == "Ankle")
    assert slack.click("U_WALKER", "D_WALKER", ankle) == 200
    slack.api.wait_for_post("D_WALKER", lambda post: "Merrell Moab 3" in post.get("text", ""))


def test_an_answer_has_thumbs_and_a_click_is_kept_as_feedback_and_thanked(slack: FakeSlack) -> None:
    assert slack.say("U_RATER", "D_RATER", "can ultrasound see bone marrow edema?") == 200
    answer = slack.api.wait_for_post("D_RATER", lambda post: "ultrasound" in post.get("text", ""))
    rating = next(block for block in answer["blocks"] if block.get("block_id") == "feedback")
    thumbs = {button["text"]["text"]: button for button in rating["elements"]}
    assert set(thumbs) == {"👍", "👎"}
    assert {button["accessibility_label"] for button in thumbs.values()} == {"Helpful", "Not helpful"}
    assert slack.click("U_RATER", "D_RATER", thumbs["👍"]) == 200
    slack.api.wait_for_post("D_RATER", lambda post: post.get("text") == "Thanks for your feedback.")
    # The conversation goes on where it was: a follow-up still reads the previous topic.
    slack.answered("U_RATER", "D_RATER", "what about a CT?", expected="CT")


def test_six_choices_are_all_buttons(slack: FakeSlack) -> None:
    # Rasa's own Slack channel sends no buttons at all past five.
    assert slack.say("U_CAUSES", "D_CAUSES", "what causes bone marrow edema?") == 200
    question = slack.api.wait_for_post("D_CAUSES", lambda post: bool(post.get("blocks")))
    buttons = [element for block in question["blocks"] if block["type"] == "actions" for element in block["elements"]]
    assert len(buttons) == 6 and all(button["type"] == "button" for button in buttons)


def test_without_slack_settings_the_webhook_is_off(running: tuple[FakeSlack, RunningAssistant]) -> None:
    _, slack_off = running
    request = urllib.request.Request(
        f"{slack_off.base_url}/webhooks/slack/webhook", b"{}", {"Content-Type": "application/json"}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 404
