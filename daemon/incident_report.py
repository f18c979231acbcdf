"""Incidents for `report` (and the dashboard): a listing with every member ticket.

`incident_listing` turns `store.incidents.overview` into JSON-stable dicts (ISO times);
`render_incidents` draws them as text for a terminal.  Topics, subjects and phrases come
from customers: control and bidi characters are stripped before they reach a terminal
and every field is capped.  Kept apart from daemon/report.py so either can change alone.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta
from typing import Any

from daemon.store import Store

#: Member tickets drawn per incident in the text listing (the JSON has all of them).
MEMBERS_SHOWN = 50


def incident_listing(store: Store, *, days: int = 7, now: datetime,
                     limit: int = 100) -> list[dict[str, Any]]:
    """Incidents with a member in the last `days` days, newest first."""
    rows = store.incidents.overview(since=now - timedelta(days=days), limit=limit)
    listing = []
    for row in rows:
        listing.append({
            "incident_id": row["incident_id"], "state": row["state"], "topic": row["topic"],
            "language": row["language"], "terms": list(row["terms"] or ()),
            "customers": row["members"], "opened_at": _iso(row["opened_at"]),
            "last_member_at": _iso(row["last_member_at"]),
            "resolved_at": _iso(row["resolved_at"]), "updates": row["updates"],
            "members": [{"source": m["source"], "ticket_id": m["ticket_id"],
                         "url": m["url"], "subject": m["subject"], "phrase": m["phrase"],
                         "joined_at": _iso(m["joined_at"])} for m in row["member_tickets"]],
        })
    return listing


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


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _safe(text: str | None, limit: int) -> str:
    """Customer text for a terminal: one line, no control or format characters, capped."""
    cleaned = "".join(ch for ch in (text or "")
                      if unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp"))
    cleaned = " ".join(cleaned.split())
    return cleaned if len(cleaned) <= limit else cleaned[:limit - 1] + "…"
