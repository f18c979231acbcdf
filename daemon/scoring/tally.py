"""Evidence of one message, counted: lexicon matches, VADER words, emoji and cue families
added up by kind (problem, displeasure, anger, praise, ...), each with its token span.

A lexicon term counts according to its category (`_COUNTERS`, one small function per
kind); around it, within the clause and up to three words before it, a negator turns
praise into displeasure and cancels a complaint, a dampener halves it, a booster
multiplies it by 1.5, and capitals count 1.3 times.  daemon.scoring.message_rules then
applies the whole-message rules to the tally.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from daemon.scoring.calibration import (
    BOOSTED,
    DAMPENED,
    NEGATED_PRAISE,
    SARCASM_UNITS,
    VADER_STRONG,
    VADER_WEIGHT,
)
from daemon.scoring.cues import find_cues
from daemon.scoring.dated import dated_chase
from daemon.scoring.lexicon import Match, Token

_WINDOW = 3  # tokens before a term that a negator, dampener or booster reaches
Span = tuple[float, int, int]  # units, first token, last token (exclusive)


@dataclass(slots=True)
class Tally:
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
    negative_spans: list[Span] = field(default_factory=list)
    positive_spans: list[Span] = field(default_factory=list)
    praise_spans: list[Span] = field(default_factory=list)
    repeat_spans: list[Span] = field(default_factory=list)
    thanks_spans: list[Span] = field(default_factory=list)
    repeats_dropped: int = 0
    #: "How do I cancel my subscription?": churn intent in a plain question, no feeling.
    churn_question: bool = False
    #: The message asks something ("?"): "please close my account" is a decision, not a question.
    asks: bool = False
    #: "I was ready to cancel ..., but ... perfect": the churn intent is over.
    churn_over: bool = False
    gratitude_spans: list[Span] = field(default_factory=list)
    #: Which field each negative span was added to (by id), so a rule can take it back.
    negative_kinds: dict[int, str] = field(default_factory=dict)
    #: Problem spans that name a service ("refund"): the topic when thanked for.
    topic_ids: set[int] = field(default_factory=set)

    def add_negative(self, kind: str, span: Span) -> None:
        """Units of problem, wish, displeasure or anger, with the words that carry them."""
        setattr(self, kind, getattr(self, kind) + span[0])
        self.negative_spans.append(span)
        self.negative_kinds[id(span)] = kind

    def add_praise(self, span: Span) -> None:
        self.praise += span[0]
        self.positive_spans.append(span)
        self.praise_spans.append(span)


def _negative(kind: str) -> Callable[[Tally, Span, bool], None]:
    def count(tally: Tally, span: Span, negated: bool) -> None:
        if not negated or kind == "wish":
            tally.add_negative(kind, span)
    return count


def _topic(tally: Tally, span: Span, negated: bool) -> None:
    if not negated:
        tally.add_negative("problem", span)
        tally.topic_ids.add(id(span))


def _positive(tally: Tally, span: Span, negated: bool) -> None:
    if negated:  # "not happy" is displeasure, a little weaker than "unhappy"
        tally.add_negative("displeasure", (NEGATED_PRAISE * span[0], span[1], span[2]))
    else:
        tally.add_praise(span)


def _resolution(tally: Tally, span: Span, negated: bool) -> None:
    tally.resolution += span[0]
    tally.positive_spans.append(span)


def _repeat(tally: Tally, span: Span, negated: bool) -> None:
    tally.add_negative("repeat", span)
    tally.repeat_spans.append(span)


def _gratitude(tally: Tally, span: Span, negated: bool) -> None:
    tally.gratitude += span[0]
    tally.positive_spans.append(span)
    tally.gratitude_spans.append(span)


def _thanks(tally: Tally, span: Span, negated: bool) -> None:
    tally.thanks = max(tally.thanks, span[0])
    tally.thanks_spans.append(span)


def _sarcasm(tally: Tally, span: Span, negated: bool) -> None:
    tally.sarcasm += 1  # "thanks for nothing" is displeasure
    tally.add_negative("displeasure", (SARCASM_UNITS, span[1], span[2]))


def _minimiser(tally: Tally, span: Span, negated: bool) -> None:
    tally.minimisers += 1


def _request(tally: Tally, span: Span, negated: bool) -> None:
    tally.requests += 1


# What a term of each category does to the tally; "neutral" terms only consume their
# words ("good morning", "not yet"), "notgratitude" only blocks a longer match.
_COUNTERS: dict[str, Callable[[Tally, Span, bool], None]] = {
    "problem": _negative("problem"), "topic": _topic, "wish": _negative("wish"),
    "displeasure": _negative("displeasure"), "anger": _negative("anger"),
    "positive": _positive, "resolution": _resolution, "noproblem": _resolution,
    "repeat": _repeat, "gratitude": _gratitude, "thanks": _thanks, "sarcasm": _sarcasm,
    "minimiser": _minimiser, "request": _request,
}
# A term that opens with a negation ("not bad at all", "ninguna queja", "rien à redire") is
# already negated: a negator before it ("no tengo ninguna queja") does not turn it again.
_SELF_NEGATING = frozenset(("not", "no", "nicht", "pas", "nao", "kein", "keine", "rien",
                            "nada", "nichts", "nothing", "ninguna", "nenhuma", "aucune"))


def count_match(match: Match, tokens: list[Token], modifiers: dict[str, set[int]],
                tally: Tally) -> None:
    """One lexicon term, scaled by the modifiers before it, into the tally."""
    counter = _COUNTERS.get(match.term.category)
    if counter is None:
        return
    window = _window(tokens, match.first)
    negated = (bool(window & modifiers["negator"])
               and tokens[match.first].word not in _SELF_NEGATING
               and match.first not in modifiers["negator"])
    dampened = bool(window & modifiers["dampener"])
    scale = (DAMPENED if dampened else 1.0) * (
        BOOSTED if window & modifiers["booster"] else 1.0)
    if any(tokens[i].shouted for i in range(match.first, match.last)):
        scale *= 1.3
    if dampened:
        tally.dampened += 1
    counter(tally, (match.term.units * scale, match.first, match.last), negated)


def count_vader(vader: dict[str, float], tokens: list[Token], covered: set[int],
                modifiers: dict[str, set[int]], tally: Tally) -> None:
    """English words our lexicon lacks, by VADER's valence (-4..4) taken as units."""
    skip = covered | modifiers["negator"] | modifiers["booster"] | modifiers["dampener"]
    for index, token in enumerate(tokens):
        if index in skip:
            continue
        valence = vader.get(token.word)
        if valence is None:
            continue
        units = min(2.0, abs(valence) * VADER_WEIGHT)
        negated = bool(_window(tokens, index) & modifiers["negator"])
        span = (units, index, index + 1)
        if (valence > 0) != negated:
            tally.add_praise(span)
        elif valence > 0:
            tally.add_negative("displeasure", (NEGATED_PRAISE * units, index, index + 1))
        else:
            # An uncurated word: a weak one ("mistake", "damage") only describes a
            # problem; a strong one ("horrendous") is displeasure.
            tally.add_negative("problem" if valence > -VADER_STRONG else "displeasure", span)


def count_emoji(tokens: list[Token], tally: Tally) -> None:
    """Emoji and emoticons mean the same in every language."""
    for index, token in enumerate(tokens):
        units = _EMOJI_UNITS.get(token.word)
        if units is None:
            continue
        span = (abs(units), index, index + 1)
        if units > 0:
            tally.add_praise(span)
        else:
            tally.add_negative("anger" if units <= -3 else "displeasure", span)


def count_cues(tokens: list[Token], language: str, tally: Tally) -> None:
    """Anger without anger words (daemon.scoring.cues): demands, harm, ultimatums, ..."""
    for hit in find_cues(tokens, language):
        tally.add_negative("anger" if hit.category == "anger" else "displeasure",
                           (hit.units, hit.first, hit.last))
    chase = None if tally.praise or tally.gratitude else dated_chase(tokens)
    if chase is not None:  # a dated log of follow-ups up to "today", praising nothing
        tally.add_negative("anger", chase)


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

