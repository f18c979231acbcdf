"""Slack alerts: an alert posted to one channel, as the message connectors/slack_render.py
builds.

Two ways in, chosen by the config: an incoming webhook (no token or scopes; the channel is
fixed by the URL, which is itself a secret; no message `ts` comes back, so no threading)
or a bot token with `chat.postMessage` (any channel the bot is in; the returned `ts` lets
later alerts for the same ticket reply in the first alert's thread).  Both go through the
project's `HttpClient`, which owns timeouts, Retry-After and the "not before" time; this
module adds what is Slack's own: at most one message per second per channel (Slack's
posting limit; continuing after a 429 risks the app being disabled), the classification
of Web API errors that arrive as HTTP 200 with `{"ok": false}`, and a new thread when the
one an alert should reply in is gone.  Errors name the host and the Slack error code, never
the webhook path or the token.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import threading
import time
from collections.abc import Callable
from typing import Any, Literal
from urllib.parse import urlsplit

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
from connectors.slack_render import render_alert

Clock = Callable[[], float]
Sleep = Callable[[float], None]

DEFAULT_API_URL = "https://slack.com/api"

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
