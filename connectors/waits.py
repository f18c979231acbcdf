"""How long the HTTP layer waits: the retry policy, a server's Retry-After, request budgets.

`RetryPolicy` is an immutable value with named defaults (attempts, backoff, timeouts,
the deadline of one attempt, the cap on a body).  `parse_retry_after` reads both forms
of `Retry-After` (delta-seconds and HTTP-date) and caps the wait.  `RateBudget` is a
sliding window of requests shared by every call that spends it (Zendesk's incremental
exports: 10 a minute for the whole account).
"""

from __future__ import annotations

import email.utils
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from vocab.backoff import Backoff

Clock = Callable[[], float]
Sleep = Callable[[float], None]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How one logical request is retried.  Immutable; named defaults."""

    attempts: int = 4  # total tries of one request, the first included
    backoff_base: float = 0.5  # seconds, doubled per attempt, with jitter
    backoff_cap: float = 8.0
    default_retry_after: float = 60.0  # a 429 without a usable header (Zendesk edge)
    max_retry_after: float = 600.0  # never trust a server asking for more than this
    max_inline_wait: float = 5.0  # longer waits are handed back to the scheduler
    connect_timeout: float = 5.0
    read_timeout: float = 30.0  # per socket read
    #: Wall-clock limit of one attempt, from sending to the last byte of the body.
    deadline: float = 60.0
    #: Largest body read (decompressed); a bigger one is refused without being held.
    max_response_bytes: int = 32 * 1024 * 1024

    def backoff(self, attempt: int) -> float:
        return Backoff(self.backoff_base, self.backoff_cap, jitter_low=0.75,
                       jitter_high=1.0).delay(attempt)


def parse_retry_after(value: str | None, now: float, cap: float) -> float | None:
    """Seconds to wait from a Retry-After value (delta-seconds or HTTP-date), capped."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - now
    if seconds != seconds:  # NaN
        return None
    return max(0.0, min(seconds, cap))


class RateBudget:
    """At most `limit` requests in any `window` seconds (sliding window).

    Shared by every call that spends it: Zendesk's incremental-export budget counts the
    export pages of a poll and nothing else.
    """

    def __init__(self, name: str, limit: int, window: float, clock: Clock = time.monotonic):
        if limit < 1 or window <= 0:
            raise ValueError("a rate budget needs limit >= 1 and window > 0")
        self.name = name
        self.limit = limit
        self.window = window
        self._clock = clock
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()

    def wait_needed(self) -> float:
        """Seconds until one more request fits; 0 when it fits now."""
        with self._lock:
            now = self._clock()
            while self._sent and now - self._sent[0] >= self.window:
                self._sent.popleft()
            if len(self._sent) < self.limit:
                return 0.0
            return self.window - (now - self._sent[0])

    def spend(self) -> None:
        with self._lock:
            self._sent.append(self._clock())
