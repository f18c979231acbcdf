"""Cost and availability guards of the Claude scorer: a circuit breaker and a daily budget.

Both are small, thread-safe and driven by injected clocks so tests move time instead of
sleeping.  The breaker opens after `failure_threshold` consecutive failed requests (the
SDK has already retried each), lets one probe through after `reset_after`, and closes
on its success; a spend-limit answer or an authentication failure opens it for longer
or for good.  The budget counts requests and input tokens per UTC day and says no when
either would be exceeded, so the daemon degrades to the offline scorer instead of
stopping or overspending.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime

import structlog

log = structlog.get_logger(__name__)


class CircuitBreaker:
    def __init__(self, *, failure_threshold: int = 5, reset_after: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.failure_threshold = failure_threshold
        self.reset_after = reset_after
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._open_until: float | None = None
        self._probing = False
        self.disabled_reason: str | None = None  # set for good (auth): needs a restart/reload

    @property
    def state(self) -> str:
        with self._lock:
            return self._state_locked()

    def _state_locked(self) -> str:
        if self.disabled_reason is not None:
            return "disabled"
        if self._open_until is None:
            return "closed"
        return "half_open" if self._clock() >= self._open_until else "open"

    def allow(self) -> bool:
        """May a request go out now?  In half-open state only one probe at a time."""
        with self._lock:
            state = self._state_locked()
            if state == "closed":
                return True
            if state == "half_open" and not self._probing:
                self._probing = True
                return True
            return False

    def available(self) -> bool:
        """Would a request be allowed (without claiming the probe)?"""
        with self._lock:
            state = self._state_locked()
            return state == "closed" or (state == "half_open" and not self._probing)

    def record_success(self) -> None:
        with self._lock:
            was_open = self._open_until is not None
            self._failures = 0
            self._open_until = None
            self._probing = False
        if was_open:
            log.info("claude_scorer_recovered")

    def record_failure(self, reason: str) -> None:
        with self._lock:
            self._failures += 1
            self._probing = False
            opening = self._failures >= self.failure_threshold or self._open_until is not None
            if not opening:
                return
            was_open = self._open_until is not None
            self._open_until = self._clock() + self.reset_after
        if not was_open:  # log on the edge only
            log.warning("claude_scorer_unavailable", reason=reason,
                        retry_in_s=self.reset_after)

    def open_for(self, seconds: float, reason: str) -> None:
        with self._lock:
            self._open_until = self._clock() + seconds
            self._probing = False
        log.warning("claude_scorer_paused", reason=reason, retry_in_s=seconds)

    def disable(self, reason: str) -> None:
        with self._lock:
            already = self.disabled_reason is not None
            self.disabled_reason = reason
        if not already:
            log.error("claude_scorer_disabled", reason=reason)


class DailyBudget:
    """Requests and input tokens per UTC day; `None` limits mean unlimited."""

    def __init__(self, *, requests_per_day: int | None, input_tokens_per_day: int | None,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.requests_per_day = requests_per_day
        self.input_tokens_per_day = input_tokens_per_day
        self._now = now
        self._lock = threading.Lock()
        self._day: date = now().date()
        self.requests = 0
        self.input_tokens = 0
        self._warned = False

    def _roll_locked(self) -> None:
        today = self._now().date()
        if today != self._day:
            self._day, self.requests, self.input_tokens, self._warned = today, 0, 0, False

    def reserve(self, estimated_tokens: int) -> bool:
        """Claim one request and an estimate of its input tokens; False when over budget."""
        with self._lock:
            self._roll_locked()
            over = ((self.requests_per_day is not None
                     and self.requests + 1 > self.requests_per_day)
                    or (self.input_tokens_per_day is not None
                        and self.input_tokens + estimated_tokens > self.input_tokens_per_day))
            if over:
                warn = not self._warned
                self._warned = True
            else:
                self.requests += 1
                self.input_tokens += estimated_tokens
                warn = False
        if warn:
            log.warning("claude_budget_exhausted", requests=self.requests,
                        input_tokens=self.input_tokens)
        return not over

    def settle(self, estimated_tokens: int, actual_tokens: int) -> None:
        """Replace a reservation's estimate with what the API reported."""
        with self._lock:
            self.input_tokens += actual_tokens - estimated_tokens

    def release(self, estimated_tokens: int) -> None:
        """Give back a reservation that was not used."""
        with self._lock:
            self.requests = max(0, self.requests - 1)
            self.input_tokens = max(0, self.input_tokens - estimated_tokens)

    def has_room(self) -> bool:
        with self._lock:
            self._roll_locked()
            return ((self.requests_per_day is None or self.requests < self.requests_per_day)
                    and (self.input_tokens_per_day is None
                         or self.input_tokens < self.input_tokens_per_day))
