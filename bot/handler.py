"""What happens to every message a channel hands to Rasa (the `on_new_message` of every channel).

A 👍 / 👎 payload, or a thumb typed on its own, is kept in the conversation without becoming
a turn (bot/feedback.py); every other message goes to Rasa's agent as before, counted by
channel and timed to its last reply (bot/metrics.py). bot/patches/channel_handler.py gives every channel this handler.
"""

from __future__ import annotations

import time

from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage

from bot import feedback, metrics
from bot.domain.feedback import parse, typed


async def handle_message(agent: Agent, message: UserMessage) -> None:
    rating = parse(message.text or "")
    thumb = typed(message.text or "")
    if rating is None and thumb is not None:
        rating = await feedback.typed_rating(agent, message.sender_id, thumb)
    if rating is not None:
        await feedback.handle(agent, message, rating)
        return
    channel = message.input_channel or "unknown"
    metrics.MESSAGES.labels(channel).inc()
    started = time.perf_counter()
    try:
        await agent.handle_message(message)
    except Exception:
        metrics.failed("exception")
        raise
    finally:
        metrics.REPLY_SECONDS.labels(channel).observe(time.perf_counter() - started)
