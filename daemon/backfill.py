"""`helpdesk-sentinel backfill`: score a source's history so trends start with context.

Reads the source from `--since` with a private cursor (the daemon's live cursor is not
touched), stores and scores every message through the same pipeline, and by default
neither evaluates rules nor queues side effects: old frustration is context, not news.
With `--alerts` the rules run and act as they would have live.  The parts (store, scorer,
connector, pipeline) come from the composition root, daemon/app.py, wired as the daemon's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TextIO

from connectors.base import ConnectorError
from connectors.demo import referenced_sandboxes
from daemon.app import App
from daemon.config import Config, parse_start_from
from daemon.config_help import did_you_mean

#: Bound on connector rounds (each up to the source's page budget).
MAX_ROUNDS = 10_000


def run_backfill(config: Config, source_name: str, since: str, *, alerts: bool,
                 out: TextIO) -> int:
    try:
        source = config.source(source_name)
    except KeyError:
        names = [s.name for s in config.sources]
        guess = did_you_mean(source_name, names)
        print(f"unknown source {source_name!r}; configured: {', '.join(names)}"
              f"{f'; did you mean {guess}?' if guess else ''}", file=out)
        return 2
    start = parse_start_from(since, datetime.now(UTC))
    kinds = referenced_sandboxes(source) | referenced_sandboxes(config.scorer)
    with App.start(config, sandboxes=kinds) as app:
        store = app.store()
        store.create_schema()
        store.sources.ensure([source_name])
        totals = _read_history(app, source_name, start, alerts, out)
    if totals is None:
        return 1
    print(f"backfill {source_name} since {start.isoformat()}: {totals['fetched']} fetched, "
          f"{totals['new']} new, {totals['scored']} scored, {totals['escalated']} escalated"
          f"{'' if alerts else ' (rules not evaluated; use --alerts to act)'}", file=out)
    return 0


def _read_history(app: App, source_name: str, start: datetime, alerts: bool,
                  out: TextIO) -> dict[str, int] | None:
    """Totals of the read, or None when the source failed (said on `out`)."""
    connector = app.connector(source_name)
    pipeline = app.pipeline(lambda: app.config.rules)
    totals = {"fetched": 0, "new": 0, "scored": 0, "escalated": 0}
    cursor: str | None = None
    for _ in range(MAX_ROUNDS):
        try:
            result = connector.poll(cursor, start)
        except ConnectorError as exc:
            # Refused credentials or an unreachable helpdesk: say so in one line (the
            # HTTP layer's messages name the status, never a secret) and keep what
            # the rounds before stored.
            print(f"backfill {source_name}: stopped after {totals['fetched']} fetched: "
                  f"{exc}", file=out)
            return None
        batch = pipeline.process(source_name, result.messages, None,
                                 evaluate_rules=alerts)
        cursor = result.next_cursor
        for key in totals:
            totals[key] += getattr(batch, key)
        if result.caught_up:
            break
    return totals
