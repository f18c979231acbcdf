"""API calls per 1,000 new messages, per helpdesk, against the vendors' minimum.

Each vendor's sandbox is seeded with the same deterministic workload: 1,000 tickets
receiving 5,000 new messages (the project's generator: every ticket opens with a
customer message, later turns are agent replies 30 %, internal notes 10 %, customer
messages otherwise), interleaved over about three hours that ended minutes ago.  The
real connector reads them all (polling until caught up, as the daemon does) and applies
100 escalations (a tag, priority urgent, a private note).  Requests are counted from the
sandbox's `request_log`, i.e. what reached the "vendor"; waits are slept on a virtual
clock, so the run takes seconds.  Prints one JSON line keyed by vendor:
requests_per_1000, minimum_per_1000, ratio_to_minimum, naive_per_1000.

`minimum` is what the vendor's API allows for this workload at best (formulas in
`minimum_requests`); `naive` is a poller that re-reads every open ticket each minute
(formula in `naive_requests`).  Run: `.venv/bin/python bench/api_calls.py`.

`--vendors rt` measures against a real Request Tracker 5 (Debian's packages, started as
the tests start it, see docs/rt.md) with a tenth of the workload (100 tickets, 500
messages, 10 escalations): a real server takes a fraction of a second per message to
seed.  Figures are per 1,000 messages all the same.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connectors.base import Connector, TicketChange
from connectors.http import RateBudget, RetryPolicy
from connectors.sandbox.base import SandboxServer
from connectors.sandbox.conversations import Conversation, generate

TICKETS = 1_000
MESSAGES = 5_000
ESCALATIONS = 100
OPEN_GAP = timedelta(seconds=4)  # between two tickets opening
TURN_GAP = timedelta(seconds=400)  # between two turns of one ticket
POLL_INTERVAL = timedelta(seconds=60)  # the naive poller's (and the daemon's default) interval
ESCALATION = TicketChange(add_tags=("sentiment-declining",), priority="urgent",
                          note="Customer sentiment is declining (-0.62 over 3 messages).")
#: Retries never wait for real: the virtual clock below "sleeps".
POLICY = RetryPolicy(max_inline_wait=3600.0, connect_timeout=5.0, read_timeout=30.0)


class VirtualClock:
    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def sleep(self, seconds: float) -> None:
        self.offset += max(0.0, seconds)


@dataclass(slots=True)
class Workload:
    conversations: list[Conversation]
    start: datetime
    #: (at, ticket index, turn index), in time order
    timeline: list[tuple[datetime, int, int]] = field(default_factory=list)

    @property
    def span(self) -> timedelta:
        return self.timeline[-1][0] - self.timeline[0][0]


def build_workload(seed: int, tickets: int = TICKETS, messages: int = MESSAGES) -> Workload:
    conversations = generate(tickets, messages, seed=seed)
    last_turns = max(len(c.turns) for c in conversations)
    span = OPEN_GAP * tickets + TURN_GAP * last_turns
    start = (datetime.now(UTC) - span - timedelta(minutes=5)).replace(microsecond=0)
    workload = Workload(conversations, start)
    for index, conversation in enumerate(conversations):
        opened = start + OPEN_GAP * index
        for turn_index in range(len(conversation.turns)):
            workload.timeline.append((opened + TURN_GAP * turn_index, index, turn_index))
    workload.timeline.sort()
    return workload


# -- the three vendors ---------------------------------------------------------------------

@dataclass(slots=True)
class Vendor:
    sandbox: SandboxServer
    connector: Callable[[], Connector]
    open_ticket: Callable[[Conversation, datetime], str]
    add_turn: Callable[[str, Conversation, int, datetime], object]
    close: Callable[[], None] | None = None  # instead of sandbox.stop (a real server)


def zendesk(clock: VirtualClock) -> Vendor:
    from connectors.sandbox.zendesk import DEFAULT_EMAIL, DEFAULT_TOKEN, ZendeskSandbox
    from connectors.zendesk import ZendeskConnector, ZendeskSettings

    # The connector keeps Zendesk's 10-a-minute export budget itself (on the virtual
    # clock); the sandbox's own enforcement would only make the run wait for real.
    sandbox = ZendeskSandbox(incremental_per_minute=None).start()

    def connector() -> Connector:
        settings = ZendeskSettings(name="zendesk", base_url=sandbox.url, email=DEFAULT_EMAIL,
                                   api_token=DEFAULT_TOKEN, page_budget=1000)
        return ZendeskConnector(settings, policy=POLICY, clock=clock.now, sleep=clock.sleep,
                                budget=RateBudget("bench", 10, 60.0, clock=clock.now))

    def open_ticket(conversation: Conversation, at: datetime) -> str:
        first = conversation.turns[0]
        return str(sandbox.add_ticket(
            subject=conversation.subject, customer_name=conversation.customer_name,
            customer_email=conversation.customer_email, body=first.text, at=at.timestamp(),
            tags=conversation.tags, priority=conversation.priority))

    def add_turn(ticket_id: str, conversation: Conversation, turn_index: int,
                 at: datetime) -> object:
        turn = conversation.turns[turn_index]
        author = None if turn.role == "customer" else sandbox.agent_id(conversation.agent_name)
        return sandbox.add_comment(int(ticket_id), turn.role, turn.text, at.timestamp(),
                                   author_id=author)

    return Vendor(sandbox, connector, open_ticket, add_turn)


def freshdesk(clock: VirtualClock) -> Vendor:
    from connectors.freshdesk import FreshdeskConnector, FreshdeskSettings
    from connectors.sandbox.freshdesk import FreshdeskSandbox

    sandbox = FreshdeskSandbox(api_key="bench-key")
    sandbox.start()

    def connector() -> Connector:
        settings = FreshdeskSettings.model_validate({
            "name": "freshdesk", "base_url": sandbox.url, "api_key": "bench-key"})
        return FreshdeskConnector(settings, policy=POLICY, clock=clock.now, sleep=clock.sleep)

    def open_ticket(conversation: Conversation, at: datetime) -> str:
        first = conversation.turns[0]
        return str(sandbox.add_ticket(
            subject=conversation.subject, customer_name=conversation.customer_name,
            customer_email=conversation.customer_email, body=first.text, at=at,
            tags=conversation.tags, priority=conversation.priority))

    def add_turn(ticket_id: str, conversation: Conversation, turn_index: int,
                 at: datetime) -> object:
        turn = conversation.turns[turn_index]
        return sandbox.add_conversation(int(ticket_id), turn.role, turn.text, at)

    return Vendor(sandbox, connector, open_ticket, add_turn)


def helpscout(clock: VirtualClock) -> Vendor:
    from connectors.helpscout import HelpScoutConnector, HelpScoutSettings
    from connectors.sandbox.helpscout import HelpScoutSandbox

    sandbox = HelpScoutSandbox(client_id="bench-id", client_secret="bench-secret")
    sandbox.start()

    def connector() -> Connector:
        settings = HelpScoutSettings.model_validate({
            "name": "helpscout", "base_url": sandbox.url, "client_id": "bench-id",
            "client_secret": "bench-secret"})
        return HelpScoutConnector(settings, policy=POLICY, clock=clock.now, sleep=clock.sleep)

    def open_ticket(conversation: Conversation, at: datetime) -> str:
        first = conversation.turns[0]
        return str(sandbox.add_conversation(
            subject=conversation.subject, customer_name=conversation.customer_name,
            customer_email=conversation.customer_email, body=first.text, at=at,
            tags=conversation.tags, priority=conversation.priority))

    def add_turn(ticket_id: str, conversation: Conversation, turn_index: int,
                 at: datetime) -> object:
        turn = conversation.turns[turn_index]
        return sandbox.add_thread(int(ticket_id), turn.role, turn.text, at)

    return Vendor(sandbox, connector, open_ticket, add_turn)


def rt(clock: VirtualClock) -> Vendor:
    """A real RT 5 (Debian's packages), as the conformance suite runs it; see docs/rt.md.

    RT stamps its own times, so the workload's are only its order; customers open and
    answer tickets through REST as themselves, agents as an agent user.
    """
    from tests.connectors.harness_rt import RTHarness, make_harness

    harness = make_harness(page_size=100)
    assert isinstance(harness, RTHarness)

    def connector() -> Connector:
        return harness.connector(page_budget=1000)

    def open_ticket(conversation: Conversation, at: datetime) -> str:
        first = conversation.turns[0]
        return harness.add_ticket(
            subject=conversation.subject, customer_name=conversation.customer_name,
            customer_email=conversation.customer_email, body=first.text, at=at,
            tags=conversation.tags, priority=conversation.priority)

    def add_turn(ticket_id: str, conversation: Conversation, turn_index: int,
                 at: datetime) -> object:
        turn = conversation.turns[turn_index]
        return harness.add_message(ticket_id, turn.role, turn.text, at)

    return Vendor(harness.sandbox, connector, open_ticket, add_turn, close=harness.close)


VENDORS: dict[str, Callable[[VirtualClock], Vendor]] = {
    "zendesk": zendesk, "freshdesk": freshdesk, "helpscout": helpscout, "rt": rt}
#: A real server takes its time per message: RT's workload is a tenth of the others'.
SCALED: dict[str, tuple[int, int]] = {"rt": (TICKETS // 10, MESSAGES // 10)}


# -- the formulas ------------------------------------------------------------------------

def minimum_requests(kind: str, workload: Workload) -> int:
    """The fewest requests the vendor's API allows to read this workload and escalate.

    T tickets, M messages, E escalations (T / 10); c_t turns of ticket t after its first.  Every escalation adds a tag, raises the priority and posts a
    private note; raising "only upward" needs the current priority, so one read each.
    - zendesk:   ceil(M / 1000) pages of the ticket-event export (every comment is one
                 event, 1000 a page, comment text sideloaded)
               + ceil(T / 100) tickets/show_many?include=users (subject, tags and the
                 requester, who authors the customer comments: not in the events)
               + ceil(G / 100) users/show_many for the G authors who are not requesters
                 (agents: their role is not in the events either)
               + 3 E (GET ticket; additive PUT .../tags; PUT ticket with priority + note)
    - freshdesk: ceil(T / 100) ticket-list pages (100 a page, description included)
               + sum_t max(1, ceil(c_t / 100)) conversation pages (no list-level embed;
                 whether a ticket has conversations is only known by reading them)
               + 3 E (GET ticket, since tags on update replace; PUT tags + priority;
                 POST notes)
    - rt:        1 read of the token's owner (to know its own comments)
               + ceil(M / 100) transaction pages (TransactionSQL, 100 a page, authors
                 expanded) + ceil(M / 100) attachment searches (the text is not in
                 the transaction) + ceil(T / 100) ticket searches by id (subject,
                 requestors, priority, tags field) + one user read per agent (whether
                 an author who is not a requestor is privileged is in no list)
               + 3 E (GET ticket, since the multi-value field is replaced; PUT priority
                 + field; POST comment)
    - helpscout: 1 token + ceil(T / 25) conversation-list pages with embed=threads
               + 3 E (GET conversation, since PUT tags replaces; PUT tags with the
                 priority tag; POST notes)
    """
    tickets = len(workload.conversations)
    messages = sum(len(c.turns) for c in workload.conversations)
    escalations = tickets // (TICKETS // ESCALATIONS)
    if kind == "zendesk":
        agents = len({c.agent_name for c in workload.conversations})
        return (math.ceil(messages / 1000) + math.ceil(tickets / 100)
                + math.ceil(agents / 100) + 3 * escalations)
    if kind == "freshdesk":
        return (math.ceil(tickets / 100)
                + sum(max(1, math.ceil((len(c.turns) - 1) / 100))
                      for c in workload.conversations) + 3 * escalations)
    if kind == "helpscout":
        return 1 + math.ceil(tickets / 25) + 3 * escalations
    if kind == "rt":
        agents = 1  # the bench's RT has one agent user writing every agent turn
        return (1 + 2 * math.ceil(messages / 100) + math.ceil(tickets / 100) + agents
                + 3 * escalations)
    raise KeyError(kind)


def naive_requests(kind: str, workload: Workload) -> int:
    """A poller that, every POLL_INTERVAL while the messages arrive, lists every open
    ticket and re-reads each one's messages (no incremental endpoint, no watermark):
    sum over polls p of [ceil(open_p / page) + open_p], where open_p = tickets opened
    by then (none closes during the window) and page = the vendor's largest list page
    (zendesk 100, freshdesk 100, helpscout 25); plus the same 3 E writes.
    """
    page = {"zendesk": 100, "freshdesk": 100, "helpscout": 25, "rt": 100}[kind]
    opened_at = sorted(at for at, _, turn in workload.timeline if turn == 0)
    polls = math.ceil(workload.span / POLL_INTERVAL) + 1
    first = workload.timeline[0][0]
    total = 0
    opened = 0
    for poll in range(polls):
        moment = first + POLL_INTERVAL * poll
        while opened < len(opened_at) and opened_at[opened] <= moment:
            opened += 1
        total += math.ceil(opened / page) + opened
    return total + 3 * (len(workload.conversations) // (TICKETS // ESCALATIONS))


# -- the run ------------------------------------------------------------------------------

def measure(kind: str, workload: Workload) -> tuple[dict[str, Any], dict[str, int]]:
    """(the reported figures, the read/write split for --verbose)."""
    clock = VirtualClock()
    vendor = VENDORS[kind](clock)
    try:
        ids: dict[int, str] = {}
        for at, index, turn_index in workload.timeline:
            conversation = workload.conversations[index]
            if turn_index == 0:
                ids[index] = vendor.open_ticket(conversation, at)
            else:
                vendor.add_turn(ids[index], conversation, turn_index, at)
        vendor.sandbox.request_log.clear()
        connector = vendor.connector()
        cursor: str | None = None
        read: set[tuple[str, str]] = set()
        for _ in range(500):  # bounded: the daemon polls again while not caught up
            result = connector.poll(cursor, workload.start - timedelta(minutes=1))
            read.update((m.ticket_id, m.message_id) for m in result.messages)
            cursor = result.next_cursor
            if result.caught_up:
                break
        messages = sum(len(c.turns) for c in workload.conversations)
        if len(read) != messages:
            raise SystemExit(f"{kind}: read {len(read)} messages, expected {messages}")
        reading = len(vendor.sandbox.request_log)
        for index in range(0, len(workload.conversations), TICKETS // ESCALATIONS):
            connector.apply(ids[index], ESCALATION)
        total = len(vendor.sandbox.request_log)
        connector.close()
    finally:
        if vendor.close is not None:
            vendor.close()
        else:
            vendor.sandbox.stop()
    per_1000 = 1000 / messages
    minimum = minimum_requests(kind, workload)
    return {
        "requests_per_1000": round(total * per_1000, 1),
        "minimum_per_1000": round(minimum * per_1000, 1),
        "ratio_to_minimum": round(total / minimum, 3),
        "naive_per_1000": round(naive_requests(kind, workload) * per_1000, 1),
    }, {"read_requests": reading, "write_requests": total - reading}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vendors", default="zendesk,freshdesk,helpscout")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--verbose", action="store_true",
                        help="also print the read/write split per vendor on stderr")
    args = parser.parse_args(argv)
    workload = build_workload(args.seed)
    report: dict[str, dict[str, Any]] = {}
    for kind in args.vendors.split(","):
        scaled = build_workload(args.seed, *SCALED[kind]) if kind in SCALED else workload
        report[kind], split = measure(kind, scaled)
        if args.verbose:
            print(f"{kind}: {split}", file=sys.stderr)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
