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

English also reads VADER's lexicon for words our own list does not have, at half weight:
it adds breadth (slang, emoticons) without deciding anything alone.  Hard signals come
from explicit multilingual patterns (daemon.scoring.signals) and cap the score.  Pure
Python plus the detector's small numpy model; no network, no download.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from daemon.scoring.base import Score, label_for
from daemon.scoring.cues import find_cues
from daemon.scoring.language import (
    SAMPLE_CHARS,
    SUPPORTED,
    UNDETERMINED,
    Detection,
    shared_detector,
    strip_for_detection,
)
from daemon.scoring.lexicon import Lexicon, Match, Token, load, tokenize
from daemon.scoring.signals import find_signals, is_injection

# Floors a hard signal puts on the score: a legal threat is never "neutral".
_SIGNAL_CEILING: dict[str, float] = {
    "legal_threat": -0.5, "abusive": -0.5, "churn_risk": -0.45, "manager_request": -0.35,
    "repeat_contact": -0.25,
    "prompt_injection": 0.0,  # text trying to steer a model is not satisfaction
}
_SIGNAL_PULL = {"urgent": -0.1}
# Units of evidence a hard signal adds (repeat contact is counted by the lexicon).
_SIGNAL_UNITS = {"legal_threat": 3.0, "abusive": 4.0, "churn_risk": 2.0,
                 "manager_request": 1.5}

#: The calibration: total units of negative evidence -> score, piecewise linear between
#: anchors stated in docs/scoring.md before any measurement (1 unit: mild annoyance,
#: 2: plainly negative, 3: clearly angry, 6 and more: fury).
NEGATIVE_ANCHORS: tuple[tuple[float, float], ...] = (
    (0.0, 0.0), (1.0, -0.2), (2.0, -0.5), (3.0, -0.72), (4.5, -0.85), (6.0, -0.9),
    (9.0, -0.95), (15.0, -0.99))
POSITIVE_ANCHORS: tuple[tuple[float, float], ...] = (
    (0.0, 0.0), (1.0, 0.25), (2.0, 0.5), (3.0, 0.65), (5.0, 0.85), (8.0, 0.95))

PROBLEM_CAP = 1.5  # describing a problem is at most mildly negative, however long
REPEAT_CAP = 3.0
DAMPENED = 0.5
BOOSTED = 1.5
NEGATED_PRAISE = 0.6  # "not happy" is displeasure, a little weaker than "unhappy"
MINIMISED = 0.6  # "not a big deal", "kein Drama": no anger, so the rest counts less
HEDGED = 0.7  # a dampener in a message without anger
REQUEST_CAP = 1.2  # units: a request describing a problem stays above -0.3
SARCASM = 0.8  # praise read as its opposite
SARCASM_UNITS = 2.0
PRAISE_IN_COMPLAINT = 0.5
VADER_WEIGHT = 1.0
VADER_STRONG = 2.5  # VADER valence from which a word counts as displeasure
_WINDOW = 3  # tokens before a term that a negator, dampener or booster reaches
UNSURE = 0.5  # below this detector probability, the lexicons vote on the language
_RECENT_LIMIT = 4096

#: A score this close to zero with no cue at all is a confident neutral (for the cascade).
CONFIDENT_NEUTRAL_BAND = 0.05
#: Labels the cascade may leave to the offline scorer when it is confident.
CONFIDENT_LABELS = frozenset({"neutral", "positive", "very_positive"})
UNSUPPORTED_SIGNAL = "unsupported_language"


def cap_for_signals(value: float, signals: frozenset[str] | set[str]) -> float:
    """The score with the hard signals' ceilings and pulls applied, in [-1, 1]."""
    for signal in signals:
        value = min(value, _SIGNAL_CEILING.get(signal, 1.0))
        value += _SIGNAL_PULL.get(signal, 0.0)
    return max(-1.0, min(1.0, value))


def _interpolate(units: float, anchors: tuple[tuple[float, float], ...]) -> float:
    for (x0, y0), (x1, y1) in itertools.pairwise(anchors):
        if units <= x1:
            return y0 + (y1 - y0) * (units - x0) / (x1 - x0)
    last_x, last_y = anchors[-1]
    sign = 1.0 if last_y > 0 else -1.0
    # Beyond the last anchor: approach +-1 without reaching it.
    return sign * (1.0 - (1.0 - abs(last_y)) * math.exp(-(units - last_x) / 5.0))


def to_score(negative_units: float, positive_units: float) -> float:
    """The calibration: evidence in units -> a score on the shared scale (monotone)."""
    if negative_units > 0:
        net = negative_units - PRAISE_IN_COMPLAINT * positive_units
        if net > 0:
            return _interpolate(net, NEGATIVE_ANCHORS)
        return _interpolate(-net, POSITIVE_ANCHORS)
    return _interpolate(positive_units, POSITIVE_ANCHORS)


@dataclass(slots=True)
class _Tally:
    problem: float = 0.0
    wish: float = 0.0
    displeasure: float = 0.0
    anger: float = 0.0  # anger and fury terms
    repeat: float = 0.0
    praise: float = 0.0
    resolution: float = 0.0
    gratitude: float = 0.0
    thanks: float = 0.0
    requests: int = 0
    sarcasm: int = 0
    minimisers: int = 0
    dampened: int = 0
    negative_spans: list[tuple[float, int, int]] = field(default_factory=list)
    positive_spans: list[tuple[float, int, int]] = field(default_factory=list)
    praise_spans: list[tuple[float, int, int]] = field(default_factory=list)
    repeat_spans: list[tuple[float, int, int]] = field(default_factory=list)
    thanks_spans: list[tuple[float, int, int]] = field(default_factory=list)
    repeats_dropped: int = 0
    #: "How do I cancel my subscription?": churn intent in a plain question, no feeling.
    churn_question: bool = False
    gratitude_spans: list[tuple[float, int, int]] = field(default_factory=list)


class LocalScorer:
    """Lexicon evidence + calibration + hard signals; implements the `Scorer` protocol."""

    name = "local"
    model = "lexicon-multilingual-1"

    def __init__(self) -> None:
        self._detector = shared_detector()
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
        negative, positive, tally, tokens = self._evidence(text, language, signals)
        signal_phrases = tuple(dict.fromkeys(hit.phrase for hit in hits
                                             if hit.phrase and hit.signal in signals))
        value = to_score(negative, positive)
        value = cap_for_signals(value, signals - {"churn_risk"} if tally.churn_question
                                else signals)
        value = round(max(-1.0, min(1.0, value)), 4)
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

    def _evidence(self, text: str, language: str, signals: set[str],
                  ) -> tuple[float, float, _Tally, list[Token]]:
        lexicon = self._lexicons[language]
        tokens = tokenize(_without_injections(text))
        modifiers = lexicon.modifiers(tokens)
        tally = _Tally()
        matches = lexicon.evidence(tokens)
        covered: set[int] = set()
        for match in matches:
            covered.update(range(match.first, match.last))
            self._count(match, tokens, modifiers, tally)
        if language == "en" and self._vader:
            self._count_vader(tokens, covered, modifiers, tally)
        self._count_emoji(tokens, tally)
        _count_cues(tokens, language, tally)
        _drop_repeats_outside_complaints(tokens, tally)
        if tally.repeats_dropped and not tally.negative_spans:
            # "Thanks once again!": the pattern's repeat contact was praise after all.
            signals.discard("repeat_contact")
        if any(t.word == "?" for t in tokens):
            tally.requests += 1
        if self._sarcastic_opener(tokens, modifiers, tally):
            tally.sarcasm += 1
        _drop_praise_beside_complaints(tokens, tally)

        problem = min(tally.problem, PROBLEM_CAP)
        repeat = min(tally.repeat, REPEAT_CAP)
        if tally.resolution > 0 and tally.anger == 0:
            problem, repeat = 0.0, 0.0  # a problem described as solved
        negative = problem + tally.wish + tally.displeasure + tally.anger + repeat
        # A plain question about cancelling keeps its churn signal (a rule sends it to a
        # person) but is a neutral request, not a negative message.
        tally.churn_question = (tally.displeasure == tally.anger == repeat == 0
                                and tally.requests > 0 and not tally.sarcasm
                                and signals & _SIGNAL_UNITS.keys() == {"churn_risk"})
        if not tally.churn_question:
            negative += sum(_SIGNAL_UNITS.get(signal, 0.0) for signal in signals)
        if "repeat_contact" in signals:
            negative = max(negative, 1.0)
        praise = tally.praise
        if tally.sarcasm:
            negative += SARCASM * praise
            praise = 0.0
        if negative > 0:
            negative += _emphasis(text, tokens)
        calm = tally.anger == 0 and not signals & _SIGNAL_UNITS.keys()
        if calm and tally.minimisers:
            negative *= MINIMISED
        elif calm and tally.dampened:
            negative *= HEDGED  # "a bit disappointed ... still": the hedge sets the tone
        if (calm and tally.requests and tally.displeasure == 0 and repeat < 1.5
                and not tally.sarcasm):
            negative = min(negative, REQUEST_CAP)  # a request that describes a problem
        if tally.anger > 0:
            praise *= 0.5  # praise in an angry message is politeness or irony
        if (tally.requests and negative == 0 and praise < 2.0 and not tally.gratitude
                and not tally.resolution):
            praise = 0.0  # a question with a friendly word in it is still a question
        positive = praise + tally.resolution + tally.gratitude
        if tally.thanks and not tally.requests and negative == 0:
            positive += tally.thanks  # thanking is the point of the message
        return negative, positive, tally, tokens

    def _count(self, match: Match, tokens: list[Token], modifiers: dict[str, set[int]],
               tally: _Tally) -> None:
        term = match.term
        category = term.category
        window = _window(tokens, match.first)
        negated = bool(window & modifiers["negator"]) and tokens[match.first].word not in (
            "not", "no", "nicht", "pas", "nao", "kein", "keine")
        dampened = bool(window & modifiers["dampener"])
        boosted = bool(window & modifiers["booster"])
        shouted = any(tokens[i].shouted for i in range(match.first, match.last))
        scale = (DAMPENED if dampened else 1.0) * (BOOSTED if boosted else 1.0)
        if shouted:
            scale *= 1.3
        units = term.units * scale
        if dampened:
            tally.dampened += 1
        span = (units, match.first, match.last)
        if category == "problem":
            if not negated:
                tally.problem += units
                tally.negative_spans.append(span)
        elif category == "wish":
            tally.wish += units
            tally.negative_spans.append(span)
        elif category == "displeasure":
            if not negated:
                tally.displeasure += units
                tally.negative_spans.append(span)
        elif category == "anger":
            if not negated:
                tally.anger += units
                tally.negative_spans.append(span)
        elif category == "positive":
            if negated:
                tally.displeasure += NEGATED_PRAISE * units
                tally.negative_spans.append(span)
            else:
                tally.praise += units
                tally.positive_spans.append(span)
                tally.praise_spans.append(span)
        elif category in ("resolution", "noproblem"):
            tally.resolution += units
            tally.positive_spans.append(span)
        elif category == "repeat":
            tally.repeat += units
            tally.negative_spans.append(span)
            tally.repeat_spans.append(span)
        elif category == "gratitude":
            tally.gratitude += units
            tally.positive_spans.append(span)
            tally.gratitude_spans.append(span)
        elif category == "thanks":
            tally.thanks = max(tally.thanks, units)
            tally.thanks_spans.append(span)
        elif category == "sarcasm":
            tally.sarcasm += 1
            tally.displeasure += SARCASM_UNITS  # "thanks for nothing" is displeasure
            tally.negative_spans.append((SARCASM_UNITS, match.first, match.last))
        elif category == "minimiser":
            tally.minimisers += 1
        elif category == "request":
            tally.requests += 1
        # "neutral" terms only consume their words ("good morning", "not yet").

    def _count_vader(self, tokens: list[Token], covered: set[int],
                     modifiers: dict[str, set[int]], tally: _Tally) -> None:
        skip = covered | modifiers["negator"] | modifiers["booster"] | modifiers["dampener"]
        for index, token in enumerate(tokens):
            if index in skip:
                continue
            valence = self._vader.get(token.word)
            if valence is None:
                continue
            units = min(2.0, abs(valence) * VADER_WEIGHT)
            negated = bool(_window(tokens, index) & modifiers["negator"])
            span = (units, index, index + 1)
            if (valence > 0) != negated:
                tally.praise += units
                tally.positive_spans.append(span)
                tally.praise_spans.append(span)
            elif valence > 0:
                tally.displeasure += NEGATED_PRAISE * units
                tally.negative_spans.append(span)
            else:
                # An uncurated word: a weak one ("mistake", "damage") only describes a
                # problem; a strong one ("horrendous") is displeasure.
                if valence > -VADER_STRONG:
                    tally.problem += units
                else:
                    tally.displeasure += units
                tally.negative_spans.append(span)

    @staticmethod
    def _count_emoji(tokens: list[Token], tally: _Tally) -> None:
        """Emoji and emoticons mean the same in every language."""
        for index, token in enumerate(tokens):
            units = _EMOJI_UNITS.get(token.word)
            if units is None:
                continue
            span = (abs(units), index, index + 1)
            if units > 0:
                tally.praise += units
                tally.positive_spans.append(span)
                tally.praise_spans.append(span)
            elif units <= -3:
                tally.anger += -units
                tally.negative_spans.append(span)
            else:
                tally.displeasure += -units
                tally.negative_spans.append(span)

    @staticmethod
    def _sarcastic_opener(tokens: list[Token], modifiers: dict[str, set[int]],
                          tally: _Tally) -> bool:
        """"Great, another outage.": praise opening a sentence, then a complaint."""
        if tally.problem + tally.repeat + tally.displeasure + tally.anger == 0:
            return False
        if tally.resolution > 0:
            return False
        for index in sorted(modifiers["opener"]):
            at_start = index == 0 or tokens[index - 1].word in ".!?\n"
            nxt = index + 1
            while nxt in modifiers["opener"]:
                nxt += 1
            if at_start and nxt < len(tokens) and tokens[nxt].word in (",", "!", "."):
                return True
        return False

    # -- output --------------------------------------------------------------------

    @staticmethod
    def _indicators(text: str, tokens: list[Token], tally: _Tally,
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


def _count_cues(tokens: list[Token], language: str, tally: _Tally) -> None:
    """Anger without anger words (daemon.scoring.cues): a demand with a deadline, harm
    done, being passed around, a broken promise or a change made without warning."""
    for hit in find_cues(tokens, language):
        span = (hit.units, hit.first, hit.last)
        if hit.category == "anger":
            tally.anger += hit.units
        else:
            tally.displeasure += hit.units
        tally.negative_spans.append(span)


def _sentence_indices(tokens: list[Token]) -> list[int]:
    sentence_of: list[int] = []
    sentence = 0
    for token in tokens:
        sentence_of.append(sentence)
        if token.word in ".!?\n":
            sentence += 1
    return sentence_of


def _drop_repeats_outside_complaints(tokens: list[Token], tally: _Tally) -> None:
    """"Again" and "still" are repeat contact only in a complaint: not in a sentence that
    praises and complains of nothing ("the sync is fast again, great"), nor in a message
    whose only negative evidence is such a word while it praises elsewhere ("Happy to be
    back again. Great app.")."""
    if not tally.repeat_spans:
        return
    repeat_ids = {id(span) for span in tally.repeat_spans}
    other_negative = [span for span in tally.negative_spans if id(span) not in repeat_ids]
    sentence_of = _sentence_indices(tokens)
    complaining = {sentence_of[first] for _units, first, _last in other_negative}
    praising = {sentence_of[first] for _units, first, _last in
                itertools.chain(tally.positive_spans, tally.thanks_spans)}
    strong_repeat = any(span[0] > 1.0 for span in tally.repeat_spans)
    for span in list(tally.repeat_spans):
        sentence = sentence_of[span[1]]
        positive_only = sentence in praising and sentence not in complaining
        weak_alone = (not other_negative and not strong_repeat and span[0] <= 1.0
                      and bool(praising))
        if positive_only or weak_alone:
            tally.repeat -= span[0]
            tally.repeats_dropped += 1
            tally.repeat_spans.remove(span)
            tally.negative_spans.remove(span)


def _drop_praise_beside_complaints(tokens: list[Token], tally: _Tally) -> None:
    """Praise or thanks in the same sentence as a complaint is irony or softening
    ("thanks for the 3 hour delay", "love the app but it crashes"): it does not count."""
    if not tally.negative_spans:
        return
    sentence_of = _sentence_indices(tokens)
    complaining = {sentence_of[first] for _units, first, _last in tally.negative_spans}
    for spans, attribute in ((tally.praise_spans, "praise"),
                             (tally.gratitude_spans, "gratitude")):
        for span in spans:
            if sentence_of[span[1]] in complaining:
                setattr(tally, attribute, getattr(tally, attribute) - span[0])
                tally.positive_spans.remove(span)


# Emoji and emoticons, in units (negative: displeasure, -3 and below: anger).
_EMOJI_UNITS: dict[str, float] = {
    **dict.fromkeys(("\U0001F621", "\U0001F92C", "\U0001F620", "\U0001F595"), -3.0),
    **dict.fromkeys(("\U0001F624", "\U0001F62B", "\U0001F629", "\U0001F62D", "\U0001F44E"),
                    -2.0),
    **dict.fromkeys(("\U0001F61E", "\U0001F622", "\U0001F612", "\U0001F641", "\u2639",
                     "\U0001F615", "\U0001F644", "\U0001F611", ":(", ":-(", "=("), -0.7),
    **dict.fromkeys(("\U0001F60D", "\U0001F970", "\u2764", "\U0001F44D", "\U0001F389",
                     "\U0001F44F", "\U0001F600", "\U0001F603", "\U0001F604", "\U0001F601",
                     "\U0001F60A", "\U0001F642", "\U0001F929", "\U0001F4AF", "<3", ":)",
                     ":-)", ":D", ":-D", "=)"), 1.5),
}


def _window(tokens: list[Token], first: int) -> set[int]:
    """Up to _WINDOW token indices before `first`, stopping at a clause boundary."""
    out: set[int] = set()
    index = first - 1
    while index >= 0 and len(out) < _WINDOW:
        word = tokens[index].word
        if word in ".!?;:\n" or word in ("but", "aber", "mais", "pero", "mas"):
            break
        if word != ",":
            out.add(index)
        index -= 1
    return out


def _emphasis(text: str, tokens: list[Token]) -> float:
    """Units for "!!!", "?!" and shouting, added to a message that is already negative."""
    units = 0.0
    exclamations = text.count("!")
    if "!!" in text or "?!" in text or "!?" in text or "??" in text:
        units += 0.8
    elif exclamations:
        units += 0.3
    words = [t for t in tokens if t.word not in "#.!?;,:¿¡()\n" and len(t.word) >= 3]
    shouted = sum(1 for t in words if t.shouted)
    if shouted >= 3 and shouted * 3 >= len(words):
        units += 1.5
    elif shouted >= 1:
        units += 0.3
    return min(units, 2.0)


def _without_injections(text: str) -> str:
    """The text with sentences addressed to a model blanked (same length, same offsets)."""
    if not is_injection(text):
        return text
    out: list[str] = []
    start = 0
    for index, char in enumerate(text):
        if char in ".!?\n":
            sentence = text[start:index + 1]
            out.append(" " * len(sentence) if is_injection(sentence) else sentence)
            start = index + 1
    tail = text[start:]
    out.append(" " * len(tail) if is_injection(tail) else tail)
    return "".join(out)


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


__all__ = ["CONFIDENT_LABELS", "CONFIDENT_NEUTRAL_BAND", "UNDETERMINED", "LocalScorer",
           "cap_for_signals", "to_score"]
