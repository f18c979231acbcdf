"""Pipeline throughput against the original article's per-message approach.

20,000 customer messages over 2,000 tickets (the project's deterministic generator), the
offline scorer, a SQLite file.  Three runs in one process, same scorer, same texts:
- pipeline: our Pipeline in poll-sized batches (normalise, dedupe, score, one
  transaction per batch with incident detection, rule evaluation and outbox rows,
  cursor advance), built as the daemon builds it from the shipped config;
- reference: what the article does per message — score it, open a SQLite connection,
  insert, commit, then query the ticket's scores for the trend;
- scorer alone: the same texts through the scorer, one call per poll batch.
The messages are made a poll batch at a time (`Workload`), as a daemon receives them,
not held as 100,000 objects the daemon would never have; making a batch is outside
every timing.
Overhead per message = time per message minus the scorer's own time per message, where
the scorer's own time is measured inside the same run (every `score()` call is timed).
Subtracting a separate scorer-alone run instead made the overhead the small difference
of two large numbers taken minutes apart on a shared machine: the same code gave ratios
from 13 to 27.  Each is run `--repeats` times (interleaved) and the medians are
reported; `scorer_msgs_per_s` is the scorer alone, for `pipeline_vs_scorer`.
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from array import array
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connectors.base import Message, TicketSnapshot
from connectors.sandbox.conversations import iter_generate
from daemon.config import load_config
from daemon.incidents import IncidentTracker
from daemon.logs import configure
from daemon.pipeline import SERIES_CACHE_TICKETS, Pipeline
from daemon.scoring.base import Score
from daemon.scoring.local import LocalScorer
from daemon.store import Store

REPO = Path(__file__).resolve().parent.parent


class Workload:
    """The bench's messages, made a poll batch at a time from a compact plan.

    A daemon never holds its whole backlog: it receives messages in poll batches.  The
    bench used to build all of them as objects up front (about 58 MB for 100,000), which
    the daemon would never have in memory; now it keeps what it needs to make the same
    messages again (per message: ticket, position, time and an index into the few
    distinct texts) and builds each batch's `Message` objects when that batch is due.
    The messages, their order and their batches are exactly what the list gave.
    """

    def __init__(self, n_tickets: int, n_messages: int) -> None:
        self.start = datetime(2026, 11, 1, tzinfo=UTC)
        # Per ticket, its subject and customer name as indexes into the few distinct ones.
        subject_ids: dict[str, int] = {}
        customer_ids: dict[str, int] = {}
        self._subject, self._customer = array("i"), array("i")
        text_ids: dict[str, int] = {}
        ticket, position, text = array("i"), array("i"), array("i")
        micros = array("q")  # since `start`, as the original's running sum of timedeltas
        for number, conversation in enumerate(iter_generate(
                n_tickets, n_messages, seed=42, agent_share=0.0, note_share=0.0)):
            self._subject.append(subject_ids.setdefault(conversation.subject,
                                                        len(subject_ids)))
            self._customer.append(customer_ids.setdefault(conversation.customer_name,
                                                          len(customer_ids)))
            moment = timedelta()
            for index, turn in enumerate(conversation.turns):
                assert not turn.html  # customer-only load: plain text
                moment += timedelta(minutes=turn.after_minutes)
                ticket.append(number)
                position.append(index)
                text.append(text_ids.setdefault(turn.text, len(text_ids)))
                micros.append(moment // timedelta(microseconds=1))
        self.texts: list[str] = list(text_ids)
        self.subjects: list[str] = list(subject_ids)
        self.customers: list[str] = list(customer_ids)
        # Time order; ties keep generation order, as a stable sort of the full list did.
        order = sorted(range(len(micros)), key=micros.__getitem__)
        self._ticket = array("i", (ticket[i] for i in order))
        self._position = array("i", (position[i] for i in order))
        self._text = array("i", (text[i] for i in order))
        self._micros = array("q", (micros[i] for i in order))

    def __len__(self) -> int:
        return len(self._micros)

    def batches(self, size: int) -> Iterator[list[Message]]:
        for begin in range(0, len(self), size):
            yield [self._message(i) for i in range(begin, min(begin + size, len(self)))]

    def _message(self, i: int) -> Message:
        number = self._ticket[i]
        subject = self.subjects[self._subject[number]]
        customer = self.customers[self._customer[number]]
        ticket_id = str(10_000 + number)
        snapshot = TicketSnapshot(ticket_id=ticket_id, subject=subject,
                                  url=f"https://bench.invalid/agent/tickets/{ticket_id}",
                                  status="open", priority="normal", requester=customer)
        return Message(message_id=f"{ticket_id}-{self._position[i]}", ticket_id=ticket_id,
                       author_role="customer", public=True,
                       created_at=self.start + timedelta(microseconds=self._micros[i]),
                       body=self.texts[self._text[i]], ticket=snapshot)


class TimedScorer(LocalScorer):
    """The offline scorer, counting the seconds spent inside `score()`."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds = 0.0

    def score(self, texts: Sequence[str]) -> list[Score]:
        began = time.perf_counter()
        try:
            return super().score(texts)
        finally:
            self.seconds += time.perf_counter() - began


class TimedTracker(IncidentTracker):
    """The incident step (topics, window, decisions), counting the seconds it takes."""

    seconds = 0.0

    def candidates(self, *args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return super().candidates(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - began

    def process(self, *args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return super().process(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - began


def run_pipeline(messages: Workload, db: Path, batch: int,
                 series_cache: int | None = None) -> tuple[float, float, float]:
    """(seconds for the whole run, of which inside the scorer, of which incidents)."""
    config = load_config(REPO / "config.yaml", env={})
    rules = config.rules
    store = Store(f"sqlite:///{db}")
    store.create_schema()
    store.sources.ensure(["bench"])
    scorer = TimedScorer()
    # As the daemon builds it: with the shipped config's incident detection.
    tracker = TimedTracker(store, lambda: config.top.incidents)
    sizes = {} if series_cache is None else {"series_cache_size": series_cache}
    pipeline = Pipeline(store, scorer, lambda: rules, incidents=tracker, **sizes)
    elapsed = 0.0  # in `process` only: making the batch is the bench's work, not ours
    for number, polled in enumerate(messages.batches(batch)):
        began = time.perf_counter()
        pipeline.process("bench", polled, f"cursor-{number * batch}")
        elapsed += time.perf_counter() - began
    store.close()
    return elapsed, scorer.seconds, tracker.seconds


def run_reference(messages: Workload, db: Path, batch: int) -> tuple[float, float]:
    """The article: per message, score, connect, insert, commit, read the ticket's trend.
    (seconds for the whole run, of which inside the scorer)."""
    scorer = TimedScorer()
    setup = sqlite3.connect(db)
    setup.execute("CREATE TABLE sentiment_log (ticket_id TEXT, message_number INTEGER, "
                  "score REAL, label TEXT, indicators TEXT, analyzed_at TEXT)")
    setup.commit()
    setup.close()
    numbers: dict[str, int] = {}
    elapsed = 0.0
    for polled in messages.batches(batch):
        began = time.perf_counter()
        _reference_batch(polled, db, scorer, numbers)
        elapsed += time.perf_counter() - began
    return elapsed, scorer.seconds


def _reference_batch(messages: list[Message], db: Path, scorer: LocalScorer,
                     numbers: dict[str, int]) -> None:
    for message in messages:
        sentiment = scorer.score([message.body])[0]
        number = numbers[message.ticket_id] = numbers.get(message.ticket_id, 0) + 1
        conn = sqlite3.connect(db)
        conn.execute("INSERT INTO sentiment_log (ticket_id, message_number, score, label, "
                     "indicators, analyzed_at) VALUES (?, ?, ?, ?, ?, datetime('now'))",
                     (message.ticket_id, number, sentiment.score, sentiment.label,
                      json.dumps(list(sentiment.indicators))))
        conn.commit()
        scores = [r[0] for r in conn.execute(
            "SELECT score FROM sentiment_log WHERE ticket_id = ? ORDER BY message_number",
            (message.ticket_id,)).fetchall()]
        if len(scores) >= 2:
            recent, earlier = scores[-3:], scores[:3]
            _direction = sum(recent) / len(recent) - sum(earlier) / len(earlier)
        conn.close()


def run_scorer(messages: Workload, batch: int) -> float:
    """The scorer alone, one call per poll batch (as the pipeline calls it)."""
    from daemon.text import normalise

    scorer = LocalScorer()
    elapsed = 0.0
    for polled in messages.batches(batch):
        texts = [normalise(m.body, is_html=m.body_is_html).text for m in polled]
        began = time.perf_counter()
        scorer.score(texts)
        elapsed += time.perf_counter() - began
    return elapsed


def _status_mb(field: str) -> float:
    """A memory figure of this process from /proc (Linux), in MB; 0 where unavailable."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _reset_peak() -> bool:
    """Start the peak RSS (VmHWM) over from the current RSS (Linux: clear_refs 5)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=2000)
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=1000, help="messages per poll batch")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each; medians reported")
    parser.add_argument("--no-reference", action="store_true",
                        help="skip the article's per-message run (minutes on a slow machine)")
    parser.add_argument("--series-cache", type=int, default=None,
                        help="the pipeline's series cache, in tickets (default: Pipeline's)")
    args = parser.parse_args()
    configure(level="warning", fmt="json")  # as in production: no per-message log lines
    messages = Workload(args.tickets, args.messages)
    scorer_runs: list[float] = []
    pipeline_runs: list[tuple[float, float, float]] = []
    reference_runs: list[tuple[float, float]] = []
    peak_rss_mb = 0.0
    rss_before_mb = 0.0
    pipeline_peak_mb: float | None = None
    # Interleaved repeats, medians reported: this machine is shared and noisy.
    for repeat in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            scorer_runs.append(run_scorer(messages, args.batch))
            gc.collect()
            if repeat == 0:
                rss_before_mb = _status_mb("VmRSS")
                reset = _reset_peak()
            pipeline_runs.append(run_pipeline(messages, Path(tmp) / "pipeline.db", args.batch,
                                              args.series_cache))
            if repeat == 0:
                peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                pipeline_peak_mb = _status_mb("VmHWM") if reset else None
            if not args.no_reference:
                reference_runs.append(run_reference(messages, Path(tmp) / "reference.db",
                                                    args.batch))
    n = len(messages)
    scorer_s = statistics.median(scorer_runs)
    pipeline_s = statistics.median(total for total, _scoring, _incidents in pipeline_runs)
    reference_s = statistics.median(
        total for total, _scoring in reference_runs) if reference_runs else None
    pipeline_overhead = statistics.median(
        total - scoring for total, scoring, _incidents in pipeline_runs) / n
    incidents_cost = statistics.median(incidents for _t, _s, incidents in pipeline_runs) / n
    reference_overhead = statistics.median(
        total - scoring for total, scoring in reference_runs) / n if reference_runs else None
    print(json.dumps({
        "messages": n, "tickets": args.tickets, "batch": args.batch, "repeats": args.repeats,
        "series_cache": args.series_cache or SERIES_CACHE_TICKETS,
        "pipeline_msgs_per_s": round(n / pipeline_s, 1),
        "reference_msgs_per_s": round(n / reference_s, 1) if reference_s else None,
        "scorer_msgs_per_s": round(n / scorer_s, 1),
        "pipeline_overhead_ms": round(pipeline_overhead * 1000, 4),
        # Of the overhead, the incident step (topics of negative messages, window,
        # decisions), timed inside the same runs.
        "incidents_ms": round(incidents_cost * 1000, 4),
        "incidents_share_of_overhead": round(incidents_cost / pipeline_overhead, 3)
        if pipeline_overhead > 0 else None,
        "reference_overhead_ms": round(reference_overhead * 1000, 4)
        if reference_overhead is not None else None,
        "overhead_ratio": round(reference_overhead / pipeline_overhead, 1)
        if reference_overhead is not None and pipeline_overhead > 0 else None,
        "pipeline_vs_scorer": round(scorer_s / pipeline_s, 3),
        "peak_rss_mb": round(peak_rss_mb, 1),
        # The same peak counted from the first pipeline run's start (the scorer's load
        # and the bench's own message list are in `rss_before_pipeline_mb`).
        "rss_before_pipeline_mb": round(rss_before_mb, 1),
        "pipeline_peak_rss_mb": round(pipeline_peak_mb, 1) if pipeline_peak_mb else None,
    }))


if __name__ == "__main__":
    main()
