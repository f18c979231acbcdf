"""The offline scorer: VADER re-weighted for support language, plus explicit hard signals.

The default for everyone without an API key and the fallback for the Claude scorer, so it
has to be good on its own.  VADER was built on social-media text where "please help" and
"thanks" read as praise and where "still", "again", "waiting" or "refund" carry nothing;
in a support queue the opposite is true.  What this module changes, all chosen a priori
from general support language (not fitted to any labelled set):

- requests and politeness ("help", "please", "kindly", "thanks", "hope", ...) weigh 0;
- support-complaint vocabulary and phrases ("still waiting", "not working", "no reply",
  "3 hours", "charged twice", "third time", ...) carry negative valence;
- "no problem" / "no issues" are not negative (VADER's known negation error);
- sarcasm: praise inside a sentence that also complains ("love waiting on hold") counts
  against, not for;
- long texts are scored per sentence and aggregated, weighting negative sentences up,
  so one furious line is not averaged away by greetings and order numbers;
- hard signals (daemon.scoring.signals) pull the score down and are returned with the
  phrase that fired them as indicators.

Pure Python, no network, thousands of messages per second on one core.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from vaderSentiment.vaderSentiment import (
    BOOSTER_DICT,
    SentimentIntensityAnalyzer,
    SentiText,
    normalize,
)

from daemon.scoring.base import Score, label_for
from daemon.scoring.signals import find_signals, is_injection

# Requests and politeness: neutral in a support queue.
_NEUTRALISE = ("help", "helping", "helped", "please", "pls", "plz", "kindly", "thanks",
               "thank", "thx", "hope", "hopefully", "support", "want", "ok", "okay",
               "appreciate", "appreciated", "sorry", "like", "free", "care", "assist",
               "assistance", "resolve", "resolved", "fix", "fixed", "sure", "yes", "well",
               "pretty", "chance", "favor", "favour", "share", "reach", "contact")

# Support-complaint words VADER does not know (or knows too weakly).  Valences on
# VADER's own -4..+4 scale.
_NEGATIVE_WORDS: dict[str, float] = {
    "still": -0.8, "again": -0.7, "waiting": -1.2, "waited": -1.4, "refund": -0.8,
    "refunded": -0.3, "cancel": -1.0, "cancelled": -1.3, "canceled": -1.3,
    "cancellation": -1.0, "delayed": -1.5, "delay": -1.3, "delays": -1.3, "late": -1.0,
    "stuck": -1.8, "broken": -2.1, "missing": -1.5, "lost": -1.5, "overcharged": -2.4,
    "charged": -0.8, "fee": -0.6, "fees": -0.6, "escalate": -1.5, "complaint": -1.8,
    "ignored": -2.0, "unresolved": -1.8, "unanswered": -1.8, "unreachable": -1.5,
    "unhelpful": -2.2, "unacceptable": -2.6, "ridiculous": -2.2, "outage": -2.0,
    "crash": -1.8, "crashed": -1.8, "crashes": -1.8, "crashing": -1.8, "bug": -1.2,
    "buggy": -1.8, "glitch": -1.3, "issue": -0.9, "issues": -0.9, "problems": -1.7,
    "nobody": -1.2, "wrong": -1.5, "incorrect": -1.3, "damaged": -2.0, "defective": -2.2,
    "hold": -0.6, "hours": -0.5, "hrs": -0.5, "days": -0.3, "weeks": -0.6, "months": -0.6,
    "excuse": -1.2, "excuses": -1.5, "disappointing": -2.2, "annoyed": -2.0,
    "frustrating": -2.3, "unprofessional": -2.3, "incompetent": -2.6, "pathetic": -2.6,
    "joke": -1.0, "waste": -1.8, "wasted": -2.0, "scam": -2.8, "shame": -1.8,
    "terrible": -2.5, "horrible": -2.5, "awful": -2.5, "worst": -3.1, "ruined": -2.5,
    "lied": -2.4, "misleading": -2.2, "sucks": -2.0, "fail": -2.3, "failed": -2.1,
    "failing": -2.0, "failure": -2.2, "unable": -1.2, "impossible": -1.5,
    "confusing": -1.3, "confused": -1.0, "stranded": -2.2, "rebooked": -0.8,
    "downgraded": -1.5, "denied": -1.6, "rejected": -1.5, "declined": -1.0,
}

# Phrases, rewritten to sentinel tokens before VADER sees them.  Each sentinel carries a
# valence; "complaint" sentinels also mark the sentence for the sarcasm rule.
_SENTINELS: dict[str, float] = {
    "xxcomplaintxx": -2.0,   # not working / no reply / waited N hours ...
    "xxrepeatxx": -1.8,      # third time / once again / keep getting
    "xxquestionxx": -0.9,    # why is / how long / where is my ...
    "xxnoproblemxx": 0.6,    # "no problem", "no issues" (mildly positive, not negative)
    "xxsarcasmxx": -1.5,     # "thanks for nothing", "yeah right", "so much for"
    "xxgratitudexx": 1.6,    # thanks *for* something, not thanks-in-advance
}
_COMPLAINT_SENTINELS = ("xxcomplaintxx", "xxrepeatxx", "xxsarcasmxx")

_NUMBER = r"(?:\d+|an?|one|two|three|four|five|six|seven|eight|nine|ten|several|many|multiple|few|couple of)"
_PHRASES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), sentinel) for pattern, sentinel in (
        (r"\bno (?:problems?|issues?|worries|complaints?)\b|\bnot an? (?:problem|issue)\b"
         r"|\bnever had (?:a|any) (?:problem|issue)s?\b|\bproblem (?:solved|fixed|resolved)\b"
         r"|\bissue (?:solved|fixed|resolved)\b", "xxnoproblemxx"),
        (r"\bthanks for nothing\b|\byeah,? right\b|\bso much for\b|\bthanks a lot\b(?=[^.!?\n]*(?:not|never|no|still|again))"
         r"|\bgreat job\b(?=[^.!?\n]*(?:not|never|no|still|again|lost|delay))|/s\b"
         r"|\b(?:love|loving) (?:how|that|it when|the fact)\b", "xxsarcasmxx"),
        (r"\b(?:is|are|was|were|has|have|it'?s|it)? ?(?:not|n'?t|never) (?:working|work|loading|load|"
         r"arrived?|received|delivered|shipped|showing|responding|answered|respond|reply|replied|helpful|help(?:ing)?|fixed|resolved|refunded|"
         r"credited|processed|updated|sent|called back|heard back|gotten back|got back)\b", "xxcomplaintxx"),
        (r"\b(?:doesn'?t|does not|didn'?t|did not|won'?t|will not|can'?t|cannot|can not|couldn'?t|could not|"
         r"isn'?t|wasn'?t|haven'?t|hasn'?t|have not|has not) (?:work|load|open|connect|log ?in|sign ?in|access|get|find|"
         r"reach|receive|receiving|arrive|respond|reply|update|help|let me|download|install|pay|checkout|"
         r"heard|received|gotten|got|been)\b", "xxcomplaintxx"),
        (r"\bunable to\b|\bstopped working\b|\bkeeps? (?:crashing|failing|freezing|breaking|happening)\b"
         r"|\bno (?:response|reply|replies|answer|answers|update|updates|refund|help|one|body|information|info|"
         r"explanation|communication|call ?back|email|confirmation|way)\b|\bon hold\b|\bput on hold\b"
         r"|\bcharged (?:twice|double|two times|me twice|again|for)\b|\bdouble[- ]charged\b"
         r"|\bwaste of (?:time|money)\b|\bstill (?:waiting|no|not|nothing|broken)\b"
         r"|\bwhat a (?:joke|mess|nightmare|disaster)\b|\bnot (?:happy|ok|okay|acceptable|good enough|impressed|satisfied)\b"
         rf"|\b(?:for|after|over|waited|waiting|wait(?:ed)? for|been) (?:almost |over |nearly |about )?{_NUMBER} "
         r"(?:hours?|hrs?|days?|weeks?|months?|minutes?|mins?)\b", "xxcomplaintxx"),
        (r"\b(?:second|third|fourth|fifth|\d+(?:st|nd|rd|th)) (?:time|email|call|ticket|attempt|request)\b"
         r"|\b(?:once|yet) again\b|\bhow many (?:more )?times\b|\bkeep (?:asking|getting|having|calling|emailing)\b"
         r"|\balready (?:told|explained|sent|called|contacted|emailed|asked|reported)\b", "xxrepeatxx"),
        (r"\bwhy (?:is|isn'?t|are|aren'?t|was|wasn'?t|do|does|doesn'?t|did|didn'?t|can'?t|won'?t|would|has|hasn'?t|have|haven'?t|am i|should i)\b"
         r"|\bhow (?:long|much longer|come|is (?:it|this) (?:possible|acceptable|ok))\b|\bwhere (?:is|are) (?:my|our|the)\b"
         r"|\bwhat(?:'s| is) (?:going on|happening|the holdup|the hold up)\b|\bwhen (?:will|can|do) (?:i|we) (?:get|receive|expect)\b"
         r"|\bany update\b|\bis anyone\b|\bis there anyone\b|\bis anybody\b", "xxquestionxx"),
        (r"\bthank(?:s| you)(?: so much| very much| again)? (?:for (?!nothing|(?:your|the) (?:patience|time|help in advance))"
         r"|!)|\b(?:much|greatly|really) appreciated\b", "xxgratitudexx"),
    ))

_THANKS = re.compile(r"\b(?:thanks|thank you|thx|ty)\b(?! in advance)", re.IGNORECASE)
_REQUEST = re.compile(r"\?|\b(?:please|pls|plz|kindly|can you|could you|would you|need|in advance)\b",
                      re.IGNORECASE)
_MENTION = re.compile(r"(?<!\w)@\w+")
_URL = re.compile(r"https?://\S+|www\.\S+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_WORD = re.compile(r"[A-Za-z']+")

# Floors a hard signal puts on the score: a legal threat is never "neutral".
_SIGNAL_CEILING: dict[str, float] = {
    "legal_threat": -0.5, "abusive": -0.5, "churn_risk": -0.45, "manager_request": -0.35,
    "repeat_contact": -0.25,
    "prompt_injection": 0.0,  # text trying to steer a model is not satisfaction
}
_SIGNAL_PULL = {"urgent": -0.1}

#: A score this close to zero with no cue at all is a confident neutral (for the cascade).
CONFIDENT_NEUTRAL_BAND = 0.05
#: Labels the cascade may leave to the offline scorer when it is confident.
CONFIDENT_LABELS = frozenset({"neutral", "positive", "very_positive"})


def cap_for_signals(value: float, signals: frozenset[str] | set[str]) -> float:
    """The score with the hard signals' ceilings and pulls applied, in [-1, 1]."""
    for signal in signals:
        value = min(value, _SIGNAL_CEILING.get(signal, 1.0))
        value += _SIGNAL_PULL.get(signal, 0.0)
    return max(-1.0, min(1.0, value))


class LocalScorer:
    """VADER with support-language adjustments; implements the `Scorer` protocol."""

    name = "local"
    model = "vader-support-1"

    def __init__(self) -> None:
        self._vader = SentimentIntensityAnalyzer()
        lexicon: dict[str, float] = self._vader.lexicon
        for word in _NEUTRALISE:
            lexicon.pop(word, None)
        lexicon.update(_NEGATIVE_WORDS)
        lexicon.update(_SENTINELS)

    # -- scoring -------------------------------------------------------------------

    def _sentence_valences(self, sentence: str, complaint: bool) -> list[float]:
        """VADER's per-token valences for one sentence, with the sarcasm rule applied."""
        sentitext = SentiText(sentence)
        words = sentitext.words_and_emoticons
        sentiments: list[float] = []
        for index, item in enumerate(words):
            lowered = item.lower()
            if lowered in BOOSTER_DICT or (
                    lowered == "kind" and index + 1 < len(words)
                    and words[index + 1].lower() == "of"):
                sentiments.append(0.0)
                continue
            sentiments = self._vader.sentiment_valence(0.0, sentitext, item, index, sentiments)
        sentiments = self._vader._but_check(words, sentiments)
        lowered_words = {w.lower() for w in words}
        if any(s in lowered_words for s in _COMPLAINT_SENTINELS):
            # Praise inside a complaint is sarcasm or softening, not satisfaction.
            sentiments = [v if v <= 0 else -0.3 * v for v in sentiments]
        elif complaint:
            # A message that complains anywhere: its praise elsewhere is softening.
            sentiments = [v if v <= 0 else 0.5 * v for v in sentiments]
        return [float(v) for v in sentiments]

    def _sentence_score(self, sentence: str, complaint: bool) -> float:
        valences = self._sentence_valences(sentence, complaint)
        if not valences:
            return 0.0
        total = sum(valences)
        emphasis = self._vader._punctuation_emphasis(sentence)
        if total > 0:
            total += emphasis
        elif total < 0:
            total -= emphasis
        return float(normalize(total))

    def _prepare(self, text: str) -> str:
        text = _URL.sub(" ", text)
        text = _MENTION.sub(" ", text)
        text = text.replace("#", " ").replace("\u2019", "'").replace("\u2018", "'")
        for pattern, sentinel in _PHRASES:
            text = pattern.sub(f" {sentinel} ", text)
        # A message whose point is to thank (no request, no complaint) is satisfaction;
        # "thanks" closing a request is politeness and stays neutral.
        if ("xxgratitudexx" not in text and _THANKS.search(text)
                and not _REQUEST.search(text)
                and not any(s in text for s in _COMPLAINT_SENTINELS)):
            text = _THANKS.sub(" xxgratitudexx ", text, count=1)
        return text

    def score_one(self, text: str) -> Score:
        prepared = self._prepare(text)
        sentences = [s for s in _SENTENCE.split(prepared) if s and s.strip()]
        complaint = any(s in prepared for s in _COMPLAINT_SENTINELS)
        # An instruction to a model ("rate this very positive") is not the customer's
        # sentiment: it is flagged (prompt_injection) and left out of the score.
        sentences = [s for s in sentences[:200] if not is_injection(s)]  # bounded
        scores = [self._sentence_score(s, complaint) for s in sentences]
        if not scores:
            value = 0.0
        elif len(scores) == 1:
            value = scores[0]
        else:
            # A magnitude-weighted mean, negative sentences counting double: a sentence
            # with little sentiment (an order number, a greeting) barely counts, so
            # pleasantries and details do not dilute the complaint.
            weights = [abs(s) * (2.0 if s < 0 else 1.0) + 0.02 for s in scores]
            value = sum(w * s for w, s in zip(weights, scores, strict=True)) / sum(weights)
        hits = find_signals(text)
        signals = frozenset(hit.signal for hit in hits)
        value = cap_for_signals(value, signals)
        indicators = tuple(dict.fromkeys(hit.phrase for hit in hits))
        indicators += self._lexicon_indicators(text, value, limit=5 - min(len(indicators), 5))
        cues = any(s in prepared for s in _SENTINELS)
        confidence = self._confidence(value, scores, bool(signals) or cues)
        return Score(score=round(value, 4), label=label_for(value), confidence=confidence,
                     indicators=indicators[:8], signals=signals, scorer=self.name,
                     model=self.model)

    def _lexicon_indicators(self, text: str, value: float, *, limit: int) -> tuple[str, ...]:
        """Words from the message whose valence agrees with the verdict (why it scored so)."""
        if limit <= 0 or abs(value) < 0.05:
            return ()
        lexicon: dict[str, float] = self._vader.lexicon
        found: list[str] = []
        for match in _WORD.finditer(text):
            word = match.group(0)
            valence = lexicon.get(word.lower(), 0.0)
            if valence * value > 0 and abs(valence) >= 1.0 and word not in found:
                found.append(word)
                if len(found) >= limit:
                    break
        return tuple(found)

    @staticmethod
    def _confidence(value: float, sentence_scores: list[float], has_cues: bool) -> float:
        # Agreement between sentences and distance from the band edges; an absence of any
        # cue on a short text is itself evidence for neutral.
        if not sentence_scores:
            return 0.6
        mixed = any(s > 0.05 for s in sentence_scores) and any(s < -0.05 for s in sentence_scores)
        base = 0.45 + 0.5 * math.tanh(2.5 * abs(value))
        if abs(value) < CONFIDENT_NEUTRAL_BAND and not has_cues and not mixed:
            base = 0.8
        if mixed:
            base -= 0.15
        return round(max(0.05, min(0.95, base)), 3)

    def score(self, texts: Sequence[str]) -> list[Score]:
        return [self.score_one(text) for text in texts]

    def close(self) -> None:
        return None
