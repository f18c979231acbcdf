"""Which language a customer wrote in, and whether the offline scorer can read it.

Detection uses py3langid's naive-Bayes model (BSD) restricted to the languages a helpdesk
commonly receives; the restricted tables ship inside our package (models/langid.npz,
see daemon.scoring.langwalk), so nothing is downloaded and py3langid is not imported.  A
restricted candidate set is both faster and steadier on short texts than the full 97.
Short replies ("ok thanks", "danke") carry too few character n-grams for any detector,
so a message is only called unsupported when an unsupported language wins *clearly*
(probability >= `CLEAR_WIN` on at least `MIN_LETTERS` letters, or most letters in a
non-Latin script); otherwise the most likely supported language is taken.  Text with no
letters at all (emoji, order numbers) is "und" (undetermined) and counts as supported:
there is nothing in it a reader of another language would see either.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

from daemon.scoring.langwalk import Walker

#: Languages the offline scorer has lexicons for (ISO 639-1).
SUPPORTED: frozenset[str] = frozenset({"en", "de", "fr", "es", "pt"})
#: The detector's candidates: the supported ones plus the languages most often met in
#: support queues, so that a Dutch or Polish message is recognised as such rather than
#: forced into the nearest supported language.
CANDIDATES: tuple[str, ...] = (
    "en", "de", "fr", "es", "pt", "it", "nl", "pl", "sv", "da", "no", "fi", "cs", "sk",
    "ro", "hu", "hr", "sl", "el", "tr", "ru", "uk", "bg", "ar", "he", "fa", "hi", "ja",
    "zh", "ko", "th", "vi", "id", "ca", "gl",
)
UNDETERMINED = "und"
CLEAR_WIN = 0.9
MIN_LETTERS = 12
#: Detection reads at most this many characters: the opening of a long email decides
#: its language as well as the whole, at a fraction of the cost.
SAMPLE_CHARS = 200

_STRIP = re.compile(r"https?://\S+|www\.\S+|\S+@\S+|(?<!\w)[@#]\w+|\d+")
_LATIN_MAX = 0x024F


def strip_for_detection(text: str) -> str:
    """The opening of the text without URLs, addresses, @mentions, #tags and digits."""
    return _STRIP.sub(" ", text[:SAMPLE_CHARS * 2])


@dataclass(frozen=True, slots=True)
class Detection:
    language: str  # ISO 639-1, or "und"
    supported: bool
    probability: float


class LanguageDetector:
    """Thread-safe after construction (the model is read-only)."""

    def __init__(self) -> None:
        walker = Walker.shipped()
        if walker.languages != frozenset(CANDIDATES):
            raise ValueError("models/langid.npz was built for other languages: "
                             "run bench/build_langid.py")
        self._rank: Callable[[str], list[tuple[str, float]]] = walker.rank

    def rank(self, sample: str) -> list[tuple[str, float]]:
        """Every candidate language with its probability, best first (py3langid's
        `rank`, computed by daemon.scoring.langwalk)."""
        return self._rank(sample)

    def detect(self, text: str) -> Detection:
        sample = strip_for_detection(text)[:SAMPLE_CHARS]
        letters = sum(map(str.isalpha, sample))
        if letters < 2:
            return Detection(UNDETERMINED, True, 0.0)
        ranked = self._rank(sample)
        best, probability = ranked[0]
        if best in SUPPORTED:
            return Detection(best, True, round(probability, 3))
        non_latin = sum(1 for c in sample if c.isalpha() and ord(c) > _LATIN_MAX)
        if non_latin * 2 > letters or (probability >= CLEAR_WIN and letters >= MIN_LETTERS):
            return Detection(best, False, round(probability, 3))
        for language, candidate_probability in ranked:
            if language in SUPPORTED:
                return Detection(language, True, round(candidate_probability, 3))
        return Detection(best, False, round(probability, 3))  # pragma: no cover


_SHARED: LanguageDetector | None = None
_LOCK = threading.Lock()


def shared_detector() -> LanguageDetector:
    """One detector per process: the tables cost ~30 MB and a second adds nothing."""
    global _SHARED
    with _LOCK:
        if _SHARED is None:
            _SHARED = LanguageDetector()
        return _SHARED
