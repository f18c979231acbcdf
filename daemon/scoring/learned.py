"""The offline scorer fitted to one team's tickets: a calibration on top of the offline one.

`helpdesk-sentinel train` (daemon.train) fits a multinomial logistic regression over
hashed word unigrams and bigrams plus the offline scorer's own reading (its score, its
band, its hard signals) to the team's labelled tickets and to the daemon's history
(messages Claude scored, messages agents marked).  This module holds the model file
format, the features, and `LearnedScorer`, which `scorer: {kind: local, model: PATH}`
loads.  The file is plain JSON (never pickle): classes, bias, and the non-zero weights by
hashed feature; it is read once at start-up.

How a prediction maps back onto the one scale (docs/scoring.md): the model decides the
class; the offline reading keeps the intensity.  A negative prediction keeps a negative
offline score as it is and otherwise lands between -0.1 and -0.55 (mild to plainly
negative: the model alone never makes a message "clearly angry"); a positive one
likewise between 0.1 and 0.55 unless the offline score is already positive; a neutral one
is a small number inside the neutral band.  Hard signals cap the result exactly as they
cap the offline score, and indicators are the offline scorer's.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from daemon.scoring.base import SIGNALS, Score, label_for
from daemon.scoring.local import LocalScorer, cap_for_signals

FORMAT = "helpdesk-sentinel/learned-scorer"
VERSION = 1
CLASSES: tuple[str, str, str] = ("negative", "neutral", "positive")
DEFAULT_BUCKETS = 1 << 18
MAX_FILE_BYTES = 64 * 1024 * 1024

_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)?", re.UNICODE)
_STRIP = re.compile(r"https?://\S+|www\.\S+|(?<!\w)@\w+")


class ModelError(Exception):
    """A model file that cannot be used; the message says why (no customer text)."""


def features(text: str, base: Score, buckets: int) -> dict[int, float]:
    """Hashed features of one message: words, word pairs, and the offline reading."""
    words = [w.lower() for w in _TOKEN.findall(_STRIP.sub(" ", text))][:400]
    grams = [f"w:{w}" for w in words] + [f"b:{a} {b}" for a, b in itertools.pairwise(words)]
    out: dict[int, float] = {}
    for gram in grams:
        out[zlib.crc32(gram.encode()) % buckets] = 1.0
    if out:  # presence features, scaled so long messages do not shout
        scale = 1.0 / math.sqrt(len(out))
        out = {k: v * scale for k, v in out.items()}
    # The offline reading, on reserved names (hashed like words, separately prefixed).
    reading = {f"o:band:{base.label}": 1.0, "o:score": base.score,
               "o:neg": max(0.0, -base.score), "o:pos": max(0.0, base.score)}
    for signal in base.signals:
        reading[f"o:signal:{signal}"] = 1.0
    for name, value in reading.items():
        index = zlib.crc32(name.encode()) % buckets
        out[index] = out.get(index, 0.0) + value
    return out


def class_probabilities(bias: Sequence[float], weights: Mapping[int, Sequence[float]],
                        feats: Mapping[int, float]) -> tuple[float, float, float]:
    """Softmax over the three classes of a linear model on hashed features (the
    scorer's reading and the trainer's gradient step both use it)."""
    logits = list(bias)
    for index, value in feats.items():
        row = weights.get(index)
        if row is not None:
            for k in range(3):
                logits[k] += row[k] * value
    top = max(logits)
    exps = [math.exp(v - top) for v in logits]
    total = sum(exps)
    return exps[0] / total, exps[1] / total, exps[2] / total


@dataclass(frozen=True, slots=True)
class LearnedModel:
    buckets: int
    bias: tuple[float, float, float]
    weights: Mapping[int, tuple[float, float, float]]
    trained: Mapping[str, Any]

    def probabilities(self, feats: Mapping[int, float]) -> tuple[float, float, float]:
        return class_probabilities(self.bias, self.weights, feats)

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": VERSION, "classes": list(CLASSES),
                "buckets": self.buckets, "features": "crc32 words+bigrams, offline reading",
                "bias": [round(b, 6) for b in self.bias],
                "weights": {str(k): [round(w, 5) for w in row]
                            for k, row in sorted(self.weights.items())},
                "trained": dict(self.trained)}

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(json.dumps(self.to_json(), separators=(",", ":")))
        temporary.replace(path)  # never a half-written model in place

    @classmethod
    def load(cls, path: Path | str) -> LearnedModel:
        path = Path(path)
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise ModelError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ModelError(f"{path}: no such file") from None
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ModelError(f"{path}: not a model file ({type(exc).__name__})") from None
        return cls.from_json(data, str(path))

    @classmethod
    def from_json(cls, data: Any, where: str = "model") -> LearnedModel:
        def bad(why: str) -> ModelError:
            return ModelError(f"{where}: not a helpdesk-sentinel model ({why}); make one "
                              "with `helpdesk-sentinel train`")

        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise bad("format")
        if data.get("version") != VERSION:
            raise bad(f"version {data.get('version')!r}, this daemon reads {VERSION}")
        if data.get("classes") != list(CLASSES):
            raise bad("classes")
        buckets = data.get("buckets")
        if not isinstance(buckets, int) or not 16 <= buckets <= 1 << 24:
            raise bad("buckets")
        try:
            bias = _triple(data.get("bias"))
            weights = {int(k): _triple(v) for k, v in dict(data.get("weights") or {}).items()}
        except (TypeError, ValueError):
            raise bad("weights") from None
        if any(not 0 <= k < buckets for k in weights):
            raise bad("weights")
        trained = data.get("trained")
        return cls(buckets, bias, weights, trained if isinstance(trained, dict) else {})


def _triple(value: Any) -> tuple[float, float, float]:
    if not isinstance(value, list) or len(value) != 3:
        raise ValueError("expected three numbers")
    out = tuple(float(v) for v in value)
    if not all(math.isfinite(v) for v in out):
        raise ValueError("not finite")
    return out[0], out[1], out[2]


def calibrated(probabilities: Sequence[float], base: Score) -> float:
    """The model's class with the offline reading's intensity (see the module text)."""
    p_neg, p_neu, p_pos = probabilities
    if p_neg >= p_neu and p_neg >= p_pos:
        return base.score if base.score <= -0.1 else -(0.1 + 0.45 * p_neg)
    if p_pos > p_neu:
        return base.score if base.score >= 0.1 else 0.1 + 0.45 * p_pos
    return max(-0.04, min(0.04, 0.04 * (p_pos - p_neg)))


class LearnedScorer(LocalScorer):
    """The offline scorer with a team's calibration on top; a drop-in `LocalScorer`."""

    def __init__(self, model: LearnedModel) -> None:
        super().__init__()
        self.learned = model
        self.model = f"{LocalScorer.model}+learned"

    def score_one(self, text: str) -> Score:
        base = super().score_one(text)
        probabilities = self.learned.probabilities(features(text, base, self.learned.buckets))
        value = cap_for_signals(calibrated(probabilities, base), base.signals & SIGNALS)
        return Score(score=round(value, 4), label=label_for(value),
                     confidence=round(max(probabilities), 3), indicators=base.indicators,
                     signals=base.signals, scorer=self.name, model=self.model)
