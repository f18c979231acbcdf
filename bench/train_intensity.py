"""Fit the offline scorer's intensity model and print its held-out figures (one JSON line).

    .venv/bin/python bench/train_intensity.py [--hold-out blind6 blind7] [--write]

Reads bench/data/graded_messages.csv (each text prepared as the daemon prepares a
message: daemon.text.normalise) and fits, on every split but the held-out ones, the two
binary logistic regressions of daemon.scoring.intensity over its hashed character
n-grams: angry or furious against the rest, and positive against the rest.  Each head's
threshold comes from five-fold out-of-fold probabilities on the training rows alone:
- angry: the lowest threshold at which at most 2% of the calm grades (mild, neutral,
  positive) would be lowered;
- satisfied: the lowest at which at most 0.5% of the other grades would be lifted, counting
  only the rows the scorer would let it lift (lexicon reading in the liftable band, no
  hard signal, angry head below its threshold).
It then reports, on the held-out rows it never saw, the scale's target fractions per
language for the lexicon reading alone and with the model.  `--write` saves the weights to
daemon/scoring/models/intensity.npz (what the package ships).  Deterministic: no random
state, full-batch optimisation, fixed iteration count.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from daemon.scoring.base import Score  # noqa: E402
from daemon.scoring.intensity import (  # noqa: E402
    BUCKETS,
    LIFT_CEILING,
    LIFT_FLOOR,
    Head,
    IntensityModel,
    bucket_counts,
)
from daemon.scoring.local import LocalScorer  # noqa: E402
from daemon.text import normalise  # noqa: E402

DATA = ROOT / "bench" / "data" / "graded_messages.csv"
OUTPUT = ROOT / "daemon" / "scoring" / "models" / "intensity.npz"
ANGRY = frozenset({"angry", "furious"})
CALM = frozenset({"mild", "neutral", "positive"})
GRADES = ("furious", "angry", "negative", "mild", "neutral", "positive")
C = 16.0  # inverse L2 strength, per example (as scikit-learn's LogisticRegression)
ITERATIONS = 3_000
MIN_DF = 2
CALM_BUDGET = 0.02
LIFT_BUDGET = 0.005
THRESHOLDS = tuple(round(0.30 + 0.05 * step, 2) for step in range(14))


class Rows:
    """Sparse tf rows (CSR arrays) of a list of texts."""

    def __init__(self, texts: Sequence[str]) -> None:
        found = [bucket_counts(text) for text in texts]
        self.indptr = np.cumsum([0] + [len(index) for index, _ in found])
        self.indices = np.concatenate([index for index, _ in found])
        self.tf = 1.0 + np.log(np.concatenate([counts for _, counts in found]))

    def take(self, rows: Sequence[int]) -> Rows:
        out = Rows.__new__(Rows)
        spans = [(self.indptr[r], self.indptr[r + 1]) for r in rows]
        out.indptr = np.cumsum([0] + [b - a for a, b in spans])
        out.indices = np.concatenate([self.indices[a:b] for a, b in spans])
        out.tf = np.concatenate([self.tf[a:b] for a, b in spans])
        return out


def idf_of(rows: Rows, count: int) -> Any:
    df = np.bincount(rows.indices, minlength=BUCKETS).astype(np.float64)
    idf = np.log((1.0 + count) / (1.0 + df)) + 1.0
    idf[df < MIN_DF] = 0.0
    return idf


def _normalised(rows: Rows, idf: Any) -> Any:
    values = rows.tf * idf[rows.indices]
    norms = np.sqrt(np.add.reduceat(values * values, rows.indptr[:-1]))
    norms[norms == 0.0] = 1.0
    return values / np.repeat(norms, np.diff(rows.indptr))


def fit(rows: Rows, labels: Any, idf: Any) -> tuple[Any, float]:
    """L2-regularised logistic regression by Nesterov-accelerated gradient descent."""
    values = _normalised(rows, idf)
    count = len(labels)
    lam = 1.0 / (C * count)
    step = 1.0 / (0.25 + lam)  # rows have unit norm: the loss is 0.25-smooth
    weight, bias = np.zeros(BUCKETS), 0.0
    ahead_w, ahead_b, previous_w, previous_b = weight, bias, weight, bias
    starts = rows.indptr[:-1]
    lengths = np.diff(rows.indptr)
    for iteration in range(1, ITERATIONS + 1):
        logits = np.add.reduceat(values * ahead_w[rows.indices], starts) + ahead_b
        logits[lengths == 0] = ahead_b
        error = 1.0 / (1.0 + np.exp(-logits)) - labels
        grad_w = np.bincount(rows.indices, weights=values * np.repeat(error, lengths),
                             minlength=BUCKETS) / count + lam * ahead_w
        grad_b = float(error.mean())
        weight, bias = ahead_w - step * grad_w, ahead_b - step * grad_b
        momentum = (iteration - 1) / (iteration + 2)
        ahead_w = weight + momentum * (weight - previous_w)
        ahead_b = bias + momentum * (bias - previous_b)
        previous_w, previous_b = weight, bias
    return weight, bias


def heads_for(rows: Rows, angry: Any, satisfied: Any, count: int,
              thresholds: tuple[float, float] = (0.5, 0.5)) -> IntensityModel:
    """The fitted model with its arrays as shipped (float32), so figures are the package's."""
    idf = idf_of(rows, count)
    fitted = [fit(rows, labels, idf) for labels in (angry, satisfied)]
    (angry_w, angry_b), (happy_w, happy_b) = fitted
    return IntensityModel(idf.astype(np.float32),
                          Head(angry_w.astype(np.float32), angry_b, thresholds[0]),
                          Head(happy_w.astype(np.float32), happy_b, thresholds[1]))


def out_of_fold(texts: list[str], rows: Rows, angry: Any, satisfied: Any) -> Any:
    """Five-fold out-of-fold probabilities of both heads, one row per text."""
    found = np.zeros((len(texts), 2))
    for fold in range(5):
        train = [i for i in range(len(texts)) if i % 5 != fold]
        model = heads_for(rows.take(train), angry[train], satisfied[train], len(train))
        for i in range(fold, len(texts), 5):
            found[i] = model.probabilities(texts[i])
    return found


def lowest(grades: list[str], fires: Any, others: frozenset[str], budget: float) -> float:
    """The lowest threshold at which at most `budget` of the rows of `others` fire."""
    picked = [i for i, grade in enumerate(grades) if grade in others]
    for threshold in THRESHOLDS:
        if sum(fires(i, threshold) for i in picked) <= budget * len(picked):
            return threshold
    return THRESHOLDS[-1]


def pick_thresholds(grades: list[str], lexicon: list[Score], oof: Any) -> tuple[float, float]:
    """Both heads' thresholds from the out-of-fold probabilities (module docstring)."""
    angry = lowest(grades, lambda i, t: oof[i, 0] >= t, CALM, CALM_BUDGET)
    liftable = [not s.signals and s.language_supported and LIFT_FLOOR < s.score < LIFT_CEILING
                for s in lexicon]
    satisfied = lowest(grades, lambda i, t: liftable[i] and oof[i, 0] < angry and oof[i, 1] >= t,
                       frozenset(GRADES) - {"positive"}, LIFT_BUDGET)
    return angry, satisfied


def figures(rows: list[dict[str, str]], scores: list[float]) -> dict[str, Any]:
    def share(grades: frozenset[str] | set[str], test: Any, language: str) -> float | None:
        picked = [s for r, s in zip(rows, scores, strict=True)
                  if r["grade"] in grades and language in ("all", r["language"])]
        return round(sum(map(test, picked)) / len(picked), 3) if picked else None

    return {language: {"angry_or_furious_below_-0.7": share(ANGRY, lambda s: s < -0.7, language),
                       "mild_below_-0.7": share({"mild"}, lambda s: s < -0.7, language),
                       "negative_below_-0.7": share({"negative"}, lambda s: s < -0.7, language),
                       "neutral_below_-0.3": share({"neutral"}, lambda s: s < -0.3, language),
                       "positive_above_0": share({"positive"}, lambda s: s > 0, language),
                       # what the satisfied head may get wrong: a complaint read as satisfied
                       "not_positive_above_0.25": share(set(GRADES) - {"positive"},
                                                        lambda s: s > 0.25, language)}
            for language in ("all", "en", "de", "fr", "es", "pt")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hold-out", nargs="+", default=["blind6", "blind7"],
                        help="splits never trained on; the figures are theirs")
    parser.add_argument("--write", action="store_true", help=f"save the model to {OUTPUT}")
    args = parser.parse_args()
    with DATA.open(encoding="utf-8", newline="") as handle:
        every = list(csv.DictReader(handle))
    for row in every:  # what the daemon and `eval` score: quotes and signatures cut
        row["text"] = normalise(row["text"]).text
    train = [r for r in every if r["split"] not in args.hold_out]
    held = [r for r in every if r["split"] in args.hold_out]
    texts = [r["text"] for r in train]
    grades = [r["grade"] for r in train]
    angry = np.array([grade in ANGRY for grade in grades], dtype=np.float64)
    satisfied = np.array([grade == "positive" for grade in grades], dtype=np.float64)
    rows = Rows(texts)
    lexicon = LocalScorer(intensity=None)
    thresholds = pick_thresholds(grades, [lexicon.score_one(t) for t in texts],
                                 out_of_fold(texts, rows, angry, satisfied))
    model = heads_for(rows, angry, satisfied, len(texts), thresholds)
    if args.write:
        OUTPUT.parent.mkdir(parents=True, exist_ok=True)
        model.save(OUTPUT)
    base = [lexicon.score_one(r["text"]) for r in held]
    with_model = [round(model.adjust(s.score, r["text"], may_lift=not s.signals), 4)
                  if s.language_supported else s.score for r, s in zip(held, base, strict=True)]
    print(json.dumps({"trained_on": len(train), "held_out": len(held),
                      "held_out_splits": args.hold_out, "thresholds": thresholds,
                      "lexicon_only": figures(held, [s.score for s in base]),
                      "with_model": figures(held, with_model)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
