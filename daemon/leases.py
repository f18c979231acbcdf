"""Source leases: which replica reads which source, shared fairly among live replicas.

Every replica heartbeats into the `replica` table; with N alive, each holds at most
ceil(sources / N) leases, so a new replica gets work and the sources of a dead one (its
leases expire) are taken over by the next heartbeats.  A lease carries a fencing token:
writes of a poll are accepted only under the token it was read with, so a replica that
froze past its lease cannot overwrite the one that took over.  A source in the middle of
a poll is never released (`polling`); the poll renews its lease between rounds.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from daemon.logs import get_logger
from daemon.metrics import Metrics
from daemon.store import Store
from vocab import utcnow

log = get_logger("sentinel.service")


class LeaseBalancer:
    """The leases this replica (`owner`) holds, by source, with their fencing tokens."""

    def __init__(self, store: Store, owner: str, sources: list[str], duration: timedelta,
                 heartbeat_interval: Callable[[], float], metrics: Metrics) -> None:
        self.store = store
        self.owner = owner
        self.sources = sorted(sources)
        self.duration = duration
        self._heartbeat_interval = heartbeat_interval
        self._metrics = metrics
        self._tokens: dict[str, int] = {}  # source -> fencing token of the lease we hold
        self._polling: set[str] = set()  # sources mid-poll

    def token(self, source: str) -> int | None:
        """Our lease's fencing token, renewed first; None when we do not hold it."""
        token = self._tokens.get(source)
        if token is not None and not self.renew(source, token):
            return None
        return token

    def held(self) -> list[str]:
        return list(self._tokens)

    def renew(self, source: str, token: int) -> bool:
        if self.store.sources.renew(source, self.owner, token, utcnow(), self.duration):
            return True
        if self._tokens.pop(source, None) is not None:
            log.warning("lease_expired", source=source, token=token)
        return False

    def forget(self, source: str) -> None:
        """The lease was lost during a poll: someone else holds it now."""
        self._tokens.pop(source, None)

    @contextlib.contextmanager
    def polling(self, source: str) -> Iterator[None]:
        """`balance` never releases a source while this block reads it."""
        self._polling.add(source)
        try:
            yield
        finally:
            self._polling.discard(source)

    def balance(self) -> int:
        """Renew our leases and claim free sources up to our fair share; leases held."""
        now = utcnow()
        # Alive = heartbeated recently; the window spans several heartbeats so one late
        # beat does not make a replica look dead and shift everyone's fair share.
        window = max(self.duration, timedelta(seconds=3 * self._heartbeat_interval()))
        live = self.store.sources.touch_replica(self.owner, now, window)
        if self.store.is_postgres:  # outbox rows a dead replica had claimed
            self.store.outbox.release_claims(
                keep_owners=self.store.sources.live_replicas(now, 2 * self.duration))
        fair = -(-len(self.sources) // live)
        # Keep what we hold (renew), release what is above our share, then claim free ones.
        for name in [n for n in self.sources if n in self._tokens]:
            if len(self._tokens) > fair and name not in self._polling:
                self.store.sources.release(name, self.owner)
                log.info("lease_released", source=name, token=self._tokens.pop(name),
                         replicas=live)
                continue
            self.renew(name, self._tokens[name])
        self._claim_up_to(fair, now, live)
        self._metrics.leases_held(len(self._tokens))
        return len(self._tokens)

    def _claim_up_to(self, fair: int, now: datetime, live: int) -> None:
        names = self.sources
        offset = hash(self.owner) % max(1, len(names))  # replicas start at different places
        for name in names[offset:] + names[:offset]:
            if len(self._tokens) >= fair:
                break
            if name in self._tokens:
                continue
            token = self.store.sources.claim(name, self.owner, now, self.duration)
            if token is not None:
                self._tokens[name] = token
                log.info("lease_acquired", source=name, token=token, replicas=live)

    def release_all(self) -> None:
        """Hand our sources over now rather than when the leases run out."""
        for name in list(self._tokens):
            self.store.sources.release(name, self.owner)
        self._tokens.clear()
        self.store.sources.remove_replica(self.owner)
