"""Zendesk Support: new comments from the incremental ticket-event export, changes back.

Reading walks `GET /api/v2/incremental/ticket_events` (`connectors.zendesk_export` knows
its cursor, its repeated seconds and its same-second stall).  Every incremental request
spends a 10-a-minute budget shared by all connectors of the account; a poll that finds
it spent returns what it read so far with a cursor that covers exactly that.  Authors' roles come from
`users/show_many` (cached), ticket snapshots from `tickets/show_many?include=users`.

Writing never clobbers: tags through the additive `PUT .../tags` (never the replacing
`POST`), removal only of the daemon's own tags through `DELETE .../tags`, priority only
raised (read first), and a private note through `PUT /tickets/{id}` last, so a retried
change does not post its note twice.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import structlog
from pydantic import Field, SecretStr, model_validator

from connectors import base
from connectors.http import HttpClient, RateBudget, RetryPolicy
from connectors.notetext import note_body
from connectors.rest import Batch, RestConnector, basic_authorization, decode_json
from connectors.settings import DNS_LABEL, SourceSettings
from connectors.zendesk_export import (
    Cursor,
    ExportReader,
    RawComment,
    incremental_budget,
    int_or_none,
)

__all__ = ["Cursor", "ZendeskConnector", "ZendeskSettings"]

log = structlog.get_logger(__name__)

URL_TEMPLATE = "https://{subdomain}.zendesk.com"
LOOKUP_BATCH = 100  # users/show_many and tickets/show_many take at most 100 ids


class ZendeskSettings(SourceSettings):
    """A Zendesk Support account.  Either `subdomain` or `base_url`; token or OAuth."""

    kind: Literal["zendesk"] = "zendesk"
    subdomain: str | None = Field(None, pattern=DNS_LABEL)
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


@dataclass(frozen=True, slots=True)
class _User:
    role: str
    name: str


@dataclass(slots=True)
class _Position:
    """The cursor that covers exactly the messages a poll has read so far."""

    cursor: Cursor


class ZendeskConnector(RestConnector[_Position]):
    kind = "zendesk"
    _settings: ZendeskSettings

    def __init__(self, settings: ZendeskSettings, *, policy: RetryPolicy | None = None,
                 clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep,
                 budget: RateBudget | None = None) -> None:
        if settings.oauth_token is not None:
            authorization = f"Bearer {settings.oauth_token.get_secret_value()}"
        else:
            assert settings.api_token is not None
            authorization = basic_authorization(f"{settings.email}/token",
                                                settings.api_token.get_secret_value())
        super().__init__(settings, settings.api_url, authorization=authorization,
                         policy=policy, clock=clock, sleep=sleep)
        # Shared by every connector of the account unless a test hands in its own.
        self._export = ExportReader(
            self._http, budget or incremental_budget(settings.api_url,
                                                     settings.incremental_per_minute),
            source=self.name, api_url=settings.api_url, scope=settings.support_type_scope,
            page_budget=settings.page_budget, stall_ticket_limit=settings.stall_ticket_limit,
            stall_request_budget=settings.stall_request_budget)
        self._users: OrderedDict[int, _User] = OrderedDict()
        self._me: int | None = None
        # Snapshots read during the current poll: a ticket spanning pages is read once.
        self._poll_snapshots: dict[int, base.TicketSnapshot] = {}

    @property
    def settings(self) -> ZendeskSettings:
        return self._settings

    @property
    def http(self) -> HttpClient:
        return self._http

    def ticket_url(self, ticket_id: str) -> str:
        return f"{self._settings.api_url}/agent/tickets/{ticket_id}"

    # -- reading -----------------------------------------------------------------------

    def _load_cursor(self, raw: str | None, start_from: datetime) -> _Position:
        return _Position(Cursor.load(raw, start_from))

    def _dump_cursor(self, state: _Position) -> str:
        return state.cursor.dump()

    def _read(self, state: _Position, batch: Batch) -> None:
        """Export pages from the cursor on, each one committed whole."""
        self._poll_snapshots = {}
        for pages in range(self._settings.page_budget):
            if state.cursor.start_time > int(self._clock()) - self._settings.min_age_seconds:
                batch.caught_up = True  # nothing older than a minute is left to ask for
                return
            if self._export.budget.wait_needed() > 0:
                # Not an error: return what is complete; the next poll goes on from here.
                # With nothing read, polling again straight away is pointless: say so.
                log.info("zendesk.incremental_budget_spent", source=self.name, pages=pages)
                batch.caught_up = pages == 0
                return
            messages, next_cursor, end_of_stream = self._read_page(state.cursor)
            if messages or next_cursor != state.cursor:
                batch.progress += 1
            batch.messages.extend(messages)
            state.cursor = next_cursor
            if end_of_stream:
                batch.caught_up = True
                return

    def _read_page(self, cursor: Cursor) -> tuple[list[base.Message], Cursor, bool]:
        """One export page from `cursor`: its new messages, the cursor after it, and
        whether the export has nothing more to give in this poll."""
        start, seen = cursor.start_time, set(cursor.seen)
        page = self._export.events_page(start)
        messages = self._messages([c for c in page.comments if c.comment_id not in seen])
        ceiling = max(start, int(self._clock()) - self._settings.min_age_seconds)
        if page.end_time > ceiling:
            # The vendor cannot have served anything newer than now minus its floor: a
            # later end_time (a broken proxy, a clock gone wrong) would stop this source
            # for as long.  Stay at the ceiling and read again from there next time
            # (repeats are dropped as known).  Seconds are clock skew; minutes are broken.
            report = log.warning if page.end_time - ceiling > 300 else log.debug
            report("zendesk.end_time_in_future", source=self.name,
                   end_time=page.end_time, ceiling=ceiling)
            later = {c.comment_id for c in page.comments if c.event_second >= ceiling}
            kept = seen if ceiling == start else set()
            return messages, Cursor(ceiling, frozenset(kept | later)), True
        if page.end_time == start and not page.end_of_stream:
            # A full page of one second: Zendesk would serve it again forever.
            log.warning("zendesk.same_second_stall", source=self.name,
                        second=start, page_items=len(page.comments))
            known = seen | {c.comment_id for c in page.comments}
            messages += self._messages(self._export.recover_second(start, known))
            return messages, Cursor(start + 1), False
        at_end = {c.comment_id for c in page.comments if c.event_second == page.end_time}
        if page.end_time == start:
            return messages, Cursor(start, frozenset(seen | at_end)), page.end_of_stream
        return messages, Cursor(page.end_time, frozenset(at_end)), page.end_of_stream

    def _messages(self, comments: Sequence[RawComment]) -> list[base.Message]:
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
            role: base.AuthorRole
            if user is None:
                role = "system"
            elif user.role == "end-user":
                role = "customer"
            else:
                role = "agent"
            ticket_id = str(comment.ticket_id)
            out.append(base.Message(
                message_id=str(comment.comment_id), ticket_id=ticket_id, author_role=role,
                public=comment.public, created_at=comment.created_at, body=comment.body,
                ticket=snapshots.get(comment.ticket_id) or base.TicketSnapshot(
                    ticket_id=ticket_id, url=self.ticket_url(ticket_id), status="deleted"),
                author_id=None if comment.author_id is None else str(comment.author_id),
                author_name=user.name if user else None,
                own_note=comment.author_id == me and not comment.public))
        return out

    def _whoami(self) -> int:
        if self._me is None:
            body = self._http.get_json("/api/v2/users/me.json")
            user = body.get("user") if isinstance(body, dict) else None
            me = int_or_none(user.get("id")) if isinstance(user, dict) else None
            if me is None:
                raise base.RetriableError("zendesk: users/me answered an unexpected shape")
            self._me = me
        return self._me

    def _snapshots(self, ticket_ids: Iterable[int]) -> dict[int, base.TicketSnapshot]:
        snapshots: dict[int, base.TicketSnapshot] = {}
        tickets: list[dict[str, Any]] = []
        for batch in _batches(sorted(ticket_ids)):
            body = self._http.get_json("/api/v2/tickets/show_many.json",
                                       params={"ids": ",".join(map(str, batch)),
                                               "include": "users"})
            tickets.extend(t for t in body.get("tickets") or () if isinstance(t, dict))
            self._remember_users(body.get("users") or ())
        self._load_users({int_or_none(t.get("requester_id")) or 0 for t in tickets} - {0})
        for ticket in tickets:
            ticket_id = int(ticket["id"])
            requester = self._users.get(int_or_none(ticket.get("requester_id")) or 0)
            assignee_id = int_or_none(ticket.get("assignee_id"))
            assignee = self._users.get(assignee_id or 0)  # sideloaded with the ticket
            group_id = int_or_none(ticket.get("group_id"))
            priority = ticket.get("priority")
            snapshots[ticket_id] = base.TicketSnapshot(
                ticket_id=str(ticket_id), subject=str(ticket.get("subject") or ""),
                url=self.ticket_url(str(ticket_id)), status=ticket.get("status"),
                priority=priority if base.priority_rank(priority) >= 0 else None,
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

    def _change(self, ticket_id: str, change: base.TicketChange) -> None:
        if not ticket_id.isdigit():
            raise base.FatalError("zendesk: a ticket id is a number")
        path = f"/api/v2/tickets/{ticket_id}.json"
        ticket = self._read_ticket(path)
        current_tags = set(ticket.get("tags") or ())
        tags_path = f"/api/v2/tickets/{ticket_id}/tags.json"
        add = [tag for tag in change.add_tags if tag not in current_tags]
        if add:
            self._send("PUT", tags_path, {"tags": add})
        refused = [t for t in change.remove_tags if not t.startswith(self._settings.own_tag_prefix)]
        if refused:
            log.warning("zendesk.tag_removal_refused", source=self.name, ticket_id=ticket_id,
                        tags=refused, own_tag_prefix=self._settings.own_tag_prefix)
        remove = [t for t in change.remove_tags
                  if t.startswith(self._settings.own_tag_prefix) and t in current_tags]
        if remove:
            self._send("DELETE", tags_path, {"tags": remove})
        update: dict[str, Any] = {}
        if change.priority and base.priority_rank(change.priority) > base.priority_rank(
                ticket.get("priority")):
            update["priority"] = change.priority
        if change.note:
            # `body` is plain text in Zendesk (html_body would be HTML).
            update["comment"] = {"body": note_body(change.note, html_vendor=False),
                                 "public": False}
        if not update:
            return
        try:
            self._send("PUT", path, {"ticket": update})
        except base.FatalError as exc:
            if exc.status != 422 or "comment" not in update:
                raise
            self._read_ticket(path)  # merged or closed meanwhile: TicketGoneError
            if "priority" in update:
                self._send("PUT", path,
                            {"ticket": {"priority": update["priority"]}})
            raise base.FatalError("zendesk: the ticket refused a new comment (5,000-comment cap?); "
                             "tags and priority were applied, the note was not", 422) from None

    def _read_ticket(self, path: str) -> dict[str, Any]:
        with self._gone("the ticket"):
            body = self._http.get_json(path)
        ticket = body.get("ticket") if isinstance(body, dict) else None
        if not isinstance(ticket, dict):
            raise base.RetriableError("zendesk: a ticket read answered an unexpected shape")
        if ticket.get("status") == "closed":
            # Closed tickets (merged ones included) refuse every update.
            raise base.TicketGoneError("zendesk: the ticket is closed or merged", 422)
        return ticket

    def _send(self, method: str, path: str, payload: dict[str, Any]) -> None:
        """A write; Zendesk answers every one with JSON, anything else is retried."""
        decode_json(self._write(method, path, payload), self.kind, method, path)


def _batches(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    for offset in range(0, len(ids), LOOKUP_BATCH):
        yield ids[offset: offset + LOOKUP_BATCH]
