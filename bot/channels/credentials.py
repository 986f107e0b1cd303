"""Which channels run, and how they are configured, from the environment.

Rasa reads channels from a credentials file and refuses to start when a `${VAR}` in it is
unset, so a channel that should simply be off without its secrets cannot live there.
`tools/serve.py` writes the file from this function instead: REST and the web socket are always
on; Slack and Telegram only when their secrets are set.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.settings import Settings


def credentials_from_env(env: Mapping[str, str], rasa_port: int) -> dict[str, dict[str, Any]]:
    """The credentials (channel class -> settings) for the channels the environment enables.
    With no variable set, this is exactly credentials.yml (checked by a test)."""
    settings = Settings.from_env(env)
    own_origins = [f"http://localhost:{rasa_port}", f"http://127.0.0.1:{rasa_port}"]
    channels: dict[str, dict[str, Any]] = {
        "bot.channels.rest.TokenRestInput": {"token": settings.rest_token},
        "bot.channels.socketio.WebChatInput": {
            "user_message_evt": "user_uttered",
            "bot_message_evt": "bot_uttered",
            "session_persistence": True,
            "allowed_origins": own_origins + settings.webchat_allowed_origins,
        },
    }
    if settings.slack_bot_token and settings.slack_signing_secret:
        channels["bot.channels.slack.SlackInput"] = {
            "slack_token": settings.slack_bot_token,
            "slack_signing_secret": settings.slack_signing_secret,
            "api_url": settings.slack_api_url,
        }
    if settings.telegram_bot_token and settings.telegram_webhook_url:
        channels["bot.channels.telegram.TelegramInput"] = {
            "access_token": settings.telegram_bot_token,
            "verify": settings.telegram_bot_name,
            "webhook_url": settings.telegram_webhook_url,
            "secret_token": settings.telegram_secret_token,
            "api_url": settings.telegram_api_url,
        }
    return channels
