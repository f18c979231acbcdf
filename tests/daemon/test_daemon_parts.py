"""The daemon's housekeeping over real sockets: metrics endpoint, retention, backfill."""

from __future__ import annotations

import io
import time
from pathlib import Path

import requests
import sqlalchemy as sa

from connectors.sandbox.zendesk import ZendeskSandbox
from daemon.backfill import run_backfill
from daemon.config import load_config
from daemon.service import Daemon
from daemon.store import T_ESCALATION, T_MESSAGE

CONFIG = """
state_dir: {state}
metrics: {{enabled: true, port: 0}}
retention: {{message_text: 1d}}
sources:
  - name: zd
    kind: zendesk
    base_url: {url}
    email: bot@example.com
    api_token: parts-token-9911
    start_from: -30d
notifiers:
  escalations: {{kind: slack, webhook_url: "http://127.0.0.1:9/services/T1/B1/x"}}
rules:
  - name: very-negative-message
    when: {{last_score_below: -0.7}}
    actions: {{add_tags: [sentiment-very-negative], notify: [escalations]}}
"""


def _setup(tmp_path: Path) -> tuple[ZendeskSandbox, Path]:
    sandbox = ZendeskSandbox(email="bot@example.com", api_token="parts-token-9911").start()
    old = time.time() - 3 * 86400  # three days ago: older than the retention period
    for n in range(3):
        ticket = sandbox.add_ticket(subject=f"Old {n}", customer_name="Pat",
                                    customer_email=f"p{n}@example.com", at=old + n,
                                    body="This is horrible, useless and disgusting. I hate it.")
        sandbox.add_comment(ticket, "agent", "Sorry to hear that.", old + 60)
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(state=tmp_path / "state", url=sandbox.url))
    return sandbox, path


def test_metrics_endpoint_counts_a_poll_and_retention_drops_old_text(tmp_path: Path) -> None:
    sandbox, path = _setup(tmp_path)
    daemon = Daemon(load_config(path, env={})).build()
    try:
        daemon.balance_leases()
        summary = daemon.poll_source("zd")
        assert summary["new"] == 6 and summary["escalated"] == 3
        server = daemon._metrics_server
        assert server is not None and server.address == "127.0.0.1"
        text = requests.get(f"http://127.0.0.1:{server.port}/metrics", timeout=5).text
        assert 'sentinel_polls_total{outcome="ok",source="zd"} 1.0' in text
        assert 'sentinel_escalations_total{rule="very-negative-message"} 3.0' in text
        assert 'sentinel_messages_scored_total{scorer="local"} 3.0' in text
        assert "ticket_id" not in text and "example.com" not in text  # no such labels
        assert daemon.retention()["messages"] == 6
        with daemon.store.reading() as conn:
            rows = conn.execute(sa.select(T_MESSAGE.c.body, T_MESSAGE.c.score)).all()
        assert all(body is None for body, _ in rows)  # text gone...
        assert sum(score is not None for _, score in rows) == 3  # ...scores kept
    finally:
        daemon.close()
        sandbox.stop()


def test_backfill_scores_history_without_acting_unless_asked(tmp_path: Path) -> None:
    sandbox, path = _setup(tmp_path)
    config = load_config(path, env={})
    out = io.StringIO()
    try:
        assert run_backfill(config, "zd", "-7d", alerts=False, out=out) == 0
        assert "6 new, 3 scored, 0 escalated" in out.getvalue()
        daemon = Daemon(config).build()
        try:
            with daemon.store.reading() as conn:
                stored = conn.execute(sa.select(sa.func.count()).select_from(T_MESSAGE)).scalar()
                fired = conn.execute(sa.select(sa.func.count()).select_from(T_ESCALATION)
                                     ).scalar()
            assert (stored, fired) == (6, 0)
            assert daemon.store.outbox.rows() == []
            assert daemon.store.sources.state("zd")["cursor"] is None  # live cursor untouched
        finally:
            daemon.close()
        assert sandbox.writes == []  # nothing written back to the helpdesk
        assert run_backfill(config, "nope", "-7d", alerts=False, out=out) == 2
    finally:
        sandbox.stop()
