"""The Slack channel: Rasa's Slack connector with its traps fixed.

Rasa's `SlackInput` already verifies Slack's request signatures, skips most bot messages and
turns button clicks into user messages. What this subclass changes, and why:

- `api_url`: the Slack Web API base URL replies are posted to (default Slack's own), so the
  tests can run the real assistant against a fake Slack on 127.0.0.1.
- Replies are posted without `as_user=True`, which Slack apps created today reject.
- Up to 25 buttons become Block Kit buttons (Slack's limit); past 5, Rasa sends none at all.
- A request whose signature is wrong or more than 5 minutes old gets 401 (Rasa: 400).
- `application/json; charset=utf-8` is JSON: Rasa compares the content type with `==` and
  silently drops such an event with a 200.
- Slack redelivers an event it thinks failed (X-Slack-Retry-Num); Rasa answers most retries
  again. We remember `event_id`s for an hour and acknowledge a repeat with a 200 and no
  answer; with several instances they are remembered in Redis, so a retry that reaches another
  instance is not answered twice (bot/stores/guard_state.py).
- Every message goes through the guard every channel shares (bot/channels/guard.py): size cap,
  per-user limit, a reply within 12 s or an apology, never silence. Slack wants its 200 within
  3 s, so, as in Rasa, the event is acknowledged at once and answered in the background.
- Only people's messages are answered, not joins, edits or other bots' posts; one without text
  (a file with no caption) gets a request for text, where Rasa would stay silent.
- The `url_verification` challenge is answered as `{"challenge": ...}` (Rasa sends a bare
  JSON string).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.slack import SlackBot
from rasa.core.channels.slack import SlackInput as RasaSlackInput
from rasa.shared.exceptions import InvalidConfigException
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import feedback
from bot.channels.guard import Guard
from bot.domain.feedback import BUTTONS
from bot.patches.slack_content_type import bare_media_type

SLACK_API_URL = "https://slack.com/api/"
MAX_BUTTONS = 25  # elements in one Block Kit `actions` block
MAX_BUTTON_TITLE = 75  # characters Slack accepts in a button's text
# Message subtypes that are still something a person wrote; the rest (joins, edits, deletions,
# bot posts, ...) are not addressed to the assistant.
USER_SUBTYPES = frozenset({None, "file_share", "thread_broadcast", "me_message"})


class SlackOutput(SlackBot):
    """Rasa's `SlackBot`, posting to `api_url` and without `as_user`."""

    def __init__(
        self,
        token: str,
        slack_channel: str | None = None,
        thread_id: str | None = None,
        proxy: str | None = None,
        api_url: str | None = None,
    ) -> None:
        super().__init__(token, slack_channel, thread_id, proxy)
        # SlackBot builds its AsyncWebClient without a base URL; it reads this attribute per call.
        self.client.base_url = _with_slash(api_url or SLACK_API_URL)

    async def _post_message(self, channel: str, **kwargs: Any) -> None:
        """Every SlackBot method passes `as_user=True`, which new Slack apps refuse
        (`invalid_arguments`), and `type=`, which is no chat.postMessage argument."""
        kwargs.pop("as_user", None)
        kwargs.pop("type", None)
        await super()._post_message(channel, **kwargs)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        """Rasa's, or, under an answer, the text with 👍 / 👎 buttons (bot/feedback.py)."""
        rating = feedback_block(kwargs)
        if rating is None:
            await super().send_text_message(recipient_id, text, **kwargs)
            return
        blocks = [{"type": "section", "text": {"type": "plain_text", "text": text}}, rating]
        await self._post_message(channel=self.slack_channel or recipient_id, text=text, blocks=blocks)

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        """Rasa sends no buttons at all past 5 (an old Slack limit), and some of our replies offer 6."""
        if len(buttons) > MAX_BUTTONS:
            await self.send_text_message(recipient_id, text, **kwargs)
            return
        elements = [
            {
                "type": "button",
                "text": {"type": "plain_text", "text": button["title"][:MAX_BUTTON_TITLE]},
                "value": button["payload"],
            }
            for button in buttons
        ]
        blocks = [
            {"type": "section", "text": {"type": "plain_text", "text": text}},
            {"type": "actions", "elements": elements},
        ]
        rating = feedback_block(kwargs)
        if rating is not None:
            blocks.append(rating)
        await self._post_message(channel=self.slack_channel or recipient_id, text=text, blocks=blocks)


def feedback_block(message: dict[str, Any]) -> dict[str, Any] | None:
    """A Block Kit row of 👍 and 👎 under an answer that offers them (bot/feedback.py)."""
    offered = feedback.offer(message)
    if offered is None:
        return None
    elements = [
        {
            "type": "button",
            "action_id": f"feedback_{rating}",
            "text": {"type": "plain_text", "text": BUTTONS[rating][0], "emoji": True},
            "accessibility_label": BUTTONS[rating][1],
            "value": payload,
        }
        for rating, payload in offered.items()
    ]
    return {"type": "actions", "block_id": "feedback", "elements": elements}


class SlackInput(RasaSlackInput):
    """Rasa's Slack input channel, at the standard /webhooks/slack/webhook URL."""

    @classmethod
    def name(cls) -> str:
        return "slack"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> SlackInput:
        credentials = credentials or {}
        if not credentials.get("slack_token") or not credentials.get("slack_signing_secret"):
            raise InvalidConfigException("The Slack channel needs `slack_token` and `slack_signing_secret`.")
        return cls(
            slack_token=credentials["slack_token"],
            slack_signing_secret=credentials["slack_signing_secret"],
            api_url=credentials.get("api_url"),
            slack_channel=credentials.get("slack_channel"),
            proxy=credentials.get("proxy"),
            use_threads=credentials.get("use_threads", False),
            conversation_granularity=credentials.get("conversation_granularity", "sender"),
        )

    def __init__(self, slack_token: str, slack_signing_secret: str, api_url: str | None = None, **kwargs: Any) -> None:
        super().__init__(
            slack_token,
            slack_signing_secret=slack_signing_secret,
            slack_retry_reason_header="x-slack-retry-reason",
            slack_retry_number_header="x-slack-retry-num",
            **kwargs,
        )
        self.api_url = api_url
        # Rasa drops `http_timeout` retries unseen and answers the others again. De-duplicating
        # by event_id instead answers each event once, even a retry of one that never got here.
        self.errors_ignore_retry: tuple[str, ...] = ()
        self.guard = Guard(self.name())
        self._answering: set[asyncio.Task] = set()

    async def process_message(
        self,
        request: Request,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        text: str,
        sender_id: str | None,
        metadata: dict | None,
    ) -> HTTPResponse:
        """Rasa's handler calls this for a message or a button click: acknowledged at once, then
        answered through the guard in the background (Slack retries after 3 s without a 200)."""
        metadata = metadata or {}
        thread_id = metadata.get("thread_id") if self.use_threads else None
        output = self.get_output_channel(metadata.get("out_channel"), thread_id)
        handling = self.guard.handle(on_new_message, sender=sender_id, text=text, output=output, metadata=metadata)
        task = asyncio.create_task(handling)
        self._answering.add(task)  # a reference, or the task may be collected before it ends
        task.add_done_callback(self._answering.discard)
        return response.text("")

    @staticmethod
    def _is_user_message(slack_event: dict[str, Any]) -> bool:
        """Rasa's test, except that a message without text (a file without a caption) is a
        person's message too, answered by the guard with a request for text instead of silence;
        and joins, edits and other non-user subtypes are skipped, not answered like questions."""
        event = slack_event.get("event") or {}
        return (
            event.get("type") in ("message", "app_mention")
            and not event.get("bot_id")
            and event.get("subtype") in USER_SUBTYPES
        )

    def get_output_channel(self, channel: str | None = None, thread_id: str | None = None) -> SlackOutput:
        return SlackOutput(self.slack_token, channel or self.slack_channel, thread_id, self.proxy, self.api_url)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """Rasa's routes, behind a check that answers what Rasa's handler gets wrong itself."""
        blueprint = super().blueprint(on_new_message)
        self.guard.attach(blueprint)

        @blueprint.on_request
        async def check(request: Request) -> HTTPResponse | None:
            if not request.path.endswith("/webhook"):
                return None
            if not self.is_request_from_slack_authentic(request):
                return response.text("Bad or stale X-Slack-Signature.", status=401)
            media_type = bare_media_type(request)  # Rasa's handler compares the header with `==`
            if media_type != "application/json":
                return None  # interactive payloads (form-encoded): Rasa's handler is fine
            body = request.json or {}
            if body.get("type") == "url_verification":
                return response.json({"challenge": body.get("challenge")})
            event_id = body.get("event_id")
            if isinstance(event_id, str) and event_id and not await self.guard.first_delivery(event_id):
                return response.text("Already answered.", headers={"X-Slack-No-Retry": "1"})
            return None

        return blueprint


def _with_slash(url: str) -> str:
    """slack_sdk joins URL and method with urljoin, which drops a last segment without '/'."""
    return url if url.endswith("/") else url + "/"
