"""The `Scorer` contract: texts in, one `Score` per text out, in order.

Every scorer (offline, Claude, cached, cascaded) implements `Scorer.score(texts)`.  It
is batched so a remote scorer can run requests concurrently and pack several messages
into one request.  Texts reach a scorer already normalised (daemon.text.normalise).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from vocab import SIGNALS

__all__ = ["SIGNALS"]  # with the names defined below

Label = Literal["very_negative", "negative", "neutral", "positive", "very_positive"]
LABELS: tuple[Label, ...] = ("very_negative", "negative", "neutral", "positive", "very_positive")

#: Signals only the daemon sets (a model claiming one is ignored).
DAEMON_SIGNALS: frozenset[str] = frozenset({"scorer_disagreement"})


def label_for(score: float) -> Label:
    """The label band of a score in [-1, 1] (shared by every scorer)."""
    if score <= -0.6:
        return "very_negative"
    if score <= -0.05:
        return "negative"
    if score < 0.05:
        return "neutral"
    if score < 0.6:
        return "positive"
    return "very_positive"


@dataclass(frozen=True, slots=True)
class Score:
    score: float  # in [-1, 1]
    label: Label
    confidence: float  # in [0, 1]
    indicators: tuple[str, ...] = ()  # phrases quoted from the message
    signals: frozenset[str] = frozenset()  # subset of SIGNALS
    scorer: str = "local"  # which scorer produced it ("local", "anthropic", "fallback")
    model: str = ""
    needs_rescore: bool = False  # a fallback score to be replaced when the primary is back
    # Why a fallback score is not the primary's: "unavailable" (breaker open, errors after
    # retries), "budget", "spend_limit", "auth", "refusal", "invalid_output"; "" otherwise.
    fallback_reason: str = ""
    # A short topic label ("login failure"), when the scorer gives one (Claude does, in
    # the same request); incidents group negative messages by it (rules/incidents.py).
    topic: str = ""
    # The message's language (ISO 639-1; "und" when there is nothing to tell it by; ""
    # when no detector ran) and whether the scorer could read it.  An unsupported message
    # has confidence 0 and the `unsupported_language` signal: its 0.0 is not "calm".
    language: str = ""
    language_supported: bool = True


@runtime_checkable
class Scorer(Protocol):
    name: str
    model: str

    def score(self, texts: Sequence[str]) -> list[Score]:
        """One Score per text, same order.  Must not raise for any text."""
        ...

    def close(self) -> None: ...
