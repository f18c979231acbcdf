"""A local Zendesk Support look-alike: the endpoints the connector uses, on real HTTP.

Written from Zendesk's API reference and its OpenAPI document
(https://developer.zendesk.com/api-reference/), it keeps
the vendor's quirks that bite real integrations: the time-based incremental ticket-event
export (`start_time` inclusive, 1,000 events a page, the next page starting at the last
event's second so page boundaries repeat events, the same page served forever when more
than a page of events share one second, nothing from the last minute), the
`include=comment_events` sideload without which comment text is absent,
`support_type_scope` defaulting to `agent`, the 10-requests-a-minute budget of the
incremental endpoints (429 with `Retry-After`), `X-Rate-Limit`/`ratelimit-*` headers,
Basic `{email}/token:{token}` and Bearer auth, additive `PUT .../tags` next to the
tag-replacing `POST .../tags`, `safe_update` conflicts (409), the 5,000-comment cap
(422), deleted tickets (404) and merged ones (closed; updates refused with 422).

Tickets are seeded from `conversations.py`.  Turns scheduled in the future appear when
their time comes (checked on every request, so no background thread), which is how the
"live" mode for `make run` keeps conversations arriving; tests instead add tickets and
messages with explicit timestamps.  Every write is recorded in `writes`.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.sandbox.base import Request, Response, SandboxServer
from connectors.sandbox.conversations import (
    CONVERSATIONS,
    Conversation,
    ScheduledTurn,
    TurnRole,
    schedule,
)

INCREMENTAL_LIMIT_PER_MINUTE = 10
ACCOUNT_LIMIT_PER_MINUTE = 700
COMMENT_CAP = 5000
DEFAULT_EMAIL = "sentinel-bot@example.com"
DEFAULT_TOKEN = "zd-sandbox-token-6f1c9a"  # a sandbox credential, not a secret
DEFAULT_OAUTH_TOKEN = "zd-sandbox-oauth-41be07"
_TOO_RECENT = "Too recent start_time. Use a start_time older than 1 minute"
_J = r"(?:\.json)?"
_TAG = re.compile(r"<[^>]+>")
_BREAK = re.compile(r"(?i)<\s*(?:br|/p|/div|/blockquote)\b[^>]*>")


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(slots=True)
class _User:
    id: int
    name: str
    email: str
    role: str  # end-user | agent | admin

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "email": self.email, "role": self.role,
                "active": True, "url": f"/api/v2/users/{self.id}.json"}


@dataclass(slots=True)
class _Comment:
    id: int
    author_id: int
    body: str
    html_body: str
    public: bool
    created_at: int
    audit_id: int
    channel: str

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "type": "Comment", "author_id": self.author_id,
                "body": self.body, "html_body": self.html_body,
                "plain_body": self.body, "public": self.public, "attachments": [],
                "audit_id": self.audit_id, "created_at": _iso(self.created_at),
                "via": {"channel": self.channel, "source": {"from": {}, "to": {}, "rel": None}},
                "metadata": {"system": {}, "custom": {}}}


@dataclass(slots=True)
class _Ticket:
    id: int
    subject: str
    requester_id: int
    status: str
    priority: str | None
    tags: list[str]
    created_at: int
    updated_at: int
    support_type: str = "agent"
    comments: list[_Comment] = field(default_factory=list)
    deleted: bool = False
    merged_into: int | None = None
    assignee_id: int | None = None  # the first agent who replied (see add_comment)

    def to_json(self, base: str) -> dict[str, Any]:
        first = self.comments[0].body if self.comments else ""
        return {"id": self.id, "url": f"{base}/api/v2/tickets/{self.id}.json",
                "subject": self.subject, "raw_subject": self.subject, "description": first,
                "status": self.status, "priority": self.priority, "type": None,
                "tags": list(self.tags), "requester_id": self.requester_id,
                "submitter_id": self.requester_id, "assignee_id": self.assignee_id,
                "created_at": _iso(self.created_at), "updated_at": _iso(self.updated_at),
                "generated_timestamp": self.updated_at, "via": {"channel": "email"},
                "is_public": True}


@dataclass(slots=True)
class _Event:
    id: int
    ticket_id: int
    timestamp: int
    updater_id: int
    via: str
    children: list[dict[str, Any]]
    comment: _Comment | None = None


class ZendeskSandbox(SandboxServer):
    """Zendesk Support on 127.0.0.1.  Construct, `start()`, then seed or add tickets."""

    vendor = "zendesk"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0,
                 email: str = DEFAULT_EMAIL, api_token: str = DEFAULT_TOKEN,
                 oauth_token: str | None = DEFAULT_OAUTH_TOKEN,
                 page_size: int = 1000, exclusion_seconds: int = 60,
                 incremental_per_minute: int | None = INCREMENTAL_LIMIT_PER_MINUTE,
                 comment_cap: int = COMMENT_CAP,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(host=host, port=port)
        self.email = email
        self.api_token = api_token
        self.oauth_token = oauth_token
        self.page_size = page_size
        self.exclusion_seconds = exclusion_seconds
        self.incremental_per_minute = incremental_per_minute
        self.comment_cap = comment_cap
        self.redirect_location: str | None = None
        self._clock = clock
        self._incremental_sent: list[float] = []
        self._account_sent: list[float] = []
        self._pending: list[ScheduledTurn] = []
        self._live_rounds = 0
        self._live: dict[str, Any] | None = None
        self._ticket_of_script: dict[tuple[int, int], int] = {}
        self.reset()
        for pattern, method, handler in (
            (rf"/api/v2/incremental/ticket_events{_J}", "GET", self._ticket_events),
            (rf"/api/v2/incremental/tickets/cursor{_J}", "GET", self._ticket_cursor_export),
            (rf"/api/v2/users/me{_J}", "GET", self._users_me),
            (rf"/api/v2/users/show_many{_J}", "GET", self._users_show_many),
            (rf"/api/v2/tickets/show_many{_J}", "GET", self._tickets_show_many),
            (rf"/api/v2/tickets/(?P<ticket_id>\d+){_J}", "GET", self._ticket_show),
            (rf"/api/v2/tickets/(?P<ticket_id>\d+){_J}", "PUT", self._ticket_update),
            (rf"/api/v2/tickets/(?P<ticket_id>\d+)/comments{_J}", "GET", self._comments),
            (rf"/api/v2/tickets/(?P<ticket_id>\d+)/tags{_J}", "GET", self._tags_show),
            (rf"/api/v2/tickets/(?P<ticket_id>\d+)/tags{_J}", "PUT", self._tags_add),
            (rf"/api/v2/tickets/(?P<ticket_id>\d+)/tags{_J}", "DELETE", self._tags_remove),
            (rf"/api/v2/tickets/(?P<ticket_id>\d+)/tags{_J}", "POST", self._tags_replace),
        ):
            self.route(method, pattern, handler)

    def start(self) -> ZendeskSandbox:
        super().start()
        assert self._server is not None
        # Headers and body go out in separate writes; with Nagle's algorithm and delayed
        # ACKs each keep-alive request would then stall ~40 ms.
        self._server.RequestHandlerClass.disable_nagle_algorithm = True  # type: ignore[attr-defined]
        return self

    # -- data ------------------------------------------------------------------------

    def renumber(self, offset: int) -> None:
        """Number new tickets and messages from `offset` up (the live demo: every start
        takes ids no earlier start used, so a daemon that kept its state sees new ones)."""
        with self._lock:
            self._next_ticket += offset
            self._next_comment += offset
            self._next_event += offset

    def reset(self) -> None:
        """Forget every ticket, user, event, fault and log (keeps credentials and port)."""
        with self._lock:
            self._users: dict[int, _User] = {}
            self._users_by_email: dict[str, int] = {}
            self._tickets: dict[int, _Ticket] = {}
            self._events: list[_Event] = []
            self._next_ticket = 101
            self._next_user = 5001
            self._next_comment = 70_001
            self._next_event = 900_001
            self._pending = []
            self._live = None
            self._ticket_of_script = {}
            self._incremental_sent = []
            self._account_sent = []
            self.request_log.clear()
            self.writes.clear()
            self.clear_faults()
            self.redirect_location = None
            self.bot = self._add_user("Helpdesk Sentinel", self.email, "admin")
            self.agents = [self._add_user("Sam Rivera", "sam.rivera@example.com", "agent"),
                           self._add_user("Jo Park", "jo.park@example.com", "admin")]

    def _add_user(self, name: str, email: str, role: str) -> int:
        if email in self._users_by_email:
            return self._users_by_email[email]
        if role == "end-user":
            user_id = self._next_user
            self._next_user += 1
        else:
            user_id = 1000 + len([u for u in self._users.values() if u.role != "end-user"])
        self._users[user_id] = _User(user_id, name, email, role)
        self._users_by_email[email] = user_id
        return user_id

    def agent_id(self, name: str | None = None) -> int:
        for agent_id in self.agents:
            if name is None or self._users[agent_id].name == name:
                return agent_id
        return self.agents[0]

    def add_ticket(self, *, subject: str, customer_name: str, customer_email: str,
                   body: str, at: float, html_body: bool = False,
                   tags: Sequence[str] = (), priority: str | None = "normal",
                   support_type: str = "agent") -> int:
        """Create a ticket whose first comment is the customer's; returns its id."""
        with self._lock:
            requester_id = self._add_user(customer_name, customer_email, "end-user")
            ticket = _Ticket(self._next_ticket, subject, requester_id, "new", priority,
                             list(tags), int(at), int(at), support_type)
            self._next_ticket += 1
            self._tickets[ticket.id] = ticket
            create = [{"id": self._event_child_id(), "event_type": "Create",
                       "field_name": name, "value": value}
                      for name, value in (("subject", subject), ("status", "new"),
                                          ("priority", priority), ("tags", list(tags)))]
            self._add_comment(ticket, requester_id, body, int(at), public=True,
                              is_html=html_body, channel="email", extra=create)
            return ticket.id

    def add_comment(self, ticket_id: int, role: TurnRole, body: str, at: float, *,
                    html_body: bool = False, author_id: int | None = None) -> int:
        """Append a customer message, agent reply or internal note; returns the comment id."""
        with self._lock:
            ticket = self._tickets[ticket_id]
            if author_id is None:
                author_id = ticket.requester_id if role == "customer" else self.agents[0]
            status = "open" if role == "customer" else "pending" if role == "agent" else None
            comment = self._add_comment(ticket, author_id, body, int(at),
                                        public=role != "note", is_html=html_body,
                                        channel="email" if role == "customer" else "web")
            if status is not None:
                ticket.status = status
            if role == "agent" and ticket.assignee_id is None:
                ticket.assignee_id = author_id  # an unassigned ticket goes to who answers
            return comment.id

    def agent_retag(self, ticket_id: int, *, add: Sequence[str] = (),
                    remove: Sequence[str] = ()) -> None:
        """An agent edits the ticket's tags in the agent UI (an audit event, no comment)."""
        with self._lock:
            ticket = self._tickets[ticket_id]
            previous = list(ticket.tags)
            ticket.tags = [t for t in ticket.tags if t not in remove]
            ticket.tags += [t for t in add if t not in ticket.tags]
            self._change_event(ticket, self.agents[0], "tags", list(ticket.tags), previous)

    def pile_up(self, ticket_ids: Sequence[int], at: float, per_ticket: int = 1,
                body: str = "Bulk macro applied: we are looking into the outage.") -> list[int]:
        """Many comments in one second (a macro run on many tickets): same-second stall."""
        ids: list[int] = []
        for _ in range(per_ticket):
            for ticket_id in ticket_ids:
                ids.append(self.add_comment(ticket_id, "agent", body, at))
        return ids

    def delete_ticket(self, ticket_id: int) -> None:
        with self._lock:
            self._tickets[ticket_id].deleted = True

    def merge_ticket(self, ticket_id: int, into: int, at: float | None = None) -> None:
        """Close `ticket_id` as merged into `into`, with the notes Zendesk writes."""
        with self._lock:
            now = int(self._now() if at is None else at)
            source, target = self._tickets[ticket_id], self._tickets[into]
            source.status = "closed"
            source.merged_into = into
            self._add_comment(source, self.agents[0], f"This request was closed and merged "
                              f"into request #{into}.", now, public=False, channel="web")
            self._add_comment(target, self.agents[0], f"Request #{ticket_id} was closed and "
                              f"merged into this request.", now, public=False, channel="web")

    def fill_comments(self, ticket_id: int, count: int) -> None:
        """Pad a ticket with `count` old internal notes (for the comment cap)."""
        with self._lock:
            ticket = self._tickets[ticket_id]
            for _ in range(count):
                ticket.comments.append(_Comment(self._next_comment, self.agents[0], "-", "-",
                                                False, ticket.created_at, 0, "web"))
                self._next_comment += 1

    def ticket(self, ticket_id: int) -> dict[str, Any]:
        """A ticket as the vendor holds it now, with its comments (for tests and demos)."""
        with self._lock:
            ticket = self._tickets[ticket_id]
            data = ticket.to_json(self.url)
            data["comments"] = [comment.to_json() for comment in ticket.comments]
            data["deleted"] = ticket.deleted
            return data

    def _event_child_id(self) -> int:
        self._next_event += 1
        return self._next_event

    def _add_comment(self, ticket: _Ticket, author_id: int, body: str, at: int, *,
                     public: bool, is_html: bool = False, channel: str = "web",
                     extra: Sequence[dict[str, Any]] = ()) -> _Comment:
        if is_html:
            html_body = body
            # Zendesk derives `body` from the HTML: markup gone, line breaks kept.
            plain = html.unescape(_TAG.sub(" ", _BREAK.sub("\n", body)))
            plain = "\n".join(" ".join(line.split()) for line in plain.splitlines()
                              if line.strip())
        else:
            html_body = f'<div class="zd-comment"><p dir="auto">{html.escape(body)}</p></div>'
            plain = body
        audit_id = self._event_child_id()
        comment = _Comment(self._next_comment, author_id, plain, html_body, public, at,
                           audit_id, channel)
        self._next_comment += 1
        ticket.comments.append(comment)
        ticket.updated_at = max(ticket.updated_at, at)
        child = {"id": comment.id, "event_type": "Comment", "type": "Comment",
                 "author_id": author_id, "body": comment.body, "html_body": html_body,
                 "public": public, "attachments": [], "audit_id": audit_id,
                 "created_at": _iso(at), "via_reference_id": None,
                 "via": {"channel": channel, "source": {"from": {}, "to": {}, "rel": None}}}
        self._append_event(_Event(audit_id, ticket.id, at, author_id,
                                  "Mail" if channel == "email" else "Web form",
                                  [*extra, child], comment))
        return comment

    def _change_event(self, ticket: _Ticket, updater_id: int, field_name: str,
                      value: Any, previous: Any) -> None:
        now = int(self._now())
        ticket.updated_at = max(ticket.updated_at, now)
        child = {"id": self._event_child_id(), "event_type": "Change",
                 "field_name": field_name, "value": value, "previous_value": previous}
        self._append_event(_Event(self._event_child_id(), ticket.id, now, updater_id, "API",
                                  [child]))

    def _append_event(self, event: _Event) -> None:
        # Kept sorted by (timestamp, id): seeding may add events out of time order.
        position = len(self._events)
        while position and (self._events[position - 1].timestamp, self._events[position - 1].id
                            ) > (event.timestamp, event.id):
            position -= 1
        self._events.insert(position, event)

    # -- time, live mode ---------------------------------------------------------------

    def _now(self) -> float:
        return self._clock()

    def seed(self, conversations: Sequence[Conversation] = CONVERSATIONS, *,
             start: datetime | None = None, backlog: int = 4,
             time_scale: float = 1.0 / 60.0, max_gap: timedelta | None = None,
             stagger: timedelta = timedelta(seconds=20), repeat: bool = False) -> None:
        """Schedule conversations around `start` (default now); see conversations.schedule.

        `repeat` (the live mode of `make run`) starts the scripts again as new tickets
        each time the last turn of a round has appeared, for up to 100 rounds.
        """
        start = start or datetime.fromtimestamp(self._now(), UTC)
        with self._lock:
            self._live = {"conversations": tuple(conversations), "backlog": backlog,
                          "time_scale": time_scale, "max_gap": max_gap,
                          "stagger": stagger, "repeat": repeat}
            self._pending = schedule(start, conversations, backlog=backlog,
                                     time_scale=time_scale, max_gap=max_gap, stagger=stagger)
            self._live_rounds = 1
            self._materialise()

    def _materialise(self) -> None:
        """Turn scheduled turns whose time has come into tickets and comments."""
        if not self._pending and not (self._live and self._live["repeat"]):
            return
        now = self._now()
        while self._pending and self._pending[0].at.timestamp() <= now:
            item = self._pending.pop(0)
            key = (self._live_rounds if self._live else 0, item.conversation_index)
            conversation, turn = item.conversation, item.turn
            at = item.at.timestamp()
            if item.turn_index == 0:
                self._ticket_of_script[key] = self.add_ticket(
                    subject=conversation.subject, customer_name=conversation.customer_name,
                    customer_email=conversation.customer_email, body=turn.text, at=at,
                    html_body=turn.html, tags=conversation.tags,
                    priority=conversation.priority)
            elif key in self._ticket_of_script:
                ticket_id = self._ticket_of_script[key]
                author = None if turn.role == "customer" else self.agent_id(
                    conversation.agent_name)
                self.add_comment(ticket_id, turn.role, turn.text, at,
                                 html_body=turn.html, author_id=author)
        live = self._live
        if not self._pending and live and live["repeat"] and self._live_rounds < 100:
            self._live_rounds += 1
            self._pending = schedule(datetime.fromtimestamp(now, UTC), live["conversations"],
                                     backlog=0, time_scale=live["time_scale"],
                                     max_gap=live["max_gap"], stagger=live["stagger"])

    # -- protocol --------------------------------------------------------------------

    def authenticate(self, request: Request) -> Response | None:
        with self._lock:
            self._materialise()
        if self.redirect_location is not None:
            # A misconfigured proxy or a moved account: the client must not follow.
            return Response(302, None, {"Location": self.redirect_location})
        header = request.header("authorization") or ""
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                decoded = ""
            if decoded == f"{self.email}/token:{self.api_token}":
                return None
        elif scheme.lower() == "bearer" and self.oauth_token and value == self.oauth_token:
            return None
        return Response(401, {"error": "Couldn't authenticate you"},
                        {"WWW-Authenticate": 'Basic realm="Web Password"'})

    def _account_budget(self) -> int:
        now = self._now()
        self._account_sent = [t for t in self._account_sent if now - t < 60] + [now]
        return max(0, ACCOUNT_LIMIT_PER_MINUTE - len(self._account_sent))

    def rate_limit_headers(self, remaining: int | None) -> dict[str, str]:
        with self._lock:
            left = self._account_budget()
        return {"X-Rate-Limit": str(ACCOUNT_LIMIT_PER_MINUTE),
                "X-Rate-Limit-Remaining": str(left),
                "ratelimit-limit": str(ACCOUNT_LIMIT_PER_MINUTE),
                "ratelimit-remaining": str(left), "ratelimit-reset": "60"}

    def _incremental_budget(self) -> Response | None:
        """The 10-a-minute budget of the incremental endpoints (None: within budget)."""
        if self.incremental_per_minute is None:
            return None
        with self._lock:
            now = self._now()
            self._incremental_sent = [t for t in self._incremental_sent if now - t < 60]
            if len(self._incremental_sent) >= self.incremental_per_minute:
                wait = max(1, int(60 - (now - self._incremental_sent[0])) + 1)
                return Response(429, {"error": "APIRateLimitExceeded", "description":
                                      "Number of allowed incremental export API requests "
                                      "per minute exceeded"}, {"Retry-After": str(wait)})
            self._incremental_sent.append(now)
        return None

    def _ticket_or_404(self, request: Request) -> _Ticket | Response:
        assert request.match is not None
        ticket = self._tickets.get(int(request.match["ticket_id"]))
        if ticket is None or ticket.deleted:
            return self.not_found()
        return ticket

    def _caller_id(self, request: Request) -> int:
        return self.bot  # both the token and the OAuth token belong to the bot admin

    # -- incremental exports -------------------------------------------------------------

    def _ticket_events(self, request: Request) -> Response:
        limited = self._incremental_budget()
        if limited is not None:
            return limited
        raw_start = request.param("start_time")
        if raw_start is None or not raw_start.lstrip("-").isdigit():
            return Response(400, {"error": "InvalidValue",
                                  "description": "start_time is required"})
        start = int(raw_start)
        cutoff = int(self._now()) - self.exclusion_seconds
        if start > cutoff:
            return Response(422, {"error": "InvalidValue", "description": _TOO_RECENT})
        scope = request.param("support_type_scope", "agent")
        if scope not in ("agent", "ai_agent", "all"):
            return Response(400, {"error": "InvalidValue",
                                  "description": "support_type_scope is invalid"})
        sideload = "comment_events" in (request.param("include") or "").split(",")
        with self._lock:
            chosen = [event for event in self._events
                      if start <= event.timestamp <= cutoff
                      and (scope == "all"
                           or self._tickets[event.ticket_id].support_type == scope)]
            page = chosen[: self.page_size]
            body_events = [self._event_json(event, sideload) for event in page]
        end_of_stream = len(page) < self.page_size
        # Zendesk's end_time is the last item's second, so the next page repeats that
        # second (the documented duplicates) and a full page of one second repeats forever.
        end_time = page[-1].timestamp if page else start
        query = f"start_time={end_time}"
        if request.param("include"):
            query += f"&include={request.param('include')}"
        if request.param("support_type_scope"):
            query += f"&support_type_scope={scope}"
        host = request.header("host") or f"127.0.0.1:{self.port}"
        next_page = f"http://{host}/api/v2/incremental/ticket_events.json?{query}"
        return Response(200, {"ticket_events": body_events, "next_page": next_page,
                              "count": len(body_events), "end_of_stream": end_of_stream,
                              "end_time": end_time})

    def _event_json(self, event: _Event, sideload: bool) -> dict[str, Any]:
        children = []
        for child in event.children:
            if child["event_type"] == "Comment" and not sideload:
                children.append({"id": child["id"], "event_type": "Comment",
                                 "comment_present": True, "comment_public": child["public"]})
            else:
                children.append(dict(child))
        return {"id": event.id, "ticket_id": event.ticket_id, "timestamp": event.timestamp,
                "created_at": _iso(event.timestamp), "updater_id": event.updater_id,
                "via": event.via, "event_type": "Audit",
                "comment_present": event.comment is not None,
                "comment_public": bool(event.comment and event.comment.public),
                "merged_ticket_ids": [], "child_events": children}

    def _ticket_cursor_export(self, request: Request) -> Response:
        limited = self._incremental_budget()
        if limited is not None:
            return limited
        cursor = request.param("cursor")
        cutoff = int(self._now()) - self.exclusion_seconds
        scope = request.param("support_type_scope", "agent")
        if cursor:
            try:
                after = tuple(json.loads(base64.urlsafe_b64decode(cursor.encode())))
            except (ValueError, binascii.Error):
                return Response(400, {"error": "InvalidValue", "description": "bad cursor"})
        else:
            raw_start = request.param("start_time")
            if raw_start is None or not raw_start.isdigit():
                return Response(400, {"error": "InvalidValue",
                                      "description": "start_time or cursor is required"})
            after = (int(raw_start) - 1, 1 << 62)
        with self._lock:
            tickets = sorted((t for t in self._tickets.values()
                              if (t.updated_at, t.id) > after and t.updated_at <= cutoff
                              and (scope == "all" or t.support_type == scope)),
                             key=lambda t: (t.updated_at, t.id))
            page = tickets[: self.page_size]
            body = [ticket.to_json(self.url) for ticket in page]
        last = (page[-1].updated_at, page[-1].id) if page else after
        after_cursor = base64.urlsafe_b64encode(json.dumps(list(last)).encode()).decode()
        host = request.header("host") or f"127.0.0.1:{self.port}"
        return Response(200, {
            "tickets": body, "after_cursor": after_cursor, "before_cursor": None,
            "after_url": f"http://{host}/api/v2/incremental/tickets/cursor.json?cursor="
                         f"{after_cursor}", "before_url": None,
            "end_of_stream": len(page) < self.page_size})

    # -- users and tickets -----------------------------------------------------------------

    @staticmethod
    def _ids(request: Request) -> list[int] | Response:
        raw = request.param("ids") or ""
        try:
            ids = [int(part) for part in raw.split(",") if part.strip()]
        except ValueError:
            return Response(400, {"error": "InvalidValue", "description": "ids"})
        if len(ids) > 100:
            return Response(400, {"error": "InvalidValue",
                                  "description": "at most 100 ids are allowed"})
        return ids

    def _users_me(self, request: Request) -> Response:
        return Response(200, {"user": self._users[self._caller_id(request)].to_json()})

    def _users_show_many(self, request: Request) -> Response:
        ids = self._ids(request)
        if isinstance(ids, Response):
            return ids
        with self._lock:
            return Response(200, {"users": [self._users[i].to_json() for i in ids
                                            if i in self._users]})

    def _tickets_show_many(self, request: Request) -> Response:
        ids = self._ids(request)
        if isinstance(ids, Response):
            return ids
        with self._lock:
            tickets = [self._tickets[i] for i in ids
                       if i in self._tickets and not self._tickets[i].deleted]
            body: dict[str, Any] = {"tickets": [t.to_json(self.url) for t in tickets]}
            if "users" in (request.param("include") or "").split(","):
                # Zendesk sideloads every user the tickets name: requesters, assignees.
                user_ids = dict.fromkeys([*(t.requester_id for t in tickets),
                                          *(t.assignee_id for t in tickets if t.assignee_id)])
                body["users"] = [self._users[u].to_json() for u in user_ids]
            return Response(200, body)

    def _ticket_show(self, request: Request) -> Response:
        with self._lock:
            ticket = self._ticket_or_404(request)
            if isinstance(ticket, Response):
                return ticket
            return Response(200, {"ticket": ticket.to_json(self.url)})

    def _comments(self, request: Request) -> Response:
        with self._lock:
            ticket = self._ticket_or_404(request)
            if isinstance(ticket, Response):
                return ticket
            size = min(100, int(request.param("page[size]", "100") or 100))
            after = int(request.param("page[after]", "0") or 0)
            rest = [c for c in ticket.comments if c.id > after]
            page = rest[:size]
            has_more = len(rest) > size
            host = request.header("host") or f"127.0.0.1:{self.port}"
            next_url = (f"http://{host}/api/v2/tickets/{ticket.id}/comments.json?"
                        f"page[size]={size}&page[after]={page[-1].id}") if has_more else None
            return Response(200, {"comments": [c.to_json() for c in page],
                                  "meta": {"has_more": has_more,
                                           "after_cursor": str(page[-1].id) if page else None},
                                  "links": {"next": next_url}})

    def _stale(self, ticket: _Ticket, body: dict[str, Any]) -> Response | None:
        """safe_update: a stale `updated_stamp` is a 409, as Zendesk documents."""
        if str(body.get("safe_update", "")).lower() not in ("true", "1"):
            return None
        if body.get("updated_stamp") != _iso(ticket.updated_at):
            return Response(409, {"error": "UpdateConflict", "description":
                                  "Safe Update prevented the update due to outdated ticket "
                                  "data. Please fetch the latest ticket data and try again."})
        return None

    def _closed(self, ticket: _Ticket) -> Response | None:
        if ticket.status != "closed":
            return None
        return Response(422, {"error": "RecordInvalid", "description":
                              "Record validation errors", "details": {"status": [
                                  {"description": "Status: closed prevents ticket update"}]}})

    def _ticket_update(self, request: Request) -> Response:
        payload = request.json() or {}
        update = payload.get("ticket")
        if not isinstance(update, dict):
            return Response(400, {"error": "InvalidValue", "description": "ticket missing"})
        with self._lock:
            ticket = self._ticket_or_404(request)
            if isinstance(ticket, Response):
                return ticket
            refused = self._closed(ticket) or self._stale(ticket, update)
            if refused is not None:
                return refused
            comment = update.get("comment")
            if comment is not None and len(ticket.comments) >= self.comment_cap:
                return Response(422, {"error": "RecordInvalid", "description":
                                      "Record validation errors", "details": {"base": [
                                          {"description": "Comments limit exceeded"}]}})
            caller = self._caller_id(request)
            if "tags" in update:  # Update Ticket replaces the tag set: recorded loudly
                self.record_write("tags_replaced", ticket_id=ticket.id,
                                  tags=list(update["tags"]), previous=list(ticket.tags))
                ticket.tags = list(dict.fromkeys(update["tags"]))
            if "priority" in update and update["priority"] != ticket.priority:
                previous = ticket.priority
                ticket.priority = update["priority"]
                self.record_write("priority", ticket_id=ticket.id, priority=ticket.priority,
                                  previous=previous)
                self._change_event(ticket, caller, "priority", ticket.priority, previous)
            if "status" in update:
                ticket.status = update["status"]
            if isinstance(comment, dict):
                body = str(comment.get("body") or comment.get("html_body") or "")
                public = bool(comment.get("public", True))
                self._add_comment(ticket, caller, body, int(self._now()), public=public,
                                  channel="api")
                self.record_write("note" if not public else "public_comment",
                                  ticket_id=ticket.id, body=body)
            ticket.updated_at = max(ticket.updated_at, int(self._now()))
            return Response(200, {"ticket": ticket.to_json(self.url),
                                  "audit": {"id": self._event_child_id(),
                                            "ticket_id": ticket.id, "events": []}})

    def _tag_request(self, request: Request) -> tuple[_Ticket, list[str]] | Response:
        ticket = self._ticket_or_404(request)
        if isinstance(ticket, Response):
            return ticket
        payload = request.json() or {}
        tags = payload.get("tags")
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            return Response(400, {"error": "InvalidValue", "description": "tags"})
        refused = self._closed(ticket) or self._stale(ticket, payload)
        if refused is not None:
            return refused
        return ticket, [t.strip().lower().replace(" ", "_") for t in tags]

    def _tags_show(self, request: Request) -> Response:
        with self._lock:
            ticket = self._ticket_or_404(request)
            if isinstance(ticket, Response):
                return ticket
            return Response(200, {"tags": list(ticket.tags)})

    def _tags_add(self, request: Request) -> Response:
        return self._tags_write(request, "add")

    def _tags_remove(self, request: Request) -> Response:
        return self._tags_write(request, "remove")

    def _tags_replace(self, request: Request) -> Response:
        return self._tags_write(request, "replace")

    def _tags_write(self, request: Request, mode: str) -> Response:
        """PUT adds, DELETE removes, POST replaces the whole set (recorded loudly)."""
        with self._lock:
            parsed = self._tag_request(request)
            if isinstance(parsed, Response):
                return parsed
            ticket, tags = parsed
            previous = list(ticket.tags)
            if mode == "replace":
                self.record_write("tags_replaced", ticket_id=ticket.id, tags=tags,
                                  previous=previous)
                ticket.tags = list(dict.fromkeys(tags))
                return Response(200, {"tags": list(ticket.tags)})
            if mode == "add":
                changed = [t for t in tags if t not in ticket.tags]
                ticket.tags.extend(changed)
            else:
                changed = [t for t in ticket.tags if t in tags]
                ticket.tags = [t for t in ticket.tags if t not in tags]
            self.record_write("tags_added" if mode == "add" else "tags_removed",
                              ticket_id=ticket.id, tags=changed)
            if changed:
                self._change_event(ticket, self._caller_id(request), "tags", ticket.tags,
                                   previous)
            return Response(200, {"tags": list(ticket.tags)})
