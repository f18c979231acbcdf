"""Each ticket's scored customer series in one row (`ticket_series`), for the readers.

The dashboard and `report` need, for every ticket active in a window, the whole series of
its readable customer scores (the rules' trend is computed from it) and its latest
message.  Reading that from `message` costs a row per message; this table keeps it as
one row per ticket.  It is never updated piecemeal: every write that changes a ticket's
scored customer messages (the pipeline's insert, a rescore, an erasure) calls `refresh`
for those tickets in the same transaction, which rewrites their rows from `message` with
the same predicate and order the readers used, so the row is always what a read of
`message` would give.  The same call rewrites the tickets' `reply_pair` rows (the
agents' page, daemon/store/replies.py).  Migration 0008 builds both for an existing
database.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from daemon.store.database import Database, chunks
from daemon.store.models import T_MESSAGE, T_REPLY, T_SERIES
from daemon.store.replies import AGENT_KEY, pairs, replace_pairs

# A message in a language the scorer cannot read has a score of 0.0 that means "not read":
# like the rules, the series leaves it out (`refresh` applies the same test in Python).
CUSTOMER_SCORED = ((T_MESSAGE.c.author_role == "customer") & T_MESSAGE.c.score.is_not(None)
                   & T_MESSAGE.c.language_supported.is_not(False))

_SOURCE_P: sa.BindParameter[str] = sa.bindparam("source")
_IDS_P: sa.BindParameter[list[str]] = sa.bindparam("ids", expanding=True)
_TEXT = sa.String()  # read as plain text: the models' string type converts each value
# Everything both tables are made of, in one read: the customer messages (the series) and
# the public agent replies (the pairs), in time order.
_MESSAGES = sa.select(
    sa.type_coerce(T_MESSAGE.c.ticket_id, _TEXT), T_MESSAGE.c.id,
    sa.type_coerce(T_MESSAGE.c.author_role, _TEXT), T_MESSAGE.c.public, T_MESSAGE.c.score,
    T_MESSAGE.c.language_supported, sa.type_coerce(AGENT_KEY, _TEXT), T_MESSAGE.c.created_at,
    sa.cast(T_MESSAGE.c.signals, sa.Text),
).where((T_MESSAGE.c.source == _SOURCE_P) & T_MESSAGE.c.ticket_id.in_(_IDS_P)
        & ((T_MESSAGE.c.author_role == "customer")
           | ((T_MESSAGE.c.author_role == "agent") & T_MESSAGE.c.public))
        ).order_by(T_MESSAGE.c.ticket_id, T_MESSAGE.c.created_at, T_MESSAGE.c.id)
_DELETE = T_SERIES.delete().where((T_SERIES.c.source == _SOURCE_P)
                                  & T_SERIES.c.ticket_id.in_(_IDS_P))
#: Advisory lock keys of the sources' rows (a source's CRC-32 added: no other key is near).
_LOCK_BASE = 7_400_000_000
_UPDATED = ["scores", "last_id", "last_at", "last_signals"]
#: Tickets rewritten per read: every message of each is read, so a poll touching a
#: thousand long conversations holds this many tickets' rows at a time, not all of them
#: (a few hundred KB at a hundred tickets of ten messages, ~8 MB at five hundred).
REFRESH_TICKETS = 100


def signal_list(raw: str | None) -> list[str]:
    """A stored JSON list of signals as a list (most are empty: no parsing then)."""
    if not raw or raw == "[]":
        return []
    try:
        value = json.loads(raw)
    except ValueError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


def series_rows(source: str, rows: Sequence[Any]) -> list[dict[str, Any]]:
    """`ticket_series` rows from (ticket_id, id, score, created_at, signals text) rows in
    ticket, time, id order."""
    out: list[dict[str, Any]] = []
    first = 0
    for end in range(1, len(rows) + 1):
        if end < len(rows) and rows[end][0] == rows[first][0]:
            continue
        ticket_id, last_id, _, last_at, raw = rows[end - 1]
        out.append({"source": source, "ticket_id": ticket_id,
                    "scores": [float(row[2]) for row in rows[first:end]],
                    "last_id": last_id, "last_at": last_at,
                    "last_signals": signal_list(raw)})
        first = end
    return out


class Series:
    """The `ticket_series` rows: rewritten from `message`, never edited."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def lock(self, conn: Connection, sources: Iterable[str]) -> None:
        """Serialise, per source, the transactions that rewrite rows until they end (on
        PostgreSQL; SQLite transactions are serialised already).  Without it a rescore
        could read the messages before a poll's uncommitted ones, wait for the poll's
        row, and then write it back without them.  A transaction that also deletes or
        updates messages takes it first, before those row locks."""
        for source in sorted(set(sources)):
            self._db.lock(conn, _LOCK_BASE + zlib.crc32(source.encode()))

    def refresh(self, conn: Connection, keys: Iterable[tuple[str, str]]) -> None:
        """Rewrite the rows of these (source, ticket_id) from their stored messages (a
        ticket left with no scored customer message loses its row), and their agents'
        reply pairs (daemon/store/replies.py)."""
        by_source: dict[str, set[str]] = {}
        for source, ticket_id in keys:
            by_source.setdefault(source, set()).add(ticket_id)
        self.lock(conn, by_source)
        for source, ticket_ids in by_source.items():
            for chunk in chunks(sorted(ticket_ids), REFRESH_TICKETS):
                rows = conn.execute(_MESSAGES, {"source": source, "ids": list(chunk)}).all()
                fresh = series_rows(source, [
                    (r[0], r[1], r[4], r[7], r[8]) for r in rows
                    if r[2] == "customer" and r[4] is not None and r[5] is not False])
                self._db.upsert(conn, T_SERIES, ["source", "ticket_id"], fresh, _UPDATED)
                if gone := set(chunk) - {row["ticket_id"] for row in fresh}:
                    conn.execute(_DELETE, {"source": source, "ids": sorted(gone)})
                # A ticket whose messages hold no agent reply has no pairs, and agent
                # replies only ever go with their whole ticket: only the tickets with a
                # reply, or with no message left, can have pairs to rewrite.
                replied = {r[0] for r in rows if r[2] == "agent"}
                if stale := replied | (set(chunk) - {r[0] for r in rows}):
                    replace_pairs(self._db, conn, source, sorted(stale), pairs(source, [
                        (r[0], r[2], r[4], r[6], r[7]) for r in rows if r[3] and r[0] in stale]))

    def rebuild(self, conn: Connection) -> None:
        """Rewrite every row, of both tables (what migration 0008 does to an existing
        database, and a way to check it did)."""
        conn.execute(T_SERIES.delete())
        conn.execute(T_REPLY.delete())
        keys = conn.execute(sa.select(T_MESSAGE.c.source, T_MESSAGE.c.ticket_id).distinct())
        self.refresh(conn, [(source, ticket_id) for source, ticket_id in keys])
