"""The cursors of REST sources that read "what changed since a watermark" in a window.

A vendor that lists changed tickets (or transactions) by time cannot trust the list to
be complete at the moment it reads it: a record committed late shows up behind the
watermark.  So every such source reads again a window before its watermark and keeps
the ids of the messages it already emitted inside that window, so nothing is emitted
twice.  `WindowCursor` is that part, the same for every vendor: the watermark
(`since`), the first poll's start (`floor`, nothing older is ever emitted), the seen
ids, and a JSON form that keeps only the ids still inside the window.  A vendor's walk
(where a walk in progress goes on) is a subclass adding its fields; `OverlapCursor`
is the one for sources whose records have increasing ids (Request Tracker).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Self

from connectors.base import FatalError, Message, format_vendor_time, parse_vendor_time


@dataclass(slots=True)
class WindowCursor:
    """Watermark, floor, and the ids emitted inside the overlap window.

    Subclasses add the fields of their walk through `_walk_from_json` / `_walk_json`;
    the JSON keys are sorted, so a cursor stored by an earlier release loads unchanged.
    """

    vendor: str
    since: datetime
    floor: datetime
    seen: dict[str, str] = field(default_factory=dict)  # message id -> created (ISO)

    @classmethod
    def load(cls, vendor: str, raw: str | None, start_from: datetime) -> Self:
        if not raw:
            start = start_from.astimezone(UTC).replace(microsecond=0)
            return cls(vendor=vendor, since=start, floor=start)
        try:
            data = json.loads(raw)
            return cls(vendor=vendor, since=parse_vendor_time(data["since"]),
                       floor=parse_vendor_time(data["floor"]),
                       seen={str(k): str(v) for k, v in dict(data.get("seen", {})).items()},
                       **cls._walk_from_json(data))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise FatalError(f"{vendor}: the stored cursor is not a {vendor} cursor") from None

    @classmethod
    def _walk_from_json(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        """The subclass's own fields from the stored JSON (ValueError etc. if malformed)."""
        return {}

    def _walk_json(self) -> dict[str, Any]:
        return {}

    def emit_from(self, overlap: timedelta) -> datetime:
        """Messages older than this were emitted by earlier polls (or predate us)."""
        return max(self.floor, self.since - overlap)

    def is_new(self, message_id: str) -> bool:
        return message_id not in self.seen

    def remember(self, message_id: str, created: datetime) -> None:
        self.seen[message_id] = format_vendor_time(created)

    def admit(self, messages: Iterable[Message]) -> list[Message]:
        """The messages not emitted before, remembered as emitted now."""
        new = [message for message in messages if self.is_new(message.message_id)]
        for message in new:
            self.remember(message.message_id, message.created_at)
        return new

    def dump(self, overlap: timedelta, max_seen: int) -> str:
        """JSON, keeping only the ids still inside the window (at most `max_seen`)."""
        horizon = self.since - overlap
        kept = sorted(((created, message_id) for message_id, created in self.seen.items()
                       if parse_vendor_time(created) >= horizon), reverse=True)[:max_seen]
        return json.dumps({"v": 1, "since": format_vendor_time(self.since),
                           "floor": format_vendor_time(self.floor), **self._walk_json(),
                           "seen": {message_id: created for created, message_id in kept}},
                          separators=(",", ":"), sort_keys=True)


@dataclass(slots=True)
class OverlapCursor(WindowCursor):
    """A window cursor over records with increasing ids, and a walk in progress.

    A walk lists the records after `mark` (the highest id a finished walk reached) or
    created since `since - overlap` (records can become visible out of order: a
    transaction committed late), skipping the ids in `seen`.  A walk keeps its query
    (`walk_from`) and goes on at `page` across polls, so a window fuller than the page
    budget still makes progress; when it ends, `mark` moves to `top`.  Remembering a
    record moves the watermark to it.
    """

    mark: int = 0
    top: int = 0
    page: int = 1
    walk_from: datetime | None = None

    @classmethod
    def _walk_from_json(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        walk_from = data.get("walk_from")
        return {"mark": int(data.get("mark", 0)), "top": int(data.get("top", 0)),
                "page": int(data.get("page", 1)),
                "walk_from": parse_vendor_time(walk_from) if walk_from else None}

    def _walk_json(self) -> dict[str, Any]:
        return {"mark": self.mark, "top": self.top, "page": self.page,
                "walk_from": format_vendor_time(self.walk_from) if self.walk_from else None}

    def begin_walk(self, overlap: timedelta) -> datetime:
        """The window start of the walk in progress, or of a new one from page 1."""
        if self.walk_from is None:
            self.walk_from, self.page = self.emit_from(overlap), 1
        return self.walk_from

    def page_read(self, ids: Iterable[int], last: bool) -> None:
        """A page of the walk is read: go on at the next one, or finish the walk."""
        self.top = max([self.top, self.mark, *ids])
        if last:
            self.mark, self.page, self.walk_from = self.top, 1, None
        else:
            self.page += 1

    def remember(self, message_id: str, created: datetime) -> None:
        self.seen[message_id] = format_vendor_time(created)
        if created > self.since:
            self.since = created
