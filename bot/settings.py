"""Where the project's files are, and every setting the environment can change, in one place.

Paths are derived once from this file's location, so code, tools and tests agree on them. The
environment variables are read here and nowhere else (README: "Settings"); a missing variable
takes the default that `make run` documents.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The trained model and the spaCy pipeline `make` builds for it.
MODEL = ROOT / "models" / "bme.tar.gz"
SPACY_PIPELINE = ROOT / "models" / "spacy" / "bme_en"

# Content: the article, and everything the assistant knows from it.
CONTENT = ROOT / "content"
ARTICLE = CONTENT / "article" / "bone-marrow-edema.txt"
KNOWLEDGE = CONTENT / "knowledge.yml"
VOCABULARY = CONTENT / "vocabulary.yml"
RED_FLAG_PATTERNS = CONTENT / "red_flag_patterns.yml"

# Rasa's project files.
DOMAIN = ROOT / "domain.yml"
ENDPOINTS = ROOT / "endpoints.yml"

# The web chat's page and widget, and the npm packages it serves (socket.io-client, axe-core).
WEB = ROOT / "bot" / "channels" / "web"
NODE_MODULES = ROOT / "node_modules"

RESULTS = ROOT / "results"


def _split(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _number(value: str | None, default: float) -> float:
    """A number of days, messages...: unset or empty is the default; nonsense stops start-up."""
    if value is None or not value.strip():
        return default
    number = float(value)
    if number < 0:
        raise ValueError(f"{value!r} is negative")
    return number


@dataclass(frozen=True)
class Settings:
    """The environment's settings; `Settings.from_env()` reads them."""

    rasa_port: int = 5005
    actions_port: int = 5055
    endpoints: str = "endpoints.yml"  # RASA_ENDPOINTS: endpoints.production.yml for several instances
    tracker_db: str | None = None  # TRACKER_DB: the SQLite file of the embedded store
    model: Path = MODEL  # BME_MODEL: another model, e.g. the benchmark's baseline
    rasa_api_token: str | None = None  # RASA_API_TOKEN: Rasa's HTTP API, off without it
    rest_token: str | None = None  # REST_TOKEN: required by the REST channel when set
    webchat_allowed_origins: list[str] = field(default_factory=list)  # sites that embed the widget
    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_api_url: str | None = None  # another Slack Web API base (tests use a fake one)
    telegram_bot_token: str | None = None
    telegram_bot_name: str | None = None
    telegram_webhook_url: str | None = None
    telegram_secret_token: str | None = None
    telegram_api_url: str | None = None  # another Telegram Bot API base (tests use a fake one)
    metrics_token: str | None = None  # METRICS_TOKEN: /metrics for anyone with it; without it, this machine only
    review_token: str | None = None  # REVIEW_TOKEN: required by the review page when set (always off localhost)
    # Privacy (docs/privacy.md). CONVERSATION_RETENTION_DAYS: a conversation idle this long is
    # deleted (0 keeps every conversation for ever). LOG_MESSAGES: message texts and sender ids in
    # the log, for debugging only.
    conversation_retention_days: float = 30
    log_messages: bool = False
    # SENDER_MESSAGES_PER_MINUTE: messages one sender may send in any minute (0: no limit); the
    # benchmark turns it off. At most 3 of a sender's messages are handled at once regardless.
    sender_messages_per_minute: int = 30
    # SANIC_WORKERS: how many processes answer on RASA_PORT (Rasa reads it; tools/serve.py sets it
    # to the machine's cores unless it is set).
    sanic_workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    # PROMETHEUS_MULTIPROC_DIR: where each worker keeps its metrics, so that /metrics sums them
    # (prometheus-client reads it; tools/serve.py sets it when there are several workers).
    metrics_multiprocess_dir: str | None = None
    # Read by Rasa itself from endpoints.production.yml; here only so the log can redact them.
    db_password: str | None = None
    redis_password: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env

        def text(name: str) -> str | None:
            return env.get(name) or None

        return cls(
            rasa_port=int(env.get("RASA_PORT") or 5005),
            actions_port=int(env.get("ACTIONS_PORT") or 5055),
            endpoints=env.get("RASA_ENDPOINTS") or "endpoints.yml",
            tracker_db=text("TRACKER_DB"),
            model=Path(env.get("BME_MODEL") or MODEL),
            rasa_api_token=text("RASA_API_TOKEN"),
            rest_token=text("REST_TOKEN"),
            webchat_allowed_origins=_split(env.get("WEBCHAT_ALLOWED_ORIGINS")),
            slack_bot_token=text("SLACK_BOT_TOKEN"),
            slack_signing_secret=text("SLACK_SIGNING_SECRET"),
            slack_api_url=text("SLACK_API_URL"),
            telegram_bot_token=text("TELEGRAM_BOT_TOKEN"),
            telegram_bot_name=text("TELEGRAM_BOT_NAME"),
            telegram_webhook_url=text("TELEGRAM_WEBHOOK_URL"),
            telegram_secret_token=text("TELEGRAM_SECRET_TOKEN"),
            telegram_api_url=text("TELEGRAM_API_URL"),
            metrics_token=text("METRICS_TOKEN"),
            review_token=text("REVIEW_TOKEN"),
            conversation_retention_days=_number(env.get("CONVERSATION_RETENTION_DAYS"), 30),
            log_messages=_flag(env.get("LOG_MESSAGES")),
            sender_messages_per_minute=int(_number(env.get("SENDER_MESSAGES_PER_MINUTE"), 30)),
            sanic_workers=int(_number(env.get("SANIC_WORKERS"), os.cpu_count() or 1)) or 1,
            metrics_multiprocess_dir=text("PROMETHEUS_MULTIPROC_DIR"),
            db_password=text("DB_PASSWORD"),
            redis_password=text("REDIS_PASSWORD"),
        )

    def secrets(self) -> list[str]:
        """Every secret the environment holds: never to be written to a log (bot/logs.py)."""
        values = [
            self.rasa_api_token,
            self.rest_token,
            self.slack_bot_token,
            self.slack_signing_secret,
            self.telegram_bot_token,
            self.telegram_secret_token,
            self.db_password,
            self.redis_password,
        ]
        return [value for value in values if value]
