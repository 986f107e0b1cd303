"""The web chat page in a real headless Chromium (Debian's), driven by Playwright.

Needs /usr/bin/chromium (`.ci/run` installs Debian's chromium package); Playwright's own
browser download is never used. The layout tests save screenshots to results/screenshots/,
and axe-core (pinned in package-lock.json, served by the assistant) audits the page and the
embedded widget.
"""

from __future__ import annotations

import http.server
import json
import shutil
import sqlite3
import threading
import urllib.error
import urllib.request

import pytest

from bot.domain.replies import CONVERSATION_DELETED
from tests.system.running_assistant import ROOT, free_port, start_assistant

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


SCREENSHOTS = ROOT / "results" / "screenshots"
SIZES = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
    # A 1280x800 window at 200% zoom: half the CSS pixels, each drawn twice as large.
    "zoom-200": {"viewport": {"width": 640, "height": 400}, "device_scale_factor": 2},
}
THREE_TURNS = ["what is bone marrow edema?", "what causes it?", "how long does it take to heal?"]
SERIOUS = ("serious", "critical")

# Where the newest message is, against the part of the log that is on screen (the log's
# padding box, cut by the viewport): what a user can read without scrolling anything.
GEOMETRY = """() => {
  const log = document.querySelector('.bme-chat__log');
  const messages = log.querySelectorAll('.bme-chat__msg');
  const newest = messages[messages.length - 1].getBoundingClientRect();
  const box = log.getBoundingClientRect();
  const viewportHeight = window.visualViewport ? window.visualViewport.height : window.innerHeight;
  const top = Math.max(box.top + log.clientTop, 0);
  const bottom = Math.min(box.top + log.clientTop + log.clientHeight, viewportHeight);
  const input = document.querySelector('.bme-chat__input').getBoundingClientRect();
  return {newestTop: newest.top, newestBottom: newest.bottom, logTop: top, logBottom: bottom,
          viewportHeight: viewportHeight, share: Math.max(bottom - top, 0) / viewportHeight,
          inputBottom: input.bottom, scrollTop: log.scrollTop,
          headerHeight: document.querySelector('.bme-chat__header').getBoundingClientRect().height,
          pageWidth: document.documentElement.scrollWidth, viewportWidth: window.innerWidth};
}"""


def chat_url(assistant) -> str:
    return f"{assistant.base_url}/webhooks/socketio/chat"


def bot_messages(page) -> list[str]:
    return page.locator(".bme-chat__msg--bot").all_inner_texts()


def ask(page, text: str) -> None:
    page.get_by_label("Your question").fill(text)
    page.get_by_role("button", name="Send").click()


def wait_for_reply(page, bot_messages_before: int) -> None:
    """Until a new bot message is shown and the typing indicator is gone (the reply is complete)."""
    page.wait_for_function(
        f"""document.querySelectorAll('.bme-chat__msg--bot').length > {bot_messages_before}
            && document.querySelector('.bme-chat__typing').textContent === ''"""
    )


def ask_and_wait(page, text: str) -> None:
    before = page.locator(".bme-chat__msg--bot").count()
    ask(page, text)
    wait_for_reply(page, before)


def assert_newest_in_view(geometry: dict) -> None:
    assert geometry["newestTop"] >= geometry["logTop"] - 1, geometry
    assert geometry["newestBottom"] <= geometry["logBottom"] + 1, geometry


def axe_violations(page, assistant) -> list[dict]:
    """axe-core run on the whole page: each violation with its impact and the nodes it found."""
    page.add_script_tag(url=f"{assistant.base_url}/webhooks/socketio/static/axe.min.js")
    return page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations.map(v => (
             {id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))}))"""
    )


def assert_nothing_serious(violations: list[dict]) -> None:
    serious = [v for v in violations if v["impact"] in SERIOUS]
    assert serious == [], serious


# --- the conversation --------------------------------------------------------------------------


def test_opens_with_one_greeting_asks_clicks_a_quick_reply_and_keeps_history_across_a_reload(page):
    wait_for_reply(page, 0)
    # One short greeting; the disclaimer is in the header, not in a bubble.
    assert len(bot_messages(page)) == 1
    assert "What would you like to know" in bot_messages(page)[0]
    assert "not medical advice" not in bot_messages(page)[0]
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
    wait_for_reply(page, 0)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    attack = "<img src=x onerror=alert(1)>"
    ask(page, attack)
    user_messages = page.locator(".bme-chat__msg--user")
    sync_api.expect(user_messages.last).to_have_text(attack)
    wait_for_reply(page, 1)  # answered
    assert page.locator(".bme-chat__log img").count() == 0
    assert dialogs == []


def test_new_chat_starts_a_new_conversation_and_says_so(page):
    wait_for_reply(page, 0)
    ask_and_wait(page, "which shoes help with bone marrow oedema?")
    first_session = page.evaluate("localStorage.getItem('bme-chat:session')")

    page.get_by_role("button", name="New chat").click()
    log = page.get_by_role("log")
    sync_api.expect(log).to_contain_text("New conversation started")
    wait_for_reply(page, 0)
    assert len(bot_messages(page)) == 1 and "What would you like to know" in bot_messages(page)[0]
    assert page.locator(".bme-chat__msg--user").count() == 0
    assert page.locator(".bme-chat__reply").count() == 0
    assert page.evaluate("localStorage.getItem('bme-chat:session')") not in (first_session, None, "null")
    page.reload()
    sync_api.expect(log).to_contain_text("New conversation started")
    sync_api.expect(log).not_to_contain_text("which shoes help")


def test_a_confirmed_erasure_also_clears_the_browsers_copy(page):
    wait_for_reply(page, 0)
    ask_and_wait(page, "which shoes help with bone marrow oedema?")
    first_session = page.evaluate("localStorage.getItem('bme-chat:session')")
    ask_and_wait(page, "please delete my conversation")
    page.get_by_role("button", name="Yes, delete it").click()
    log = page.get_by_role("log")
    sync_api.expect(log).to_contain_text(CONVERSATION_DELETED)
    wait_for_reply(page, 0)  # a new conversation, greeted
    sync_api.expect(log).not_to_contain_text("which shoes help")
    assert page.evaluate("localStorage.getItem('bme-chat:session')") not in (first_session, None, "null")
    history = page.evaluate("localStorage.getItem('bme-chat:history')")
    assert "which shoes help" not in history and "delete my conversation" not in history
    page.reload()
    sync_api.expect(log).to_contain_text(CONVERSATION_DELETED)
    sync_api.expect(log).not_to_contain_text("which shoes help")


def test_the_page_makes_no_request_outside_the_assistant(page, assistant):
    wait_for_reply(page, 0)
    foreign = [url for url in page.requests if not url.startswith(assistant.base_url)]
    assert foreign == []


# --- layout: the newest message in view, a phone, 200% zoom; screenshots and the audit ---------


@pytest.mark.parametrize("size", SIZES)
def test_after_three_turns_the_newest_message_is_in_view(browser, assistant, size):
    """Screenshots after three turns (results/screenshots/), the newest message inside the log's
    visible area, the phone's messages in at least 60% of the screen, and axe-core with the
    quick replies showing."""
    context = browser.new_context(**SIZES[size])
    page = context.new_page()
    page.goto(chat_url(assistant))
    wait_for_reply(page, 0)
    for question in THREE_TURNS:
        ask_and_wait(page, question)
    assert page.locator(".bme-chat__reply").count() >= 2  # the last answer offers quick replies
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{size}.png"))

    geometry = page.evaluate(GEOMETRY)
    print(size, geometry)
    assert_newest_in_view(geometry)
    assert geometry["inputBottom"] <= geometry["viewportHeight"] + 1, geometry
    assert geometry["pageWidth"] <= geometry["viewportWidth"], "no sideways scrolling"
    if size != "desktop":
        assert geometry["share"] >= 0.6, geometry  # messages get at least 60% of the height
        assert geometry["headerHeight"] <= 48, geometry  # a one-line header
        # Quick replies in one row that scrolls sideways.
        tops = page.eval_on_selector_all(".bme-chat__reply", "buttons => buttons.map(b => b.offsetTop)")
        assert len(set(tops)) == 1, tops

    # A resize (here: an on-screen keyboard taking the lower third of the screen) keeps it in view.
    viewport = SIZES[size]["viewport"]
    if size != "zoom-200":  # (at 400 CSS pixels high there is no room for a keyboard)
        page.set_viewport_size({"width": viewport["width"], "height": int(viewport["height"] * 2 / 3)})
        page.wait_for_timeout(100)
        resized = page.evaluate(GEOMETRY)
        assert_newest_in_view(resized)
        assert resized["inputBottom"] <= resized["viewportHeight"] + 1, resized
        page.set_viewport_size(viewport)

    violations = axe_violations(page, assistant)
    print(size, "axe:", [(v["id"], v["impact"], len(v["nodes"])) for v in violations])
    assert_nothing_serious(violations)
    context.close()


def test_scrolled_up_a_reply_does_not_jump_but_offers_the_new_message(browser, assistant):
    context = browser.new_context(viewport={"width": 1280, "height": 600})
    page = context.new_page()
    page.goto(chat_url(assistant))
    wait_for_reply(page, 0)
    ask_and_wait(page, "what is bone marrow edema?")
    ask_and_wait(page, "what causes it?")
    before = page.locator(".bme-chat__msg--bot").count()
    # The reader sends a question and scrolls up to reread. (The scroll event the browser fires
    # is dispatched at once, so that the reply cannot arrive before it.)
    page.get_by_label("Your question").fill("how long does it take to heal?")
    page.evaluate(
        """() => {
          document.querySelector('.bme-chat__form').requestSubmit();
          const log = document.querySelector('.bme-chat__log');
          log.scrollTop = 0;
          log.dispatchEvent(new Event('scroll'));
        }"""
    )
    wait_for_reply(page, before)
    jump = page.get_by_role("button", name="New message")
    sync_api.expect(jump).to_be_visible()
    assert page.evaluate("document.querySelector('.bme-chat__log').scrollTop") == 0  # no jump
    jump.click()
    sync_api.expect(jump).to_be_hidden()
    assert_newest_in_view(page.evaluate(GEOMETRY))
    context.close()


def test_dark_mode_and_no_animation_under_reduced_motion(browser, assistant):
    context = browser.new_context(viewport={"width": 390, "height": 844}, color_scheme="dark", reduced_motion="reduce")
    page = context.new_page()
    page.goto(chat_url(assistant))
    wait_for_reply(page, 0)
    ask_and_wait(page, "which shoes help with bone marrow oedema?")
    background = page.eval_on_selector(".bme-chat__panel", "p => getComputedStyle(p).backgroundColor")
    assert background == "rgb(22, 27, 34)", background
    animation = page.eval_on_selector(".bme-chat__msg--bot:last-child", "m => getComputedStyle(m).animationName")
    assert animation == "none"
    violations = axe_violations(page, assistant)
    print("dark axe:", [(v["id"], v["impact"], len(v["nodes"])) for v in violations])
    assert_nothing_serious(violations)
    context.close()


def test_messages_appear_with_a_short_animation_by_default(page):
    wait_for_reply(page, 0)
    animation = page.eval_on_selector(".bme-chat__msg--bot", "m => getComputedStyle(m).animationName")
    assert animation == "bme-chat-in"


# --- keyboard and screen reader -----------------------------------------------------------------


def focused(page) -> str:
    return page.evaluate(
        """() => { const e = document.activeElement;
                   return e.id || e.getAttribute('role') || e.textContent.trim() || e.tagName; }"""
    )


def test_keyboard_only_tab_to_the_input_send_and_reach_every_quick_reply(page):
    log = page.get_by_role("log", name="Conversation")
    assert log.get_attribute("aria-live") == "polite"
    wait_for_reply(page, 0)
    for _ in range(5):
        page.keyboard.press("Tab")
        if focused(page) == "bme-chat-input":
            break
    assert focused(page) == "bme-chat-input", "tab reaches the input"
    page.keyboard.type("which shoes help with bone marrow oedema?")
    page.keyboard.press("Enter")
    wait_for_reply(page, 1)
    titles = page.locator(".bme-chat__reply").all_inner_texts()
    assert len(titles) >= 2
    reached = []
    for _ in range(len(titles) + 1):  # back from the input through the quick replies to the log
        page.keyboard.press("Shift+Tab")
        reached.append(focused(page))
    assert reached == [*reversed(titles), "log"]  # the scrolling log takes focus too
    page.keyboard.press("Tab")  # forward again, onto the first quick reply
    first = focused(page)
    assert first == titles[0]
    page.keyboard.press("Enter")
    sync_api.expect(page.locator(".bme-chat__msg--user").last).to_have_text(first)
    assert focused(page) == "bme-chat-input"  # focus goes back to the input, not to nowhere
    wait_for_reply(page, 2)


def test_thumbs_under_an_answer_by_keyboard_keep_the_rating_in_the_conversation(page, assistant):
    wait_for_reply(page, 0)
    ask_and_wait(page, "what is bone marrow edema?")
    rating = page.locator(".bme-chat__msg--bot").last.get_by_role("group", name="Was this answer helpful?")
    sync_api.expect(rating).to_be_visible()
    assert page.locator(".bme-chat__rate").count() == 1  # under the answer, not the greeting
    assert_nothing_serious(axe_violations(page, assistant))

    page.get_by_role("log").focus()  # the log, then the answer's buttons, in tab order
    page.keyboard.press("Tab")
    sync_api.expect(page.get_by_role("button", name="Helpful", exact=True)).to_be_focused()
    page.keyboard.press("Tab")
    down = page.get_by_role("button", name="Not helpful")
    sync_api.expect(down).to_be_focused()
    page.keyboard.press("Enter")
    assert focused(page) == "bme-chat-input"  # the buttons go: focus does not go nowhere
    sync_api.expect(rating).to_have_text("Thanks for your feedback.")
    assert page.locator(".bme-chat__msg--user").count() == 1  # the rating is not shown as a message
    assert page.locator(".bme-chat__msg--bot").count() == 2  # nor the thanks as another bubble

    session = json.loads(page.evaluate("localStorage.getItem('bme-chat:session')"))
    with sqlite3.connect(assistant.database) as db:
        rows = db.execute("SELECT data FROM events WHERE sender_id = ? ORDER BY id", (session,)).fetchall()
    events = [json.loads(data) for (data,) in rows]
    kept = [e["value"] for e in events if e["event"] == "slot" and e["name"] == "feedback"]
    rated = [e for e in events if e["event"] == "bot" and e["metadata"].get("answer") == "definition"][-1]
    assert kept == [{"rating": "down", "at": rated["timestamp"], "answer": "definition"}]
    assert [e["text"] for e in events if e["event"] == "user"] == ["/greet", "what is bone marrow edema?"]

    ask_and_wait(page, "and what causes it?")  # the conversation goes on as before
    sync_api.expect(page.get_by_role("log")).to_contain_text("six common triggers")


def test_page_fits_a_small_phone(browser, assistant):
    context = browser.new_context(viewport={"width": 320, "height": 568}, is_mobile=True)
    page = context.new_page()
    page.goto(chat_url(assistant))
    sync_api.expect(page.get_by_label("Your question")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 320, "no horizontal scrolling"
    # The one-line header's "Not medical advice" shows the whole disclaimer.
    disclaimer = page.locator(".bme-chat__disclaimer")
    sync_api.expect(disclaimer).to_be_hidden()
    page.get_by_role("button", name="Not medical advice").click()
    sync_api.expect(disclaimer).to_be_visible()
    sync_api.expect(disclaimer).to_contain_text("In an emergency")
    context.close()


# --- embedding -----------------------------------------------------------------------------------

CLINIC_PAGE = (
    '<!doctype html><html lang="en"><meta name="viewport" content="width=device-width, initial-scale=1">'
    "<title>Physio clinic</title><main><h1>Our clinic</h1></main>"
    '<script src="{assistant}/webhooks/socketio/static/widget.js" defer></script></html>'
)


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
    wait_for_reply(page, 0)
    ask(page, "can bme heal on its own?")
    page.wait_for_function("document.body.innerText.includes('6 weeks to 6 months')")
    context.close()


def test_the_embedded_widget_by_keyboard_and_under_axe(browser, assistant, clinic_site):
    server, clinic_origin = clinic_site
    server.html = CLINIC_PAGE.format(assistant=assistant.base_url)
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{clinic_origin}/")
    launcher = page.get_by_role("button", name="Chat about BME")
    launcher.wait_for()
    page.keyboard.press("Tab")
    assert focused(page) == "Chat about BME"
    page.keyboard.press("Enter")  # opens, with the focus in the input
    sync_api.expect(page.get_by_role("dialog", name="BME assistant")).to_be_visible()
    assert focused(page) == "bme-chat-input"
    wait_for_reply(page, 0)
    page.keyboard.type("which shoes help with bone marrow oedema?")
    page.keyboard.press("Enter")
    wait_for_reply(page, 1)
    assert page.locator(".bme-chat__reply").count() >= 2
    violations = axe_violations(page, assistant)
    print("embedded axe:", [(v["id"], v["impact"], len(v["nodes"])) for v in violations])
    assert_nothing_serious(violations)

    page.keyboard.press("Escape")  # closes, and gives the focus back to the launcher
    sync_api.expect(page.get_by_role("dialog")).to_be_hidden()
    sync_api.expect(launcher).to_have_attribute("aria-expanded", "false")
    assert focused(page) == "Chat about BME"
    page.keyboard.press("Enter")  # and opens again where the conversation was
    sync_api.expect(page.get_by_role("log")).to_contain_text("which shoes help")
    context.close()


def test_the_embedded_widget_fills_a_phone_when_open(browser, assistant, clinic_site):
    server, clinic_origin = clinic_site
    server.html = CLINIC_PAGE.format(assistant=assistant.base_url)
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(f"{clinic_origin}/")
    launcher = page.get_by_role("button", name="Chat about BME")
    launcher.click()
    panel = page.get_by_role("dialog", name="BME assistant")
    sync_api.expect(panel).to_be_visible()
    box = panel.bounding_box()
    assert (box["x"], box["y"], box["width"], box["height"]) == (0, 0, 390, 844), box
    sync_api.expect(launcher).to_be_hidden()  # it would cover the send button
    wait_for_reply(page, 0)
    page.get_by_role("button", name="Close chat").click()
    sync_api.expect(panel).to_be_hidden()
    sync_api.expect(launcher).to_be_visible()
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
