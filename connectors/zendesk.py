"""Zendesk Support: new comments from the incremental ticket-event export, changes back.

Reading uses `GET /api/v2/incremental/ticket_events` with `include=comment_events`
(without the sideload Zendesk sends no comment text).  It is a time-based export: the
cursor is a start second plus the ids of the comments already returned from that second,
because Zendesk starts each page at the previous page's last second (so page and poll
boundaries repeat items) and never serves the most recent minute.  When a whole page
shares one second Zendesk would serve that same page forever; the connector then reads
that second's comments through the cursor-based ticket export and the tickets' comment
lists, and moves one second on.  Every incremental request spends a 10-a-minute budget
shared by all connectors of the account; a poll that finds it spent returns what it read
so far with a cursor that covers exactly that.  Authors' roles come from
`users/show_many` (cached), ticket snapshots from `tickets/show_many?include=users`.

Writing never clobbers: tags through the additive `PUT .../tags` (never the replacing
`POST`), removal only of the daemon's own tags through `DELETE .../tags`, priority only
raised (read first), and a private note through `PUT /tickets/{id}` last, so a retried
change does not post its note twice.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

import structlog
from pydantic import Field, SecretStr, model_validator

from connectors.base import (
    AuthorRole,
    FatalError,
    Message,
    PollResult,
    RetriableError,
    TicketChange,
    TicketGoneError,
    TicketSnapshot,
    priority_rank,
)
from connectors.http import HttpClient, RateBudget, RetryPolicy
from connectors.notetext import note_body
from connectors.settings import SourceSettings

log = structlog.get_logger(__name__)

EVENTS_PATH = "/api/v2/incremental/ticket_events.json"
TICKET_EXPORT_PATH = "/api/v2/incremental/tickets/cursor.json"
SUBDOMAIN_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
URL_TEMPLATE = "https://{subdomain}.zendesk.com"
LOOKUP_BATCH = 100  # users/show_many and tickets/show_many take at most 100 ids
_CURSOR_VERSION = 1


class ZendeskSettings(SourceSettings):
    """A Zendesk Support account.  Either `subdomain` or `base_url`; token or OAuth."""

    kind: Literal["zendesk"] = "zendesk"
    subdomain: str | None = Field(None, pattern=SUBDOMAIN_PATTERN)
    email: str | None = None
    api_token: SecretStr | None = None
    oauth_token: SecretStr | None = None
    #: Zendesk's default (`agent`) leaves out tickets handled by AI agents; a customer
    #: annoyed by a bot is exactly who we watch for, so we ask for `all` unless told.
    support_type_scope: Literal["all", "agent", "ai_agent"] = "all"
    incremental_per_minute: int = Field(10, ge=1, le=100)
    #: Export pages (up to 1,000 events each) per poll round: half the per-minute budget,
    #: and a bound on what one batch holds in memory.
    page_budget: int = Field(5, ge=1, le=1000)
    #: The export never serves the last minute; do not ask for it.
    min_age_seconds: int = Field(60, ge=0, le=3600)
    #: Only tags with this prefix are ever removed (the daemon's namespace).
    own_tag_prefix: str = Field("sentiment-", min_length=1)
    #: Events whose comments must be resolved through slower calls in one poll.
    stall_ticket_limit: int = Field(2000, ge=1, le=100_000)
    #: Requests one same-second stall recovery may send (ticket export pages and comment
    #: lists); past it the source stops loudly instead of flooding the account's API.
    stall_request_budget: int = Field(300, ge=1, le=100_000)

    @model_validator(mode="after")
    def _check_account_and_auth(self) -> ZendeskSettings:
        if (self.subdomain is None) == (self.base_url is None):
            raise ValueError("set exactly one of subdomain or base_url")
        if self.base_url is not None and not self.base_url.startswith(("https://", "http://")):
            raise ValueError("base_url must start with https:// (or http:// for a local test)")
        token_auth = self.email is not None or self.api_token is not None
        if token_auth and self.oauth_token is not None:
            raise ValueError("set either email and api_token, or oauth_token, not both")
        if self.oauth_token is None and (self.email is None or self.api_token is None):
            raise ValueError("set email and api_token (or oauth_token)")
        return self

    @property
    def api_url(self) -> str:
        if self.base_url is not None:
            return self.base_url.rstrip("/")
        return URL_TEMPLATE.format(subdomain=self.subdomain)

    def create(self) -> ZendeskConnector:
        return ZendeskConnector(self)


#: One incremental budget per account, shared by every connector pointed at it.
_BUDGETS: dict[tuple[str, int], RateBudget] = {}
_BUDGETS_LOCK = threading.Lock()


def incremental_budget(api_url: str, per_minute: int) -> RateBudget:
    with _BUDGETS_LOCK:
        key = (api_url, per_minute)
        if key not in _BUDGETS:
            _BUDGETS[key] = RateBudget(f"zendesk-incremental:{api_url}", per_minute, 60.0)
        return _BUDGETS[key]


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where the next poll starts: a second, and the comments already read from it."""

    start_time: int
    seen: frozenset[int] = frozenset()

    def dump(self) -> str:
        return json.dumps({"v": _CURSOR_VERSION, "start_time": self.start_time,
                           "seen": sorted(self.seen)}, separators=(",", ":"))

    @classmethod
    def load(cls, raw: str | None, start_from: datetime) -> Cursor:
        if raw is None:
            return cls(int(start_from.timestamp()))
        try:
            data = json.loads(raw)
            start_time = int(data["start_time"])
            seen = frozenset(int(item) for item in data.get("seen", ()))
        except (ValueError, TypeError, KeyError) as exc:
            raise FatalError("zendesk: the stored cursor is not a Zendesk cursor") from exc
        if data.get("v") != _CURSOR_VERSION:
            raise FatalError("zendesk: the stored cursor has an unknown version")
        return cls(start_time, seen)


@dataclass(frozen=True, slots=True)
class _User:
    role: str
    name: str


@dataclass(slots=True)
class _RawComment:
    comment_id: int
    ticket_id: int
    author_id: int | None
    public: bool
    created_at: datetime
    body: str
    event_second: int  # the export's timestamp of the event carrying the comment


class _PollStop(Exception):
    """Internal: stop reading and return what is complete (never escapes poll)."""


class ZendeskConnector:
    kind = "zendesk"

    def __init__(self, settings: ZendeskSettings, *, policy: RetryPolicy | None = None,
                 clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep,
                 budget: RateBudget | None = None) -> None:
        self.name = settings.name
        self.settings = settings
        self._clock = clock
        self._http = HttpClient(
            settings.api_url, vendor="zendesk", auth=self._auth_headers,
            policy=policy or RetryPolicy(read_timeout=settings.timeout,
                                         deadline=2 * settings.timeout),
            clock=clock, sleep=sleep)
        # Shared by every connector of the account unless a test hands in its own.
        self._budget = budget or incremental_budget(settings.api_url,
                                                    settings.incremental_per_minute)
        self._users: OrderedDict[int, _User] = OrderedDict()
        self._me: int | None = None
        # Snapshots read during the current poll: a ticket spanning pages is read once.
        self._poll_snapshots: dict[int, TicketSnapshot] = {}

    # -- plumbing ----------------------------------------------------------------------

    def _auth_headers(self) -> Mapping[str, str]:
        settings = self.settings
        if settings.oauth_token is not None:
            return {"Authorization": f"Bearer {settings.oauth_token.get_secret_value()}"}
        assert settings.api_token is not None
        raw = f"{settings.email}/token:{settings.api_token.get_secret_value()}"
        return {"Authorization": "Basic " + base64.b64encode(raw.encode()).decode()}

    def ticket_url(self, ticket_id: str) -> str:
        return f"{self.settings.api_url}/agent/tickets/{ticket_id}"

    def close(self) -> None:
        self._http.close()

    @property
    def http(self) -> HttpClient:
        return self._http

    # -- reading -----------------------------------------------------------------------

    def poll(self, cursor: str | None, start_from: datetime) -> PollResult:
        state = Cursor.load(cursor, start_from)
        before = self._http.log.total
        self._poll_snapshots = {}
        messages: list[Message] = []
        committed = state  # the cursor that covers exactly `messages`
        caught_up = False
        pages = 0
        while pages < self.settings.page_budget:
            start, seen = committed.start_time, set(committed.seen)
            if start > int(self._clock()) - self.settings.min_age_seconds:
                caught_up = True  # nothing older than a minute is left to ask for
                break
            if self._budget.wait_needed() > 0:
                # Not an error: return what is complete; the next poll goes on from here.
                # With nothing read, polling again straight away is pointless: say so.
                log.info("zendesk.incremental_budget_spent", source=self.name, pages=pages)
                caught_up = pages == 0
                break
            try:
                try:
                    comments, end_time, end_of_stream = self._events_page(start)
                    pages += 1
                    page_messages = self._messages([c for c in comments
                                                    if c.comment_id not in seen])
                    ceiling = max(start, int(self._clock()) - self.settings.min_age_seconds)
                    if end_time > ceiling:
                        # The vendor cannot have served anything newer than now minus its
                        # floor: a later end_time (a broken proxy, a clock gone wrong)
                        # would stop this source for as long.  Stay at the ceiling and
                        # read again from there next time (repeats are dropped as known).
                        # A few seconds are clock skew; minutes are a broken answer.
                        report = log.warning if end_time - ceiling > 300 else log.debug
                        report("zendesk.end_time_in_future", source=self.name,
                               end_time=end_time, ceiling=ceiling)
                        later = {c.comment_id for c in comments if c.event_second >= ceiling}
                        kept = seen if ceiling == start else set()
                        next_cursor = Cursor(ceiling, frozenset(kept | later))
                        end_of_stream = True  # nothing more to ask for in this poll
                    elif end_time == start and not end_of_stream:
                        # A full page of one second: Zendesk would serve it again forever.
                        log.warning("zendesk.same_second_stall", source=self.name,
                                    second=start, page_items=len(comments))
                        known = seen | {c.comment_id for c in comments}
                        page_messages += self._messages(self._recover_second(start, known))
                        next_cursor = Cursor(start + 1)
                    else:
                        at_end = {c.comment_id for c in comments if c.event_second == end_time}
                        next_cursor = (Cursor(start, frozenset(seen | at_end)) if end_time == start
                                       else Cursor(end_time, frozenset(at_end)))
                except (KeyError, TypeError, ValueError, AttributeError) as shape:
                    # A vendor body of the wrong shape is a failed read, not a crash.
                    raise RetriableError("zendesk: unexpected response shape "
                                         f"({type(shape).__name__})") from None
            except (RetriableError, _PollStop) as exc:
                if isinstance(exc, RetriableError) and not messages and committed == state:
                    raise  # nothing read: the caller polls again with the same cursor
                # A later page failed: what was read before it is complete and returned.
                log.info("zendesk.poll_cut_short", source=self.name, pages=pages,
                         reason=type(exc).__name__)
                break
            messages.extend(page_messages)
            committed = next_cursor
            if end_of_stream:
                caught_up = True
                break
        return PollResult(messages=messages, next_cursor=committed.dump(),
                          caught_up=caught_up, requests=self._http.log.total - before)

    def _events_page(self, start: int) -> tuple[list[_RawComment], int, bool]:
        params = {"start_time": start, "include": "comment_events",
                  "support_type_scope": self.settings.support_type_scope}
        body = self._http.get_json(EVENTS_PATH, params=params, budgets=(self._budget,))
        if not isinstance(body, dict) or not isinstance(body.get("ticket_events"), list):
            raise RetriableError("zendesk: ticket_events answered an unexpected shape")
        comments: list[_RawComment] = []
        for event in body["ticket_events"]:
            if not isinstance(event, dict):
                continue
            for child in event.get("child_events") or ():
                if isinstance(child, dict) and child.get("event_type") == "Comment":
                    comment = _comment_from_event(event, child)
                    if comment is not None:
                        comments.append(comment)
        try:
            end_time = int(body.get("end_time") or start)
        except (TypeError, ValueError):
            raise RetriableError("zendesk: ticket_events answered a bad end_time") from None
        if end_time < start:
            end_time = start  # a cursor only moves forward
        return comments, end_time, bool(body.get("end_of_stream"))

    def _recover_second(self, second: int, known: set[int]) -> list[_RawComment]:
        """Every comment created in `second` that is not in `known`, read the slow way.

        The tickets changed since `second` come from the cursor-based ticket export
        (no same-second stall there); their comment lists give that second's comments.
        A spent budget or a failure stops the poll before the stalled second.
        """
        ticket_ids: list[int] = []
        params: dict[str, Any] = {"start_time": second,
                                  "support_type_scope": self.settings.support_type_scope}
        spent = 0

        def spend(requests: int = 1) -> None:
            nonlocal spent
            if spent + requests > self.settings.stall_request_budget:
                log.error("zendesk.stall_budget_spent", source=self.name, second=second,
                          budget=self.settings.stall_request_budget)
                raise FatalError(
                    f"zendesk: reading the comments of stalled second {second} needs more "
                    f"than stall_request_budget ({self.settings.stall_request_budget}) "
                    "requests; raise it to read them (nothing was skipped)")
            spent += requests

        for _ in range(self.settings.page_budget):
            if self._budget.wait_needed() > 0:
                raise _PollStop
            spend()
            body = self._http.get_json(TICKET_EXPORT_PATH, params=params,
                                       budgets=(self._budget,))
            if not isinstance(body, dict):
                raise RetriableError("zendesk: ticket export answered an unexpected shape")
            ticket_ids.extend(int(t["id"]) for t in body.get("tickets") or ()
                              if isinstance(t, dict) and "id" in t)
            if body.get("end_of_stream") or not body.get("after_cursor"):
                break
            params = {"cursor": body["after_cursor"]}
        else:
            raise _PollStop
        if len(ticket_ids) > self.settings.stall_ticket_limit:
            raise FatalError("zendesk: too many tickets changed since a stalled second; "
                             "raise stall_ticket_limit")
        unique = list(dict.fromkeys(ticket_ids))
        if spent + len(unique) > self.settings.stall_request_budget:
            spend(len(unique))  # at least one request a ticket: refuse before sending any
        found: list[_RawComment] = []
        for ticket_id in unique:
            path: str | None = f"/api/v2/tickets/{ticket_id}/comments.json"
            for _ in range(60):  # 100 a page: 6,000 > the 5,000-comment cap
                if path is None:
                    break
                spend()
                try:
                    body = self._http.get_json(path)
                except FatalError as exc:
                    if exc.status == 404:
                        break  # deleted since; nothing to read
                    raise
                for raw in (body or {}).get("comments") or ():
                    created = _parse_time(raw.get("created_at"))
                    if (created is not None and int(created.timestamp()) == second
                            and int(raw["id"]) not in known):
                        found.append(_RawComment(int(raw["id"]), ticket_id,
                                                 _int_or_none(raw.get("author_id")),
                                                 bool(raw.get("public")), created,
                                                 str(raw.get("body") or ""), second))
                path = _same_origin_next(body, self.settings.api_url)
        return found

    def _messages(self, comments: Sequence[_RawComment]) -> list[Message]:
        if not comments:
            return []
        me = self._whoami()
        wanted = {c.ticket_id for c in comments}
        self._poll_snapshots.update(self._snapshots(wanted - set(self._poll_snapshots)))
        snapshots = self._poll_snapshots
        self._load_users({c.author_id for c in comments if c.author_id is not None})
        out = []
        for comment in comments:
            user = self._users.get(comment.author_id) if comment.author_id else None
            role: AuthorRole
            if user is None:
                role = "system"
            elif user.role == "end-user":
                role = "customer"
            else:
                role = "agent"
            ticket_id = str(comment.ticket_id)
            out.append(Message(
                message_id=str(comment.comment_id), ticket_id=ticket_id, author_role=role,
                public=comment.public, created_at=comment.created_at, body=comment.body,
                ticket=snapshots.get(comment.ticket_id) or TicketSnapshot(
                    ticket_id=ticket_id, url=self.ticket_url(ticket_id), status="deleted"),
                author_id=None if comment.author_id is None else str(comment.author_id),
                author_name=user.name if user else None,
                own_note=comment.author_id == me and not comment.public))
        return out

    def _whoami(self) -> int:
        if self._me is None:
            body = self._http.get_json("/api/v2/users/me.json")
            user = body.get("user") if isinstance(body, dict) else None
            me = _int_or_none(user.get("id")) if isinstance(user, dict) else None
            if me is None:
                raise RetriableError("zendesk: users/me answered an unexpected shape")
            self._me = me
        return self._me

    def _snapshots(self, ticket_ids: Iterable[int]) -> dict[int, TicketSnapshot]:
        snapshots: dict[int, TicketSnapshot] = {}
        tickets: list[dict[str, Any]] = []
        for batch in _batches(sorted(ticket_ids)):
            body = self._http.get_json("/api/v2/tickets/show_many.json",
                                       params={"ids": ",".join(map(str, batch)),
                                               "include": "users"})
            tickets.extend(t for t in body.get("tickets") or () if isinstance(t, dict))
            self._remember_users(body.get("users") or ())
        self._load_users({_int_or_none(t.get("requester_id")) or 0 for t in tickets} - {0})
        for ticket in tickets:
            ticket_id = int(ticket["id"])
            requester = self._users.get(_int_or_none(ticket.get("requester_id")) or 0)
            assignee_id = _int_or_none(ticket.get("assignee_id"))
            assignee = self._users.get(assignee_id or 0)  # sideloaded with the ticket
            group_id = _int_or_none(ticket.get("group_id"))
            priority = ticket.get("priority")
            snapshots[ticket_id] = TicketSnapshot(
                ticket_id=str(ticket_id), subject=str(ticket.get("subject") or ""),
                url=self.ticket_url(str(ticket_id)), status=ticket.get("status"),
                priority=priority if priority_rank(priority) >= 0 else None,
                tags=tuple(ticket.get("tags") or ()),
                requester=requester.name if requester else None,
                assignee=(assignee.name if assignee and assignee.name else
                          f"agent #{assignee_id}" if assignee_id else None),
                group=f"group #{group_id}" if group_id else None)
        return snapshots

    def _load_users(self, user_ids: Iterable[int]) -> None:
        missing = sorted(set(user_ids) - set(self._users))
        for batch in _batches(missing):
            body = self._http.get_json("/api/v2/users/show_many.json",
                                       params={"ids": ",".join(map(str, batch))})
            self._remember_users(body.get("users") or ())

    def _remember_users(self, users: Iterable[Any]) -> None:
        for user in users:
            if isinstance(user, dict) and "id" in user:
                self._users[int(user["id"])] = _User(str(user.get("role") or ""),
                                                     str(user.get("name") or ""))
                self._users.move_to_end(int(user["id"]))
        while len(self._users) > 50_000:  # bounded cache; roles rarely change
            self._users.popitem(last=False)

    # -- writing -----------------------------------------------------------------------

    def apply(self, ticket_id: str, change: TicketChange) -> None:
        if not ticket_id.isdigit():
            raise FatalError("zendesk: a ticket id is a number")
        path = f"/api/v2/tickets/{ticket_id}.json"
        ticket = self._read_ticket(path)
        current_tags = set(ticket.get("tags") or ())
        tags_path = f"/api/v2/tickets/{ticket_id}/tags.json"
        add = [tag for tag in change.add_tags if tag not in current_tags]
        if add:
            self._write(self._http.request_json, "PUT", tags_path, {"tags": add})
        refused = [t for t in change.remove_tags if not t.startswith(self.settings.own_tag_prefix)]
        if refused:
            log.warning("zendesk.tag_removal_refused", source=self.name, ticket_id=ticket_id,
                        tags=refused, own_tag_prefix=self.settings.own_tag_prefix)
        remove = [t for t in change.remove_tags
                  if t.startswith(self.settings.own_tag_prefix) and t in current_tags]
        if remove:
            self._write(self._http.request_json, "DELETE", tags_path, {"tags": remove})
        update: dict[str, Any] = {}
        if change.priority and priority_rank(change.priority) > priority_rank(
                ticket.get("priority")):
            update["priority"] = change.priority
        if change.note:
            # `body` is plain text in Zendesk (html_body would be HTML).
            update["comment"] = {"body": note_body(change.note, html_vendor=False),
                                 "public": False}
        if not update:
            return
        try:
            self._write(self._http.request_json, "PUT", path, {"ticket": update})
        except FatalError as exc:
            if exc.status != 422 or "comment" not in update:
                raise
            self._read_ticket(path)  # merged or closed meanwhile: TicketGoneError
            if "priority" in update:
                self._write(self._http.request_json, "PUT", path,
                            {"ticket": {"priority": update["priority"]}})
            raise FatalError("zendesk: the ticket refused a new comment (5,000-comment cap?); "
                             "tags and priority were applied, the note was not", 422) from None

    def _read_ticket(self, path: str) -> dict[str, Any]:
        try:
            body = self._http.get_json(path)
        except FatalError as exc:
            if exc.status == 404:
                raise TicketGoneError("zendesk: the ticket was deleted", 404) from None
            raise
        ticket = body.get("ticket") if isinstance(body, dict) else None
        if not isinstance(ticket, dict):
            raise RetriableError("zendesk: a ticket read answered an unexpected shape")
        if ticket.get("status") == "closed":
            # Closed tickets (merged ones included) refuse every update.
            raise TicketGoneError("zendesk: the ticket is closed or merged", 422)
        return ticket

    def _write(self, send: Callable[..., Any], method: str, path: str,
               payload: dict[str, Any]) -> None:
        try:
            send(method, path, json=payload)
        except FatalError as exc:
            if exc.status == 404:
                raise TicketGoneError("zendesk: the ticket was deleted", 404) from None
            raise


def _same_origin_next(body: Any, api_url: str) -> str | None:
    """The next page of a cursor-paginated list, only ever on our own account's host.

    Credentials go with every request, so a `links.next` pointing elsewhere is
    reduced to its path and query on our host rather than followed.
    """
    if not isinstance(body, dict) or not (body.get("meta") or {}).get("has_more"):
        return None
    link = (body.get("links") or {}).get("next")
    if not isinstance(link, str) or not link:
        return None
    parts = urlsplit(link)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return path if path.startswith("/api/v2/") else None


def _batches(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    for offset in range(0, len(ids), LOOKUP_BATCH):
        yield ids[offset: offset + LOOKUP_BATCH]


def _int_or_none(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _comment_from_event(event: Mapping[str, Any], child: Mapping[str, Any]) -> _RawComment | None:
    comment_id = _int_or_none(child.get("id"))
    ticket_id = _int_or_none(event.get("ticket_id"))
    if comment_id is None or ticket_id is None:
        return None
    if "body" not in child:
        raise FatalError("zendesk: comment events came without text (include=comment_events "
                         "was not honoured)")
    second = _int_or_none(event.get("timestamp")) or 0
    created = _parse_time(child.get("created_at")) or datetime.fromtimestamp(second, UTC)
    return _RawComment(comment_id, ticket_id, _int_or_none(child.get("author_id")),
                       bool(child.get("public")), created, str(child.get("body") or ""),
                       second)
