"""The web chat page in a real headless Chromium (Debian's), driven by Playwright.

Needs /usr/bin/chromium (`.ci/run` installs Debian's chromium package); Playwright's own
browser download is never used.
"""

from __future__ import annotations

import http.server
import shutil
import threading
import urllib.error
import urllib.request

import pytest

from tests.running_assistant import free_port, start_assistant

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not shutil.which("chromium"):
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")

# Flags for a root, sandbox-less machine with no network beyond loopback.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def clinic_site():
    """Another web site (another origin) that embeds the widget with one script tag."""
    port = free_port()
    origin = f"http://127.0.0.1:{port}"

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = self.server.html.encode()  # type: ignore[attr-defined]
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Page)
    server.html = ""  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server, origin
    server.shutdown()


@pytest.fixture(scope="module")
def assistant(clinic_site):
    _, clinic_origin = clinic_site
    with start_assistant(WEBCHAT_ALLOWED_ORIGINS=clinic_origin) as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, assistant):
    context = browser.new_context()
    requests: list[str] = []
    page = context.new_page()
    page.on("request", lambda request: requests.append(request.url))
    page.goto(f"{assistant.base_url}/webhooks/socketio/chat")
    page.requests = requests  # type: ignore[attr-defined]
    yield page
    context.close()


def bot_messages(page) -> list[str]:
    return page.locator(".bme-chat__msg--bot").all_inner_texts()


def ask(page, text: str) -> None:
    page.get_by_label("Your question").fill(text)
    page.get_by_role("button", name="Send").click()


def test_asks_clicks_a_quick_reply_and_keeps_history_across_a_reload(page):
    # The welcome and the disclaimer arrive before anything is typed.
    page.wait_for_function("document.querySelectorAll('.bme-chat__msg--bot').length >= 3")
    assert "not medical advice" in " ".join(bot_messages(page))
    assert sum("I can explain what BME is" in m for m in bot_messages(page)) == 1  # one welcome
    assert "not medical advice" in page.locator(".bme-chat__disclaimer").inner_text()

    ask(page, "which shoes help with bone marrow oedema?")
    page.get_by_role("button", name="Ankle").click()
    page.wait_for_function("document.body.innerText.includes('Merrell Moab 3')")

    page.reload()
    log = page.get_by_role("log")
    sync_api.expect(log).to_contain_text("which shoes help with bone marrow oedema?")
    sync_api.expect(log).to_contain_text("Merrell Moab 3")
    # ...and the conversation itself continued on the server: a follow-up keeps the shoe topic.
    ask(page, "and the hip?")
    page.wait_for_function("document.body.innerText.includes('Asics Gel-Nimbus 26')")


def test_markup_in_a_message_is_shown_as_text(page):
    page.wait_for_function("document.querySelectorAll('.bme-chat__msg--bot').length >= 2")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    attack = "<img src=x onerror=alert(1)>"
    ask(page, attack)
    user_messages = page.locator(".bme-chat__msg--user")
    sync_api.expect(user_messages.last).to_have_text(attack)
    page.wait_for_function("document.querySelectorAll('.bme-chat__msg--bot').length >= 3")  # answered
    assert page.locator(".bme-chat__log img").count() == 0
    assert dialogs == []


def test_page_is_accessible_and_fits_a_phone(browser, assistant):
    context = browser.new_context(viewport={"width": 375, "height": 667}, is_mobile=True)
    page = context.new_page()
    page.goto(f"{assistant.base_url}/webhooks/socketio/chat")
    log = page.get_by_role("log", name="Conversation")
    assert log.get_attribute("aria-live") == "polite"
    sync_api.expect(page.get_by_label("Your question")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, "no horizontal scrolling on a phone"
    page.keyboard.press("Tab")  # keyboard users reach the input
    focused = page.evaluate("document.activeElement && document.activeElement.id")
    assert focused in ("bme-chat-input",) or page.get_by_label("Your question").is_visible()
    context.close()


def test_the_page_makes_no_request_outside_the_assistant(page, assistant):
    page.wait_for_function("document.querySelectorAll('.bme-chat__msg--bot').length >= 2")
    foreign = [url for url in page.requests if not url.startswith(assistant.base_url)]
    assert foreign == []


def test_the_widget_embeds_in_another_site_with_one_script_tag(browser, assistant, clinic_site):
    server, clinic_origin = clinic_site
    server.html = (
        "<!doctype html><title>Physio clinic</title><p>Our clinic</p>"
        f'<script src="{assistant.base_url}/webhooks/socketio/static/widget.js" defer></script>'
    )
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{clinic_origin}/")
    launcher = page.get_by_role("button", name="Chat about BME")
    launcher.click()
    sync_api.expect(launcher).to_have_attribute("aria-expanded", "true")
    page.wait_for_function("document.querySelectorAll('.bme-chat__msg--bot').length >= 2")
    ask(page, "can bme heal on its own?")
    page.wait_for_function("document.body.innerText.includes('6 weeks to 6 months')")
    context.close()


def test_a_foreign_origin_cannot_open_a_socket(assistant):
    url = f"{assistant.base_url}/socket.io/?EIO=4&transport=polling"
    request = urllib.request.Request(url, headers={"Origin": "http://evil.example"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 400
    own = urllib.request.Request(url, headers={"Origin": assistant.base_url.replace("127.0.0.1", "localhost")})
    with urllib.request.urlopen(own, timeout=10) as response:
        assert response.status == 200
