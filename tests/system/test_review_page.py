"""The review page in a real browser, over a store a real conversation wrote.

The assistant runs as `make run` starts it and is asked, over REST, a question and a message it
cannot place ("did you mean"). `python -m tools.review` (what `make review` runs) then serves
that conversation store; headless Chromium (Debian's, driven by Playwright) filters the
fallbacks, labels the message, and the label is in the exported Rasa NLU file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.system.running_assistant import ROOT, RunningAssistant, free_port, start_assistant
from tests.system.test_web_widget import CHROMIUM, CHROMIUM_ARGS, assert_nothing_serious, sync_api

UNPLACEABLE = "blorp the snarfle"  # answered with "did you mean"


def say(assistant: RunningAssistant, sender: str, message: str) -> str:
    body = json.dumps({"sender": sender, "message": message}).encode()
    url = f"{assistant.base_url}/webhooks/rest/webhook"
    with urllib.request.urlopen(urllib.request.Request(url, body), timeout=60) as response:
        return " ".join(m.get("text", "") for m in json.loads(response.read()))


@pytest.fixture(scope="module")
def store() -> Iterator[Path]:
    """A conversation store written by the real assistant: a question, then a fallback."""
    with start_assistant() as assistant:
        assert "extra fluid" in say(assistant, "reviewed", "what is bone marrow edema?")
        assert "Did you mean" in say(assistant, "reviewed", UNPLACEABLE)
        assert assistant.database is not None
        yield assistant.database


@pytest.fixture
def review(store: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    out = tmp_path / "reviewed.yml"
    command = [sys.executable, "-m", "tools.review", "--port", str(port)]
    command += ["--labels", str(tmp_path / "labels.json"), "--nlu-out", str(out)]
    env = {**os.environ, "TRACKER_DB": str(store)}
    env.pop("REVIEW_TOKEN", None)
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = []
    for line in process.stdout:
        output.append(line)
        if line.startswith("Review page:"):
            break
    else:
        pytest.fail("the review page did not start:\n" + "".join(output))
    try:
        yield f"http://localhost:{port}", out
    finally:
        process.terminate()
        process.wait(10)


def test_a_fallback_is_labelled_in_the_browser_and_exported_for_training(review):
    url, out = review
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_context(bypass_csp=True).new_page()  # the page allows no script; axe is one
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        page.goto(url)
        sync_api.expect(page.get_by_role("img", name="The last 30 days")).to_be_visible()  # the chart

        page.get_by_label("Kind").select_option("fallback")
        page.get_by_role("button", name="Show").click()
        turns = page.locator(".turn")
        sync_api.expect(turns).to_have_count(1)
        turn = turns.first
        sync_api.expect(turn.locator(".message")).to_have_text(UNPLACEABLE)
        sync_api.expect(turn).to_contain_text("Answered: clarify")
        sync_api.expect(turn).to_contain_text("likeliest:")  # the top three with confidences
        assert_nothing_serious(axe(page, url))

        turn.get_by_label("The right intent").select_option("ask_cause")
        turn.get_by_role("button", name="Save label").click()
        labelled = page.locator(".turn", has_text=UNPLACEABLE)
        sync_api.expect(labelled.locator(".labelled")).to_have_text("Labelled ask_cause (in reviewed.yml)")
        assert "kind=fallback" in page.url  # back where the reviewer was

        labelled.get_by_role("link", name="the conversation around it").click()
        conversation = page.get_by_role("list", name="Conversation")
        sync_api.expect(conversation).to_contain_text("what is bone marrow edema?")
        sync_api.expect(conversation).to_contain_text("[clarify]")
        browser.close()

    assert all(request.startswith(url) or request.startswith("data:") for request in requests), requests
    data = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert {"intent": "ask_cause", "examples": f"- {UNPLACEABLE}\n"} in data["nlu"]


def axe(page, url: str) -> list[dict]:
    """axe-core, from the assistant's own npm package, run on the review page."""
    page.add_script_tag(content=(ROOT / "node_modules" / "axe-core" / "axe.min.js").read_text(encoding="utf-8"))
    return page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations.map(v => (
             {id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))}))"""
    )
