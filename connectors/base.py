"""The contract between the daemon and the outside world.

A connector turns one helpdesk account into a stream of `Message`s (each carrying a
`TicketSnapshot` of its ticket) and applies `TicketChange`s back without clobbering what
agents put on the ticket.  A notifier turns an `Alert` into a chat message.  Nothing here
knows about sentiment, rules or the database: the daemon wires those together.

Errors are classified once, at the HTTP boundary (`connectors.http`): `RetriableError`
means "try again later, maybe after `retry_after` seconds"; `FatalError` means "trying
again will not help" (bad credentials, missing ticket, invalid request).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, runtime_checkable

from vocab import PRIORITIES, priority_rank

__all__ = ["PRIORITIES", "priority_rank"]  # with the names defined below

AuthorRole = Literal["customer", "agent", "system"]



def parse_vendor_time(value: Any) -> datetime:
    """An ISO-8601 timestamp from a vendor as aware UTC; naive ones are taken as UTC."""
    if not isinstance(value, str):
        raise ValueError("timestamp is not a string")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def format_vendor_time(moment: datetime) -> str:
    """`YYYY-MM-DDTHH:MM:SSZ`, the form Freshdesk and Help Scout filters take."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class TicketSnapshot:
    """What the vendor told us about a ticket when we read one of its messages."""

    ticket_id: str
    subject: str = ""
    url: str = ""  # the ticket in the agent UI (not the API)
    status: str | None = None
    priority: str | None = None  # one of PRIORITIES or None
    tags: tuple[str, ...] = ()
    requester: str | None = None  # display name or email of the customer, for alerts
    # Who works the ticket, where the vendor's ticket payload says (a name, or
    # "agent #ID" / "group #ID" when it gives only an id); None when unassigned.
    assignee: str | None = None
    group: str | None = None


@dataclass(frozen=True, slots=True)
class Message:
    """One comment/conversation/thread, as read from a vendor.

    `body` is the vendor's text as received (possibly HTML when `body_is_html`); the
    daemon normalises it before it reaches the database or a scorer.
    """

    message_id: str
    ticket_id: str
    author_role: AuthorRole
    public: bool
    created_at: datetime  # timezone-aware UTC
    body: str
    ticket: TicketSnapshot
    author_id: str | None = None
    author_name: str | None = None
    body_is_html: bool = False
    own_note: bool = False  # written by this daemon; stored for audit, never scored


@dataclass(frozen=True, slots=True)
class PollResult:
    """A batch of messages and the cursor that is valid once they are stored.

    `caught_up` is False when the poll stopped on its page budget with more to read; the
    caller may poll again straight away.
    """

    messages: list[Message]
    next_cursor: str
    caught_up: bool = True
    requests: int = 0  # HTTP requests this poll made (for logs and benchmarks)


@dataclass(frozen=True, slots=True)
class TicketChange:
    """What the daemon wants on a ticket.  Priority only ever raises."""

    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()
    priority: str | None = None
    note: str | None = None  # an internal (private) note for the agents

    def is_empty(self) -> bool:
        return not (self.add_tags or self.remove_tags or self.priority or self.note)

    def to_json(self) -> dict[str, Any]:
        return {
            "add_tags": list(self.add_tags),
            "remove_tags": list(self.remove_tags),
            "priority": self.priority,
            "note": self.note,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TicketChange:
        return cls(
            add_tags=tuple(data.get("add_tags") or ()),
            remove_tags=tuple(data.get("remove_tags") or ()),
            priority=data.get("priority"),
            note=data.get("note"),
        )


@dataclass(frozen=True, slots=True)
class Alert:
    """An escalation to announce in chat."""

    source: str
    ticket_id: str
    ticket_url: str
    subject: str
    customer: str | None
    rule: str
    kind: Literal["fire", "resolve"]
    reason: str
    numbers: Mapping[str, Any] = field(default_factory=dict)
    indicators: Sequence[str] = ()
    scores: Sequence[float] = ()  # the conversation's customer scores, oldest first
    thread_ts: str | None = None  # reply under this earlier alert when the notifier can
    # What an agent needs to act without opening three tools (all optional: rows queued
    # by an older version lack them and still render).
    excerpt: str = ""  # the latest customer message, PII-redacted and capped
    priority: str | None = None  # the ticket's priority before this decision
    new_priority: str | None = None  # what this decision raises it to, if it does
    assignee: str | None = None
    group: str | None = None
    earlier_on_ticket: int = 0  # escalations of this ticket before this one
    earlier_for_customer: int = 0  # escalations of the customer's other tickets
    why: Sequence[str] = ()  # plain sentences (rules.explain), instead of raw numbers
    show_scores: bool = True  # False for a rule on signals alone: the trend is beside the point
    false_alarm_tag: str | None = None  # the tag an agent adds to say "not a real problem"
    escalation_tags: Sequence[str] = ()  # the tags this escalation put on the ticket
    #: An incident's member tickets (`source`, `ticket_id`, `url`, `subject` each); empty
    #: for a one-ticket escalation.
    members: Sequence[Mapping[str, str]] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "ticket_id": self.ticket_id,
            "ticket_url": self.ticket_url,
            "subject": self.subject,
            "customer": self.customer,
            "rule": self.rule,
            "kind": self.kind,
            "reason": self.reason,
            "numbers": dict(self.numbers),
            "indicators": list(self.indicators),
            "scores": list(self.scores),
            "thread_ts": self.thread_ts,
            "excerpt": self.excerpt,
            "priority": self.priority,
            "new_priority": self.new_priority,
            "assignee": self.assignee,
            "group": self.group,
            "earlier_on_ticket": self.earlier_on_ticket,
            "earlier_for_customer": self.earlier_for_customer,
            "why": list(self.why),
            "show_scores": self.show_scores,
            "false_alarm_tag": self.false_alarm_tag,
            "escalation_tags": list(self.escalation_tags),
            **({"members": [dict(m) for m in self.members]} if self.members else {}),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Alert:
        return cls(
            source=data["source"],
            ticket_id=data["ticket_id"],
            ticket_url=data.get("ticket_url", ""),
            subject=data.get("subject", ""),
            customer=data.get("customer"),
            rule=data["rule"],
            kind=data.get("kind", "fire"),
            reason=data.get("reason", ""),
            numbers=data.get("numbers") or {},
            indicators=tuple(data.get("indicators") or ()),
            scores=tuple(data.get("scores") or ()),
            thread_ts=data.get("thread_ts"),
            excerpt=str(data.get("excerpt") or ""),
            priority=data.get("priority"),
            new_priority=data.get("new_priority"),
            assignee=data.get("assignee"),
            group=data.get("group"),
            earlier_on_ticket=int(data.get("earlier_on_ticket") or 0),
            earlier_for_customer=int(data.get("earlier_for_customer") or 0),
            why=tuple(str(line) for line in data.get("why") or ()),
            show_scores=bool(data.get("show_scores", True)),
            false_alarm_tag=data.get("false_alarm_tag"),
            escalation_tags=tuple(str(t) for t in data.get("escalation_tags") or ()),
            members=tuple(dict(m) for m in data.get("members") or ()
                          if isinstance(m, Mapping)),
        )


@dataclass(frozen=True, slots=True)
class Delivery:
    """What a notifier reports after posting: `thread_key` lets later alerts thread."""

    thread_key: str | None = None


class ConnectorError(Exception):
    """Base of every error a connector or notifier raises.  Never carries secrets."""


class RetriableError(ConnectorError):
    """Try again later: 429, 5xx, timeouts, connection errors, malformed bodies."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class FatalError(ConnectorError):
    """Trying again will not help: 401, 403, 404, 422, bad configuration."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class AuthError(FatalError):
    """Credentials rejected (401/403): stop polling this source and say so once."""


class TicketGoneError(FatalError):
    """The ticket was deleted or merged away between our read and our write."""


@runtime_checkable
class Connector(Protocol):
    """One helpdesk account.  `name` is the source name from the config."""

    name: str
    kind: str

    def poll(self, cursor: str | None, start_from: datetime) -> PollResult:
        """Read messages after `cursor` (or from `start_from` when there is none)."""
        ...

    def apply(self, ticket_id: str, change: TicketChange) -> None:
        """Apply `change` without removing anything the daemon did not add."""
        ...

    def ticket_url(self, ticket_id: str) -> str:
        """The ticket in the agent UI."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class Notifier(Protocol):
    name: str

    def send(self, alert: Alert) -> Delivery: ...

    def close(self) -> None: ...
