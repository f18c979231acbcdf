"""What this process remembers about tickets between batches: each ticket's committed
customer series, a digest of the snapshot it last wrote, and who owns the ticket.

Bounded LRUs, per source, valid only while this process holds the source's lease: when
the fencing token changes (another replica may have written) or a batch fails (rolled
back, or committed without our hearing so), the source's entries go.  A miss costs one
read of the database, never a wrong answer.

The series are kept compact (ten thousand tickets of long conversations add up): only
the last `INDICATOR_WINDOW` messages of a series keep their indicator phrases, the only
ones a decision quotes (a later batch's messages sort after those or among them, never
before the older ones, so the phrases a decision quotes from a cached series plus a
batch are always there), and a cached series is packed into one bytes object
(`Packed`): per message its time and score as two 8-byte numbers, its id's UTF-8 bytes,
and its label, language, signal set and readability as one 2-byte code into a table of
the few distinct combinations (`Kinds`).  About 30 bytes a message, and one object a
ticket, where ScoredMessage objects took ~250 bytes a message in a dozen objects; the
rules get ScoredMessage objects back, equal to the ones cached.
"""

from __future__ import annotations

import struct
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
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


#: A packed series: its number of messages, then per message its time (microseconds
#: since the epoch, UTC), score, kind code and the UTF-8 length of its id; then per
#: quoted message (the last INDICATOR_WINDOW) its number of indicator phrases and each
#: one's UTF-8 length; then the ids and the phrases themselves, in that order.
_COUNT = struct.Struct("<I")
_RECORD = struct.Struct("<qdHH")
_PHRASES = struct.Struct("<H")
_LENGTH = struct.Struct("<I")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
#: What a kind code names: (label, language, signals, supported).
Kind = tuple[str, str, frozenset[str], bool]


class Packed(bytes):
    """A committed series as the cache keeps it: one bytes object (layout above)."""

    __slots__ = ()


class Kinds:
    """The distinct (label, language, signal set, readability) of cached messages, each
    numbered once; a handful in practice, never more than 65,536 (then `code` says no)."""

    LIMIT = 1 << 16

    def __init__(self) -> None:
        self._kinds: list[Kind] = []
        self._codes: dict[Kind, int] = {}

    def code(self, kind: Kind) -> int | None:
        found = self._codes.get(kind)
        if found is None and len(self._kinds) < self.LIMIT:
            found = self._codes[kind] = len(self._kinds)
            self._kinds.append(kind)
        return found

    def __getitem__(self, code: int) -> Kind:
        return self._kinds[code]


def pack(series: Series, kinds: Kinds) -> Packed | Series:
    """`series` compacted and packed; as a tuple (compacted) when a message does not fit
    (a time not in UTC, an id over 65,535 bytes, no kind code left)."""
    head, text = bytearray(_COUNT.pack(len(series))), bytearray()
    for message in series:
        code = kinds.code((message.label, message.language, message.signals,
                           message.supported))
        message_id = message.message_id.encode("utf-8", "surrogatepass")
        if code is None or message.created_at.tzinfo is not UTC or len(message_id) > 0xFFFF:
            return compact(series)
        micros = (message.created_at - _EPOCH) // _MICROSECOND
        head += _RECORD.pack(micros, message.score, code, len(message_id))
        text += message_id
    for message in series[-INDICATOR_WINDOW:]:
        head += _PHRASES.pack(len(message.indicators))  # at most 8 (daemon.scoring.base)
        for phrase in message.indicators:
            encoded = phrase.encode("utf-8", "surrogatepass")
            head += _LENGTH.pack(len(encoded))
            text += encoded
    return Packed(head + text)


def unpack(packed: Packed | Series, kinds: Kinds) -> Series:
    """The series `pack` was given, compacted: equal ScoredMessage objects."""
    if not isinstance(packed, Packed):
        return packed
    (count,) = _COUNT.unpack_from(packed)
    at = _COUNT.size + count * _RECORD.size
    records = list(_RECORD.iter_unpack(memoryview(packed)[_COUNT.size:at]))
    lengths: list[list[int]] = []  # of the phrases of each quoted message
    for _ in range(min(count, INDICATOR_WINDOW)):
        (phrases,) = _PHRASES.unpack_from(packed, at)
        lengths.append([_LENGTH.unpack_from(packed, at + _PHRASES.size + i * _LENGTH.size)[0]
                        for i in range(phrases)])
        at += _PHRASES.size + phrases * _LENGTH.size
    phrase_at = at + sum(record[3] for record in records)
    quoted = count - len(lengths)
    messages: list[ScoredMessage] = []
    for number, (micros, score, code, length) in enumerate(records):
        indicators: tuple[str, ...] = ()
        if number >= quoted:
            phrases = []
            for size in lengths[number - quoted]:
                phrases.append(packed[phrase_at:phrase_at + size].decode("utf-8", "surrogatepass"))
                phrase_at += size
            indicators = tuple(phrases)
        label, language, signals, supported = kinds[code]
        messages.append(ScoredMessage(
            message_id=packed[at:at + length].decode("utf-8", "surrogatepass"),
            created_at=_EPOCH + micros * _MICROSECOND, score=score, label=label,
            signals=signals, indicators=indicators, language=language, supported=supported))
        at += length
    return tuple(messages)


class TicketCache:
    """Per-ticket state carried from one committed batch to the next.  Thread-safe."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._series: OrderedDict[Key, Packed | Series] = OrderedDict()
        self._kinds = Kinds()
        self._written: OrderedDict[Key, bytes] = OrderedDict()  # snapshot digests
        self._people: OrderedDict[Key, dict[str, str | None]] = OrderedDict()
        self._token: dict[str, int] = {}

    def series(self, source: str, ticket_ids: Sequence[str]) -> dict[str, Series]:
        """The cached series of those tickets that have one."""
        with self._lock:
            found = {t: packed for t in ticket_ids
                     if (packed := self._series.get((source, t))) is not None}
        # Unpacked outside the lock: a packed series is immutable, and `Kinds` only grows.
        return {t: unpack(packed, self._kinds) for t, packed in found.items()}

    def unwritten(self, source: str, keys: Mapping[str, bytes]) -> list[str]:
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
                 written: Mapping[Key, bytes]) -> None:
        """What a batch committed: its series and the snapshots it wrote."""
        # A ticket new to both caches gets one key object in both (and one ticket id).
        keys = {key: key for key in series}
        written = {keys.get(key, key): digest for key, digest in written.items()}
        with self._lock:
            packed = {key: pack(found, self._kinds) for key, found in series.items()}
            if fencing is not None:
                self._token[source] = fencing
            _put(self._series, packed, self.size)
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
