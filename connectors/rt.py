"""Request Tracker (RT 5, REST 2.0) connector: new transactions, their text, write-back.

A poll reads the ticket transactions that can carry a message (`Create`, `Correspond`,
`Comment`) through TransactionSQL, oldest id first, 100 a page: `GET /REST/2.0/
transactions?query=ObjectType = 'RT::Ticket' AND (Type = …) AND (id > <last id> OR
Created >= '<watermark - overlap>') [AND TicketQueue = …]` with the author expanded
(`fields[Creator]`); a walk cut short by the page budget goes on at its next page in the
next poll.  The text of a page's new transactions comes from one attachment search
(`/attachments`, JSON query `TransactionId IN (…)`, text parts only) and their tickets
from one TicketSQL search by id (subject, status, priority, requestors, custom fields).
The author of a `Create` or `Correspond` is the customer when a requestor of the ticket
or an unprivileged user (one cached `GET /user/{name}` per other author: staff, mostly);
a `Comment` is internal, and the daemon's own when its user wrote it.
Write-back reads the ticket, raises the numeric priority (mapped through `priorities`),
read-merge-writes the tags custom field in one `PUT`, and posts the note as a comment,
which RT never mails to requestors.  Behaviour shared with the other REST vendors
(cursor window, tag merge, gone tickets, shape errors) lives in `connectors.rest`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote

import requests
from pydantic import Field, SecretStr, model_validator

from connectors import base
from connectors.cursors import OverlapCursor
from connectors.http import Clock, RetryPolicy, Sleep
from connectors.rest import (
    Batch,
    WindowedConnector,
    basic_authorization,
    check_priority_ladder,
    priority_from_number,
)
from connectors.settings import WindowedSourceSettings
from vocab import Duration

#: RT's own labels (`%PriorityAsString`: Low 0, Medium 50, High 100) with "high" between.
DEFAULT_PRIORITIES: dict[str, int] = {"low": 0, "normal": 50, "high": 80, "urgent": 100}
MESSAGE_TYPES = ("Create", "Correspond", "Comment")
_Ticket = tuple[base.TicketSnapshot, frozenset[str]]  # a snapshot and its requestors' names


class RTSettings(WindowedSourceSettings):
    """An RT 5 instance: its root URL, a token or a user's password, what to watch."""

    kind: Literal["rt"] = "rt"
    base_url: str  # the RT root, e.g. https://rt.example.com (not the /REST/2.0 path)
    token: SecretStr | None = None  # an RT auth token: `Authorization: token …`
    username: str | None = None
    password: SecretStr | None = None
    queues: tuple[str, ...] = ()  # queue names; empty: every queue the user can see
    tags_field: str = Field("sentiment-tags", min_length=1)  # a multi-value custom field
    priorities: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_PRIORITIES))
    #: Transactions this long before the newest one read are read again (late commits).
    message_overlap: Duration = timedelta(minutes=2)
    page_size: int = Field(100, ge=1, le=100)

    @model_validator(mode="after")
    def _consistent(self) -> RTSettings:
        if (self.token is None) == (self.password is None):
            raise ValueError("rt needs either `token` or `username` + `password`")
        if self.password is not None and not self.username:
            raise ValueError("rt: `password` needs `username`")
        check_priority_ladder(self.priorities, "rt")
        for name in (*self.queues, self.tags_field):
            if "'" in name or "\\" in name:
                raise ValueError(f"rt: quotes and backslashes are not allowed in {name!r}")
        return self

    def create(self) -> RTConnector:
        return RTConnector(self)


class RTConnector(WindowedConnector[OverlapCursor]):
    """One RT instance as a `Connector`."""

    kind = "rt"
    CURSOR = OverlapCursor
    MAX_USERS = 10_000  # bound on the cache of who is privileged
    _settings: RTSettings

    def __init__(self, settings: RTSettings, *, policy: RetryPolicy | None = None,
                 clock: Clock = time.time, sleep: Sleep = time.sleep,
                 session: requests.Session | None = None) -> None:
        self._root = settings.base_url.rstrip("/")
        secret = settings.token or settings.password
        assert secret is not None  # the settings validator guarantees one of them
        super().__init__(
            settings, f"{self._root}/REST/2.0",
            authorization=(f"token {secret.get_secret_value()}" if settings.token else
                           basic_authorization(str(settings.username),
                                               secret.get_secret_value())),
            policy=policy or RetryPolicy(read_timeout=settings.timeout),
            clock=clock, sleep=sleep, session=session)
        self._me = settings.username.lower() if settings.username else None
        self._privileged: dict[str, bool] = {}

    def __repr__(self) -> str:
        return f"RTConnector(name={self.name!r}, base_url={self._root!r})"

    def ticket_url(self, ticket_id: str) -> str:
        return f"{self._root}/Ticket/Display.html?id={int(ticket_id)}"

    def _read(self, state: OverlapCursor, batch: Batch) -> None:
        me = self.whoami()
        tickets: dict[str, _Ticket] = {}
        for _ in range(self._settings.page_budget):
            items, more = self._page("/transactions", {
                "query": self._transaction_query(state), "orderby": "id",
                "order": "ASC", "page": state.page,
                "fields": "Type,Created,Creator,ObjectId",
                "fields[Creator]": "RealName,EmailAddress"})
            new = [t for t in items if state.is_new(str(t["id"]))]
            batch.messages.extend(self._messages(new, tickets, me, state))
            state.page_read((int(t["id"]) for t in items), last=not more)
            batch.progress += 1
            if not more:
                batch.caught_up = True
                return

    def _change(self, ticket_id: str, change: base.TicketChange) -> None:
        settings = self._settings
        with self._gone(f"ticket {ticket_id}"):
            ticket = self.read(f"/ticket/{int(ticket_id)}")
        if not isinstance(ticket, dict) or ticket.get("Status") == "deleted":
            raise base.TicketGoneError(f"rt: ticket {ticket_id} is gone", 404)
        update: dict[str, Any] = {}
        if change.add_tags or change.remove_tags:
            current = _field_values(ticket, settings.tags_field)
            if current is None:
                raise base.FatalError(
                    f"rt: ticket {ticket_id} has no custom field {settings.tags_field!r}: create "
                    "it (multiple values), apply it to the queue and grant SeeCustomField and "
                    "ModifyCustomField (see docs/rt.md)")
            tags = self._merged_tags(current, change)
            if tags != current:
                update["CustomFields"] = {settings.tags_field: tags}
        raised = self._priority_raise(self._priority_name(ticket.get("Priority")),
                                      change.priority, settings.priorities)
        if raised is not None:
            update["Priority"] = settings.priorities[raised]
        path = f"/ticket/{int(ticket_id)}"
        with self._gone(f"ticket {ticket_id}"):
            if update:
                self._check_results(self._http.request_json("PUT", path, json=update), path)
            if change.note:
                # A comment, never a correspondence: RT does not mail comments to requestors.
                self._http.request("POST", f"{path}/comment",
                                   json={"Content": change.note, "ContentType": "text/plain"})

    # -- reading --------------------------------------------------------------------

    def _transaction_query(self, state: OverlapCursor) -> str:
        window = _sql_time(state.begin_walk(self._settings.message_overlap))
        types = " OR ".join(f"Type = '{kind}'" for kind in MESSAGE_TYPES)
        query = (f"ObjectType = 'RT::Ticket' AND ({types}) AND Created >= '{_sql_time(state.floor)}'"
                 f" AND (id > {state.mark} OR Created >= '{window}')")
        if self._settings.queues:
            queues = " OR ".join(f"TicketQueue = '{q}'" for q in self._settings.queues)
            query += f" AND ({queues})"
        return query

    def _messages(self, transactions: list[dict[str, Any]], tickets: dict[str, _Ticket],
                  me: str | None, state: OverlapCursor) -> list[base.Message]:
        if not transactions:
            return []
        bodies = self._bodies([int(t["id"]) for t in transactions])
        self._load_tickets({str(t["ObjectId"]) for t in transactions} - set(tickets), tickets)
        messages: list[base.Message] = []
        for txn in transactions:
            txn_id, created = str(txn["id"]), base.parse_vendor_time(txn["Created"])
            state.remember(txn_id, created)
            ticket, body = tickets.get(str(txn["ObjectId"])), bodies.get(int(txn["id"]))
            if ticket is None or body is None:
                continue  # a ticket we may not see, or a transaction without text
            snapshot, requestors = ticket
            author = txn.get("Creator") if isinstance(txn.get("Creator"), dict) else {}
            assert isinstance(author, dict)
            name = str(author.get("id") or "").lower()
            comment = txn["Type"] == "Comment"
            customer = not comment and (name in requestors or not self._is_privileged(name))
            messages.append(base.Message(
                message_id=txn_id, ticket_id=snapshot.ticket_id,
                author_role="customer" if customer else "agent", public=not comment,
                created_at=created, body=body[0], ticket=snapshot, author_id=name or None,
                author_name=author.get("RealName") or author.get("EmailAddress") or None,
                body_is_html=body[1], own_note=comment and me is not None and name == me))
        return messages

    def _bodies(self, txn_ids: list[int]) -> dict[int, tuple[str, bool]]:
        """Transaction id -> (text, is_html): its text/plain part, else its text/html."""
        # By id list, not range: attachments of transactions we may not see (mail records)
        # would be filtered out of a page after the fact and make it look like the last.
        query = json.dumps([
            {"field": "TransactionId", "operator": "IN", "value": txn_ids},
            {"field": "ContentType", "operator": "LIKE", "value": "text/",
             "entry_aggregator": "AND"}])
        wanted, found = set(txn_ids), dict[int, tuple[str, bool]]()
        for page in self._pages(1000, "attachments"):
            items, more = self._page("/attachments", {
                "query": query, "page": page, "orderby": "id",
                "fields": "TransactionId,ContentType,Filename,Content"})
            for part in items:
                txn, kind = int(part["TransactionId"]), str(part.get("ContentType") or "")
                if txn not in wanted or part.get("Filename") or \
                        kind not in ("text/plain", "text/html"):
                    continue  # a file attached (even a text one) is not the message
                if txn not in found or (found[txn][1] and kind == "text/plain"):
                    found[txn] = (str(part.get("Content") or ""), kind == "text/html")
            if not more:
                break
        return found

    def _load_tickets(self, ids: set[str], tickets: dict[str, _Ticket]) -> None:
        ordered, size = sorted(ids, key=int), self._settings.page_size
        for start in range(0, len(ordered), size):  # one page each: never more ids than fit
            query = " OR ".join(f"id = {int(i)}" for i in ordered[start:start + size])
            items, _ = self._page("/tickets", {
                "query": query, "page": 1, "fields": "Subject,Status,Priority,Requestor,CustomFields",
                "fields[Requestor]": "RealName,EmailAddress"})
            for ticket in items:
                people = [p for p in ticket.get("Requestor") or [] if isinstance(p, dict)]
                tickets[str(ticket["id"])] = (self._snapshot(ticket, people), frozenset(
                    str(p.get("id") or "").lower() for p in people))

    def _snapshot(self, ticket: Mapping[str, Any], people: list[dict[str, Any]]) -> base.TicketSnapshot:
        ticket_id = str(ticket["id"])
        first = people[0] if people else {}
        return base.TicketSnapshot(
            ticket_id=ticket_id, subject=str(ticket.get("Subject") or ""),
            url=self.ticket_url(ticket_id), status=ticket.get("Status"),
            priority=self._priority_name(ticket.get("Priority")),
            tags=tuple(_field_values(ticket, self._settings.tags_field) or ()),
            requester=first.get("RealName") or first.get("EmailAddress") or None)

    def _priority_name(self, value: Any) -> str | None:
        return priority_from_number(value, self._settings.priorities)

    def _is_privileged(self, name: str) -> bool:
        if name not in self._privileged:
            if len(self._privileged) >= self.MAX_USERS:
                self._privileged.clear()
            user = self.read(f"/user/{quote(name, safe='')}") if name else None
            self._privileged[name] = not isinstance(user, dict) or bool(user.get("Privileged"))
        return self._privileged[name]

    def whoami(self) -> str | None:
        """Our own user name, to recognise our comments: from the config or the token."""
        if self._me is None and self._settings.token is not None:
            owner = self._settings.token.get_secret_value().split("-")
            if len(owner) == 3 and owner[1].isdigit():
                user = self.read(f"/user/{int(owner[1])}")
                if isinstance(user, dict) and isinstance(user.get("Name"), str):
                    self._me = user["Name"].lower()
        return self._me

    # -- HTTP -----------------------------------------------------------------------

    def read(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET a REST 2.0 path (below /REST/2.0) as JSON."""
        return self._get(path, params)[0]

    def _page(self, path: str, params: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
        """One page of a collection, and whether another may follow.

        RT gives `total`/`next_page` only to users who may see everything; for the others
        a full page is the only sign that more may follow.
        """
        body = self.read(path, {**params, "per_page": self._settings.page_size})
        if not isinstance(body, dict) or not isinstance(body.get("items"), list):
            raise base.RetriableError(f"rt: GET {path} did not answer a collection")
        items = [item for item in body["items"] if isinstance(item, dict)]
        if body.get("pages") is not None:
            return items, bool(body.get("next_page"))
        return items, int(body.get("count") or 0) >= self._settings.page_size

    @staticmethod
    def _check_results(results: Any, path: str) -> None:
        """RT answers 200 with a list of outcomes; a refused one is an error, not success."""
        for line in results if isinstance(results, list) else []:
            text = str(line).lower()
            if "permission denied" in text or "could not" in text or "invalid" in text:
                raise base.FatalError(f"rt: PUT {path} was refused in part; check the rights "
                                 "ModifyTicket and ModifyCustomField", 403)


def _field_values(ticket: Mapping[str, Any], name: str) -> list[str] | None:
    """The values of custom field `name` on the ticket; None when it has no such field."""
    for custom in ticket.get("CustomFields") or []:
        if isinstance(custom, dict) and name in (custom.get("name"), custom.get("Name")):
            return [str(v) for v in custom.get("values") or []]
    return None


def _sql_time(moment: datetime) -> str:
    """A TicketSQL time with its offset: RT reads a bare time in the user's time zone."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


__all__ = ["RTConnector", "RTSettings"]
