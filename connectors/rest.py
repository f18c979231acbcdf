"""What a REST helpdesk connector shares, so a vendor module holds only vendor specifics.

A vendor module reads "what changed since the watermark" from its API, turns records into
`Message`s and writes changes back.  The parts that are the same whatever the vendor live
here: the forward-only cursor with its overlap window (`OverlapCursor`: a watermark, the
first poll's floor, and the ids already emitted inside the window, so a record committed
late is still read and nothing is emitted twice), the tag merge that never drops a tag
the daemon did not add, "only ever raise" for priorities, the mapping of a vendor's
"no such ticket" answer to `TicketGoneError`, the turning of an unexpected response shape
into a `RetriableError` (a malformed body means "try later", never a crash), JSON
decoding with messages free of bodies, and a bound on every pagination loop.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
import structlog

from connectors.base import (
    PRIORITIES,
    FatalError,
    RetriableError,
    TicketGoneError,
    format_vendor_time,
    parse_vendor_time,
    priority_rank,
)

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


@dataclass(slots=True)
class OverlapCursor:
    """Watermark, floor, a walk in progress, and the ids emitted inside the window.

    `since` is the newest record time read; a walk lists the records after `mark` (the
    highest id a finished walk reached) or created since `since - overlap` (records can
    become visible out of order: a transaction committed late), skipping the ids in
    `seen`.  A walk keeps its query (`walk_from`) and goes on at `page` across polls, so a
    window fuller than the page budget still makes progress; when it ends, `mark` moves
    to `top`.  `floor` is the first poll's start: nothing older is ever emitted.
    """

    vendor: str
    since: datetime
    floor: datetime
    mark: int = 0
    top: int = 0
    page: int = 1
    walk_from: datetime | None = None
    seen: dict[str, str] = field(default_factory=dict)  # message id -> created (ISO)

    @classmethod
    def load(cls, vendor: str, raw: str | None, start_from: datetime) -> OverlapCursor:
        if not raw:
            start = start_from.astimezone(UTC).replace(microsecond=0)
            return cls(vendor=vendor, since=start, floor=start)
        try:
            data = json.loads(raw)
            walk_from = data.get("walk_from")
            return cls(vendor=vendor, since=parse_vendor_time(data["since"]),
                       floor=parse_vendor_time(data["floor"]), mark=int(data.get("mark", 0)),
                       top=int(data.get("top", 0)), page=int(data.get("page", 1)),
                       walk_from=parse_vendor_time(walk_from) if walk_from else None,
                       seen={str(k): str(v) for k, v in dict(data.get("seen", {})).items()})
        except (ValueError, KeyError, TypeError):
            raise FatalError(f"{vendor}: the stored cursor is not a {vendor} cursor") from None

    def begin_walk(self, overlap: timedelta) -> datetime:
        """The window start of the walk in progress, or of a new one from page 1."""
        if self.walk_from is None:
            self.walk_from, self.page = max(self.floor, self.since - overlap), 1
        return self.walk_from

    def page_read(self, ids: Iterable[int], last: bool) -> None:
        """A page of the walk is read: go on at the next one, or finish the walk."""
        self.top = max([self.top, self.mark, *ids])
        if last:
            self.mark, self.page, self.walk_from = self.top, 1, None
        else:
            self.page += 1

    def is_new(self, message_id: str) -> bool:
        return message_id not in self.seen

    def remember(self, message_id: str, created: datetime) -> None:
        self.seen[message_id] = format_vendor_time(created)
        if created > self.since:
            self.since = created

    def dump(self, overlap: timedelta, max_seen: int) -> str:
        """JSON, keeping only the ids still inside the window (at most `max_seen`)."""
        horizon = self.since - overlap
        kept = sorted(((created, message_id) for message_id, created in self.seen.items()
                       if parse_vendor_time(created) >= horizon), reverse=True)[:max_seen]
        return json.dumps({"v": 1, "since": format_vendor_time(self.since),
                           "floor": format_vendor_time(self.floor), "mark": self.mark,
                           "top": self.top, "page": self.page,
                           "walk_from": format_vendor_time(self.walk_from)
                           if self.walk_from else None,
                           "seen": {message_id: created for created, message_id in kept}},
                          separators=(",", ":"), sort_keys=True)


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
