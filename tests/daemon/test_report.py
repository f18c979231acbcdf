"""The report: the article's numbers on the same data, declining as the rules define it,
agent impact with intervals, and the command's edges (bad --days, unknown --source, a
closed pipe)."""

from __future__ import annotations

import json
import math
import random
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import mean, stdev

from daemon.insights import t_quantile_975
from daemon.pipeline import Pipeline
from daemon.report import build_report, render_report, sparkline, terminal_safe
from daemon.store import Store
from rules.trend import article_trend
from tests.daemon.helpers import ARTICLE_RULES, T0, ScriptedScorer, message
from tests.e2e.support import REPO


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
            "article_declining": len(declining)}


def test_article_numbers_match_the_article_sql(db_url: str) -> None:
    rng = random.Random(7)
    now = T0 + timedelta(days=10)
    store = Store(db_url)
    store.create_schema()
    store.sources.ensure(["zd"])
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
    article_rows = [row for row in article_rows if row[3] <= now.isoformat()]  # no future
    expected = _article_dashboard(article_rows, start.isoformat())
    assert {k: report[k] for k in ("avg_sentiment", "negative_tickets")} == {
        k: expected[k] for k in ("avg_sentiment", "negative_tickets")}
    # Declining is what the rules call declining: the trend over each active ticket's
    # whole customer series, not the article's rougher SQL.
    series: dict[str, list[tuple[int, float, str]]] = {}
    for ticket, n, score, created in article_rows:
        series.setdefault(ticket, []).append((n, score, created))
    rules_declining = sum(
        1 for rows in series.values()
        if any(created > start.isoformat() for _, _, created in rows)
        and article_trend([score for _, score, _ in sorted(rows)]).trend == "declining")
    assert report["declining_conversations"] == rules_declining > 0
    assert report["negative_tickets"] > 0
    store.close()


def test_report_sections_and_agent_impact(sqlite_url: str) -> None:
    now = T0 + timedelta(hours=30)
    store = Store(sqlite_url)
    store.create_schema()
    store.sources.ensure(["zd"])
    pipeline = Pipeline(store, ScriptedScorer(), lambda: ARTICLE_RULES, clock=lambda: now)
    batch = []
    # Alex: six tickets where the customer is happier after the reply (+0.4 .. +0.9).
    for n in range(6):
        before, after = -0.3, 0.1 + n / 10
        batch += [message(f"a{n}c1", f"a{n}", f"score={before} hmm", minutes=n),
                  message(f"a{n}r", f"a{n}", "Let me fix that", role="agent", minutes=n + 5),
                  message(f"a{n}r2", f"a{n}", "Also this", role="agent", minutes=n + 6),
                  message(f"a{n}c2", f"a{n}", f"score={after} thanks", minutes=n + 10)]
    # Sam: one reply, too few to rank.
    batch += [message("s1", "s", "score=-0.9 furious", minutes=0),
              message("s2", "s", "Per policy no", role="agent", minutes=5),
              message("s3", "s", "score=-0.95 worse", minutes=10)]
    for m in batch:
        if m.author_role == "agent":
            name = "Sam" if m.ticket_id == "s" else "Alex"
            object.__setattr__(m, "author_name", name)
            object.__setattr__(m, "author_id", name.lower())
    pipeline.process("zd", batch, "c")
    report = build_report(store, days=7, now=now)
    impact = report["agent_impact"]
    assert [a["agent"] for a in impact["agents"]] == ["Alex"]
    alex = impact["agents"][0]
    deltas = [0.1 + n / 10 + 0.3 for n in range(6)]  # two replies in a row count once
    assert alex["replies"] == 6 and alex["delta_avg"] == round(mean(deltas), 2)
    half = 2.571 * stdev(deltas) / math.sqrt(6)  # t(0.975, 5 df)
    assert alex["delta_low"] == round(mean(deltas) - half, 2)
    assert alex["delta_high"] == round(mean(deltas) + half, 2)
    assert impact["hidden_agents"] == 1 and impact["hidden_replies"] == 1
    assert impact["overall"]["replies"] == 7
    assert report["at_risk"][0]["ticket_id"] == "s"
    assert "very negative" in " ".join(report["at_risk"][0]["reasons"])
    assert report["escalations_by_rule"] == {"very-negative-message": 1}
    assert report["escalation_outcomes"] == [
        {"rule": "very-negative-message", "fired": 1, "tickets": 1, "active": 1,
         "resolved": 0, "false_alarm": 0}]
    text = render_report(report)
    assert "Agent impact" in text and "very-negative-message" in text
    assert "https://example.test/agent/tickets/s" in text  # ticket links
    assert "1 agent(s) with fewer than 5 replies" in text
    assert sparkline([-1.0, 0.0, 1.0]) == "▁▅█"
    store.close()


def test_t_quantiles_match_the_table_and_the_normal_limit() -> None:
    assert t_quantile_975(5) == 2.571
    assert abs(t_quantile_975(40) - 2.0211) < 1e-3
    assert abs(t_quantile_975(120) - 1.9799) < 1e-3
    assert abs(t_quantile_975(100_000) - 1.95996) < 1e-3
    assert t_quantile_975(31) < t_quantile_975(30)


def test_terminal_output_neutralises_control_characters() -> None:
    hostile = "Refund\x1b[2J\x1b]0;pwned\x07 now\u202e\nnext"
    cell = terminal_safe(hostile)
    assert "\x1b" not in cell and "\x07" not in cell and "\u202e" not in cell
    assert "\n" not in cell and cell.startswith("Refund")


def _config_for(db: Path, tmp_path: Path) -> Path:
    path = tmp_path / "report.yaml"
    path.write_text(f"database: {{url: 'sqlite:///{db}'}}\nstate_dir: {tmp_path / 'state'}\n"
                    "sources:\n  - {name: zd, kind: zendesk, base_url: 'http://127.0.0.1:9',"
                    " email: a@example.com, api_token: t}\n")
    return path


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "daemon.cli", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def test_report_command_refuses_bad_days_and_unknown_sources(tmp_path: Path) -> None:
    config = _config_for(tmp_path / "r.db", tmp_path)
    bad_days = _cli("report", "--config", str(config), "--days", "0")
    assert bad_days.returncode == 2 and "must be a positive number of days" in bad_days.stderr
    unknown = _cli("report", "--config", str(config), "--source", "nope")
    assert unknown.returncode == 2
    assert "unknown source 'nope' (known: zd)" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    known = _cli("report", "--config", str(config), "--source", "zd", "--json")
    assert known.returncode == 0 and json.loads(known.stdout)["source"] == "zd"


def test_report_into_a_closed_pipe_prints_no_traceback(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    store = Store(f"sqlite:///{db}")
    store.create_schema()
    store.sources.ensure(["zd"])
    now = datetime.now(UTC)
    pipeline = Pipeline(store, ScriptedScorer(), lambda: ARTICLE_RULES, clock=lambda: now)
    pipeline.process("zd", [message(str(n), str(n), f"score=-0.{n % 9 + 1} bad",
                                    minutes=int((now - T0).total_seconds() // 60) - n)
                            for n in range(300)], "c")
    store.close()
    config = _config_for(db, tmp_path)
    for args in (["report"], ["report", "--json"]):
        # The reader is gone before the report is written: the write fails with EPIPE.
        process = subprocess.Popen([sys.executable, "-m", "daemon.cli", *args, "--config",
                                    str(config)], cwd=REPO, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE)
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()
        errors = process.stderr.read().decode()
        assert process.wait(timeout=120) == 0, errors
        assert "Traceback" not in errors and "BrokenPipe" not in errors, errors


def test_escalation_outcomes_read_resolves_and_false_alarm_marks(sqlite_url: str) -> None:
    import sqlalchemy as sa

    from daemon.store import T_RULE

    now = T0 + timedelta(hours=3)
    store = Store(sqlite_url)
    store.create_schema()
    store.sources.ensure(["zd"])
    pipeline = Pipeline(store, ScriptedScorer(), lambda: ARTICLE_RULES, clock=lambda: now)
    pipeline.process("zd", [message(str(n), str(n), "score=-0.9 awful", minutes=n)
                            for n in range(3)], "c")
    with store.transaction() as conn:  # what a resolve and a lead's mark leave behind
        conn.execute(T_RULE.update().where(T_RULE.c.ticket_id == "1").values(
            state="resolved"))
        history = conn.execute(sa.select(T_RULE.c.history).where(
            T_RULE.c.ticket_id == "2")).scalar_one()
        conn.execute(T_RULE.update().where(T_RULE.c.ticket_id == "2").values(
            history={**history, "false_alarm": True}))
    report = build_report(store, days=7, now=now)
    assert report["escalation_outcomes"] == [
        {"rule": "very-negative-message", "fired": 3, "tickets": 3, "active": 1,
         "resolved": 1, "false_alarm": 1}]
    active = {t["ticket_id"]: t["active_rules"] for t in report["at_risk"]}
    assert active == {"0": ["very-negative-message"], "1": [], "2": []}
    store.close()


def test_report_counts_customer_messages_by_language(sqlite_url: str) -> None:
    from daemon.scoring.local import LocalScorer

    now = T0 + timedelta(hours=3)
    store = Store(sqlite_url)
    store.create_schema()
    store.sources.ensure(["zd"])
    pipeline = Pipeline(store, LocalScorer(), lambda: ARTICLE_RULES, clock=lambda: now)
    batch = [message("1", "1", "Where can I download my invoice?", minutes=0),
             message("2", "1", "Thanks, found it!", minutes=10),
             message("3", "2", "Das ist eine Katastrophe, ich kündige!", minutes=0),
             message("4", "3", "Dit is echt belachelijk, ik wacht al drie weken!", minutes=0),
             message("5", "3", "Sorry to hear that, looking into it", role="agent",
                     minutes=5)]
    pipeline.process("zd", batch, "c")
    report = build_report(store, days=7, now=now)
    by_language = {row["language"]: (row["scored_messages"], row["unsupported"])
                   for row in report["by_language"]}
    # Read messages count as scored; an unreadable one is counted apart, never as calm.
    assert by_language == {"en": (2, 0), "de": (1, 0), "nl": (0, 1)}
    assert report["scored_messages"] == 3
    text = render_report(report)
    assert "By language" in text and "nl" in text
    store.close()


def test_a_ticket_in_two_languages_is_one_ticket_overall_and_one_in_each_language(
        sqlite_url: str) -> None:
    """The summary and both breakdowns add up the same per-ticket figures: a ticket that
    wrote in two languages counts once overall and per source, once in each language."""
    from daemon.scoring.local import LocalScorer

    now = T0 + timedelta(hours=3)
    store = Store(sqlite_url)
    store.create_schema()
    store.sources.ensure(["zd"])
    pipeline = Pipeline(store, LocalScorer(), lambda: ARTICLE_RULES, clock=lambda: now)
    pipeline.process("zd", [
        message("1", "1", "This is a disaster, the worst service ever, I am furious!",
                minutes=0),
        message("2", "1", "Das ist eine Katastrophe, ich kündige!", minutes=10),
        message("3", "2", "Thanks, found it!", minutes=0)], "c")
    report = build_report(store, days=7, now=now)
    scores = [s for (s,) in sqlite3.connect(sqlite_url.removeprefix("sqlite:///")).execute(
        "SELECT score FROM message WHERE author_role = 'customer'")]
    assert report["scored_messages"] == 3
    assert report["avg_sentiment"] == round(mean(scores), 2)
    assert min(scores) < -0.5 and report["negative_tickets"] == 1
    (source,) = report["by_source"]
    assert (source["tickets"], source["negative_tickets"], source["scored_messages"]) == (2, 1, 3)
    by_language = {row["language"]: (row["scored_messages"], row["tickets"])
                   for row in report["by_language"]}
    assert by_language == {"en": (2, 2), "de": (1, 1)}
    store.close()
