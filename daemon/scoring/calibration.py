"""The offline scorer's calibration: units of evidence -> a score on the shared scale.

The anchors were stated in docs/scoring.md before any measurement (1 unit: mild
annoyance, 2: plainly negative, 3: clearly angry, 6 and more: fury); the weights say how
much each kind of evidence counts, and the hard signals' ceilings keep a legal threat
from ever reading "neutral".  Pure functions and constants, shared by the offline
scorer, the learned model and the Claude verdict check.
"""

from __future__ import annotations

import itertools
import math

# Floors a hard signal puts on the score: a legal threat is never "neutral".
_SIGNAL_CEILING: dict[str, float] = {
    "legal_threat": -0.5, "abusive": -0.5, "churn_risk": -0.45, "manager_request": -0.35,
    "repeat_contact": -0.25,
    "prompt_injection": 0.0,  # text trying to steer a model is not satisfaction
}
_SIGNAL_PULL = {"urgent": -0.1}
# Units of evidence a hard signal adds (repeat contact is counted by the lexicon).
SIGNAL_UNITS = {"legal_threat": 3.0, "abusive": 4.0, "churn_risk": 2.0,
                 "manager_request": 1.5}

#: The calibration: total units of negative evidence -> score, piecewise linear between
#: anchors stated in docs/scoring.md before any measurement (1 unit: mild annoyance,
#: 2: plainly negative, 3: clearly angry, 6 and more: fury).
NEGATIVE_ANCHORS: tuple[tuple[float, float], ...] = (
    (0.0, 0.0), (1.0, -0.2), (2.0, -0.5), (3.0, -0.72), (4.5, -0.85), (6.0, -0.9),
    (9.0, -0.95), (15.0, -0.99))
POSITIVE_ANCHORS: tuple[tuple[float, float], ...] = (
    (0.0, 0.0), (1.0, 0.25), (2.0, 0.5), (3.0, 0.65), (5.0, 0.85), (8.0, 0.95))

PROBLEM_CAP = 1.5  # describing a problem is at most mildly negative, however long
REPEAT_CAP = 3.0
DAMPENED = 0.5
BOOSTED = 1.5
NEGATED_PRAISE = 0.6  # "not happy" is displeasure, a little weaker than "unhappy"
MINIMISED = 0.6  # "not a big deal", "kein Drama": no anger, so the rest counts less
HEDGED = 0.7  # a dampener in a message without anger
REQUEST_CAP = 1.2  # units: a request describing a problem stays above -0.3
SARCASM = 0.8  # praise read as its opposite
SARCASM_UNITS = 2.0
PRAISE_IN_COMPLAINT = 0.5
VADER_WEIGHT = 1.0
VADER_STRONG = 2.5  # VADER valence from which a word counts as displeasure
_WINDOW = 3  # tokens before a term that a negator, dampener or booster reaches

def cap_for_signals(value: float, signals: frozenset[str] | set[str]) -> float:
    """The score with the hard signals' ceilings and pulls applied, in [-1, 1]."""
    for signal in signals:
        value = min(value, _SIGNAL_CEILING.get(signal, 1.0))
        value += _SIGNAL_PULL.get(signal, 0.0)
    return max(-1.0, min(1.0, value))


def _interpolate(units: float, anchors: tuple[tuple[float, float], ...]) -> float:
    for (x0, y0), (x1, y1) in itertools.pairwise(anchors):
        if units <= x1:
            return y0 + (y1 - y0) * (units - x0) / (x1 - x0)
    last_x, last_y = anchors[-1]
    sign = 1.0 if last_y > 0 else -1.0
    # Beyond the last anchor: approach +-1 without reaching it.
    return sign * (1.0 - (1.0 - abs(last_y)) * math.exp(-(units - last_x) / 5.0))


def to_score(negative_units: float, positive_units: float) -> float:
    """The calibration: evidence in units -> a score on the shared scale (monotone)."""
    if negative_units > 0:
        net = negative_units - PRAISE_IN_COMPLAINT * positive_units
        if net > 0:
            return _interpolate(net, NEGATIVE_ANCHORS)
        return _interpolate(-net, POSITIVE_ANCHORS)
    return _interpolate(positive_units, POSITIVE_ANCHORS)


