"""The daemon's periodic chores besides polling: resolve sweeps, re-scoring, retention.

Each is one function over the parts it needs, run by the scheduler (daemon/service.py)
on its own interval; none keeps state between runs, so a restart loses nothing.
"""

from __future__ import annotations

from datetime import timedelta

from daemon.logs import get_logger
from daemon.pipeline import Pipeline
from daemon.scoring.base import Scorer
from daemon.store import Store
from vocab import utcnow

log = get_logger("sentinel.service")

#: Tickets re-evaluated per call of the pipeline in a sweep.
SWEEP_CHUNK = 200


def sweep(store: Store, pipeline: Pipeline, sources: list[str], incidents: bool) -> None:
    """Re-evaluate tickets whose resolve timer ran out, so they resolve without new messages."""
    for name in sources:
        tickets = store.rules.due_tickets(name, utcnow())
        for start in range(0, len(tickets), SWEEP_CHUNK):
            pipeline.reevaluate(name, tickets[start:start + SWEEP_CHUNK])
    if incidents and store.incidents.due(utcnow()):
        pipeline.incident_timers()


def rescore(store: Store, scorer: Scorer, limit: int = 100) -> int:
    """Replace fallback scores once the primary scorer is available again."""
    available = getattr(scorer, "is_available", None)
    if available is None or not available():
        return 0
    rows = store.messages.needing_rescore(limit)
    if not rows:
        return 0
    scores = scorer.score([row["body"] for row in rows])
    updates = [{"_id": row["id"], "score": s.score, "label": s.label,
                "confidence": s.confidence, "indicators": list(s.indicators),
                "signals": sorted(s.signals), "scorer": s.scorer, "model": s.model,
                "needs_rescore": s.needs_rescore, "language": s.language or None,
                "language_supported": s.language_supported}
               for row, s in zip(rows, scores, strict=True) if not s.needs_rescore]
    store.messages.update_scores(updates)
    if updates:
        log.info("rescored", messages=len(updates))
    return len(updates)


def purge_old_text(store: Store, scorer: Scorer, pipeline: Pipeline,
                   keep: timedelta) -> dict[str, int]:
    """Remove customer text older than `keep` everywhere we keep it: messages, ticket
    snapshots, outbox payloads and the Claude score cache."""
    purged = store.retention.purge_customer_text(utcnow() - keep)
    purge_cache = getattr(scorer, "purge_expired", None)
    purged["score_cache"] = int(purge_cache(keep.total_seconds())) if purge_cache else 0
    if any(purged.values()):
        pipeline.forget_cached()
        log.info("retention_purged", **purged)
    return purged
