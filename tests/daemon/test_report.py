"""The dashboard matches the original article's SQL on the same data, plus ops sections."""

from __future__ import annotations

import random
import sqlite3
from datetime import timedelta

from daemon.pipeline import Pipeline
from daemon.report import build_report, render_report, sparkline
from daemon.store import Store
from tests.daemon.helpers import ARTICLE_RULES, T0, ScriptedScorer, message


def _article_dashboard(rows: list[tuple[str, int, float, str]], start: str) -> dict[str, object]:
    """The article's get_sentiment_dashboard, verbatim SQL, on its own table layout."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE sentiment_log (ticket_id, message_number, score, analyzed_at)")
    conn.executemany("INSERT INTO sentiment_log VALUES (?, ?, ?, ?)", rows)
    avg = conn.execute("SELECT AVG(score) FROM sentiment_log WHERE analyzed_at > ?",
                       (start,)).fetchone()[0]
    negative = conn.execute("SELECT COUNT(DISTINCT ticket_id) FROM sentiment_log WHERE "
                            "score < -0.5 AND analyzed_at > ?", (start,)).fetchone()[0]
    declining = conn.execute("""
        SELECT ticket_id FROM sentiment_log WHERE analyzed_at > ?
        GROUP BY ticket_id HAVING COUNT(*) > 2
        AND AVG(CASE WHEN message_number > 2 THEN score END) <
            AVG(CASE WHEN message_number <= 2 THEN score END) - 0.3
        """, (start,)).fetchall()
    return {"avg_sentiment": round(avg or 0, 2), "negative_tickets": negative,
            "declining_conversations": len(declining)}


def test_article_numbers_match_the_article_sql(db_url: str) -> None:
    rng = random.Random(7)
    now = T0 + timedelta(days=10)
    store = Store(db_url)
    store.create_schema()
    store.ensure_sources(["zd"])
    pipeline = Pipeline(store, ScriptedScorer(), lambda: ARTICLE_RULES, clock=lambda: now)
    article_rows = []
    batch = []
    for ticket in range(40):
        count = rng.randint(1, 7)
        offset = rng.randint(0, 9 * 24 * 60)  # some conversations start before the window
        minutes = offset
        for n in range(1, count + 1):  # message_number follows time, as in the article
            score = round(rng.uniform(-1, 1), 2)
            minutes += rng.randint(30, 600)
            created = T0 + timedelta(minutes=minutes)
            batch.append(message(f"{ticket}-{n}", str(ticket), f"score={score}",
                                 minutes=minutes))
            batch.append(message(f"{ticket}-{n}a", str(ticket), "reply", role="agent",
                                 minutes=minutes + 1))
            article_rows.append((str(ticket), n, score, created.isoformat()))
    pipeline.process("zd", batch, "c")
    start = now - timedelta(days=7)
    report = build_report(store, days=7, now=now)
    expected = _article_dashboard(article_rows, start.isoformat())
    assert {k: report[k] for k in expected} == expected
    assert report["declining_conversations"] > 0 and report["negative_tickets"] > 0
    store.close()


def test_report_sections_and_agent_impact(sqlite_url: str) -> None:
    now = T0 + timedelta(hours=3)
    store = Store(sqlite_url)
    store.create_schema()
    store.ensure_sources(["zd"])
    pipeline = Pipeline(store, ScriptedScorer(), lambda: ARTICLE_RULES, clock=lambda: now)
    batch = [message("1", "1", "score=-0.2 hmm", minutes=0),
             message("2", "1", "Let me fix that", role="agent", minutes=5),
             message("3", "1", "score=0.4 thanks", minutes=10),
             message("4", "2", "score=-0.9 furious", minutes=0),
             message("5", "2", "Per policy no", role="agent", minutes=5),
             message("6", "2", "score=-0.95 worse", minutes=10)]
    for m in batch[3:]:
        object.__setattr__(m, "author_name", "Sam" if m.author_role == "agent" else None)
    for m in batch[:3]:
        object.__setattr__(m, "author_name", "Alex" if m.author_role == "agent" else None)
    pipeline.process("zd", batch, "c")
    report = build_report(store, days=7, now=now)
    agents = report["agent_impact"]["agents"]
    assert agents["Alex"]["delta_avg"] == 0.6 and agents["Alex"]["improved"] == 1
    assert agents["Sam"]["delta_avg"] == -0.05 and agents["Sam"]["worsened"] == 0
    assert report["at_risk"][0]["ticket_id"] == "2"
    assert report["escalations_by_rule"] == {"very-negative-message": 1}
    text = render_report(report)
    assert "Agent impact" in text and "very-negative-message" in text
    assert sparkline([-1.0, 0.0, 1.0]) == "▁▅█"
    store.close()


def test_report_counts_customer_messages_by_language(sqlite_url: str) -> None:
    from daemon.scoring.local import LocalScorer

    now = T0 + timedelta(hours=3)
    store = Store(sqlite_url)
    store.create_schema()
    store.ensure_sources(["zd"])
    pipeline = Pipeline(store, LocalScorer(), lambda: ARTICLE_RULES, clock=lambda: now)
    batch = [message("1", "1", "Where can I download my invoice?", minutes=0),
             message("2", "1", "Thanks, found it!", minutes=10),
             message("3", "2", "Das ist eine Katastrophe, ich kündige!", minutes=0),
             message("4", "3", "Dit is echt belachelijk, ik wacht al drie weken!", minutes=0),
             message("5", "3", "Sorry to hear that, looking into it", role="agent",
                     minutes=5)]
    pipeline.process("zd", batch, "c")
    report = build_report(store, days=7, now=now)
    assert report["messages_by_language"] == {
        "en": {"messages": 2, "unsupported": 0},
        "de": {"messages": 1, "unsupported": 0},
        "nl": {"messages": 1, "unsupported": 1}}
    text = render_report(report)
    assert "Customer messages by language" in text and "nl" in text
    store.close()
