"""`helpdesk-sentinel train`: fit the offline scorer's calibration to the team's own tickets.

Training data, from either or both:
- `--data F.csv --text-column C --label-column L`: labelled tickets (labels as `eval`
  reads them: negative/neutral/positive and their spellings);
- `--from-history`: the daemon's own database: messages Claude scored (their score band
  is the label: distillation, so the offline scorer approaches Claude on this team's
  language and the cascade can keep more messages offline), and messages agents marked
  (a false alarm: the escalated ticket's recent customer messages were not
  escalation-worthy, labelled neutral; a miss: the marked ticket's recent customer
  messages were, labelled negative).  Agents' marks weigh three times a row.

The model (daemon.scoring.learned) is a multinomial logistic regression over hashed word
unigrams and bigrams plus the offline scorer's reading, fitted by AdaGrad with balanced
class weights and a fixed seed, in plain Python: a few seconds for ten thousand tickets, no
numerical library to install.  `--holdout F` keeps a seeded fraction aside and reports
macro-F1 on it before and after training.  Too little data is refused, with the numbers.
"""

from __future__ import annotations

import csv
import json
import math
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from daemon.scoring.base import Score
from daemon.scoring.learned import (
    CLASSES,
    DEFAULT_BUCKETS,
    LearnedModel,
    LearnedScorer,
    class_probabilities,
    features,
)
from daemon.scoring.local import LocalScorer
from daemon.text import normalise

if TYPE_CHECKING:
    from daemon.store import Store

MIN_ROWS = 200
MIN_PER_CLASS = 20
AGENT_WEIGHT = 3.0
EPOCHS = 8
LEARNING_RATE = 0.3
L2 = 1e-5
#: Customer messages of a marked ticket that the mark speaks for (the latest ones).
MARKED_MESSAGES = 3


class TrainError(Exception):
    """Training cannot go on; the message is for the user (numbers, never ticket text)."""


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    label: str  # one of CLASSES
    weight: float = 1.0
    origin: str = "csv"  # csv | claude | false_alarm | missed


def read_csv(path: Path, text_column: str, label_column: str) -> tuple[list[Example], int]:
    """Labelled rows of a CSV, and how many rows had a label that was not understood."""
    from daemon.evaluate import gold_label

    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise TrainError(f"{path}: cannot read ({exc.strerror})") from None
    examples: list[Example] = []
    skipped = 0
    with handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        for column in (text_column, label_column):
            if column not in columns:
                raise TrainError(f"{path}: no column {column!r} (columns: "
                                 f"{', '.join(columns[:20])})")
        for row in reader:
            label = gold_label(row.get(label_column) or "")
            text = row.get(text_column) or ""
            if label not in CLASSES or not text.strip():
                skipped += 1
                continue
            examples.append(Example(normalise(text).text, label))
    return examples, skipped


def read_history(store: Store) -> list[Example]:
    """Claude-scored messages and agents' marks from the daemon's database (the caller
    opens and closes it: daemon/app.py)."""
    import sqlalchemy as sa

    from daemon.store import T_ESCALATION, T_MESSAGE

    examples: list[Example] = []
    store.create_schema()
    with store.reading() as conn:
        rows = conn.execute(sa.select(T_MESSAGE.c.body, T_MESSAGE.c.score).where(
            (T_MESSAGE.c.scorer == "anthropic") & T_MESSAGE.c.body.is_not(None)
            & (T_MESSAGE.c.author_role == "customer") & T_MESSAGE.c.score.is_not(None)))
        for body, score in rows:
            examples.append(Example(body, _band(float(score)), 1.0, "claude"))
        marks = conn.execute(sa.select(
            T_ESCALATION.c.source, T_ESCALATION.c.ticket_id, T_ESCALATION.c.kind,
            sa.func.max(T_ESCALATION.c.at)).where(
            T_ESCALATION.c.kind.in_(("false_alarm", "missed"))).group_by(
            T_ESCALATION.c.source, T_ESCALATION.c.ticket_id, T_ESCALATION.c.kind)).all()
        for source, ticket_id, kind, at in marks:
            bodies = conn.execute(sa.select(T_MESSAGE.c.body).where(
                (T_MESSAGE.c.source == source) & (T_MESSAGE.c.ticket_id == ticket_id)
                & (T_MESSAGE.c.author_role == "customer") & T_MESSAGE.c.body.is_not(None)
                & (T_MESSAGE.c.created_at <= at)).order_by(
                T_MESSAGE.c.created_at.desc()).limit(MARKED_MESSAGES)).scalars()
            label = "neutral" if kind == "false_alarm" else "negative"
            examples += [Example(body, label, AGENT_WEIGHT, kind) for body in bodies]
    return examples


def _band(score: float) -> str:
    return "negative" if score <= -0.05 else "positive" if score >= 0.05 else "neutral"


def check_enough(examples: Sequence[Example]) -> None:
    counts = Counter(e.label for e in examples)
    short = [c for c in CLASSES if counts[c] < MIN_PER_CLASS]
    if len(examples) < MIN_ROWS or short:
        per_class = ", ".join(f"{c} {counts[c]}" for c in CLASSES)
        raise TrainError(
            f"too little data to train: {len(examples)} labelled rows (need at least "
            f"{MIN_ROWS}); per class: {per_class} (need at least {MIN_PER_CLASS} each)")


def fit(examples: Sequence[Example], *, offline: LocalScorer, seed: int = 7,
        epochs: int = EPOCHS, buckets: int = DEFAULT_BUCKETS) -> LearnedModel:
    """Multinomial logistic regression by AdaGrad, balanced class weights, seeded."""
    check_enough(examples)
    counts = Counter(e.label for e in examples)
    balance = {c: len(examples) / (len(CLASSES) * counts[c]) for c in CLASSES}
    rows = [(features(e.text, offline.score_one(e.text), buckets), CLASSES.index(e.label),
             e.weight * balance[e.label]) for e in examples]
    weights: dict[int, list[float]] = {}
    squares: dict[int, list[float]] = {}
    bias = [0.0, 0.0, 0.0]
    bias_squares = [1e-8, 1e-8, 1e-8]
    order = list(range(len(rows)))
    rng = random.Random(seed)
    for _ in range(epochs):
        rng.shuffle(order)
        for position in order:
            feats, target, weight = rows[position]
            probabilities = class_probabilities(bias, weights, feats)
            errors = [weight * (probabilities[k] - (1.0 if k == target else 0.0))
                      for k in range(3)]
            for k in range(3):
                bias_squares[k] += errors[k] ** 2
                bias[k] -= LEARNING_RATE * errors[k] / math.sqrt(bias_squares[k])
            for index, value in feats.items():
                row = weights.setdefault(index, [0.0, 0.0, 0.0])
                square = squares.setdefault(index, [1e-8, 1e-8, 1e-8])
                for k in range(3):
                    gradient = errors[k] * value + L2 * row[k]
                    square[k] += gradient * gradient
                    row[k] -= LEARNING_RATE * gradient / math.sqrt(square[k])
    kept = {index: (row[0], row[1], row[2]) for index, row in weights.items()
            if max(abs(w) for w in row) >= 1e-4}
    return LearnedModel(buckets, (bias[0], bias[1], bias[2]), kept, {})


def split(examples: Sequence[Example], fraction: float,
          seed: int) -> tuple[list[Example], list[Example]]:
    """A seeded shuffle, then (train, holdout)."""
    shuffled = list(examples)
    random.Random(seed).shuffle(shuffled)
    cut = round(len(shuffled) * (1 - fraction))
    return shuffled[:cut], shuffled[cut:]


def evaluate_on(scorer: LocalScorer, examples: Sequence[Example]) -> dict[str, Any]:
    from daemon.evaluate import metrics

    started = time.perf_counter()
    scores: list[Score] = [scorer.score_one(e.text) for e in examples]
    result = metrics([e.label for e in examples], scores, time.perf_counter() - started)
    return {key: result[key] for key in ("n", "accuracy", "macro_f1", "per_class",
                                         "negative_auc")}


def run_train(*, history_store: Callable[[], Store] | None, output: Path, data: Path | None,
              text_column: str | None, label_column: str | None, from_history: bool,
              holdout: float | None, seed: int, out: TextIO = sys.stdout) -> int:
    examples: list[Example] = []
    skipped = 0
    if data is not None:
        if not text_column or not label_column:
            raise TrainError("--data needs --text-column and --label-column")
        rows, skipped = read_csv(data, text_column, label_column)
        examples += rows
    if from_history:
        if history_store is None:
            raise TrainError("--from-history needs the config's database")
        examples += read_history(history_store())
    if data is None and not from_history:
        raise TrainError("nothing to train on: give --data F.csv and/or --from-history")
    train_rows, held = (split(examples, holdout, seed) if holdout else (examples, []))
    offline = LocalScorer()
    started = time.perf_counter()
    model = fit(train_rows, offline=offline, seed=seed)
    seconds = time.perf_counter() - started
    origins = Counter(e.origin for e in train_rows)
    trained = {"rows": len(train_rows), "per_class": dict(Counter(e.label for e in train_rows)),
               "origins": dict(origins), "skipped_labels": skipped, "seed": seed,
               "epochs": EPOCHS, "base_model": LocalScorer.model,
               "created_at": datetime.now(UTC).isoformat(timespec="seconds")}
    model = LearnedModel(model.buckets, model.bias, model.weights, trained)
    model.save(output)
    report: dict[str, Any] = {"output": str(output), **trained,
                              "features_kept": len(model.weights),
                              "train_seconds": round(seconds, 1),
                              "model_bytes": output.stat().st_size}
    if held:
        before = evaluate_on(offline, held)
        after = evaluate_on(LearnedScorer(model), held)
        report["holdout"] = {"fraction": holdout, "n": len(held), "untrained": before,
                             "trained": after,
                             "macro_f1_gain": round(after["macro_f1"] - before["macro_f1"], 4)}
    out.write(json.dumps(report) + "\n")
    return 0
