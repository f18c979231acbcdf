"""`helpdesk-sentinel backfill`: score a source's history so trends start with context.

Reads the source from `--since` with a private cursor (the daemon's live cursor is not
touched), stores and scores every message through the same pipeline, and by default
neither evaluates rules nor queues side effects: old frustration is context, not news.
With `--alerts` the rules run and act as they would have live.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TextIO

from connectors.base import ConnectorError
from daemon.config import Config, parse_start_from
from daemon.config_help import did_you_mean
from daemon.pipeline import Pipeline
from daemon.scoring.settings import build_scorer
from daemon.store import Store

#: Bound on connector rounds (each up to the source's page budget).
MAX_ROUNDS = 10_000


def run_backfill(config: Config, source_name: str, since: str, *, alerts: bool,
                 out: TextIO) -> int:
    from daemon.service import referenced_sandboxes, start_sandboxes, with_sandbox_urls

    try:
        config.source(source_name)
    except KeyError:
        names = [s.name for s in config.sources]
        guess = did_you_mean(source_name, names)
        print(f"unknown source {source_name!r}; configured: {', '.join(names)}"
              f"{f'; did you mean {guess}?' if guess else ''}", file=out)
        return 2
    start = parse_start_from(since, datetime.now(UTC))
    store = Store(config.database_url)
    store.create_schema()
    store.ensure_sources([source_name])
    source = config.source(source_name)
    servers, urls = start_sandboxes(
        config, referenced_sandboxes(source) | referenced_sandboxes(config.scorer))
    connector = with_sandbox_urls(source, urls).create()
    scorer = build_scorer(with_sandbox_urls(config.scorer, urls),
                          cache_dir=config.state_dir / "cache")
    pipeline = Pipeline(store, scorer, lambda: config.rules,
                        max_chars=config.top.scoring.max_chars)
    totals = {"fetched": 0, "new": 0, "scored": 0, "escalated": 0}
    cursor: str | None = None
    try:
        for _ in range(MAX_ROUNDS):
            try:
                result = connector.poll(cursor, start)
            except ConnectorError as exc:
                # Refused credentials or an unreachable helpdesk: say so in one line (the
                # HTTP layer's messages name the status, never a secret) and keep what
                # the rounds before stored.
                print(f"backfill {source_name}: stopped after {totals['fetched']} fetched: "
                      f"{exc}", file=out)
                return 1
            batch = pipeline.process(source_name, result.messages, None,
                                     evaluate_rules=alerts, side_effects=alerts)
            cursor = result.next_cursor
            for key in totals:
                totals[key] += getattr(batch, key)
            if result.caught_up:
                break
    finally:
        connector.close()
        scorer.close()
        for server in servers:
            server.stop()
        store.close()
    print(f"backfill {source_name} since {start.isoformat()}: {totals['fetched']} fetched, "
          f"{totals['new']} new, {totals['scored']} scored, {totals['escalated']} escalated"
          f"{'' if alerts else ' (rules not evaluated; use --alerts to act)'}", file=out)
    return 0
