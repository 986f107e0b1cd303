"""Makes a Slack request's content type exact, for Rasa's Slack handler to read it.

Rasa 3.6's `SlackInput` webhook compares the whole Content-Type header with `==`
("application/json"), so an event sent as `application/json; charset=utf-8` is silently
dropped with a 200 and never answered. Our Slack channel hands the handler the bare media type.
"""

from __future__ import annotations

from sanic.request import Request


def bare_media_type(request: Request) -> str:
    """Rewrites the request's Content-Type to its bare media type, and returns it."""
    media_type = request.content_type.split(";")[0].strip().lower()
    request.headers["content-type"] = media_type
    return media_type
