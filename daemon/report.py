"""The dashboard: the original article's three numbers, then what an ops team needs.

`build_report` returns a JSON-stable dict; `render_report` draws it as text tables.
The article's numbers over the last N days (by message time):
- `avg_sentiment`: mean of customer message scores, rounded to 2 decimals;
- `negative_tickets`: distinct tickets with a message scored below -0.5;
- `declining_conversations`: tickets with more than 2 scored messages in the window whose
  messages after the 2nd (by position in the whole conversation) average more than 0.3
  below the first two — exactly the article's SQL, where a ticket whose first two
  messages fall before the window has no "first two" and does not count.
Then escalations by rule, parked outbox rows, poll health per source, the tickets most at
risk now (lowest recent average) with sparklines, and agent impact: for each agent reply,
the customer's next score against the one before the reply.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from statistics import mean
from typing import Any

import sqlalchemy as sa

from daemon.quality import render_rule_quality, rule_quality
from daemon.store import T_ESCALATION, T_MESSAGE, T_OUTBOX, T_SOURCE, T_TICKET, Store, aware

SPARK = "▁▂▃▄▅▆▇█"


def sparkline(scores: list[float]) -> str:
    out = []
    for score in scores:
        clamped = max(-1.0, min(1.0, score))
        out.append(SPARK[min(len(SPARK) - 1, int((clamped + 1) / 2 * len(SPARK)))])
    return "".join(out)


def _iso(moment: datetime | None) -> str | None:
    value = aware(moment)
    return value.isoformat() if value else None


def build_report(store: Store, *, days: int = 7, source: str | None = None,
                 now: datetime, at_risk: int = 10) -> dict[str, Any]:
    start = now - timedelta(days=days)
    where_source = (T_MESSAGE.c.source == source) if source else sa.true()
    with store.reading() as conn:
        messages = conn.execute(sa.select(
            T_MESSAGE.c.source, T_MESSAGE.c.ticket_id, T_MESSAGE.c.message_id,
            T_MESSAGE.c.author_role, T_MESSAGE.c.author_name, T_MESSAGE.c.author_id,
            T_MESSAGE.c.public, T_MESSAGE.c.created_at, T_MESSAGE.c.score,
        ).where(where_source & T_MESSAGE.c.ticket_id.in_(
            sa.select(T_MESSAGE.c.ticket_id).where(where_source
                                                   & (T_MESSAGE.c.created_at > start))
        )).order_by(T_MESSAGE.c.source, T_MESSAGE.c.ticket_id, T_MESSAGE.c.created_at,
                    T_MESSAGE.c.id)).mappings().all()
        esc_where = (T_ESCALATION.c.at > start) & (T_ESCALATION.c.kind == "fire")
        if source:
            esc_where = esc_where & (T_ESCALATION.c.source == source)
        escalations: dict[str, int] = dict(conn.execute(sa.select(T_ESCALATION.c.rule, sa.func.count()).where(
            esc_where & T_ESCALATION.c.backfill.is_(False)).group_by(T_ESCALATION.c.rule)).all())
        parked = conn.execute(sa.select(
            T_OUTBOX.c.id, T_OUTBOX.c.source, T_OUTBOX.c.ticket_id, T_OUTBOX.c.kind,
            T_OUTBOX.c.target, T_OUTBOX.c.attempts, T_OUTBOX.c.last_error,
            T_OUTBOX.c.created_at).where(T_OUTBOX.c.status == "parked").order_by(
            T_OUTBOX.c.id.desc()).limit(50)).mappings().all()
        pending = conn.execute(sa.select(sa.func.count()).where(
            T_OUTBOX.c.status == "pending")).scalar() or 0
        sources = conn.execute(sa.select(T_SOURCE).order_by(T_SOURCE.c.source)).mappings().all()
        tickets = {(r["source"], r["ticket_id"]): r for r in conn.execute(sa.select(
            T_TICKET.c.source, T_TICKET.c.ticket_id, T_TICKET.c.subject, T_TICKET.c.url,
            T_TICKET.c.priority, T_TICKET.c.tags, T_TICKET.c.requester)).mappings()}

    conversations: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for row in messages:
        conversations[(row["source"], row["ticket_id"])].append(row)

    window_scores: list[float] = []
    negative: set[tuple[str, str]] = set()
    declining = 0
    risk: list[dict[str, Any]] = []
    impact: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for key, rows in conversations.items():
        customer = [r for r in rows if r["author_role"] == "customer" and r["score"] is not None]
        numbered = [(n, r) for n, r in enumerate(customer, start=1)
                    if aware(r["created_at"]) > start]  # type: ignore[operator]
        scores = [r["score"] for _, r in numbered]
        window_scores += scores
        if any(s < -0.5 for s in scores):
            negative.add(key)
        first = [r["score"] for n, r in numbered if n <= 2]
        later = [r["score"] for n, r in numbered if n > 2]
        if len(numbered) > 2 and first and later and mean(later) < mean(first) - 0.3:
            declining += 1
        if customer:
            series = [r["score"] for r in customer]
            ticket: Any = tickets.get(key, {})
            risk.append({"source": key[0], "ticket_id": key[1],
                         "subject": ticket.get("subject") or "",
                         "url": ticket.get("url") or "", "priority": ticket.get("priority"),
                         "recent_avg": round(mean(series[-3:]), 2),
                         "last_score": round(series[-1], 2), "messages": len(series),
                         "sparkline": sparkline(series[-20:]),
                         "last_message_at": _iso(customer[-1]["created_at"])})
        last_customer: float | None = None
        waiting: list[tuple[str, float]] = []  # agent replies waiting for the next score
        for row in rows:
            if not row["public"]:
                continue
            if row["author_role"] == "customer" and row["score"] is not None:
                for agent, before in waiting:
                    impact[agent].append((before, row["score"]))
                waiting = []
                last_customer = row["score"]
            elif (row["author_role"] == "agent" and last_customer is not None
                  and aware(row["created_at"]) > start):  # type: ignore[operator]
                agent = row["author_name"] or row["author_id"] or "unknown"
                if all(a != agent for a, _ in waiting):
                    waiting.append((agent, last_customer))
    risk.sort(key=lambda r: (r["recent_avg"], r["last_score"]))

    def impact_row(pairs: list[tuple[float, float]]) -> dict[str, Any]:
        deltas = [after - before for before, after in pairs]
        return {"replies": len(pairs), "before_avg": round(mean(b for b, _ in pairs), 2),
                "after_avg": round(mean(a for _, a in pairs), 2),
                "delta_avg": round(mean(deltas), 2),
                "improved": sum(1 for d in deltas if d > 0.05),
                "worsened": sum(1 for d in deltas if d < -0.05)}

    all_pairs = [pair for pairs in impact.values() for pair in pairs]
    quality = rule_quality(store, days=days, source=source, now=now)
    return {
        **quality,
        "generated_at": now.isoformat(), "days": days, "source": source,
        "avg_sentiment": round(mean(window_scores), 2) if window_scores else 0,
        "negative_tickets": len(negative),
        "declining_conversations": declining,
        "scored_messages": len(window_scores),
        "escalations_by_rule": {k: int(v) for k, v in sorted(escalations.items())},
        "outbox": {"pending": int(pending), "parked": len(parked),
                   "parked_items": [{**dict(r), "created_at": _iso(r["created_at"])}
                                    for r in parked]},
        "sources": [{"source": s["source"], "last_success_at": _iso(s["last_success_at"]),
                     "last_poll_at": _iso(s["last_poll_at"]), "last_error": s["last_error"],
                     "consecutive_failures": s["consecutive_failures"], "polls": s["polls"],
                     "messages": s["messages"], "owner": s["owner"]}
                    for s in sources if source is None or s["source"] == source],
        "at_risk": risk[:at_risk],
        "agent_impact": {
            "overall": impact_row(all_pairs) if all_pairs else None,
            "agents": {agent: impact_row(pairs) for agent, pairs in sorted(impact.items())},
        },
    }


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[str("" if v is None else v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
              for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def render_report(report: dict[str, Any]) -> str:
    scope = f" for {report['source']}" if report["source"] else ""
    parts = [
        f"Sentiment over the last {report['days']} days{scope}",
        _table(["average sentiment", "negative tickets", "declining conversations",
                "scored messages"],
               [[report["avg_sentiment"], report["negative_tickets"],
                 report["declining_conversations"], report["scored_messages"]]]),
        "",
        "Escalations by rule",
        _table(["rule", "fired"], [[k, v] for k, v in report["escalations_by_rule"].items()])
        if report["escalations_by_rule"] else "  none",
        "",
        f"Outbox: {report['outbox']['pending']} pending, {report['outbox']['parked']} parked",
    ]
    if report["outbox"]["parked_items"]:
        parts.append(_table(["id", "source", "ticket", "kind", "target", "attempts", "error"],
                            [[p["id"], p["source"], p["ticket_id"], p["kind"], p["target"],
                              p["attempts"], (p["last_error"] or "")[:60]]
                             for p in report["outbox"]["parked_items"]]))
    parts += ["", "Poll health",
              _table(["source", "last success", "failures", "last error"],
                     [[s["source"], s["last_success_at"] or "never", s["consecutive_failures"],
                       (s["last_error"] or "")[:60]] for s in report["sources"]]), "",
              "Tickets most at risk now",
              _table(["source", "ticket", "recent avg", "last", "msgs", "trend", "subject"],
                     [[r["source"], r["ticket_id"], f"{r['recent_avg']:+.2f}",
                       f"{r['last_score']:+.2f}", r["messages"], r["sparkline"],
                       r["subject"][:40]] for r in report["at_risk"]])
              if report["at_risk"] else "  none", "",
              "Agent impact (customer's next score vs the one before the reply)"]
    impact = report["agent_impact"]
    if impact["overall"]:
        rows = [["(all agents)", *_impact_cells(impact["overall"])]]
        rows += [[agent, *_impact_cells(row)] for agent, row in impact["agents"].items()]
        parts.append(_table(["agent", "replies", "before", "after", "change", "better",
                             "worse"], rows))
    else:
        parts.append("  no agent replies followed by a customer message yet")
    parts += ["", *render_rule_quality(report)]
    return "\n".join(parts)


def _impact_cells(row: dict[str, Any]) -> list[Any]:
    return [row["replies"], f"{row['before_avg']:+.2f}", f"{row['after_avg']:+.2f}",
            f"{row['delta_avg']:+.2f}", row["improved"], row["worsened"]]
