"""Slack alerts: an escalation rendered as a Block Kit message and posted to one channel.

Two ways in, chosen by the config: an incoming webhook (no token or scopes; the channel is
fixed by the URL, which is itself a secret; no message `ts` comes back, so no threading)
or a bot token with `chat.postMessage` (any channel the bot is in; the returned `ts` lets
later alerts for the same ticket reply in the first alert's thread).  Both go through the
project's `HttpClient`, which owns timeouts, Retry-After and the "not before" time; this
module adds what is Slack's own: at most one message per second per channel (Slack's
posting limit; continuing after a 429 risks the app being disabled), the classification
of Web API errors that arrive as HTTP 200 with `{"ok": false}`, and the message itself.

Customer text (subject, name, indicator phrases, the latest message) is data: bidi and
other control characters are stripped (they can make a quote read backwards), it is put in
`plain_text` objects where Block Kit allows so nothing in it is interpreted, and where it
must sit in mrkdwn (the notification fallback text) `&`, `<` and `>` are escaped so it
cannot form links or `<!channel>` mentions.  Every field is capped below Slack's limits.
Errors name the host and the Slack error code, never the webhook path or the token.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import threading
import time
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator

from connectors.base import (
    Alert,
    AuthError,
    Delivery,
    FatalError,
    Notifier,
    RetriableError,
)
from connectors.http import HttpClient, RetryPolicy
from connectors.settings import NotifierSettings

Clock = Callable[[], float]
Sleep = Callable[[float], None]

DEFAULT_API_URL = "https://slack.com/api"

# Block Kit limits (docs.slack.dev block reference), with room to spare: one report
# (slackapi/bolt-js#2509) saw msg_blocks_too_long well below the documented totals.
HEADER_MAX = 150
SECTION_MAX = 3000
FIELD_MAX = 2000
FIELDS_MAX = 10
CONTEXT_ELEMENTS_MAX = 10
BUTTON_TEXT_MAX = 75
URL_MAX = 3000
FALLBACK_MAX = 3000
BLOCKS_MAX = 50
#: Indicator phrases shown, and the length of each.
INDICATORS_SHOWN = 5
INDICATOR_MAX = 200
#: Characters of the latest customer message shown (the payload is capped already).
EXCERPT_MAX = 300
#: Scores drawn in the sparkline (the most recent ones).
SPARKLINE_MAX = 40

SPARK_LEVELS = "▁▂▃▄▅▆▇█"

# Web API error codes (docs.slack.dev/reference/methods/chat.postMessage, "Errors").
# Anything not listed is fatal: an unknown error retried forever is worse than a parked row.
RETRIABLE_API_ERRORS = frozenset({
    "ratelimited", "rate_limited", "request_timeout", "service_unavailable",
    "internal_error", "fatal_error", "team_added_to_org",
})
AUTH_API_ERRORS = frozenset({
    "not_authed", "invalid_auth", "account_inactive", "token_revoked", "token_expired",
    "no_permission", "missing_scope", "not_allowed_token_type", "ekm_access_denied",
    "org_login_required", "access_denied",
})
#: The thread an alert should reply in no longer exists.
THREAD_GONE_ERRORS = frozenset({"thread_not_found", "message_not_found"})

# What an incoming webhook's HTTP status means (Slack changelog 2016-05-17); the bodies
# are plain strings, so the status is what the HTTP layer classifies.
WEBHOOK_STATUS_MEANING = {
    400: "invalid_payload or user_not_found",
    403: "action_prohibited",
    404: "channel_not_found (or the webhook was removed)",
    410: "channel_is_archived",
}

# Bidi embeddings/overrides/isolates and marks: they can make quoted text read backwards.
_BIDI = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
                               "\u200e\u200f\u061c"))
_ERROR_CODE = re.compile(r"^[a-z0-9_]{1,60}$")
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_WEBHOOK_PATH = re.compile(r"/services/[^\s\"']+")


class SlackSettings(NotifierSettings):
    """`kind: slack` with either `webhook_url`, or `bot_token` and `channel`."""

    # A failed validation must not echo the webhook URL or the token back into an error.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    kind: Literal["slack"]
    webhook_url: SecretStr | None = None
    bot_token: SecretStr | None = None
    channel: str | None = Field(None, pattern=r"^(#?[a-z0-9][a-z0-9._-]{0,79}|[CGD][A-Z0-9]{6,})$")
    base_url: str = DEFAULT_API_URL  # the Web API; tests point it at the sandbox
    timeout: float = Field(10.0, gt=0, le=120)
    #: At most one message per `min_interval` seconds per channel (Slack: 1 per second).
    min_interval: float = Field(1.0, ge=0, le=60)
    #: Waits up to this long are slept before sending; longer ones become RetriableError.
    max_inline_wait: float = Field(5.0, ge=0, le=60)

    @field_validator("webhook_url")
    @classmethod
    def _webhook_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parts = urlsplit(value.get_secret_value().strip())
            if not _secure_or_loopback(parts.scheme, parts.hostname):
                raise ValueError("must be an https URL (http only for a local test server)")
            if not parts.path.startswith("/services/"):
                raise ValueError("must be an incoming-webhook URL "
                                 "(https://hooks.slack.com/services/...)")
        return value

    @field_validator("base_url")
    @classmethod
    def _api_shape(cls, value: str) -> str:
        parts = urlsplit(value)
        if not _secure_or_loopback(parts.scheme, parts.hostname):
            raise ValueError("must be an https URL (http only for a local test server)")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _one_way_in(self) -> SlackSettings:
        if (self.webhook_url is None) == (self.bot_token is None):
            raise ValueError("set exactly one of webhook_url or bot_token")
        if self.bot_token is not None and not self.channel:
            raise ValueError("bot_token needs a channel (a #name or a channel id)")
        if self.webhook_url is not None and self.channel:
            raise ValueError("a webhook posts to its own channel; remove channel")
        return self

    def create(self, name: str) -> Notifier:
        return SlackNotifier(name, self)


def _secure_or_loopback(scheme: str, host: str | None) -> bool:
    return scheme == "https" or (scheme == "http" and host in _LOOPBACK_HOSTS)


# -- per-channel pacing --------------------------------------------------------------------


class ChannelLimiter:
    """At most one message per `interval` seconds on one channel.

    A send reserves the next free slot under the lock and then sleeps outside it, so
    concurrent senders queue up in order instead of all waking at once.  A slot further
    away than `max_wait` is not reserved: the caller gets a RetriableError and the outbox
    tries again later, so a backlog never blocks the delivery thread for minutes.
    """

    def __init__(self, interval: float, clock: Clock = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self._next_free = -math.inf
        self._lock = threading.Lock()

    def reserve(self, max_wait: float) -> float:
        """Reserve a slot; return how long to sleep before using it, or raise."""
        with self._lock:
            now = self.clock()
            start = max(now, self._next_free)
            wait = start - now
            if wait > max_wait:
                raise RetriableError(
                    f"slack: channel busy for {wait:.1f}s (1 message per second)",
                    retry_after=wait)
            self._next_free = start + self.interval
            return wait


# Shared by every notifier in the process, keyed by a digest of (endpoint, channel): two
# notifiers (or a notifier rebuilt on reload) on one channel must share its budget.
_LIMITERS: dict[str, ChannelLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def _limiter_for(key: str, interval: float, clock: Clock) -> ChannelLimiter:
    with _LIMITERS_LOCK:
        limiter = _LIMITERS.get(key)
        if limiter is None or limiter.interval != interval or limiter.clock is not clock:
            limiter = ChannelLimiter(interval, clock)
            _LIMITERS[key] = limiter
        return limiter


# -- the notifier ----------------------------------------------------------------------------


class SlackNotifier:
    """`Notifier` for Slack.  `send()` posts one alert and returns the thread's `ts`."""

    kind = "slack"

    def __init__(self, name: str, settings: SlackSettings, *, clock: Clock = time.monotonic,
                 wall_clock: Clock = time.time, sleep: Sleep = time.sleep,
                 http: HttpClient | None = None) -> None:
        self.name = name
        self._settings = settings
        self._sleep = sleep
        self._webhook = ""
        policy = RetryPolicy(attempts=3, connect_timeout=min(5.0, settings.timeout),
                             read_timeout=settings.timeout, deadline=2 * settings.timeout,
                             max_response_bytes=1024 * 1024,  # Slack answers are small
                             max_inline_wait=settings.max_inline_wait)
        if settings.webhook_url is not None:
            self.mode: Literal["webhook", "api"] = "webhook"
            endpoint = settings.webhook_url.get_secret_value().strip()
            self._http = http or HttpClient(endpoint, vendor="slack", policy=policy,
                                            clock=wall_clock, sleep=sleep)
            channel_key = endpoint
            self._webhook = endpoint
        else:
            assert settings.bot_token is not None and settings.channel is not None
            token = settings.bot_token
            self.mode = "api"
            self._http = http or HttpClient(
                settings.base_url, vendor="slack", policy=policy, clock=wall_clock,
                sleep=sleep,
                auth=lambda: {"Authorization": f"Bearer {token.get_secret_value()}"})
            channel_key = f"{settings.base_url}|{settings.channel}"
        digest = hashlib.sha256(channel_key.encode()).hexdigest()
        self._limiter = _limiter_for(digest, settings.min_interval, clock)

    def __repr__(self) -> str:  # the settings hold secrets; name the mode only
        return f"SlackNotifier(name={self.name!r}, mode={self.mode!r})"

    def send(self, alert: Alert) -> Delivery:
        payload = render_alert(alert)
        wait = self._limiter.reserve(self._settings.max_inline_wait)
        if wait > 0:
            self._sleep(wait)
        if self.mode == "webhook":
            return self._send_webhook(payload)
        return self._send_api(payload, alert.thread_ts)

    def close(self) -> None:
        self._http.close()

    # -- the two ways in ---------------------------------------------------------------

    def _send_webhook(self, payload: dict[str, Any]) -> Delivery:
        try:
            # The full URL: HttpClient would add a trailing "/" to an empty path.
            self._http.request("POST", self._webhook, json=payload)
        except FatalError as exc:
            meaning = WEBHOOK_STATUS_MEANING.get(exc.status or 0)
            if meaning is None:
                raise
            error_type = AuthError if exc.status == 403 else FatalError
            raise error_type(f"slack: incoming webhook refused the message ({exc.status}: "
                             f"{meaning})", exc.status) from None
        return Delivery(thread_key=None)

    def _send_api(self, payload: dict[str, Any], thread_ts: str | None) -> Delivery:
        body: dict[str, Any] = {"channel": self._settings.channel, **payload}
        if thread_ts:
            body["thread_ts"] = thread_ts
        answer = self._http.request_json("POST", "chat.postMessage", json=body)
        if not isinstance(answer, dict):
            raise RetriableError("slack: chat.postMessage returned an unexpected body")
        if (thread_ts and answer.get("ok") is not True
                and answer.get("error") in THREAD_GONE_ERRORS):
            # The first alert was deleted (or the workspace changed): start a new thread
            # rather than park the alert; the caller stores the new thread key.
            wait = self._limiter.reserve(self._settings.max_inline_wait)
            if wait > 0:
                self._sleep(wait)
            return self._send_api(payload, None)
        if answer.get("ok") is not True:
            raise classify_api_error(answer.get("error"))
        ts = answer.get("ts")
        if not isinstance(ts, str) or not ts:
            raise RetriableError("slack: chat.postMessage answered ok without a ts")
        # Replies are threaded under the first alert, never under another reply.
        return Delivery(thread_key=thread_ts or ts)


def classify_api_error(code: object) -> RetriableError | FatalError:
    """The exception for a Web API `{"ok": false, "error": code}` answer."""
    shown = code if isinstance(code, str) and _ERROR_CODE.match(code) else "unknown_error"
    message = f"slack: chat.postMessage failed ({shown})"
    if shown in RETRIABLE_API_ERRORS:
        return RetriableError(message, retry_after=None)
    if shown in AUTH_API_ERRORS:
        return AuthError(message + "; check the bot token and its chat:write scope")
    return FatalError(message)


# -- rendering (pure) ------------------------------------------------------------------------


def clean_text(text: str | None) -> str:
    """Customer text made safe to show: no bidi or control characters, valid UTF-8."""
    if not text:
        return ""
    text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates
    text = text.translate(_BIDI)
    return "".join(ch if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf")
                   or ch == "\u200d"  # keeps emoji sequences (ZWJ) intact
                   else "" for ch in text)


def mrkdwn_escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn gives meaning to (links, mentions)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def one_line(text: str) -> str:
    return " ".join(text.split())


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def sparkline(scores: Sequence[float], limit: int = SPARKLINE_MAX) -> str:
    """Scores in [-1, 1] as ▁..█ (low = negative), the most recent `limit` of them."""
    shown = list(scores)[-limit:]
    top = len(SPARK_LEVELS) - 1
    bars = []
    for score in shown:
        value = 0.0 if not math.isfinite(score) else max(-1.0, min(1.0, float(score)))
        bars.append(SPARK_LEVELS[round((value + 1.0) / 2.0 * top)])
    prefix = "…" if len(scores) > limit else ""
    return prefix + "".join(bars)


def _format_number(name: str, value: object) -> str:
    label = name.replace("_", " ")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{label} {one_line(clean_text(str(value)))}"
    if isinstance(value, int):
        return f"{label} {value}"
    if not math.isfinite(value):
        return f"{label} n/a"
    signed = name in ("direction", "delta", "change")
    return f"{label} {value:+.2f}" if signed else f"{label} {value:.2f}"


def _safe_url(url: str) -> str | None:
    """The ticket link if it is a plain http(s) URL; `|<>` and spaces percent-encoded."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    safe = quote(url.strip(), safe=":/?#[]@!$&'()*+,;=%-._~")
    return safe if len(safe) <= URL_MAX else None


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": truncate(text, limit) or " ", "emoji": False}


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


def _history_line(alert: Alert) -> str:
    if not alert.earlier_on_ticket and not alert.earlier_for_customer:
        return "Escalated before: never"
    parts = []
    if alert.earlier_on_ticket:
        parts.append(f"{_times(alert.earlier_on_ticket)} on this ticket")
    if alert.earlier_for_customer:
        parts.append(f"{_times(alert.earlier_for_customer)} on this customer's other tickets")
    return "Escalated before: " + ", ".join(parts)


def _owner_line(alert: Alert) -> str | None:
    assignee = one_line(clean_text(alert.assignee))
    group = one_line(clean_text(alert.group))
    if not assignee and not group:
        return None
    return "Assigned to: " + " · ".join(part for part in (assignee, group and f"group {group}")
                                        if part)


def _priority_line(alert: Alert) -> str | None:
    before = one_line(clean_text(alert.priority))
    after = one_line(clean_text(alert.new_priority))
    if after and after != before:
        return f"Priority: {before or 'none'} → {after}"
    return f"Priority: {before}" if before else None


def _false_alarm_hint(alert: Alert) -> str | None:
    tag = one_line(clean_text(alert.false_alarm_tag))
    if alert.kind != "fire" or not tag:
        return None
    hint = f"Not a real problem? Add the tag `{mrkdwn_escape(tag)}` to the ticket"
    ours = [one_line(clean_text(t)) for t in alert.escalation_tags if one_line(clean_text(t))]
    if ours:
        hint += " or remove " + ", ".join(f"`{mrkdwn_escape(t)}`" for t in ours[:3])
    return hint + "."
#: Sections of member ticket links per message; subjects are shown up to this many members.
LINK_SECTIONS_MAX = 10
SUBJECTS_UP_TO = 20


def _link_sections(lines: Sequence[str]) -> tuple[list[str], int]:
    """Lines packed into at most LINK_SECTIONS_MAX section texts; and how many did not fit."""
    sections: list[str] = []
    current: list[str] = []
    size = 0
    for shown, line in enumerate(lines):
        if current and size + len(line) + 1 > SECTION_MAX:
            sections.append("\n".join(current))
            current, size = [], 0
            if len(sections) == LINK_SECTIONS_MAX:
                return sections, len(lines) - shown
        current.append(line)
        size += len(line) + 1
    if current:
        sections.append("\n".join(current))
    return sections, 0


def _member_link(member: Mapping[str, str], with_subject: bool) -> str:
    ref = f"#{one_line(clean_text(member.get('ticket_id', '')))}"
    source = one_line(clean_text(member.get("source", "")))
    subject = truncate(one_line(clean_text(member.get("subject", ""))), 80) \
        if with_subject else ""
    url = _safe_url(member.get("url") or "")
    link = f"<{url}|{mrkdwn_escape(ref)}>" if url else mrkdwn_escape(ref)
    tail = f" {mrkdwn_escape(subject)}" if subject else ""
    return f"• {link} ({mrkdwn_escape(source)}){tail}"


def render_incident(alert: Alert) -> dict[str, Any]:
    """An incident: its topic, how many customers, example phrases, a link to every member
    ticket (all of them in the opening and resolving messages; the new ones in updates)."""
    reason = alert.reason
    topic = one_line(clean_text(alert.subject)) or "(no topic)"
    customers = alert.numbers.get("customers")
    minutes = alert.numbers.get("window_minutes")
    count = customers if isinstance(customers, int) else len(alert.members)
    if reason == "incident_resolved":
        title = f"✅ Incident resolved: {topic}"
        summary = f"No new customer about this for {minutes} minutes; {count} customers in all."
    elif reason == "incident_grew":
        new = alert.numbers.get("new_customers", len(alert.members))
        title = f"Incident growing: {topic}"
        summary = f"{new} more customer{'' if new == 1 else 's'}; {count} in all."
    else:
        title = f"🔥 Incident: {topic}"
        summary = (f"{count} customers wrote negatively about the same thing within "
                   f"{minutes} minutes.")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(title, HEADER_MAX)},
        {"type": "section", "text": _plain(summary, SECTION_MAX)},
    ]
    phrases = [truncate(one_line(clean_text(p)), INDICATOR_MAX)
               for p in alert.indicators if one_line(clean_text(p))][:INDICATORS_SHOWN]
    if phrases and reason != "incident_resolved":
        blocks.append({"type": "section", "text": _plain(
            "Customers wrote: " + " · ".join(f"“{p}”" for p in phrases), SECTION_MAX)})
    with_subjects = len(alert.members) <= SUBJECTS_UP_TO
    sections, left_out = _link_sections([_member_link(m, with_subjects)
                                         for m in alert.members])
    for text in sections:
        blocks.append({"type": "section", "text": {"type": "mrkdwn",
                                                   "text": truncate(text, SECTION_MAX)}})
    if left_out:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": (
            f"and {left_out} more tickets (see `helpdesk-sentinel report`)")}]})
    blocks.append({"type": "context", "elements": [
        {"type": "mrkdwn", "text": f"helpdesk-sentinel · incident "
                                   f"{mrkdwn_escape(one_line(clean_text(alert.ticket_id)))}"}]})
    fallback = f"{title} ({count} customers)"
    return {"text": truncate(mrkdwn_escape(fallback), FALLBACK_MAX),
            "blocks": blocks[:BLOCKS_MAX], "unfurl_links": False, "unfurl_media": False}


def render_alert(alert: Alert) -> dict[str, Any]:
    """The message body: `text` (notification fallback, mrkdwn) and `blocks`."""
    if alert.rule == "incident" and alert.source == "incident":
        return render_incident(alert)
    recovered = alert.kind == "resolve"
    rule = one_line(clean_text(alert.rule))
    subject = one_line(clean_text(alert.subject)) or "(no subject)"
    customer = one_line(clean_text(alert.customer)) or "unknown customer"
    ticket = one_line(clean_text(alert.ticket_id))
    source = one_line(clean_text(alert.source))
    reason = one_line(clean_text(alert.reason))
    why = [one_line(clean_text(line)) for line in alert.why if one_line(clean_text(line))]
    url = _safe_url(alert.ticket_url)
    numbers = " · ".join(_format_number(k, v) for k, v in alert.numbers.items())
    indicators = [truncate(one_line(clean_text(p)), INDICATOR_MAX)
                  for p in alert.indicators if one_line(clean_text(p))][:INDICATORS_SHOWN]
    spark = sparkline(alert.scores) if alert.show_scores else ""
    excerpt = truncate(one_line(clean_text(alert.excerpt)), EXCERPT_MAX)

    title = (f"✅ Recovered: {rule}" if recovered else f"🚨 Escalation: {rule}")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(title, HEADER_MAX)},
    ]
    ticket_ref = f"#{ticket}"
    link = (f"<{url}|{mrkdwn_escape(ticket_ref)}>" if url else mrkdwn_escape(ticket_ref))
    fields: list[dict[str, Any]] = [
        {"type": "mrkdwn", "text": truncate(f"*Ticket*\n{link} ({mrkdwn_escape(source)})",
                                            FIELD_MAX)},
        _plain(f"Customer: {customer}", FIELD_MAX),
        _plain(f"Subject: {subject}", FIELD_MAX),
    ]
    if reason and not why:  # an alert queued before plain-words reasons existed
        fields.append(_plain(f"Reason: {reason}", FIELD_MAX))
    for line in (_priority_line(alert), _owner_line(alert)):
        if line:
            fields.append(_plain(line, FIELD_MAX))
    if not recovered:
        fields.append(_plain(_history_line(alert), FIELD_MAX))
    blocks.append({"type": "section", "fields": fields[:FIELDS_MAX]})
    why_lines = []
    if why:
        why_lines.append(f"*{'Now' if recovered else 'Why'}*")
        why_lines.extend(f"• {mrkdwn_escape(line)}" for line in why)
    elif numbers:
        why_lines.append(f"*{'Now' if recovered else 'Why'}:* {mrkdwn_escape(numbers)}")
    if spark:
        why_lines.append(f"*Scores* (oldest → newest, -1 very negative … +1 very positive): "
                         f"`{spark}`  {len(alert.scores)} customer message"
                         f"{'' if len(alert.scores) == 1 else 's'}")
    if why_lines:
        blocks.append({"type": "section",
                       "text": {"type": "mrkdwn",
                                "text": truncate("\n".join(why_lines), SECTION_MAX)}})
    if excerpt and not recovered:
        # plain_text: whatever the customer wrote is shown as written, never interpreted.
        blocks.append({"type": "section",
                       "text": _plain(f"Latest message: “{excerpt}”", SECTION_MAX)})
    if indicators and not recovered:
        quoted = " · ".join(f"“{phrase}”" for phrase in indicators)
        blocks.append({"type": "section", "text": _plain(quoted, SECTION_MAX)})
    if url:
        blocks.append({"type": "actions", "elements": [{
            "type": "button", "text": _plain("Open ticket", BUTTON_TEXT_MAX), "url": url,
            **({} if recovered else {"style": "danger"}),
        }]})
    context = [{"type": "mrkdwn", "text": f"helpdesk-sentinel · {mrkdwn_escape(source)}"}]
    hint = _false_alarm_hint(alert)
    if hint:
        context.insert(0, {"type": "mrkdwn", "text": truncate(hint, SECTION_MAX)})
    blocks.append({"type": "context", "elements": context[:CONTEXT_ELEMENTS_MAX]})

    verb = "Recovered" if recovered else "Escalation"
    fallback = f"{verb}: {rule} on {ticket_ref} \"{subject}\" ({customer})"
    if why:
        fallback += f": {why[0]}"
    elif reason:
        fallback += f": {reason}"
    return {
        "text": truncate(mrkdwn_escape(fallback), FALLBACK_MAX),
        "blocks": blocks[:BLOCKS_MAX],
        "unfurl_links": False,
        "unfurl_media": False,
    }


# -- defence in depth for logs ---------------------------------------------------------------


class _WebhookPathFilter(logging.Filter):
    """urllib3 logs each request line ("POST /services/T../B../secret") at DEBUG: mask it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(
                isinstance(a, str) and "/services/" in a for a in record.args):
            record.args = tuple(_WEBHOOK_PATH.sub("/services/***", a) if isinstance(a, str)
                                else a for a in record.args)
        if isinstance(record.msg, str) and "/services/" in record.msg:
            record.msg = _WEBHOOK_PATH.sub("/services/***", record.msg)
        return True


def _install_log_filter() -> None:
    pool_logger = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, _WebhookPathFilter) for f in pool_logger.filters):
        pool_logger.addFilter(_WebhookPathFilter())


_install_log_filter()
