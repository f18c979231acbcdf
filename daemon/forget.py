"""`helpdesk-sentinel forget`: erase what is stored about one customer (an erasure request).

The customer is named the way the helpdesk names them in what we store: the vendor's
user id (a message's `author_id`), or the display name or email the helpdesk gave as the
ticket's requester or the message's author (compared case-insensitively).  Their tickets
are the ones they requested, or where every customer message is theirs (a ticket of
someone else they were copied on keeps its rows).  For those tickets every row
goes (messages with their text, scores and indicator phrases, the ticket snapshot, rule
states, the escalation log, and outbox rows, pending ones included: an alert about the
customer must not be sent after the erasure), plus the customer's messages on anyone
else's ticket, in one transaction.

The Claude score cache is cleared whole: its keys are one-way fingerprints of message text
(SHA-256), and its values carry the phrases the scorer quoted; once the messages are gone
nothing tells one customer's entries apart, and the cache is only a saving, not a record.
A running daemon keeps bounded in-memory copies (recent conversations, cached scores)
until it restarts; restart it after an erasure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from daemon.store import (
    T_ESCALATION,
    T_FEEDBACK,
    T_INCIDENT_CANDIDATE,
    T_INCIDENT_MEMBER,
    T_MESSAGE,
    T_OUTBOX,
    T_RULE,
    T_TICKET,
    Store,
)


@dataclass(slots=True)
class Erasure:
    """What `forget_requester` removed, by kind (row counts)."""

    requester: str
    tickets: list[tuple[str, str]] = field(default_factory=list)  # (source, ticket id)
    removed: dict[str, int] = field(default_factory=dict)

    @property
    def matched(self) -> bool:
        return bool(self.tickets) or bool(self.removed.get("messages"))

    def to_json(self) -> dict[str, Any]:
        return {"requester": self.requester, "matched": self.matched,
                "tickets": [f"{source}/{ticket}" for source, ticket in self.tickets],
                "removed": dict(self.removed)}


def _is(column: Any, value: str) -> Any:
    return sa.func.lower(column) == value.casefold()


def _customer_tickets(conn: Connection, requester: str,
                      source: str | None) -> tuple[set[tuple[str, str]], Any]:
    """The customer's tickets, and the condition that picks their own messages.

    Theirs: the tickets whose requester is them (by the value given, or by the name their
    own messages carry), and those where every customer message is theirs.  A ticket of
    someone else that they were copied on keeps its rows; only their messages go."""
    authored = (T_MESSAGE.c.author_role == "customer") & (
        (T_MESSAGE.c.author_id == requester) | _is(T_MESSAGE.c.author_name, requester))
    if source is not None:
        authored = authored & (T_MESSAGE.c.source == source)
    own = [dict(row) for row in conn.execute(sa.select(
        T_MESSAGE.c.source, T_MESSAGE.c.ticket_id, T_MESSAGE.c.author_id,
        T_MESSAGE.c.author_name).where(authored)).mappings()]
    names = {requester.casefold()} | {str(m["author_name"]).casefold() for m in own
                                      if m["author_name"]}
    requested = sa.func.lower(T_TICKET.c.requester).in_(sorted(names))
    if source is not None:
        requested = requested & (T_TICKET.c.source == source)
    tickets = {(s, t) for s, t in conn.execute(
        sa.select(T_TICKET.c.source, T_TICKET.c.ticket_id).where(requested))}
    for ticket_source, ticket_id in {(m["source"], m["ticket_id"]) for m in own} - tickets:
        others = conn.execute(sa.select(sa.func.count()).where(
            (T_MESSAGE.c.source == ticket_source) & (T_MESSAGE.c.ticket_id == ticket_id)
            & (T_MESSAGE.c.author_role == "customer") & ~authored)).scalar()
        if not others:
            tickets.add((ticket_source, ticket_id))
    return tickets, authored


def forget_requester(store: Store, requester: str, source: str | None = None,
                     score_cache: Path | None = None) -> Erasure:
    """Erase one customer's data (see the module doc); `score_cache` is the Claude
    cache file to clear, if there is one."""
    requester = requester.strip()
    if not requester:
        raise ValueError("the requester to forget is empty")
    erasure = Erasure(requester=requester)
    counts = dict.fromkeys(("messages", "tickets", "rule_states", "escalations", "outbox",
                            "feedback", "incident_members", "incident_candidates"), 0)
    with store.transaction() as conn:
        tickets, authored = _customer_tickets(conn, requester, source)
        erasure.tickets = sorted(tickets)
        touched = set(tickets) | {(s, t) for s, t in conn.execute(sa.select(
            T_MESSAGE.c.source, T_MESSAGE.c.ticket_id).where(authored).distinct())}
        store.series.lock(conn, {s for s, _ in touched})  # before the deletes' row locks
        counts["messages"] += int(conn.execute(T_MESSAGE.delete().where(authored)).rowcount
                                  or 0)
        for table, key in ((T_MESSAGE, "messages"), (T_TICKET, "tickets"),
                           (T_RULE, "rule_states"), (T_ESCALATION, "escalations"),
                           (T_OUTBOX, "outbox"), (T_FEEDBACK, "feedback"),
                           (T_INCIDENT_MEMBER, "incident_members"),
                           (T_INCIDENT_CANDIDATE, "incident_candidates")):
            for ticket_source, ticket_id in erasure.tickets:
                result = conn.execute(table.delete().where(
                    (table.c.source == ticket_source) & (table.c.ticket_id == ticket_id)))
                counts[key] += int(result.rowcount or 0)
        store.series.refresh(conn, touched)  # the readers' copy of what is left
    counts["score_cache"] = 0
    if erasure.matched and score_cache is not None and score_cache.exists():
        from daemon.scoring.cache import ScoreCache

        cache = ScoreCache(path=score_cache)
        try:
            counts["score_cache"] = cache.clear()
        finally:
            cache.close()
    erasure.removed = counts
    return erasure


def render(erasure: Erasure) -> str:
    if not erasure.matched:
        return (f"nothing stored matches {erasure.requester!r} (give the helpdesk's user id, "
                "or the display name or email shown as the requester); nothing removed")
    lines = [f"forgot {erasure.requester!r}: {len(erasure.tickets)} ticket(s)"]
    lines += [f"  {kind}: {count} removed" for kind, count in erasure.removed.items()]
    lines.append("restart a running daemon to drop its in-memory copies")
    return "\n".join(lines)
