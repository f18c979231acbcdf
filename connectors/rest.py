"""The shared REST source base: a vendor module holds only what is specific to its vendor.

A vendor module reads "what changed since the watermark" from its API, turns records into
`Message`s and writes changes back.  What is the same whatever the vendor lives here:
`RestConnector`, the base class every REST helpdesk connector subclasses (its HTTP
client and credentials, `repr` without secrets, `close`, the poll skeleton that keeps
partial progress, JSON reads, writes whose "no such ticket" answer becomes
`TicketGoneError`, the tag merge and "only ever raise" for priorities), and the small
functions it is built from: the tag merge that never drops a tag the daemon did not
add, the turning of an unexpected response shape into a `RetriableError` (a malformed
body means "try later", never a crash), JSON decoding with messages free of bodies, and
a bound on every pagination loop.  The cursors with an overlap window live in
`connectors.cursors`.  docs/connectors.md is the checklist for adding a helpdesk.
"""

from __future__ import annotations

import base64
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar

import requests
import structlog

from connectors.base import (
    PRIORITIES,
    FatalError,
    Message,
    PollResult,
    RetriableError,
    TicketChange,
    TicketGoneError,
    priority_rank,
)
from connectors.cursors import OverlapCursor, WindowCursor
from connectors.http import Clock, HttpClient, RetryPolicy, Sleep
from connectors.settings import SourceSettings, WindowedSourceSettings

__all__ = ["OverlapCursor", "WindowCursor"]  # with the names defined below

log = structlog.get_logger(__name__)


def basic_authorization(user: str, password: str) -> str:
    """The `Authorization` value of HTTP basic auth."""
    return f"Basic {base64.b64encode(f'{user}:{password}'.encode()).decode()}"


def check_priority_ladder(numbers: Mapping[str, int], vendor: str) -> None:
    """ValueError unless every normalised priority has a number, strictly increasing."""
    if set(numbers) != set(PRIORITIES) or \
            [numbers[p] for p in PRIORITIES] != sorted(set(numbers.values())):
        raise ValueError(f"{vendor}: priorities needs low < normal < high < urgent, all four")


def priority_from_number(value: Any, numbers: Mapping[str, int]) -> str | None:
    """The normalised priority of a vendor's number: the highest one it reaches."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    reached = [p for p in PRIORITIES if numbers[p] <= number]
    return reached[-1] if reached else PRIORITIES[0]


def merge_tags(current: Sequence[str], add: Iterable[str], remove: Iterable[str],
               own_prefix: str) -> list[str]:
    """`current` plus `add`, minus those of `remove` in the daemon's own namespace.

    An agent's tag is never ours to drop, whatever the change asks; order is kept so a
    write that changes nothing can be recognised and skipped.
    """
    tags = list(current)
    for tag in add:
        if tag not in tags:
            tags.append(tag)
    removable = {tag for tag in remove if tag.startswith(own_prefix)}
    return [tag for tag in tags if tag not in removable]


def raises_priority(current: str | None, wanted: str) -> bool:
    """True when `wanted` ranks above `current`: priorities are only ever raised."""
    return priority_rank(wanted) > priority_rank(current)


@contextmanager
def gone_on_missing(vendor: str, what: str, statuses: tuple[int, ...] = (404,)) -> Iterator[None]:
    """A FatalError with one of `statuses` inside the block becomes TicketGoneError."""
    try:
        yield
    except FatalError as exc:
        if exc.status in statuses and not isinstance(exc, TicketGoneError):
            raise TicketGoneError(f"{vendor}: {what} is gone", exc.status) from None
        raise


@contextmanager
def shape_errors_retriable(vendor: str) -> Iterator[None]:
    """A response of an unexpected shape: like a malformed body, try again later."""
    try:
        yield
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise RetriableError(f"{vendor}: unexpected response shape "
                             f"({type(exc).__name__})") from None


def decode_json(response: requests.Response, vendor: str, method: str, path: str) -> Any:
    """The JSON body, or RetriableError naming the method and path (never the body)."""
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise RetriableError(f"{vendor}: {method} {path.split('?')[0]} returned a body "
                             "that is not JSON") from None


def bounded_pages(limit: int, vendor: str, what: str, **context: Any) -> Iterator[int]:
    """Page numbers 1..limit; reaching the cap is logged (a loop never runs unbounded)."""
    yield from range(1, limit + 1)
    log.warning("pages_capped", vendor=vendor, what=what, pages=limit, **context)


def default_policy(settings: SourceSettings) -> RetryPolicy:
    """The retry policy of a source: its read timeout, and twice that for a request."""
    return RetryPolicy(read_timeout=settings.timeout, deadline=2 * settings.timeout)


class StopPoll(Exception):
    """Raised inside `RestConnector._read` to end a poll with what is complete (a budget
    spent); it never escapes `poll`."""


@dataclass(slots=True)
class Batch:
    """What one poll has read: the messages its cursor covers, and whether it is done.

    `progress` counts what the cursor now covers (pages, tickets): while it is 0 a
    retriable failure means nothing was consumed, and the caller polls again with the
    same cursor.
    """

    messages: list[Message] = field(default_factory=list)
    caught_up: bool = False
    progress: int = 0


StateT = TypeVar("StateT")
CursorT = TypeVar("CursorT", bound=WindowCursor)


class RestConnector(ABC, Generic[StateT]):
    """One REST helpdesk account as a `Connector`; a vendor subclasses it.

    A subclass sets `kind`, calls `__init__` with its API root and credentials, and
    implements `_load_cursor` / `_dump_cursor` (its cursor as a string; done by
    `WindowedConnector`), `_read` (one poll's walk: messages into the batch, the cursor
    moved to cover exactly them), `_change` (a change that is not empty) and
    `ticket_url`.  `poll` is the skeleton around `_read`, `apply` the one around
    `_change`.
    """

    kind: str  # the config `kind`, set by each subclass
    MAX_SEEN: ClassVar[int] = 20_000  # bound on a cursor's memory of emitted ids
    #: Statuses of a ticket read or write that mean the ticket is gone (merged, deleted).
    GONE_STATUSES: ClassVar[tuple[int, ...]] = (404,)

    def __init__(self, settings: SourceSettings, api_url: str, *, authorization: str | None,
                 policy: RetryPolicy | None, clock: Clock, sleep: Sleep,
                 session: requests.Session | None = None,
                 on_unauthorized: Callable[[], bool] | None = None,
                 retry_after_headers: tuple[str, ...] = ("Retry-After",)) -> None:
        self.name = settings.name
        self._settings = settings
        self._clock = clock
        self.__authorization = authorization
        self._http = HttpClient(
            api_url, vendor=self.kind, auth=self._auth_headers,
            policy=policy or default_policy(settings),
            on_unauthorized=on_unauthorized, retry_after_headers=retry_after_headers,
            clock=clock, sleep=sleep, session=session)
        self._clients = [self._http]  # every client this connector sends through
        self._own_user: int | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, base_url={self._http.base_url!r})"

    def _auth_headers(self) -> Mapping[str, str]:
        """The credentials of one request (a subclass with expiring tokens overrides)."""
        return {"Authorization": self.__authorization} if self.__authorization else {}

    def close(self) -> None:
        for client in self._clients:
            client.close()

    # -- the poll skeleton ----------------------------------------------------------

    def poll(self, cursor: str | None, start_from: datetime) -> PollResult:
        state = self._load_cursor(cursor, start_from)
        before = self._requests_sent()
        batch = Batch()
        try:
            with shape_errors_retriable(self.kind):
                self._read(state, batch)
        except (RetriableError, StopPoll) as exc:
            if isinstance(exc, RetriableError) and not batch.progress:
                raise  # nothing consumed: the caller polls again with the same cursor
            # What was read before the stop is complete, and the cursor covers exactly it.
            log.info("poll_stopped_early", source=self.name, vendor=self.kind,
                     reason=type(exc).__name__, progress=batch.progress)
        return PollResult(messages=batch.messages, next_cursor=self._dump_cursor(state),
                          caught_up=batch.caught_up,
                          requests=self._requests_sent() - before)

    @abstractmethod
    def _load_cursor(self, raw: str | None, start_from: datetime) -> StateT:
        """The cursor stored as `raw`; with none stored, one starting at `start_from`."""

    @abstractmethod
    def _dump_cursor(self, state: StateT) -> str:
        """`state` as the string the store keeps."""

    @abstractmethod
    def _read(self, state: StateT, batch: Batch) -> None:
        """Read from `state` on, within the page budget; move `state` as messages land."""

    def _requests_sent(self) -> int:
        return sum(client.log.total for client in self._clients)

    # -- HTTP -----------------------------------------------------------------------

    def _get(self, path: str, params: Mapping[str, Any] | None = None
             ) -> tuple[Any, requests.Response]:
        """GET as JSON, with the response (for headers and links)."""
        response = self._http.request("GET", path, params=params)
        self._observe(response)
        return decode_json(response, self.kind, "GET", path), response

    def _write(self, method: str, path: str, payload: Mapping[str, Any]) -> requests.Response:
        """Send a change to a ticket; a gone ticket raises TicketGoneError."""
        with self._gone(f"the ticket of {method} {path}"):
            response = self._http.request(method, path, json=dict(payload))
        self._observe(response)
        return response

    def _gone(self, what: str) -> AbstractContextManager[None]:
        """Inside the block, a "no such ticket" answer (`GONE_STATUSES`) is TicketGoneError."""
        return gone_on_missing(self.kind, what, self.GONE_STATUSES)

    def _pages(self, limit: int, what: str, **context: Any) -> Iterator[int]:
        """Page numbers 1..limit of one listing; reaching the cap is logged."""
        return bounded_pages(limit, self.kind, what, source=self.name, **context)

    def _own_id(self, path: str) -> int | None:
        """The API user's id (`{"id": …}` at `path`), to recognise our own notes; read once."""
        if self._own_user is None:
            body, _ = self._get(path)
            if isinstance(body, dict) and isinstance(body.get("id"), int):
                self._own_user = int(body["id"])
        return self._own_user

    def _observe(self, response: requests.Response) -> None:
        """Every response read or written (Freshdesk watches its rate-limit credits)."""

    # -- writing --------------------------------------------------------------------

    def apply(self, ticket_id: str, change: TicketChange) -> None:
        if not change.is_empty():
            self._change(ticket_id, change)

    @abstractmethod
    def _change(self, ticket_id: str, change: TicketChange) -> None:
        """Apply a change that is not empty (read, merge, write; never clobber)."""

    def _merged_tags(self, current: Sequence[str], change: TicketChange) -> list[str]:
        return merge_tags(current, change.add_tags, change.remove_tags,
                          self._settings.own_tag_prefix)

    def _priority_raise(self, current: str | None, wanted: str | None,
                        known: Iterable[str] = PRIORITIES) -> str | None:
        """`wanted` when it ranks above `current` (priorities only ever rise), else None;
        FatalError for a priority not in `known` (those this account can express)."""
        if wanted is None:
            return None
        if wanted not in known:
            raise FatalError(f"{self.kind}: unknown priority {wanted!r}")
        return wanted if raises_priority(current, wanted) else None


class WindowedConnector(RestConnector[CursorT]):
    """A REST connector whose cursor is a `WindowCursor`: `CURSOR` names its subclass."""

    CURSOR: type[CursorT]
    _settings: WindowedSourceSettings

    def _load_cursor(self, raw: str | None, start_from: datetime) -> CursorT:
        return self.CURSOR.load(self.kind, raw, start_from)

    def _dump_cursor(self, state: CursorT) -> str:
        return state.dump(self._settings.message_overlap, self.MAX_SEEN)
