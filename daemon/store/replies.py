"""Agents' replies paired with the customer's scores around them (`reply_pair`).

The agents' page asks, for each public agent reply in a window that a scored customer
message follows, how the customer's score changed: the score before the reply and the
next one.  Walking every conversation for that costs a row per message; this table keeps
the pairs, kept up to date for the tickets a write touched (with their `ticket_series`
rows, daemon/store/series.py: the turns a poll's later messages close are added, any
other write rewrites the ticket's pairs from `message`), so the page reads one row per
pair.

A pair is one agent in one turn of the conversation (the stretch between two scored
customer messages, the public ones and the customer's scored messages in time order):
several replies in a row by the same agent count once.  It counts in a window when one
of those replies is in it (`last_reply_at`, the latest) and the customer's next message
was written by the window's end (`after_at`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from daemon.store.database import Database
from daemon.store.models import T_MESSAGE, T_REPLY

#: Agents are told apart by id (the name where the vendor gives no id).
AGENT_KEY = sa.func.coalesce(T_MESSAGE.c.author_id, T_MESSAGE.c.author_name, "unknown")

_SOURCE_P: sa.BindParameter[str] = sa.bindparam("source")
_IDS_P: sa.BindParameter[list[str]] = sa.bindparam("ids", expanding=True)
_DELETE = T_REPLY.delete().where((T_REPLY.c.source == _SOURCE_P)
                                 & T_REPLY.c.ticket_id.in_(_IDS_P))


def pairs(source: str, rows: Sequence[Any],
          start: Mapping[str, tuple[int, float]] | None = None) -> list[dict[str, Any]]:
    """`reply_pair` rows from (ticket_id, role, score, agent, created_at) rows, public
    customer and agent messages in ticket, time, id order.

    A ticket in `start` has its rows from its latest scored customer message on only (the
    messages after it, an append): (turns before them, that message's score)."""
    out: list[dict[str, Any]] = []
    ticket: str | None = None
    turn = 0  # scored customer messages so far in this ticket
    before = 0.0
    waiting: dict[str, Any] = {}  # agent -> time of their latest reply in this turn
    for ticket_id, role, score, agent, created_at in rows:
        if ticket_id != ticket:
            ticket, waiting = ticket_id, {}
            turn, before = start.get(ticket_id, (0, 0.0)) if start else (0, 0.0)
        if role == "customer":
            if score is None:
                continue
            out.extend({"source": source, "ticket_id": ticket_id, "turn": turn,
                        "agent": agent, "score_before": before, "score_after": float(score),
                        "last_reply_at": at, "after_at": created_at}
                       for agent, at in waiting.items())
            turn, before, waiting = turn + 1, float(score), {}
        elif turn:
            waiting[str(agent)] = created_at
    return out


def replace_pairs(db: Database, conn: Connection, source: str, ticket_ids: Sequence[str],
                  rows: list[dict[str, Any]]) -> None:
    """The pairs of these tickets of one source become `rows` (made by `pairs` from their
    stored messages, read with their `ticket_series` rows)."""
    conn.execute(_DELETE, {"source": source, "ids": list(ticket_ids)})
    db.write_many(conn, T_REPLY, T_REPLY.insert(), rows)
