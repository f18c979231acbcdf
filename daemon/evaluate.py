"""`helpdesk-sentinel eval`: how well does the configured scorer do on *your* labelled data?

Reads a CSV, normalises and scores every row's text with the scorer the config builds,
and prints one JSON object: n, accuracy and macro-F1 over negative/neutral/positive,
per-class precision/recall/F1, the negative-class ROC AUC (from the raw score, so it does
not depend on the label bands), and messages per second.  Gold labels are matched
case-insensitively ("Negative", "very negative", "neg", "-1" ...); a binary file with only
negative and non-negative labels works too (then the two-class figures are reported and
macro-F1 is over the classes present).  Predictions collapse the five score labels to
three at the shared bands (label_for: <= -0.05 negative, >= 0.05 positive).  Metrics are
plain Python: this runs on the daemon's own dependencies, no scikit-learn.

Graded files (labels furious / angry / negative / mild / neutral / positive, the grades of
docs/scoring.md "The scale") get the calibration report instead: per grade n, mean, and
the fractions below -0.7 (the single-message escalation), below -0.5, below -0.3 and
above 0; Spearman's rank correlation between grade and score; the same per language
when the file has a `language` column (and per `split` when it has one); plus the
three-class figures with the four negative grades collapsed.  `--output` adds the
detected `language` (ISO 639-1) and `supported` to every row.
"""

from __future__ import annotations

import csv
import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from daemon.scoring.base import Score, Scorer
from daemon.scoring.scale import GRADES
from daemon.text import normalise

CLASSES = ("negative", "neutral", "positive")
_BATCH = 256

_GOLD_ALIASES: dict[str, str] = {
    "negative": "negative", "neg": "negative", "very_negative": "negative",
    "very negative": "negative", "-1": "negative", "-2": "negative", "bad": "negative",
    "neutral": "neutral", "neu": "neutral", "0": "neutral",
    "positive": "positive", "pos": "positive", "very_positive": "positive",
    "very positive": "positive", "1": "positive", "2": "positive", "good": "positive",
    "non-negative": "non_negative", "non_negative": "non_negative",
    "nonnegative": "non_negative", "not_negative": "non_negative",
    "not negative": "non_negative", "other": "non_negative",
}


class EvalError(Exception):
    """The data file cannot be evaluated (missing column, unknown label); user-facing."""


def gold_label(raw: str) -> str | None:
    """The canonical class of a gold label, or None when it is not recognised."""
    key = raw.strip().lower()
    for candidate in (key, key.replace("_", " "), key.replace(" ", "_")):
        if candidate in _GOLD_ALIASES:
            return _GOLD_ALIASES[candidate]
    return None


def three_class(score: Score) -> str:
    if score.label in ("very_negative", "negative"):
        return "negative"
    if score.label in ("very_positive", "positive"):
        return "positive"
    return "neutral"


def per_class(gold: Sequence[str], predicted: Sequence[str],
              classes: Sequence[str]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for cls in classes:
        tp = sum(1 for g, p in zip(gold, predicted, strict=True) if g == cls and p == cls)
        fp = sum(1 for g, p in zip(gold, predicted, strict=True) if g != cls and p == cls)
        fn = sum(1 for g, p in zip(gold, predicted, strict=True) if g == cls and p != cls)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[cls] = {"precision": round(precision, 4), "recall": round(recall, 4),
                    "f1": round(f1, 4), "support": sum(1 for g in gold if g == cls)}
    return out


def roc_auc(positives: Sequence[float], negatives: Sequence[float]) -> float | None:
    """P(a random positive ranks above a random negative), ties counting half (Mann-Whitney)."""
    if not positives or not negatives:
        return None
    ranked = sorted([(v, 1) for v in positives] + [(v, 0) for v in negatives])
    rank_sum = 0.0
    index = 0
    while index < len(ranked):
        end = index
        while end + 1 < len(ranked) and ranked[end + 1][0] == ranked[index][0]:
            end += 1
        average_rank = (index + end) / 2 + 1  # ranks are 1-based
        rank_sum += average_rank * sum(1 for k in range(index, end + 1) if ranked[k][1] == 1)
        index = end + 1
    n_pos, n_neg = len(positives), len(negatives)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def metrics(gold: Sequence[str], scores: Sequence[Score], seconds: float) -> dict[str, Any]:
    """The JSON object `eval` prints, from gold classes and the scorer's output."""
    predicted = [three_class(s) for s in scores]
    binary = "non_negative" in gold or not any(g in ("neutral", "positive") for g in gold)
    if binary:
        classes: tuple[str, ...] = ("negative", "non_negative")
        predicted = ["negative" if p == "negative" else "non_negative" for p in predicted]
    else:
        classes = CLASSES
    table = per_class(gold, predicted, classes)
    present = [c for c in classes if table[c]["support"] > 0]
    n = len(gold)
    accuracy = sum(1 for g, p in zip(gold, predicted, strict=True) if g == p) / n if n else 0.0
    macro = sum(table[c]["f1"] for c in present) / len(present) if present else 0.0
    # AUC of "how negative": a lower score should mean a negative gold label.
    auc = roc_auc([-s.score for s, g in zip(scores, gold, strict=True) if g == "negative"],
                  [-s.score for s, g in zip(scores, gold, strict=True) if g != "negative"])
    return {
        "n": n,
        "classes": list(classes),
        "accuracy": round(accuracy, 4),
        "macro_f1": round(macro, 4),
        "per_class": table,
        "negative_auc": None if auc is None else round(auc, 4),
        "msgs_per_s": round(n / seconds, 1) if seconds > 0 else None,
        "seconds": round(seconds, 3),
    }


def _ranks(values: Sequence[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    index = 0
    while index < len(order):
        end = index
        while end + 1 < len(order) and values[order[end + 1]] == values[order[index]]:
            end += 1
        for k in range(index, end + 1):
            ranks[order[k]] = (index + end) / 2 + 1
        index = end + 1
    return ranks


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Spearman's rank correlation (Pearson on average ranks); None when undefined."""
    if len(xs) < 2:
        return None
    rx, ry = _ranks(xs), _ranks(ys)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    vx = sum((a - mx) ** 2 for a in rx)
    vy = sum((b - my) ** 2 for b in ry)
    return cov / math.sqrt(vx * vy) if vx > 0 and vy > 0 else None


def graded_label(raw: str) -> str | None:
    key = raw.strip().lower()
    return key if key in GRADES else None


def is_graded(labels: Sequence[str]) -> bool:
    """A graded file: some label is a grade beyond the three classes (furious, angry,
    mild); labels that are no grade are then skipped and counted, as in 3-class mode."""
    cleaned = {label.strip().lower() for label in labels if label.strip()}
    return bool(cleaned & (set(GRADES) - set(CLASSES)))


def _fractions(values: Sequence[float]) -> dict[str, Any]:
    n = len(values)
    return {"n": n,
            "mean": round(sum(values) / n, 3) if n else None,
            "below_-0.7": round(sum(1 for v in values if v < -0.7) / n, 3) if n else None,
            "below_-0.5": round(sum(1 for v in values if v < -0.5) / n, 3) if n else None,
            "below_-0.3": round(sum(1 for v in values if v < -0.3) / n, 3) if n else None,
            "above_0": round(sum(1 for v in values if v > 0) / n, 3) if n else None}


def graded_metrics(grades: Sequence[str], scores: Sequence[Score]) -> dict[str, Any]:
    """Per grade: n, mean and the threshold fractions; Spearman of grade vs score."""
    per_grade = {grade: _fractions([s.score for s, g in zip(scores, grades, strict=True)
                                    if g == grade])
                 for grade in GRADES if grade in grades}
    rho = spearman([float(GRADES.index(g)) for g in grades], [s.score for s in scores])
    return {"n": len(grades), "per_grade": per_grade,
            "spearman": None if rho is None else round(rho, 4)}


def _read_rows(data: Path, text_column: str, label_column: str,
               ) -> tuple[list[str], list[dict[str, str]]]:
    csv.field_size_limit(16 * 1024 * 1024)
    with data.open(newline="", encoding="utf-8", errors="replace") as handle:
        reader = csv.DictReader(handle)
        fieldnames = list(reader.fieldnames or [])
        for column in (text_column, label_column):
            if column not in fieldnames:
                raise EvalError(f"{data}: no column {column!r}; columns: {', '.join(fieldnames)}")
        return fieldnames, list(reader)


def run_eval(config_scorer: Scorer, data: Path, text_column: str, label_column: str,
             output: Path | None, stdout: TextIO = sys.stdout) -> int:
    """Score every row, print the metrics JSON, optionally write the scored CSV.  Exit code."""
    try:
        fieldnames, rows = _read_rows(data, text_column, label_column)
    except (OSError, EvalError) as exc:
        print(json.dumps({"error": str(exc)}), file=stdout)
        return 2
    graded = is_graded([row.get(label_column) or "" for row in rows])
    gold: list[str] = []
    kept: list[dict[str, str]] = []
    unknown: dict[str, int] = {}
    for row in rows:
        raw_label = row.get(label_column) or ""
        label = graded_label(raw_label) if graded else gold_label(raw_label)
        if label is None:
            raw = (row.get(label_column) or "").strip()[:40]
            unknown[raw] = unknown.get(raw, 0) + 1
            continue
        gold.append(label)
        kept.append(row)
    if not kept:
        print(json.dumps({"error": "no row has a recognised label",
                          "unrecognised_labels": unknown}), file=stdout)
        return 2
    texts = [normalise(row.get(text_column) or "").text for row in kept]
    started = time.perf_counter()
    scores: list[Score] = []
    for offset in range(0, len(texts), _BATCH):
        scores.extend(config_scorer.score(texts[offset:offset + _BATCH]))
    seconds = time.perf_counter() - started
    if graded:
        result = _graded_report(gold, scores, kept, seconds)
    else:
        result = metrics(gold, scores, seconds)
    result["languages"] = _count(s.language or "und" for s in scores)
    result["unsupported"] = sum(1 for s in scores if not s.language_supported)
    result["scorer"] = config_scorer.name
    result["model"] = config_scorer.model
    result["scorers_used"] = _count(s.scorer for s in scores)
    if unknown:
        result["skipped_unrecognised_labels"] = unknown
    if output is not None:
        _write_output(output, fieldnames, kept, scores)
    print(json.dumps(result, sort_keys=False), file=stdout)
    return 0


def _graded_report(grades: list[str], scores: list[Score], rows: list[dict[str, str]],
                   seconds: float) -> dict[str, Any]:
    result: dict[str, Any] = {"mode": "graded", **graded_metrics(grades, scores)}
    for column in ("language", "split"):
        if rows and column in rows[0]:
            groups: dict[str, list[int]] = {}
            for index, row in enumerate(rows):
                groups.setdefault(row.get(column) or "", []).append(index)
            result[f"per_{column}"] = {
                key: graded_metrics([grades[i] for i in indices], [scores[i] for i in indices])
                for key, indices in sorted(groups.items())}
    collapsed = ["positive" if g == "positive" else "neutral" if g == "neutral" else "negative"
                 for g in grades]
    result["three_class"] = metrics(collapsed, scores, seconds)
    result["msgs_per_s"] = round(len(grades) / seconds, 1) if seconds > 0 else None
    return result


def _count(names: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    return counts


def _write_output(output: Path, fieldnames: list[str], rows: list[dict[str, str]],
                  scores: Sequence[Score]) -> None:
    extra = ["score", "predicted_label", "confidence", "signals", "language", "supported"]
    with output.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*fieldnames, *extra], extrasaction="ignore")
        writer.writeheader()
        for row, score in zip(rows, scores, strict=True):
            writer.writerow({**row, "score": score.score, "predicted_label": score.label,
                             "confidence": score.confidence,
                             "signals": ";".join(sorted(score.signals)),
                             "language": score.language or "und",
                             "supported": "true" if score.language_supported else "false"})
