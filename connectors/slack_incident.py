"""The Slack message of an incident: many customers writing about one thing at once.

One message per step of the incident (opened, grew, resolved), each replying in the thread
of the first (the notifier threads them): its topic, how many customers, example phrases,
and a link to every member ticket (all of them when it opens and resolves, the new ones in
an update).  Pure: an `Alert` in, the message body out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from connectors.base import Alert
from connectors.slack_text import (
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

#: Sections of member ticket links per message; subjects are shown up to this many members.
LINK_SECTIONS_MAX = 10
SUBJECTS_UP_TO = 20


def is_incident(alert: Alert) -> bool:
    """Whether `alert` announces an incident rather than one ticket's escalation."""
    return alert.rule == "incident" and alert.source == "incident"


def _link_sections(lines: Sequence[str]) -> tuple[list[str], int]:
    """Lines packed into at most LINK_SECTIONS_MAX section texts; and how many did not fit."""
    sections: list[str] = []
    current: list[str] = []
    size = 0
    for shown, line in enumerate(lines):
        if current and size + len(line) + 1 > SECTION_MAX:
            sections.append("\n".join(current))
            current, size = [], 0
            if len(sections) == LINK_SECTIONS_MAX:
                return sections, len(lines) - shown
        current.append(line)
        size += len(line) + 1
    if current:
        sections.append("\n".join(current))
    return sections, 0


def _member_link(member: Mapping[str, str], with_subject: bool) -> str:
    ref = f"#{clean_line(member.get('ticket_id', ''))}"
    source = clean_line(member.get("source", ""))
    subject = truncate(clean_line(member.get("subject", "")), 80) if with_subject else ""
    url = safe_url(member.get("url") or "")
    link = f"<{url}|{mrkdwn_escape(ref)}>" if url else mrkdwn_escape(ref)
    tail = f" {mrkdwn_escape(subject)}" if subject else ""
    return f"• {link} ({mrkdwn_escape(source)}){tail}"


def _headline(alert: Alert, topic: str, count: object) -> tuple[str, str]:
    """The title and the one-sentence summary of this step of the incident."""
    minutes = alert.numbers.get("window_minutes")
    if alert.reason == "incident_resolved":
        return (f"✅ Incident resolved: {topic}",
                f"No new customer about this for {minutes} minutes; {count} customers in all.")
    if alert.reason == "incident_grew":
        new = alert.numbers.get("new_customers", len(alert.members))
        return (f"Incident growing: {topic}",
                f"{new} more customer{'' if new == 1 else 's'}; {count} in all.")
    return (f"🔥 Incident: {topic}",
            f"{count} customers wrote negatively about the same thing within {minutes} minutes.")


def _member_blocks(members: Sequence[Mapping[str, str]]) -> list[dict[str, Any]]:
    """Sections of links to the member tickets, and a note on those that did not fit."""
    with_subjects = len(members) <= SUBJECTS_UP_TO
    sections, left_out = _link_sections([_member_link(m, with_subjects) for m in members])
    blocks: list[dict[str, Any]] = [{"type": "section", "text": mrkdwn(text)}
                                    for text in sections]
    if left_out:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": (
            f"and {left_out} more tickets (see `helpdesk-sentinel report`)")}]})
    return blocks


def render_incident(alert: Alert) -> dict[str, Any]:
    """An incident: its topic, how many customers, example phrases, a link to every member
    ticket (all of them in the opening and resolving messages; the new ones in updates)."""
    topic = clean_line(alert.subject) or "(no topic)"
    customers = alert.numbers.get("customers")
    count = customers if isinstance(customers, int) else len(alert.members)
    title, summary = _headline(alert, topic, count)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": plain(title, HEADER_MAX)},
        {"type": "section", "text": plain(summary, SECTION_MAX)},
    ]
    phrases = indicator_phrases(alert.indicators)
    if phrases and alert.reason != "incident_resolved":
        blocks.append({"type": "section", "text": plain(
            "Customers wrote: " + " · ".join(f"“{p}”" for p in phrases), SECTION_MAX)})
    blocks += _member_blocks(alert.members)
    blocks.append({"type": "context", "elements": [
        {"type": "mrkdwn", "text": "helpdesk-sentinel · incident "
                                   f"{mrkdwn_escape(clean_line(alert.ticket_id))}"}]})
    return message(f"{title} ({count} customers)", blocks)
