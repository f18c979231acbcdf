"""A Freshdesk API v2 look-alike on 127.0.0.1, written from the vendor's documentation.

It speaks what the connector and the daemon rely on, with Freshdesk's quirks: Basic auth
with the API key as user name (any password), `GET /api/v2/tickets` with
`updated_since`/`order_by`/`order_type`/`per_page` (at most 100)/`include=description`,
the default 30-day window when `updated_since` is missing, the 400 "beyond the 300th
page" wall, `Link` headers for the next page, conversations per ticket (the ticket's
description is its first message, not a conversation), `GET/PUT /api/v2/tickets/{id}`
(tags on update replace the whole list), private notes through
`POST /api/v2/tickets/{id}/notes`, `GET /api/v2/agents/me`, and the
`X-RateLimit-Total/Remaining/Used-CurrentRequest` headers (each `include` costs two more
credits) with 429 + `Retry-After` when the per-minute budget is spent.  It is seeded from
`conversations.py`, can replay a schedule so messages keep arriving (live mode for
`make run`), records every write and injects faults through `SandboxServer.inject`.
"""

from __future__ import annotations

import base64
import html
import re
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from connectors.sandbox.base import Request, Response, SandboxServer
from connectors.sandbox.conversations import (
    Conversation,
    ScriptedSandbox,
    ScriptPlayer,
    Turn,
    TurnRole,
)

PRIORITY_NUMBERS = {"low": 1, "normal": 2, "high": 3, "urgent": 4}
_UPDATABLE = {"subject", "description", "status", "priority", "source", "type",
              "responder_id", "group_id", "product_id", "tags", "custom_fields"}
_TAG = re.compile(r"<[^>]+>")


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def _bodies(text: str, is_html: bool) -> tuple[str, str]:
    """(HTML body, plain-text body) as Freshdesk returns both."""
    if is_html:
        return text, html.unescape(_TAG.sub(" ", text)).strip()
    return f"<div>{html.escape(text)}</div>", text


def _validation(field: str, message: str, code: str = "invalid_value") -> Response:
    return Response(400, {"description": "Validation failed",
                          "errors": [{"field": field, "message": message, "code": code}]})


class FreshdeskSandbox(ScriptedSandbox, SandboxServer):
    vendor = "freshdesk"

    def __init__(self, *, api_key: str = "sandbox-freshdesk-key", domain: str = "sandbox",
                 requests_per_minute: int | None = None, page_wall: int = 300,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host=host, port=port, requests_per_minute=requests_per_minute)
        self.api_key = api_key
        self.domain = domain
        self.page_wall = page_wall
        self.redirect_location: str | None = None
        self._data_lock = threading.RLock()
        self._reset_data()
        self.route("GET", r"/api/v2/tickets", self._list_tickets)
        self.route("GET", r"/api/v2/tickets/(?P<ticket_id>\d+)", self._get_ticket)
        self.route("PUT", r"/api/v2/tickets/(?P<ticket_id>\d+)", self._update_ticket)
        self.route("GET", r"/api/v2/tickets/(?P<ticket_id>\d+)/conversations",
                   self._list_conversations)
        self.route("POST", r"/api/v2/tickets/(?P<ticket_id>\d+)/notes", self._create_note)
        self.route("GET", r"/api/v2/agents/me", self._agent_me)
        self.route("GET", r"/api/v2/agents/(?P<agent_id>\d+)", self._agent_show)

    def start(self) -> FreshdeskSandbox:
        super().start()
        assert self._server is not None
        # Headers and body leave in separate writes; with Nagle's algorithm and delayed
        # ACKs every keep-alive request would stall about 40 ms.
        self._server.RequestHandlerClass.disable_nagle_algorithm = True  # type: ignore[attr-defined]
        return self

    # -- data -------------------------------------------------------------------------

    def _reset_data(self) -> None:
        self.tickets: dict[int, dict[str, Any]] = {}
        self.conversations: dict[int, list[dict[str, Any]]] = {}
        self.contacts: dict[str, dict[str, Any]] = {}  # email -> contact
        self.agent_id = 9_000_001  # the API key's own agent
        self.human_agent_id = 9_000_002
        self._next_ticket = 1
        self._next_contact = 7_000_001
        self._next_conversation = 5_000_001
        self._player = ScriptPlayer(self._open_from_script, self._add_from_script)

    def renumber(self, offset: int) -> None:
        """Number new tickets and messages from `offset` up (the live demo: every start
        takes ids no earlier start used, so a daemon that kept its state sees new ones)."""
        with self._data_lock:
            self._next_ticket += offset
            self._next_conversation += offset

    def reset(self) -> None:
        with self._lock, self._data_lock:
            self._reset_data()
            self.request_log.clear()
            self.writes.clear()
            self.clear_faults()
            self.redirect_location = None

    def _contact(self, name: str, email: str) -> int:
        if email not in self.contacts:
            self.contacts[email] = {"id": self._next_contact, "name": name, "email": email,
                                    "mobile": None, "phone": None}
            self._next_contact += 1
        return int(self.contacts[email]["id"])

    def add_ticket(self, *, subject: str, customer_name: str, customer_email: str, body: str,
                   at: datetime, html_body: bool = False, tags: Sequence[str] = (),
                   priority: str | None = "normal", status: int = 2, source: int = 1) -> int:
        """A ticket whose description is the customer's first message."""
        with self._data_lock:
            ticket_id = self._next_ticket
            self._next_ticket += 1
            description, description_text = _bodies(body, html_body)
            stamp = iso(at)
            self.tickets[ticket_id] = {
                "id": ticket_id, "subject": subject, "description": description,
                "description_text": description_text, "status": status,
                "priority": PRIORITY_NUMBERS.get(priority or "normal", 2), "source": source,
                "type": None, "requester_id": self._contact(customer_name, customer_email),
                "responder_id": self.human_agent_id, "group_id": None, "product_id": None,
                "company_id": None, "email_config_id": None, "cc_emails": [],
                "fwd_emails": [], "reply_cc_emails": [], "to_emails": None,
                "tags": list(tags), "custom_fields": {}, "fr_escalated": False,
                "spam": False, "is_escalated": False, "deleted": False,
                "due_by": iso(at + timedelta(days=3)), "fr_due_by": iso(at + timedelta(days=1)),
                "created_at": stamp, "updated_at": stamp,
            }
            self.conversations[ticket_id] = []
            return ticket_id

    def add_conversation(self, ticket_id: int, role: TurnRole, body: str, at: datetime, *,
                         html_body: bool = False, user_id: int | None = None) -> int:
        """A customer reply, agent reply or private note on an existing ticket."""
        with self._data_lock:
            ticket = self.tickets[ticket_id]
            conversation_id = self._next_conversation
            self._next_conversation += 1
            body_html, body_text = _bodies(body, html_body)
            customer = role == "customer"
            author = user_id if user_id is not None else (
                ticket["requester_id"] if customer else self.human_agent_id)
            self.conversations[ticket_id].append({
                "id": conversation_id, "body": body_html, "body_text": body_text,
                "incoming": customer, "private": role == "note",
                "user_id": author, "ticket_id": ticket_id,
                "support_email": None if role == "note" else "support@sandbox.example",
                "to_emails": [] if role == "note" else ["support@sandbox.example"],
                "from_email": None, "cc_emails": [], "bcc_emails": [], "attachments": [],
                "source": 2 if role == "note" else 0,
                "created_at": iso(at), "updated_at": iso(at),
            })
            ticket["updated_at"] = max(ticket["updated_at"], iso(at))
            return conversation_id

    def agent_retag(self, ticket_id: int, *, add: Sequence[str] = (),
                    remove: Sequence[str] = (), at: datetime | None = None) -> None:
        """An agent edits the ticket's tags in the agent UI (the ticket is updated)."""
        with self._data_lock:
            ticket = self.tickets[ticket_id]
            tags = [t for t in ticket["tags"] if t not in remove]
            ticket["tags"] = tags + [t for t in add if t not in tags]
            ticket["updated_at"] = max(ticket["updated_at"], iso(at or datetime.now(UTC)))

    def delete_ticket(self, ticket_id: int) -> None:
        with self._data_lock:
            self.tickets[ticket_id]["deleted"] = True

    def _open_from_script(self, conversation: Conversation, turn: Turn, at: datetime) -> int:
        return self.add_ticket(
            subject=conversation.subject, customer_name=conversation.customer_name,
            customer_email=conversation.customer_email, body=turn.text, at=at,
            html_body=turn.html, tags=conversation.tags, priority=conversation.priority)

    def _add_from_script(self, ticket_id: int, conversation: Conversation, turn: Turn,
                         at: datetime) -> int:
        del conversation
        return self.add_conversation(ticket_id, turn.role, turn.text, at, html_body=turn.html)

    def _arrive(self) -> None:
        with self._data_lock:
            self._player.due(datetime.now(UTC))

    # -- protocol ---------------------------------------------------------------------

    def authenticate(self, request: Request) -> Response | None:
        header = request.header("Authorization") or ""
        if header.startswith("Basic "):
            try:
                user = base64.b64decode(header[6:], validate=True).decode().split(":", 1)[0]
            except ValueError:
                user = ""
            if user == self.api_key:
                return None
        return Response(401, {"code": "invalid_credentials",
                              "message": "You have to be logged in to perform this action."})

    def not_found(self) -> Response:
        return Response(404, b"")

    def rate_limit_headers(self, remaining: int | None) -> dict[str, str]:
        if self.requests_per_minute is None or remaining is None:
            return {}
        return {"X-RateLimit-Total": str(self.requests_per_minute),
                "X-RateLimit-Remaining": str(remaining),
                "X-RateLimit-Used-CurrentRequest": "1"}

    def rate_limited(self, retry_after: int) -> Response:
        return Response(429, {"code": "rate_limit_exceeded",
                              "message": "You have exceeded the limit of requests per minute"},
                        {"Retry-After": str(retry_after),
                         "X-RateLimit-Total": str(self.requests_per_minute),
                         "X-RateLimit-Remaining": "0"})

    def _respond(self, request: Request) -> Response | None:
        if self.redirect_location is not None:
            return Response(302, b"", {"Location": self.redirect_location})
        self._arrive()
        response = super()._respond(request)
        if response is not None and "X-RateLimit-Used-CurrentRequest" in response.headers:
            includes = [v for v in (request.param("include") or "").split(",") if v]
            response.headers["X-RateLimit-Used-CurrentRequest"] = str(1 + 2 * len(includes))
        return response

    def _origin(self, request: Request) -> str:
        return f"http://{request.header('Host') or f'127.0.0.1:{self.port}'}"

    def _page_args(self, request: Request) -> tuple[int, int] | Response:
        try:
            page = int(request.param("page", "1") or "1")
            per_page = int(request.param("per_page", "30") or "30")
        except ValueError:
            return _validation("page", "It should be a Positive Number")
        if page < 1:
            return _validation("page", "It should be a Positive Number")
        if not 1 <= per_page <= 100:
            return _validation("per_page", "It should be a Positive Number less than or "
                                           "equal to 100")
        return page, per_page

    def _list_tickets(self, request: Request) -> Response:
        args = self._page_args(request)
        if isinstance(args, Response):
            return args
        page, per_page = args
        if page > self.page_wall:
            return _validation("page", f"You cannot access tickets beyond the "
                                       f"{self.page_wall}th page. Please provide a smaller "
                                       "page number.")
        include = request.param("include")
        if include is not None and any(v not in ("description", "requester", "stats")
                                       for v in include.split(",")):
            return _validation("include", "It should be one/more of these values: "
                                          "'requester,stats,description'")
        order_by = request.param("order_by", "created_at") or "created_at"
        order_type = request.param("order_type", "desc") or "desc"
        if order_by not in ("created_at", "due_by", "updated_at", "status"):
            return _validation("order_by", "It should be one of these values: "
                                           "'created_at,due_by,updated_at,status'")
        if order_type not in ("asc", "desc"):
            return _validation("order_type", "It should be one of these values: 'asc,desc'")
        since_text = request.param("updated_since")
        with self._data_lock:
            if since_text is not None:
                try:
                    since = _parse(since_text)
                except ValueError:
                    return _validation("updated_since", "It should be in the 'valid date "
                                                        "time' format", "invalid_date")
                # Inclusive: a ticket updated in the same second as `since` is listed.
                chosen = [t for t in self.tickets.values() if _parse(t["updated_at"]) >= since]
            else:
                # Without updated_since Freshdesk lists only tickets created in 30 days.
                window = datetime.now(UTC) - timedelta(days=30)
                chosen = [t for t in self.tickets.values() if _parse(t["created_at"]) >= window]
            chosen = [t for t in chosen if not t["deleted"] and not t["spam"]]
            chosen.sort(key=lambda t: (t[order_by] if t[order_by] is not None else "", t["id"]),
                        reverse=order_type == "desc")
            window_rows = chosen[(page - 1) * per_page: page * per_page]
            includes = (include or "").split(",")
            rows = [self._public_ticket(t, with_description="description" in includes)
                    for t in window_rows]
            if "requester" in includes:
                by_id = {c["id"]: c for c in self.contacts.values()}
                for row in rows:
                    row["requester"] = dict(by_id[row["requester_id"]])
        headers: dict[str, str] = {}
        if len(chosen) > page * per_page:
            query = urlencode({k: v[0] for k, v in request.query.items() if k != "page"})
            headers["Link"] = (f'<{self._origin(request)}/api/v2/tickets?{query}'
                               f'&page={page + 1}>; rel="next"')
        return Response(200, rows, headers)

    @staticmethod
    def _public_ticket(ticket: dict[str, Any], *, with_description: bool) -> dict[str, Any]:
        shown = {k: v for k, v in ticket.items() if k != "deleted"}
        shown["tags"] = list(ticket["tags"])
        if not with_description:
            shown.pop("description", None)
            shown.pop("description_text", None)
        return shown

    def _ticket_or_none(self, request: Request) -> dict[str, Any] | None:
        assert request.match is not None
        ticket = self.tickets.get(int(request.match["ticket_id"]))
        if ticket is None or ticket["deleted"]:
            return None
        return ticket

    def _get_ticket(self, request: Request) -> Response:
        with self._data_lock:
            ticket = self._ticket_or_none(request)
            if ticket is None:
                return self.not_found()
            return Response(200, self._public_ticket(ticket, with_description=True))

    def _update_ticket(self, request: Request) -> Response:
        payload = request.json()
        if not isinstance(payload, dict) or not payload:
            return _validation("body", "A JSON object with at least one field is expected")
        for key in payload:
            if key not in _UPDATABLE:
                return _validation(key, "Unexpected/invalid field in request", "invalid_field")
        if "priority" in payload and payload["priority"] not in (1, 2, 3, 4):
            return _validation("priority", "It should be one of these values: '1,2,3,4'")
        tags = payload.get("tags")
        if tags is not None and (not isinstance(tags, list)
                                 or not all(isinstance(t, str) and t for t in tags)):
            return _validation("tags", "It should be an Array of Strings", "datatype_mismatch")
        with self._data_lock:
            ticket = self._ticket_or_none(request)
            if ticket is None:
                return self.not_found()
            for key, value in payload.items():
                ticket[key] = list(value) if key == "tags" else value
            ticket["updated_at"] = iso(datetime.now(UTC))
            self.record_write("update_ticket", ticket_id=ticket["id"], payload=payload)
            return Response(200, self._public_ticket(ticket, with_description=True))

    def _list_conversations(self, request: Request) -> Response:
        args = self._page_args(request)
        if isinstance(args, Response):
            return args
        page, per_page = args
        with self._data_lock:
            ticket = self._ticket_or_none(request)
            if ticket is None:
                return self.not_found()
            everything = self.conversations[ticket["id"]]
            rows = [dict(c) for c in everything[(page - 1) * per_page: page * per_page]]
            more = len(everything) > page * per_page
        headers: dict[str, str] = {}
        if more:
            headers["Link"] = (f"<{self._origin(request)}/api/v2/tickets/{ticket['id']}"
                               f'/conversations?per_page={per_page}&page={page + 1}>; rel="next"')
        return Response(200, rows, headers)

    def _create_note(self, request: Request) -> Response:
        payload = request.json()
        if not isinstance(payload, dict) or not isinstance(payload.get("body"), str) \
                or not payload["body"].strip():
            return _validation("body", "It should not be blank as this is a mandatory field",
                               "missing_field")
        private = payload.get("private", True)
        if not isinstance(private, bool):
            return _validation("private", "It should be a boolean value", "datatype_mismatch")
        with self._data_lock:
            ticket = self._ticket_or_none(request)
            if ticket is None:
                return self.not_found()
            now = datetime.now(UTC)
            conversation_id = self.add_conversation(
                ticket["id"], "note", payload["body"], now, html_body=True,
                user_id=int(payload.get("user_id") or self.agent_id))
            note = self.conversations[ticket["id"]][-1]
            note["private"] = private
            note["incoming"] = bool(payload.get("incoming", False))
            ticket["updated_at"] = iso(now)
            self.record_write("note", ticket_id=ticket["id"], conversation_id=conversation_id,
                              body=payload["body"], private=private)
            return Response(201, dict(note), {"Location": f"{self._origin(request)}/api/v2/"
                                                          f"conversations/{conversation_id}"})

    def _agent_me(self, request: Request) -> Response:
        del request
        return Response(200, self._agent_json(self.agent_id))

    def _agent_show(self, request: Request) -> Response:
        assert request.match is not None  # routed by a pattern with a group
        agent_id = int(request.match["agent_id"])
        if agent_id not in (self.agent_id, self.human_agent_id):
            return Response(404, {"code": "access_denied", "message": "not found"})
        return Response(200, self._agent_json(agent_id))

    def _agent_json(self, agent_id: int) -> dict[str, Any]:
        name, email = (("Sentinel API", "sentinel-api@sandbox.example")
                       if agent_id == self.agent_id else
                       ("Riley Chen", "riley.chen@sandbox.example"))
        return {"id": agent_id, "available": True, "occasional": False, "signature": None,
                "ticket_scope": 1, "group_ids": [], "role_ids": [], "type": "support_agent",
                "contact": {"name": name, "email": email, "active": True},
                "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z"}

    # -- reading back (tests, demos) ----------------------------------------------------

    def notes_of(self, ticket_id: int, by: int | None = None) -> list[str]:
        """Plain text of the ticket's private notes (only `by`'s when given), oldest first."""
        with self._data_lock:
            return [c["body_text"] for c in self.conversations.get(ticket_id, [])
                    if c["private"] and (by is None or c["user_id"] == by)]


__all__ = ["FreshdeskSandbox", "iso"]
