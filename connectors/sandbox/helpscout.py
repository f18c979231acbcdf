"""A Help Scout Mailbox API 2.0 look-alike on 127.0.0.1, written from the vendor's docs.

What the connector and the daemon rely on, with Help Scout's quirks: OAuth client
credentials (`POST /v2/oauth2/token`, form, JSON or query) issuing bearer tokens that
expire (lifetime configurable; an expired token gets 401), `GET /v2/conversations` with
`status` (default active only), `modifiedSince`, `sortField`/`sortOrder` (default
createdAt, newest first) and HAL pages of 25 (`_embedded`, `_links.next`, `page{}`),
threads per conversation (HAL, 50 a page, newest first; drafts, line items and notes
among them), `PUT …/tags` and `PUT …/fields` that replace the whole set, notes by
`POST …/notes` answering 201 with `Resource-ID`, merged conversations answering 301 with
`Location` (and 404 to writes), the 100-thread cap, `GET /v2/users/me`, and
`X-RateLimit-Limit-Minute`/`-Remaining-Minute`/`X-RateLimit-Retry-After` where writes
count twice.  Seeded from `conversations.py`, with a live mode for `make run`; writes
are recorded and faults injected through `SandboxServer.inject`.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode

from connectors.sandbox.base import Request, Response, SandboxServer
from connectors.sandbox.conversations import (
    Conversation,
    ScriptedSandbox,
    ScriptPlayer,
    Turn,
    TurnRole,
)

PRIORITY_FIELD_ID = 104
PRIORITY_OPTIONS = {"low": 1001, "normal": 1002, "high": 1003, "urgent": 1004}
OTHER_FIELD_ID = 105  # a text field agents use, to prove field writes keep it
THREAD_CAP = 100


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def _as_html(text: str, is_html: bool) -> str:
    if is_html:
        return text
    return "<br>".join(text.replace("&", "&amp;").replace("<", "&lt;").split("\n"))


def _error(status: int, message: str, **extra: Any) -> Response:
    return Response(status, {"message": message, "logRef": secrets.token_hex(6), **extra})


class HelpScoutSandbox(ScriptedSandbox, SandboxServer):
    vendor = "helpscout"

    def __init__(self, *, client_id: str = "sandbox-helpscout-id",
                 client_secret: str = "sandbox-helpscout-secret",
                 token_lifetime: int = 172_800, page_size: int = 25, thread_page_size: int = 50,
                 requests_per_minute: int | None = None, priority_as: str = "tag",
                 host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host=host, port=port, requests_per_minute=requests_per_minute)
        self.priority_as = priority_as  # how seeded scripts carry priority: tag/field/none
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_lifetime = token_lifetime
        self.page_size = page_size
        self.thread_page_size = thread_page_size
        self.redirect_location: str | None = None
        #: Called with the page number after a conversation-list page is served: lets a
        #: test change the list between two pages, as agents do while we read.
        self.after_list_page: Callable[[int], None] | None = None
        self._weight = threading.local()
        self._data_lock = threading.RLock()
        self._reset_data()
        self.route("POST", r"/v2/oauth2/token", self._token)
        self.route("GET", r"/v2/conversations", self._list_conversations)
        self.route("GET", r"/v2/conversations/(?P<cid>\d+)", self._get_conversation)
        self.route("GET", r"/v2/conversations/(?P<cid>\d+)/threads", self._list_threads)
        self.route("PUT", r"/v2/conversations/(?P<cid>\d+)/tags", self._put_tags)
        self.route("PUT", r"/v2/conversations/(?P<cid>\d+)/fields", self._put_fields)
        self.route("POST", r"/v2/conversations/(?P<cid>\d+)/notes", self._create_note)
        self.route("GET", r"/v2/users/me", self._users_me)

    def start(self) -> HelpScoutSandbox:
        super().start()
        assert self._server is not None
        # Headers and body leave in separate writes; with Nagle's algorithm and delayed
        # ACKs every keep-alive request would stall about 40 ms.
        self._server.RequestHandlerClass.disable_nagle_algorithm = True  # type: ignore[attr-defined]
        return self

    # -- data -------------------------------------------------------------------------

    def _reset_data(self) -> None:
        self.conversations: dict[int, dict[str, Any]] = {}
        self.threads: dict[int, list[dict[str, Any]]] = {}
        self.tokens: dict[str, float] = {}  # access token -> expiry (epoch seconds)
        self.customers: dict[str, int] = {}
        self.user_id = 4_000_001  # the app's own user
        self.agent_id = 4_000_002  # a human agent
        self.mailbox_id = 3_001
        self._next_conversation = 800_000_001
        self._next_thread = 2_000_000_001
        self._next_customer = 600_000_001
        self._next_tag = 90_001
        self._tag_ids: dict[str, int] = {}
        self._player = ScriptPlayer(self._open_from_script, self._add_from_script)

    def renumber(self, offset: int) -> None:
        """Number new tickets and messages from `offset` up (the live demo: every start
        takes ids no earlier start used, so a daemon that kept its state sees new ones)."""
        with self._data_lock:
            self._next_conversation += offset
            self._next_thread += offset

    def reset(self) -> None:
        with self._lock, self._data_lock:
            self._reset_data()
            self.request_log.clear()
            self.writes.clear()
            self.clear_faults()
            self.redirect_location = None

    def expire_tokens(self) -> None:
        """Every issued token is now expired (the next call with one gets 401)."""
        with self._data_lock:
            self.tokens = dict.fromkeys(self.tokens, 0.0)

    def _tag(self, name: str) -> dict[str, Any]:
        if name not in self._tag_ids:
            self._tag_ids[name] = self._next_tag
            self._next_tag += 1
        return {"id": self._tag_ids[name], "color": "#929499", "tag": name}

    def _customer(self, name: str, email: str) -> dict[str, Any]:
        if email not in self.customers:
            self.customers[email] = self._next_customer
            self._next_customer += 1
        first, _, last = name.partition(" ")
        return {"id": self.customers[email], "email": email, "first": first, "last": last,
                "type": "customer"}

    def add_conversation(self, *, subject: str, customer_name: str, customer_email: str,
                         body: str, at: datetime, html_body: bool = False,
                         tags: Sequence[str] = (), priority: str | None = None,
                         priority_as: str = "tag") -> int:
        """A conversation opened by the customer's first thread; its id.

        `priority_as`: "tag" puts `priority-<p>` among the tags, "field" sets the
        dropdown custom field, "none" leaves priority out.
        """
        with self._data_lock:
            conversation_id = self._next_conversation
            self._next_conversation += 1
            customer = self._customer(customer_name, customer_email)
            tag_names = list(tags)
            fields: list[dict[str, Any]] = [
                {"id": OTHER_FIELD_ID, "name": "Account", "value": "ACME-42", "text": "ACME-42"}]
            # No priority tag means normal, the way Help Scout teams use priority tags.
            if priority and priority != "normal" and priority_as == "tag":
                tag_names.append(f"priority-{priority}")
            if priority and priority_as == "field":
                fields.append({"id": PRIORITY_FIELD_ID, "name": "Priority",
                               "value": str(PRIORITY_OPTIONS[priority]),
                               "text": priority.capitalize()})
            stamp = iso(at)
            self.conversations[conversation_id] = {
                "id": conversation_id, "number": conversation_id - 800_000_000,
                "threads": 0, "type": "email", "folderId": 1_234, "status": "active",
                "state": "published", "subject": subject, "preview": body[:80],
                "mailboxId": self.mailbox_id, "assignee": None,
                "createdBy": dict(customer), "createdAt": stamp, "closedBy": 0,
                "closedByUser": None, "closedAt": None, "userUpdatedAt": stamp,
                "customerWaitingSince": {"time": stamp, "friendly": "just now"},
                "source": {"type": "email", "via": "customer"},
                "tags": [self._tag(name) for name in tag_names], "cc": [], "bcc": [],
                "primaryCustomer": customer, "customFields": fields,
                # Inserting is a modification now, even of a backdated conversation: the
                # list's modifiedSince compares the time of the change, not createdAt.
                "_modifiedAt": iso(max(at, datetime.now(UTC))), "_gone": None,
            }
            self.threads[conversation_id] = []
            self._add_thread(conversation_id, "customer", body, at, html_body=html_body)
            return conversation_id

    def _add_thread(self, conversation_id: int, role: TurnRole, body: str, at: datetime, *,
                    html_body: bool = False, user_id: int | None = None,
                    thread_type: str | None = None, state: str = "published") -> int:
        conversation = self.conversations[conversation_id]
        thread_id = self._next_thread
        self._next_thread += 1
        customer = conversation["primaryCustomer"]
        if role == "customer":
            created_by = dict(customer)
            kind = thread_type or "customer"
        else:
            user = user_id if user_id is not None else self.agent_id
            created_by = {"id": user, "type": "user", "first": "Sam", "last": "Rivera",
                          "email": "sam@sandbox.example"}
            kind = thread_type or ("note" if role == "note" else "reply")
        stamp = iso(at)
        self.threads[conversation_id].append({
            "id": thread_id, "type": kind, "status": "active", "state": state,
            "action": None, "body": _as_html(body, html_body),
            "source": {"type": "email" if kind != "note" else "web",
                       "via": "customer" if role == "customer" else "user"},
            "customer": {"id": customer["id"], "email": customer["email"]},
            "createdBy": created_by, "assignedTo": None, "savedReplyId": 0,
            "to": [], "cc": [], "bcc": [], "createdAt": stamp, "openedAt": None,
            "_embedded": {"attachments": []},
        })
        conversation["threads"] = len(self.threads[conversation_id])
        conversation["_modifiedAt"] = max(conversation["_modifiedAt"],
                                          iso(max(at, datetime.now(UTC))))
        if role == "customer":
            conversation["customerWaitingSince"] = {"time": stamp, "friendly": "just now"}
        else:
            conversation["userUpdatedAt"] = max(conversation["userUpdatedAt"], stamp)
        return thread_id

    def add_thread(self, conversation_id: int, role: TurnRole, body: str, at: datetime, *,
                   html_body: bool = False, thread_type: str | None = None,
                   state: str = "published") -> int:
        """A customer thread, agent reply or note (or any `thread_type`, e.g. lineitem)."""
        with self._data_lock:
            return self._add_thread(conversation_id, role, body, at, html_body=html_body,
                                    thread_type=thread_type, state=state)

    def agent_retag(self, conversation_id: int, *, add: Sequence[str] = (),
                    remove: Sequence[str] = (), at: datetime | None = None) -> None:
        """An agent edits the conversation's tags in the agent UI (it is modified)."""
        with self._data_lock:
            conversation = self.conversations[conversation_id]
            names = [t["tag"] for t in conversation["tags"] if t["tag"] not in remove]
            names += [name for name in add if name not in names]
            conversation["tags"] = [self._tag(name) for name in names]
            conversation["_modifiedAt"] = iso(at or datetime.now(UTC))

    def touch(self, conversation_id: int, at: datetime | None = None) -> None:
        """Modify a conversation without a new thread (a workflow ran, a tag changed)."""
        with self._data_lock:
            self.conversations[conversation_id]["_modifiedAt"] = iso(at or datetime.now(UTC))

    def merge(self, conversation_id: int) -> int:
        """Merge the conversation into a new one; the old id answers 301 from now on."""
        with self._data_lock:
            old = self.conversations[conversation_id]
            customer = old["primaryCustomer"]
            into = self.add_conversation(
                subject=old["subject"], customer_name=f"{customer['first']} {customer['last']}",
                customer_email=customer["email"], body="(merged)", at=datetime.now(UTC))
            old["_gone"] = into
            return into

    def _open_from_script(self, conversation: Conversation, turn: Turn, at: datetime) -> int:
        return self.add_conversation(
            subject=conversation.subject, customer_name=conversation.customer_name,
            customer_email=conversation.customer_email, body=turn.text, at=at,
            html_body=turn.html, tags=conversation.tags, priority=conversation.priority,
            priority_as=self.priority_as)

    def _add_from_script(self, conversation_id: int, conversation: Conversation, turn: Turn,
                         at: datetime) -> int:
        del conversation
        return self._add_thread(conversation_id, turn.role, turn.text, at,
                                html_body=turn.html)

    def _arrive(self) -> None:
        with self._data_lock:
            self._player.due(datetime.now(UTC))

    # -- reading back (tests, demos) ----------------------------------------------------

    def tag_names(self, conversation_id: int) -> list[str]:
        with self._data_lock:
            return [t["tag"] for t in self.conversations[conversation_id]["tags"]]

    def notes_of(self, conversation_id: int, by: int | None = None) -> list[str]:
        """Bodies of the conversation's notes (only user `by`'s when given), oldest first."""
        with self._data_lock:
            return [t["body"] for t in self.threads.get(conversation_id, [])
                    if t["type"] == "note" and (by is None or t["createdBy"]["id"] == by)]

    # -- protocol ---------------------------------------------------------------------

    def authenticate(self, request: Request) -> Response | None:
        if request.path == "/v2/oauth2/token":
            return None
        header = request.header("Authorization") or ""
        token = header[7:] if header.startswith("Bearer ") else None
        with self._data_lock:
            expires = self.tokens.get(token) if token else None
        if expires is None or expires <= time.time():
            return Response(401, {"error": "invalid_token",
                                  "error_description": "The access token is invalid or has "
                                                       "expired"},
                            {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return None

    def not_found(self) -> Response:
        return _error(404, "Resource not found")

    def rate_limit_headers(self, remaining: int | None) -> dict[str, str]:
        if self.requests_per_minute is None or remaining is None:
            return {}
        return {"X-RateLimit-Limit-Minute": str(self.requests_per_minute),
                "X-RateLimit-Remaining-Minute": str(max(remaining, 0))}

    def rate_limited(self, retry_after: int) -> Response:
        return Response(429, {"message": "Rate limit exceeded"},
                        {"X-RateLimit-Retry-After": str(retry_after),
                         "X-RateLimit-Limit-Minute": str(self.requests_per_minute),
                         "X-RateLimit-Remaining-Minute": "0"})

    def _budget(self) -> tuple[int | None, int | None]:
        # Writes count twice against the per-minute limit: spend one more slot first.
        if getattr(self._weight, "value", 1) == 2 and self.requests_per_minute is not None:
            remaining, retry_after = super()._budget()
            if retry_after is not None:
                return remaining, retry_after
        return super()._budget()

    def _respond(self, request: Request) -> Response | None:
        if self.redirect_location is not None:
            return Response(302, b"", {"Location": self.redirect_location})
        self._arrive()
        self._weight.value = 2 if request.method in ("POST", "PUT", "PATCH", "DELETE") else 1
        response = super()._respond(request)
        if response is not None and response.status == 429 \
                and "Retry-After" in response.headers:
            # Help Scout names its wait header differently; an injected 429 says it so.
            response.headers["X-RateLimit-Retry-After"] = response.headers.pop("Retry-After")
        return response

    def _origin(self, request: Request) -> str:
        return f"http://{request.header('Host') or f'127.0.0.1:{self.port}'}"

    def _token(self, request: Request) -> Response:
        fields: dict[str, str] = {k: v[0] for k, v in request.query.items()}
        content_type = request.header("Content-Type") or ""
        if request.body and "json" in content_type:
            payload = request.json()
            if isinstance(payload, dict):
                fields.update({k: str(v) for k, v in payload.items()})
        elif request.body:
            fields.update({k: v[0] for k, v in parse_qs(request.body.decode()).items()})
        if fields.get("grant_type") != "client_credentials":
            return Response(400, {"error": "unsupported_grant_type"})
        if fields.get("client_id") != self.client_id \
                or fields.get("client_secret") != self.client_secret:
            return Response(401, {"error": "invalid_client",
                                  "error_description": "Invalid client credentials"})
        token = secrets.token_urlsafe(24)
        with self._data_lock:
            self.tokens[token] = time.time() + self.token_lifetime
        return Response(200, {"token_type": "bearer", "access_token": token,
                              "expires_in": self.token_lifetime})

    @staticmethod
    def _public(conversation: dict[str, Any]) -> dict[str, Any]:
        shown = {k: v for k, v in conversation.items() if not k.startswith("_")}
        shown["tags"] = [dict(t) for t in conversation["tags"]]
        shown["customFields"] = [dict(f) for f in conversation["customFields"]]
        shown["_links"] = {"self": {"href": f"/v2/conversations/{conversation['id']}"}}
        return shown

    def _page(self, request: Request, rows: list[dict[str, Any]], key: str, size: int,
              path: str) -> Response:
        try:
            page = int(request.param("page", "1") or "1")
        except ValueError:
            return _error(400, "Invalid page")
        if page < 1:
            return _error(400, "Invalid page")
        total = len(rows)
        pages = max(1, -(-total // size))
        chosen = rows[(page - 1) * size: page * size]
        query = {k: v[0] for k, v in request.query.items() if k != "page"}

        def href(number: int) -> dict[str, str]:
            return {"href": f"{self._origin(request)}{path}?"
                            f"{urlencode({**query, 'page': number})}"}

        links: dict[str, Any] = {"self": href(page), "first": href(1), "last": href(pages),
                                 "page": {"href": f"{self._origin(request)}{path}"
                                                  "{?page}", "templated": True}}
        if page < pages:
            links["next"] = href(page + 1)
        if page > 1:
            links["previous"] = href(page - 1)
        return Response(200, {"_embedded": {key: chosen}, "_links": links,
                              "page": {"size": size, "totalElements": total,
                                       "totalPages": pages, "number": page}})

    def _list_conversations(self, request: Request) -> Response:
        status = request.param("status", "active") or "active"
        sort_field = request.param("sortField", "createdAt") or "createdAt"
        sort_order = request.param("sortOrder", "desc") or "desc"
        if status not in ("active", "pending", "closed", "spam", "all"):
            return _error(400, "Invalid status")
        if sort_field not in ("createdAt", "customerEmail", "customerName", "mailboxid",
                              "modifiedAt", "number", "score", "status", "subject",
                              "waitingSince"):
            return _error(400, "Invalid sortField")
        if sort_order not in ("asc", "desc"):
            return _error(400, "Invalid sortOrder")
        since_text = request.param("modifiedSince")
        mailbox = request.param("mailbox")
        with self._data_lock:
            rows = [c for c in self.conversations.values() if c["_gone"] is None]
            if status != "all":
                rows = [c for c in rows if c["status"] == status]
            if mailbox:
                wanted = {int(m) for m in mailbox.split(",")}
                rows = [c for c in rows if c["mailboxId"] in wanted]
            if since_text:
                try:
                    since = _parse(since_text)
                except ValueError:
                    return _error(400, "Invalid modifiedSince")
                rows = [c for c in rows if _parse(c["_modifiedAt"]) >= since]
            key = {"modifiedAt": "_modifiedAt", "waitingSince": "customerWaitingSince",
                   "mailboxid": "mailboxId"}.get(sort_field, sort_field)
            rows.sort(key=lambda c: (str(c.get(key)), c["id"]), reverse=sort_order == "desc")
            shown = [self._public(c) for c in rows]
            if request.param("embed") == "threads":
                for row in shown:
                    row["_embedded"] = {"threads": self._embedded_threads(row)}
        response = self._page(request, shown, "conversations", self.page_size,
                              "/v2/conversations")
        if self.after_list_page is not None and response.status == 200:
            self.after_list_page(int(request.param("page", "1") or "1"))
        return response

    def _embedded_threads(self, conversation: dict[str, Any]) -> list[dict[str, Any]]:
        """Threads as `embed=threads` shows them: newest first, chats truncated."""
        threads = sorted(self.threads[conversation["id"]],
                         key=lambda t: (t["createdAt"], t["id"]), reverse=True)
        shown = [dict(t) for t in threads]
        if conversation["type"] == "chat":
            for thread in shown:
                thread["body"] = thread["body"][:50]
        return shown

    def _conversation(self, request: Request) -> tuple[dict[str, Any] | None, Response | None]:
        """(conversation, None) or (None, the 301/404 a GET of it answers)."""
        assert request.match is not None
        conversation = self.conversations.get(int(request.match["cid"]))
        if conversation is None:
            return None, self.not_found()
        if conversation["_gone"] is not None:
            where = f"{self._origin(request)}/v2/conversations/{conversation['_gone']}"
            return None, Response(301, b"", {"Location": where})
        return conversation, None

    def _writable(self, request: Request) -> dict[str, Any] | None:
        conversation, _ = self._conversation(request)
        return conversation  # merged or missing: writes answer 404

    def _get_conversation(self, request: Request) -> Response:
        with self._data_lock:
            conversation, denied = self._conversation(request)
            if conversation is None:
                assert denied is not None
                return denied
            return Response(200, self._public(conversation))

    def _list_threads(self, request: Request) -> Response:
        with self._data_lock:
            conversation, denied = self._conversation(request)
            if conversation is None:
                assert denied is not None
                return denied
            newest_first = sorted(self.threads[conversation["id"]],
                                  key=lambda t: (t["createdAt"], t["id"]), reverse=True)
            rows = [dict(t) for t in newest_first]
        return self._page(request, rows, "threads", self.thread_page_size,
                          f"/v2/conversations/{conversation['id']}/threads")

    def _put_tags(self, request: Request) -> Response:
        payload = request.json()
        tags = payload.get("tags") if isinstance(payload, dict) else None
        if not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags):
            return _error(400, "Validation error", errors=[{"path": "tags",
                                                            "message": "must be a list"}])
        with self._data_lock:
            conversation = self._writable(request)
            if conversation is None:
                return self.not_found()
            # The whole set is replaced: tags missing from the payload are removed.
            conversation["tags"] = [self._tag(name) for name in dict.fromkeys(tags)]
            conversation["_modifiedAt"] = iso(datetime.now(UTC))
            self.record_write("tags", conversation_id=conversation["id"], tags=list(tags))
        return Response(204, None)

    def _put_fields(self, request: Request) -> Response:
        payload = request.json()
        fields = payload.get("fields") if isinstance(payload, dict) else None
        if not isinstance(fields, list) or not all(
                isinstance(f, dict) and isinstance(f.get("id"), int) for f in fields):
            return _error(400, "Validation error", errors=[{"path": "fields",
                                                            "message": "must be a list"}])
        options = {str(v): k for k, v in PRIORITY_OPTIONS.items()}
        for item in fields:
            if item["id"] == PRIORITY_FIELD_ID and str(item.get("value")) not in options:
                return _error(400, "Validation error", errors=[
                    {"path": "fields", "message": "dropdown value must be an option id"}])
        with self._data_lock:
            conversation = self._writable(request)
            if conversation is None:
                return self.not_found()
            # The whole state is replaced: fields missing from the payload are cleared.
            replaced = []
            for item in fields:
                value = str(item.get("value"))
                text = options[value].capitalize() if item["id"] == PRIORITY_FIELD_ID else value
                replaced.append({"id": item["id"],
                                 "name": "Priority" if item["id"] == PRIORITY_FIELD_ID
                                 else "Account", "value": value, "text": text})
            conversation["customFields"] = replaced
            conversation["_modifiedAt"] = iso(datetime.now(UTC))
            self.record_write("fields", conversation_id=conversation["id"], fields=fields)
        return Response(204, None)

    def _create_note(self, request: Request) -> Response:
        payload = request.json()
        text = payload.get("text") if isinstance(payload, dict) else None
        if not isinstance(text, str) or not text.strip():
            return _error(400, "Validation error", errors=[{"path": "text",
                                                            "message": "may not be empty"}])
        with self._data_lock:
            conversation = self._writable(request)
            if conversation is None:
                return self.not_found()
            if len(self.threads[conversation["id"]]) >= THREAD_CAP:
                # The cap is documented; the status for it is not (UNVERIFIED): 400 here.
                return _error(400, "Conversation has reached the maximum number of threads")
            thread_id = self._add_thread(conversation["id"], "note", text, datetime.now(UTC),
                                         html_body=True, user_id=self.user_id)
            self.record_write("note", conversation_id=conversation["id"], thread_id=thread_id,
                              text=text)
        return Response(201, None, {"Resource-ID": str(thread_id),
                                    "Location": f"{self._origin(request)}/v2/conversations/"
                                                f"{conversation['id']}/threads/{thread_id}"})

    def _users_me(self, request: Request) -> Response:
        del request
        return Response(200, {"id": self.user_id, "firstName": "Sentinel", "lastName": "API",
                              "email": "sentinel-api@sandbox.example", "role": "user",
                              "timezone": "UTC", "type": "user",
                              "createdAt": "2024-01-01T00:00:00Z",
                              "updatedAt": "2024-01-01T00:00:00Z"})


__all__ = ["PRIORITY_FIELD_ID", "PRIORITY_OPTIONS", "HelpScoutSandbox", "iso"]
