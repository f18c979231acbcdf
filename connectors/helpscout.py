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
import json
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

import requests
import structlog
from pydantic import Field, SecretStr, field_validator, model_validator

from connectors.base import (
    PRIORITIES,
    AuthorRole,
    FatalError,
    Message,
    PollResult,
    RetriableError,
    TicketChange,
    TicketGoneError,
    TicketSnapshot,
    format_vendor_time,
    parse_vendor_time,
    priority_rank,
)
from connectors.http import Clock, HttpClient, RetryPolicy, Sleep
from connectors.notetext import note_body
from connectors.rest import merge_tags
from connectors.settings import SourceSettings, secure_url
from vocab import Duration

log = structlog.get_logger(__name__)

DEFAULT_BASE_URL = "https://api.helpscout.net"
UI_BASE = "https://secure.helpscout.net/conversation"
RETRY_AFTER_HEADERS = ("X-RateLimit-Retry-After", "Retry-After")


class HelpScoutSettings(SourceSettings):
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
    own_tag_prefix: str = "sentiment-"
    token_margin: Duration = timedelta(minutes=5)
    #: Re-list conversations modified this long before the last walk began.
    modified_overlap: Duration = timedelta(seconds=30)
    #: How far back a changed conversation's threads are compared with those emitted.
    message_overlap: Duration = timedelta(hours=1)
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
class _Cursor:
    """Watermark, a walk in progress (next page, when it began, what it saw), emitted ids."""

    since: datetime
    floor: datetime  # start_from of the first poll: nothing older is ever emitted
    page: int | None = None
    walk_start: datetime | None = None
    walk_ids: set[int] = field(default_factory=set)
    seen: dict[str, str] = field(default_factory=dict)  # thread id -> created_at

    @classmethod
    def load(cls, raw: str | None, start_from: datetime) -> _Cursor:
        if not raw:
            start = start_from.astimezone(UTC).replace(microsecond=0)
            return cls(since=start, floor=start)
        try:
            data = json.loads(raw)
            walk_start = data.get("walk_start")
            return cls(
                since=parse_vendor_time(data["since"]), floor=parse_vendor_time(data["floor"]),
                page=int(data["page"]) if data.get("page") is not None else None,
                walk_start=parse_vendor_time(walk_start) if walk_start else None,
                walk_ids={int(i) for i in data.get("walk_ids", [])},
                seen={str(k): str(v) for k, v in dict(data.get("seen", {})).items()})
        except (ValueError, KeyError, TypeError):
            raise FatalError("helpscout: the stored cursor is not a Help Scout cursor") from None

    def dump(self, overlap: timedelta, max_seen: int) -> str:
        horizon = self.since - overlap
        kept = sorted(((created, thread_id) for thread_id, created in self.seen.items()
                       if parse_vendor_time(created) >= horizon), reverse=True)[:max_seen]
        return json.dumps({
            "v": 1, "since": format_vendor_time(self.since), "floor": format_vendor_time(self.floor),
            "page": self.page,
            "walk_start": format_vendor_time(self.walk_start) if self.walk_start else None,
            "walk_ids": sorted(self.walk_ids) if self.page is not None else [],
            "seen": {thread_id: created for created, thread_id in kept},
        }, separators=(",", ":"), sort_keys=True)


class HelpScoutConnector:
    """One Help Scout account (client-credentials app) as a `Connector`."""

    kind = "helpscout"
    MAX_SEEN = 20_000  # bound on the cursor's memory of emitted thread ids

    def __init__(self, settings: HelpScoutSettings, *, policy: RetryPolicy | None = None,
                 clock: Clock = time.time, sleep: Sleep = time.sleep,
                 session: requests.Session | None = None) -> None:
        self.name = settings.name
        self._settings = settings
        self._clock = clock
        base_url = (settings.base_url or DEFAULT_BASE_URL).rstrip("/")
        policy = policy or RetryPolicy(read_timeout=settings.timeout, deadline=2 * settings.timeout)
        self._token_url = settings.token_url or f"{base_url}/v2/oauth2/token"
        self.__client_id = settings.client_id
        self.__client_secret = settings.client_secret
        self.__token: str | None = None
        self._token_expires = 0.0
        self._token_lock = threading.Lock()
        self.token_fetches = 0  # for tests and metrics: how often a token was requested
        # A client of its own, without the 401 hook, so a refused token request cannot
        # recurse into fetching another token.
        self._token_http = HttpClient(self._token_url, vendor="helpscout", policy=policy,
                                      clock=clock, sleep=sleep,
                                      retry_after_headers=RETRY_AFTER_HEADERS)
        self._http = HttpClient(base_url, vendor="helpscout", auth=self._auth_headers,
                                on_unauthorized=self._renew_after_401, policy=policy,
                                retry_after_headers=RETRY_AFTER_HEADERS, clock=clock,
                                sleep=sleep, session=session)
        self._me: int | None = None
        self._pages_read = 0

    def __repr__(self) -> str:
        return f"HelpScoutConnector(name={self.name!r}, base_url={self._http.base_url!r})"

    # -- token --------------------------------------------------------------------------

    def _auth_headers(self) -> Mapping[str, str]:
        margin = self._settings.token_margin.total_seconds()
        # The poll and the outbox may call at once: one of them fetches, the other waits.
        with self._token_lock:
            if self.__token is None or self._clock() >= self._token_expires - margin:
                self._fetch_token()
            return {"Authorization": f"Bearer {self.__token}"}

    def _renew_after_401(self) -> bool:
        with self._token_lock:
            self.__token = None
            self._fetch_token()
        return True

    def _fetch_token(self) -> None:
        self.token_fetches += 1
        response = self._token_http.request(
            "POST", self._token_url, authenticated=False,
            data={"grant_type": "client_credentials",
                  "client_id": self.__client_id.get_secret_value(),
                  "client_secret": self.__client_secret.get_secret_value()})
        body = _decode(response, "POST", "/v2/oauth2/token")
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise RetriableError("helpscout: the token endpoint answered without a token")
        try:
            lifetime = float(body.get("expires_in", 7200))
        except (TypeError, ValueError):
            lifetime = 7200.0
        self.__token = token
        self._token_expires = self._clock() + lifetime

    # -- Connector ------------------------------------------------------------------

    def ticket_url(self, ticket_id: str) -> str:
        return f"{UI_BASE}/{ticket_id}"

    def close(self) -> None:
        self._http.close()
        self._token_http.close()

    def poll(self, cursor: str | None, start_from: datetime) -> PollResult:
        state = _Cursor.load(cursor, start_from)
        settings = self._settings
        # Threads older than the overlap were emitted by earlier polls (or predate us).
        emit_from = max(state.floor, state.since - settings.message_overlap)
        first_request = self._http.log.total + self._token_http.log.total
        messages: list[Message] = []
        caught_up = False
        self._pages_read = 0
        try:
            try:
                caught_up = self._walk(state, emit_from, messages)
            except (KeyError, ValueError, TypeError, AttributeError) as exc:
                # A response of an unexpected shape: like a malformed body, try again later.
                raise RetriableError(f"helpscout: unexpected response shape "
                                     f"({type(exc).__name__})") from None
        except RetriableError:
            if not self._pages_read:
                raise  # nothing consumed: the caller polls again with the same cursor
            # Keep what was read: the cursor resumes the walk at the page it stopped on.
            log.info("poll_stopped_early", source=self.name, vendor="helpscout",
                     reason="retriable_error", pages_read=self._pages_read)
        return PollResult(
            messages=messages, next_cursor=state.dump(settings.message_overlap, self.MAX_SEEN),
            caught_up=caught_up,
            requests=self._http.log.total + self._token_http.log.total - first_request)

    def apply(self, ticket_id: str, change: TicketChange) -> None:
        if change.is_empty():
            return
        settings = self._settings
        conversation = self._get_conversation(ticket_id)
        current_tags = _tag_names(conversation)
        tags = merge_tags(current_tags, change.add_tags, change.remove_tags,
                          settings.own_tag_prefix)
        fields: list[dict[str, Any]] | None = None
        if change.priority is not None:
            if change.priority not in PRIORITIES:
                raise FatalError(f"helpscout: unknown priority {change.priority!r}")
            current = self._priority_of(conversation)
            if priority_rank(change.priority) > priority_rank(current):
                if settings.priority_mode == "tag":
                    # Lower priority tags stay (they are not ours); the highest one wins.
                    tag = f"{settings.priority_tag_prefix}{change.priority}"
                    if tag not in tags:
                        tags.append(tag)
                else:
                    fields = self._fields_with_priority(conversation, change.priority)
        path = f"/v2/conversations/{int(ticket_id)}"
        if fields is not None:
            self._write("PUT", f"{path}/fields", {"fields": fields})
        if tags != current_tags:
            self._write("PUT", f"{path}/tags", {"tags": tags})
        if change.note:
            self._write("POST", f"{path}/notes",
                        {"text": note_body(change.note, html_vendor=True)})

    # -- reading --------------------------------------------------------------------

    def _walk(self, state: _Cursor, emit_from: datetime, messages: list[Message]) -> bool:
        """Walk the changed conversations' pages from the cursor; True when caught up."""
        settings = self._settings
        me = self._user_me()
        emitted: set[str] = set(state.seen)
        rewalked = False
        for _ in range(settings.page_budget):
            if state.page is None:
                state.page, state.walk_start, state.walk_ids = 1, None, set()
            body, response = self._list_page(state.since, state.page)
            if state.walk_start is None:
                state.walk_start = self._server_time(response)
            for conversation in _embedded(body, "conversations"):
                new = [m for m in self._conversation_messages(conversation, emit_from, me)
                       if m.message_id not in emitted]
                for message in new:
                    emitted.add(message.message_id)
                    state.seen[message.message_id] = format_vendor_time(message.created_at)
                messages.extend(new)
                state.walk_ids.add(int(conversation["id"]))
            self._pages_read += 1
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
            return True
        return False

    def _list_page(self, since: datetime, page: int) -> tuple[Any, requests.Response]:
        # status=all: the default lists only active conversations.  Always modifiedSince.
        params: dict[str, Any] = {"status": "all", "modifiedSince": format_vendor_time(since),
                                  "sortField": "modifiedAt", "sortOrder": "asc", "page": page}
        if self._settings.embed_threads:
            params["embed"] = "threads"
        if self._settings.mailboxes:
            params["mailbox"] = ",".join(str(m) for m in self._settings.mailboxes)
        return self._get("/v2/conversations", params)

    def _conversation_messages(self, conversation: Mapping[str, Any], emit_from: datetime,
                               me: int | None) -> Iterator[Message]:
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
        except FatalError as exc:
            if exc.status in (301, 404):
                log.info("conversation_gone_while_read", source=self.name,
                         vendor="helpscout", ticket_id=snapshot.ticket_id)
                return
            raise
        for thread in sorted(threads, key=lambda t: (t["createdAt"], int(t["id"]))):
            created = parse_vendor_time(thread["createdAt"])
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
            yield Message(
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
        for page in range(1, self._settings.max_thread_pages + 1):
            body, _ = self._get(path, {"page": page})
            threads = [t for t in _embedded(body, "threads") if isinstance(t, dict)]
            yield from threads
            oldest = min((parse_vendor_time(t["createdAt"]) for t in threads), default=None)
            if not _has_next(body) or oldest is None or oldest < emit_from:
                return
        log.warning("thread_pages_capped", source=self.name, vendor="helpscout",
                    ticket_id=conversation_id)

    def _snapshot(self, conversation: Mapping[str, Any]) -> TicketSnapshot:
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
        return TicketSnapshot(
            ticket_id=conversation_id, subject=str(conversation.get("subject") or ""),
            url=self.ticket_url(conversation_id), status=conversation.get("status"),
            priority=self._priority_of(conversation), tags=tuple(_tag_names(conversation)),
            requester=requester, assignee=str(assigned) if assigned else None)

    def _priority_of(self, conversation: Mapping[str, Any]) -> str:
        """The conversation's priority; without a priority tag or field value, "normal"."""
        settings = self._settings
        if settings.priority_mode == "tag":
            found = [tag[len(settings.priority_tag_prefix):]
                     for tag in _tag_names(conversation)
                     if tag.startswith(settings.priority_tag_prefix)]
            ranked = [p for p in found if p in PRIORITIES]
            return max(ranked, key=priority_rank) if ranked else "normal"
        by_option = {str(option): name for name, option in settings.priority_options.items()}
        for custom in conversation.get("customFields") or []:
            if isinstance(custom, dict) and custom.get("id") == settings.priority_field_id:
                return by_option.get(str(custom.get("value")), "normal")
        return "normal"

    def _fields_with_priority(self, conversation: Mapping[str, Any],
                              priority: str) -> list[dict[str, Any]]:
        """Every custom field as it is, with the priority dropdown set: PUT replaces all."""
        settings = self._settings
        option = settings.priority_options.get(priority)  # type: ignore[call-overload]
        if option is None:
            raise FatalError(f"helpscout: no dropdown option configured for {priority!r}")
        fields = [{"id": custom["id"], "value": custom.get("value")}
                  for custom in conversation.get("customFields") or []
                  if isinstance(custom, dict) and custom.get("id") != settings.priority_field_id]
        fields.append({"id": settings.priority_field_id, "value": str(option)})
        return fields

    def _user_me(self) -> int | None:
        """The app's user id, to recognise our own notes.  Read once."""
        if self._me is None:
            body, _ = self._get("/v2/users/me", None)
            if isinstance(body, dict) and isinstance(body.get("id"), int):
                self._me = int(body["id"])
        return self._me

    def _get_conversation(self, conversation_id: str) -> dict[str, Any]:
        try:
            body, _ = self._get(f"/v2/conversations/{int(conversation_id)}", None)
        except FatalError as exc:
            if exc.status in (301, 404):
                raise TicketGoneError(f"helpscout: conversation {conversation_id} was merged "
                                      "or deleted", exc.status) from None
            raise
        if not isinstance(body, dict):
            raise RetriableError("helpscout: a conversation was not a JSON object")
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

    # -- HTTP -----------------------------------------------------------------------

    def _get(self, path: str, params: Mapping[str, Any] | None) -> tuple[Any, requests.Response]:
        response = self._http.request("GET", path, params=params)
        return _decode(response, "GET", path), response

    def _write(self, method: str, path: str, payload: Mapping[str, Any]) -> None:
        try:
            self._http.request(method, path, json=dict(payload))
        except FatalError as exc:
            if exc.status in (301, 404):
                raise TicketGoneError(f"helpscout: {method} {path} found no conversation",
                                      exc.status) from None
            raise


def _classify(thread: Mapping[str, Any]) -> tuple[AuthorRole, bool] | None:
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
        raise RetriableError("helpscout: a list response was not a JSON object")
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


def _tag_names(conversation: Mapping[str, Any]) -> list[str]:
    names: list[str] = []
    for tag in conversation.get("tags") or []:
        name = tag.get("tag") if isinstance(tag, dict) else tag
        if isinstance(name, str):
            names.append(name)
    return names


def _decode(response: requests.Response, method: str, path: str) -> Any:
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        where = urlsplit(path).path
        raise RetriableError(f"helpscout: {method} {where} returned a body that is not JSON") \
            from None


__all__ = ["HelpScoutConnector", "HelpScoutSettings"]
