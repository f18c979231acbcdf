"""Faults: ~30% of vendor requests fail and the Claude scorer fails intermittently.

The Zendesk and Slack sandboxes fail a random 30% of requests (429 with Retry-After, 500,
502, 503, responses slower than the client's timeout, malformed JSON, dropped
connections) and the Anthropic sandbox answers 30% of scoring requests with 529 or 500,
while a few hundred conversations arrive.  Then the faults stop.  The daemon (a
subprocess) must have lost nothing: every message stored once, every customer message
scored (by Claude or, when Claude failed, by the offline fallback), every escalation's
ticket change and alert delivered, nothing parked; and it must never have sent a request
to a server before that server's Retry-After elapsed.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from pathlib import Path

import pytest

from connectors.sandbox.anthropic import AnthropicSandbox
from connectors.sandbox.slack import SlackSandbox
from connectors.sandbox.zendesk import ZendeskSandbox
from tests.e2e.support import (
    ANTHROPIC_KEY,
    SLACK_BOT_TOKEN,
    TAG_OF,
    ZENDESK_TOKEN,
    Arrival,
    DaemonProcess,
    FlakyMixin,
    Injected,
    StateDb,
    daemon_env,
    log_events,
    retry_after_violations,
    slack_alerts,
    wait_for,
    workload,
    write_config,
    zendesk_tags_added,
)

SEED = 6
FAILURE_RATE = 0.30
N_TICKETS = 100
FEED_SECONDS = 35.0


class FlakyZendesk(FlakyMixin, ZendeskSandbox):
    pass


class FlakySlack(FlakyMixin, SlackSandbox):
    pass


class FlakyAnthropic(AnthropicSandbox):
    """Answers a random share of scoring requests with 529 (overloaded) or 500."""

    failure_rate = 0.0

    def make_flaky(self, failure_rate: float, seed: int) -> None:
        self.failure_rate = failure_rate
        self._rng = random.Random(seed)
        self.failures: Counter[str] = Counter()

    def _next_behaviour(self) -> str:
        with self._calls_lock:
            if self.failure_rate and self._rng.random() < self.failure_rate:
                behaviour = self._rng.choice(("overloaded", "server_error"))
                self.failures[behaviour] += 1
                return behaviour
        return super()._next_behaviour()


@pytest.mark.slow
def test_thirty_percent_failures_lose_nothing_and_respect_retry_after(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    tickets = workload(N_TICKETS, SEED)
    total_turns = sum(len(t.turns) for t in tickets)
    total_customer = sum(len(t.customer_texts) for t in tickets)
    zendesk = FlakyZendesk(email="bot@example.com", api_token=ZENDESK_TOKEN,
                           exclusion_seconds=0, incremental_per_minute=None)
    slack = FlakySlack(tokens=(SLACK_BOT_TOKEN,), channels=("#escalations",),
                       rate_per_second=1000, burst=1000)
    claude = FlakyAnthropic(api_key=ANTHROPIC_KEY, retry_after="1")
    zendesk.make_flaky(FAILURE_RATE, SEED)
    slack.make_flaky(FAILURE_RATE, SEED + 1)
    zendesk.start()
    slack.start()
    claude.make_flaky(FAILURE_RATE, SEED + 2)
    claude.start()
    daemon: DaemonProcess | None = None
    started = time.monotonic()
    try:
        scorer = (f"scorer: {{kind: anthropic, api_key: '${{T_ANTHROPIC_KEY}}', base_url: "
                  f"'{claude.url}', timeout: 5, max_retries: 1, cache: {{enabled: false}}, "
                  "breaker: {failure_threshold: 5, reset_after: 2s}}")
        config = write_config(tmp_path, zendesk_url=zendesk.url, slack_url=slack.url,
                              scorer=scorer, source={"start_from": "-5m"})
        db = StateDb(config)
        env = daemon_env()
        daemon = DaemonProcess(config, tmp_path / "daemon.log", env).start()
        ticket_ids: dict[str, int] = {}
        order = [t.key for t in tickets for _ in t.turns]
        rng.shuffle(order)
        position: Counter[str] = Counter()
        by_key = {t.key: t for t in tickets}
        for key in order:  # the conversations arrive while the faults run
            role, text = by_key[key].turns[position[key]]
            position[key] += 1
            if key not in ticket_ids:
                ticket_ids[key] = zendesk.add_ticket(
                    subject=f"Fault test {key}", customer_name=f"Customer {key}",
                    customer_email=f"{key}@example.com", body=text, at=time.time())
            else:
                zendesk.add_comment(ticket_ids[key], role, text, time.time())  # type: ignore[arg-type]
            time.sleep(FEED_SECONDS / len(order))
        fault_phase = time.monotonic() - started
        stored_during_faults = len(db.rows("SELECT id FROM message"))
        zendesk.failure_rate = slack.failure_rate = claude.failure_rate = 0.0
        faults_stopped = time.monotonic()

        def drained() -> bool:
            outbox = db.outbox()
            return (len(db.rows("SELECT id FROM message")) >= total_turns
                    and bool(outbox) and all(r["status"] != "pending" for r in outbox))

        wait_for(drained, 120, "the backlog to drain once the faults stopped", interval=0.5)
        drain_seconds = time.monotonic() - faults_stopped
        assert daemon.alive(), "the daemon died under faults"
        assert daemon.terminate() == 0
        output = daemon.log_path.read_text(errors="replace")
        assert "Traceback" not in output, output[-3000:]

        messages = db.messages()
        ids = [m["message_id"] for m in messages]
        assert len(ids) == len(set(ids)) == total_turns
        customer = [m for m in messages if m["author_role"] == "customer"]
        assert len(customer) == total_customer
        assert all(m["score"] is not None for m in customer)
        scorers = Counter(m["scorer"] for m in customer)
        outbox = db.outbox()
        assert [r for r in outbox if r["status"] != "done"] == []  # nothing parked
        fired = {(e["ticket_id"], e["rule"]) for e in db.escalations() if e["kind"] == "fire"}
        assert fired, "the workload escalates some tickets"
        tags = zendesk_tags_added(zendesk)
        for ticket_id, rule in fired:
            assert (ticket_id, TAG_OF[rule]) in tags
            assert TAG_OF[rule] in zendesk.ticket(int(ticket_id))["tags"]
        alerts = slack_alerts(slack)
        assert set(alerts) == fired
        violations = retry_after_violations(zendesk) + retry_after_violations(slack)
        assert violations == [], violations[:5]

        events = log_events(output)
        injected = Counter(f.kind for s in (zendesk, slack) for f in s.injected)
        figures = {
            "messages": total_turns, "customer_messages": total_customer,
            "requests_zendesk": len(zendesk.arrivals), "requests_slack": len(slack.arrivals),
            "claude_requests": len(claude.calls),
            "failures_injected": dict(injected), "claude_failures": dict(claude.failures),
            "failed_share_zendesk": round(len(zendesk.injected) / len(zendesk.arrivals), 2),
            "failed_share_slack": round(len(slack.injected) / max(1, len(slack.arrivals)), 2),
            "retry_after_429s": injected["429"], "retry_after_violations": len(violations),
            "stored_while_failing": stored_during_faults, "scored_by": dict(scorers),
            "escalations": len(fired),
            "duplicate_slack_alerts": sum(c - 1 for c in alerts.values()),
            "outbox_retries": sum(1 for e in events if e.get("event") == "outbox_retry"),
            "poll_failures": sum(1 for e in events if e.get("event") == "poll"
                                 and e.get("outcome") not in ("ok", "backing_off")),
            "fault_phase_s": round(fault_phase, 1), "drain_after_faults_s": round(drain_seconds, 1),
        }
        print("\nfaults:", figures)
    finally:
        if daemon is not None:
            daemon.kill()
        zendesk.stop()
        slack.stop()
        claude.stop()


def test_the_retry_after_check_catches_an_early_request() -> None:
    """The checker above can fail: a request 0.5 s into a 2 s Retry-After is reported."""
    server = FlakyZendesk()
    server.make_flaky(0.0, 0)
    server.injected.append(Injected(100.0, "429", 2.0, "/api/v2/x"))
    server.injected.append(Injected(200.0, "500", None, "/api/v2/x"))
    server.arrivals += [Arrival(100.0, "GET", "/api/v2/x"), Arrival(100.5, "GET", "/api/v2/x"),
                        Arrival(102.1, "GET", "/api/v2/x"), Arrival(200.5, "GET", "/api/v2/x")]
    violations = retry_after_violations(server)
    assert [arrival.at for _, arrival in violations] == [100.5]
