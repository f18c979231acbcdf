"""Score cache keyed by normalised text: an in-memory LRU, optionally backed by SQLite.

Support queues repeat themselves ("Any update?", "Thanks!", auto-replies), and every
repeat sent to Claude costs money, so the Claude scorer looks here first.  The key is a
SHA-256 of the scorer identity (model and prompt version) and the normalised text, so the
text itself is never stored in the key and a model or prompt change starts a fresh cache.
Fallback scores (`needs_rescore`) are never cached: they must be re-scored when Claude is
back.  The SQLite file lives under the daemon's cache directory and survives restarts;
it is opened per call from any thread (check_same_thread=False, one lock).  Entries
expire after `ttl_seconds` in memory as on disk: a score carries the customer's own
phrases (indicators), so `purge_expired` (the daemon's retention job) deletes what is
older than the TTL or the retention period, whichever is shorter.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from daemon.localfiles import private_dir, private_file
from daemon.scoring.base import LABELS, SIGNALS, Score


def cache_key(identity: str, text: str) -> str:
    digest = hashlib.sha256()
    digest.update(identity.encode("utf-8"))
    digest.update(b"\x00")
    digest.update(text.encode("utf-8", "replace"))
    return digest.hexdigest()


def _to_json(score: Score) -> str:
    return json.dumps({"score": score.score, "label": score.label,
                       "confidence": score.confidence, "indicators": list(score.indicators),
                       "signals": sorted(score.signals), "scorer": score.scorer,
                       "model": score.model, **({"topic": score.topic} if score.topic else {})})


def _from_json(raw: str) -> Score | None:
    try:
        data: dict[str, Any] = json.loads(raw)
        label = data["label"]
        if label not in LABELS:
            return None
        return Score(score=float(data["score"]), label=label,
                     confidence=float(data["confidence"]),
                     indicators=tuple(str(i) for i in data["indicators"]),
                     signals=frozenset(str(s) for s in data["signals"]) & SIGNALS,
                     scorer=str(data["scorer"]), model=str(data["model"]),
                     topic=str(data.get("topic") or "")[:80])
    except (ValueError, KeyError, TypeError):
        return None  # a corrupt row is a miss, not a crash


class ScoreCache:
    """LRU of `max_entries` scores, with an optional SQLite file as second level."""

    def __init__(self, max_entries: int = 10_000, path: Path | None = None,
                 ttl_seconds: float | None = 30 * 86400) -> None:
        self.max_entries = max_entries
        self.ttl_seconds = ttl_seconds
        self._memory: OrderedDict[str, tuple[Score, float]] = OrderedDict()  # (score, stored)
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self.hits = 0
        self.misses = 0
        if path is not None:
            private_dir(path.parent)  # scores of customer text: 0600 in a 0700 directory
            private_file(path)
            self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=5.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS scores (key TEXT PRIMARY KEY, "
                             "value TEXT NOT NULL, stored_at REAL NOT NULL)")
            self._db.commit()

    def get(self, key: str) -> Score | None:
        with self._lock:
            remembered = self._memory.get(key)
            if remembered is not None:
                if self._fresh(remembered[1]):
                    self._memory.move_to_end(key)
                    self.hits += 1
                    return remembered[0]
                del self._memory[key]
            if self._db is not None:
                row = self._db.execute("SELECT value, stored_at FROM scores WHERE key = ?",
                                       (key,)).fetchone()
                if row is not None and self._fresh(float(row[1])):
                    score = _from_json(str(row[0]))
                    if score is not None:
                        self._remember(key, score, float(row[1]))
                        self.hits += 1
                        return score
            self.misses += 1
            return None

    def put(self, key: str, score: Score) -> None:
        if score.needs_rescore:
            return
        with self._lock:
            stored_at = time.time()
            self._remember(key, score, stored_at)
            if self._db is not None:
                self._db.execute("INSERT OR REPLACE INTO scores (key, value, stored_at) "
                                 "VALUES (?, ?, ?)", (key, _to_json(score), stored_at))
                self._db.commit()

    def _fresh(self, stored_at: float, max_age: float | None = None) -> bool:
        limits = [age for age in (self.ttl_seconds, max_age) if age is not None]
        return not limits or time.time() - stored_at < min(limits)

    def purge_expired(self, max_age_seconds: float | None = None) -> int:
        """Delete entries past the TTL (or `max_age_seconds`, if shorter); how many went."""
        with self._lock:
            stale = [key for key, (_, at) in self._memory.items()
                     if not self._fresh(at, max_age_seconds)]
            for key in stale:
                del self._memory[key]
            removed = len(stale)
            limits = [a for a in (self.ttl_seconds, max_age_seconds) if a is not None]
            if self._db is not None and limits:
                cursor = self._db.execute("DELETE FROM scores WHERE stored_at < ?",
                                          (time.time() - min(limits),))
                self._db.commit()
                removed = max(removed, cursor.rowcount)
            return removed

    def forget(self, keys: set[str]) -> int:
        """Delete these keys (an erasure request); how many were stored."""
        with self._lock:
            removed = {key for key in keys if self._memory.pop(key, None) is not None}
            if self._db is not None:
                for key in keys:
                    if self._db.execute("DELETE FROM scores WHERE key = ?", (key,)).rowcount:
                        removed.add(key)
                self._db.commit()
            return len(removed)

    def clear(self) -> int:
        """Delete every entry; how many were stored."""
        with self._lock:
            removed = len(self._memory)
            self._memory.clear()
            if self._db is not None:
                removed = max(removed, self._db.execute("DELETE FROM scores").rowcount)
                self._db.commit()
            return removed

    def _remember(self, key: str, score: Score, stored_at: float) -> None:
        self._memory[key] = (score, stored_at)
        self._memory.move_to_end(key)
        while len(self._memory) > self.max_entries:
            self._memory.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._memory)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
