"""Rasa's own command line, with this project's patches to Rasa 3.6 installed first.

`python -m bot run ...` is `rasa run ...` (and `python -m bot shell` is `rasa shell`), after
`bot.patches.install()` (see docs/rasa-deviations.md) and `bot.logs.install()`, which keeps
message texts, sender ids and secrets out of the log (docs/privacy.md). tools/serve.py starts
Rasa through it.
"""

from __future__ import annotations

from rasa.__main__ import main

from bot import logs, patches

if __name__ == "__main__":
    patches.install()
    logs.install()
    main()
