"""The vendor-neutral harness the conformance suite drives, and helpers built on it.

Each helpdesk kind has a module `tests.connectors.harness_<kind>` exposing
`make_harness(*, page_size: int) -> Harness`.  A harness owns one running sandbox of that
vendor and knows how to build the real connector pointed at it (with retry waits short
enough for tests), how to put tickets and messages into the sandbox with explicit
timestamps, how to read back what the connector wrote (tags, priority normalised to
`connectors.base.PRIORITIES`, internal notes), how to inject a `Fault`, how to make the
sandbox answer with a redirect, and which secrets it handed the connector (in every
form that could leak: raw, and encoded as sent on the wire).

Conventions every connector follows, so the suite can check them:
- a connector only ever removes tags that start with `OWN_TAG_PREFIX` (the daemon's
  namespace); removing any other tag is silently refused;
- `RetriableError` from `poll()` means nothing was consumed: the caller polls again with
  the same cursor;
- `PollResult.requests` counts the HTTP requests the poll sent (the sandbox's
  `request_log` sees the same number when no connection was dropped);
- vendor timestamps have one-second resolution; messages are added at least a minute in
  the past unless a test says otherwise, so no vendor's "recent minute" exclusion hides
  them.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from connectors.base import Connector, Message, PollResult, RetriableError
from connectors.sandbox.base import Fault, SandboxServer
from connectors.sandbox.conversations import Conversation, TurnRole

KINDS: tuple[str, ...] = ("zendesk", "freshdesk", "helpscout", "rt")
OWN_TAG_PREFIX = "sentiment-"


@dataclass(frozen=True, slots=True)
class TicketState:
    """What the sandbox holds for a ticket now."""

    tags: tuple[str, ...]
    priority: str | None  # normalised to connectors.base.PRIORITIES
    notes: tuple[str, ...]  # bodies of internal notes, oldest first
    status: str | None = None


class Harness(Protocol):
    kind: str

    @property
    def sandbox(self) -> SandboxServer:
        """The running sandbox (read-only here so a vendor subclass type fits)."""
        ...

    def connector(self, *, page_budget: int | None = None) -> Connector:
        """A new connector (fresh process state) pointed at the sandbox.

        Its HTTP client waits on a virtual clock (a requested Retry-After "passes" at
        once, without real sleeping) and retries each request at most twice inline, so
        a fault hit three times surfaces to the caller as `RetriableError`.
        `page_budget` overrides the pages read per poll.
        """
        ...

    def add_ticket(self, *, subject: str, customer_name: str, customer_email: str,
                   body: str, at: datetime, html: bool = False,
                   tags: Sequence[str] = (), priority: str | None = "normal") -> str:
        """Create a ticket whose first message is the customer's `body`; its id."""
        ...

    def add_message(self, ticket_id: str, role: TurnRole, body: str, at: datetime, *,
                    html: bool = False) -> str:
        """Append a customer message, agent reply or internal note; the message id."""
        ...

    def ticket_state(self, ticket_id: str) -> TicketState: ...

    def agent_retag(self, ticket_id: str, *, add: Sequence[str] = (),
                    remove: Sequence[str] = ()) -> None:
        """An agent adds or removes tags in the helpdesk's UI (no message)."""
        ...

    def delete_ticket(self, ticket_id: str) -> None:
        """Make the ticket gone (deleted or merged) as the vendor would report it."""
        ...

    def inject(self, fault: Fault) -> None:
        """Inject `fault` on the requests that list new messages (the poll path)."""
        ...

    def redirect_to(self, url: str | None) -> None:
        """Answer every request with 302 to `url` (None: stop redirecting)."""
        ...

    def secrets(self) -> list[str]:
        """Every secret given to the connector, raw and in its on-the-wire encodings."""
        ...

    def reset(self) -> None:
        """Forget tickets, faults and logs; the sandbox keeps running on its port."""
        ...

    def close(self) -> None: ...


class HarnessModule(Protocol):
    def make_harness(self, *, page_size: int) -> Harness: ...


def load_harness(kind: str, *, page_size: int = 5) -> Harness:
    """The harness of `kind`.  A missing module is an error, not a skip."""
    module = importlib.import_module(f"tests.connectors.harness_{kind}")
    harness: Harness = module.make_harness(page_size=page_size)
    return harness


# -- helpers the suite and the vendor tests share ------------------------------------------

def past(minutes: float, now: datetime | None = None) -> datetime:
    """A whole-second UTC time `minutes` ago."""
    moment = (now or datetime.now(UTC)) - timedelta(minutes=minutes)
    return moment.replace(microsecond=0)


@dataclass(slots=True)
class Seeded:
    """Which ticket each conversation became, and every message id put in."""

    ticket_ids: dict[str, str] = field(default_factory=dict)
    message_ids: list[str] = field(default_factory=list)
    customer_bodies: list[str] = field(default_factory=list)


def seed(harness: Harness, conversations: Iterable[Conversation], *, start: datetime,
         step: timedelta = timedelta(seconds=1)) -> Seeded:
    """Put conversations into the sandbox, turn after turn, `step` apart from `start`."""
    seeded = Seeded()
    moment = start
    for conversation in conversations:
        first, *rest = conversation.turns
        ticket_id = harness.add_ticket(
            subject=conversation.subject, customer_name=conversation.customer_name,
            customer_email=conversation.customer_email, body=first.text, at=moment,
            html=first.html, tags=conversation.tags, priority=conversation.priority)
        seeded.ticket_ids[conversation.key] = ticket_id
        seeded.customer_bodies.append(first.text)
        moment += step
        for turn in rest:
            seeded.message_ids.append(
                harness.add_message(ticket_id, turn.role, turn.text, moment, html=turn.html))
            if turn.role == "customer":
                seeded.customer_bodies.append(turn.text)
            moment += step
    return seeded


@dataclass(slots=True)
class Drained:
    messages: list[Message]
    cursor: str | None
    polls: int
    retriable_errors: int
    results: list[PollResult]


def drain(connector: Connector, cursor: str | None, start_from: datetime, *,
          max_polls: int = 50, stop_when_caught_up: bool = True) -> Drained:
    """Poll until caught up, re-polling with the old cursor on RetriableError.

    This is what the daemon does, minus the database: a result's messages are "stored"
    (appended) before its cursor is taken.  Bounded by `max_polls`.
    """
    messages: list[Message] = []
    results: list[PollResult] = []
    errors = 0
    for poll in range(1, max_polls + 1):
        try:
            result = connector.poll(cursor, start_from)
        except RetriableError:
            errors += 1
            continue
        results.append(result)
        messages.extend(result.messages)
        cursor = result.next_cursor
        if stop_when_caught_up and result.caught_up:
            return Drained(messages, cursor, poll, errors, results)
    raise AssertionError(f"not caught up after {max_polls} polls ({errors} retriable errors)")


def message_keys(messages: Iterable[Message]) -> list[tuple[str, str]]:
    return [(message.ticket_id, message.message_id) for message in messages]
