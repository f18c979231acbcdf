"""Why a rule acted, in the words an agent uses: one sentence per condition that held.

A decision carries the numbers behind it (`Decision.numbers`: the trend, the averages and
each condition's own threshold).  An alert shows an agent these sentences instead of the
internal names (`sentiment_declining`, `method article`): only the conditions the rule
actually has are explained, so an alert for a rule on signals alone (a customer talking
about cancelling) says nothing about trends.  Pure, and the numbers are ours (rounded
floats and names from the rule's config), never customer text.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

#: What each scorer signal means, said to an agent.
SIGNAL_WORDS: Mapping[str, str] = {
    "churn_risk": "The customer talks about cancelling or leaving.",
    "legal_threat": "The customer mentions legal steps.",
    "manager_request": "The customer asks for a manager.",
    "repeat_contact": "The customer says they have asked before.",
    "abusive": "The customer's language is abusive.",
    "urgent": "The customer says it is urgent.",
    "prompt_injection": "The message contains instructions meant for an AI (treat it "
                        "with care).",
}

#: Scores run from -1 (furious) to +1 (delighted); said once where scores are shown.
SCALE = "scores run from -1 (very negative) to +1 (very positive)"


def _number(numbers: Mapping[str, Any], name: str) -> float | None:
    value = numbers.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _signals(numbers: Mapping[str, Any]) -> list[str]:
    value = numbers.get("signals")
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple | set | frozenset):
        return sorted(str(v) for v in value)
    return []


def score_based(numbers: Mapping[str, Any]) -> bool:
    """Whether the rule looked at sentiment scores (not only at signals or ticket fields):
    only then are the trend figures and the score sparkline relevant to an agent."""
    return any(key in numbers for key in ("decline_threshold", "current_avg_below",
                                          "last_score_below", "consecutive_negative", "expr"))


def explain(kind: str, numbers: Mapping[str, Any]) -> tuple[str, ...]:
    """Plain sentences saying why a rule fired (or that the problem went away)."""
    current = _number(numbers, "current_avg")
    if kind == "resolve":
        if current is None:
            return ("The customer's recent messages are no longer a concern.",)
        return (f"The customer's recent messages are no longer a concern (their average "
                f"is now {current:+.2f}).",)
    lines: list[str] = []
    direction = _number(numbers, "direction")
    avg_limit = _number(numbers, "current_avg_below")
    if "decline_threshold" in numbers and current is not None:
        trend = numbers.get("trend")
        change = f"{abs(direction):.2f}" if direction is not None else "much"
        limit = f" (alert below {avg_limit:+.2f})" if avg_limit is not None else ""
        if trend == "declining":
            lines.append(f"The last messages are much angrier than the first ones: their "
                         f"average is {current:+.2f}, {change} lower than at the start{limit}.")
        elif trend == "improving":
            lines.append(f"The last messages are much friendlier than the first ones: their "
                         f"average is {current:+.2f}, {change} higher than at the start{limit}.")
        else:
            lines.append(f"The mood has stayed about the same: the last messages average "
                         f"{current:+.2f}{limit}.")
    elif avg_limit is not None and current is not None:
        lines.append(f"The last messages are negative on average: {current:+.2f} (alert "
                     f"below {avg_limit:+.2f}).")
    last_limit = _number(numbers, "last_score_below")
    last = _number(numbers, "last_score")
    if last_limit is not None and last is not None:
        lines.append(f"The latest message is very negative: {last:+.2f} (alert below "
                     f"{last_limit:+.2f}).")
    run = _number(numbers, "consecutive_negative")
    run_limit = _number(numbers, "consecutive_below")
    if run is not None:
        below = f" (each below {run_limit:+.2f})" if run_limit is not None else ""
        lines.append(f"The last {int(run)} messages in a row were negative{below}.")
    for signal in _signals(numbers):
        lines.append(SIGNAL_WORDS.get(signal, f"The scorer flagged: {signal.replace('_', ' ')}."))
    expr = numbers.get("expr")
    if isinstance(expr, str) and expr:
        lines.append(f"This rule's own condition holds: {expr}")
    return tuple(lines)
