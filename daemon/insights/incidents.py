"""Incidents a lead should know about: those with a member in the window, newest first,
each with every member ticket, as JSON-stable dicts (ISO times).
"""

from __future__ import annotations

from typing import Any

from daemon.insights.common import Scope, iso
from daemon.store import Store

#: Incidents listed at most.
INCIDENTS_SHOWN = 100


def incidents(store: Store, scope: Scope, limit: int = INCIDENTS_SHOWN) -> list[dict[str, Any]]:
    """Incidents with a member in the scope's window, newest first (every source: an
    incident is about many customers at once, whichever helpdesk they wrote to)."""
    listing = []
    for row in store.incidents.overview(since=scope.start, limit=limit):
        listing.append({
            "incident_id": row["incident_id"], "state": row["state"], "topic": row["topic"],
            "language": row["language"], "terms": list(row["terms"] or ()),
            "customers": row["members"], "opened_at": iso(row["opened_at"]),
            "last_member_at": iso(row["last_member_at"]),
            "resolved_at": iso(row["resolved_at"]), "updates": row["updates"],
            "members": [{"source": m["source"], "ticket_id": m["ticket_id"],
                         "url": m["url"], "subject": m["subject"], "phrase": m["phrase"],
                         "joined_at": iso(m["joined_at"])} for m in row["member_tickets"]],
        })
    return listing
