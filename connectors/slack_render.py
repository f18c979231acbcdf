"""The Slack message of an alert: `render_alert` turns an `Alert` into a Block Kit body.

An escalation (or its recovery) is a header naming the rule, the ticket's fields (link,
customer, subject, priority, owner, earlier escalations), why it fired in plain words with
the score trend as a sparkline, the latest customer message and the phrases that tipped
it, an "Open ticket" button and a hint on marking a false alarm.  An incident has its own
message (connectors/slack_incident.py).  Pure: nothing here talks to Slack; every piece
of customer text goes through connectors/slack_text.py.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from connectors.base import Alert
from connectors.slack_incident import is_incident, render_incident
from connectors.slack_text import (
    BUTTON_TEXT_MAX,
    CONTEXT_ELEMENTS_MAX,
    FIELD_MAX,
    FIELDS_MAX,
    HEADER_MAX,
    SECTION_MAX,
    clean_line,
    indicator_phrases,
    message,
    mrkdwn,
    mrkdwn_escape,
    plain,
    safe_url,
    truncate,
)

#: Characters of the latest customer message shown (the payload is capped already).
EXCERPT_MAX = 300
#: Scores drawn in the sparkline (the most recent ones).
SPARKLINE_MAX = 40

SPARK_LEVELS = "▁▂▃▄▅▆▇█"


def sparkline(scores: Sequence[float], limit: int = SPARKLINE_MAX) -> str:
    """Scores in [-1, 1] as ▁..█ (low = negative), the most recent `limit` of them."""
    shown = list(scores)[-limit:]
    top = len(SPARK_LEVELS) - 1
    bars = []
    for score in shown:
        value = 0.0 if not math.isfinite(score) else max(-1.0, min(1.0, float(score)))
        bars.append(SPARK_LEVELS[round((value + 1.0) / 2.0 * top)])
    prefix = "…" if len(scores) > limit else ""
    return prefix + "".join(bars)


def render_alert(alert: Alert) -> dict[str, Any]:
    """The message body: `text` (notification fallback, mrkdwn) and `blocks`."""
    if is_incident(alert):
        return render_incident(alert)
    return render_escalation(alert)


@dataclass(frozen=True, slots=True)
class _Shown:
    """The alert's text as shown: cleaned, on one line, defaults for what is missing."""

    recovered: bool
    rule: str
    subject: str
    customer: str
    ticket_ref: str
    source: str
    reason: str
    why: list[str]
    url: str | None

    @classmethod
    def of(cls, alert: Alert) -> _Shown:
        return cls(recovered=alert.kind == "resolve", rule=clean_line(alert.rule),
                   subject=clean_line(alert.subject) or "(no subject)",
                   customer=clean_line(alert.customer) or "unknown customer",
                   ticket_ref=f"#{clean_line(alert.ticket_id)}",
                   source=clean_line(alert.source), reason=clean_line(alert.reason),
                   why=[clean_line(line) for line in alert.why if clean_line(line)],
                   url=safe_url(alert.ticket_url))


def render_escalation(alert: Alert) -> dict[str, Any]:
    """One ticket's escalation, or its recovery (`kind == "resolve"`)."""
    shown = _Shown.of(alert)
    title = f"✅ Recovered: {shown.rule}" if shown.recovered else f"🚨 Escalation: {shown.rule}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": plain(title, HEADER_MAX)},
        {"type": "section", "fields": _ticket_fields(alert, shown)[:FIELDS_MAX]},
    ]
    why = _why_text(alert, shown)
    if why:
        blocks.append({"type": "section", "text": mrkdwn(why)})
    if not shown.recovered:
        blocks += _customer_words(alert)
    if shown.url:
        blocks.append({"type": "actions", "elements": [{
            "type": "button", "text": plain("Open ticket", BUTTON_TEXT_MAX), "url": shown.url,
            **({} if shown.recovered else {"style": "danger"}),
        }]})
    blocks.append({"type": "context", "elements": _context(alert, shown)})
    return message(_fallback(shown), blocks)


def _ticket_fields(alert: Alert, shown: _Shown) -> list[dict[str, Any]]:
    """The ticket at a glance: link, customer, subject, priority, owner, history."""
    ref = mrkdwn_escape(shown.ticket_ref)
    link = f"<{shown.url}|{ref}>" if shown.url else ref
    fields: list[dict[str, Any]] = [
        mrkdwn(f"*Ticket*\n{link} ({mrkdwn_escape(shown.source)})", FIELD_MAX),
        plain(f"Customer: {shown.customer}", FIELD_MAX),
        plain(f"Subject: {shown.subject}", FIELD_MAX),
    ]
    if shown.reason and not shown.why:  # an alert queued before plain-words reasons existed
        fields.append(plain(f"Reason: {shown.reason}", FIELD_MAX))
    for line in (_priority_line(alert), _owner_line(alert)):
        if line:
            fields.append(plain(line, FIELD_MAX))
    if not shown.recovered:
        fields.append(plain(_history_line(alert), FIELD_MAX))
    return fields


def _why_text(alert: Alert, shown: _Shown) -> str:
    """Why it fired (or how things stand now), in plain words or numbers; the trend."""
    heading = "Now" if shown.recovered else "Why"
    lines = []
    numbers = " · ".join(_format_number(k, v) for k, v in alert.numbers.items())
    if shown.why:
        lines.append(f"*{heading}*")
        lines.extend(f"• {mrkdwn_escape(line)}" for line in shown.why)
    elif numbers:
        lines.append(f"*{heading}:* {mrkdwn_escape(numbers)}")
    spark = sparkline(alert.scores) if alert.show_scores else ""
    if spark:
        lines.append(f"*Scores* (oldest → newest, -1 very negative … +1 very positive): "
                     f"`{spark}`  {len(alert.scores)} customer message"
                     f"{'' if len(alert.scores) == 1 else 's'}")
    return "\n".join(lines)


def _customer_words(alert: Alert) -> list[dict[str, Any]]:
    """The latest message and the phrases that tipped it; plain_text, never interpreted."""
    blocks: list[dict[str, Any]] = []
    excerpt = truncate(clean_line(alert.excerpt), EXCERPT_MAX)
    if excerpt:
        blocks.append({"type": "section",
                       "text": plain(f"Latest message: “{excerpt}”", SECTION_MAX)})
    indicators = indicator_phrases(alert.indicators)
    if indicators:
        quoted = " · ".join(f"“{phrase}”" for phrase in indicators)
        blocks.append({"type": "section", "text": plain(quoted, SECTION_MAX)})
    return blocks


def _context(alert: Alert, shown: _Shown) -> list[dict[str, Any]]:
    context = [{"type": "mrkdwn", "text": f"helpdesk-sentinel · {mrkdwn_escape(shown.source)}"}]
    hint = _false_alarm_hint(alert)
    if hint:
        context.insert(0, mrkdwn(hint))
    return context[:CONTEXT_ELEMENTS_MAX]


def _fallback(shown: _Shown) -> str:
    """The notification text (before escaping): what happened, where, and the first why."""
    verb = "Recovered" if shown.recovered else "Escalation"
    fallback = f"{verb}: {shown.rule} on {shown.ticket_ref} \"{shown.subject}\" ({shown.customer})"
    if shown.why:
        fallback += f": {shown.why[0]}"
    elif shown.reason:
        fallback += f": {shown.reason}"
    return fallback


def _format_number(name: str, value: object) -> str:
    label = name.replace("_", " ")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{label} {clean_line(str(value))}"
    if isinstance(value, int):
        return f"{label} {value}"
    if not math.isfinite(value):
        return f"{label} n/a"
    signed = name in ("direction", "delta", "change")
    return f"{label} {value:+.2f}" if signed else f"{label} {value:.2f}"


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


def _history_line(alert: Alert) -> str:
    if not alert.earlier_on_ticket and not alert.earlier_for_customer:
        return "Escalated before: never"
    parts = []
    if alert.earlier_on_ticket:
        parts.append(f"{_times(alert.earlier_on_ticket)} on this ticket")
    if alert.earlier_for_customer:
        parts.append(f"{_times(alert.earlier_for_customer)} on this customer's other tickets")
    return "Escalated before: " + ", ".join(parts)


def _owner_line(alert: Alert) -> str | None:
    assignee = clean_line(alert.assignee)
    group = clean_line(alert.group)
    if not assignee and not group:
        return None
    return "Assigned to: " + " · ".join(part for part in (assignee, group and f"group {group}")
                                        if part)


def _priority_line(alert: Alert) -> str | None:
    before = clean_line(alert.priority)
    after = clean_line(alert.new_priority)
    if after and after != before:
        return f"Priority: {before or 'none'} → {after}"
    return f"Priority: {before}" if before else None


def _false_alarm_hint(alert: Alert) -> str | None:
    tag = clean_line(alert.false_alarm_tag)
    if alert.kind != "fire" or not tag:
        return None
    hint = f"Not a real problem? Add the tag `{mrkdwn_escape(tag)}` to the ticket"
    ours = [clean_line(t) for t in alert.escalation_tags if clean_line(t)]
    if ours:
        hint += " or remove " + ", ".join(f"`{mrkdwn_escape(t)}`" for t in ours[:3])
    return hint + "."
