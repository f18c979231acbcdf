"""Validation of Claude's answer: the JSON schema constrains it, and it is checked again.

Ids must be ones we sent (each answered once), labels and signals come from the fixed
sets, numbers are clamped, indicator phrases are kept only when they occur in the
message, and the topic label is short plain text.  Whatever fails is not used: a
model's answer is customer-influenced data.  Nothing here does I/O.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from daemon.scoring.base import DAEMON_SIGNALS, LABELS, SIGNALS, Score, label_for
from daemon.scoring.claude_prompt import Item


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError("not a number")
    return float(value)


def topic_label(value: object) -> str:
    """Claude's topic label: a short plain string (customer-derived: capped, one line,
    no control characters) or empty; it only groups incidents, it never moves a score."""
    if not isinstance(value, str):
        return ""
    return " ".join("".join(ch for ch in value if ch.isprintable()).split())[:80]


def _quoted(text: str, phrases: Any) -> tuple[str, ...]:
    """The phrases that occur in `text` (case-insensitively), as spelled in `text`."""
    if not isinstance(phrases, list):
        raise ValueError("indicators")
    lowered = text.lower()
    same_length = len(lowered) == len(text)
    found: list[str] = []
    for phrase in phrases[:5]:
        if not isinstance(phrase, str) or not phrase.strip():
            continue
        needle = phrase.strip()[:120]
        start = lowered.find(needle.lower()) if same_length else text.find(needle)
        if start >= 0:
            found.append(text[start:start + len(needle)])
    return tuple(found)


def _verdict(raw: dict[str, Any], item: Item) -> Score:
    """One result as a Score; KeyError, TypeError or ValueError when it is not valid."""
    value = max(-1.0, min(1.0, _number(raw["score"])))
    confidence = max(0.0, min(1.0, _number(raw["confidence"])))
    if raw["label"] not in LABELS:
        raise ValueError("label")
    signals = {str(s) for s in raw.get("signals") or []
               if s in SIGNALS and s not in DAEMON_SIGNALS}
    if raw.get("injection_attempt") is True:
        signals.add("prompt_injection")
    indicators = _quoted(item.text, raw.get("indicators") or [])
    # The label follows the score's band so every scorer's labels mean the same.
    return Score(score=value, label=label_for(value), confidence=confidence,
                 indicators=indicators, signals=frozenset(signals), scorer="anthropic",
                 topic=topic_label(raw.get("topic")))


def _anomalies(results: list[Any], by_id: dict[str, Item]) -> tuple[int, dict[str, int]]:
    """Unknown, doubled and missing ids (and results past the bound), and how often
    each id was answered."""
    bound = len(by_id) * 4
    seen: dict[str, int] = {}
    for raw in results[:bound]:
        if isinstance(raw, dict) and isinstance(raw.get("id"), str):
            seen[raw["id"]] = seen.get(raw["id"], 0) + 1
    anomalies = sum(1 for ident, n in seen.items() if ident not in by_id or n > 1)
    anomalies += sum(1 for ident in by_id if ident not in seen)
    anomalies += max(0, len(results) - bound)
    return anomalies, seen


def parse_verdicts(text: str, batch: Sequence[Item]) -> dict[str, Score | str]:
    """The verdicts of `parse_answer`, without the anomaly count."""
    return parse_answer(text, batch)[0]


def parse_answer(text: str, batch: Sequence[Item]) -> tuple[dict[str, Score | str], int]:
    """Validate the model's JSON; ValueError when nothing in it is usable.

    Per item: the id must be one we sent; score and confidence must be numbers (then
    clamped); the label must be one of LABELS; signals are kept only from the model's
    vocabulary; indicators only when they occur in the message.  An item that fails is
    marked "invalid_output".  An id answered twice is answered by nobody (which of the
    two would be the model's?).  The second value counts the anomalies (unknown ids,
    duplicates, missing ids): any makes the caller distrust the whole request.
    """
    data = json.loads(text)  # JSONDecodeError is a ValueError
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        raise ValueError("no results list")
    by_id = {item.ident: item for item in batch}
    verdicts: dict[str, Score | str] = {item.ident: "invalid_output" for item in batch}
    results = data["results"]
    anomalies, seen = _anomalies(results, by_id)
    usable = 0
    for raw in results[:len(batch) * 4]:
        if not isinstance(raw, dict) or raw.get("id") not in by_id or seen[raw["id"]] > 1:
            continue
        try:
            verdicts[raw["id"]] = _verdict(raw, by_id[raw["id"]])
        except (KeyError, TypeError, ValueError):
            continue
        usable += 1
    if usable == 0:
        raise ValueError("no usable result")
    return verdicts, anomalies
