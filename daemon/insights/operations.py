"""Is the daemon keeping up: the outbox backlog, the deliveries it parked after giving
up, and each source's poll health.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from daemon.insights.common import Scope, iso
from daemon.store import T_OUTBOX, T_SOURCE

#: Parked deliveries listed, newest first (the count covers all of them).
PARKED_SHOWN = 50


def operations(conn: Connection, scope: Scope) -> dict[str, Any]:
    """Outbox backlog, parked deliveries and poll health per source."""
    parked = conn.execute(sa.select(
        T_OUTBOX.c.id, T_OUTBOX.c.source, T_OUTBOX.c.ticket_id, T_OUTBOX.c.kind,
        T_OUTBOX.c.target, T_OUTBOX.c.attempts, T_OUTBOX.c.last_error,
        T_OUTBOX.c.created_at).where(T_OUTBOX.c.status == "parked").order_by(
        T_OUTBOX.c.id.desc()).limit(PARKED_SHOWN)).mappings().all()
    counts = {status: count for status, count in conn.execute(sa.select(
        T_OUTBOX.c.status, sa.func.count()).where(T_OUTBOX.c.status.in_(
            ("pending", "parked"))).group_by(T_OUTBOX.c.status))}
    sources = conn.execute(sa.select(T_SOURCE).order_by(T_SOURCE.c.source)).mappings().all()
    return {
        "outbox": {"pending": int(counts.get("pending", 0)),
                   "parked": int(counts.get("parked", 0)),
                   "parked_items": [{**dict(r), "created_at": iso(r["created_at"])}
                                    for r in parked]},
        "sources": [{"source": s["source"], "last_success_at": iso(s["last_success_at"]),
                     "last_poll_at": iso(s["last_poll_at"]), "last_error": s["last_error"],
                     "consecutive_failures": s["consecutive_failures"], "polls": s["polls"],
                     "messages": s["messages"], "owner": s["owner"]}
                    for s in sources if scope.source is None or s["source"] == scope.source],
    }
