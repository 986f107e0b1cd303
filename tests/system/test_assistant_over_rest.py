"""The whole assistant, as `make run` starts it: a real `rasa run` and a real action server.

Behaviour that crosses the two processes (the welcome from the custom session start,
follow-ups that depend on slots the actions set, buttons that send entity values back) is
checked over the REST channel, the way a website or script talks to the assistant.
"""

import json
import urllib.error
import urllib.request

import pytest

from tests.system.running_assistant import start_assistant


class Assistant:
    def __init__(self, base_url: str):
        self.url = f"{base_url}/webhooks/rest/webhook"

    def send(self, sender: str, message: str) -> list[dict]:
        body = json.dumps({"sender": sender, "message": message}).encode()
        request = urllib.request.Request(self.url, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def texts(self, sender: str, message: str) -> str:
        return "\n".join(m.get("text", "") for m in self.send(sender, message))


@pytest.fixture(scope="module")
def assistant():
    with start_assistant() as running:
        yield Assistant(running.base_url)


def test_a_new_conversation_starts_with_one_welcome_that_carries_the_disclaimer(assistant):
    replies = assistant.send("newcomer", "what is bone marrow edema?")
    texts = [r["text"] for r in replies]
    assert "bone marrow edema (BME) assistant" in texts[0] and "not medical advice" in texts[0]
    assert "marrow" in texts[1] and "MRI" in texts[1]


def test_follow_up_keeps_the_shoe_topic(assistant):
    assert "Hoka Bondi 9" in assistant.texts("runner", "best running shoes for bme in my knee?")
    hip = assistant.texts("runner", "and the hip?")
    assert "Asics Gel-Nimbus 26" in hip and "Hoka Bondi 9" not in hip


def test_follow_up_keeps_the_recovery_topic(assistant):
    assert "4–8 weeks" in assistant.texts("rower", "how long does overuse bme take to heal")
    assert "3–6 months" in assistant.texts("rower", "what if it's a stress fracture?")


def test_a_location_button_answers_the_shoe_question(assistant):
    replies = assistant.send("walker", "which shoes help with bone marrow oedema")
    buttons = [b for r in replies for b in r.get("buttons", [])]
    ankle = next(b for b in buttons if b["title"] == "Ankle")
    assert "Merrell Moab 3" in assistant.texts("walker", ankle["payload"])


def test_shoes_asked_later_fit_the_place_the_user_said_before(assistant):
    assistant.texts("heel", "can I walk with bone marrow edema in my heel?")
    assert "Altra Paradigm 7" in assistant.texts("heel", "which shoes then?")
    # a conversation that never said where asks
    replies = assistant.send("nowhere", "which shoes then?")
    assert "Altra Paradigm 7" not in "\n".join(r.get("text", "") for r in replies)
    assert {"Knee", "Ankle", "Foot", "Hip"} <= {b["title"] for r in replies for b in r.get("buttons", [])}


def test_every_question_of_a_message_is_answered_even_one_outside_the_article(assistant):
    replies = assistant.texts("two-part", "does ice help, and is the cold weather making it worse?")
    assert "ice" in replies.lower() and "outside what I can help with" in replies


def test_conversations_do_not_share_context(assistant):
    assert "4–8 weeks" in assistant.texts("alice", "how long will overuse bme take to heal")
    # Bob never asked about recovery: for him the follow-up is about the cause itself.
    bob = assistant.texts("bob", "what if it's a stress fracture?")
    assert "3–6 months" not in bob and "navicular" in bob


URGENT = "get seen by a doctor straight away"


def test_a_red_flag_as_the_first_message_gets_the_urgent_response(assistant):
    assert URGENT in assistant.texts("parent", "my son cant put weight on his leg and hes got a temperature")


def test_a_red_flag_buried_mid_conversation_gets_the_urgent_response(assistant):
    assistant.texts("buried", "how long does overuse bme take to heal")
    reply = assistant.texts("buried", "ok thanks, which shoes help? also my shin has gone red and hot since last night")
    assert URGENT in reply


def test_a_negated_mention_does_not_hijack_the_question(assistant):
    reply = assistant.texts("negated", "no fever or swelling, but which shoes are best for my heel?")
    assert URGENT not in reply and "Altra Paradigm 7" in reply


def test_symptom_check_all_no_says_what_the_check_did_not_do(assistant):
    first = assistant.send("checker", "can you check my symptoms?")
    assert any(b["payload"] == "/affirm" for r in first for b in r.get("buttons", []))
    assert "Sorry" not in "".join(r["text"] for r in first)  # it asks before it complains
    for _ in range(3):
        assert URGENT not in assistant.texts("checker", "/deny")
    final = assistant.texts("checker", "no")
    assert "no reason for urgent care" in final and "can't tell whether you have BME" in final


def test_symptom_check_free_text_yes_is_urgent_at_once(assistant):
    assistant.texts("checker2", "check my symptoms")
    assert URGENT in assistant.texts("checker2", "not sure, it might be a bit swollen")


def test_a_red_flag_inside_the_symptom_check_is_urgent(assistant):
    assistant.texts("checker3", "please check my symptoms")
    assert URGENT in assistant.texts("checker3", "my ankle is red and hot")


def test_a_message_it_cannot_place_is_never_a_dead_end(assistant):
    """Not understood: either the likeliest answers as buttons, or what it can help with."""
    for text in ("glorb fnarg", "the thing with the stuff from before"):
        replies = assistant.send("lost", text)
        buttons = [b for r in replies for b in r.get("buttons", [])]
        said = " ".join(r.get("text", "") for r in replies)
        assert buttons or "Ask me about" in said, said


def test_a_did_you_mean_button_answers_that_topic(assistant):
    first = assistant.send("lost2", "what about the thing, the one for the bone")
    buttons = [b for r in first for b in r.get("buttons", [])]
    if not buttons:
        pytest.skip("answered directly: no choice offered")
    reply = assistant.texts("lost2", buttons[0]["payload"])
    assert reply and "not sure I understood" not in reply


def test_out_of_scope_never_gives_a_dose(assistant):
    reply = assistant.texts("dose", "how many mg of ibuprofen should I take for bme?")
    assert "can't" in reply and "mg" not in reply


def test_rasa_http_api_is_off_by_default(assistant):
    # The API exposes every conversation's tracker: without RASA_API_TOKEN it must not exist.
    try:
        urllib.request.urlopen(assistant.url.replace("/webhooks/rest/webhook", "/conversations/x/tracker"), timeout=10)
        status = 200
    except urllib.error.HTTPError as error:
        status = error.code
    assert status == 404


def test_a_very_long_conversation_keeps_its_context_across_the_session_cap(assistant):
    """endpoints.yml starts a new session every 5 turns (bot/stores/tracker_store.py); the user must not
    notice: no second welcome, and a follow-up still refers to the turn before the cut, at any cut."""
    sent = 0
    for cut in (5, 10, 16, 25):  # the question on the last turn of a session, or on another
        while sent < cut - 1:
            assistant.send("chatty", "what is bme")
            sent += 1
        assert "Hoka Bondi 9" in assistant.texts("chatty", "best shoes for knee bme?")
        hip = assistant.texts("chatty", "and the hip?")
        sent += 2
        assert "Asics Gel-Nimbus 26" in hip
        assert "bone marrow edema (BME) assistant" not in hip


FIRST_QUESTION = "can't bear weight"
COMPLAINT = "I need a yes or a no"


@pytest.mark.parametrize(
    "way_in",
    [
        ["can you check my symptoms?"],  # typed
        ["/symptom_check"],  # the button under the warning signs
        ["what are the warning signs?", "/symptom_check"],  # that button, where it is offered
        ["which shoes help bme?", "please check my symptoms"],  # while the assistant waits for an answer
        ["check my symptoms", "no", "check my symptoms"],  # again, halfway through a check
    ],
    ids=["typed", "button", "after the warning signs", "instead of an answer", "restarted"],
)
def test_every_way_into_the_symptom_check_asks_before_it_complains(assistant, way_in):
    sender = f"way-in-{abs(hash(tuple(way_in)))}"
    for message in way_in[:-1]:
        assistant.texts(sender, message)
    opening = assistant.texts(sender, way_in[-1])
    assert FIRST_QUESTION in opening and COMPLAINT not in opening, opening
    assert "rf" not in opening
    follow = assistant.texts(sender, "no")
    assert "fever" in follow and COMPLAINT not in follow, follow


def test_a_question_during_the_symptom_check_is_answered_and_the_check_goes_on(assistant):
    assistant.texts("digress", "check my symptoms")
    reply = assistant.texts("digress", "what shoes should I buy for my knee?")
    assert "Hoka Bondi 9" in reply and FIRST_QUESTION in reply and COMPLAINT not in reply
    assert "fever" in assistant.texts("digress", "no")
