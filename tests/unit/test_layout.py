"""The layout keeps its promises: the domain is plain Python, names agree with the domain
file, and the patches refuse a Rasa they were not written for."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot import names, patches
from bot.settings import DOMAIN, ROOT

DOMAIN_PACKAGE = ROOT / "bot" / "domain"
FORBIDDEN = ("rasa", "rasa_sdk", "spacy", "sanic", "sqlalchemy")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


@pytest.mark.parametrize("module", sorted(DOMAIN_PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_the_domain_imports_neither_rasa_nor_spacy(module):
    for name in imported_modules(module):
        assert name.split(".")[0] not in FORBIDDEN, f"{module.name} imports {name}"
        assert not name.startswith(("bot.nlu", "bot.channels", "bot.stores", "bot.patches", "bot.policies")), name


def test_the_domain_runs_without_rasa_or_spacy_installed():
    """Imported in a process where Rasa, rasa_sdk and spaCy cannot be imported at all."""
    code = (
        "import sys\n"
        "for name in ('rasa', 'rasa_sdk', 'spacy'):\n"
        "    sys.modules[name] = None\n"
        "from bot.domain import knowledge, replies, understanding\n"
        "print(replies.reply('definition').answer)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "definition"


def test_shared_names_are_the_domain_files_names():
    domain = yaml.safe_load(DOMAIN.read_text(encoding="utf-8"))
    assert names.RED_FLAG_INTENT in domain["intents"]
    assert names.URGENT_RESPONSE in domain["responses"]
    assert names.ANSWER_ACTION in domain["actions"]
    assert {names.CHOICE_FORM, names.SYMPTOM_CHECK_FORM} <= set(domain["forms"])
    assert {names.TOPIC_SLOT, names.CHOICE_SLOT, names.FEEDBACK_SLOT} <= set(domain["slots"])
    assert domain["slots"][names.FEEDBACK_SLOT]["influence_conversation"] is False  # no policy reads it


def test_the_patches_refuse_another_rasa_and_name_it():
    with pytest.raises(patches.UnsupportedRasaError, match=r"Rasa 3\.7\.0 is installed.*3\.6\.21 only"):
        patches.check_rasa_version("3.7.0")
    patches.check_rasa_version("3.6.21")  # the pinned one is fine


def test_rasa_started_through_our_patches_refuses_another_rasa(monkeypatch):
    """What `python -m bot run` does first: with a different Rasa installed it stops, naming it."""
    code = (
        "import importlib.metadata as m\n"
        "real = m.version\n"
        "m.version = lambda name: '3.6.20' if name == 'rasa' else real(name)\n"
        "import runpy, sys\n"
        "sys.argv = ['bot', '--version']\n"
        "runpy.run_module('bot', run_name='__main__')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "Rasa 3.6.20 is installed" in result.stderr
