"""`make review`: the review page, served on this machine, or a static report.

Usage:
  python -m tools.review [--port 5080]               serve the page at http://127.0.0.1:5080/
  python -m tools.review --html results/review.html  write a static report (no labelling)
  python -m tools.review --export                    rewrite data/nlu/reviewed.yml from the labels

The conversations come from the tracker store `make run` uses (RASA_ENDPOINTS, TRACKER_DB), or
`--db URL` (an SQLAlchemy URL). The page listens on 127.0.0.1 and answers only requests that
name it so (a web page elsewhere cannot reach it through DNS tricks); with REVIEW_TOKEN set it
also requires the token: open `/?token=...` once, a cookie keeps it. `--host` with anything but
a loopback address refuses to start without REVIEW_TOKEN. A label is sent with a secret of this
process, so another site cannot post one through the reviewer's browser.
"""

from __future__ import annotations

import argparse
import hmac
import ipaddress
import re
import secrets
import sys
import threading
import time
from datetime import date
from http import HTTPStatus
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import sqlalchemy

from bot.settings import Settings
from tools.review import page
from tools.review.labels import LABELS, REVIEWED, TRAINING, Export, Labels, export, intents
from tools.review.store import KINDS, ReviewIndex, Turn, store_url

DEFAULT_PORT = 5080
REPORT_LIMIT = 200
COOKIE = "review_token"
_TURN_PATH = re.compile(r"^/turn/(\d+)$")
HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'"
    ),
}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def missing_store(url: str | sqlalchemy.engine.URL) -> str | None:
    """Why there is nothing to review at an SQLite URL (the file is not there), or None."""
    parsed = sqlalchemy.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and not Path(parsed.database).exists():
        return f"No conversations at {parsed.database} yet: run the assistant (make run), or set TRACKER_DB."
    return None


def host_name(header: str) -> str:
    """The host a Host header names, without the port ("[::1]:5080" is "[::1]")."""
    if header.startswith("["):
        return header.split("]", 1)[0] + "]"
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class Review:
    """The page's state: the index, the labels and what the NLU file holds."""

    def __init__(
        self,
        index: ReviewIndex,
        labels: Labels,
        nlu_out: Path,
        token: str | None,
        tests: list[Path] | None = None,
        training: Path = TRAINING,
    ) -> None:
        self.index = index
        self.labels = labels
        self.nlu_out = nlu_out
        self.token = token
        self.tests = tests
        self.training = training
        self.intents = intents()
        self.csrf = secrets.token_urlsafe(24)
        self.lock = threading.Lock()
        self.export: Export | None = self._export() if labels.all() else None

    def _export(self) -> Export:
        return export(self.labels.all(), self.nlu_out, self.tests, self.training)

    def label(self, turn: Turn, intent: str) -> None:
        with self.lock:
            self.labels.set(turn.id, turn.text, intent)
            self.export = self._export()

    def forms(self, turns: list[Turn], back: str) -> dict[int, str]:
        return {turn.id: page.label_form(turn, self.intents, self.csrf, back) for turn in turns}

    def list_page(self, query: dict[str, list[str]]) -> str:
        started = time.perf_counter()
        new = self.index.refresh()
        filters = page.Filters(
            kind=_one_of(query, "kind", KINDS),
            since=_date(query, "since"),
            until=_date(query, "until"),
            page=max(1, _int(query, "page") or 1),
        )
        chosen = self.index.worth_a_look([filters.kind] if filters.kind else KINDS, filters.since, filters.until)
        skip = (filters.page - 1) * page.PAGE_SIZE
        total, shown = 0, []
        for turn in chosen:
            if skip <= total < skip + page.PAGE_SIZE:
                shown.append(turn)
            total += 1
        back = "/" + filters.query()
        footer = (
            f"{self.index.events_read} conversation events read ({new} new); page built in "
            f'<span id="built-ms">{(time.perf_counter() - started) * 1000:.0f}</span> ms.'
        )
        labels = {turn.id: label for turn in shown if (label := self.labels.get(turn.id))}
        return page.list_page(
            shown,
            total,
            filters,
            self.index.days(),
            labels,
            self.export,
            self.forms(shown, back),
            footer,
            total > skip + page.PAGE_SIZE,
        )

    def turn_page(self, turn_id: int) -> str | None:
        self.index.refresh()
        turn = self.index.turn(turn_id)
        if turn is None:
            return None
        lines = self.index.conversation_around(turn)
        form = self.forms([turn], f"/turn/{turn.id}")[turn.id]
        return page.turn_page(turn, lines, self.labels.get(turn.id), self.export, form)


def _one_of(query: dict[str, list[str]], name: str, allowed: Any) -> str | None:
    value = (query.get(name) or [""])[0]
    return value if value in allowed else None


def _date(query: dict[str, list[str]], name: str) -> date | None:
    try:
        return date.fromisoformat((query.get(name) or [""])[0])
    except ValueError:
        return None


def _int(query: dict[str, list[str]], name: str) -> int | None:
    value = (query.get(name) or [""])[0]
    return int(value) if value.isdigit() else None


def handler_for(review: Review, host: str, port: int) -> type[BaseHTTPRequestHandler]:
    own_hosts = {host, "localhost", "127.0.0.1", "[::1]", "::1"} if is_loopback(host) else None

    class Handler(BaseHTTPRequestHandler):
        server_version = "bme-review"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, body: str, content_type: str = "text/html; charset=utf-8", **headers: str) -> None:
            data = body.encode("utf-8")
            self.send_response(status)
            for name, value in {**HEADERS, "Content-Type": content_type, **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _allowed(self) -> bool:
            """The right Host (on loopback), and the token when one is set."""
            if own_hosts is not None and host_name(self.headers.get("Host") or "") not in own_hosts:
                self._send(HTTPStatus.MISDIRECTED_REQUEST, "Open the review page as localhost.", "text/plain")
                return False
            if not review.token:
                return True
            cookie = SimpleCookie(self.headers.get("Cookie") or "")
            given = self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
            given = given or (cookie[COOKIE].value if COOKIE in cookie else "")
            if given and hmac.compare_digest(given.encode(), review.token.encode()):
                return True
            self._send(HTTPStatus.UNAUTHORIZED, "Open the page with ?token=REVIEW_TOKEN once.", "text/plain")
            return False

        def _token_in_query(self, query: dict[str, list[str]], path: str) -> bool:
            """`?token=` sets the cookie and comes back without it in the address bar."""
            given = (query.get("token") or [""])[0]
            if not (review.token and given and hmac.compare_digest(given.encode(), review.token.encode())):
                return False
            cookie = f"{COOKIE}={review.token}; HttpOnly; SameSite=Strict; Path=/"
            self._send(HTTPStatus.SEE_OTHER, "", "text/plain", Location=path, **{"Set-Cookie": cookie})
            return True

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            if self._token_in_query(query, url.path) or not self._allowed():
                return
            if url.path == "/":
                self._send(HTTPStatus.OK, review.list_page(query))
            elif match := _TURN_PATH.match(url.path):
                built = review.turn_page(int(match.group(1)))
                if built is None:
                    self._send(HTTPStatus.NOT_FOUND, "No such turn.", "text/plain")
                else:
                    self._send(HTTPStatus.OK, built)
            elif url.path == "/reviewed.yml":
                text = review.nlu_out.read_text(encoding="utf-8") if review.nlu_out.exists() else "nlu: []\n"
                self._send(HTTPStatus.OK, text, "text/yaml; charset=utf-8")
            else:
                self._send(HTTPStatus.NOT_FOUND, "Not found.", "text/plain")

        def do_POST(self) -> None:
            if not self._allowed():
                return
            if urlsplit(self.path).path != "/label":
                self._send(HTTPStatus.NOT_FOUND, "Not found.", "text/plain")
                return
            length = min(int(self.headers.get("Content-Length") or 0), 10_000)
            form = parse_qs(self.rfile.read(length).decode("utf-8", errors="replace"))
            csrf = (form.get("csrf") or [""])[0]
            if not hmac.compare_digest(csrf.encode(), review.csrf.encode()):
                self._send(HTTPStatus.FORBIDDEN, "This form is from an old page: reload it.", "text/plain")
                return
            turn = review.index.turn(_int(form, "turn") or -1)
            intent = (form.get("intent") or [""])[0]
            if turn is None or intent not in review.intents:
                self._send(HTTPStatus.BAD_REQUEST, "Choose a turn and an intent.", "text/plain")
                return
            review.label(turn, intent)
            back = (form.get("back") or ["/"])[0]
            back = back if back.startswith("/") and not back.startswith("//") else "/"
            self._send(HTTPStatus.SEE_OTHER, "", "text/plain", Location=f"{back}#turn-{turn.id}")

    return Handler


def serve(review: Review, host: str, port: int) -> None:
    server = ThreadingHTTPServer((host, port), handler_for(review, host, port))
    shown = f"[{host}]" if ":" in host else host
    print(f"Review page: http://{'localhost' if is_loopback(host) else shown}:{server.server_port}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def write_report(index: ReviewIndex, labels: Labels, path: Path, limit: int = REPORT_LIMIT) -> int:
    started = time.perf_counter()
    turns = []
    for turn in index.worth_a_look():
        turns.append(turn)
        if len(turns) >= limit:
            break
    contexts = {turn.id: page.conversation(index.conversation_around(turn), turn.id) for turn in turns}
    footer = f"{index.events_read} conversation events read; built in {time.perf_counter() - started:.2f} s."
    labelled = {turn.id: label for turn in turns if (label := labels.get(turn.id))}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page.report(turns, contexts, index.days(), labelled, footer), encoding="utf-8")
    return len(turns)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any free)")
    parser.add_argument("--html", type=Path, help="write a static report here instead of serving")
    parser.add_argument("--export", action="store_true", help="rewrite the NLU file from the labels and exit")
    parser.add_argument("--db", help="an SQLAlchemy URL of the tracker store (default: the one `make run` uses)")
    parser.add_argument("--labels", type=Path, default=LABELS, help=f"the labels file (default {LABELS})")
    parser.add_argument("--nlu-out", type=Path, default=REVIEWED, help=f"the NLU file (default {REVIEWED})")
    args = parser.parse_args(argv)

    settings = Settings.from_env()
    labels = Labels(args.labels)
    if args.export:
        result = export(labels.all(), args.nlu_out)
        print(f"{result.count} labelled messages written to {result.path}; {len(result.left_out)} left out.")
        return 0
    if not is_loopback(args.host) and not settings.review_token:
        print("The review page shows real conversations: off this machine it needs REVIEW_TOKEN.", file=sys.stderr)
        return 2
    url = args.db or store_url(settings)
    missing = missing_store(url)
    if missing:
        print(missing, file=sys.stderr)
        return 1
    index = ReviewIndex.open(url)
    started = time.perf_counter()
    index.refresh()
    print(f"{index.events_read} conversation events read in {time.perf_counter() - started:.2f} s.", flush=True)
    if args.html:
        count = write_report(index, labels, args.html)
        print(f"{count} turns worth a look written to {args.html}")
        return 0
    serve(Review(index, labels, args.nlu_out, settings.review_token), args.host, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
