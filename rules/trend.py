"""Trend features from a conversation's customer scores, oldest first.

`article` is the original article's method and the default: fewer than 2 scores is
`stable` with direction 0; otherwise `recent` is the last 3 scores and `earlier` the
first 3 (overlapping when there are fewer than 6), `direction = mean(recent) -
mean(earlier)`, declining below -threshold, improving above +threshold.  The trend is
decided on the unrounded direction; `direction` and `current_avg` are then reported
rounded to 2 decimals, and rules compare the rounded `current_avg` (so -0.504 is not
below -0.5), exactly as the article does.
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


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def article_trend(scores: Sequence[float], decline_threshold: float = 0.3) -> Trend:
    if len(scores) < 2:
        # The article returns no current_avg here; the mean of what there is (or 0) is
        # reported so a note template can always render, and no rule on the trend fires.
        current = round(_mean(scores), 2) if scores else 0.0
        return Trend("stable", 0.0, current, 0.0)
    recent = scores[-3:]
    earlier = scores[:3]
    avg_recent = _mean(recent)
    direction = avg_recent - _mean(earlier)
    trend: TrendName
    if direction < -decline_threshold:
        trend = "declining"
    elif direction > decline_threshold:
        trend = "improving"
    else:
        trend = "stable"
    return Trend(trend, round(direction, 2), round(avg_recent, 2), direction)
