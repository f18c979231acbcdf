"""Learned second readings of intensity: is this message clearly angry, or plainly satisfied?

The lexicon scorer hears anger in words ("unacceptable", "furious") and in the cue
families (deadlines, counted contacts, threats), but an angry customer who writes in a
calm register often leaves only a mild trace for them ("still not fixed", "I expect my
money back this week"), which the lexicons read as plainly negative at most; and a happy
customer who thanks an agent for fixing "the billing issue in 10 minutes" leaves a trace
of the trouble they were thanking for.  Two binary logistic regressions ("heads") read
the same hashed character n-grams (2 to 5 characters inside word boundaries, tf-idf
weighted, L2 normalised): angry or furious against the rest, and positive against the
rest.  bench/train_intensity.py fits both to the project's graded messages in the five
supported languages (bench/data/graded_messages.csv, written for the project, MIT), with
batches held out for the figures in docs/scoring.md.

What each may do, and nothing else:

* The angry head only deepens a reading the lexicons already call negative: when its
  probability reaches its threshold and the score is at most -0.05, the score is lowered
  into the "clearly angry" band (-0.72 at the threshold, down to -0.85 at certainty).
* The satisfied head only lifts a reading the lexicons call neutral (above -0.05, below
  0.05: they found no cue, or cues that cancel out) into the satisfied band (+0.3 to
  +0.6), and only when the caller says the message carries no hard signal at all (no
  cancellation, threat, repeat contact, text addressed to a model ...) and the angry
  head stays below its own threshold.  It decides whether a message the lexicons could
  not place is satisfied, never that a complaint is not one: a reading with any net
  negative evidence ("Thanks, but it still crashes") is never lifted, so praise added to
  a complaint cannot talk its verdict down.

The weights ship inside the package (daemon/scoring/models/intensity.npz, numpy arrays
only, loaded without pickle); nothing is downloaded.
"""

from __future__ import annotations

import math
import re
import threading
import zlib
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

BUCKETS = 1 << 18
NGRAMS = (2, 5)
MAX_CHARS = 2_000
#: The score at the threshold and at certainty: the "clearly angry" band of the scale.
AT_THRESHOLD = -0.72
AT_CERTAINTY = -0.85
#: Only a reading the lexicons already call negative is deepened: the model decides how
#: angry, never whether a message is negative (polarity keeps its indicator phrases).
NEGATIVE_READING = -0.05
#: Only a reading in the neutral band, above LIFT_FLOOR and below LIFT_CEILING, may be
#: lifted, to LIFTED_AT_THRESHOLD .. LIFTED_AT_CERTAINTY.
LIFT_FLOOR = NEGATIVE_READING
LIFT_CEILING = 0.05
LIFTED_AT_THRESHOLD = 0.3
LIFTED_AT_CERTAINTY = 0.6
MODEL_FILE = "intensity.npz"
#: The name scores carry (with the lexicon scorer's): bump it when the weights change.
INTENSITY_MODEL = "intensity-2"
_SPACE = re.compile(r"\s+")
_STRIP = re.compile(r"https?://\S+|www\.\S+|\S+@\S+")


def words(text: str) -> list[str]:
    """The lower-cased words the model reads (URLs and addresses left out)."""
    return _SPACE.sub(" ", _STRIP.sub(" ", text[:MAX_CHARS].lower())).split()


def ngrams(word: str) -> Iterator[str]:
    """Character n-grams of one word padded with a space on either side, so "angry"
    yields " a", "an", ..., "y ", " an", ... (n = 2 to 5)."""
    low, high = NGRAMS
    padded = f" {word} "
    length = len(padded)
    for size in range(low, min(high, length) + 1):
        for start in range(length - size + 1):
            yield padded[start:start + size]


@lru_cache(maxsize=16_384)  # words are Zipf-distributed; packed arrays, ~0.3 KB each
def _word_buckets(word: str) -> array[int]:
    return array("l", (zlib.crc32(gram.encode("utf-8", "surrogatepass")) & (BUCKETS - 1)
                       for gram in ngrams(word)))


def bucket_counts(text: str) -> tuple[Any, Any]:
    """The hashed n-gram buckets of the text (sorted, distinct) and how often each
    occurs; each distinct word is hashed once per process (words repeat)."""
    found: list[int] = []
    for word in words(text):
        found.extend(_word_buckets(word))
    return np.unique(np.array(found, dtype=np.intp), return_counts=True)


def _checked(name: str, array_: Any) -> Any:
    """The array as kept: float32 stays float32 (2 MB where float64 takes 4; the few
    entries a message reads are widened before any arithmetic, which is exact), anything
    else becomes float64."""
    array_ = np.asarray(array_)
    if array_.shape != (BUCKETS,):
        raise ValueError(f"intensity model array {name} must have {BUCKETS} entries")
    return array_ if array_.dtype == np.float32 else array_.astype(np.float64)


@dataclass(frozen=True)
class Head:
    """One binary reading: weights over the buckets, a bias, and the probability from
    which it acts."""

    weight: Any
    bias: float
    threshold: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "weight", _checked("weight", self.weight))
        object.__setattr__(self, "bias", float(self.bias))
        if not 0.0 < self.threshold < 1.0:
            raise ValueError("intensity threshold must be a probability")

    def probability(self, index: Any, values: Any, norm: float) -> float:
        weights = self.weight[index].astype(np.float64)
        logit = self.bias + (float(values @ weights) / norm if norm else 0.0)
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, logit))))


class IntensityModel:
    """Read-only after construction; safe to share between threads."""

    def __init__(self, idf: Any, angry: Head, satisfied: Head | None = None) -> None:
        self._idf = _checked("idf", idf)
        self.angry = angry
        self.satisfied = satisfied

    @property
    def threshold(self) -> float:
        return self.angry.threshold

    @classmethod
    def shipped(cls) -> IntensityModel:
        source = resources.files("daemon.scoring").joinpath("models", MODEL_FILE)
        with resources.as_file(source) as path, np.load(path, allow_pickle=False) as data:
            return cls(data["idf"], Head(data["weight"], float(data["bias"]),
                                         float(data["threshold"])),
                       Head(data["satisfied_weight"], float(data["satisfied_bias"]),
                            float(data["satisfied_threshold"])))

    def save(self, path: Any) -> None:
        """Write the arrays as shipped (float32 weights; `shipped` reads them back)."""
        arrays: dict[str, Any] = {
            "idf": self._idf.astype(np.float32),
            "weight": self.angry.weight.astype(np.float32),
            "bias": np.float64(self.angry.bias), "threshold": np.float64(self.threshold)}
        if self.satisfied is not None:
            arrays |= {"satisfied_weight": self.satisfied.weight.astype(np.float32),
                       "satisfied_bias": np.float64(self.satisfied.bias),
                       "satisfied_threshold": np.float64(self.satisfied.threshold)}
        np.savez_compressed(path, **arrays)

    def _features(self, text: str) -> tuple[Any, Any, float]:
        index, counts = bucket_counts(text)
        values = (1.0 + np.log(counts)) * self._idf[index].astype(np.float64)
        return index, values, float(np.sqrt(values @ values))

    def probability(self, text: str) -> float:
        """The angry head's probability that the message is angry or furious."""
        return self.angry.probability(*self._features(text))

    def probabilities(self, text: str) -> tuple[float, float]:
        """Both heads' probabilities (angry, satisfied; 0.0 without a satisfied head)."""
        features = self._features(text)
        satisfied = self.satisfied.probability(*features) if self.satisfied else 0.0
        return self.angry.probability(*features), satisfied

    def adjust(self, score: float, text: str, *, may_lift: bool) -> float:
        """`score` after these readings of `text`: a negative reading may be deepened, a
        neutral one lifted (the bands do not overlap; the heads run only where they may
        act).  `may_lift` is the caller's word that the message has no hard signal."""
        if score <= NEGATIVE_READING:
            return self.lowered(score, self.probability(text))
        if may_lift and self.satisfied is not None and score < LIFT_CEILING:
            return self.lifted(score, *self.probabilities(text))
        return score

    def lowered(self, score: float, probability: float) -> float:
        """The score after the angry reading: never higher than `score`."""
        if probability < self.angry.threshold or score > NEGATIVE_READING:
            return score
        share = (probability - self.angry.threshold) / (1.0 - self.angry.threshold)
        return min(score, AT_THRESHOLD + (AT_CERTAINTY - AT_THRESHOLD) * share)

    def lifted(self, score: float, angry: float, satisfied: float) -> float:
        """The score after the satisfied reading of a message with no hard signal: never
        lower than `score`, and unchanged outside the liftable band or when the angry
        head reaches its threshold."""
        head = self.satisfied
        if (head is None or satisfied < head.threshold or angry >= self.angry.threshold
                or not LIFT_FLOOR < score < LIFT_CEILING):
            return score
        share = (satisfied - head.threshold) / (1.0 - head.threshold)
        return max(score, LIFTED_AT_THRESHOLD
                   + (LIFTED_AT_CERTAINTY - LIFTED_AT_THRESHOLD) * share)


_SHARED: IntensityModel | None = None
_LOCK = threading.Lock()


def shared_intensity() -> IntensityModel:
    """One model per process (3 MB of weights, read-only)."""
    global _SHARED
    with _LOCK:
        if _SHARED is None:
            _SHARED = IntensityModel.shipped()
        return _SHARED


__all__ = ["AT_CERTAINTY", "AT_THRESHOLD", "BUCKETS", "INTENSITY_MODEL", "LIFTED_AT_CERTAINTY",
           "LIFTED_AT_THRESHOLD", "LIFT_CEILING", "LIFT_FLOOR", "Head", "IntensityModel",
           "bucket_counts", "ngrams", "shared_intensity", "words"]
