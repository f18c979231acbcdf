"""The Claude scorer: schema-constrained sentiment from the Messages API, never trusted blindly.

One `score(texts)` call: the cache answers repeats; optional cascade mode lets the
offline scorer keep confident neutral/positive messages; the rest is redacted (PII never
leaves the machine), packed `batch_size` to a request (daemon.scoring.claude_prompt) and
sent on a bounded thread pool through the official SDK (daemon.scoring.claude_request:
its retries for 429/5xx/529, our timeout, the breaker and the daily budget).  The answer
is constrained by a JSON schema and validated again (daemon.scoring.claude_answer).

Every request carries fresh random ids and one canary message of known reading; a
request that cannot be trusted as a whole, or that holds a message which may have
steered the model, is asked again so that no message's verdict depends on its
neighbours (daemon.scoring.claude_isolation).  The merge policy (daemon.scoring.verdict)
weighs each verdict against the offline evidence (daemon.scoring.claude_evidence) and
re-reads suspects in parts: text inside a message can never make the final verdict
milder than the evidence.  Claude's verdict can add to what the offline scorer found,
never remove from it: signals are the union and a hard signal caps the score as it does
offline.  When Claude cannot answer (breaker open, errors after retries, refusal, spend
limit, invalid output, budget spent) the offline score is returned with
scorer="fallback", the reason, and `needs_rescore` so the daemon re-scores it later.  No
tools are offered to the model: it can only return numbers and labels.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import structlog

from daemon.scoring.base import Score
from daemon.scoring.cache import ScoreCache, cache_key
from daemon.scoring.claude_answer import parse_answer, parse_verdicts
from daemon.scoring.claude_evidence import OfflineReadings
from daemon.scoring.claude_isolation import Isolation, Verdict
from daemon.scoring.claude_prompt import (
    CANARY_TEXTS,
    OUTPUT_SCHEMA,
    PROMPT_VERSION,
    SYSTEM_PROMPT,
    Item,
    build_user_content,
    fenced,
    language_code,
    nonce,
)
from daemon.scoring.claude_request import Answer, BatchRequester, Counters
from daemon.scoring.guards import CircuitBreaker, DailyBudget
from daemon.scoring.local import CONFIDENT_LABELS, LocalScorer
from daemon.scoring.redact import Redactor
from daemon.scoring.settings import AnthropicScorerSettings
from daemon.scoring.verdict import REREAD, Evidence, merge, settle, variants

__all__ = ["CANARY_TEXTS", "OUTPUT_SCHEMA", "PROMPT_VERSION", "SYSTEM_PROMPT", "ClaudeScorer",
           "build_user_content", "parse_answer", "parse_verdicts"]

log = structlog.get_logger(__name__)

_Suspect = tuple[Score, Evidence, str]  # Claude's verdict, the evidence, the reason


class ClaudeScorer:
    """Implements `Scorer`; thread-safe; `close()` stops the pool and the HTTP client."""

    name = "anthropic"

    def __init__(self, settings: AnthropicScorerSettings, *, offline: LocalScorer,
                 cache: ScoreCache | None = None,
                 clock: Callable[[], float] | None = None,
                 now: Callable[[], datetime] | None = None) -> None:
        self.settings = settings
        self.model = settings.model
        self._offline = offline
        self._cache = cache
        self._redactor = (Redactor(settings.redaction.kinds) if settings.redaction.enabled
                          else None)
        breaker_kwargs: dict[str, Any] = {
            "failure_threshold": settings.breaker.failure_threshold,
            "reset_after": settings.breaker.reset_after.total_seconds()}
        if clock is not None:
            breaker_kwargs["clock"] = clock
        self.breaker = CircuitBreaker(**breaker_kwargs)
        self.budget = DailyBudget(requests_per_day=settings.budget.requests_per_day,
                                  input_tokens_per_day=settings.budget.input_tokens_per_day,
                                  now=now or (lambda: datetime.now(UTC)))
        self._counters = Counters()
        self.stats: dict[str, int] = self._counters.values
        self._requester = BatchRequester(settings, breaker=self.breaker, budget=self.budget,
                                         counters=self._counters)
        self._pool = ThreadPoolExecutor(max_workers=settings.concurrency,
                                        thread_name_prefix="claude-scorer")
        self._identity = f"{settings.model}|{PROMPT_VERSION}"
        self._fallbacks_lock = threading.Lock()
        self.fallbacks: dict[str, int] = {}

    # -- public --------------------------------------------------------------------

    def is_available(self) -> bool:
        """Worth sending now: breaker closed (or ready to probe) and budget left."""
        return self.breaker.available() and self.budget.has_room()

    def score(self, texts: Sequence[str]) -> list[Score]:
        # Without the cascade the offline scores are only needed as answers arrive, so
        # they are computed while the requests are in flight.
        early = self._offline.score(texts) if self.settings.cascade.enabled else None
        readings = OfflineReadings(self._offline, texts, early)
        results: list[Score | None] = [None] * len(texts)
        cached, pending = self._triage(texts, early, results)
        isolation = self._isolation(readings)
        isolation.send(list(pending))
        isolation.run(readings.idle)
        self._remember(isolation.out)
        verdicts: dict[str, Verdict] = {texts[i]: hit for i, hit in cached.items()}
        verdicts.update(isolation.out)
        settled = self._settle(verdicts, readings, isolation)
        for text, indexes in pending.items():
            for index in indexes:
                results[index] = settled[text]
        for index in cached:
            results[index] = settled[texts[index]]
        offline = readings.scores()
        return [r if r is not None else offline[i] for i, r in enumerate(results)]

    def purge_expired(self, max_age_seconds: float | None = None) -> int:
        """Retention: drop cached scores past their TTL or `max_age_seconds`."""
        return self._cache.purge_expired(max_age_seconds) if self._cache is not None else 0

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._requester.close()
        if self._cache is not None:
            self._cache.close()

    # -- one call --------------------------------------------------------------------

    def _triage(self, texts: Sequence[str], offline: Sequence[Score] | None,
                results: list[Score | None]) -> tuple[dict[int, Score], dict[str, list[int]]]:
        """Cache hits by position, and the texts to send with their positions (identical
        texts sent once); the cascade's keeps go straight into `results`."""
        cached: dict[int, Score] = {}
        pending: dict[str, list[int]] = {}
        for index, text in enumerate(texts):
            if not text.strip():
                continue  # the offline verdict (neutral); nothing to send
            if self._cache is not None:
                hit = self._cache.get(cache_key(self._identity, text))
                if hit is not None:
                    cached[index] = hit
                    self._counters.add("cache_hits")
                    continue
            if offline is not None and self._cascade_keeps(offline[index]):
                results[index] = offline[index]
                self._counters.add("cascaded")
                continue
            pending.setdefault(text, []).append(index)
        return cached, pending

    def _isolation(self, readings: OfflineReadings) -> Isolation:
        def submit(items: list[Item]) -> Future[Answer]:
            return self._pool.submit(self._requester.run, items)

        return Isolation(submit=submit, item=self._item, batch_size=self.settings.batch_size,
                         counters=self._counters, steering=readings.steering)

    def _remember(self, verdicts: dict[str, Verdict]) -> None:
        """Count and cache Claude's verdicts (each text once)."""
        for text, verdict in verdicts.items():
            if isinstance(verdict, Score):
                self._counters.add("claude_scored")
                if self._cache is not None:
                    self._cache.put(cache_key(self._identity, text), verdict)

    # -- decisions -----------------------------------------------------------------

    def _cascade_keeps(self, local: Score) -> bool:
        return (local.label in CONFIDENT_LABELS and not local.signals
                and local.confidence >= self.settings.cascade.min_confidence)

    def _fallback(self, local: Score, reason: str) -> Score:
        with self._fallbacks_lock:
            self.fallbacks[reason] = self.fallbacks.get(reason, 0) + 1
        # A refusal is the model's verdict on this text: asking again gives the same.
        return replace(local, scorer="fallback", needs_rescore=reason != "refusal",
                       fallback_reason=reason)

    def _settle(self, verdicts: dict[str, Verdict], readings: OfflineReadings,
                isolation: Isolation) -> dict[str, Score]:
        """Final scores: trusted verdicts merged, suspects re-read in parts alone."""
        out: dict[str, Score] = {}
        suspects: dict[str, _Suspect] = {}
        for text, verdict in verdicts.items():
            if not isinstance(verdict, Score):
                out[text] = self._fallback(readings.score(text), verdict or "invalid_output")
                continue
            reason, known = readings.suspect(text, verdict)
            if reason is None:
                out[text] = merge(verdict, known.local, scorer=self.name, model=self.model)
            else:
                suspects[text] = (verdict, known, reason)
        if suspects:
            out.update(self._recheck(suspects, isolation))
        return out

    def _recheck(self, suspects: dict[str, _Suspect], isolation: Isolation
                 ) -> dict[str, Score]:
        """Suspects settled by the policy, with their re-reads where it needs them
        (asked now unless they were asked while the call's requests were in flight)."""
        rereads = {text: [text, *variants(text)] if reason in REREAD else []
                   for text, (_, _, reason) in suspects.items()}
        isolation.reread([text for text, keys in rereads.items()
                          if keys and text not in isolation.prefetched])
        isolation.run()
        answers = isolation.prefetched
        out: dict[str, Score] = {}
        for text, (verdict, known, reason) in suspects.items():
            checks = [answers.get(v) for v in rereads[text]]
            usable = None if not checks or any(not isinstance(c, Score) for c in checks) \
                else [c for c in checks if isinstance(c, Score)]
            final = settle(verdict, known, usable, scorer=self.name, model=self.model)
            self._counters.add("rechecked")
            if "scorer_disagreement" in final.signals:
                self._counters.add("disagreements")
                # The pipeline logs it with the ticket (warning); here the detail.
                log.debug("scorer_disagreement", reason=reason,
                          claude=round(verdict.score, 3), offline=known.local.score,
                          final=final.score, rereads=len(rereads[text]))
            out[text] = final
        return out

    # -- what leaves the machine -----------------------------------------------------

    def _item(self, text: str) -> Item:
        """One message for a request: a fresh id, what is sent, its detected language."""
        return Item(nonce(), text, self._prepare(text),
                    language_code(self._offline.detect(text).language))

    def _prepare(self, text: str) -> str:
        # Redact before cutting, so a cut cannot split a card number out of recognition.
        if self._redactor is not None:
            redaction = self._redactor.redact(text)
            text = redaction.text
            if redaction.counts:
                self._counters.add("pii_redacted", sum(redaction.counts.values()))
        return fenced(text, self.settings.max_chars_per_message)
