"""A local Slack: incoming webhooks and `chat.postMessage`, with Slack's limits and errors.

What `make run` posts alerts to, what the tests assert on, and what a newcomer watches:
with `echo` on, every message received is printed to the console as one compact block
(rule, ticket, customer, the numbers, the sparkline, the quoted phrases, the link).

Faithful to the documented wire format (https://api.slack.com/messaging/webhooks and
https://api.slack.com/methods/chat.postMessage): a webhook is a
secret path `/services/T.../B.../...` answering the plain string `ok`, or a status with
a plain-string error (400 `invalid_payload`, 404 `channel_not_found`/`no_service`, 410
`channel_is_archived`); the Web API answers HTTP 200 with `{"ok": false, "error": ...}`
for everything except throttling, which is a 429 with `Retry-After` in seconds.  Each
channel accepts about one message per second with a short burst (a token bucket), and the
Block Kit limits are checked so an oversized alert fails here as it would at Slack.
"""

from __future__ import annotations

import argparse
import json
import math
import secrets
import sys
import textwrap
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TextIO
from urllib.parse import parse_qs

from connectors.sandbox.base import Request, Response, SandboxServer

Clock = Callable[[], float]

DEFAULT_CHANNEL = "#escalations"
DEFAULT_TOKEN = "xoxb-sandbox-token"  # the sandbox's own, well known

_TEXT = {"Content-Type": "text/plain; charset=utf-8"}


@dataclass(slots=True)
class SlackMessage:
    """One message as Slack stored it."""

    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    via: str  # "webhook" or "api"
    thread_ts: str | None = None
    received_at: float = field(default_factory=time.time)


class _Bucket:
    """Token bucket: `burst` messages at once, refilled at `rate` per second."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.updated = now

    def take(self, now: float) -> float | None:
        """Spend a token; None when allowed, else seconds until one is available."""
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return None
        return (1.0 - self.tokens) / self.rate


class SlackSandbox(SandboxServer):
    vendor = "slack"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *,
                 tokens: Iterable[str] = (DEFAULT_TOKEN,),
                 channels: Iterable[str] = (DEFAULT_CHANNEL,),
                 rate_per_second: float = 1.0, burst: int = 3,
                 echo: bool = False, echo_stream: TextIO | None = None,
                 clock: Clock = time.monotonic) -> None:
        super().__init__(host, port)
        self.tokens = set(tokens)
        self._initial_channels = tuple(channels)
        self.channels = {self._channel_id(name): name for name in self._initial_channels}
        self.archived: set[str] = set()
        self.messages: list[SlackMessage] = []
        self.rate_per_second = rate_per_second
        self.burst = burst
        self.echo = echo
        self.echo_stream = echo_stream
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._webhooks: dict[str, str] = {}  # path -> channel name
        self._ts_lock = threading.Lock()
        self._last_ts = 0.0
        self.route("POST", r"/services/(T[A-Z0-9]+)/(B[A-Z0-9]+)/([A-Za-z0-9]+)", self._webhook)
        self.route("POST", r"/api/chat\.postMessage", self._post_message)

    # -- set-up helpers for tests and `make run` --------------------------------------

    def reset(self, clock: Clock | None = None) -> None:
        """Forget everything received and configured since start (tests share one server:
        stopping a server costs half a second)."""
        with self._lock:
            self.messages.clear()
            self.request_log.clear()
            self.writes.clear()
            self._faults.clear()
            self._buckets.clear()
            self._webhooks.clear()
            self.archived.clear()
            self.channels = {self._channel_id(name): name for name in self._initial_channels}
            if clock is not None:
                self._clock = clock

    def webhook_url(self, channel: str = DEFAULT_CHANNEL) -> str:
        """Create an incoming webhook for `channel` and return its (secret) URL."""
        self.add_channel(channel)
        path = (f"/services/T{secrets.token_hex(4).upper()}/B{secrets.token_hex(4).upper()}/"
                f"{secrets.token_urlsafe(18).replace('-', 'x').replace('_', 'y')}")
        with self._lock:
            self._webhooks[path] = channel
        return f"{self.url}{path}"

    def remove_webhook(self, url: str) -> None:
        with self._lock:
            self._webhooks = {p: c for p, c in self._webhooks.items() if not url.endswith(p)}

    @property
    def api_url(self) -> str:
        return f"{self.url}/api"

    def add_channel(self, name: str) -> None:
        with self._lock:
            self.channels[self._channel_id(name)] = name

    def archive(self, name: str) -> None:
        with self._lock:
            self.archived.add(name)

    def messages_in(self, channel: str) -> list[SlackMessage]:
        with self._lock:
            return [m for m in self.messages if m.channel == channel]

    # -- routes --------------------------------------------------------------------------

    def _webhook(self, request: Request) -> Response:
        path = request.path
        with self._lock:
            channel = self._webhooks.get(path)
        if channel is None:
            return Response(404, b"no_service", _TEXT)
        if channel in self.archived:
            return Response(410, b"channel_is_archived", _TEXT)
        payload = self._payload(request)
        if payload is None:
            return Response(400, b"invalid_payload", _TEXT)
        problem = block_kit_problem(payload)
        if problem is not None:
            return Response(400, problem.encode(), _TEXT)
        wait = self._throttle(channel)
        if wait is not None:
            return Response(429, b"rate_limited",
                            {**_TEXT, "Retry-After": str(max(1, math.ceil(wait)))})
        self._store(channel, payload, via="webhook", thread_ts=None)
        return Response(200, b"ok", _TEXT)

    def _post_message(self, request: Request) -> Response:
        auth = request.header("authorization") or ""
        payload = self._payload(request)
        token = auth[7:] if auth.startswith("Bearer ") else (payload or {}).get("token")
        if not token:
            return _api_error("not_authed")
        if token not in self.tokens:
            return _api_error("invalid_auth")
        if payload is None:
            return _api_error("invalid_arguments")
        channel_arg = payload.get("channel")
        if not isinstance(channel_arg, str) or not channel_arg:
            return _api_error("channel_not_found")
        with self._lock:
            channel = self.channels.get(self._channel_id(channel_arg))
        if channel is None:
            return _api_error("channel_not_found")
        if channel in self.archived:
            return _api_error("is_archived")
        if not payload.get("text") and not payload.get("blocks"):
            return _api_error("no_text")
        problem = block_kit_problem(payload)
        if problem is not None:
            return _api_error(problem)
        thread_ts = payload.get("thread_ts")
        if thread_ts is not None and not any(
                m.ts == thread_ts and m.channel == channel for m in self.messages_in(channel)):
            return _api_error("thread_not_found")
        wait = self._throttle(channel)
        if wait is not None:
            return Response(429, {"ok": False, "error": "ratelimited"},
                            {"Retry-After": str(max(1, math.ceil(wait)))})
        message = self._store(channel, payload, via="api",
                              thread_ts=thread_ts if isinstance(thread_ts, str) else None)
        return Response(200, {"ok": True, "channel": self._channel_id(channel),
                              "ts": message.ts, "message": {"text": message.text}})

    # -- internals -----------------------------------------------------------------------

    @staticmethod
    def _channel_id(name: str) -> str:
        """Channel ids look like C0123ABCD; the sandbox derives a stable one from the name."""
        if name[:1] in ("C", "G", "D") and name[1:].isalnum() and name.isupper():
            return name
        return "C" + "".join(f"{ord(c):02X}" for c in name.lstrip("#"))[:10].upper()

    @staticmethod
    def _payload(request: Request) -> dict[str, Any] | None:
        content_type = (request.header("content-type") or "").lower()
        try:
            if "application/x-www-form-urlencoded" in content_type:
                form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
                if "blocks" in form:
                    form["blocks"] = json.loads(form["blocks"])
                return form
            if not request.body:
                return None
            payload = json.loads(request.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(payload, dict):
            return None
        if not payload.get("text") and not payload.get("blocks"):
            return None
        return payload

    def _throttle(self, channel: str) -> float | None:
        with self._lock:
            now = self._clock()
            bucket = self._buckets.get(channel)
            if bucket is None:
                bucket = self._buckets[channel] = _Bucket(self.rate_per_second, self.burst, now)
            return bucket.take(now)

    def _next_ts(self) -> str:
        with self._ts_lock:
            now = max(time.time(), self._last_ts + 0.000001)
            self._last_ts = now
            return f"{now:.6f}"

    def _store(self, channel: str, payload: dict[str, Any], *, via: str,
               thread_ts: str | None) -> SlackMessage:
        blocks = payload.get("blocks") or []
        message = SlackMessage(channel=channel, ts=self._next_ts(),
                               text=str(payload.get("text") or ""),
                               blocks=blocks if isinstance(blocks, list) else [],
                               via=via, thread_ts=thread_ts)
        with self._lock:
            self.messages.append(message)
        self.record_write("message", channel=channel, ts=message.ts, thread_ts=thread_ts,
                          via=via)
        if self.echo:
            stream = self.echo_stream or sys.stdout
            colour = bool(getattr(stream, "isatty", lambda: False)())
            stream.write(format_for_console(message, colour=colour))
            stream.flush()
        return message


def _api_error(code: str) -> Response:
    return Response(200, {"ok": False, "error": code})


def block_kit_problem(payload: dict[str, Any]) -> str | None:
    """The Slack error for a message beyond Block Kit's limits, or None."""
    text = payload.get("text")
    if isinstance(text, str) and len(text) > 40_000:
        return "msg_too_long"
    blocks = payload.get("blocks")
    if blocks is None:
        return None
    if not isinstance(blocks, list) or len(blocks) > 50:
        return "invalid_blocks"
    for block in blocks:
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            return "invalid_blocks"
        kind = block["type"]
        block_text = block.get("text")
        if kind == "header":
            if not _text_ok(block_text, 150, plain_only=True):
                return "invalid_blocks"
        elif kind == "section":
            fields = block.get("fields")
            if block_text is None and not fields:
                return "invalid_blocks"
            if block_text is not None and not _text_ok(block_text, 3000):
                return "invalid_blocks"
            if fields is not None and (not isinstance(fields, list) or len(fields) > 10
                                       or not all(_text_ok(f, 2000) for f in fields)):
                return "invalid_blocks"
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= 10:
                return "invalid_blocks"
        elif kind == "actions":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= 25:
                return "invalid_blocks"
            for element in elements:
                if not isinstance(element, dict) or not _text_ok(element.get("text"), 75,
                                                                  plain_only=True):
                    return "invalid_blocks"
                url = element.get("url")
                if url is not None and (not isinstance(url, str) or len(url) > 3000):
                    return "invalid_blocks"
        elif kind not in ("divider", "image", "rich_text", "input", "file", "video",
                          "markdown"):
            return "invalid_blocks"
    return None


def _text_ok(obj: Any, limit: int, plain_only: bool = False) -> bool:
    if not isinstance(obj, dict):
        return False
    allowed = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
    text = obj.get("text")
    return obj.get("type") in allowed and isinstance(text, str) and 1 <= len(text) <= limit


# -- console rendering for `make run` ----------------------------------------------------------

_BOLD, _DIM, _RED, _GREEN, _CYAN, _RESET = (
    "\033[1m", "\033[2m", "\033[31m", "\033[32m", "\033[36m", "\033[0m")


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _mrkdwn_to_console(text: str) -> str:
    """Enough of mrkdwn for a terminal: links become their label, markers go."""
    out = []
    i = 0
    while i < len(text):
        if text[i] == "<":
            end = text.find(">", i)
            if end != -1:
                inner = text[i + 1:end]
                out.append(inner.split("|", 1)[1] if "|" in inner else inner)
                i = end + 1
                continue
        out.append(text[i])
        i += 1
    return _unescape("".join(out).replace("*", "").replace("`", ""))


def _text_for_console(obj: Any) -> str:
    """A Block Kit text object as terminal text: mrkdwn simplified, plain_text verbatim."""
    if not isinstance(obj, dict):
        return ""
    text = str(obj.get("text", ""))
    return _mrkdwn_to_console(text) if obj.get("type") == "mrkdwn" else text


def _pair_up(parts: list[str], width: int) -> list[str]:
    """Section fields two to a line when both fit, as Slack lays them out in columns."""
    lines: list[str] = []
    i = 0
    while i < len(parts):
        if i + 1 < len(parts) and len(parts[i]) + 3 + len(parts[i + 1]) <= width:
            lines.append(f"{parts[i]} · {parts[i + 1]}")
            i += 2
        else:
            lines.append(parts[i])
            i += 1
    return lines


def _strip_controls(text: str) -> str:
    # Never let a message drive the terminal: no escape sequences, no bidi reordering.
    return "".join(ch for ch in text if ch == "\u200d"
                   or unicodedata.category(ch) not in ("Cc", "Cf"))


def format_for_console(message: SlackMessage, *, colour: bool = False, width: int = 78) -> str:
    """One compact block per message, readable in a terminal."""
    def paint(code: str, text: str) -> str:
        return f"{code}{text}{_RESET}" if colour else text

    title = ""
    lines: list[str] = []
    links: list[str] = []
    for block in message.blocks:
        kind = block.get("type")
        if kind == "header":
            title = str(block.get("text", {}).get("text", ""))
        elif kind == "section":
            if isinstance(block.get("fields"), list):
                parts = [_text_for_console(f).replace("\n", " ") for f in block["fields"]]
                lines.extend(_pair_up([p for p in parts if p], width - 2))
            if isinstance(block.get("text"), dict):
                lines.extend(_text_for_console(block["text"]).splitlines())
        elif kind == "context":
            for element in block.get("elements", []):
                text = _text_for_console(element) if isinstance(element, dict) else ""
                if text and not text.startswith("helpdesk-sentinel"):  # not the footer
                    lines.append(text)
        elif kind == "actions":
            for element in block.get("elements", []):
                if isinstance(element, dict) and isinstance(element.get("url"), str):
                    links.append(element["url"])
    if not title:
        title = _mrkdwn_to_console(message.text)
    recovered = title.startswith("✅")
    when = time.strftime("%H:%M:%S", time.localtime(message.received_at))
    thread = "  ↳ in thread" if message.thread_ts else ""
    rule_line = (paint(_BOLD + (_GREEN if recovered else _RED), _strip_controls(title))
                 + paint(_DIM, f"  {message.channel} {when}{thread}"))
    out = [paint(_DIM, "─" * width), rule_line]
    for line in lines:
        line = _strip_controls(line).strip()
        if line:
            # Wrapped, not cut: the last number on a line is often the one that matters.
            out.extend(textwrap.wrap(line, width, initial_indent="  ", subsequent_indent="    ",
                                     max_lines=4, placeholder=" …"))
    for url in links:
        out.append("  " + paint(_CYAN, _strip_controls(url)))
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run a standalone sandbox Slack that prints what it receives (for manual tries)."""
    parser = argparse.ArgumentParser(prog="python -m connectors.sandbox.slack")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    sandbox = SlackSandbox(port=args.port, echo=True)
    sandbox.start()
    print(f"sandbox Slack on {sandbox.url}")
    print(f"  webhook:  {sandbox.webhook_url()}")
    print(f"  Web API:  {sandbox.api_url}  (bot token {DEFAULT_TOKEN}, "
          f"channel {DEFAULT_CHANNEL})", flush=True)
    try:
        threading.Event().wait()  # until Ctrl-C
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
