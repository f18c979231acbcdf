"""How long to wait before trying again: one immutable value shared by every layer.

Sources, the outbox, the start-up wait for the database and the HTTP layer all back off
the same way (an exponential delay from a base, capped, optionally jittered so replicas
and sources do not retry in step); each names its own `Backoff` once, beside the thing
it paces, instead of writing the formula again.  Pure: the random draw is injectable.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

#: Exponents above this change nothing once capped, and 2.0 ** 1100 overflows a float.
_MAX_EXPONENT = 64


@dataclass(frozen=True, slots=True)
class Backoff:
    """`base * factor ** attempt` seconds, capped at `cap`, times a jitter factor drawn
    from `[jitter_low, jitter_high]` (both 1.0: no jitter).  Attempt 0 waits `base`."""

    base: float = 1.0
    cap: float = 300.0
    factor: float = 2.0
    jitter_low: float = 1.0
    jitter_high: float = 1.0

    def __post_init__(self) -> None:
        if self.base < 0 or self.cap < 0 or self.factor < 1:
            raise ValueError(f"invalid backoff {self!r}: base and cap must be >= 0, factor >= 1")
        if not 0 <= self.jitter_low <= self.jitter_high:
            raise ValueError(f"invalid backoff {self!r}: need 0 <= jitter_low <= jitter_high")

    def delay(self, attempt: int, draw: Callable[[], float] = random.random) -> float:
        """Seconds to wait before try number `attempt + 1` (`attempt` failures so far)."""
        exponent = min(_MAX_EXPONENT, max(0, attempt))
        raw = min(self.cap, self.base * self.factor ** exponent)
        if self.jitter_low == self.jitter_high:
            return raw * self.jitter_low
        return raw * (self.jitter_low + (self.jitter_high - self.jitter_low) * draw())
