"""What the logs may say (bot/logs.py): no text or sender id by default, never a secret."""

from __future__ import annotations

import logging

import pytest

from bot import logs
from bot.settings import Settings

SECRETS = {
    "SLACK_BOT_TOKEN": "xoxb-1111-2222-abcdefabcdef",
    "SLACK_SIGNING_SECRET": "8f742231b10e8888abcd99yyyzzz85a5",
    "TELEGRAM_BOT_TOKEN": "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
    "TELEGRAM_SECRET_TOKEN": "tg-secret-header-value",
    "REST_TOKEN": "rest-token-value",
    "RASA_API_TOKEN": "api-token-value",
    "DB_PASSWORD": "db-password-value",
    "REDIS_PASSWORD": "redis-password-value",
}


def test_senders_are_pseudonyms_and_texts_lengths_by_default():
    policy = logs.LogPolicy()
    assert "U_ANNA" not in policy.pseudonym("U_ANNA") and policy.pseudonym("U_ANNA") == policy.pseudonym("U_ANNA")
    assert policy.pseudonym("U_ANNA") != policy.pseudonym("U_BOB")
    assert policy.pseudonym("U_ANNA") != logs.LogPolicy().pseudonym("U_ANNA"), "keyed per process: not reversible"
    assert policy.said("my knee hurts") == "<13 characters>"


def test_log_messages_shows_them_for_debugging():
    policy = logs.LogPolicy(log_messages=True)
    assert policy.pseudonym("U_ANNA") == "'U_ANNA'" and policy.said("my knee hurts") == "'my knee hurts'"


def test_rasas_own_lines_naming_a_conversation_get_the_pseudonym():
    policy = logs.LogPolicy()
    line = policy.clean("Circuit breaker tripped. Stopped predicting more actions for sender 'U_ANNA'.")
    assert "U_ANNA" not in line and "for sender 'sender#" not in line and "sender#" in line
    assert "U_ANNA" in logs.LogPolicy(log_messages=True).clean("for sender 'U_ANNA'")


@pytest.mark.parametrize("log_messages", [False, True])
def test_secrets_are_never_logged(log_messages):
    policy = logs.LogPolicy(log_messages, Settings.from_env(SECRETS).secrets())
    line = " ".join(SECRETS.values())
    assert all(secret not in policy.clean(line) for secret in SECRETS.values())
    shaped = "POST http://127.0.0.1:9/bot987654:ZZZsecretZZZ/sendMessage?token=abc123 Bearer xoxp-99-other"
    cleaned = policy.clean(shaped)
    assert "ZZZsecretZZZ" not in cleaned and "abc123" not in cleaned and "xoxp-99-other" not in cleaned


def test_the_installed_factory_cleans_every_logger_and_traceback(caplog, monkeypatch):
    previous = logging.getLogRecordFactory()
    try:
        logs.install(Settings.from_env(SECRETS))
        logs.install(Settings.from_env(SECRETS))  # idempotent: wrapped once
        token = SECRETS["TELEGRAM_BOT_TOKEN"]
        with caplog.at_level(logging.INFO):
            logging.getLogger("aiogram.somewhere").info("calling https://api.telegram.org/bot%s/getMe", token)
            try:
                raise RuntimeError(f"401 for url https://api.telegram.org/bot{token}/setWebhook")
            except RuntimeError:
                logging.getLogger("rasa.anything").exception("failed")
        text = caplog.text
        assert token not in text and "[secret]" in text and "Traceback" in text
    finally:
        logging.setLogRecordFactory(previous)
        logs.install(Settings.from_env({}))
