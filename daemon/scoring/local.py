"""The offline scorer: per-language graded evidence, summed over the message, calibrated.

The default for everyone without an API key and the fallback for the Claude scorer, so
its numbers must mean what the rules assume (docs/scoring.md, "The scale").  For each
message it

1. detects the language (daemon.scoring.language); a language without a lexicon gets
   no score at all: score 0, confidence 0, the `unsupported_language` signal, never a
   confident neutral;
2. collects evidence with that language's lexicon (daemon.scoring.lexicon): problem
   description, wishes, displeasure, anger and fury in *units*, each scaled by a
   dampener before it ("a bit", "etwas", "un peu", "un poco", "um pouco"), a booster
   ("really", "wirklich", ...), negation ("not happy" counts against); plus repeated
   contact ("fourth time", "zum dritten Mal"), shouting and "!!!", sarcasm ("Great,
   another outage."), minimisers ("not a big deal") and the hard signals;
3. sums the units over the whole message -- three furious sentences weigh more than
   one, and greetings, order numbers and signatures add nothing -- and maps the sum onto
   the shared scale with the monotone calibration `to_score`, whose anchors were fixed
   before measuring (docs/scoring.md).
4. lets the learned readings (daemon.scoring.intensity) deepen a negative reading into
   the "clearly angry" band when the angry head is confident, and lift a neutral reading
   of a message with no hard signal into the satisfied band when the satisfied head is
   (never a negative reading, never when the angry head objects).

English also reads VADER's lexicon for words our own list does not have, at half weight:
it adds breadth (slang, emoticons) without deciding anything alone.  Hard signals come
from explicit multilingual patterns (daemon.scoring.signals) and cap the score.  Pure
Python plus the detector's small numpy model; no network, no download.  The parts:
daemon.scoring.tally counts the evidence, daemon.scoring.cues finds anger without anger
words, daemon.scoring.message_rules reads the message's structure, and
daemon.scoring.calibration maps units onto the scale.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from daemon.scoring.base import Score, label_for
from daemon.scoring.calibration import (
    NEGATIVE_ANCHORS,
    POSITIVE_ANCHORS,
    SIGNAL_UNITS,
    cap_for_signals,
    to_score,
)
from daemon.scoring.intensity import INTENSITY_MODEL, IntensityModel, shared_intensity
from daemon.scoring.language import (
    SAMPLE_CHARS,
    SUPPORTED,
    UNDETERMINED,
    Detection,
    shared_detector,
    strip_for_detection,
)
from daemon.scoring.lexicon import Lexicon, Token, load, tokenize
from daemon.scoring.message_rules import (
    drop_abandoned_intent,
    drop_praise_beside_complaints,
    drop_recounted_trouble,
    drop_repeats_outside_complaints,
    drop_thanked_topics,
    emphasis,
    sarcastic_opener,
    settle,
    without_injections,
    without_quotes,
)
from daemon.scoring.sarcasm import praise_over_harm
from daemon.scoring.signals import find_signals
from daemon.scoring.tally import Tally, count_cues, count_emoji, count_match, count_vader

UNSURE = 0.5  # below this detector probability, the lexicons vote on the language
_RECENT_LIMIT = 4096

#: A score this close to zero with no cue at all is a confident neutral (for the cascade).
CONFIDENT_NEUTRAL_BAND = 0.05
#: Labels the cascade may leave to the offline scorer when it is confident.
CONFIDENT_LABELS = frozenset({"neutral", "positive", "very_positive"})
UNSUPPORTED_SIGNAL = "unsupported_language"
_CLAUSE_MARKS = frozenset(".!?;,:\n")


class LocalScorer:
    """Lexicon evidence + calibration + hard signals; implements the `Scorer` protocol."""

    name = "local"
    model = "lexicon-multilingual-1"

    def __init__(self, intensity: IntensityModel | Literal["shipped"] | None = "shipped",
                 ) -> None:
        self._detector = shared_detector()
        #: The learned second reading of intensity (daemon.scoring.intensity); None reads
        #: with the lexicons alone (how bench/train_intensity.py measures what it adds).
        self._intensity = shared_intensity() if intensity == "shipped" else intensity
        if self._intensity is not None:
            self.model = f"{LocalScorer.model}+{INTENSITY_MODEL}"
        self._lexicons: dict[str, Lexicon] = {language: load(language)
                                              for language in sorted(SUPPORTED)}
        self._vader = _vader_lexicon()
        self._recent: dict[str, Detection] = {}

    # -- public --------------------------------------------------------------------

    def score(self, texts: Sequence[str]) -> list[Score]:
        return [self.score_one(text) for text in texts]

    def close(self) -> None:
        return None

    def detect(self, text: str) -> Detection:
        """The message's language; remembered for a while, because the Claude scorer asks
        before sending and then scores the same texts offline."""
        found = self._recent.get(text)
        if found is None:
            found = self._detector.detect(text)
            if found.language in SUPPORTED and found.probability < UNSURE:
                found = self._vote(text, found)
            if len(self._recent) >= _RECENT_LIMIT:
                self._recent.clear()
            self._recent[text] = found
        return found

    def score_one(self, text: str) -> Score:
        detection = self.detect(text)
        hits = find_signals(text, language=detection.language if detection.supported
                            else None)
        signals = {hit.signal for hit in hits}
        signal_phrases = tuple(dict.fromkeys(hit.phrase for hit in hits if hit.phrase))
        if not detection.supported:
            # We cannot read it: no verdict, and nothing a rule could take for calm.
            signals.add(UNSUPPORTED_SIGNAL)
            return Score(score=0.0, label="neutral", confidence=0.0,
                         indicators=signal_phrases[:8], signals=frozenset(signals),
                         scorer=self.name, model=self.model, language=detection.language,
                         language_supported=False)
        language = detection.language if detection.language in SUPPORTED else "en"
        # find_signals already looked for text addressed to a model; on ASCII text its
        # search and without_injections' agree, so a message without one skips the latter.
        plain = text.isascii() and not any(hit.signal == "prompt_injection" for hit in hits)
        negative, positive, tally, tokens = self._evidence(text, language, signals, plain)
        signal_phrases = tuple(dict.fromkeys(hit.phrase for hit in hits
                                             if hit.phrase and hit.signal in signals))
        value = to_score(negative, positive)
        value = cap_for_signals(value, signals - {"churn_risk"} if tally.churn_question
                                else signals)
        # The learned readings act on the score as stored, so their bands mean what
        # the labels do (a reading of 0.05 is already positive).
        value = round(max(-1.0, min(1.0, value)), 4)
        if self._intensity is not None:
            value = round(self._intensity.adjust(value, text, may_lift=not signals), 4)
        indicators = signal_phrases + self._indicators(text, tokens, tally, value)
        return Score(score=value, label=label_for(value),
                     confidence=self._confidence(value, negative, positive),
                     indicators=tuple(dict.fromkeys(indicators))[:8],
                     signals=frozenset(signals), scorer=self.name, model=self.model,
                     language=detection.language, language_supported=True)

    def _vote(self, text: str, detection: Detection) -> Detection:
        """A short or mixed text no language clearly wins: the supported language whose
        lexicon knows the most of its words ("danke" is German, "thanks for the delay"
        English), the detector's choice on a tie."""
        tokens = tokenize(strip_for_detection(text)[:SAMPLE_CHARS])
        votes = {language: lexicon.coverage(tokens) for language, lexicon in self._lexicons.items()}
        best = max(votes.values())
        if best == 0 or votes[detection.language] == best:
            return detection
        winner = next(language for language in sorted(votes) if votes[language] == best)
        return Detection(winner, True, detection.probability)

    # -- evidence ------------------------------------------------------------------

    def _evidence(self, text: str, language: str, signals: set[str], plain: bool,
                  ) -> tuple[float, float, Tally, list[Token]]:
        lexicon = self._lexicons[language]
        tokens = tokenize(without_quotes(text if plain else without_injections(text)))
        modifiers = lexicon.modifiers(tokens)
        tally = Tally()
        covered: set[int] = set()
        for match in lexicon.evidence(tokens):
            covered.update(range(match.first, match.last))
            count_match(match, tokens, modifiers, tally)
        if language == "en" and self._vader:
            count_vader(self._vader, tokens, covered, modifiers, tally)
        count_emoji(tokens, tally)
        count_cues(tokens, language, tally)
        drop_repeats_outside_complaints(tokens, tally)
        if tally.repeats_dropped and not tally.negative_spans:
            # "Thanks once again!": the pattern's repeat contact was praise after all.
            signals.discard("repeat_contact")
        if any(t.word == "?" for t in tokens):
            tally.requests += 1
            tally.asks = True
        if tally.positive_spans and (tally.negative_spans or "churn_risk" in signals):
            tally.churn_over = drop_abandoned_intent(tokens, tally)
        if not signals & SIGNAL_UNITS.keys():
            drop_recounted_trouble(tokens, _past_markers(tokens, modifiers["past"]), tally)
        drop_thanked_topics(tokens, tally)
        if sarcastic_opener(tokens, modifiers, tally) or praise_over_harm(tokens, language,
                                                                          tally):
            tally.sarcasm += 1
        drop_praise_beside_complaints(tokens, tally)
        negative, positive = settle(tally, signals, emphasis(text, tokens))
        return negative, positive, tally, tokens

    # -- output --------------------------------------------------------------------

    @staticmethod
    def _indicators(text: str, tokens: list[Token], tally: Tally,
                    value: float) -> tuple[str, ...]:
        spans = tally.negative_spans if value < 0 else tally.positive_spans
        found: list[str] = []
        for _units, first, last in sorted(spans, key=lambda s: -s[0])[:5]:
            phrase = text[tokens[first].start:tokens[last - 1].end].strip()
            if phrase and phrase not in found:
                found.append(phrase)
        return tuple(found)

    @staticmethod
    def _confidence(value: float, negative: float, positive: float) -> float:
        if negative == 0 and positive == 0:
            return 0.8  # no cue at all: a plain request or statement
        mixed = negative > 0 and positive > 0
        base = 0.5 + 0.45 * math.tanh(1.5 * abs(value))
        if mixed:
            base -= 0.15
        return round(max(0.05, min(0.95, base)), 3)


def _past_markers(tokens: list[Token], marks: set[int]) -> set[int]:
    """Past markers that count: a phrase ("last month") anywhere, a single word ("after",
    "nach") only where it opens its clause."""
    found: set[int] = set()
    for index in marks:
        phrase = index - 1 in marks or index + 1 in marks
        opens = index == 0 or tokens[index - 1].word in _CLAUSE_MARKS
        if phrase or opens:
            found.add(index)
    return found


# VADER words that carry nothing in a support queue (requests, politeness, support talk).
_NEUTRALISE = frozenset((
    "help", "helping", "helped", "please", "pls", "plz", "kindly", "thanks", "thank", "thx",
    "hope", "hopefully", "support", "want", "ok", "okay", "appreciate", "appreciated",
    "sorry", "like", "free", "care", "assist", "assistance", "resolve", "resolved", "fix",
    "fixed", "sure", "yes", "well", "pretty", "chance", "favor", "favour", "share", "reach",
    "contact", "no", "united", "true", "cut", "matter", "join", "ready", "yeah", "agree",
    "lol", "haha", "god", "wait", "waiting", "excuse", "number", "hand", "save", "credit",
    "clear", "play", "ha", "huh"))


def _vader_lexicon() -> dict[str, float]:
    """VADER's English word valences (-4..4), minus support politeness."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    lexicon: dict[str, float] = SentimentIntensityAnalyzer().lexicon
    return {word: float(valence) for word, valence in lexicon.items()
            if word.isalpha() and word not in _NEUTRALISE and abs(valence) >= 1.0}



__all__ = ["CONFIDENT_LABELS", "CONFIDENT_NEUTRAL_BAND", "NEGATIVE_ANCHORS",
           "POSITIVE_ANCHORS", "UNDETERMINED", "LocalScorer", "cap_for_signals", "to_score"]
