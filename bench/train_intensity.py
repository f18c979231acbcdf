"""Fit the offline scorer's intensity model and print its held-out figures (one JSON line).

    .venv/bin/python bench/train_intensity.py [--hold-out blind6] [--write]

Reads bench/data/graded_messages.csv (each text prepared as the daemon prepares a
message: daemon.text.normalise), fits a binary logistic regression (angry or
furious vs the rest) over daemon.scoring.intensity's hashed character n-grams on every
split but the held-out ones, picks the decision threshold from five-fold out-of-fold
probabilities on the training rows alone (the lowest threshold at which at most 2% of
the calm grades -- mild, neutral, positive -- would be lowered), and reports, on the
held-out rows it never saw, the scale's target fractions per language for the lexicon
reading alone and with the model.  `--write` saves the weights to
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

from daemon.scoring.intensity import BUCKETS, IntensityModel, bucket_counts  # noqa: E402
from daemon.scoring.local import LocalScorer  # noqa: E402
from daemon.text import normalise  # noqa: E402

DATA = ROOT / "bench" / "data" / "graded_messages.csv"
OUTPUT = ROOT / "daemon" / "scoring" / "models" / "intensity.npz"
ANGRY = frozenset({"angry", "furious"})
CALM = frozenset({"mild", "neutral", "positive"})
C = 16.0  # inverse L2 strength, per example (as scikit-learn's LogisticRegression)
ITERATIONS = 3_000
MIN_DF = 2
CALM_BUDGET = 0.02
THRESHOLDS = tuple(round(0.40 + 0.05 * step, 2) for step in range(11))


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


def model_for(rows: Rows, labels: Any, count: int, threshold: float = 0.5) -> IntensityModel:
    """The fitted model with its arrays as shipped (float32), so figures are the package's."""
    idf = idf_of(rows, count)
    weight, bias = fit(rows, labels, idf)
    return IntensityModel(idf.astype(np.float32), weight.astype(np.float32), bias, threshold)


def pick_threshold(texts: list[str], grades: list[str], rows: Rows, labels: Any) -> float:
    """The lowest threshold whose out-of-fold calm false alarms stay within budget."""
    probability = np.zeros(len(texts))
    for fold in range(5):
        train = [i for i in range(len(texts)) if i % 5 != fold]
        model = model_for(rows.take(train), labels[train], len(train))
        for i in range(fold, len(texts), 5):
            probability[i] = model.probability(texts[i])
    calm = [i for i, grade in enumerate(grades) if grade in CALM]
    for threshold in THRESHOLDS:
        if sum(probability[i] >= threshold for i in calm) <= CALM_BUDGET * len(calm):
            return threshold
    return THRESHOLDS[-1]


def figures(rows: list[dict[str, str]], scores: list[float]) -> dict[str, Any]:
    def share(grades: frozenset[str] | set[str], test: Any, language: str) -> float | None:
        picked = [s for r, s in zip(rows, scores, strict=True)
                  if r["grade"] in grades and language in ("all", r["language"])]
        return round(sum(map(test, picked)) / len(picked), 3) if picked else None

    return {language: {"angry_or_furious_below_-0.7": share(ANGRY, lambda s: s < -0.7, language),
                       "mild_below_-0.7": share({"mild"}, lambda s: s < -0.7, language),
                       "negative_below_-0.7": share({"negative"}, lambda s: s < -0.7, language),
                       "neutral_below_-0.3": share({"neutral"}, lambda s: s < -0.3, language),
                       "positive_above_0": share({"positive"}, lambda s: s > 0, language)}
            for language in ("all", "en", "de", "fr", "es", "pt")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hold-out", nargs="+", default=["blind6"],
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
    labels = np.array([grade in ANGRY for grade in grades], dtype=np.float64)
    rows = Rows(texts)
    threshold = pick_threshold(texts, grades, rows, labels)
    model = model_for(rows, labels, len(texts), threshold)
    if args.write:
        OUTPUT.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(OUTPUT, idf=model._idf.astype(np.float32),
                            weight=model._weight.astype(np.float32),
                            bias=np.float64(model.bias), threshold=np.float64(threshold))
    lexicon = LocalScorer(intensity=None)
    base = [lexicon.score_one(r["text"]) for r in held]
    with_model = [model.lowered(s.score, model.probability(r["text"])) if s.language_supported
                  else s.score for r, s in zip(held, base, strict=True)]
    print(json.dumps({"trained_on": len(train), "held_out": len(held),
                      "held_out_splits": args.hold_out, "threshold": threshold,
                      "nonzero_weights": int(np.count_nonzero(model._weight)),
                      "lexicon_only": figures(held, [s.score for s in base]),
                      "with_model": figures(held, with_model)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
