"""Small builders for daemon tests: messages, rule sets, a scripted scorer."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from connectors.base import Message, TicketSnapshot
from daemon.scoring.base import Score, label_for
from rules.model import RuleSet

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)

ARTICLE_RULES = RuleSet.model_validate({"rules": [
    {"name": "sentiment-declining",
     "when": {"trend": "declining", "decline_threshold": 0.3, "current_avg_below": -0.5},
     "actions": {"add_tags": ["sentiment-declining"], "priority": "urgent",
                 "note": "declining {direction:+.2f}", "notify": ["escalations"]},
     "repeat_after": "24h"},
    {"name": "very-negative-message", "when": {"last_score_below": -0.7},
     "inhibited_by": ["sentiment-declining"],
     "actions": {"add_tags": ["sentiment-very-negative"], "notify": ["escalations"]},
     "repeat_after": "24h"},
]})


def message(message_id: str, ticket_id: str, body: str, *, role: str = "customer",
            minutes: int = 0, public: bool = True, own_note: bool = False,
            tags: Sequence[str] = (), priority: str | None = "normal",
            html: bool = False) -> Message:
    return Message(
        message_id=message_id, ticket_id=ticket_id, author_role=role,  # type: ignore[arg-type]
        public=public, created_at=T0 + timedelta(minutes=minutes), body=body,
        ticket=TicketSnapshot(ticket_id=ticket_id, subject=f"Ticket {ticket_id}",
                              url=f"https://example.test/agent/tickets/{ticket_id}",
                              status="open", priority=priority, tags=tuple(tags),
                              requester="Dana Customer"),
        author_id="u1" if role == "customer" else "a1", own_note=own_note, body_is_html=html)


class ScriptedScorer:
    """Scores texts of the form 'score=<float> ...'; anything else is neutral."""

    name = "scripted"
    model = "test"

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def score(self, texts: Sequence[str]) -> list[Score]:
        self.calls.append(list(texts))
        out = []
        for text in texts:
            value = 0.0
            if text.startswith("score="):
                value = float(text.split()[0].split("=")[1])
            out.append(Score(score=value, label=label_for(value), confidence=0.9,
                             indicators=(text[:20],), scorer=self.name, model=self.model))
        return out

    def close(self) -> None:
        return None
