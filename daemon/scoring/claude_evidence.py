"""The offline side of one Claude `score()` call: each text read once, when it is needed.

The merge policy (daemon.scoring.verdict) weighs Claude's verdict against the offline
scorer's reading of the message and, for a non-negative verdict on a message of several
parts, against the most negative reading of one part.  `OfflineReadings` computes each
of these once per text and keeps it: on demand when an answer needs it, or, while the
requests are in flight, one message at a time with the GIL offered to the request
threads after each (`idle`), so a response is handled and the next request sent as soon
as it arrives.

The part readings cost several offline readings per message, and the client's CPU (one
GIL) is what limits a call with many requests in flight.  When an answer arrives only
one question is urgent: does a verdict call for a re-read (`steering`)?  That is asked
of the policy with the most and the least negative part reading possible; when both
give the same answer the parts cannot change it, and they are read later, while other
requests are in flight, for the final merge (which always has them).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

from daemon.scoring.base import Score
from daemon.scoring.local import LocalScorer
from daemon.scoring.verdict import REREAD, Evidence, offline_blind, parts, suspicion


class OfflineReadings:
    """Offline scores and evidence of `texts`, memoised by text (one call, one thread)."""

    def __init__(self, offline: LocalScorer, texts: Sequence[str],
                 scores: Sequence[Score] | None = None) -> None:
        self._offline = offline
        self._texts = texts
        self._scores: dict[str, Score] = ({} if scores is None
                                          else dict(zip(texts, scores, strict=True)))
        self._evidence: dict[str, Evidence] = {}
        self._worst: dict[str, float] = {}  # the most negative part reading, once read
        self._parts_wanted: list[str] = []  # read when idle
        self._next = 0

    def score(self, text: str) -> Score:
        found = self._scores.get(text)
        if found is None:
            found = self._scores[text] = self._offline.score_one(text)
        return found

    def scores(self) -> list[Score]:
        """One offline score per text, in order."""
        return [self.score(text) for text in self._texts]

    def idle(self) -> bool:
        """Read the next text not read yet (or the parts of one whose verdict will need
        them), then offer the GIL to a waiting request thread; False when none is left."""
        while self._next < len(self._texts):  # bounded by the texts
            text = self._texts[self._next]
            self._next += 1
            if text not in self._scores:
                self._scores[text] = self._offline.score_one(text)
                time.sleep(0)  # releases the GIL: a waiting request thread runs first
                return True
        while self._parts_wanted:  # bounded: one entry per text
            text = self._parts_wanted.pop()
            if text not in self._worst:
                self._read_parts(text)
                time.sleep(0)
                return True
        return False

    def evidence(self, text: str) -> Evidence:
        found = self._evidence.get(text)
        if found is None:
            # Part readings are needed only to doubt a non-negative verdict (`suspect`
            # adds them to the evidence then): most messages never pay for them.
            found = self._evidence[text] = Evidence(
                local=self.score(text), worst_part=0.0, blind=offline_blind(text),
                multipart=len(parts(text)) > 1)
        return found

    def suspect(self, text: str, verdict: Score) -> tuple[str | None, Evidence]:
        """Why Claude's `verdict` on `text` is not trusted as it is (or None), and the
        evidence that says so."""
        if self._wants_parts(text, verdict):
            self._read_parts(text)
        evidence = self.evidence(text)
        if verdict.score > -0.05 and text in self._worst:
            evidence = replace(evidence, worst_part=self._worst[text])
        return suspicion(verdict, evidence), evidence

    def steering(self, text: str, verdict: Score) -> bool:
        """Does `verdict` call for a re-read (a reason in REREAD)?  The same answer as
        `suspect`, without reading the parts when no part reading could change it."""
        if not self._wants_parts(text, verdict):
            return self.suspect(text, verdict)[0] in REREAD
        evidence = self.evidence(text)
        answers = {suspicion(verdict, replace(evidence, worst_part=bound)) in REREAD
                   for bound in (-1.0, 1.0)}
        if len(answers) == 1:
            self._parts_wanted.append(text)
            return answers.pop()
        return self.suspect(text, verdict)[0] in REREAD

    def _wants_parts(self, text: str, verdict: Score) -> bool:
        # Only a non-negative verdict is doubted by a part's reading.
        return (verdict.score > -0.05 and text not in self._worst
                and self.evidence(text).multipart)

    def _read_parts(self, text: str) -> None:
        self._worst[text] = min(self._offline.score_one(piece).score for piece in parts(text))
