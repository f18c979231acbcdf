"""`report`: the dashboard's numbers in a terminal, as text tables or JSON.

`build_report` assembles a JSON-stable dict from `daemon.insights`, the query layer the
web dashboard uses too, so the two show the same numbers by construction (definitions in
that package); it reads nothing itself.  `render_report` draws it as text tables, with
every ticket's link; text that came from a helpdesk (subjects, errors) has its control
characters replaced so a hostile ticket cannot move the cursor or recolour the terminal.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from daemon.insights import Insights, Scope, TrendSettings
from daemon.store import Store
from daemon.terminal import safe_terminal

SPARK = "▁▂▃▄▅▆▇█"


def sparkline(scores: list[float]) -> str:
    out = []
    for score in scores:
        clamped = max(-1.0, min(1.0, score))
        out.append(SPARK[min(len(SPARK) - 1, int((clamped + 1) / 2 * len(SPARK)))])
    return "".join(out)


def build_report(store: Store, *, days: int = 7, source: str | None = None,
                 now: datetime, at_risk: int = 10,
                 trend: TrendSettings | None = None) -> dict[str, Any]:
    """The report as data; raises ValueError for days <= 0."""
    scope = Scope(now=now, days=days, source=source)
    insights = Insights(store, trend)
    overview = insights.overview(scope)
    risky = insights.at_risk(scope, limit=at_risk)
    for row in risky:
        row["sparkline"] = sparkline(row["scores"][-20:])
    escalations = overview["escalations"]
    return {
        **insights.rule_quality(scope),
        "generated_at": scope.now.isoformat(), "days": days, "source": source,
        **overview["summary"],
        "escalations_by_rule": {e["rule"]: e["fired"] for e in escalations},
        "escalation_outcomes": escalations,
        "by_source": overview["by_source"],
        "by_language": overview["by_language"],
        **insights.operations(scope),
        "at_risk": risky,
        "agent_impact": insights.agent_impact(scope),
    }


def terminal_safe(value: Any) -> str:
    """One table cell or inline value for a terminal (daemon.terminal.safe_terminal)."""
    return safe_terminal("" if value is None else value)


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[terminal_safe(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
              for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
              for row in cells]
    return "\n".join(lines)


def _signed(value: float | None) -> str:
    return "" if value is None else f"{value:+.2f}"


def render_report(report: dict[str, Any]) -> str:
    """The report as text: one section per question, in the dashboard's order."""
    sections = (_figures, _escalations, _breakdowns, _operations, _at_risk, _agents,
                _rule_quality)
    return "\n\n".join("\n".join(section(report)) for section in sections)


def _figures(report: dict[str, Any]) -> list[str]:
    scope = f" for {terminal_safe(report['source'])}" if report["source"] else ""
    return [f"Sentiment over the last {report['days']} days{scope}",
            _table(["average sentiment", "negative tickets", "declining conversations",
                    "scored messages"],
                   [[report["avg_sentiment"], report["negative_tickets"],
                     report["declining_conversations"], report["scored_messages"]]]),
            f"(declining: the rules' trend, method {report['trend_method']}, threshold "
            f"{report['decline_threshold']})"]


def _escalations(report: dict[str, Any]) -> list[str]:
    outcomes = report["escalation_outcomes"]
    return ["Escalations by rule (outcome of each escalated ticket now)",
            _table(["rule", "fired", "tickets", "active", "resolved", "false alarm"],
                   [[e["rule"], e["fired"], e["tickets"], e["active"], e["resolved"],
                     e["false_alarm"]] for e in outcomes]) if outcomes else "  none"]


def _breakdowns(report: dict[str, Any]) -> list[str]:
    lines = ["By source",
             _table(["source", "scored", "average", "negative tickets", "declining"],
                    [[s["source"], s["scored_messages"], _signed(s["avg_sentiment"]),
                      s["negative_tickets"], s["declining_conversations"]]
                     for s in report["by_source"]]) if report["by_source"] else "  none"]
    if report["by_language"] is not None:
        lines += ["", "By language",
                  _table(["language", "scored", "average", "negative tickets", "not readable"],
                         [[s["language"], s["scored_messages"], _signed(s["avg_sentiment"]),
                           s["negative_tickets"], s.get("unsupported", 0)]
                          for s in report["by_language"]])
                  if report["by_language"] else "  none"]
    return lines


def _operations(report: dict[str, Any]) -> list[str]:
    outbox = report["outbox"]
    lines = [f"Outbox: {outbox['pending']} pending, {outbox['parked']} parked"]
    if outbox["parked_items"]:
        lines.append(_table(["id", "source", "ticket", "kind", "target", "attempts", "error"],
                            [[p["id"], p["source"], p["ticket_id"], p["kind"], p["target"],
                              p["attempts"], (p["last_error"] or "")[:60]]
                             for p in outbox["parked_items"]]))
    lines += ["", "Poll health",
              _table(["source", "last success", "failures", "last error"],
                     [[s["source"], s["last_success_at"] or "never", s["consecutive_failures"],
                       (s["last_error"] or "")[:60]] for s in report["sources"]])]
    return lines


def _at_risk(report: dict[str, Any]) -> list[str]:
    lines = ["Tickets most at risk now"]
    if not report["at_risk"]:
        return [*lines, "  none"]
    lines.append(_table(
        ["source", "ticket", "recent avg", "last", "msgs", "scores", "subject", "link"],
        [[r["source"], r["ticket_id"], f"{r['recent_avg']:+.2f}", f"{r['last_score']:+.2f}",
          r["messages"], r["sparkline"], r["subject"][:40], r["url"]]
         for r in report["at_risk"]]))
    lines += ["", "Why they are at risk"]
    lines += [f"  {terminal_safe(r['ticket_id'])}: " + terminal_safe(" ".join(r["reasons"]))
              for r in report["at_risk"]]
    return lines


def _agents(report: dict[str, Any]) -> list[str]:
    impact = report["agent_impact"]
    lines = ["Agent impact (customer's next score minus the one before the reply; "
             "95% interval)"]
    if not impact["overall"]:
        return [*lines, "  no agent replies followed by a customer message yet"]
    rows = [["(all agents)", *_impact_cells(impact["overall"])]]
    rows += [[a["agent"], *_impact_cells(a)] for a in impact["agents"]]
    lines.append(_table(["agent", "replies", "before", "after", "change", "95% interval",
                         "better", "worse"], rows))
    if impact["hidden_agents"]:
        lines.append(f"  {impact['hidden_agents']} agent(s) with fewer than "
                     f"{impact['min_samples']} replies followed by a customer message "
                     f"({impact['hidden_replies']} replies) are not ranked: too few to "
                     "tell anything.")
    return lines


def _rule_quality(report: dict[str, Any]) -> list[str]:
    """Per rule by the agents' marks, and the scorer's overruled verdicts."""
    rows = report.get("rules") or {}
    lines = ["Escalation quality (agents' marks)"]
    if not rows:
        lines.append("  no rules fired and no marks yet")
    else:
        width = max(len("rule"), *(len(name) for name in rows))
        lines.append(f"{'rule'.ljust(width)}  fired  false alarms  missed  precision")
        lines.append(f"{'-' * width}  -----  ------------  ------  ---------")
        for name, row in rows.items():
            precision = "-" if row["precision"] is None else f"{row['precision']:.2f}"
            lines.append(f"{name.ljust(width)}  {row['fired']:>5}  {row['false_alarms']:>12}  "
                         f"{row['missed']:>6}  {precision:>9}")
    lines.append(f"Scorer disagreements (model verdict overruled by the evidence): "
                 f"{report.get('scorer_disagreements', 0)}")
    return lines


def _impact_cells(row: dict[str, Any]) -> list[Any]:
    interval = ("" if row["delta_low"] is None
                else f"{row['delta_low']:+.2f} .. {row['delta_high']:+.2f}")
    return [row["replies"], f"{row['before_avg']:+.2f}", f"{row['after_avg']:+.2f}",
            f"{row['delta_avg']:+.2f}", interval, row["improved"], row["worsened"]]
