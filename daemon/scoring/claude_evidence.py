"""The offline side of one Claude `score()` call: each text read once, when it is needed.

The merge policy (daemon.scoring.verdict) weighs Claude's verdict against the offline
scorer's reading of the message and, for a non-negative verdict on a message of several
parts, against the most negative reading of one part.  `OfflineReadings` computes each
of these once per text and keeps it: on demand when an answer needs it, or, while the
requests are in flight, one message at a time with the GIL offered to the request
threads after each (`idle`), so a response is handled and the next request sent as soon
as it arrives.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

from daemon.scoring.base import Score
from daemon.scoring.local import LocalScorer
from daemon.scoring.verdict import Evidence, offline_blind, parts, suspicion


class OfflineReadings:
    """Offline scores and evidence of `texts`, memoised by text (one call, one thread)."""

    def __init__(self, offline: LocalScorer, texts: Sequence[str],
                 scores: Sequence[Score] | None = None) -> None:
        self._offline = offline
        self._texts = texts
        self._scores: dict[str, Score] = ({} if scores is None
                                          else dict(zip(texts, scores, strict=True)))
        self._evidence: dict[str, Evidence] = {}
        self._parts_read: set[str] = set()
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
        """Read the next text not read yet, then offer the GIL to a waiting request
        thread; False when every text is read."""
        while self._next < len(self._texts):  # bounded by the texts
            text = self._texts[self._next]
            self._next += 1
            if text not in self._scores:
                self._scores[text] = self._offline.score_one(text)
                time.sleep(0)  # releases the GIL: a waiting request thread runs first
                return True
        return False

    def evidence(self, text: str) -> Evidence:
        found = self._evidence.get(text)
        if found is None:
            # Part readings are needed only to doubt a non-negative verdict; computed
            # lazily by `suspect` so most messages never pay for them.
            found = self._evidence[text] = Evidence(
                local=self.score(text), worst_part=0.0, blind=offline_blind(text),
                multipart=len(parts(text)) > 1)
        return found

    def suspect(self, text: str, verdict: Score) -> tuple[str | None, Evidence]:
        """Why Claude's `verdict` on `text` is not trusted as it is (or None), and the
        evidence that says so."""
        evidence = self.evidence(text)
        if verdict.score > -0.05 and evidence.multipart and text not in self._parts_read:
            self._parts_read.add(text)
            worst = min(self._offline.score_one(piece).score for piece in parts(text))
            evidence = self._evidence[text] = replace(evidence, worst_part=worst)
        return suspicion(verdict, evidence), evidence
