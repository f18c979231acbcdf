"""Shared machinery of the reliability tests: the daemon as a process, its database, a workload.

The crash, fault, bad-input and secret tests all do the same things: start vendor
sandboxes in the test process, write a config pointing the daemon at them, run
`python -m daemon.cli run` as a subprocess (killed in `finally`, always), and then judge
what happened from two independent records: the daemon's SQLite file (read directly with
sqlite3, never through our Store) and what the sandboxes recorded over their sockets.

The workload is built so its correct outcome does not depend on where a poll's batch
boundaries fall (which a SIGKILL changes): a ticket either never meets a rule, or meets
it first with its last customer message.  `expected_fires` proves that with the real
scorer and the real rule engine before a test relies on it.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from connectors.sandbox.base import Fault

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"

# Recognisable secrets: any of them in an output is a leak.
ZENDESK_TOKEN = "zdSECRETtok3n-4e1f9b"
SLACK_BOT_TOKEN = "xoxb-SECRET-7c2d0a19e8"
ANTHROPIC_KEY = "sk-ant-api03-SECRETkey-b81f44"

# Customer texts whose offline scores (checked by `expected_fires`) put them in a band:
# positive (> 0.3), negative but not very negative (-0.7 .. -0.5), very negative (< -0.7).
POSITIVE = (
    "Thanks so much, that fixed it! Great support, have a wonderful day.",
    "Hi team, thanks for the quick help last week, everything is great! Love the product.",
    "Wonderful, the new dashboard works perfectly. Really happy with it.",
    "Awesome, the sync is fast again and everything looks good. Cheers!",
)
NEGATIVE = (
    "The upload failed twice and I am getting impatient.",
    "The export failed and I had to redo the report by hand, which is frustrating.",
    "I am disappointed, the new version is slower and keeps logging me out.",
)
VERY_NEGATIVE = (
    "This is absolutely horrible and unacceptable, the worst, most useless service I have "
    "ever paid for. Disgusting.",
    "Worst support ever. Horrible, useless, I hate this. Completely unacceptable.",
)
NEUTRAL = ("Can you send me the invoice for March?", "I will check tomorrow.")
AGENT = ("Thanks for reaching out, I am looking into it now.",
         "I have escalated this to our engineers and will update you shortly.")
NOTE = ("Checked the logs: looks like the sync worker restarted twice.",
        "Customer is on the annual plan; handle with care.")

DECLINE_RULE = "sentiment-declining"
VERY_NEGATIVE_RULE = "very-negative-message"

RULES_YAML = f"""
rules:
  - name: {DECLINE_RULE}
    when: {{trend: declining, decline_threshold: 0.3, current_avg_below: -0.5}}
    actions:
      add_tags: [sentiment-declining]
      priority: urgent
      note: "Sentiment declining ({{direction:+.2f}})"
      notify: [escalations]
    repeat_after: 24h
  - name: {VERY_NEGATIVE_RULE}
    when: {{last_score_below: -0.7}}
    inhibited_by: [{DECLINE_RULE}]
    actions:
      add_tags: [sentiment-very-negative]
      priority: high
      note: "Very negative message ({{last_score:+.2f}})"
      notify: [escalations]
    repeat_after: 24h
"""

TAG_OF = {DECLINE_RULE: "sentiment-declining", VERY_NEGATIVE_RULE: "sentiment-very-negative"}


def wait_for(predicate: Callable[[], bool], timeout: float, what: str,
             interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def daemon_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SENTINEL_", "E2E_"))}
    env.update({"T_ZENDESK_TOKEN": ZENDESK_TOKEN, "T_SLACK_TOKEN": SLACK_BOT_TOKEN,
                "T_ANTHROPIC_KEY": ANTHROPIC_KEY, "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


# -- the workload ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScriptedTicket:
    """One ticket of a workload: its kind and its turns (role, text), in order."""

    key: str
    kind: str  # calm | declining | very_negative
    turns: tuple[tuple[str, str], ...]

    @property
    def customer_texts(self) -> list[str]:
        return [text for role, text in self.turns if role == "customer"]


def workload(n_tickets: int, seed: int) -> list[ScriptedTicket]:
    """Tickets whose escalation does not depend on batch boundaries (see module doc)."""
    rng = random.Random(seed)
    tickets: list[ScriptedTicket] = []
    for number in range(n_tickets):
        draw = rng.random()
        if draw < 0.25:
            kind = "declining"
            customer = [rng.choice(POSITIVE) for _ in range(rng.randint(3, 5))]
            customer += [rng.choice(NEGATIVE) for _ in range(3)]
        elif draw < 0.45:
            kind = "very_negative"
            customer = [rng.choice(POSITIVE + NEUTRAL) for _ in range(rng.randint(0, 4))]
            customer.append(rng.choice(VERY_NEGATIVE))
        else:
            kind = "calm"
            customer = [rng.choice(POSITIVE + NEUTRAL) for _ in range(rng.randint(1, 8))]
        turns: list[tuple[str, str]] = [("customer", customer[0])]
        for text in customer[1:]:
            for _ in range(rng.choice((0, 1, 1, 2))):
                if rng.random() < 0.75:
                    turns.append(("agent", rng.choice(AGENT)))
                else:
                    turns.append(("note", rng.choice(NOTE)))
            turns.append(("customer", text))
        tickets.append(ScriptedTicket(f"t{number}", kind, tuple(turns)))
    return tickets


def expected_fires(tickets: Sequence[ScriptedTicket]) -> dict[str, set[str]]:
    """Rules each ticket must fire, proven independent of how its messages are batched.

    Runs the real offline scorer and the real engine twice per ticket: evaluated after
    every customer message (the finest batching), and once after the last (the coarsest).
    A workload where the two disagree would make the crash test's expectations a guess,
    so that is an error of the workload, raised here.
    """
    from daemon.scoring.local import LocalScorer
    from daemon.text import normalise
    from daemon.yamlsafe import parse_yaml
    from rules.engine import ConversationState, ScoredMessage, TicketView, evaluate
    from rules.model import RuleSet

    rules = RuleSet.model_validate(parse_yaml(RULES_YAML).data)
    scorer = LocalScorer()
    now = datetime.now(UTC)
    out: dict[str, set[str]] = {}
    for ticket in tickets:
        texts = [normalise(t).text for t in ticket.customer_texts]
        scores = scorer.score(texts)
        series = tuple(ScoredMessage(message_id=str(i), created_at=now + timedelta(seconds=i),
                                     score=s.score, label=s.label, signals=frozenset(s.signals))
                       for i, s in enumerate(scores))
        view = TicketView(source="zd", ticket_id=ticket.key)

        def run(prefixes: Sequence[int], view: TicketView = view,
                series: tuple[ScoredMessage, ...] = series) -> set[str]:
            history: dict[str, Any] = {}
            fired: set[str] = set()
            for end in prefixes:
                result = evaluate(ConversationState(view, series[:end]), rules, history, now)
                history = dict(result.history)
                fired |= {d.rule for d in result.decisions if d.kind == "fire"}
            return fired

        finest = run(range(1, len(series) + 1))
        coarsest = run([len(series)])
        if finest != coarsest:
            raise AssertionError(f"workload ticket {ticket.key} ({ticket.kind}) escalates "
                                 f"differently by batching: {finest} vs {coarsest}")
        wanted = {"declining": {DECLINE_RULE}, "very_negative": {VERY_NEGATIVE_RULE},
                  "calm": set()}[ticket.kind]
        if finest != wanted:
            raise AssertionError(f"workload ticket {ticket.key} ({ticket.kind}) fires "
                                 f"{finest}, expected {wanted}: the palette drifted from "
                                 "the offline scorer")
        out[ticket.key] = finest
    return out


# -- config ------------------------------------------------------------------------------


def write_config(directory: Path, *, zendesk_url: str, slack_url: str | None = None,
                 source: Mapping[str, Any] | None = None, scorer: str = "scorer: {kind: local}",
                 extra: str = "", rules: str = RULES_YAML, notifier: str | None = None,
                 name: str = "config.yaml", log_level: str = "info") -> Path:
    """A daemon config for the test sandboxes; secrets come from the environment."""
    options = {"poll_interval": "1s", "start_from": "-1h", "min_age_seconds": 0,
               "incremental_per_minute": 100, "timeout": 2, **(source or {})}
    source_lines = "\n".join(f"    {key}: {json.dumps(value)}" for key, value in options.items())
    if notifier is None:
        notifier = (f"""
notifiers:
  escalations:
    kind: slack
    bot_token: ${{T_SLACK_TOKEN}}
    channel: "#escalations"
    base_url: {slack_url}/api
    min_interval: 0
    timeout: 2
""" if slack_url else "notifiers: {}\n")
    path = directory / name
    path.write_text(f"""
state_dir: {directory / 'state'}
log: {{level: {log_level}, format: json}}
outbox: {{interval: 0.5s, backoff_base: 0.5s, backoff_cap: 3s, max_attempts: 100}}
{scorer}
sources:
  - name: zd
    kind: zendesk
    base_url: {zendesk_url}
    email: bot@example.com
    api_token: ${{T_ZENDESK_TOKEN}}
{source_lines}
{notifier}
{rules}
{extra}
""")
    return path


# -- the daemon as a process ---------------------------------------------------------------


@dataclass
class DaemonProcess:
    """`helpdesk-sentinel run` in a subprocess, its output appended to one log file."""

    config: Path
    log_path: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    _log: IO[bytes] | None = field(default=None, repr=False)

    def start(self) -> DaemonProcess:
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "daemon.cli", "run", "--config", str(self.config)],
            cwd=REPO, env=self.env, stdout=self._log, stderr=subprocess.STDOUT)
        self.started_at = time.monotonic()
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> int | None:
        """SIGKILL and reap; the exit code (None if it was not running)."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        code = self.process.wait(timeout=30)
        self._close_log()
        return code

    def terminate(self, timeout: float = 60) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(timeout=30)
            self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def run_once(config: Path, env: dict[str, str], timeout: float = 120,
             expect_exit: int = 0) -> dict[str, Any]:
    """`run --once`; its JSON totals, with the process output under `_output`.  It exits
    1 when a source was not read (`expect_exit=1` where a test breaks sources on purpose)."""
    done = subprocess.run([sys.executable, "-m", "daemon.cli", "run", "--once", "--config",
                           str(config)], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)
    output = done.stdout + done.stderr
    assert done.returncode == expect_exit, \
        f"run --once exited {done.returncode}:\n{output[-3000:]}"
    lines = [line for line in done.stdout.strip().splitlines() if line.startswith("{")]
    totals: dict[str, Any] = json.loads(lines[-1])
    totals["_output"] = output
    return totals


def check_config(config: Path, env: Mapping[str, str] | None = None) -> tuple[int, str]:
    done = subprocess.run([sys.executable, "-m", "daemon.cli", "check-config", "--config",
                           str(config)], cwd=REPO, env=dict(env or daemon_env()),
                          capture_output=True, text=True, timeout=60)
    return done.returncode, done.stdout + done.stderr


def log_events(text: str) -> list[dict[str, Any]]:
    events = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                events.append(json.loads(line))
            except ValueError:
                continue
    return events


# -- the daemon's database, read directly ---------------------------------------------------


class StateDb:
    """Read-only views of the daemon's SQLite file (opened per query: the daemon writes)."""

    def __init__(self, config: Path) -> None:
        self.path = config.parent / "state" / "sentinel.db"

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with closing(sqlite3.connect(f"file:{self.path}?mode=ro", uri=True,
                                     timeout=30)) as conn:
            conn.row_factory = sqlite3.Row
            try:
                return [dict(row) for row in conn.execute(sql, params)]
            except sqlite3.OperationalError as exc:
                if "no such table" in str(exc):
                    return []
                raise

    def messages(self) -> list[dict[str, Any]]:
        return self.rows("SELECT * FROM message ORDER BY id")

    def outbox(self) -> list[dict[str, Any]]:
        rows = self.rows("SELECT * FROM outbox ORDER BY id")
        for row in rows:
            row["payload"] = json.loads(row["payload"] or "{}")
        return rows

    def escalations(self) -> list[dict[str, Any]]:
        return self.rows("SELECT * FROM escalation ORDER BY id")

    def source(self) -> dict[str, Any]:
        rows = self.rows("SELECT * FROM source_state")
        return rows[0] if rows else {}


def parse_db_time(value: str | None) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# -- what the sandboxes recorded -------------------------------------------------------------


_TICKET_IN_URL = re.compile(r"/agent/tickets/(\d+)")


def slack_alerts(slack: Any) -> Counter[tuple[str, str]]:
    """(ticket id, rule) -> Slack messages received about it."""
    counts: Counter[tuple[str, str]] = Counter()
    for message in list(slack.messages):
        blob = message.text + json.dumps(message.blocks)
        ticket = _TICKET_IN_URL.search(blob)
        rule = next((r for r in (DECLINE_RULE, VERY_NEGATIVE_RULE) if r in blob), "?")
        counts[(ticket.group(1) if ticket else "?", rule)] += 1
    return counts


def zendesk_notes(zendesk: Any) -> Counter[str]:
    """Ticket id -> private notes the daemon wrote on it."""
    return Counter(str(w["ticket_id"]) for w in list(zendesk.writes) if w["kind"] == "note")


def zendesk_tags_added(zendesk: Any) -> Counter[tuple[str, str]]:
    return Counter((str(w["ticket_id"]), tag) for w in list(zendesk.writes)
                   if w["kind"] == "tags_added" for tag in w["tags"])


# -- sandboxes that fail a share of requests ------------------------------------------------


@dataclass(frozen=True, slots=True)
class Arrival:
    at: float
    method: str
    path: str


@dataclass(frozen=True, slots=True)
class Injected:
    at: float
    kind: str
    retry_after: float | None
    path: str


class FlakyMixin:
    """Fails a random share of requests with the base sandbox's own `Fault`s.

    Mixed in before a vendor sandbox (`class FlakyZendesk(FlakyMixin, ZendeskSandbox)`),
    it records when every request arrived (before any fault or handler ran) and every
    failure it injected, so a test can check that no request came before a Retry-After
    elapsed.  A 429 tends to come in storms: the request after one is refused again with
    probability `storm`.  `failure_rate` 0 turns it off.
    """

    failure_rate: float = 0.0
    storm: float = 0.5  # after a 429, the next request is refused too this often
    slow_delay: float = 3.0
    kinds: tuple[tuple[str, float], ...] = (("429", 0.35), ("500", 0.15), ("502", 0.1),
                                            ("503", 0.1), ("slow", 0.1), ("malformed", 0.15),
                                            ("drop", 0.05))

    def make_flaky(self, failure_rate: float, seed: int) -> None:
        self.failure_rate = failure_rate
        self._flaky_rng = random.Random(seed)
        self._flaky_lock = threading.Lock()
        self.arrivals: list[Arrival] = []
        self.injected: list[Injected] = []

    def _respond(self, request: Any) -> Any:
        with self._flaky_lock:
            self.arrivals.append(Arrival(time.time(), request.method, request.path))
        return super()._respond(request)  # type: ignore[misc]

    def _take_fault(self, method: str, path: str) -> Any:
        queued = super()._take_fault(method, path)  # type: ignore[misc]
        if queued is not None:
            return queued
        with self._flaky_lock:
            if self.failure_rate <= 0:
                return None
            last = self.injected[-1] if self.injected else None
            storm = (last is not None and last.kind == "429"
                     and self._flaky_rng.random() < self.storm)
            if storm:
                kind = "429"
            elif self._flaky_rng.random() >= self.failure_rate:
                return None
            else:
                kinds, weights = zip(*self.kinds, strict=True)
                kind = self._flaky_rng.choices(kinds, weights)[0]
            retry_after = float(self._flaky_rng.choice((1, 2))) if kind == "429" else None
            self.injected.append(Injected(time.time(), kind, retry_after, path))
        return Fault(kind, retry_after=None if retry_after is None else str(int(retry_after)),
                     delay=self.slow_delay)


def retry_after_violations(server: Any, tolerance: float = 0.3) -> list[tuple[Injected, Arrival]]:
    """Requests that arrived while a 429's Retry-After was still running."""
    violations = []
    arrivals = sorted(server.arrivals, key=lambda a: a.at)
    for fault in server.injected:
        if fault.kind != "429" or fault.retry_after is None:
            continue
        start, end = fault.at + tolerance, fault.at + fault.retry_after - tolerance
        violations += [(fault, a) for a in arrivals if start < a.at < end]
    return violations
