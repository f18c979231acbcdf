"""Builders shared by the rules tests: conversations from score lists, rule sets from dicts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from rules.engine import ConversationState, ScoredMessage, TicketView
from rules.model import RuleSet

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

#: The article's two escalations as the shipped config writes them (inhibition included).
ARTICLE_RULES: list[dict[str, Any]] = [
    {"name": "sentiment-declining",
     "when": {"trend": "declining", "decline_threshold": 0.3, "current_avg_below": -0.5},
     "actions": {"add_tags": ["sentiment-declining"], "priority": "urgent",
                 "note": "declining {direction:+.2f} avg {current_avg}: {indicators}",
                 "notify": ["escalations"]},
     "repeat_after": "24h"},
    {"name": "very-negative-message",
     "when": {"last_score_below": -0.7},
     "inhibited_by": ["sentiment-declining"],
     "actions": {"add_tags": ["sentiment-very-negative"], "priority": "high",
                 "notify": ["escalations"]},
     "repeat_after": "24h"},
]


def ruleset(rules: Iterable[dict[str, Any]]) -> RuleSet:
    return RuleSet.model_validate({"rules": list(rules)})


def conversation(scores: Sequence[float], *, priority: str | None = "normal",
                 tags: Iterable[str] = (), signals: Sequence[Iterable[str]] = (),
                 indicators: Sequence[Iterable[str]] = (), source: str = "zendesk",
                 status: str | None = "open") -> ConversationState:
    messages = tuple(
        ScoredMessage(message_id=f"m{index}", created_at=T0 + timedelta(minutes=index),
                      score=score,
                      signals=frozenset(signals[index]) if index < len(signals) else frozenset(),
                      indicators=tuple(indicators[index]) if index < len(indicators) else ())
        for index, score in enumerate(scores))
    ticket = TicketView(source=source, ticket_id="42", subject="Refund", status=status,
                        priority=priority, tags=frozenset(tags))
    return ConversationState(ticket=ticket, customer_messages=messages)
