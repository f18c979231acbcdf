"""Trend features from a conversation's customer scores, oldest first.

`article` is the original article's method and the default: fewer than 2 scores is
`stable` with direction 0; otherwise `recent` is the last 3 scores and `earlier` the
first 3 (overlapping when there are fewer than 6), `direction = mean(recent) -
mean(earlier)`, declining below -threshold, improving above +threshold.  The trend is
decided on the unrounded direction; `direction` and `current_avg` are then reported
rounded to 2 decimals, and rules compare the rounded `current_avg` (so -0.504 is not
below -0.5), exactly as the article does.

`ewma` weighs recent messages more: the current level is an exponentially weighted
mean of all scores (each new score gets weight `alpha`), compared with the mean of
the opening scores (the first 3, but never the latest one).  It sees a turn for the
worse after two or three messages, where the article's overlapping windows need four
or more, and in a long conversation it is not diluted by the two scores before the
latest.  Same thresholds, same rounding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

TrendName = Literal["declining", "improving", "stable"]


@dataclass(frozen=True, slots=True)
class Trend:
    trend: TrendName
    direction: float  # rounded to 2 decimals
    current_avg: float  # rounded to 2 decimals
    raw_direction: float
    method: str = "article"


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def _classify(direction: float, decline_threshold: float) -> TrendName:
    if direction < -decline_threshold:
        return "declining"
    if direction > decline_threshold:
        return "improving"
    return "stable"


def _too_short(scores: Sequence[float], method: str) -> Trend:
    # The article returns no current_avg here; the mean of what there is (or 0) is
    # reported so a note template can always render, and no rule on the trend fires.
    current = round(_mean(scores), 2) if scores else 0.0
    return Trend("stable", 0.0, current, 0.0, method)


def article_trend(scores: Sequence[float], decline_threshold: float = 0.3) -> Trend:
    if len(scores) < 2:
        return _too_short(scores, "article")
    recent = scores[-3:]
    earlier = scores[:3]
    avg_recent = _mean(recent)
    direction = avg_recent - _mean(earlier)
    return Trend(_classify(direction, decline_threshold), round(direction, 2),
                 round(avg_recent, 2), direction, "article")


def ewma_trend(scores: Sequence[float], decline_threshold: float = 0.3,
               alpha: float = 0.5) -> Trend:
    if not 0 < alpha <= 1:
        raise ValueError("alpha must be in (0, 1]")
    if len(scores) < 2:
        return _too_short(scores, "ewma")
    level = scores[0]
    for score in scores[1:]:
        level = alpha * score + (1 - alpha) * level
    baseline = _mean(scores[:min(3, len(scores) - 1)])
    direction = level - baseline
    return Trend(_classify(direction, decline_threshold), round(direction, 2),
                 round(level, 2), direction, "ewma")


def compute_trend(scores: Sequence[float], method: str = "article",
                  decline_threshold: float = 0.3, alpha: float = 0.5) -> Trend:
    if method == "article":
        return article_trend(scores, decline_threshold)
    if method == "ewma":
        return ewma_trend(scores, decline_threshold, alpha)
    raise ValueError(f"unknown trend method {method!r}")
