"""Rasa's own command line (`python -m bot.rasa_main run ...` is `rasa run ...`), with
bot/action_response_validation.py installed first. bot/serve.py starts Rasa through it."""

from __future__ import annotations

from rasa.__main__ import main

from bot import action_response_validation

if __name__ == "__main__":
    action_response_validation.install()
    main()
