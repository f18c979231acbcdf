"""One batch, one Messages API request: admission, the call, and what its answer is worth.

A request goes out only when the circuit breaker lets it and the daily budget has room
(an estimate of its input tokens is reserved, then settled with what the API counted).
The official SDK retries 429/5xx/529 itself; what still fails is classified here, once:
authentication disables the scorer, a spend limit pauses it for longer, anything else
counts against the breaker.  The answer is validated (daemon.scoring.claude_answer) and
the request marked *tainted* when an id is missing, doubled or unknown or the canary was
misread.  `BatchRequester.run` never raises: each message gets a Score or the reason
the offline score must stand in.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import anthropic
import structlog

from daemon.scoring.base import Score
from daemon.scoring.claude_answer import parse_answer
from daemon.scoring.claude_prompt import (
    OUTPUT_SCHEMA,
    SYSTEM_PROMPT,
    Canary,
    Item,
    build_user_content,
    estimated_input_tokens,
    max_output_tokens,
    nonce,
    with_canary,
)
from daemon.scoring.guards import CircuitBreaker, DailyBudget
from daemon.scoring.http_limits import limited_http_client
from daemon.scoring.settings import AnthropicScorerSettings

log = structlog.get_logger(__name__)

_SPEND_LIMIT_CODES = frozenset({"enforced_spend_limit_reached", "contract_spend_limit_reached"})
COUNTERS = ("requests", "input_tokens", "output_tokens", "cache_hits", "cascaded",
            "claude_scored", "pii_redacted", "tainted_requests", "isolated",
            "reread_requests", "rechecked", "disagreements")


class Unavailable(Exception):
    """Claude gave no usable answer for a batch; `reason` is a Score.fallback_reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class Answer:
    """One request's verdicts in the order sent (a Score or a fallback reason) and
    whether the request as a whole can be trusted."""

    verdicts: list[Score | str]
    tainted: bool = False


class Counters:
    """The scorer's running counts (`values`, read by tests and the status command)."""

    def __init__(self, names: Iterable[str] = COUNTERS) -> None:
        self._lock = threading.Lock()
        self.values: dict[str, int] = dict.fromkeys(names, 0)

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self.values[name] += amount


class BatchRequester:
    """Sends one batch per call through the SDK; thread-safe; `close()` ends the client."""

    def __init__(self, settings: AnthropicScorerSettings, *, breaker: CircuitBreaker,
                 budget: DailyBudget, counters: Counters) -> None:
        self.settings = settings
        self.breaker = breaker
        self.budget = budget
        self._counters = counters
        # Per-read timeouts alone let a server that drips bytes hold a worker forever:
        # the client also bounds each request's wall-clock time and response size.
        self._client = anthropic.Anthropic(
            api_key=settings.api_key.get_secret_value(), base_url=settings.base_url,
            timeout=settings.timeout, max_retries=settings.max_retries,
            http_client=limited_http_client(timeout=settings.timeout,
                                            deadline=2 * settings.timeout))
        self._output_config: Any = {"format": {"type": "json_schema",
                                               "schema": OUTPUT_SCHEMA}}
        if settings.effort is not None:
            self._output_config["effort"] = settings.effort
        self._random = random.SystemRandom()

    def close(self) -> None:
        self._client.close()

    def run(self, batch: list[Item]) -> Answer:
        """The batch's verdicts in order: a Score, or the fallback reason.  Never raises."""
        try:
            return self._request(batch)
        except Unavailable as exc:
            if exc.reason == "refusal" and len(batch) > 1:
                # One message may have caused it; ask for each alone so the others count.
                return Answer([self.run([replace(item, ident=nonce())]).verdicts[0]
                               for item in batch])
            return Answer([exc.reason] * len(batch))
        except Exception as exc:  # the contract: score() never raises
            log.warning("claude_scorer_error", error=type(exc).__name__)
            self.breaker.record_failure(type(exc).__name__)
            return Answer(["unavailable"] * len(batch))

    def _request(self, batch: list[Item]) -> Answer:
        sent, canary = with_canary(batch, self._random)
        user = build_user_content(sent)
        estimate = estimated_input_tokens(user)
        self._admit(estimate)
        response = self._send(user, blocks=len(sent))
        usage = response.usage
        self.budget.settle(estimate, usage.input_tokens)
        self._counters.add("requests")
        self._counters.add("input_tokens", usage.input_tokens)
        self._counters.add("output_tokens", usage.output_tokens)
        if response.stop_reason == "refusal":
            self.breaker.record_success()  # the service works; it declined this content
            raise Unavailable("refusal")
        text = "".join(getattr(block, "text", "") for block in response.content
                       if getattr(block, "type", "") == "text")
        try:
            verdicts, anomalies = parse_answer(text, sent)
        except ValueError:
            self.breaker.record_failure("invalid_output")
            raise Unavailable("invalid_output") from None
        self.breaker.record_success()
        tainted = anomalies > 0 or _misread(canary, verdicts)
        if tainted:
            log.info("claude_request_tainted", messages=len(batch),
                     unknown_or_duplicate_ids=anomalies)
        return Answer([verdicts[item.ident] for item in batch], tainted=tainted)

    def _admit(self, estimate: int) -> None:
        """Claim the breaker and a budget reservation, or raise Unavailable."""
        if not self.breaker.available():
            raise Unavailable("unavailable")
        if not self.budget.reserve(estimate):
            raise Unavailable("budget")
        if not self.breaker.allow():  # another thread took the half-open probe
            self.budget.release(estimate)
            raise Unavailable("unavailable")

    def _send(self, user: str, *, blocks: int) -> Any:
        """The SDK call; its errors are classified here, once, into Unavailable."""
        try:
            return self._client.messages.create(
                model=self.settings.model, max_tokens=max_output_tokens(blocks),
                system=SYSTEM_PROMPT, messages=[{"role": "user", "content": user}],
                output_config=self._output_config)
        except (anthropic.AuthenticationError, anthropic.PermissionDeniedError) as exc:
            self.breaker.disable(f"HTTP {exc.status_code}")
            raise Unavailable("auth") from None
        except anthropic.RateLimitError as exc:
            if exc.error_code in _SPEND_LIMIT_CODES:
                self.breaker.open_for(self.settings.breaker.spend_limit_cooldown.total_seconds(),
                                      "spend_limit")
                raise Unavailable("spend_limit") from None
            self.breaker.record_failure("rate_limited")
            raise Unavailable("unavailable") from None
        except anthropic.APIStatusError as exc:
            self.breaker.record_failure(f"HTTP {exc.status_code}")
            raise Unavailable("unavailable") from None
        except anthropic.APIError as exc:  # connection errors and timeouts
            self.breaker.record_failure(type(exc).__name__)
            raise Unavailable("unavailable") from None


def _misread(canary: Canary | None, verdicts: dict[str, Score | str]) -> bool:
    if canary is None:
        return False
    reading = verdicts.get(canary.item.ident)
    return not (isinstance(reading, Score) and canary.read_right(reading.score))
