"""Freshdesk connector: changed tickets by `updated_since`, their conversations, write-back.

Freshdesk has no "conversations changed since" endpoint, so a poll lists the tickets
updated since a watermark (`GET /api/v2/tickets?updated_since=…&order_by=updated_at&
order_type=asc&per_page=100&include=description,requester`) and reads the conversations
of each changed ticket (`GET /api/v2/tickets/{id}/conversations`, `Link` paging).  The ticket's
first customer message is its description, emitted as message `<ticket_id>-description`.
The list is walked keyset-style: every page restarts from the `updated_at` of the last
ticket read instead of asking for page 2, 3, …, which keeps offset drift (a ticket
updated while we page moves to the end and shifts the rest) from skipping tickets, and
never comes near the 300-page wall (the 400 the wall answers is handled anyway).  The
cursor is JSON: the watermark, the tickets already read at the watermark second, and the
ids of messages already emitted inside the overlap window, so nothing is read twice or
skipped.  Write-back reads the ticket, merges tags (never dropping one), raises the
priority, writes both in one `PUT`, and posts a private note through the notes endpoint.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

import requests
import structlog
from pydantic import Field, SecretStr, model_validator

from connectors import base
from connectors.cursors import WindowCursor
from connectors.http import Clock, RetryPolicy, Sleep
from connectors.notetext import note_body
from connectors.rest import (
    Batch,
    StopPoll,
    WindowedConnector,
    basic_authorization,
)
from connectors.settings import DNS_LABEL, WindowedSourceSettings

log = structlog.get_logger(__name__)

#: Freshdesk's priority numbers, index = normalised rank (1 Low … 4 Urgent).
PRIORITY_NUMBERS: dict[str, int] = {"low": 1, "normal": 2, "high": 3, "urgent": 4}
PRIORITY_NAMES: dict[int, str] = {number: name for name, number in PRIORITY_NUMBERS.items()}
STATUS_NAMES: dict[int, str] = {2: "open", 3: "pending", 4: "resolved", 5: "closed"}
SOURCE_NOTE = 2
TICKET_SOURCE_OUTBOUND_EMAIL = 10
PAGE_WALL = 300  # Freshdesk refuses ticket-list pages beyond this one
_WALL_TEXT = "beyond the 300th page"
_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


class FreshdeskSettings(WindowedSourceSettings):
    """`domain` is the account's single DNS label (acme for acme.freshdesk.com)."""

    kind: Literal["freshdesk"] = "freshdesk"
    domain: str | None = Field(None, pattern=DNS_LABEL)
    api_key: SecretStr
    page_size: int = Field(100, ge=1, le=100)
    #: Stop reading (and let the write-back have what is left) when
    #: X-RateLimit-Remaining falls to this many credits.
    rate_limit_reserve: int = Field(20, ge=0, le=10_000)
    max_conversation_pages: int = Field(50, ge=1, le=1000)

    @model_validator(mode="after")
    def _needs_an_address(self) -> FreshdeskSettings:
        if not self.domain and not self.base_url:
            raise ValueError("freshdesk needs `domain` (acme for acme.freshdesk.com) or `base_url`")
        return self

    def create(self) -> FreshdeskConnector:
        return FreshdeskConnector(self)


@dataclass(slots=True)
class _Cursor(WindowCursor):
    """The window cursor, and the tickets already read at the watermark second."""

    done: dict[str, str] = field(default_factory=dict)  # ticket_id -> updated_at read
    page: int = 1  # > 1 only while paging through one crowded second at `since`

    @classmethod
    def _walk_from_json(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        return {"page": int(data.get("page", 1)),
                "done": {str(k): str(v) for k, v in dict(data.get("done", {})).items()}}

    def _walk_json(self) -> dict[str, Any]:
        return {"done": self.done, "page": self.page}

    def mark_read(self, ticket_id: str, updated_at: datetime) -> None:
        """The ticket is read up to `updated_at`: the watermark may move to it."""
        if updated_at > self.since:
            self.since = updated_at
            self.done = {ticket_id: base.format_vendor_time(updated_at)}
            self.page = 1  # pages count from the watermark
        elif updated_at == self.since:
            self.done[ticket_id] = base.format_vendor_time(updated_at)

    def already_read(self, ticket_id: str, updated_at: datetime) -> bool:
        return self.done.get(ticket_id) == base.format_vendor_time(updated_at)


class FreshdeskConnector(WindowedConnector[_Cursor]):
    """One Freshdesk account (API key auth) as a `Connector`."""

    kind = "freshdesk"
    CURSOR = _Cursor
    _settings: FreshdeskSettings

    def __init__(self, settings: FreshdeskSettings, *, policy: RetryPolicy | None = None,
                 clock: Clock = time.time, sleep: Sleep = time.sleep,
                 session: requests.Session | None = None) -> None:
        site = f"https://{settings.domain}.freshdesk.com" if settings.domain else None
        api_url = settings.base_url or site
        assert api_url is not None  # the settings validator guarantees one of them
        super().__init__(settings, api_url, policy=policy, clock=clock, sleep=sleep,
                         session=session, authorization=basic_authorization(
                             settings.api_key.get_secret_value(), "X"))
        self._ui_base = (site or api_url).rstrip("/")
        self._agent_names: dict[int, str | None] = {}
        self._credits_low = False

    def ticket_url(self, ticket_id: str) -> str:
        return f"{self._ui_base}/a/tickets/{ticket_id}"

    def _change(self, ticket_id: str, change: base.TicketChange) -> None:
        ticket = self._get_ticket(ticket_id)
        current_tags = [str(tag) for tag in ticket.get("tags") or []]
        tags = self._merged_tags(current_tags, change)
        update: dict[str, Any] = {}
        if tags != current_tags:
            update["tags"] = tags
        current = PRIORITY_NAMES.get(ticket.get("priority") or 0)
        raised = self._priority_raise(current, change.priority, PRIORITY_NUMBERS)
        if raised is not None:
            update["priority"] = PRIORITY_NUMBERS[raised]
        if update:
            self._write("PUT", f"/api/v2/tickets/{int(ticket_id)}", update)
        if change.note:
            self._write("POST", f"/api/v2/tickets/{int(ticket_id)}/notes",
                        {"body": note_body(change.note, html_vendor=True), "private": True})

    # -- reading --------------------------------------------------------------------

    def _read(self, state: _Cursor, batch: Batch) -> None:
        """List changed tickets from the watermark, keyset-style, reading each one."""
        self._credits_low = False
        emit_from = state.emit_from(self._settings.message_overlap)
        me = self._own_id("/api/v2/agents/me")  # the API user's agent id
        per_page = self._settings.page_size
        page, page_since = state.page, state.since
        for _ in range(self._settings.page_budget):
            state.page = page  # a poll cut short resumes inside a crowded second
            try:
                tickets = self._list_tickets(page_since, page, per_page)
            except base.FatalError as exc:
                if exc.status != 400 or page == 1:
                    raise
                # The 300-page wall: restart from the last updated_at reached, or, when a
                # single second holds more tickets than the wall lets us page through,
                # say so and step past that second rather than loop.
                if state.since <= page_since:
                    log.warning("page_wall_second_skipped", source=self.name,
                                vendor="freshdesk", second=base.format_vendor_time(page_since))
                    state.since = page_since + timedelta(seconds=1)
                    state.done = {}
                page, page_since = 1, state.since
                continue
            self._read_tickets(tickets, state, emit_from, me, batch)
            if len(tickets) < per_page:
                state.page, batch.caught_up = 1, True
                return
            if state.since > page_since:
                page, page_since = 1, state.since  # keyset restart: no offset drift
            else:
                page += 1  # a whole page inside one second: walk through that second
        state.page = page  # the next page to ask for at `since`

    def _read_tickets(self, tickets: list[dict[str, Any]], state: _Cursor,
                      emit_from: datetime, me: int | None, batch: Batch) -> None:
        """Each ticket's new messages; the cursor covers exactly the tickets finished."""
        for ticket in tickets:
            ticket_id = str(ticket["id"])
            updated_at = base.parse_vendor_time(ticket["updated_at"])
            if state.already_read(ticket_id, updated_at):
                continue
            try:
                batch.messages.extend(state.admit(self._ticket_messages(ticket, emit_from, me)))
            except base.FatalError as exc:
                if exc.status != 404:
                    raise  # 404: deleted between the list and its conversations
            state.mark_read(ticket_id, updated_at)
            batch.progress += 1
            if self._credits_low:
                raise StopPoll  # X-RateLimit-Remaining is at the reserve

    def _list_tickets(self, since: datetime, page: int, per_page: int) -> list[dict[str, Any]]:
        # Always send updated_since: without it Freshdesk lists only the last 30 days.
        params = {"updated_since": base.format_vendor_time(since), "order_by": "updated_at",
                  "order_type": "asc", "per_page": per_page, "page": page,
                  # A comma list, as Freshdesk and its peers use it (the community spec
                  # types it as one value); each include costs two more credits.
                  "include": "description,requester"}
        body, _ = self._get("/api/v2/tickets", params)
        if not isinstance(body, list):
            raise base.RetriableError("freshdesk: the ticket list was not a JSON array")
        return [ticket for ticket in body if isinstance(ticket, dict)]

    def _ticket_messages(self, ticket: Mapping[str, Any], emit_from: datetime,
                         me: int | None) -> Iterator[base.Message]:
        snapshot = self._snapshot(ticket)
        requester_id = ticket.get("requester_id")
        created_at = base.parse_vendor_time(ticket["created_at"])
        if created_at >= emit_from:
            is_outbound = ticket.get("source") == TICKET_SOURCE_OUTBOUND_EMAIL
            html = ticket.get("description")
            text = ticket.get("description_text")
            body, is_html = (text, False) if isinstance(text, str) and text else (html, True)
            yield base.Message(
                message_id=f"{snapshot.ticket_id}-description", ticket_id=snapshot.ticket_id,
                author_role="agent" if is_outbound else "customer", public=True,
                created_at=created_at, body=body if isinstance(body, str) else "",
                ticket=snapshot,
                author_id=None if requester_id is None else str(requester_id),
                body_is_html=is_html)
        for conversation in self._conversations(snapshot.ticket_id):
            created = base.parse_vendor_time(conversation["created_at"])
            if created < emit_from:
                continue
            role, public = _classify(conversation, requester_id)
            user_id = conversation.get("user_id")
            html = conversation.get("body")
            text = conversation.get("body_text")
            body, is_html = (text, False) if isinstance(text, str) and text else (html, True)
            yield base.Message(
                message_id=str(conversation["id"]), ticket_id=snapshot.ticket_id,
                author_role=role, public=public, created_at=created,
                body=body if isinstance(body, str) else "", ticket=snapshot,
                author_id=None if user_id is None else str(user_id),
                author_name=self._agent_name(user_id) if role == "agent" else None,
                body_is_html=is_html,
                own_note=(not public and me is not None and user_id == me))

    def _conversations(self, ticket_id: str) -> Iterator[dict[str, Any]]:
        path = f"/api/v2/tickets/{int(ticket_id)}/conversations"
        params: dict[str, Any] | None = {"per_page": 100}
        for _ in self._pages(self._settings.max_conversation_pages, "conversations",
                             ticket_id=ticket_id):
            body, response = self._get(path, params)
            if not isinstance(body, list):
                raise base.RetriableError("freshdesk: a conversation list was not a JSON array")
            yield from (item for item in body if isinstance(item, dict))
            link = self._same_host(_next_link(response.headers.get("Link")))
            if link is None:
                return
            path, params = link, None  # the Link URL carries its own query = None  # the Link URL carries its own query

    def _same_host(self, link: str | None) -> str | None:
        """A `Link` to another host is never followed: it would carry our credentials."""
        if link is None:
            return None
        target = urlsplit(link)
        if target.netloc and target.netloc != urlsplit(self._http.base_url).netloc:
            log.warning("foreign_pagination_link_ignored", source=self.name,
                        vendor="freshdesk")
            return None
        return link

    def _snapshot(self, ticket: Mapping[str, Any]) -> base.TicketSnapshot:
        ticket_id = str(ticket["id"])
        priority = ticket.get("priority")
        status = ticket.get("status")
        return base.TicketSnapshot(
            ticket_id=ticket_id, subject=str(ticket.get("subject") or ""),
            url=self.ticket_url(ticket_id),
            status=STATUS_NAMES.get(status, str(status)) if status is not None else None,
            priority=PRIORITY_NAMES.get(priority) if isinstance(priority, int) else None,
            tags=tuple(str(tag) for tag in ticket.get("tags") or ()),
            requester=_requester(ticket.get("requester")),
            # The ticket names ids only: the agent's name is one cached lookup per agent;
            # groups stay ids (a lead knows them, and they are not worth a request).
            assignee=self._agent_name(ticket.get("responder_id"))
            or _id_label("agent", ticket.get("responder_id")),
            group=_id_label("group", ticket.get("group_id")))

    def _agent_name(self, agent_id: Any) -> str | None:
        """An agent's name, read once per agent (`GET /api/v2/agents/{id}`) and kept:
        conversations name their author by id only.  None for a contact who is not an
        agent (404) or a payload without a name."""
        if not isinstance(agent_id, int) or isinstance(agent_id, bool):
            return None
        if agent_id not in self._agent_names:
            try:
                body, _ = self._get(f"/api/v2/agents/{agent_id}")
            except base.FatalError as exc:
                if exc.status not in (403, 404):
                    raise
                body = None  # not an agent, or not visible to this key: keep the id
            contact = body.get("contact") if isinstance(body, dict) else None
            name = contact.get("name") if isinstance(contact, dict) else None
            if len(self._agent_names) >= 10_000:  # bounded: agents, not customers
                self._agent_names.clear()
            self._agent_names[agent_id] = str(name)[:256] if name else None
        return self._agent_names[agent_id]

    def _get_ticket(self, ticket_id: str) -> dict[str, Any]:
        with self._gone(f"ticket {ticket_id}"):
            body, _ = self._get(f"/api/v2/tickets/{int(ticket_id)}")
        if not isinstance(body, dict) or body.get("deleted"):
            raise base.TicketGoneError(f"freshdesk: ticket {ticket_id} is gone", 404)
        return body

    def _observe(self, response: requests.Response) -> None:
        """Stop reading (after the ticket in hand) when the credits fall to the reserve."""
        remaining = response.headers.get("X-RateLimit-Remaining")
        if remaining is None:
            return
        try:
            self._credits_low = int(remaining) <= self._settings.rate_limit_reserve
        except ValueError:
            return


def _classify(conversation: Mapping[str, Any], requester_id: Any) -> tuple[base.AuthorRole, bool]:
    """(author role, public) of a conversation.

    A private note is internal whoever wrote it.  `incoming` means "from outside", but API
    callers may set it on notes, so an incoming note counts as the customer's only when
    the requester wrote it; an incoming reply from anyone else (a CC'd colleague) is
    still the customer side.
    """
    if conversation.get("private"):
        return "agent", False
    if conversation.get("incoming"):
        if conversation.get("source") == SOURCE_NOTE and conversation.get("user_id") != requester_id:
            return "agent", True
        return "customer", True
    if requester_id is not None and conversation.get("user_id") == requester_id:
        return "customer", True  # e.g. a public note the requester added in the portal
    return "agent", True


def _id_label(kind: str, value: Any) -> str | None:
    return f"{kind} #{value}" if isinstance(value, int) and not isinstance(value, bool) else None


def _requester(requester: Any) -> str | None:
    if not isinstance(requester, dict):
        return None
    for key in ("name", "email"):
        value = requester.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _next_link(header: str | None) -> str | None:
    if not header:
        return None
    match = _LINK_NEXT.search(header)
    return match.group(1) if match else None


__all__ = ["FreshdeskConnector", "FreshdeskSettings"]
