"""The unit of work on real databases: store, score, evaluate, enqueue, advance — once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from daemon.pipeline import Pipeline
from daemon.scoring.local import LocalScorer
from daemon.store import Store
from tests.daemon.helpers import ARTICLE_RULES, T0, ScriptedScorer, message


def _pipeline(url: str, scorer: object | None = None) -> tuple[Store, Pipeline]:
    store = Store(url)
    store.create_schema()
    store.sources.ensure(["zd"])
    pipeline = Pipeline(store, scorer or ScriptedScorer(), lambda: ARTICLE_RULES,  # type: ignore[arg-type]
                        clock=lambda: T0 + timedelta(hours=1))
    return store, pipeline


def _declining(ticket: str = "7") -> list:
    return [
        message(f"{ticket}-1", ticket, "score=0.3 thanks", minutes=0),
        message(f"{ticket}-2", ticket, "On it!", role="agent", minutes=5),
        message(f"{ticket}-3", ticket, "score=-0.6 still broken", minutes=10),
        message(f"{ticket}-4", ticket, "score=-0.65 third time", minutes=20),
        message(f"{ticket}-5", ticket, "score=-0.68 cancel", minutes=30),
    ]


def test_declining_conversation_escalates_once_and_queues_side_effects(db_url: str) -> None:
    store, pipeline = _pipeline(db_url)
    result = pipeline.process("zd", _declining(), "cursor-1")
    assert (result.new, result.scored, result.escalated) == (5, 4, 1)
    (ticket_id, decision), = result.decisions
    assert (ticket_id, decision.rule, decision.reason) == ("7", "sentiment-declining",
                                                           "sentiment_declining")
    # direction = mean(-0.6,-0.65,-0.68) - mean(0.3,-0.6,-0.65) = -0.3267 < -0.3; avg -0.643
    assert (decision.numbers["direction"], decision.numbers["current_avg"]) == (-0.33, -0.64)
    rows = store.outbox.rows()
    assert sorted(r["kind"] for r in rows) == ["alert", "change"]
    change = next(r for r in rows if r["kind"] == "change")["payload"]
    assert change["add_tags"] == ["sentiment-declining"] and change["priority"] == "urgent"
    assert store.sources.state("zd")["cursor"] == "cursor-1"
    # The same messages again (a re-poll after a crash) change nothing.
    again = pipeline.process("zd", _declining(), "cursor-2")
    assert (again.new, again.scored, again.escalated) == (0, 0, 0)
    assert len(store.outbox.rows()) == 2
    store.close()


def test_agent_replies_are_stored_not_scored_and_own_notes_ignored(db_url: str) -> None:
    store, pipeline = _pipeline(db_url)
    scorer = pipeline.scorer
    batch = [message("1", "9", "score=-0.9 awful", minutes=0),
             message("2", "9", "We are sorry", role="agent", minutes=1),
             message("3", "9", "Sentinel note", role="agent", public=False, own_note=True,
                     minutes=2),
             message("4", "9", "internal: VIP", role="agent", public=False, minutes=3)]
    result = pipeline.process("zd", batch, "c")
    assert (result.new, result.scored) == (3, 1)
    assert scorer.calls == [["score=-0.9 awful"]]  # type: ignore[attr-defined]
    assert [d.rule for _, d in result.decisions] == ["very-negative-message"]
    store.close()


def test_hostile_bodies_are_normalised_stored_and_scored(db_url: str) -> None:
    store, pipeline = _pipeline(db_url, LocalScorer())
    bodies = ["lone \ud83d surrogate is terrible", "nul\x00byte awful service",
              "<p>This is <b>unacceptable</b></p><script>alert(1)</script>",
              "x" * 1_000_000, "\u202eevil rtl override", "😡😡 still broken"]
    batch = [message(str(i), "5", body, minutes=i, html=body.startswith("<"))
             for i, body in enumerate(bodies)]
    result = pipeline.process("zd", batch, "c")
    assert (result.new, result.scored) == (6, 6)
    import sqlalchemy as sa

    from daemon.store import T_MESSAGE
    with store.reading() as conn:
        rows = {r["message_id"]: r for r in conn.execute(sa.select(T_MESSAGE)).mappings()}
    assert "\x00" not in rows["1"]["body"] and "\ud83d" not in rows["0"]["body"]
    assert "script" not in rows["2"]["body"] and "unacceptable" in rows["2"]["body"]
    assert rows["3"]["truncated"] and rows["3"]["body_chars"] == 1_000_000
    assert len(rows["3"]["body"]) <= 20_000
    assert "\u202e" not in rows["4"]["body"]
    store.close()


def test_a_crash_before_commit_stores_nothing_and_keeps_the_cursor(sqlite_url: str) -> None:
    store, pipeline = _pipeline(sqlite_url)

    class Exploding(ScriptedScorer):
        def score(self, texts):  # type: ignore[no-untyped-def]
            raise RuntimeError("scorer died")

    pipeline.scorer = Exploding()
    with pytest.raises(RuntimeError):
        pipeline.process("zd", _declining(), "cursor-after")
    assert store.sources.state("zd")["cursor"] is None
    pipeline.scorer = ScriptedScorer()
    assert pipeline.process("zd", _declining(), "cursor-after").new == 5
    store.close()


def test_repeat_after_fires_again_only_when_due(sqlite_url: str) -> None:
    store, pipeline = _pipeline(sqlite_url)
    pipeline.process("zd", [message("a", "3", "score=-0.9 horrible")], "c1")
    now = T0 + timedelta(hours=2)
    pipeline._clock = lambda: now  # type: ignore[method-assign]
    second = pipeline.process("zd", [message("b", "3", "score=-0.95 worse", minutes=60)], "c2")
    assert second.escalated == 0
    pipeline._clock = lambda: T0 + timedelta(hours=26)  # type: ignore[method-assign]
    third = pipeline.process("zd", [message("c", "3", "score=-0.8 still", minutes=120)], "c3")
    assert [d.rule for _, d in third.decisions] == ["very-negative-message"]
    keys = sorted(r["dedupe_key"] for r in store.outbox.rows())
    assert keys == ["zd|3|very-negative-message|fire|1|change",
                    "zd|3|very-negative-message|fire|1|notify:escalations",
                    "zd|3|very-negative-message|fire|2|change",
                    "zd|3|very-negative-message|fire|2|notify:escalations"]
    store.close()


class _LostCommitStore(Store):
    """Commits, then reports the connection lost: the answer to COMMIT never arrived."""

    lose_next = False

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        with super().transaction() as conn:
            yield conn
        if self.lose_next:
            self.lose_next = False
            raise sa.exc.OperationalError("COMMIT", {}, ConnectionError("connection lost"))


def test_a_commit_whose_answer_was_lost_does_not_leave_the_trend_stale(db_url: str) -> None:
    store = _LostCommitStore(db_url)
    store.create_schema()
    store.sources.ensure(["zd"])
    pipeline = Pipeline(store, ScriptedScorer(), lambda: ARTICLE_RULES,  # type: ignore[arg-type]
                        clock=lambda: T0 + timedelta(hours=1))
    first, agent, second, third, fourth = _declining()
    assert pipeline.process("zd", [first, agent], "c1").escalated == 0
    store.lose_next = True
    with pytest.raises(sa.exc.OperationalError):
        pipeline.process("zd", [second], "c2")  # stored, cursor c2: it is not read again
    assert store.sources.state("zd")["cursor"] == "c2"
    # The trend must see all four customer messages (0.3, -0.6, -0.65, -0.68), not a
    # cached series missing the one whose commit went unacknowledged.
    result = pipeline.process("zd", [third, fourth], "c3")
    assert [(t, d.rule) for t, d in result.decisions] == [("7", "sentiment-declining")]
    store.close()


def test_each_message_is_stored_with_its_language(db_url: str) -> None:
    store, pipeline = _pipeline(db_url, LocalScorer())
    bodies = ["This is the fourth time I write. Absolutely unacceptable!",
              "Das ist eine Katastrophe, ich kündige!",
              "Dit is echt belachelijk, ik wacht al drie weken op mijn geld!"]
    batch = [message(str(i), "9", body, minutes=i) for i, body in enumerate(bodies)]
    result = pipeline.process("zd", batch, "c")
    assert result.scored == 3
    from daemon.store import T_MESSAGE
    with store.reading() as conn:
        rows = {r["message_id"]: r for r in conn.execute(sa.select(T_MESSAGE)).mappings()}
    assert [(rows[k]["language"], rows[k]["language_supported"]) for k in "012"] == [
        ("en", True), ("de", True), ("nl", False)]
    assert rows["2"]["confidence"] == 0.0 and "unsupported_language" in rows["2"]["signals"]
    # The unreadable reply does not hide the angry ones from the rules: the loaded
    # series keeps its language and flag.
    with store.reading() as conn:
        series = store.messages.customer_series(conn, "zd", ["9"])["9"]
    assert [(m["language"], m["language_supported"]) for m in series][-1] == ("nl", False)
    store.close()
