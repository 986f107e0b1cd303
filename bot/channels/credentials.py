"""Which channels run, and how they are configured, from the environment.

Rasa reads channels from a credentials file and refuses to start when a `${VAR}` in it is
unset, so a channel that should simply be off without its secrets cannot live there.
`bot/serve.py` writes the file from this function instead: REST and the web socket are always
on; Slack and Telegram only when their secrets are set.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _split(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def credentials_from_env(env: Mapping[str, str], rasa_port: int) -> dict[str, dict[str, Any]]:
    """The credentials (channel class -> settings) for the channels the environment enables."""
    own_origins = [f"http://localhost:{rasa_port}", f"http://127.0.0.1:{rasa_port}"]
    channels: dict[str, dict[str, Any]] = {
        "bot.channels.rest.TokenRestInput": {"token": env.get("REST_TOKEN") or None},
        "bot.channels.socketio.WebChatInput": {
            "user_message_evt": "user_uttered",
            "bot_message_evt": "bot_uttered",
            "session_persistence": True,
            "allowed_origins": own_origins + _split(env.get("WEBCHAT_ALLOWED_ORIGINS")),
        },
    }
    if env.get("SLACK_BOT_TOKEN") and env.get("SLACK_SIGNING_SECRET"):
        channels["bot.channels.slack.SlackInput"] = {
            "slack_token": env["SLACK_BOT_TOKEN"],
            "slack_signing_secret": env["SLACK_SIGNING_SECRET"],
            "api_url": env.get("SLACK_API_URL") or None,
        }
    if env.get("TELEGRAM_BOT_TOKEN") and env.get("TELEGRAM_WEBHOOK_URL"):
        channels["bot.channels.telegram.TelegramInput"] = {
            "access_token": env["TELEGRAM_BOT_TOKEN"],
            "verify": env.get("TELEGRAM_BOT_NAME") or None,
            "webhook_url": env["TELEGRAM_WEBHOOK_URL"],
            "secret_token": env.get("TELEGRAM_SECRET_TOKEN") or None,
            "api_url": env.get("TELEGRAM_API_URL") or None,
        }
    return channels
