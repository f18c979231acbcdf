"""Each ticket's scored customer series in one row (`ticket_series`), for the readers.

The dashboard and `report` need, for every ticket active in a window, the whole series of
its readable customer scores (the rules' trend is computed from it) and its latest
message.  Reading that from `message` costs a row per message; this table keeps it as
one row per ticket, and `reply_pair` the agents' pairs (daemon/store/replies.py).  Every
write that changes a ticket's messages brings both up to date in the same transaction,
under the source's lock, so they are always what a read of `message` would give:

- `extend`, the pipeline's: when all of a ticket's new messages come after what its rows
  were made from (`ticket_turn`: the latest message, the turn the conversation is in),
  its series gets their scores appended and only the turn they close gets pairs: older
  turns cannot change.  What a batch reads of `message` does not grow with the
  conversation's length (its series row, one JSON list, is still read and written whole);
- `refresh` otherwise (a late message, a rescore, an erasure, retention): the rows are
  rewritten from all the ticket's messages, with the same predicate and order the
  readers used.

Migrations 0008 and 0009 build the three tables for an existing database.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.selectable import Join

from daemon.store.database import Database, chunks
from daemon.store.models import T_MESSAGE, T_REPLY, T_SERIES, T_TURN
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
_COLUMNS = (
    sa.type_coerce(T_MESSAGE.c.ticket_id, _TEXT), T_MESSAGE.c.id,
    sa.type_coerce(T_MESSAGE.c.author_role, _TEXT), T_MESSAGE.c.public, T_MESSAGE.c.score,
    T_MESSAGE.c.language_supported, sa.type_coerce(AGENT_KEY, _TEXT), T_MESSAGE.c.created_at,
    sa.cast(T_MESSAGE.c.signals, sa.Text))
_COPIED = ((T_MESSAGE.c.author_role == "customer")
           | ((T_MESSAGE.c.author_role == "agent") & T_MESSAGE.c.public))
_ORDER = (T_MESSAGE.c.ticket_id, T_MESSAGE.c.created_at, T_MESSAGE.c.id)
_MESSAGES = sa.select(*_COLUMNS).where(
    (T_MESSAGE.c.source == _SOURCE_P) & T_MESSAGE.c.ticket_id.in_(_IDS_P) & _COPIED
).order_by(*_ORDER)


class _CrossJoin(Join):
    """`left CROSS JOIN right`, the join's condition in the WHERE clause: SQLite then reads
    `left` first (with no statistics to choose by, it read every message of the tickets
    to look each up in `ticket_turn`, rather than the open turn's range of the index);
    to PostgreSQL it is any inner join."""

    inherit_cache = True


@compiles(_CrossJoin)
def _cross_join(join: _CrossJoin, compiler: Any, **kw: Any) -> str:
    kw["asfrom"] = True
    return (f"{join.left._compiler_dispatch(compiler, **kw)} CROSS JOIN "
            f"{join.right._compiler_dispatch(compiler, **kw)}")


# Times are compared with the stored times of the messages `ticket_turn` names, never
# with copies: on SQLite times are text, and the first release wrote them with their
# offset ("...+00:00", kept by an upgrade), so a copy would not order as the readers do.
_LAST = T_MESSAGE.alias("last_message")
_TURN = T_MESSAGE.alias("turn_message")
_OF_TURN = ((T_TURN.c.source == T_MESSAGE.c.source)
            & (T_TURN.c.ticket_id == T_MESSAGE.c.ticket_id))
# A batch's messages (by message id), each with whether it sorts after the latest message
# its ticket's rows were made from, as the readers order (false when the ticket has no
# rows yet: it is rewritten).  Not in order: with an ORDER BY, SQLite reads every message
# of the source in the index's order instead of looking the ids up.
_NEW = sa.select(
    *_COLUMNS,
    _LAST.c.id.is_not(None) & (
        (T_MESSAGE.c.created_at > _LAST.c.created_at)
        | ((T_MESSAGE.c.created_at == _LAST.c.created_at) & (T_MESSAGE.c.id > _LAST.c.id))),
).select_from(T_MESSAGE.outerjoin(T_TURN, _OF_TURN).outerjoin(
    _LAST, _LAST.c.id == T_TURN.c.last_id)).where(
    (T_MESSAGE.c.source == _SOURCE_P) & T_MESSAGE.c.message_id.in_(_IDS_P) & _COPIED)
# Where tickets stand: their turns so far, the message that began the latest, its score.
_STOOD = sa.select(
    sa.type_coerce(T_TURN.c.ticket_id, _TEXT), T_TURN.c.turns, T_TURN.c.turn_id, _TURN.c.score,
).select_from(T_TURN.outerjoin(_TURN, _TURN.c.id == T_TURN.c.turn_id)).where(
    (T_TURN.c.source == _SOURCE_P) & T_TURN.c.ticket_id.in_(_IDS_P))
# The public agent replies of each ticket's open turn that its rows were made from: after
# the message that began it, up to the latest one, in the readers' order.  The tables are
# read in the order written (see _CrossJoin), the range on created_at is the index's.
_OPEN_TURN = sa.select(
    sa.type_coerce(T_MESSAGE.c.ticket_id, _TEXT), T_MESSAGE.c.created_at,
    sa.type_coerce(AGENT_KEY, _TEXT),
).select_from(_CrossJoin(_CrossJoin(_CrossJoin(T_TURN, _TURN, sa.true()), _LAST, sa.true()),
                         T_MESSAGE, sa.true())).where(
    (T_TURN.c.source == _SOURCE_P) & T_TURN.c.ticket_id.in_(_IDS_P)
    & (_TURN.c.id == T_TURN.c.turn_id) & (_LAST.c.id == T_TURN.c.last_id) & _OF_TURN
    & (T_MESSAGE.c.author_role == "agent") & T_MESSAGE.c.public
    & (T_MESSAGE.c.created_at >= _TURN.c.created_at)
    & (T_MESSAGE.c.created_at <= _LAST.c.created_at)
    & ((T_MESSAGE.c.created_at > _TURN.c.created_at) | (T_MESSAGE.c.id > _TURN.c.id))
    & ((T_MESSAGE.c.created_at < _LAST.c.created_at) | (T_MESSAGE.c.id <= _LAST.c.id))
).order_by(*_ORDER)
_STORED_SCORES = sa.select(sa.type_coerce(T_SERIES.c.ticket_id, _TEXT),
                           sa.cast(T_SERIES.c.scores, sa.Text)).where(
    (T_SERIES.c.source == _SOURCE_P) & T_SERIES.c.ticket_id.in_(_IDS_P))
_DELETE = T_SERIES.delete().where((T_SERIES.c.source == _SOURCE_P)
                                  & T_SERIES.c.ticket_id.in_(_IDS_P))
_DELETE_TURN = T_TURN.delete().where((T_TURN.c.source == _SOURCE_P)
                                     & T_TURN.c.ticket_id.in_(_IDS_P))
#: Advisory lock keys of the sources' rows (a source's CRC-32 added: no other key is near).
_LOCK_BASE = 7_400_000_000
_UPDATED = ["scores", "last_id", "last_at", "last_signals"]
_TURN_UPDATED = ["last_id", "turns", "turn_id"]
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


def _readable(role: str, score: float | None, supported: bool | None) -> bool:
    """A message the series holds (the predicate of CUSTOMER_SCORED)."""
    return role == "customer" and score is not None and supported is not False


def _opens_turn(role: str, public: bool | None, score: float | None) -> bool:
    """A message that ends a turn of the pairs and begins the next (daemon/store/replies.py:
    an unreadable language's 0.0 counts)."""
    return role == "customer" and bool(public) and score is not None


def turn_rows(source: str, rows: Sequence[Any],
              stood: Mapping[str, tuple[int, int | None]] | None = None
              ) -> dict[str, dict[str, Any]]:
    """`ticket_turn` rows by ticket from message rows (`_COLUMNS`) in ticket, time, id
    order; a ticket in `stood` (its stored turns and turn_id) goes on from there."""
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        turn = out.get(row[0])
        if turn is None:
            turns, turn_id = stood[row[0]] if stood and row[0] in stood else (0, None)
            turn = out[row[0]] = {"source": source, "ticket_id": row[0], "turns": turns,
                                  "turn_id": turn_id}
        if _opens_turn(row[2], row[3], row[4]):
            turn["turns"] += 1
            turn["turn_id"] = row[1]
        turn["last_id"] = row[1]
    return out


@dataclass(frozen=True, slots=True)
class Extended:
    """The tickets `Series.extend` appended to and those it rewrote."""

    appended: frozenset[str]
    rewritten: frozenset[str]


class Series:
    """The `ticket_series`, `reply_pair` and `ticket_turn` rows: rewritten from `message`,
    or extended by messages that come after everything they were made from."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def lock(self, conn: Connection, sources: Iterable[str]) -> None:
        """Serialise, per source, the transactions that write rows until they end (on
        PostgreSQL; SQLite transactions are serialised already).  Without it a rescore
        could read the messages before a poll's uncommitted ones, wait for the poll's
        row, and then write it back without them; an append could extend rows another
        transaction is rewriting.  A transaction that also deletes or
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
            self._rewrite(conn, source, sorted(ticket_ids))

    def extend(self, conn: Connection, source: str, message_ids: Sequence[str]) -> Extended:
        """Bring the rows up to date with these messages of `source` (their stored ids),
        inserted by this transaction: a ticket whose new messages all sort after the
        latest message its rows were made from (created_at, then id, as the readers
        order) has them appended, the others are rewritten (`refresh`).  The same rows
        either way; the append reads the new messages, its ticket's series row and the
        replies of the turn they close, however long the conversation.  Which tickets
        went which way is returned."""
        if not message_ids:
            return Extended(appended=frozenset(), rewritten=frozenset())
        self.lock(conn, [source])
        new: list[Any] = []
        for chunk in chunks(sorted(set(message_ids))):
            new += conn.execute(_NEW, {"source": source, "ids": list(chunk)}).all()
        # The readers' order (times are UTC, to the microsecond, in both databases).
        new.sort(key=lambda r: (r[0], r[7], r[1]))
        if late := {r[0] for r in new if not r[9]}:  # or no rows made yet: rewritten
            self._rewrite(conn, source, sorted(late))
        rows = [r for r in new if r[0] not in late]
        done = Extended(appended=frozenset(r[0] for r in rows), rewritten=frozenset(late))
        if not rows:
            return done
        stood: dict[str, tuple[int, int | None]] = {}
        before: dict[str, float] = {}  # the score that began each ticket's open turn
        for chunk in chunks(sorted(done.appended)):
            for ticket_id, turns, turn_id, score in conn.execute(
                    _STOOD, {"source": source, "ids": list(chunk)}):
                stood[ticket_id] = (int(turns), turn_id)
                before[ticket_id] = float(score or 0.0)
        self._append_series(conn, source, [(r[0], r[1], r[4], r[7], r[8]) for r in rows
                                           if _readable(r[2], r[4], r[5])])
        # Before `ticket_turn` is written: the open turn is read from where it stood.
        self._append_pairs(conn, source, rows, {t: (stood[t][0], before[t]) for t in stood})
        self._db.upsert(conn, T_TURN, ["source", "ticket_id"],
                        list(turn_rows(source, rows, stood).values()), _TURN_UPDATED)
        return done

    def _append_series(self, conn: Connection, source: str, readable: Sequence[Any]) -> None:
        """Their tickets' series rows with these (ticket_id, id, score, created_at, signals
        text) rows, which come after them, at the end."""
        if not readable:
            return
        stored: dict[str, list[float]] = {}
        for chunk in chunks(sorted({r[0] for r in readable})):
            for ticket_id, scores in conn.execute(_STORED_SCORES,
                                                  {"source": source, "ids": list(chunk)}):
                stored[ticket_id] = [float(score) for score in json.loads(scores or "[]")]
        fresh = series_rows(source, readable)
        for row in fresh:
            row["scores"] = stored.get(row["ticket_id"], []) + row["scores"]
        self._db.upsert(conn, T_SERIES, ["source", "ticket_id"], fresh, _UPDATED)

    def _append_pairs(self, conn: Connection, source: str, rows: Sequence[Any],
                      start: Mapping[str, tuple[int, float]]) -> None:
        """The pairs of the turns these new rows (`_COLUMNS`) close, their tickets at
        `start` (turns so far, the score that began the latest).  A turn's pairs are
        written when the customer's next scored message ends it, so only the open turn
        (its replies read back from `message`) and the turns within the rows get any."""
        closing = sorted({r[0] for r in rows if _opens_turn(r[2], r[3], r[4])})
        if not closing:
            return
        walks: dict[str, list[tuple[Any, ...]]] = {t: [] for t in closing}
        for chunk in chunks([t for t in closing if start[t][0]]):
            for ticket_id, created_at, agent in conn.execute(
                    _OPEN_TURN, {"source": source, "ids": list(chunk)}):
                walks[ticket_id].append((ticket_id, "agent", None, agent, created_at))
        for r in rows:
            if r[3] and r[0] in walks:
                walks[r[0]].append((r[0], r[2], r[4], r[6], r[7]))
        self._db.write_many(conn, T_REPLY, T_REPLY.insert(), pairs(
            source, [row for t in closing for row in walks[t]], start))

    def _rewrite(self, conn: Connection, source: str, ticket_ids: Sequence[str]) -> None:
        for chunk in chunks(ticket_ids, REFRESH_TICKETS):
            rows = conn.execute(_MESSAGES, {"source": source, "ids": list(chunk)}).all()
            fresh = series_rows(source, [(r[0], r[1], r[4], r[7], r[8]) for r in rows
                                         if _readable(r[2], r[4], r[5])])
            self._db.upsert(conn, T_SERIES, ["source", "ticket_id"], fresh, _UPDATED)
            if gone := set(chunk) - {row["ticket_id"] for row in fresh}:
                conn.execute(_DELETE, {"source": source, "ids": sorted(gone)})
            turns = turn_rows(source, rows)
            self._db.upsert(conn, T_TURN, ["source", "ticket_id"], list(turns.values()),
                            _TURN_UPDATED)
            if gone := set(chunk) - set(turns):
                conn.execute(_DELETE_TURN, {"source": source, "ids": sorted(gone)})
            # A ticket whose messages hold no agent reply has no pairs, and agent
            # replies only ever go with their whole ticket: only the tickets with a
            # reply, or with no message left, can have pairs to rewrite.
            replied = {r[0] for r in rows if r[2] == "agent"}
            if stale := replied | (set(chunk) - {r[0] for r in rows}):
                replace_pairs(self._db, conn, source, sorted(stale), pairs(source, [
                    (r[0], r[2], r[4], r[6], r[7]) for r in rows if r[3] and r[0] in stale]))

    def rebuild(self, conn: Connection) -> None:
        """Rewrite every row, of the three tables (what migrations 0008 and 0009 do to an
        existing database, and a way to check they did)."""
        conn.execute(T_SERIES.delete())
        conn.execute(T_REPLY.delete())
        conn.execute(T_TURN.delete())
        keys = conn.execute(sa.select(T_MESSAGE.c.source, T_MESSAGE.c.ticket_id).distinct())
        self.refresh(conn, [(source, ticket_id) for source, ticket_id in keys])
