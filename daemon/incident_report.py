"""Incidents for `report` (and the dashboard): a listing with every member ticket.

`incident_listing` asks the query layer (daemon/insights/incidents.py) for JSON-stable
dicts with ISO times; `render_incidents` draws them as text for a terminal.  Topics,
subjects and phrases come from customers: control and bidi characters are stripped
before they reach a terminal and every field is capped.  Kept apart from daemon/report.py so either can change alone.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Any

from daemon.insights import Insights, Scope
from daemon.store import Store

#: Member tickets drawn per incident in the text listing (the JSON has all of them).
MEMBERS_SHOWN = 50


def incident_listing(store: Store, *, days: int = 7, now: datetime) -> list[dict[str, Any]]:
    """Incidents with a member in the last `days` days, newest first (daemon.insights)."""
    return Insights(store).incidents(Scope(now=now, days=days))


def render_incidents(listing: list[dict[str, Any]]) -> str:
    if not listing:
        return "Incidents: none"
    lines = ["Incidents (many customers upset about one thing at once):"]
    for incident in listing:
        state = incident["state"]
        when = incident["opened_at"][:16].replace("T", " ") if incident["opened_at"] else "?"
        lines.append(f"  [{state}] {_safe(incident['topic'], 60)!s}: {incident['customers']} "
                     f"customers, opened {when} UTC ({incident['incident_id']})")
        for member in incident["members"][:MEMBERS_SHOWN]:
            lines.append(f"      {_safe(member['source'], 40)} #{_safe(member['ticket_id'], 40)}"
                         f"  {_safe(member['subject'], 60)}  {_safe(member['url'], 200)}")
        if len(incident["members"]) > MEMBERS_SHOWN:
            lines.append(f"      ... and {len(incident['members']) - MEMBERS_SHOWN} more "
                         f"(--json lists all)")
    return "\n".join(lines)


def _safe(text: str | None, limit: int) -> str:
    """Customer text for a terminal: one line, no control or format characters, capped."""
    cleaned = "".join(ch for ch in (text or "")
                      if unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp"))
    cleaned = " ".join(cleaned.split())
    return cleaned if len(cleaned) <= limit else cleaned[:limit - 1] + "…"
