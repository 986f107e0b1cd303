"""Rasa's `register` (rasa.core.channels.channel), copied, with our message handler and /metrics.

`register` mounts every input channel's blueprint on the Sanic app and gives each the same
`on_new_message` handler, which passes the message to `app.ctx.agent.handle_message`. It is the
one place every channel's messages pass through, so the copy's handler is
`bot.handler.handle_message`: a 👍 / 👎 is kept without becoming a turn, every other message
goes to the agent as before, counted and timed. It also adds the `/metrics` route at the
root of the app (bot/metrics.py), where Prometheus looks for it, and turns on the feedback
buttons in the channels (they only show where their payload is understood).

`bot.patches.install()` installs it: `python -m bot run` (what `make run` starts). A plain
`rasa run` has neither feedback buttons nor /metrics.
"""

from __future__ import annotations

from urllib.parse import urljoin

from rasa.core.channels import channel as rasa_channel
from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Sanic

from bot import feedback, handler, metrics
from bot.settings import Settings


def register(input_channels: list[InputChannel], app: Sanic, route: str | None) -> None:
    """Rasa 3.6.21's `register`, with `bot.handler.handle_message` as the handler, plus /metrics."""

    async def on_new_message(message: UserMessage) -> None:
        await handler.handle_message(app.ctx.agent, message)

    for channel in input_channels:
        prefix = urljoin(route, channel.url_prefix()) if route else None
        app.blueprint(channel.blueprint(on_new_message), url_prefix=prefix)
    app.ctx.input_channels = input_channels
    app.add_route(metrics.endpoint(Settings.from_env().metrics_token), metrics.PATH, methods=["GET"], name="metrics")


def install() -> None:
    rasa_channel.register = register
    feedback.ENABLED = True
