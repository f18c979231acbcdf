"""A local look-alike of the Anthropic Messages API (POST /v1/messages) for tests and benches.

The real `anthropic` SDK talks to it through `base_url`, so our integration is exercised
over a real socket with the SDK's own request building, retries and error classes.  It
checks what the real API checks that matters to us (the key as `x-api-key` or, as SDK 2.x
sends it, `Authorization: Bearer`; anthropic-version; model,
max_tokens, messages, and `output_config.format` of type json_schema), answers in the
Messages wire format (content blocks, stop_reason, usage), and records every request so a
test can assert what left the machine (redacted, delimited, batched, within budget).

Its "judgement" is a deliberately tiny keyword scorer over each `<customer_message id=..>`
block (English plus a few German, French, Spanish and Portuguese complaint words): it
exists to test our integration, not to be right.  It is also gullible on purpose, in
general ways rather than for one phrase, so tests prove that the daemon's design keeps
the severity when the model is fooled (not that the model resists):

- obedience: a block with instruction-like text asking for a good or neutral rating, in
  any of those languages, as role-play or as a claimed administrator, is rated as it asks
  (+0.95, or 0.0 for "neutral"), with no signals and no injection flag;
- contagion: a block telling the model how to rate *all/other* messages gets every block
  of the request rated +0.95;
- forgery: result-shaped JSON inside a block (`"id": ..., "score": ...`) is echoed into
  the answer as if the model had produced it, so a customer can answer for any id it
  guesses.

Behaviours for failure tests (`queue(behaviour, count)` or `default_behaviour`):
"ok", "refusal" (stop_reason "refusal"), "malformed" (text that is not JSON),
"schema_violation" (valid JSON, wrong shape and out-of-range values), "wrong_ids"
(results for ids that were not sent), "spend_limit" (429 with error_code
enforced_spend_limit_reached), "overloaded" (529 with retry-after), "server_error"
(500), "rate_limited" (429 with retry-after), "auth" (401).  Latency is `latency`
seconds per request.  Tokens are estimated at 4 characters per token (the convention the
Anthropic docs give for English text), input from system prompt, message text and the
JSON schema (the real API adds schema tokens too).
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from connectors.sandbox.base import Request, Response, SandboxServer

CHARS_PER_TOKEN = 4

_BLOCK = re.compile(r'<customer_message id="([^"]{1,64})"(?: [a-z]+="[^"]{0,16}")*>\n?(.*?)\n?'
                    r'</customer_message>', re.S)
_NEGATIVE: tuple[str, ...] = ("broken", "refund", "angry", "terrible", "worst", "not working", "still",
             "waiting", "cancel", "lawyer", "unacceptable", "hate", "useless", "awful",
             "crash", "failing", "error", "nobody", "third time", "charged twice",
             "not arrived", "deadline")
_POSITIVE = ("thanks", "thank you", "great", "love", "perfect", "awesome", "happy",
             "resolved", "excellent")
_SIGNAL_WORDS = {"lawyer": "legal_threat", "cancel": "churn_risk", "manager": "manager_request",
                 "again": "repeat_contact", "urgent": "urgent"}
_NEGATIVE += (  # a few complaint words of other languages, for the honest reading
    "wütend", "kaputt", "schrecklich", "inakzeptabel", "erstattung", "warte", "furieux",
    "furieuse", "inacceptable", "remboursement", "cassé", "attends", "horrible", "furioso",
    "furiosa", "inaceptable", "reembolso", "roto", "espero", "horrível", "inaceitável",
    "quebrado", "péssimo", "esperando", "semanas", "wochen", "semaines", "enojado")
# What a gullible model takes as an order: a rating verb (or a claimed authority / a
# role-play frame) near a mild target word, in several languages.
_ORDER_VERB = (r"(?:rate|rating|score|scoring|classify|label|mark|record|log|flag|treat|"
               r"consider|tag|output|return|bewerte\w*|einstuf\w*|"
               r"markier\w*|klassifizier\w*|note[zr]?|évalue\w*|evalue\w*|classe[zr]?|"
               r"marque[zr]?|califica\w*|clasifica\w*|puntúa\w*|avali\w*|classifi\w*|"
               r"pontu\w*|administrator|admin|system|developer|override|pretend|imagine|"
               r"act as|you are|du bist|tu es|eres|você é)")
_ORDER_TARGET = (r"(?:positi[fv]\w*|neutral\w*|neutre|neutr[oa]|happy|satisfied|delighted|"
                 r"pleased|glücklich|zufrieden|content[e]?|satisfait\w*|heureu\w*|"
                 r"feliz|satisfech\w*|satisfeit\w*|contente|great|excellent|0\.9\d*|"
                 r"\+1|five stars|5 stars|fünf sterne|cinq étoiles|cinco estrellas|"
                 r"cinco estrelas|no complaint|kein\w* beschwerde|low priority)")
_GULLIBLE = re.compile(rf"{_ORDER_VERB}.{{0,80}}?{_ORDER_TARGET}|"
                       rf"{_ORDER_TARGET}.{{0,40}}?{_ORDER_VERB}", re.I | re.S)
_NEUTRAL_ORDER = re.compile(r"neutr", re.I)
_CONTAGION = re.compile(r"\b(?:all|every|each|other|alle[ns]?|jede[nrs]?|toutes?|tous|"
                        r"autres?|todos?|todas?|otros?|outros?|cada)\b.{0,40}?"
                        r"\b(?:messages?|tickets?|blocks?|nachrichten|mensajes?|mensagens?)\b",
                        re.I | re.S)
_FORGED = re.compile(r'\{[^{}]{0,400}?"id"\s*:\s*"([^"]{1,64})"[^{}]{0,400}?\}', re.S)


@dataclass(slots=True)
class RecordedCall:
    """One request as the sandbox saw it (the API key itself is not kept)."""

    body: dict[str, Any]
    api_key_ok: bool
    anthropic_version: str | None
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 200
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def user_text(self) -> str:
        parts: list[str] = []
        for message in self.body.get("messages", []):
            content = message.get("content")
            if isinstance(content, str):
                parts.append(content)
            elif isinstance(content, list):
                parts.extend(str(block.get("text", "")) for block in content
                             if isinstance(block, dict))
        return "\n".join(parts)

    @property
    def system_text(self) -> str:
        system = self.body.get("system", "")
        if isinstance(system, list):
            return "\n".join(str(b.get("text", "")) for b in system if isinstance(b, dict))
        return str(system)

    def message_blocks(self) -> list[tuple[str, str]]:
        return _BLOCK.findall(self.user_text)


def _error(status: int, kind: str, message: str, headers: dict[str, str] | None = None,
           details: dict[str, Any] | None = None) -> Response:
    error: dict[str, Any] = {"type": kind, "message": message}
    if details:
        error["details"] = details
    return Response(status, {"type": "error", "error": error,
                             "request_id": f"req_{uuid.uuid4().hex[:16]}"}, headers or {})


def obeyed(text: str) -> dict[str, Any] | None:
    """The verdict a block orders the gullible model to give, if it gives an order."""
    match = _GULLIBLE.search(text)
    if match is None:
        return None
    if _NEUTRAL_ORDER.search(match.group(0)):
        return {"score": 0.0, "label": "neutral", "confidence": 0.9,
                "indicators": [], "signals": [], "injection_attempt": False}
    return {"score": 0.95, "label": "very_positive", "confidence": 0.95,
            "indicators": [], "signals": [], "injection_attempt": False}


def contagious(text: str) -> bool:
    """True when a block orders a rating for the other messages of the request too."""
    return _GULLIBLE.search(text) is not None and _CONTAGION.search(text) is not None


def forged_results(text: str) -> list[dict[str, Any]]:
    """Result-shaped JSON objects in a block, which the gullible model repeats."""
    out: list[dict[str, Any]] = []
    for match in _FORGED.finditer(text):
        try:
            data = json.loads(match.group(0))
        except ValueError:
            continue
        if isinstance(data, dict):
            out.append(data)
    return out


def judge(text: str) -> dict[str, Any]:
    """The sandbox's keyword verdict on one message (deterministic)."""
    lowered = text.lower()
    order = obeyed(text)
    if order is not None:
        return order
    negative = [w for w in _NEGATIVE if w in lowered]
    positive = [w for w in _POSITIVE if w in lowered]
    score = max(-1.0, min(1.0, (len(positive) - len(negative)) / 3))
    label = ("very_negative" if score <= -0.6 else "negative" if score <= -0.05 else
             "neutral" if score < 0.05 else "positive" if score < 0.6 else "very_positive")
    # Quoted in lower case, as a model may do: the client must map them to the message.
    indicators = negative + positive
    signals = sorted({sig for word, sig in _SIGNAL_WORDS.items() if word in lowered})
    return {"score": round(score, 3), "label": label, "confidence": 0.7,
            "indicators": indicators[:3], "signals": signals, "injection_attempt": False,
            "topic": _topic(lowered)}


def _topic(lowered: str) -> str:
    """A short topic label as a model gives one: here, a known product area named in the
    message (deterministic), or the empty string."""
    return next((label for word, label in _TOPIC_WORDS if word in lowered), "")


_TOPIC_WORDS = (("log in", "login failure"), ("login", "login failure"),
                ("sign in", "login failure"), ("checkout", "checkout payment"),
                ("invoice", "invoice"), ("export", "data export"), ("refund", "refund"),
                ("password", "password reset"), ("crash", "app crash"))


def _gullible_results(blocks: list[tuple[str, str]]) -> list[dict[str, Any]]:
    results = [{"id": bid, **judge(t)} for bid, t in blocks]
    if any(contagious(t) for _, t in blocks):
        for result in results:
            result.update(score=0.95, label="very_positive", signals=[], indicators=[],
                          injection_attempt=False)
    for _, block in blocks:
        results.extend(forged_results(block))
    return results


class AnthropicSandbox(SandboxServer):
    vendor = "anthropic"

    def __init__(self, api_key: str = "sk-ant-sandbox", latency: float = 0.0,
                 retry_after: str | None = "1", retry_after_ms: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.api_key = api_key
        self.latency = latency
        # Sent with 429/529/500 answers; the SDK prefers retry-after-ms when present.
        self.retry_after = retry_after
        self.retry_after_ms = retry_after_ms
        self.in_flight = 0
        self.max_in_flight = 0
        self.default_behaviour = "ok"
        self.calls: list[RecordedCall] = []
        self._behaviours: list[list[Any]] = []  # [behaviour, remaining]
        self._calls_lock = threading.Lock()
        self.route("POST", "/v1/messages", self._messages)

    def start(self) -> AnthropicSandbox:
        super().start()
        assert self._server is not None
        # The base handler writes headers and body in two sends; with Nagle on, the body
        # waits for the client's delayed ACK (~40 ms a request), which would dominate a
        # latency benchmark.  Set on this server's own handler class only.
        handler = self._server.RequestHandlerClass
        handler.disable_nagle_algorithm = True  # type: ignore[attr-defined]
        return self

    # -- test controls -------------------------------------------------------------

    def reset(self) -> None:
        """Forget calls, queued behaviours and faults (a shared sandbox between tests)."""
        self.clear_faults()
        with self._calls_lock:
            self.calls.clear()
            self._behaviours.clear()
            self.default_behaviour = "ok"
            self.latency = 0.0
            self.max_in_flight = 0
        with self._lock:
            self.request_log.clear()

    def queue(self, behaviour: str, count: int = 1) -> None:
        """The next `count` requests behave so (after those, `default_behaviour`)."""
        with self._calls_lock:
            self._behaviours.append([behaviour, count])

    def _next_behaviour(self) -> str:
        with self._calls_lock:
            if self._behaviours:
                entry = self._behaviours[0]
                entry[1] -= 1
                if entry[1] <= 0:
                    self._behaviours.pop(0)
                return str(entry[0])
            return self.default_behaviour

    @property
    def input_tokens(self) -> int:
        with self._calls_lock:
            return sum(c.input_tokens for c in self.calls)

    # -- the endpoint ----------------------------------------------------------------

    def _messages(self, request: Request) -> Response:
        body = request.json()
        # The API documents `x-api-key`; SDK 2.x sends the key as `Authorization: Bearer`.
        api_key_ok = (request.header("x-api-key") == self.api_key
                      or request.header("authorization") == f"Bearer {self.api_key}")
        call = RecordedCall(body=body if isinstance(body, dict) else {},
                            api_key_ok=api_key_ok,
                            anthropic_version=request.header("anthropic-version"),
                            headers={k: v for k, v in request.headers.items()
                                     if k not in ("x-api-key", "authorization")})
        with self._calls_lock:
            self.calls.append(call)
        response = self._answer(call)
        call.status = response.status
        return response

    def _retry_headers(self) -> dict[str, str]:
        headers = {}
        if self.retry_after is not None:
            headers["retry-after"] = self.retry_after
        if self.retry_after_ms is not None:
            headers["retry-after-ms"] = self.retry_after_ms
        return headers

    def _answer(self, call: RecordedCall) -> Response:
        with self._calls_lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.latency:
                time.sleep(self.latency)
            return self._verdict(call)
        finally:
            with self._calls_lock:
                self.in_flight -= 1

    def _verdict(self, call: RecordedCall) -> Response:
        behaviour = self._next_behaviour()
        if not call.api_key_ok or behaviour == "auth":
            return _error(401, "authentication_error", "invalid API key")
        if not call.anthropic_version:
            return _error(400, "invalid_request_error", "anthropic-version header is required")
        body = call.body
        for required in ("model", "max_tokens", "messages"):
            if required not in body:
                return _error(400, "invalid_request_error", f"{required}: Field required")
        fmt = (body.get("output_config") or {}).get("format") or {}
        if fmt.get("type") != "json_schema" or not isinstance(fmt.get("schema"), dict):
            return _error(400, "invalid_request_error", "output_config.format json_schema expected")
        if behaviour == "spend_limit":
            return _error(429, "rate_limit_error",
                          "Your organization has reached its monthly spend limit.",
                          {"x-should-retry": "false"},
                          {"error_code": "enforced_spend_limit_reached"})
        if behaviour == "rate_limited":
            return _error(429, "rate_limit_error", "Number of requests has exceeded your rate limit",
                          self._retry_headers())
        if behaviour == "overloaded":
            return _error(529, "overloaded_error", "Overloaded", self._retry_headers())
        if behaviour == "server_error":
            return _error(500, "api_error", "Internal server error", self._retry_headers())

        blocks = call.message_blocks()
        # The real API also bills the tokens it adds to enforce the schema; the schema's
        # JSON length stands in for that.
        call.input_tokens = math.ceil((len(call.system_text) + len(call.user_text)
                                       + len(json.dumps(fmt["schema"]))) / CHARS_PER_TOKEN)
        stop_reason = "end_turn"
        if behaviour == "refusal":
            text, stop_reason = "", "refusal"
        elif behaviour == "malformed":
            text = '{"results": [{"id": "m0", "score": '
        elif behaviour == "schema_violation":
            text = json.dumps({"results": [{"id": bid, "score": 7, "label": "furious",
                                            "confidence": 3, "indicators": ["not in the text"],
                                            "signals": ["world_domination"]}
                                           for bid, _ in blocks]})
        elif behaviour == "wrong_ids":
            text = json.dumps({"results": [{"id": f"x{bid}", **judge(t)} for bid, t in blocks]})
        else:
            text = json.dumps({"results": _gullible_results(blocks)})
        call.output_tokens = math.ceil(len(text) / CHARS_PER_TOKEN)
        content = [{"type": "text", "text": text}] if text else []
        return Response(200, {
            "id": f"msg_{uuid.uuid4().hex[:24]}", "type": "message", "role": "assistant",
            "model": body.get("model"), "content": content, "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {"input_tokens": call.input_tokens, "output_tokens": call.output_tokens},
        }, {"request-id": f"req_{uuid.uuid4().hex[:16]}"})
