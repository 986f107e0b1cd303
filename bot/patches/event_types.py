"""`Event.resolve_by_type` with its answers remembered, instead of searched for on every event.

Rasa turns every stored event back into an object through `Event.resolve_by_type`, which walks
the whole tree of `Event` subclasses and asks `inspect.isabstract` of each one, for each event:
about 70 µs an event on this machine, so loading a conversation cost more the longer its session
was (9 ms of a 25 ms turn by turn 22, cProfile, docs/performance.md). The classes do not change
while the assistant runs, so this builds the table of type names once, in Rasa's order (the
first class Rasa's walk finds for a name is the one kept), and walks again only for a name it
does not know, which finds an `Event` subclass imported since. Unknown names get Rasa's own
answers: `None` for the legacy `topic`, the default, or the same `ValueError`.

`bot.patches.install()` installs it (`python -m bot`, what tools/serve.py starts).
"""

from __future__ import annotations

from rasa.shared.core.events import Event
from rasa.shared.utils.common import all_subclasses

_BY_TYPE_NAME: dict[str, type[Event]] = {}


def _learn_event_classes() -> None:
    for event_class in all_subclasses(Event):
        _BY_TYPE_NAME.setdefault(event_class.type_name, event_class)


def resolve_by_type(type_name: str, default: type[Event] | None = None) -> type[Event] | None:
    """Rasa's `Event.resolve_by_type`, from a table built once."""
    event_class = _BY_TYPE_NAME.get(type_name)
    if event_class is None:
        _learn_event_classes()
        event_class = _BY_TYPE_NAME.get(type_name)
    if event_class is not None:
        return event_class
    if type_name == "topic":
        return None  # Rasa's backwards compatibility with old TopicSet events
    if default is not None:
        return default
    raise ValueError(f"Unknown event name '{type_name}'.")


def install() -> None:
    Event.resolve_by_type = staticmethod(resolve_by_type)
