"""`ticket_series` and `reply_pair` (daemon/store/series.py, replies.py): the rows the
dashboard and `report` read instead of every message.  They must always be what a walk
of `message` gives: after the pipeline's batches (late messages, equal times, notes,
unreadable languages, several agents), a rescore, an erasure and retention (an agent known
by name only loses it), and when migration 0008
builds them for an existing database; and the pages' conversations and agents' pairs
read from them equal the walk of the messages, also for a `now` before the last message.
"""

from __future__ import annotations

import dataclasses
import random
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from connectors.base import Message, TicketSnapshot
from daemon.forget import forget_requester
from daemon.insights import Scope, TrendSettings
from daemon.insights.agents import _pairs
from daemon.insights.conversations import conversations, from_messages
from daemon.pipeline import Pipeline
from daemon.scoring.base import Score
from daemon.store import AGENT_KEY, T_MESSAGE, T_REPLY, T_SERIES, Store
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
            *table.primary_key.columns)).mappings()] for table in (T_SERIES, T_REPLY)}


def test_the_pipeline_keeps_them_equal_to_a_rebuild_and_to_the_migration(db_url: str
                                                                          ) -> None:
    from alembic import command

    from daemon.migrate import alembic_config

    store = Store(db_url)
    _fill(store)
    kept = _summaries(store)
    assert len(kept["ticket_series"]) > 40 and len(kept["reply_pair"]) > 40
    with store.transaction() as conn:
        store.series.rebuild(conn)
    assert _summaries(store) == kept
    with store.engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0007")
    assert not sa.inspect(store.engine).has_table("ticket_series")
    assert not sa.inspect(store.engine).has_table("reply_pair")
    with store.engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")  # 0008 builds them from `message`
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
    with store.transaction() as conn:
        store.series.rebuild(conn)
    assert _summaries(store) == kept
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
