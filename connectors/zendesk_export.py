"""Reading Zendesk's incremental ticket-event export correctly: pages, cursor, stalls.

`GET /api/v2/incremental/ticket_events` with `include=comment_events` (without the
sideload Zendesk sends no comment text) is a time-based export: the cursor is a start
second plus the ids of the comments already returned from that second, because Zendesk
starts each page at the previous page's last second (so page and poll boundaries repeat
items) and never serves the most recent minute.  When a whole page shares one second
Zendesk would serve that same page forever; `ExportReader.recover_second` then reads that
second's comments through the cursor-based ticket export and the tickets' comment lists,
so the cursor can move one second on.  Every incremental request spends a 10-a-minute
budget shared by all connectors of the account (`incremental_budget`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import structlog

from connectors.base import FatalError, RetriableError
from connectors.http import HttpClient, RateBudget
from connectors.rest import StopPoll

log = structlog.get_logger(__name__)

EVENTS_PATH = "/api/v2/incremental/ticket_events.json"
TICKET_EXPORT_PATH = "/api/v2/incremental/tickets/cursor.json"
COMMENT_PAGES = 60  # 100 comments a page: 6,000 > the 5,000-comment cap of a ticket
_CURSOR_VERSION = 1

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


@dataclass(slots=True)
class RawComment:
    comment_id: int
    ticket_id: int
    author_id: int | None
    public: bool
    created_at: datetime
    body: str
    event_second: int  # the export's timestamp of the event carrying the comment


@dataclass(frozen=True, slots=True)
class EventsPage:
    comments: list[RawComment]
    end_time: int  # never before the page's start: a cursor only moves forward
    end_of_stream: bool


class _StallBudget:
    """The requests one same-second recovery may still send; past it, a loud stop."""

    def __init__(self, source: str, second: int, limit: int) -> None:
        self.source, self.second, self.limit, self.spent = source, second, limit, 0

    def spend(self, requests: int = 1) -> None:
        if self.spent + requests > self.limit:
            log.error("zendesk.stall_budget_spent", source=self.source, second=self.second,
                      budget=self.limit)
            raise FatalError(
                f"zendesk: reading the comments of stalled second {self.second} needs more "
                f"than stall_request_budget ({self.limit}) requests; raise it to read them "
                "(nothing was skipped)")
        self.spent += requests


class ExportReader:
    """The export's pages, and the slow path around a second Zendesk would repeat."""

    def __init__(self, http: HttpClient, budget: RateBudget, *, source: str, api_url: str,
                 scope: str, page_budget: int, stall_ticket_limit: int,
                 stall_request_budget: int) -> None:
        self._http, self.budget = http, budget
        self._source, self._api_url, self._scope = source, api_url, scope
        self._page_budget = page_budget
        self._stall_ticket_limit = stall_ticket_limit
        self._stall_request_budget = stall_request_budget

    def events_page(self, start: int) -> EventsPage:
        params = {"start_time": start, "include": "comment_events",
                  "support_type_scope": self._scope}
        body = self._http.get_json(EVENTS_PATH, params=params, budgets=(self.budget,))
        if not isinstance(body, dict) or not isinstance(body.get("ticket_events"), list):
            raise RetriableError("zendesk: ticket_events answered an unexpected shape")
        comments: list[RawComment] = []
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
        return EventsPage(comments, max(end_time, start), bool(body.get("end_of_stream")))

    def recover_second(self, second: int, known: set[int]) -> list[RawComment]:
        """Every comment created in `second` that is not in `known`, read the slow way.

        The tickets changed since `second` come from the cursor-based ticket export
        (no same-second stall there); their comment lists give that second's comments.
        A spent budget or a failure stops the poll before the stalled second.
        """
        stall = _StallBudget(self._source, second, self._stall_request_budget)
        ticket_ids = self._changed_tickets(second, stall)
        if len(ticket_ids) > self._stall_ticket_limit:
            raise FatalError("zendesk: too many tickets changed since a stalled second; "
                             "raise stall_ticket_limit")
        unique = list(dict.fromkeys(ticket_ids))
        if stall.spent + len(unique) > stall.limit:
            stall.spend(len(unique))  # at least one request a ticket: refuse before sending any
        found: list[RawComment] = []
        for ticket_id in unique:
            found.extend(self._comments_of_second(ticket_id, second, known, stall))
        return found

    def _changed_tickets(self, second: int, stall: _StallBudget) -> list[int]:
        """The ids the ticket export lists from `second` on (all its pages, or StopPoll)."""
        ticket_ids: list[int] = []
        params: dict[str, Any] = {"start_time": second, "support_type_scope": self._scope}
        for _ in range(self._page_budget):
            if self.budget.wait_needed() > 0:
                raise StopPoll
            stall.spend()
            body = self._http.get_json(TICKET_EXPORT_PATH, params=params, budgets=(self.budget,))
            if not isinstance(body, dict):
                raise RetriableError("zendesk: ticket export answered an unexpected shape")
            ticket_ids.extend(int(t["id"]) for t in body.get("tickets") or ()
                              if isinstance(t, dict) and "id" in t)
            if body.get("end_of_stream") or not body.get("after_cursor"):
                return ticket_ids
            params = {"cursor": body["after_cursor"]}
        raise StopPoll

    def _comments_of_second(self, ticket_id: int, second: int, known: set[int],
                            stall: _StallBudget) -> list[RawComment]:
        found: list[RawComment] = []
        path: str | None = f"/api/v2/tickets/{ticket_id}/comments.json"
        for _ in range(COMMENT_PAGES):
            if path is None:
                break
            stall.spend()
            try:
                body = self._http.get_json(path)
            except FatalError as exc:
                if exc.status == 404:
                    break  # deleted since; nothing to read
                raise
            for raw in (body or {}).get("comments") or ():
                created = parse_time(raw.get("created_at"))
                if (created is not None and int(created.timestamp()) == second
                        and int(raw["id"]) not in known):
                    found.append(RawComment(int(raw["id"]), ticket_id,
                                            int_or_none(raw.get("author_id")),
                                            bool(raw.get("public")), created,
                                            str(raw.get("body") or ""), second))
            path = _same_origin_next(body, self._api_url)
        return found


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


def int_or_none(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _comment_from_event(event: Mapping[str, Any], child: Mapping[str, Any]) -> RawComment | None:
    comment_id = int_or_none(child.get("id"))
    ticket_id = int_or_none(event.get("ticket_id"))
    if comment_id is None or ticket_id is None:
        return None
    if "body" not in child:
        raise FatalError("zendesk: comment events came without text (include=comment_events "
                         "was not honoured)")
    second = int_or_none(event.get("timestamp")) or 0
    created = parse_time(child.get("created_at")) or datetime.fromtimestamp(second, UTC)
    return RawComment(comment_id, ticket_id, int_or_none(child.get("author_id")),
                      bool(child.get("public")), created, str(child.get("body") or ""),
                      second)
