"""What this process remembers about tickets between batches: each ticket's committed
customer series, the snapshot it last wrote, and who owns the ticket.

Bounded LRUs, per source, valid only while this process holds the source's lease: when
the fencing token changes (another replica may have written) or a batch fails (rolled
back, or committed without our hearing so), the source's entries go.  A miss costs one
read of the database, never a wrong answer.

The series are kept compact (a few thousand tickets of long conversations add up): the
few distinct signal sets and the labels and languages read back from the database are
shared objects, and only the last `INDICATOR_WINDOW` messages of a series keep their
indicator phrases, the only ones a decision quotes.  A later batch's messages sort
after those or among them, never before the older ones, so the phrases a decision
quotes from a cached series plus a batch are always there.
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from connectors.base import Message
from daemon.alerting import ticket_people
from rules.engine import INDICATOR_WINDOW, ScoredMessage
from vocab import aware

Key = tuple[str, str]  # (source, ticket_id)
Series = tuple[ScoredMessage, ...]


#: One frozenset per distinct signal set (the rules' signal names make few), instead of
#: one 216-byte set per cached message.  Cleared if it ever grows past the limit.
_SIGNAL_SETS: dict[frozenset[str], frozenset[str]] = {}
_SIGNAL_SETS_LIMIT = 1024


def shared_signals(signals: Iterable[str]) -> frozenset[str]:
    """The shared frozenset equal to `signals`."""
    key = signals if isinstance(signals, frozenset) else frozenset(signals)
    found = _SIGNAL_SETS.get(key)
    if found is None:
        if len(_SIGNAL_SETS) >= _SIGNAL_SETS_LIMIT:
            _SIGNAL_SETS.clear()
        found = _SIGNAL_SETS.setdefault(key, key)
    return found


def scored_from_row(row: Mapping[str, Any]) -> ScoredMessage:
    """A stored customer message (daemon.store.messages.customer_series) for the rules."""
    return ScoredMessage(message_id=row["message_id"], created_at=aware(row["created_at"])
                         or datetime.min.replace(tzinfo=UTC), score=float(row["score"]),
                         label=sys.intern(row["label"] or "neutral"),
                         signals=shared_signals(row["signals"] or ()),
                         indicators=tuple(row["indicators"] or ()),
                         language=sys.intern(row["language"] or ""),
                         supported=row["language_supported"] is not False)


def compact(series: Series) -> Series:
    """`series` as the cache keeps it: indicator phrases on the last `INDICATOR_WINDOW`
    messages only, signal sets shared (see the module's docstring)."""
    cut = len(series) - INDICATOR_WINDOW
    if all(_compact(m, i >= cut) is m for i, m in enumerate(series)):
        return series  # the usual case: compacted when it was cached
    return tuple(_compact(m, i >= cut) for i, m in enumerate(series))


def _compact(message: ScoredMessage, quoted: bool) -> ScoredMessage:
    signals = shared_signals(message.signals)
    if signals is message.signals and (quoted or not message.indicators):
        return message
    return replace(message, signals=signals,
                   indicators=message.indicators if quoted else ())


def extend(cached: Series, new: Sequence[ScoredMessage]) -> Series:
    """`cached` plus this batch's messages, oldest first (a late message sorts in)."""
    if new and cached and min(m.created_at for m in new) < cached[-1].created_at:
        return tuple(sorted((*cached, *new), key=lambda m: m.created_at))  # stable
    return (*cached, *new)


class TicketCache:
    """Per-ticket state carried from one committed batch to the next.  Thread-safe."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._series: OrderedDict[Key, Series] = OrderedDict()
        self._written: OrderedDict[Key, tuple[Any, ...]] = OrderedDict()
        self._people: OrderedDict[Key, dict[str, str | None]] = OrderedDict()
        self._token: dict[str, int] = {}

    def series(self, source: str, ticket_ids: Sequence[str]) -> dict[str, Series]:
        """The cached series of those tickets that have one."""
        with self._lock:
            return {t: found for t in ticket_ids
                    if (found := self._series.get((source, t))) is not None}

    def unwritten(self, source: str, keys: Mapping[str, tuple[Any, ...]]) -> list[str]:
        """Tickets whose snapshot differs from the one this process last wrote."""
        with self._lock:
            return [t for t, key in keys.items() if self._written.get((source, t)) != key]

    def people(self, source: str, ticket_id: str) -> dict[str, str | None]:
        with self._lock:
            return dict(self._people.get((source, ticket_id), {}))

    def note_people(self, source: str, messages: Sequence[Message]) -> None:
        """Remember who owns each ticket (when the connector says), for alerts."""
        latest = {m.ticket_id: ticket_people(m.ticket) for m in messages}
        with self._lock:
            _put(self._people, {(source, t): p for t, p in latest.items() if p}, self.size)

    def check_owner(self, source: str, fencing: int | None) -> None:
        """Forget the source when its lease changed hands since our last commit."""
        if fencing is not None and self._token.get(source) != fencing:
            self.forget(source)

    def remember(self, source: str, fencing: int | None, series: Mapping[Key, Series],
                 written: Mapping[Key, tuple[Any, ...]]) -> None:
        """What a batch committed: its series and the snapshots it wrote."""
        compacted = {key: compact(found) for key, found in series.items()}
        with self._lock:
            if fencing is not None:
                self._token[source] = fencing
            _put(self._series, compacted, self.size)
            _put(self._written, written, self.size)

    def forget(self, source: str | None = None) -> None:
        """Drop a source's series and snapshots (every source's when None)."""
        with self._lock:
            for cache in (self._series, self._written):
                if source is None:
                    cache.clear()
                else:
                    for key in [k for k in cache if k[0] == source]:
                        del cache[key]


def _put(cache: OrderedDict[Key, Any], entries: Mapping[Key, Any], size: int) -> None:
    for key, value in entries.items():
        cache[key] = value
        cache.move_to_end(key)
    while len(cache) > size:
        cache.popitem(last=False)
