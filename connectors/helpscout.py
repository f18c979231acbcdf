"""Help Scout (Mailbox API 2.0) connector: OAuth client credentials, changed conversations,
their threads, and write-back without clobbering.

A poll walks `GET /v2/conversations?status=all&modifiedSince=…&sortField=modifiedAt&
sortOrder=asc&embed=threads` through its HAL pages (`_embedded.conversations`,
`_links.next`, 25 a page), taking each conversation's threads from the page itself;
only chat conversations (which Help Scout embeds truncated) or, with `embed_threads`
off, every conversation get their threads read separately (`GET /v2/conversations/{id}/
threads`, newest first, so paging stops at the first page that reaches back past the
overlap window).  The conversation object exposes no `modifiedAt`, so the next poll's
`modifiedSince` is the server time (its `Date` header) when the walk began, minus a small
overlap; a walk the page budget cuts short resumes at its next page.  Offset paging over
a list that changes while we read can skip an item (one modified mid-walk moves to the
end and shifts the rest): a walk that saw fewer distinct conversations than the last
page's `totalElements` is repeated from the same watermark.  Thread ids already emitted
inside the overlap window are kept in the cursor, so nothing is emitted twice.

The token (client credentials, no refresh token) is fetched lazily, renewed `token_margin`
before it expires and once more on a 401.  Help Scout has no priority: it is expressed as
a tag (`priority-high`, prefix configurable) or as a dropdown custom field whose option
ids are configured.  Tags and custom fields are replaced wholesale by the API, so both
are read, merged and written back whole; nothing is ever removed except our own tags.
Merged conversations answer 301 and writes to them 404: both are `TicketGoneError`.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import requests
import structlog
from pydantic import Field, SecretStr, field_validator, model_validator

from connectors import base
from connectors.cursors import WindowCursor
from connectors.helpscout_priority import PriorityExpression, tag_names
from connectors.http import Clock, RetryPolicy, Sleep
from connectors.notetext import note_body
from connectors.oauth import ClientCredentials
from connectors.rest import (
    Batch,
    WindowedConnector,
    default_policy,
)
from connectors.settings import WindowedSourceSettings, secure_url
from vocab import Duration

log = structlog.get_logger(__name__)

DEFAULT_BASE_URL = "https://api.helpscout.net"
UI_BASE = "https://secure.helpscout.net/conversation"
RETRY_AFTER_HEADERS = ("X-RateLimit-Retry-After", "Retry-After")


class HelpScoutSettings(WindowedSourceSettings):
    """Client credentials of a Help Scout "My apps" app, and how priority is expressed."""

    kind: Literal["helpscout"] = "helpscout"
    client_id: SecretStr
    client_secret: SecretStr
    token_url: str | None = None  # default: {base_url}/v2/oauth2/token
    mailboxes: tuple[int, ...] = ()  # only these mailboxes (default: every one)
    priority_mode: Literal["tag", "field"] = "tag"
    priority_tag_prefix: str = Field("priority-", min_length=1)
    priority_field_id: int | None = None
    #: Normalised priority -> option id of the dropdown field (priority_mode: field).
    priority_options: dict[Literal["low", "normal", "high", "urgent"], int] = Field(
        default_factory=dict)
    token_margin: Duration = timedelta(minutes=5)
    #: Re-list conversations modified this long before the last walk began.
    modified_overlap: Duration = timedelta(seconds=30)
    max_thread_pages: int = Field(10, ge=1, le=100)
    #: List conversations with their threads (`embed=threads`): one request a page
    #: instead of one more per conversation.
    embed_threads: bool = True

    @field_validator("token_url")
    @classmethod
    def _secure_token_url(cls, value: str | None) -> str | None:
        return None if value is None else secure_url(value)

    @model_validator(mode="after")
    def _priority_field_complete(self) -> HelpScoutSettings:
        if self.priority_mode == "field":
            if self.priority_field_id is None:
                raise ValueError("priority_mode: field needs priority_field_id")
            if not self.priority_options:
                raise ValueError("priority_mode: field needs priority_options "
                                 "(priority -> dropdown option id)")
        return self

    def create(self) -> HelpScoutConnector:
        return HelpScoutConnector(self)


@dataclass(slots=True)
class _Cursor(WindowCursor):
    """The window cursor, and a walk in progress (next page, when it began, what it saw)."""

    page: int | None = None
    walk_start: datetime | None = None
    walk_ids: set[int] = field(default_factory=set)

    @classmethod
    def _walk_from_json(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        walk_start = data.get("walk_start")
        return {"page": int(data["page"]) if data.get("page") is not None else None,
                "walk_start": base.parse_vendor_time(walk_start) if walk_start else None,
                "walk_ids": {int(i) for i in data.get("walk_ids", [])}}

    def _walk_json(self) -> dict[str, Any]:
        return {"page": self.page,
                "walk_start": base.format_vendor_time(self.walk_start) if self.walk_start else None,
                "walk_ids": sorted(self.walk_ids) if self.page is not None else []}


class HelpScoutConnector(WindowedConnector[_Cursor]):
    """One Help Scout account (client-credentials app) as a `Connector`."""

    kind = "helpscout"
    CURSOR = _Cursor
    GONE_STATUSES = (301, 404)  # a merged conversation answers 301, a write to it 404
    _settings: HelpScoutSettings

    def __init__(self, settings: HelpScoutSettings, *, policy: RetryPolicy | None = None,
                 clock: Clock = time.time, sleep: Sleep = time.sleep,
                 session: requests.Session | None = None) -> None:
        api_url = (settings.base_url or DEFAULT_BASE_URL).rstrip("/")
        self._token_url = settings.token_url or f"{api_url}/v2/oauth2/token"
        policy = policy or default_policy(settings)
        self._token = ClientCredentials(
            self._token_url, settings.client_id, settings.client_secret, vendor=self.kind,
            margin=settings.token_margin.total_seconds(), policy=policy, clock=clock,
            sleep=sleep, retry_after_headers=RETRY_AFTER_HEADERS)
        super().__init__(settings, api_url, authorization=None, policy=policy, clock=clock,
                         sleep=sleep, session=session, on_unauthorized=self._token.renew,
                         retry_after_headers=RETRY_AFTER_HEADERS)
        self._clients.append(self._token.http)
        self._priority = PriorityExpression(
            settings.priority_mode, settings.priority_tag_prefix, settings.priority_field_id,
            {str(name): option for name, option in settings.priority_options.items()})

    def _auth_headers(self) -> Mapping[str, str]:
        return self._token.headers()

    @property
    def token_fetches(self) -> int:
        """How often a token was requested (for tests and metrics)."""
        return self._token.fetches

    # -- Connector ------------------------------------------------------------------

    def ticket_url(self, ticket_id: str) -> str:
        return f"{UI_BASE}/{ticket_id}"

    def _change(self, ticket_id: str, change: base.TicketChange) -> None:
        conversation = self._get_conversation(ticket_id)
        current_tags = tag_names(conversation)
        tags = self._merged_tags(current_tags, change)
        fields: list[dict[str, Any]] | None = None
        raised = self._priority_raise(self._priority.of(conversation), change.priority)
        if raised is not None:
            fields = self._priority.raise_to(conversation, tags, raised)
        path = f"/v2/conversations/{int(ticket_id)}"
        if fields is not None:
            self._write("PUT", f"{path}/fields", {"fields": fields})
        if tags != current_tags:
            self._write("PUT", f"{path}/tags", {"tags": tags})
        if change.note:
            self._write("POST", f"{path}/notes",
                        {"text": note_body(change.note, html_vendor=True)})

    # -- reading --------------------------------------------------------------------

    def _read(self, state: _Cursor, batch: Batch) -> None:
        """Walk the changed conversations' pages from the cursor."""
        settings = self._settings
        emit_from = state.emit_from(settings.message_overlap)
        me = self._own_id("/v2/users/me")  # the app's user id
        rewalked = False
        for _ in range(settings.page_budget):
            if state.page is None:
                state.page, state.walk_start, state.walk_ids = 1, None, set()
            body, response = self._list_page(state.since, state.page)
            if state.walk_start is None:
                state.walk_start = self._server_time(response)
            for conversation in _embedded(body, "conversations"):
                batch.messages.extend(state.admit(
                    self._conversation_messages(conversation, emit_from, me)))
                state.walk_ids.add(int(conversation["id"]))
            batch.progress += 1
            if _has_next(body):
                state.page += 1
                continue
            total = _total(body)
            if total is not None and len(state.walk_ids) < total and not rewalked:
                # Something moved while we paged and shifted an unseen conversation onto
                # a page already read: walk again from the same watermark (once a poll,
                # so a count that never matches cannot stall the source).
                rewalked = True
                log.info("conversation_list_shifted", source=self.name, vendor="helpscout",
                         seen=len(state.walk_ids), total=total)
                state.page = None
                continue
            state.since = max(state.since, state.walk_start - settings.modified_overlap)
            state.page, state.walk_start, state.walk_ids = None, None, set()
            batch.caught_up = True
            return

    def _list_page(self, since: datetime, page: int) -> tuple[Any, requests.Response]:
        # status=all: the default lists only active conversations.  Always modifiedSince.
        params: dict[str, Any] = {"status": "all", "modifiedSince": base.format_vendor_time(since),
                                  "sortField": "modifiedAt", "sortOrder": "asc", "page": page}
        if self._settings.embed_threads:
            params["embed"] = "threads"
        if self._settings.mailboxes:
            params["mailbox"] = ",".join(str(m) for m in self._settings.mailboxes)
        return self._get("/v2/conversations", params)

    def _conversation_messages(self, conversation: Mapping[str, Any], emit_from: datetime,
                               me: int | None) -> Iterator[base.Message]:
        snapshot = self._snapshot(conversation)
        embedded = conversation.get("_embedded")
        embedded_threads = embedded.get("threads") if isinstance(embedded, dict) else None
        try:
            if isinstance(embedded_threads, list) and conversation.get("type") != "chat":
                # Listed with embed=threads: no request per conversation.  Chat
                # conversations come truncated that way, so theirs are read in full.
                threads = [t for t in embedded_threads if isinstance(t, dict)]
            else:
                threads = list(self._threads(snapshot.ticket_id, emit_from))
        except base.FatalError as exc:
            if exc.status in self.GONE_STATUSES:
                log.info("conversation_gone_while_read", source=self.name,
                         vendor="helpscout", ticket_id=snapshot.ticket_id)
                return
            raise
        for thread in sorted(threads, key=lambda t: (t["createdAt"], int(t["id"]))):
            created = base.parse_vendor_time(thread["createdAt"])
            if created < emit_from:
                continue
            classified = _classify(thread)
            if classified is None:
                continue
            role, public = classified
            author = thread.get("createdBy") if isinstance(thread.get("createdBy"), dict) else {}
            assert isinstance(author, dict)
            author_id = author.get("id")
            name = " ".join(str(author[k]) for k in ("first", "last") if author.get(k)) or None
            yield base.Message(
                message_id=str(thread["id"]), ticket_id=snapshot.ticket_id,
                author_role=role, public=public, created_at=created,
                body=str(thread.get("body") or ""), ticket=snapshot,
                author_id=None if author_id is None else str(author_id), author_name=name,
                body_is_html=True,
                own_note=(thread.get("type") == "note" and author.get("type") == "user"
                          and me is not None and author_id == me))

    def _threads(self, conversation_id: str, emit_from: datetime) -> Iterator[dict[str, Any]]:
        """Threads newest first, stopping at the page that reaches past `emit_from`."""
        path = f"/v2/conversations/{int(conversation_id)}/threads"
        for page in self._pages(self._settings.max_thread_pages, "threads",
                                ticket_id=conversation_id):
            body, _ = self._get(path, {"page": page})
            threads = [t for t in _embedded(body, "threads") if isinstance(t, dict)]
            yield from threads
            oldest = min((base.parse_vendor_time(t["createdAt"]) for t in threads), default=None)
            if not _has_next(body) or oldest is None or oldest < emit_from:
                return

    def _snapshot(self, conversation: Mapping[str, Any]) -> base.TicketSnapshot:
        conversation_id = str(conversation["id"])
        customer = conversation.get("primaryCustomer")
        requester = None
        if isinstance(customer, dict):
            name = " ".join(str(customer[k]) for k in ("first", "last") if customer.get(k))
            requester = name or customer.get("email")
        assignee = conversation.get("assignee")
        assigned = None
        if isinstance(assignee, dict):
            assigned = " ".join(str(assignee[k]) for k in ("first", "last")
                                if assignee.get(k)) or assignee.get("email")
        return base.TicketSnapshot(
            ticket_id=conversation_id, subject=str(conversation.get("subject") or ""),
            url=self.ticket_url(conversation_id), status=conversation.get("status"),
            priority=self._priority.of(conversation), tags=tuple(tag_names(conversation)),
            requester=requester, assignee=str(assigned) if assigned else None)

    def _get_conversation(self, conversation_id: str) -> dict[str, Any]:
        with self._gone(f"conversation {conversation_id} (merged or deleted)"):
            body, _ = self._get(f"/v2/conversations/{int(conversation_id)}")
        if not isinstance(body, dict):
            raise base.RetriableError("helpscout: a conversation was not a JSON object")
        return body

    def _server_time(self, response: requests.Response) -> datetime:
        """The server's clock (Date header): our clock may be skewed from theirs."""
        header = response.headers.get("Date")
        if header:
            try:
                return email.utils.parsedate_to_datetime(header).astimezone(UTC)
            except (TypeError, ValueError):
                pass
        return datetime.fromtimestamp(self._clock(), UTC).replace(microsecond=0)


def _classify(thread: Mapping[str, Any]) -> tuple[base.AuthorRole, bool] | None:
    """(author role, public) of a thread, or None for what is not a message.

    Drafts and threads under review are not sent yet; line items are workflow and
    assignment entries, not messages.  Chats and phone calls are the customer's when
    the customer created them.
    """
    if thread.get("state", "published") != "published":
        return None
    kind = thread.get("type")
    created_by = thread.get("createdBy")
    by_customer = isinstance(created_by, dict) and created_by.get("type") == "customer"
    if kind == "lineitem":
        return None
    if kind == "customer":
        return "customer", True
    if kind == "note":
        return "agent", False
    if kind in ("reply", "message"):
        return "agent", True
    if kind in ("chat", "phone"):
        return ("customer" if by_customer else "agent"), True
    if kind in ("forwardparent", "forwardchild"):
        return "agent", False
    return ("customer", True) if by_customer else ("agent", False)


def _embedded(body: Any, key: str) -> list[dict[str, Any]]:
    if not isinstance(body, dict):
        raise base.RetriableError("helpscout: a list response was not a JSON object")
    embedded = body.get("_embedded") or {}
    items = embedded.get(key) if isinstance(embedded, dict) else None
    return [item for item in items or [] if isinstance(item, dict)]


def _has_next(body: Any) -> bool:
    links = body.get("_links") if isinstance(body, dict) else None
    return isinstance(links, dict) and isinstance(links.get("next"), dict)


def _total(body: Any) -> int | None:
    page = body.get("page") if isinstance(body, dict) else None
    if isinstance(page, dict) and isinstance(page.get("totalElements"), int):
        return int(page["totalElements"])
    return None


__all__ = ["HelpScoutConnector", "HelpScoutSettings"]
