"""The rasa-sdk action server: thin actions that ask bot/ for answers and say them.

Importing the package (rasa-sdk does, at start-up) keeps message texts, sender ids and secrets
out of the action server's log, as in Rasa's (bot/logs.py, docs/privacy.md).
"""

from bot import logs

logs.install()
