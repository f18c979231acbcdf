"""The merge policy: how Claude's verdict and the offline evidence become one score.

A customer writes the text the model reads, so a model's verdict can be steered: by an
instruction in any language, a role-play, a claimed administrator, a forged answer.  No
list of phrasings can catch the next one, so this policy does not try to recognise the
attack; it bounds what any attack can achieve:

1. Evidence first.  The offline scorer reads every message (its hard signals and its
   negative reading cannot be removed by text that addresses a model).
2. Suspicion is general.  A verdict is *suspect* when an injection was flagged (by the
   offline detector or by the model), when the model is much more positive than the
   offline reading, when the model is non-negative while some part of the message reads
   clearly negative offline, or when the offline scorer cannot read the language at all
   and the model calls a multi-part message non-negative.  None of these needs to know
   the attacker's words.
3. Where the offline side has evidence (it reads the message, or a part of it, as
   negative) the final score is never milder than that evidence: no extra request.
4. Where it has none (an injection was flagged, so the honest reading of the rest is
   wanted; the model is far more positive than a non-negative offline reading; a
   language the offline scorer cannot read), the message is re-read in parts, in a
   request of its own where every reading is a separate block: the message with one part
   left out (for every part) and every part on its own.  An instruction fools only the
   blocks it is in (one that reaches across blocks trips the request's canary, and then
   each reading is asked alone), so the honest reading of the rest is among them, and
   the most severe reading counts.
5. When the final score is clearly more severe than the model's first verdict the
   message carries `scorer_disagreement`.  Suspects that need a re-read also make the
   daemon distrust the request they came in (daemon.scoring.anthropic).

The cost is deliberate: a genuinely mixed message ("it was late, but you fixed it,
thanks!") that looks suspect is scored by its most negative part.  Severity errs towards
a human looking, never towards silence.  Everything here is pure (no I/O) so the policy
is tested on its own; `daemon.scoring.anthropic` runs the requests it asks for.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from daemon.scoring.base import DAEMON_SIGNALS, SIGNALS, Score, label_for
from daemon.scoring.local import cap_for_signals

#: The model this much more positive than the offline reading is not trusted blindly.
DISAGREEMENT = 0.6
#: ... and by this much when the offline reading is itself negative (≤ NEGATIVE_EVIDENCE).
DISAGREEMENT_ON_NEGATIVE = 0.5
NEGATIVE_EVIDENCE = -0.2
#: A part of the message this negative offline makes a non-negative verdict suspect.
CLEARLY_NEGATIVE_PART = -0.5
#: A final score this much below the model's first verdict is a recorded disagreement.
RECORDED_GAP = 0.3
#: Parts a suspect is cut into; the requests it costs are at most 2 * MAX_PARTS.
MAX_PARTS = 5

_SENTENCE_BREAK = re.compile(r"(?<=[.!?;\u3002\uff01\uff1f])\s+|\n+|\s+[-\u2013\u2014]\s+")
_CLAUSE_BREAK = re.compile(r",\s+")
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
# Function words that any English text has; their absence means the offline (English)
# scorer is reading a language it does not know.
_ENGLISH = frozenset({"the", "a", "an", "and", "or", "but", "is", "are", "was", "were", "i",
                      "you", "my", "your", "it", "to", "of", "in", "on", "for", "with",
                      "this", "that", "not", "have", "has", "be", "me", "we", "our", "no",
                      "can", "do", "did", "at", "from", "been", "please", "thanks"})


def _brace_groups(text: str) -> list[str]:
    """`text` cut around its top-level {...} groups (structured data stays one part)."""
    out: list[str] = []
    depth, start = 0, 0
    for index, char in enumerate(text):  # one linear pass
        if char == "{":
            if depth == 0 and index > start:
                out.append(text[start:index])
                start = index
            depth += 1
        elif char == "}" and depth > 0:
            depth -= 1
            if depth == 0:
                out.append(text[start:index + 1])
                start = index + 1
    out.append(text[start:])
    return out


def parts(text: str, limit: int = MAX_PARTS) -> list[str]:
    """The message cut into parts: top-level {...} groups, sentences, and (while there
    are fewer than `limit` parts) the clauses of the longest sentence.  At most `limit`
    parts (the tail joined); empty pieces dropped."""
    pieces: list[str] = []
    for group in _brace_groups(text):
        if group.startswith("{"):
            pieces.append(group.strip())
        else:
            pieces += [p.strip() for p in _SENTENCE_BREAK.split(group) if p and p.strip()]
    for _ in range(limit):  # bounded: each round adds at least one part or stops
        if len(pieces) >= limit:
            break
        candidates = [i for i, p in enumerate(pieces)
                      if not p.startswith("{") and _CLAUSE_BREAK.search(p)]
        if not candidates:
            break
        longest = max(candidates, key=lambda i: len(pieces[i]))
        clauses = [c.strip() for c in _CLAUSE_BREAK.split(pieces[longest]) if c.strip()]
        pieces[longest:longest + 1] = clauses
    pieces = [p for p in pieces if p]
    if len(pieces) > limit:
        pieces = [*pieces[:limit - 1], " ".join(pieces[limit - 1:])]
    return pieces


def variants(text: str) -> list[str]:
    """What a suspect is re-read as: the message without each part, and each part."""
    pieces = parts(text)
    if len(pieces) < 2:
        return []
    out: list[str] = []
    for index in range(len(pieces)):
        out.append(" ".join(p for i, p in enumerate(pieces) if i != index))
    out.extend(pieces)
    return list(dict.fromkeys(v for v in out if v.strip() and v != text))


def offline_blind(text: str) -> bool:
    """True when the text has words but almost none of English's function words."""
    words = [w.lower() for w in _WORD.findall(text)]
    if len(words) < 4:
        return False
    known = sum(1 for w in words if w in _ENGLISH)
    return known / len(words) < 0.08


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the offline side knows about one message."""

    local: Score  # the offline verdict (detector-flagged sentences already left out)
    worst_part: float  # the most negative offline reading of one part (0.0 if one part)
    blind: bool  # the offline scorer cannot read this language
    multipart: bool


#: Suspects whose honest reading needs the model again (the offline side has no evidence).
REREAD = frozenset({"injection", "unexplained", "unreadable_offline"})


def suspicion(verdict: Score, evidence: Evidence) -> str | None:
    """Why `verdict` (the model's) must not be trusted as it is, or None.  Reasons in
    REREAD need re-reads; the others are settled by the offline evidence alone."""
    local = evidence.local
    if "prompt_injection" in verdict.signals or "prompt_injection" in local.signals:
        return "injection"
    gap = verdict.score - local.score
    if gap >= DISAGREEMENT and local.score > -0.05:
        return "unexplained"
    if gap >= DISAGREEMENT or (local.score <= NEGATIVE_EVIDENCE
                               and gap >= DISAGREEMENT_ON_NEGATIVE):
        return "disagreement"
    if verdict.score > -0.05:
        if evidence.worst_part <= CLEARLY_NEGATIVE_PART:
            return "negative_part"
        if evidence.blind and evidence.multipart:
            return "unreadable_offline"
    return None


#: The model reads every language: "unsupported" is the offline scorer's limit only.
_OFFLINE_ONLY = frozenset({"unsupported_language"})


def merge(verdict: Score, local: Score, *, scorer: str, model: str) -> Score:
    """A trusted verdict: the model's score with the offline hard signals kept."""
    signals = (verdict.signals | local.signals) & SIGNALS - _OFFLINE_ONLY
    value = cap_for_signals(verdict.score, signals)
    indicators = tuple(dict.fromkeys((*local.indicators[:3], *verdict.indicators)))[:8]
    return Score(score=round(value, 4), label=label_for(value), confidence=verdict.confidence,
                 indicators=indicators, signals=frozenset(signals), scorer=scorer, model=model,
                 topic=verdict.topic, language=local.language, language_supported=True)


def settle(verdict: Score, evidence: Evidence, checks: Sequence[Score] | None, *,
           scorer: str, model: str) -> Score:
    """A suspect's final score: the most severe of the model's verdict, its re-reads
    (`checks`; None when none were made or they failed) and the negative offline
    evidence (the whole message's reading, a clearly negative part's)."""
    local = evidence.local
    readings = [verdict.score, *(c.score for c in checks or ())]
    if local.score < -0.05:
        readings.append(local.score)
    if checks is None or evidence.worst_part <= CLEARLY_NEGATIVE_PART:
        # No re-read, or a part that reads clearly negative: the offline parts count.
        readings.append(min(evidence.worst_part, 0.0))
    value = min(readings)
    signals = set(verdict.signals | local.signals)
    for check in checks or ():
        signals |= check.signals - DAEMON_SIGNALS
    if value <= verdict.score - RECORDED_GAP:
        signals.add("scorer_disagreement")
    value = cap_for_signals(value, signals)
    indicators = tuple(dict.fromkeys((*local.indicators[:3], *verdict.indicators,
                                      *(i for c in checks or () for i in c.indicators))))[:8]
    return Score(score=round(value, 4), label=label_for(value), confidence=verdict.confidence,
                 indicators=indicators, signals=frozenset(signals & SIGNALS - _OFFLINE_ONLY),
                 scorer=scorer, model=model, topic=verdict.topic, language=local.language,
                 language_supported=True)
