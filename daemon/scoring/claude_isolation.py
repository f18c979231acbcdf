"""Batches in flight and the isolation re-asks, each decided as soon as its answer arrives.

No message's verdict may depend on its neighbours.  When a request cannot be trusted as
a whole (an id missing, doubled or unknown; the canary misread) every message of it is
asked again alone.  When a message may have steered the model (the merge policy finds
it suspect in a way only a re-read settles) it is re-read in parts, in a request of its
own, and its neighbours are asked again together in a request without it; a second
distrusted request goes alone (bounded).  A re-read request is itself distrusted when
its canary trips, and then every reading of it is asked alone.

`Isolation` holds one `score()` call's requests.  Answers are handled in the order they
arrive, and whatever they call for is submitted at once, so a re-ask waits for the
request that needs it, not for every other request of the call, and the neighbours of
several steering messages are packed `batch_size` to a request as before.  While no
answer is waiting the caller's `idle` work runs (the offline scores), one message at a
time.  The loop is bounded: each pass consumes one answered request, and every message
causes at most one re-read (plus one request per reading), one request with its
neighbours and one alone.
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from functools import partial

from daemon.scoring.base import Score
from daemon.scoring.claude_prompt import Item
from daemon.scoring.claude_request import Answer, Counters
from daemon.scoring.verdict import variants

Verdict = Score | str  # a Score, or the reason the offline score stands in
Submit = Callable[[list[Item]], "Future[Answer]"]


class Isolation:
    """One call's requests: `send` the first pass, `reread` suspects, then `run`.
    Afterwards `out` holds each sent text's verdict and `prefetched` every re-read."""

    def __init__(self, *, submit: Submit, item: Callable[[str], Item], batch_size: int,
                 counters: Counters, steering: Callable[[str, Score], bool]) -> None:
        self.out: dict[str, Verdict] = {}
        self.prefetched: dict[str, Verdict] = {}
        self._submit = submit
        self._item = item
        self._batch_size = batch_size
        self._counters = counters
        self._steering = steering
        self._done: queue.SimpleQueue[Future[Answer]] = queue.SimpleQueue()
        self._handlers: dict[Future[Answer], Callable[[Answer], None]] = {}
        self._first_open = 0  # first-pass requests not answered yet
        self._together: list[str] = []  # neighbours waiting to fill a request
        self._reread_asked: set[str] = set()
        self._from_reread: list[str] = []  # texts whose verdict is their re-read's

    # -- what to ask ---------------------------------------------------------------

    def send(self, texts: Sequence[str]) -> None:
        """The first pass: `batch_size` texts to a request, each request submitted as
        soon as its messages are prepared (the first goes out while the rest are)."""
        for start in range(0, len(texts), self._batch_size):
            self._first_open += 1
            self._send_batch(texts[start:start + self._batch_size], retry=True)

    def reread(self, texts: Sequence[str]) -> None:
        """For each suspect one request of its own: the whole message, each part, and the
        message without each part, in separate blocks (with a canary).  An instruction
        fools only the blocks it is in; one that reaches across blocks trips the canary
        and then every block is asked alone."""
        for text in dict.fromkeys(texts):
            if text in self._reread_asked:
                continue
            self._reread_asked.add(text)
            keys = list(dict.fromkeys([text, *variants(text)]))
            self._counters.add("reread_requests")
            self._watch([self._item(key) for key in keys], partial(self._on_reread, keys))

    def run(self, idle: Callable[[], bool] | None = None) -> None:
        """Handle answers as they arrive until none is awaited.  While none is waiting,
        `idle()` does one unit of other work (it returns False when it has none)."""
        while self._handlers:  # bounded: see the module text
            future = self._next(idle)
            self._handlers.pop(future)(future.result())  # the requester never raises
            if self._first_open == 0:
                self._pack_together(flush=True)
        for text in self._from_reread:
            self.out[text] = self.prefetched[text]
        self._from_reread.clear()

    # -- answers -----------------------------------------------------------------------

    def _on_batch(self, batch: list[Item], retry: bool, answer: Answer) -> None:
        """A first-pass request (`retry`) or a re-asked one: its verdicts, when the
        request can be trusted; else the re-asks it calls for."""
        if retry:
            self._first_open -= 1
        steering = [item.text for item, verdict in zip(batch, answer.verdicts, strict=True)
                    if isinstance(verdict, Score) and self._steering(item.text, verdict)]
        self.reread(steering)
        if not ((answer.tainted or steering) and len(batch) > 1):
            self.out.update((item.text, verdict)
                            for item, verdict in zip(batch, answer.verdicts, strict=True))
            return
        self._counters.add("tainted_requests")
        texts = [item.text for item in batch]
        if answer.tainted or not retry:
            alone = texts
        else:
            alone = steering
            self._together += [text for text in texts if text not in steering]
            self._pack_together()
        self._from_reread += [text for text in alone if text in steering]
        self._alone([text for text in alone if text not in steering], self.out)

    def _on_reread(self, keys: list[str], answer: Answer) -> None:
        if answer.tainted and len(keys) > 1:
            self._alone(keys, self.prefetched)
        else:
            self.prefetched.update(zip(keys, answer.verdicts, strict=True))

    # -- requests ------------------------------------------------------------------------

    def _send_batch(self, texts: Sequence[str], *, retry: bool) -> None:
        batch = [self._item(text) for text in texts]
        self._watch(batch, partial(self._on_batch, batch, retry))

    def _pack_together(self, *, flush: bool = False) -> None:
        """Neighbours asked again together, `batch_size` to a request; the remainder
        once no first-pass answer can add to it (`flush`)."""
        while len(self._together) >= self._batch_size or (flush and self._together):
            chunk = self._together[:self._batch_size]
            del self._together[:self._batch_size]
            self._send_batch(chunk, retry=False)

    def _alone(self, texts: list[str], into: dict[str, Verdict]) -> None:
        """Each text in a request of its own; its verdict goes `into` the mapping."""
        unique = list(dict.fromkeys(texts))
        self._counters.add("isolated", len(unique))
        for text in unique:
            self._watch([self._item(text)], partial(_first_into, into, text))

    def _watch(self, items: list[Item], handler: Callable[[Answer], None]) -> None:
        future = self._submit(items)
        self._handlers[future] = handler
        future.add_done_callback(self._done.put)  # runs at once if already done

    def _next(self, idle: Callable[[], bool] | None) -> Future[Answer]:
        while idle is not None:
            try:
                return self._done.get_nowait()
            except queue.Empty:
                if not idle():
                    break
        return self._done.get()  # every request has a deadline (http_limits)


def _first_into(into: dict[str, Verdict], text: str, answer: Answer) -> None:
    into[text] = answer.verdicts[0]
