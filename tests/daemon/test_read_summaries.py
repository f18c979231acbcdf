"""`ticket_series` and `reply_pair` (daemon/store/series.py, replies.py): the rows the
dashboard and `report` read instead of every message, and `ticket_turn`, where they
stand.  They must always be what a walk of `message` gives (`Series.rebuild`): after the
pipeline's batches, appended to or rewritten (late messages, equal times, notes,
unreadable languages, several agents, replies before the customer's first message), a
rescore, an erasure and retention (an agent known by name only loses it), and when
migrations 0008 and 0009 build them for an existing database; and the pages'
conversations and agents' pairs read from them equal the walk of the messages, also for
a `now` before the last message.
"""

from __future__ import annotations

import dataclasses
import random
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from itertools import cycle
from typing import Any

import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.base import Message, TicketSnapshot
from daemon.forget import forget_requester
from daemon.insights import Scope, TrendSettings
from daemon.insights.agents import _pairs
from daemon.insights.conversations import conversations, from_messages
from daemon.pipeline import Pipeline
from daemon.scoring.base import Score
from daemon.store import AGENT_KEY, T_MESSAGE, T_REPLY, T_SERIES, T_TURN, Store
from daemon.store.database import Database
from daemon.store.series import Extended, Series
from tests.daemon.helpers import ARTICLE_RULES, T0, ScriptedScorer


class _Scorer(ScriptedScorer):
    """ScriptedScorer, and a text with "lang=xx" is in a language it cannot read."""

    def score(self, texts: Sequence[str]) -> list[Score]:
        return [dataclasses.replace(score, language="xx", language_supported=False, score=0.0)
                if "lang=xx" in text else score
                for text, score in zip(texts, super().score(texts), strict=True)]


def _conversation(rng: random.Random, source: str, ticket: int) -> list[Message]:
    ticket_id = f"T{ticket}"
    snapshot = TicketSnapshot(ticket_id=ticket_id, subject=f"Ticket {ticket}",
                              url=f"https://example.test/t/{ticket}", status="open",
                              requester=f"customer{ticket % 5}")
    out = []
    minutes = ticket * 7
    for position in range(rng.randint(1, 14)):
        minutes += rng.choice((0, 5, 30, 600))  # 0: two messages at the same time
        role = rng.choice(("customer", "customer", "agent", "agent", "note"))
        value = round(rng.uniform(-1, 1), 3)
        body = f"score={value} words" + (" lang=xx" if rng.random() < 0.1 else "")
        agent = rng.choice(("a1", "a2", None))
        out.append(Message(
            message_id=f"{source}-{ticket}-{position}", ticket_id=ticket_id,
            author_role="customer" if role == "customer" else "agent",
            public=role != "note", created_at=T0 + timedelta(minutes=minutes), body=body,
            ticket=snapshot,
            author_id=f"customer{ticket % 5}" if role == "customer" else agent,
            author_name=None if role == "customer" or agent else "Agent Nameless"))
    return out


def _fill(store: Store) -> datetime:
    rng = random.Random(12)
    store.create_schema()
    store.sources.ensure(["zd", "fd"])
    messages = {source: [m for ticket in range(30) for m in _conversation(rng, source, ticket)]
                for source in ("zd", "fd")}
    now = max(m.created_at for batch in messages.values() for m in batch) + timedelta(hours=1)
    pipeline = Pipeline(store, _Scorer(), lambda: ARTICLE_RULES, clock=lambda: now)
    for source, batch in messages.items():
        rng.shuffle(batch)  # late messages: a batch may hold older ones than the last
        for start in range(0, len(batch), 17):
            pipeline.process(source, batch[start:start + 17], f"c{start}")
    return now


def _summaries(store: Store) -> dict[str, list[dict[str, Any]]]:
    with store.reading() as conn:
        return {table.name: [dict(row) for row in conn.execute(sa.select(table).order_by(
            *table.primary_key.columns)).mappings()] for table in (T_SERIES, T_REPLY, T_TURN)}


def _rebuilt(store: Store) -> dict[str, list[dict[str, Any]]]:
    """The three tables as `rebuild` writes them from every message (left so)."""
    with store.transaction() as conn:
        store.series.rebuild(conn)
    return _summaries(store)


def test_the_pipeline_keeps_them_equal_to_a_rebuild_and_to_the_migration(db_url: str
                                                                          ) -> None:
    from alembic import command

    from daemon.migrate import alembic_config

    store = Store(db_url)
    _fill(store)
    kept = _summaries(store)
    assert len(kept["ticket_series"]) > 40 and len(kept["reply_pair"]) > 40
    assert len(kept["ticket_turn"]) > 40
    assert _rebuilt(store) == kept
    with store.engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0008")
    assert not sa.inspect(store.engine).has_table("ticket_turn")
    with store.engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")  # 0009 builds it from `message`
    assert _summaries(store) == kept
    with store.engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0007")
    assert not sa.inspect(store.engine).has_table("ticket_series")
    assert not sa.inspect(store.engine).has_table("reply_pair")
    with store.engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")  # 0008 and 0009 from `message`
    assert _summaries(store) == kept
    store.close()


def test_a_rescore_an_erasure_and_retention_keep_them_equal_to_a_rebuild(db_url: str
                                                                          ) -> None:
    store = Store(db_url)
    now = _fill(store)
    with store.reading() as conn:
        ids = list(conn.execute(sa.select(T_MESSAGE.c.id).where(
            T_MESSAGE.c.author_role == "customer").order_by(T_MESSAGE.c.id).limit(6)
        ).scalars())
    store.messages.update_scores([
        {"_id": row_id, "score": -0.9, "label": "negative", "confidence": 0.9,
         "indicators": [], "signals": ["churn_risk"], "scorer": "later", "model": None,
         "needs_rescore": False, "language": "en", "language_supported": True}
        for row_id in ids])
    assert forget_requester(store, "customer3", "zd").matched
    named = {row["agent"] for row in _summaries(store)["reply_pair"]}
    store.retention.purge_customer_text(now + timedelta(days=1))  # names go: "unknown"
    kept = _summaries(store)
    assert any(row["last_signals"] == ["churn_risk"] for row in kept["ticket_series"])
    assert "Agent Nameless" in named - {row["agent"] for row in kept["reply_pair"]}
    assert _rebuilt(store) == kept
    store.close()


def _walked_pairs(store: Store, scope: Scope) -> dict[tuple[str, str], list[tuple[float, float]]]:
    """Agents' pairs by walking every public message up to `now`, as the page once did."""
    with store.reading() as conn:
        rows = conn.execute(sa.select(
            T_MESSAGE.c.source, T_MESSAGE.c.ticket_id, T_MESSAGE.c.author_role,
            T_MESSAGE.c.score, AGENT_KEY, T_MESSAGE.c.created_at,
        ).where(T_MESSAGE.c.public & (T_MESSAGE.c.created_at <= scope.now)).order_by(
            T_MESSAGE.c.source, T_MESSAGE.c.ticket_id, T_MESSAGE.c.created_at,
            T_MESSAGE.c.id)).all()
    pairs: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    ticket: tuple[str, str] | None = None
    before: float | None = None
    waiting: list[tuple[str, str]] = []
    for source, ticket_id, role, score, agent, created_at in rows:
        if (source, ticket_id) != ticket:
            ticket, before, waiting = (source, ticket_id), None, []
        if role == "customer":
            if score is not None:
                pairs.update({key: [*pairs[key], (before or 0.0, score)] for key in waiting})
                waiting, before = [], score
        elif (before is not None and created_at.replace(tzinfo=None)
              > scope.start.replace(tzinfo=None) and (source, agent) not in waiting):
            waiting.append((source, agent))
    return {key: sorted(value) for key, value in pairs.items()}


def test_the_pages_reads_equal_a_walk_of_the_messages(db_url: str) -> None:
    store = Store(db_url)
    end = _fill(store)
    with store.reading() as conn:
        keys = [(s, t) for s, t in conn.execute(sa.select(T_MESSAGE.c.source,
                                                          T_MESSAGE.c.ticket_id).distinct())]
    seen = 0
    # The last `now` is before many tickets' last message: those are read from `message`.
    for now in (end, end - timedelta(hours=3), T0 + timedelta(hours=2)):
        for days in (1, 7):
            for trend in (TrendSettings(), TrendSettings("ewma", 0.2, 0.4)):
                scope = Scope(now=now, days=days, source=None)
                with store.reading() as conn:
                    read = conversations(conn, scope, trend)
                    walked = sorted(from_messages(conn, scope, trend, keys),
                                    key=lambda c: (c.source, c.ticket_id))
                    pairs = {key: sorted(value) for key, value in _pairs(conn, scope).items()}
                assert read == walked
                assert pairs == _walked_pairs(store, scope)
                seen += bool(read) + bool(pairs)
    assert seen == 24  # no window was empty
    store.close()


class _Recorded(Series):
    """The store's `Series`, keeping what each `extend` did."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.done: list[Extended] = []

    def extend(self, conn: sa.Connection, source: str, message_ids: Sequence[str]) -> Extended:
        done = super().extend(conn, source, message_ids)
        self.done.append(done)
        return done


def _said(number: int, ticket_id: str, minutes: int, body: str = "score=0.1", *,
          agent: str | None = None, public: bool = True) -> Message:
    """A customer's message, or an agent's when `agent` is given ("" for one known by name
    only)."""
    return Message(
        message_id=f"{ticket_id}-{number}", ticket_id=ticket_id,
        author_role="agent" if agent is not None else "customer", public=public,
        created_at=T0 + timedelta(minutes=minutes), body=body,
        ticket=TicketSnapshot(ticket_id=ticket_id, subject="Ticket", status="open",
                              url=f"https://example.test/t/{ticket_id}", requester="dana"),
        author_id=agent or ("dana" if agent is None else None),
        author_name="Agent Nameless" if agent == "" else None)


#: Four batches, each ticket a case: A has agents' replies before the customer's first
#: message, then two agents (one twice, a private note between) in one turn that a later
#: batch closes; B has only agents' replies until a batch appends its customer's first
#: message; U's customer writes in a language the scorer cannot read (turns of the
#: pairs, not in the series) and its agent replies at the same time as the last stored
#: message; S's messages all share one time; L gets a late message in the same batch as
#: the others' in-order ones, then in-order ones again; M gets a late and an in-order one
#: in one batch.
_BATCHES = [
    [_said(0, "A", 0, agent="a1"), _said(1, "A", 1, agent="a2"), _said(2, "A", 2, "score=-0.2"),
     _said(0, "U", 1, "score=-0.9 lang=xx"), _said(0, "S", 5, "score=0.3"),
     _said(0, "L", 3, "score=0.2"), _said(1, "L", 10, agent="a1"),
     _said(0, "M", 1, "score=0.1"), _said(1, "M", 20, "score=0.4"),
     _said(0, "B", 0, agent="a1")],
    [_said(3, "A", 3, agent="a1"), _said(4, "A", 4, agent="a9", public=False),
     _said(5, "A", 4, agent="a2"), _said(6, "A", 5, agent="a1"),
     _said(1, "U", 2, agent=""), _said(2, "U", 3, "score=0.5"),
     _said(1, "S", 5, agent="a2"),
     _said(2, "L", 2, "score=-0.4"),
     _said(2, "M", 21, "score=-0.3"), _said(3, "M", 15, "score=0.6"),
     _said(1, "B", 1, agent="a2")],
    [_said(7, "A", 6, "score=-0.6"),
     _said(3, "U", 3, agent="a2"), _said(4, "U", 4, "score=0.8 lang=xx"),
     _said(2, "S", 5, "score=-0.5"), _said(3, "S", 5, agent="a1"),
     _said(3, "L", 11, agent="a2"), _said(4, "L", 12, "score=-0.8"),
     _said(2, "B", 2, agent="a1"), _said(3, "B", 3, "score=-0.3"), _said(4, "B", 4, agent="a2")],
    [_said(8, "A", 7, agent="a2"), _said(9, "A", 8, "score=0.2"), _said(10, "A", 8, agent="a1"),
     _said(5, "U", 5, agent="a1"), _said(6, "U", 6, "score=-0.1"),
     _said(4, "S", 5, "score=0.7"), _said(5, "B", 5, "score=0.3")],
]
#: Per batch, the tickets appended to (the others had no rows yet or a late message).
_APPENDED = [set(), {"A", "U", "S", "B"}, {"A", "U", "S", "L", "B"}, {"A", "U", "S", "B"}]


def test_the_pipeline_appends_what_a_rebuild_gives(db_url: str) -> None:
    store = Store(db_url)
    store.create_schema()
    store.sources.ensure(["zd"])
    store.series = recorded = _Recorded(store.db)
    pipeline = Pipeline(store, _Scorer(), lambda: ARTICLE_RULES, clock=lambda: T0)
    for number, (batch, appended) in enumerate(zip(_BATCHES, _APPENDED, strict=True)):
        pipeline.process("zd", batch, f"c{number}")
        touched = {m.ticket_id for m in batch}
        assert recorded.done[-1] == Extended(appended=frozenset(appended),
                                             rewritten=frozenset(touched - appended))
        kept = _summaries(store)
        assert _rebuilt(store) == kept, f"after batch {number}"
    series = {row["ticket_id"]: row for row in kept["ticket_series"]}
    assert series["U"]["scores"] == [0.5, -0.1]  # the unreadable ones are left out
    assert series["S"]["scores"] == [0.3, -0.5, 0.7]
    turns = {row["ticket_id"]: row["turns"] for row in kept["ticket_turn"]}
    assert turns == {"A": 3, "U": 4, "S": 3, "L": 3, "M": 4, "B": 2}
    pairs = {(row["ticket_id"], row["turn"], row["agent"]): (row["score_before"],
                                                            row["score_after"])
             for row in kept["reply_pair"]}
    assert pairs == {
        ("A", 1, "a1"): (-0.2, -0.6), ("A", 1, "a2"): (-0.2, -0.6),  # a9's note: not public
        ("A", 2, "a2"): (-0.6, 0.2),
        ("U", 1, "Agent Nameless"): (0.0, 0.5), ("U", 2, "a2"): (0.5, 0.0),
        ("U", 3, "a1"): (0.0, -0.1),
        ("S", 1, "a2"): (0.3, -0.5), ("S", 2, "a1"): (-0.5, 0.7),
        ("L", 2, "a1"): (0.2, -0.8), ("L", 2, "a2"): (0.2, -0.8),
        ("B", 1, "a2"): (-0.3, 0.3)}  # the replies before the customer's first: no pair
    store.close()


# A message of the property below: (ticket, kind, agent, minute, score, delay).  Its kind:
# a customer's readable, unreadable (language), private or unscored message, an agent's
# public reply or private note.  Equal minutes are ties (broken by id, i.e. arrival); a
# delay makes it arrive after later messages (a late one).
_KINDS = ("customer", "customer", "customer", "unread", "private", "unscored", "agent",
          "agent", "note")
_MESSAGES = st.lists(st.tuples(
    st.integers(0, 2), st.sampled_from(_KINDS), st.sampled_from(("a1", "a2", None)),
    st.integers(0, 12), st.integers(-10, 10).map(lambda tenths: tenths / 10),
    st.sampled_from((0, 0, 0, 0, 0, 2, 7))), min_size=1, max_size=24)


def _stored_row(number: int, ticket: int, kind: str, agent: str | None, minute: int,
                score: float) -> dict[str, Any]:
    role = "agent" if kind in ("agent", "note") else "customer"
    scored = role == "customer" and kind != "unscored"
    return {
        "source": "zd", "message_id": f"m{number}", "ticket_id": f"T{ticket}",
        "author_role": role, "author_id": agent if role == "agent" else "dana",
        "author_name": "Agent Nameless" if role == "agent" and agent is None else None,
        "public": kind not in ("private", "note"), "created_at": T0 + timedelta(minutes=minute),
        "body": "", "body_chars": 0, "truncated": False,
        "score": (0.0 if kind == "unread" else score) if scored else None,
        "language_supported": (kind != "unread" if minute % 3 else None) if scored else None,
        "signals": [f"s{minute % 2}"] if scored and score < 0 else [], "indicators": [],
        "needs_rescore": False, "stored_at": T0}


#: On SQLite the first release wrote times with their offset ("...+00:00"), today's code
#: without: a database upgraded from it holds both, and SQLite compares them as text.
_FIRST_RELEASE_TIMES = sa.text(
    "UPDATE message SET created_at = created_at || '+00:00' WHERE created_at NOT LIKE '%+%'")


def test_appending_batches_gives_what_a_rebuild_gives(db_url: str) -> None:
    """Any conversations, arriving in any batches with some messages late, some stored
    before an upgrade from the first release: after every batch the three tables equal a
    rebuild, and exactly the tickets whose new messages all come after their stored ones
    were appended to."""
    store = Store(db_url)
    store.create_schema()

    @settings(max_examples=60, deadline=None)
    @given(_MESSAGES, st.lists(st.tuples(st.integers(1, 6), st.booleans()), min_size=1,
                               max_size=6))
    def check(messages: list[tuple[int, str, str | None, int, float, int]],
              sizes: list[tuple[int, bool]]) -> None:
        with store.transaction() as conn:
            for table in (T_MESSAGE, T_SERIES, T_REPLY, T_TURN):
                conn.execute(table.delete())
        arrival = sorted(range(len(messages)),
                         key=lambda i: (messages[i][3] + messages[i][5], i))
        # Per ticket, its stored messages as the readers order them: (minute, written by
        # the first release, insertion order); SQLite sorts "...+00:00" after the same
        # time without it.
        stored: dict[int, list[tuple[int, bool, int]]] = defaultdict(list)
        begin = 0
        first_release = store.is_sqlite  # until the upgrade: once, at most
        for size, upgrade in cycle(sizes):
            if begin >= len(arrival):
                break
            batch = arrival[begin:begin + size]
            if upgrade and first_release:  # the messages so far were the first release's
                first_release = False
                with store.transaction() as conn:
                    conn.execute(_FIRST_RELEASE_TIMES)
                stored = defaultdict(list, {t: [(minute, True, n) for minute, _, n in keys]
                                            for t, keys in stored.items()})
            with store.transaction() as conn:
                store.messages.insert(conn, [_stored_row(i, *messages[i][:5]) for i in batch])
                done = store.series.extend(conn, "zd", [f"m{i}" for i in batch])
            new: dict[int, list[tuple[int, bool, int]]] = defaultdict(list)
            for n, i in enumerate(batch, start=begin):
                if messages[i][1] != "note":  # a private note is in neither table
                    new[messages[i][0]].append((messages[i][3], False, n))
            appended = {f"T{t}" for t, keys in new.items()
                        if stored[t] and min(keys) > max(stored[t])}
            assert done == Extended(appended=frozenset(appended), rewritten=frozenset(
                {f"T{t}" for t in new} - appended))
            for t, keys in new.items():
                stored[t] += keys
            begin += len(batch)
            kept = _summaries(store)
            assert _rebuilt(store) == kept

    check()
    store.close()
