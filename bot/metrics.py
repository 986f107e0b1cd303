"""Prometheus metrics at `/metrics` on the assistant's own port (prometheus-client).

Each `rasa run` counts what it handled itself, all its Sanic workers together
(bot/metrics_workers.py); with several instances, Prometheus scrapes each one and sums them
(docs/deployment.md). What is counted, and where:

- messages by channel and the reply latency: around every message a channel hands to Rasa
  (bot/handler.py);
- intents, red flags by layer, "did you mean" fallbacks, out-of-scope answers, urgent
  responses and 👍 / 👎: from the events of each saved turn, through Rasa's event broker
  interface (`MetricsEventBroker`, in endpoints.yml), read as bot/turns.py reads them;
- errors (a message whose handling raised or timed out, and every apology said instead of an
  answer) and the input guard's refusals (bot/channels/guard.py).

Who may read it: with METRICS_TOKEN set, whoever sends it (`Authorization: Bearer <token>`;
401 without). Without it, only this machine: a request from a loopback address that no proxy
forwarded. Anyone else gets 404, as if there were no such page.
"""

from __future__ import annotations

import hmac
import ipaddress
from asyncio import AbstractEventLoop
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

import yaml
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import choose_encoder
from rasa.core.brokers.broker import EventBroker
from rasa.utils.endpoints import EndpointConfig
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.domain.feedback import RATINGS
from bot.metrics_workers import summed_registry
from bot.names import FALLBACK_INTENT
from bot.settings import DOMAIN, Settings
from bot.turns import BOTH, CLARIFY, CLASSIFIER, DETECTOR, OUT_OF_SCOPE, URGENT, answer_of, feedback_of, red_flag_layer

PATH = "/metrics"
CHANNELS = ("rest", "socketio", "slack", "telegram")
ERROR_KINDS = ("exception", "timeout", "apology")
REFUSALS = ("bad_input", "too_long", "busy", "too_fast")
# Headers a reverse proxy adds: a request with one is not from this machine, whatever its address.
_FORWARDED = ("X-Forwarded-For", "X-Real-IP", "Forwarded")
# Up to the 12 s after which the channels apologise (bot/channels/guard.py), and beyond.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 12.0, 30.0)

MESSAGES = Counter("bme_messages", "Messages handed to the assistant, by channel (not feedback)", ["channel"])
REPLY_SECONDS = Histogram(
    "bme_reply_seconds", "Seconds from a message to its last reply, by channel", ["channel"], buckets=LATENCY_BUCKETS
)
INTENTS = Counter("bme_intents", "Messages by the intent they were understood as", ["intent"])
FALLBACKS = Counter("bme_fallbacks", '"Did you mean" replies: the assistant was unsure and offered choices')
OUT_OF_SCOPE_ANSWERS = Counter("bme_out_of_scope_answers", "Answers that said the question is out of scope")
URGENT_RESPONSES = Counter("bme_urgent_responses", "Urgent-care responses")
RED_FLAGS = Counter("bme_red_flags", "Messages sent to urgent care, by the layer that fired", ["layer"])
FEEDBACK = Counter("bme_feedback", "Thumbs up and down on answers", ["rating"])
ERRORS = Counter(
    "bme_errors", "Messages whose handling raised, timed out, or ended in the apology instead of an answer", ["kind"]
)
GUARD_REFUSALS = Counter("bme_guard_refusals", "Messages the input guard refused, by reason", ["reason"])


def _domain_intents() -> frozenset[str]:
    domain = yaml.safe_load(DOMAIN.read_text(encoding="utf-8")) or {}
    return frozenset(str(intent) for intent in domain.get("intents") or []) | {FALLBACK_INTENT}


# Only the domain's intents are labels: a payload can name any intent ("/anything"), and every
# label value is a new time series.
KNOWN_INTENTS = _domain_intents()


def _start_at_zero() -> None:
    """Every series exists from the start, so a rate over it is 0 rather than missing."""
    for channel in CHANNELS:
        MESSAGES.labels(channel)
        REPLY_SECONDS.labels(channel)
    for intent in KNOWN_INTENTS:
        INTENTS.labels(intent)
    for layer in (CLASSIFIER, DETECTOR, BOTH):
        RED_FLAGS.labels(layer)
    for rating in RATINGS:
        FEEDBACK.labels(rating)
    for kind in ERROR_KINDS:
        ERRORS.labels(kind)
    for reason in REFUSALS:
        GUARD_REFUSALS.labels(reason)


_start_at_zero()


def intent_label(intent: Any) -> str:
    return intent if isinstance(intent, str) and intent in KNOWN_INTENTS else "other"


def count_event(event: Mapping[str, Any]) -> None:
    """Counts one saved event (Rasa's dictionary form)."""
    kind = event.get("event")
    if kind == "user":
        parse_data = event.get("parse_data") or {}
        INTENTS.labels(intent_label((parse_data.get("intent") or {}).get("name"))).inc()
        layer = red_flag_layer(parse_data)
        if layer is not None:
            RED_FLAGS.labels(layer).inc()
    elif kind == "bot":
        answer = answer_of(event.get("metadata"))
        if answer == CLARIFY:
            FALLBACKS.inc()
        elif answer == OUT_OF_SCOPE:
            OUT_OF_SCOPE_ANSWERS.inc()
        elif answer == URGENT:
            URGENT_RESPONSES.inc()
    elif kind == "slot":
        feedback = feedback_of(event)
        if feedback is not None:
            FEEDBACK.labels(feedback.rating).inc()


class MetricsEventBroker(EventBroker):
    """Rasa's event broker interface, used to count each saved turn's events in this process.
    Select it in the endpoints file with `event_broker: {type: bot.metrics.MetricsEventBroker}`."""

    @classmethod
    async def from_endpoint_config(
        cls, broker_config: EndpointConfig, event_loop: AbstractEventLoop | None = None
    ) -> MetricsEventBroker:
        return cls()

    def publish(self, event: dict[str, Any]) -> None:
        count_event(event)


def refused(reason: str) -> None:
    """The input guard refused a message (bot/channels/guard.py)."""
    GUARD_REFUSALS.labels(reason if reason in REFUSALS else "bad_input").inc()


def failed(kind: str) -> None:
    """A message's handling raised or timed out (`exception`, `timeout`), or the user got the
    apology instead of an answer (`apology`: after either, or when Rasa said nothing)."""
    ERRORS.labels(kind if kind in ERROR_KINDS else "exception").inc()


def from_this_machine(request: Request) -> bool:
    """A request from a loopback address that no proxy forwarded."""
    if any(header in request.headers for header in _FORWARDED):
        return False
    try:
        return ipaddress.ip_address(request.ip).is_loopback
    except ValueError:
        return False


def has_token(request: Request, token: str) -> bool:
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    return hmac.compare_digest(given.encode(), token.encode())


def scraped_registry(settings: Settings | None = None) -> CollectorRegistry:
    """This process's registry, or with several workers all of theirs, summed."""
    directory = (settings or Settings.from_env()).metrics_multiprocess_dir
    return summed_registry(directory) if directory else REGISTRY


def endpoint(token: str | None) -> Callable[[Request], Coroutine[Any, Any, HTTPResponse]]:
    """The `/metrics` route: Prometheus's text format with the token (401 without it), or
    without a token for this machine only (404 for anyone else: the page is off)."""
    registry = scraped_registry()

    async def metrics(request: Request) -> HTTPResponse:
        if token and not has_token(request, token):
            return response.text("Unauthorized: send Authorization: Bearer <METRICS_TOKEN>", status=401)
        if not token and not from_this_machine(request):
            return response.text("Not Found", status=404)
        # The format Prometheus asks for (Accept), as prometheus-client's own exporters answer.
        encode, content_type = choose_encoder(request.headers.get("Accept", ""))
        return response.raw(encode(registry), content_type=content_type)

    return metrics
