"""What an alert tells the agent beyond the rule's numbers, gathered when it is queued.

An agent reading an alert in chat should be able to act on it without opening three
tools: the customer's latest words (an excerpt, PII-redacted with the scorer's redactor
because a chat channel is a third party too, control characters stripped, capped), the
ticket's priority and owner, how often this ticket and this customer were escalated
before, the reasons in plain words (`rules.explain`), and how to say "false alarm".  The
pipeline gathers those facts for a whole batch inside the transaction that queues the
alerts (one read each, daemon.escalation) and builds each alert with `alert_context`, so
the payload is fixed once and every notifier (and every retry) shows the same facts.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from daemon.scoring.redact import DEFAULT_KINDS, Redactor
from rules.engine import Decision
from rules.explain import explain, score_based

#: Characters of the latest customer message an alert quotes.
EXCERPT_MAX = 300
_WHITESPACE = re.compile(r"\s+")


def excerpt_redactor(kinds: Iterable[str] = ()) -> Redactor:
    """The redactor for excerpts: the scorer's kinds, never fewer than the defaults."""
    return Redactor(set(DEFAULT_KINDS) | set(kinds))


def excerpt(text: str | None, redactor: Redactor, limit: int = EXCERPT_MAX) -> str:
    """Customer text fit to quote in chat: redacted, one line, no control or bidi
    characters, at most `limit` characters (cut at a word when one is near)."""
    if not text:
        return ""
    # Redact before cutting: a card number split by the cut would no longer match.
    text = redactor.redact(text[: limit * 8]).text
    text = "".join(ch for ch in text if ch == "\u200d" or
                   unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn"))
    text = _WHITESPACE.sub(" ", text).strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit * 3 // 4:
        cut = cut[:space]
    return cut.rstrip() + "…"


@dataclass(frozen=True, slots=True)
class AlertContext:
    """The agent-facing facts of one decision, as `Alert` fields."""

    excerpt: str
    priority: str | None
    new_priority: str | None
    assignee: str | None
    group: str | None
    earlier_on_ticket: int
    earlier_for_customer: int
    why: tuple[str, ...]
    show_scores: bool
    false_alarm_tag: str | None
    escalation_tags: tuple[str, ...]

    def fields(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


def _text_or_none(value: object, limit: int = 256) -> str | None:
    if value is None:
        return None
    text = _WHITESPACE.sub(" ", str(value)).strip()
    return text[:limit] or None


def alert_context(ticket: Mapping[str, Any], people: Mapping[str, Any], body: str | None,
                  earlier: tuple[int, int], decision: Decision, redactor: Redactor,
                  false_alarm_tag: str | None) -> AlertContext:
    """Everything an agent needs besides the rule's own numbers.

    `ticket` is the snapshot before this decision; `people` holds assignee and group when
    the connector reports them (read defensively: not every vendor or version does);
    `body` is the latest customer message's stored text; `earlier` the escalations of
    this ticket and of the requester's other tickets logged before this batch.
    """
    earlier_ticket, earlier_customer = earlier
    firing = decision.kind == "fire"
    return AlertContext(
        excerpt=excerpt(body, redactor),
        priority=_text_or_none(ticket.get("priority"), 32),
        new_priority=decision.actions.priority if firing else None,
        assignee=_text_or_none(people.get("assignee") or ticket.get("assignee")),
        group=_text_or_none(people.get("group") or ticket.get("group")),
        earlier_on_ticket=earlier_ticket,
        earlier_for_customer=earlier_customer,
        why=explain(decision.kind, decision.numbers),
        show_scores=score_based(decision.numbers) or not firing,
        false_alarm_tag=false_alarm_tag if firing else None,
        escalation_tags=tuple(decision.actions.add_tags) if firing else (),
    )


def ticket_people(snapshot: object) -> dict[str, str | None]:
    """Assignee and group from a connector's ticket snapshot, if it has them (by any of
    the names a connector may use)."""
    out: dict[str, str | None] = {}
    for field, names in (("assignee", ("assignee", "assignee_name")),
                         ("group", ("group", "group_name"))):
        for name in names:
            value = getattr(snapshot, name, None)
            if value:
                out[field] = _text_or_none(value)
                break
    return out
