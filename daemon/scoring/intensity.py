"""A learned second reading of intensity: is this message at least clearly angry?

The lexicon scorer hears anger in words ("unacceptable", "furious") and in the cue
families (deadlines, counted contacts, threats), but an angry customer who writes in a
calm register often leaves only a mild trace for them ("still not fixed", "I expect my
money back this week"), which the lexicons read as plainly negative at most.  This model is a binary logistic regression over hashed
character n-grams (2 to 5 characters inside word boundaries, tf-idf weighted, L2
normalised), fitted by bench/train_intensity.py to the project's graded messages in the
five supported languages (bench/data/graded_messages.csv, written for the project, MIT)
with one batch held out for the figures in docs/scoring.md.

It only deepens a reading the lexicons already call negative, and never makes one
milder: when the probability that a message is angry or furious reaches the model's
threshold and the lexicon score is at most -0.05, the score is lowered to the "clearly
angry" band (-0.72 at the threshold, down to -0.85 at certainty).  A neutral or positive
reading is left alone, so the model cannot invent a complaint, and customer text cannot
use it to talk a verdict down.
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
MODEL_FILE = "intensity.npz"
#: The name scores carry (with the lexicon scorer's): bump it when the weights change.
INTENSITY_MODEL = "intensity-1"
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


class IntensityModel:
    """Read-only after construction; safe to share between threads."""

    def __init__(self, idf: Any, weight: Any, bias: float, threshold: float) -> None:
        if idf.shape != (BUCKETS,) or weight.shape != (BUCKETS,):
            raise ValueError(f"intensity model arrays must have {BUCKETS} entries")
        if not 0.0 < threshold < 1.0:
            raise ValueError("intensity threshold must be a probability")
        # Kept as shipped (float32: 2 MB where float64 took 4); the few entries a message
        # reads are widened before any arithmetic, which is then the float64 it always was.
        self._idf = np.asarray(idf, dtype=_stored_dtype(idf))
        self._weight = np.asarray(weight, dtype=_stored_dtype(weight))
        self.bias = float(bias)
        self.threshold = float(threshold)

    @classmethod
    def shipped(cls) -> IntensityModel:
        source = resources.files("daemon.scoring").joinpath("models", MODEL_FILE)
        with resources.as_file(source) as path, np.load(path, allow_pickle=False) as data:
            return cls(data["idf"], data["weight"], float(data["bias"]),
                       float(data["threshold"]))

    def probability(self, text: str) -> float:
        """The model's probability that the message is angry or furious."""
        index, counts = bucket_counts(text)
        values = (1.0 + np.log(counts)) * self._idf[index].astype(np.float64)
        norm = float(np.sqrt(values @ values))
        weights = self._weight[index].astype(np.float64)
        logit = self.bias + (float(values @ weights) / norm if norm else 0.0)
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, logit))))

    def deepen(self, score: float, text: str) -> float:
        """`score` after this reading of `text` (the model runs only where it may act)."""
        if score > NEGATIVE_READING:
            return score
        return self.lowered(score, self.probability(text))

    def lowered(self, score: float, probability: float) -> float:
        """The score after this reading: never higher than `score`."""
        if probability < self.threshold or score > NEGATIVE_READING:
            return score
        share = (probability - self.threshold) / (1.0 - self.threshold)
        return min(score, AT_THRESHOLD + (AT_CERTAINTY - AT_THRESHOLD) * share)


def _stored_dtype(weights: Any) -> Any:
    """float32 weights stay float32 (widening them is exact); anything else is float64."""
    return np.float32 if np.asarray(weights).dtype == np.float32 else np.float64


_SHARED: IntensityModel | None = None
_LOCK = threading.Lock()


def shared_intensity() -> IntensityModel:
    """One model per process (2 MB of weights, read-only)."""
    global _SHARED
    with _LOCK:
        if _SHARED is None:
            _SHARED = IntensityModel.shipped()
        return _SHARED


__all__ = ["AT_CERTAINTY", "AT_THRESHOLD", "BUCKETS", "INTENSITY_MODEL", "IntensityModel",
           "bucket_counts", "ngrams", "shared_intensity", "words"]
