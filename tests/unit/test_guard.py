"""The input guard every channel shares (bot/channels/guard.py), with its in-process state: the
same bad-input list, limits, time bound and never-silent rule, without a server. The channels'
own tests (tests/system/test_every_channel.py) run the same list over the real protocols."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from rasa.core.channels.channel import OutputChannel, UserMessage

from bot import logs
from bot.channels.guard import (
    APOLOGY,
    ASK_FOR_TEXT,
    BUSY,
    MAX_MESSAGE_CHARS,
    TOO_FAST,
    BadInputError,
    Guard,
    clean_message,
    clean_sender,
)
from bot.settings import Settings
from bot.stores.guard_state import Admission, InProcessGuardState, Limits


class Recorder(OutputChannel):
    """A channel's output: what the user would see."""

    def __init__(self) -> None:
        self.said: list[tuple[str, str]] = []

    @classmethod
    def name(cls) -> str:
        return "recorder"

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        self.said.append((recipient_id, text))


def guard(limits: Limits | None = None, timeout_s: float = 2.0) -> Guard:
    return Guard("test", InProcessGuardState(limits or Limits()), timeout_s=timeout_s)


async def answering(message: UserMessage) -> None:
    await message.output_channel.send_response(message.sender_id, {"text": f"answer to {message.text}"})


BAD_MESSAGES = {
    "empty": ("", 400),
    "blank": ("   \n\t ", 400),
    "only control characters": ("\x00\x07\x1b", 400),
    "100 KB": ("x" * 100_000, 413),
    "not text": (None, 400),
}


@pytest.mark.parametrize(("text", "status"), BAD_MESSAGES.values(), ids=BAD_MESSAGES.keys())
def test_a_bad_message_is_refused_with_a_reason_and_the_user_told(text, status):
    output = Recorder()
    verdict = asyncio.run(guard().handle(answering, sender="u1", text=text, output=output))
    assert verdict.status == status and verdict.error
    assert output.said == [("u1", ASK_FOR_TEXT)]


def test_rest_is_answered_by_status_alone():
    output = Recorder()
    verdict = asyncio.run(guard().handle(answering, sender="u1", text="", output=output, tell_user=False))
    assert verdict.status == 400 and output.said == []


@pytest.mark.parametrize("sender", [None, "", "  ", "x" * 1000, "a\x00b", 42])
def test_an_unusable_sender_is_refused_and_nothing_is_sent(sender):
    output = Recorder()
    verdict = asyncio.run(guard().handle(answering, sender=sender, text="what is bme", output=output))
    assert verdict.status == 400 and output.said == []


def test_control_characters_are_removed_and_markup_is_kept_as_text():
    assert clean_message("what is\x00 bone\x07 marrow edema") == "what is  bone  marrow edema"
    assert clean_message("\u202eamde") == "amde"
    assert clean_message("<script>alert(1)</script>") == "<script>alert(1)</script>"
    assert len(clean_message("💥" * 500)) == 500
    with pytest.raises(BadInputError):
        clean_message("x" * (MAX_MESSAGE_CHARS + 1))
    assert clean_sender("U_ANNA") == "U_ANNA"


def test_a_handled_message_reaches_rasa_with_its_sender_channel_and_metadata():
    seen: list[UserMessage] = []

    async def rasa(message: UserMessage) -> None:
        seen.append(message)
        await answering(message)

    output = Recorder()
    verdict = asyncio.run(guard().handle(rasa, sender="u1", text=" hi\x00 ", output=output, metadata={"k": 1}))
    assert verdict.handled
    assert (seen[0].text, seen[0].sender_id, seen[0].input_channel, seen[0].metadata) == ("hi", "u1", "test", {"k": 1})
    assert output.said == [("u1", "answer to hi")]


def test_a_turn_that_says_nothing_gets_the_apology():
    async def silent(_: UserMessage) -> None:  # the action server is down: Rasa logs and says nothing
        return None

    output = Recorder()
    assert asyncio.run(guard().handle(silent, sender="u1", text="hi", output=output)).handled
    assert output.said == [("u1", APOLOGY)]


def test_a_turn_that_fails_gets_the_apology():
    async def failing(_: UserMessage) -> None:
        raise RuntimeError("boom")

    output = Recorder()
    asyncio.run(guard().handle(failing, sender="u1", text="hi", output=output))
    assert output.said == [("u1", APOLOGY)]


def test_a_hanging_turn_is_abandoned_in_bounded_time_with_the_apology():
    async def hanging(_: UserMessage) -> None:
        await asyncio.sleep(60)

    output = Recorder()

    async def timed() -> float:
        loop = asyncio.get_running_loop()
        started = loop.time()
        await guard(timeout_s=0.3).handle(hanging, sender="u1", text="hi", output=output)
        return loop.time() - started

    assert asyncio.run(timed()) < 1
    assert output.said == [("u1", APOLOGY)]


def test_a_sender_has_at_most_three_messages_in_progress_and_others_are_unaffected():
    release = asyncio.Event()

    async def slow(message: UserMessage) -> None:
        await release.wait()
        await answering(message)

    async def flood() -> tuple[list[int], list[int], Recorder]:
        the_guard, output = guard(), Recorder()
        flooding = [asyncio.create_task(the_guard.handle(slow, sender="f", text="hi", output=output)) for _ in range(8)]
        await asyncio.sleep(0.05)
        other = asyncio.create_task(the_guard.handle(slow, sender="other", text="hi", output=output))
        await asyncio.sleep(0.05)
        release.set()
        verdicts = await asyncio.gather(*flooding)
        return [v.status for v in verdicts], [(await other).status], output

    statuses, others, output = asyncio.run(flood())
    assert sorted(statuses) == [200] * 3 + [429] * 5
    assert others == [200]
    assert sum(text == BUSY for _, text in output.said) == 5


def test_a_sender_has_at_most_the_limit_per_minute():
    the_guard, output = guard(Limits(per_minute=5)), Recorder()

    async def many() -> list[int]:
        return [(await the_guard.handle(answering, sender="s", text="hi", output=output)).status for _ in range(7)]

    assert asyncio.run(many()) == [200] * 5 + [429] * 2
    assert output.said[-1] == ("s", TOO_FAST)
    assert the_guard.refused == {"too_fast": 2}


def test_the_in_process_state_forgets_marks_and_deliveries_when_they_expire():
    state = InProcessGuardState(Limits(in_flight=1, per_minute=0, in_flight_expiry_s=0.05))

    async def run() -> list[Any]:
        results: list[Any] = [await state.admit("s", "t1"), await state.admit("s", "t2")]
        await asyncio.sleep(0.1)  # t1's instance died without releasing: its mark expires
        results.append(await state.admit("s", "t3"))
        results += [await state.first_delivery("Ev1", 0.05), await state.first_delivery("Ev1", 0.05)]
        await asyncio.sleep(0.1)
        results.append(await state.first_delivery("Ev1", 0.05))
        return results

    assert asyncio.run(run()) == [Admission.ADMITTED, Admission.BUSY, Admission.ADMITTED, True, False, True]


@pytest.mark.parametrize("log_messages", [False, True])
def test_message_texts_are_logged_only_with_log_messages(caplog, log_messages):
    logs.install(Settings.from_env({"LOG_MESSAGES": "true"} if log_messages else {}))
    try:
        with caplog.at_level(logging.INFO):
            asyncio.run(guard().handle(answering, sender="U_PRIVATE", text="my knee is sore", output=Recorder()))
            asyncio.run(guard(Limits(in_flight=0)).handle(answering, sender="U_PRIVATE", text="x", output=Recorder()))
    finally:
        logs.install(Settings.from_env({}))
    assert ("my knee is sore" in caplog.text) is log_messages
    assert ("U_PRIVATE" in caplog.text) is log_messages
    assert "refused (busy)" in caplog.text
