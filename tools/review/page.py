"""The review page's HTML, and its chart of the last 30 days as inline SVG.

Everything is built here, on the server, from the index: no script, no CDN, no web font (and
so no emoji: "thumbs down" is written out). Every text from a conversation is escaped
(`html.escape`): users write what they like.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import urlencode

from tools.review.labels import OUT_OF_SCOPE, Export, Label
from tools.review.store import KINDS, Day, Line, Turn

PAGE_SIZE = 50

STYLE = """
body { margin: 0; font: 16px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1b1f23;
  background: #f4f6f8; }
main { max-width: 960px; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.5rem; margin: 0.2rem 0 0.5rem; } h2 { font-size: 1.15rem; margin: 1.2rem 0 0.5rem; }
a { color: #0b5cad; } :focus-visible { outline: 3px solid #ffbf47; outline-offset: 2px; }
.summary, footer { color: #444d56; }
.filters { display: flex; flex-wrap: wrap; gap: 0.6rem 1rem; align-items: end; background: #fff; padding: 0.75rem;
  border: 1px solid #c8d1db; border-radius: 8px; }
.filters label, .label label { display: flex; flex-direction: column; font-size: 0.9rem; }
select, input, button { font: inherit; }
button { border: 0; border-radius: 6px; padding: 0.35rem 0.9rem; background: #0b5cad; color: #fff; cursor: pointer; }
.turns { list-style: none; padding: 0; margin: 0; }
.turn { background: #fff; border: 1px solid #c8d1db; border-radius: 8px; padding: 0.75rem 1rem; margin: 0.75rem 0; }
.meta { margin: 0; font-size: 0.9rem; color: #444d56; }
.kind { display: inline-block; border-radius: 999px; padding: 0 0.5rem; margin-right: 0.3rem; background: #e6f0fa;
  color: #0b3d73; font-size: 0.85rem; }
.kind--red_flag, .kind--thumbs_down { background: #fde8e8; color: #8a1c1c; }
.message { margin: 0.4rem 0; padding: 0.4rem 0.7rem; border-left: 4px solid #0b5cad; background: #f4f6f8;
  white-space: pre-wrap; overflow-wrap: anywhere; }
.facts { margin: 0.3rem 0; font-size: 0.95rem; }
.label { display: flex; flex-wrap: wrap; gap: 0.5rem; align-items: end; margin-top: 0.5rem; }
.labelled { margin: 0.4rem 0 0; color: #1a5e20; }
.left-out { color: #8a4b00; }
.conversation { list-style: none; padding: 0; }
.line { margin: 0.35rem 0; padding: 0.4rem 0.7rem; border-radius: 8px; max-width: 85%; white-space: pre-wrap;
  overflow-wrap: anywhere; }
.line--user { margin-left: auto; background: #0b5cad; color: #fff; }
.line--bot { background: #eef2f6; } .line--feedback { background: none; color: #444d56; font-size: 0.9rem; }
.line--here { outline: 3px solid #ffbf47; }
.answer-id { font-size: 0.8rem; color: #444d56; }
.line--user .answer-id { color: #fff; }
.chart { background: #fff; border: 1px solid #c8d1db; border-radius: 8px; padding: 0.5rem; max-width: 100%;
  height: auto; }
.legend { display: flex; flex-wrap: wrap; gap: 1rem; font-size: 0.9rem; margin: 0.3rem 0; }
.swatch { display: inline-block; width: 0.9em; height: 0.9em; margin-right: 0.3em; vertical-align: -0.1em; }
table { border-collapse: collapse; font-size: 0.9rem; } th, td { padding: 0.15rem 0.6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.pages { display: flex; gap: 1rem; margin: 1rem 0; }
"""


def e(text: object) -> str:
    return html.escape(str(text), quote=True)


def when(at: float) -> str:
    return datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M")


def document(title: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="icon" href="data:,"><title>{e(title)}</title><style>{STYLE}</style></head>'
        f"<body><main>{body}</main></body></html>\n"
    )


# --- the chart ------------------------------------------------------------------------------

CONVERSATIONS_COLOUR = "#0b5cad"
FALLBACK_COLOUR = "#b35900"
URGENT_COLOUR = "#b3261e"


def chart(days: Sequence[Day]) -> str:
    """Conversations a day (bars), the fallback rate (line, right axis) and urgent responses
    (red marks with their count), with the figures in a table under it."""
    width, height, left, right, top, bottom = 720, 232, 40, 48, 14, 46
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / max(len(days), 1)
    most = max([day.conversations for day in days] + [1])
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        'aria-labelledby="chart-title chart-desc">',
        f'<desc id="chart-desc">{e(_describe(days))}</desc>',
        f'<g stroke="#c8d1db"><line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}"/></g>',
        f'<g font-size="11" fill="#444d56"><text x="{left - 6}" y="{top + 4}" text-anchor="end">{most}</text>'
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end">0</text>'
        f'<text x="{left + plot_w + 6}" y="{top + 4}">100%</text>'
        f'<text x="{left + plot_w + 6}" y="{top + plot_h}">0%</text></g>',
    ]
    points = []
    for index, day in enumerate(days):
        x = left + index * step
        bar = plot_h * day.conversations / most
        label = f"{day.day.isoformat()}: {day.conversations} conversations"
        parts.append(
            f'<rect x="{x + step * 0.15:.1f}" y="{top + plot_h - bar:.1f}" width="{step * 0.7:.1f}" '
            f'height="{bar:.1f}" fill="{CONVERSATIONS_COLOUR}"><title>{e(label)}</title></rect>'
        )
        if day.turns:
            point = (x + step / 2, top + plot_h * (1 - day.fallback_rate))
            points.append(f"{point[0]:.1f},{point[1]:.1f}")
            parts.append(
                f'<circle cx="{point[0]:.1f}" cy="{point[1]:.1f}" r="3.5" fill="{FALLBACK_COLOUR}">'
                f"<title>{e(day.day.isoformat())}: {day.fallback_rate:.0%} fallback rate</title></circle>"
            )
        if day.urgent:
            cx = x + step / 2
            parts.append(
                f'<g fill="{URGENT_COLOUR}"><circle cx="{cx:.1f}" cy="{top + plot_h + 10}" r="5">'
                f"<title>{e(day.day.isoformat())}: {day.urgent} urgent</title></circle>"
                f'<text x="{cx:.1f}" y="{top + plot_h + 27}" font-size="10" text-anchor="middle">'
                f"{day.urgent}</text></g>"
            )
        if (len(days) - 1 - index) % 7 == 0:  # the last day, and every week before it
            parts.append(
                f'<text x="{x + step / 2:.1f}" y="{height - 2}" font-size="10" fill="#444d56" text-anchor="middle">'
                f"{day.day.strftime('%d %b')}</text>"
            )
    if points:
        parts.append(
            f'<polyline points="{" ".join(points)}" fill="none" stroke="{FALLBACK_COLOUR}" stroke-width="2.5"/>'
        )
    parts.append("</svg>")
    legend = (
        '<p class="legend" aria-hidden="true">'
        f'<span><span class="swatch" style="background:{CONVERSATIONS_COLOUR}"></span>conversations a day</span>'
        f'<span><span class="swatch" style="background:{FALLBACK_COLOUR}"></span>fallback rate (right axis)</span>'
        f'<span><span class="swatch" style="background:{URGENT_COLOUR};border-radius:50%"></span>'
        "urgent responses</span></p>"
    )
    rows = "".join(
        f"<tr><td>{day.day.isoformat()}</td><td>{day.conversations}</td><td>{day.turns}</td>"
        f"<td>{day.fallback_rate:.0%}</td><td>{day.urgent}</td></tr>"
        for day in reversed(days)
        if day.turns
    )
    table = (
        "<details><summary>The figures, day by day</summary><table><thead><tr><th>day</th><th>conversations</th>"
        f"<th>messages</th><th>fallback rate</th><th>urgent</th></tr></thead><tbody>{rows}</tbody></table></details>"
    )
    return "".join(parts) + legend + table


def _describe(days: Sequence[Day]) -> str:
    conversations = sum(day.conversations for day in days)
    turns = sum(day.turns for day in days)
    fallbacks = sum(day.fallbacks for day in days)
    urgent = sum(day.urgent for day in days)
    rate = f"{fallbacks / turns:.0%}" if turns else "no"
    return (
        f"Over the last {len(days)} days: {conversations} conversations a day added up, {turns} messages, "
        f"{rate} fallback rate, {urgent} urgent responses."
    )


# --- turns ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    kind: str | None = None
    since: date | None = None
    until: date | None = None
    page: int = 1

    def query(self, **change: object) -> str:
        values = {"kind": self.kind, "since": self.since, "until": self.until, "page": self.page, **change}
        kept = {key: str(value) for key, value in values.items() if value and not (key == "page" and value == 1)}
        return "?" + urlencode(kept) if kept else ""


def _facts(turn: Turn) -> str:
    facts = []
    if turn.ranking:
        ranked = " · ".join(f"{e(intent)} {confidence:.2f}" for intent, confidence in turn.ranking)
        facts.append(f"Understood as {e(turn.intent or '?')}; likeliest: {ranked}")
    if turn.red_flag:
        layer = "both layers (classifier and detector)" if turn.red_flag == "both" else f"the {e(turn.red_flag)}"
        facts.append(f"Sent to urgent care by {layer}")
    if turn.answers:
        facts.append("Answered: " + ", ".join(e(answer) for answer in turn.answers))
    if turn.rating:
        facts.append(f"Feedback: thumbs {e(turn.rating)} on {e(turn.rated_answer or 'an answer')}")
    return "".join(f'<p class="facts">{fact}</p>' for fact in facts)


def label_form(turn: Turn, intents: Iterable[str], csrf: str, back: str) -> str:
    options = "".join(
        f'<option value="{e(intent)}">{"out of scope" if intent == OUT_OF_SCOPE else e(intent)}</option>'
        for intent in intents
    )
    field_id = f"intent-{turn.id}"
    return (
        f'<form class="label" method="post" action="/label">'
        f'<input type="hidden" name="turn" value="{turn.id}"><input type="hidden" name="csrf" value="{e(csrf)}">'
        f'<input type="hidden" name="back" value="{e(back)}">'
        f'<label for="{field_id}">The right intent<select id="{field_id}" name="intent" required>'
        f'<option value="">choose…</option>{options}</select></label>'
        f'<button type="submit">Save label</button></form>'
    )


def labelled(label: Label | None, export: Export | None) -> str:
    if label is None:
        return ""
    shown = "out of scope" if label.intent == OUT_OF_SCOPE else label.intent
    reason = export.left_out.get(label.turn) if export else None
    where = f'<span class="left-out">not exported: {e(reason)}</span>' if reason else "in reviewed.yml"
    return f'<p class="labelled">Labelled <strong>{e(shown)}</strong> ({where})</p>'


def turn_item(
    turn: Turn,
    label: Label | None,
    export: Export | None,
    form: str,
    context: str = "",
    link: bool = True,
) -> str:
    kinds = "".join(f'<span class="kind kind--{kind}">{e(KINDS[kind])}</span>' for kind in turn.kinds)
    around = f' · <a href="/turn/{turn.id}">the conversation around it</a>' if link else ""
    return (
        f'<li class="turn" id="turn-{turn.id}"><p class="meta">{kinds}<time>{when(turn.at)}</time> · '
        f"{e(turn.channel or 'unknown channel')} · conversation {e(turn.sender[:12])}{around}</p>"
        f'<blockquote class="message">{e(turn.text)}</blockquote>{_facts(turn)}'
        f"{labelled(label, export)}{form}{context}</li>"
    )


def conversation(lines: Iterable[Line], here: int) -> str:
    items = []
    for line in lines:
        mark = " line--here" if line.id == here else ""
        answer = f' <span class="answer-id">[{e(line.answer)}]</span>' if line.answer and line.who != "user" else ""
        prefix = "Feedback: " if line.who == "feedback" else ""
        items.append(f'<li class="line line--{line.who}{mark}">{prefix}{e(line.text)}{answer}</li>')
    return f'<ol class="conversation" aria-label="Conversation">{"".join(items)}</ol>'


def filters_form(filters: Filters) -> str:
    options = '<option value="">every kind</option>' + "".join(
        f'<option value="{kind}"{" selected" if kind == filters.kind else ""}>{e(title)}</option>'
        for kind, title in KINDS.items()
    )
    since = filters.since.isoformat() if filters.since else ""
    until = filters.until.isoformat() if filters.until else ""
    return (
        '<form class="filters" method="get" action="/" aria-label="Filters">'
        f'<label for="kind">Kind<select id="kind" name="kind">{options}</select></label>'
        f'<label for="since">From<input id="since" type="date" name="since" value="{since}"></label>'
        f'<label for="until">To<input id="until" type="date" name="until" value="{until}"></label>'
        '<button type="submit">Show</button></form>'
    )


def list_page(
    turns: Sequence[Turn],
    total: int,
    filters: Filters,
    days: Sequence[Day],
    labels: dict[int, Label],
    export: Export | None,
    forms: dict[int, str],
    footer: str,
    has_more: bool,
) -> str:
    items = "".join(turn_item(turn, labels.get(turn.id), export, forms.get(turn.id, "")) for turn in turns)
    pages = []
    if filters.page > 1:
        pages.append(f'<a href="/{filters.query(page=filters.page - 1)}">← Newer</a>')
    if has_more:
        pages.append(f'<a href="/{filters.query(page=filters.page + 1)}">Older →</a>')
    exported = (
        f'<p><a href="/reviewed.yml">reviewed.yml</a>: {export.count} labelled messages ready for '
        f"<code>make train</code> ({e(export.path)}).</p>"
        if export
        else ""
    )
    body = (
        "<h1>Turns worth a look</h1>"
        f'<p class="summary">{total} turns match, newest first: "did you mean" fallbacks, out-of-scope answers, '
        "low-confidence intents, red flags and thumbs down.</p>"
        f'<h2 id="chart-title">The last {len(days)} days</h2>{chart(days)}'
        f"<h2>Turns</h2>{filters_form(filters)}{exported}"
        f'<ol class="turns">{items or "<li>No turn matches.</li>"}</ol>'
        f'<nav class="pages" aria-label="Pages">{"".join(pages)}</nav><footer>{footer}</footer>'
    )
    return document("Review · BME assistant", body)


def turn_page(turn: Turn, lines: Iterable[Line], label: Label | None, export: Export | None, form: str) -> str:
    body = (
        '<p><a href="/">← All turns</a></p><h1>The conversation around a turn</h1>'
        f'<ol class="turns">{turn_item(turn, label, export, form, link=False)}</ol>'
        f"<h2>Conversation</h2>{conversation(lines, turn.id)}"
    )
    return document("A turn · Review · BME assistant", body)


def report(
    turns: Sequence[Turn], contexts: dict[int, str], days: Sequence[Day], labels: dict[int, Label], footer: str
) -> str:
    """The static report: the same list, with each turn's conversation inline, and no forms."""
    items = "".join(
        turn_item(
            turn,
            labels.get(turn.id),
            None,
            "",
            f"<details><summary>The conversation around it</summary>{contexts[turn.id]}</details>",
            link=False,
        )
        for turn in turns
    )
    body = (
        "<h1>Turns worth a look</h1>"
        f'<p class="summary">The {len(turns)} newest turns worth a look. Label them on the page '
        "<code>make review</code> serves.</p>"
        f'<h2 id="chart-title">The last {len(days)} days</h2>{chart(days)}'
        f'<h2>Turns</h2><ol class="turns">{items or "<li>No turn worth a look.</li>"}</ol><footer>{footer}</footer>'
    )
    return document("Review report · BME assistant", body)
