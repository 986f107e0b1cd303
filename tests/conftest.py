"""Shared test set-up: each test is marked with its tier from the folder it lives in.

- tests/unit: no trained model, no server, no npm; seconds (`make test-unit`, `pytest -m unit`)
- tests/integration: components and stores (the trained model, SQLite, a real Redis and PostgreSQL)
- tests/system: real servers (Rasa and the action server), the browser, the cluster, channels

`make test` (and CI) runs all three.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

TIERS = ("unit", "integration", "system")

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        tier = Path(str(item.fspath)).parent.name
        if tier in TIERS:
            item.add_marker(getattr(pytest.mark, tier))
