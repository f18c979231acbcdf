"""Whole-message rules of the offline scorer: what the words of a message mean together.

daemon.scoring.tally counts the evidence term by term; these rules read the message's
structure -- sentences and clauses, questions and complaints, what is past and what is
now -- and settle the units the calibration turns into a score:

- a problem described as solved is not a complaint; trouble recounted in a clause that
  is over ("after three days without internet", "last month's migration was rough, but
  since ...") does not count against a message that thanks or praises now;
- repeat words count only in a complaint; praise beside a complaint does not count;
- a sarcastic opener turns praise into displeasure;
- quoted text (an error message, a status) is what the customer saw, not what they feel;
- a request that only describes a problem stays mild; thanks count when they are the
  point of the message.
"""

from __future__ import annotations

import itertools
import re

from daemon.scoring.calibration import (
    HEDGED,
    MINIMISED,
    PROBLEM_CAP,
    REPEAT_CAP,
    REQUEST_CAP,
    SARCASM,
    SIGNAL_UNITS,
)
from daemon.scoring.lexicon import Token
from daemon.scoring.signals import is_injection
from daemon.scoring.tally import Span, Tally

_SENTENCE_END = ".!?\n"
_CLAUSE_END = ".!?;,:\n"
_CONTRAST = frozenset(("but", "aber", "doch", "mais", "pero", "mas", "however", "jedoch"))
# A quotation of at most this many characters: an error message or a status, not a
# whole message in quotes.
_QUOTED = re.compile(r"(?:(?<![\w])'([^'\n]{2,80})'(?![\w])|\"([^\"\n]{2,80})\""
                     r"|\u201c([^\u201d\n]{2,80})\u201d|\u201e([^\u201c\u201d\n]{2,80})[\u201c\u201d]"
                     r"|\u00ab([^\u00bb\n]{2,80})\u00bb|\u2018([^\u2019\n]{2,80})\u2019)")


def sentence_indices(tokens: list[Token], ends: str = _SENTENCE_END) -> list[int]:
    """The sentence (or, with clause ends, the clause) each token belongs to."""
    sentence_of: list[int] = []
    sentence = 0
    for token in tokens:
        if token.word in _CONTRAST and ends == _CLAUSE_END:
            sentence += 1
        sentence_of.append(sentence)
        if token.word in ends:
            sentence += 1
    return sentence_of


def drop_recounted_trouble(tokens: list[Token], past: set[int], tally: Tally) -> None:
    """Trouble told as over, in a message that thanks or praises now: "After three days
    without internet the line finally works, thanks!", "Nach dem Ärger letzten Monat lief
    diesmal alles perfekt."  A clause is over when it opens with, or holds, a marker of
    the past (the lexicons' `past` modifiers: after, nach, après, después de, depois de,
    last month, letzten Monat, le mois dernier, ...)."""
    if tally.anger or not tally.negative_spans or not past:
        return
    clause_of = sentence_indices(tokens, _CLAUSE_END)
    over = {clause_of[index] for index in past}
    complaining = {clause_of[first] for _units, first, _last in tally.negative_spans}
    positive_now = {clause_of[first] for _units, first, _last in itertools.chain(
        tally.positive_spans, tally.thanks_spans)} - over - complaining
    if not positive_now:
        return
    for span in list(tally.negative_spans):
        if clause_of[span[1]] in over:
            remove_negative(tally, span)


# Churn intent told as over: "I was ready to cancel ..., but ...", "Ich wollte kündigen, aber".
_ABANDONED = re.compile(
    r"\b(?:(?:was|were) (?:ready|about|going|planning|close|set) to|almost|nearly|had decided"
    r" to|wollte|wollten|war kurz davor|haette fast|hatte schon vor|etais (?:pret|prete|sur le"
    r" point)|allais|ai failli|estaba (?:a punto|por|decidido)|iba a|ia|estava (?:pronto|pronta"
    r"|prestes|decidido|decidida)|quase)\b")


def drop_abandoned_intent(tokens: list[Token], tally: Tally) -> bool:
    """Churn intent in a story that ends well: "I was ready to cancel after the mess with
    my first order, but the replacement came the next day and it's perfect."  When a
    marker of abandoned intent comes before a contrast and only praise follows it, the
    trouble before the contrast is over; True tells the scorer the churn words are past."""
    if tally.anger or not tally.positive_spans:
        return False
    if _thanked_cancellation(tokens, tally):
        return True
    joined = " ".join(token.word for token in tokens)
    match = _ABANDONED.search(joined)
    if match is None:
        return False
    marker = joined.count(" ", 0, match.start())
    turn = next((index for index in range(marker, len(tokens))
                 if tokens[index].word in _CONTRAST), None)
    if turn is None:
        return False
    if any(first > turn for _units, first, _last in tally.negative_spans):
        return False
    if not any(first > turn for _units, first, _last in tally.positive_spans):
        return False
    for span in list(tally.negative_spans):
        remove_negative(tally, span)
    return True


# A cancellation named as a noun: what a customer may thank for ("ma résiliation tardive").
_CANCELLATION = re.compile(r"cancel\w*|termination|kuendigung\w*|resiliation\w*|cancelacion\w*"
                           r"|baja|cancelamento\w*|rescisao")


def _thanked_cancellation(tokens: list[Token], tally: Tally) -> bool:
    """"Merci pour votre geste concernant ma résiliation tardive": a cancellation in the
    sentence that gives thanks is what is thanked for, not a threat to leave."""
    if tally.displeasure or not tally.gratitude_spans:
        return False
    sentence_of = sentence_indices(tokens)
    grateful = {sentence_of[first] for _units, first, _last in tally.gratitude_spans}
    return any(sentence_of[index] in grateful and _CANCELLATION.fullmatch(token.word)
               for index, token in enumerate(tokens))


def drop_thanked_topics(tokens: list[Token], tally: Tally) -> None:
    """A service named in the clause that thanks or praises is what is thanked for, not a
    complaint: "thanks for the quick refund", "danke für die schnelle Erstattung".  Only
    the lexicons' `topic` words: "thanks for the late flight" keeps its complaint, and so
    does "thanks, but it still crashes" (another clause)."""
    if tally.anger or tally.displeasure or not tally.negative_spans:
        return
    thanking = tally.positive_spans + tally.thanks_spans
    if not thanking:
        return
    clause_of = sentence_indices(tokens, _CLAUSE_END)
    grateful = {clause_of[first] for _units, first, _last in thanking}
    # Nothing but services named, and thanks: "The refund came today. Thank you!"
    only_topics = all(id(span) in tally.topic_ids for span in tally.negative_spans)
    for span in list(tally.negative_spans):
        if id(span) in tally.topic_ids and (only_topics or clause_of[span[1]] in grateful):
            remove_negative(tally, span)


def remove_negative(tally: Tally, span: Span) -> None:
    kind = tally.negative_kinds.pop(id(span), None)
    if kind is None:
        return
    setattr(tally, kind, getattr(tally, kind) - span[0])
    tally.negative_spans.remove(span)
    if span in tally.repeat_spans:
        tally.repeat_spans.remove(span)


def drop_repeats_outside_complaints(tokens: list[Token], tally: Tally) -> None:
    """"Again" and "still" are repeat contact only in a complaint: not in a sentence that
    praises and complains of nothing ("the sync is fast again, great"), nor in a message
    whose only negative evidence is such a word while it praises elsewhere ("Happy to be
    back again. Great app.")."""
    if not tally.repeat_spans:
        return
    repeat_ids = {id(span) for span in tally.repeat_spans}
    other_negative = [span for span in tally.negative_spans if id(span) not in repeat_ids]
    sentence_of = sentence_indices(tokens)
    complaining = {sentence_of[first] for _units, first, _last in other_negative}
    # An exclamation opening its sentence ("Qué maravilla, otra vez ...") may be irony:
    # it does not make its sentence one that praises.
    praising = {sentence_of[first] for _units, first, last in
                itertools.chain(tally.positive_spans, tally.thanks_spans)
                if not (last < len(tokens) and tokens[last].word == ","
                        and _opens_sentence(tokens, first))}
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


def drop_praise_beside_complaints(tokens: list[Token], tally: Tally) -> None:
    """Praise or thanks in the same sentence as a complaint is irony or softening
    ("thanks for the 3 hour delay", "love the app but it crashes"): it does not count."""
    if not tally.negative_spans or tally.sarcasm:
        return  # sarcasm turns the praise into displeasure (settle) instead
    sentence_of = sentence_indices(tokens)
    complaining = {sentence_of[first] for _units, first, _last in tally.negative_spans}
    for spans, attribute in ((tally.praise_spans, "praise"),
                             (tally.gratitude_spans, "gratitude")):
        for span in spans:
            if sentence_of[span[1]] in complaining:
                setattr(tally, attribute, getattr(tally, attribute) - span[0])
                tally.positive_spans.remove(span)




# Exclamative words an ironic opener may follow: "Oh great,", "Ach wie schön,", "Que
# maravilha,", "Qué maravilla,", "Quelle chance,", "What a surprise,".
_EXCLAMATIVES = frozenset(("oh", "ah", "wow", "how", "what", "ach", "na", "oh la la", "wie",
                           "was", "quel", "quelle", "que", "qu", "como", "nossa", "ai", "tao"))
_ARTICLES = frozenset(("a", "an", "ein", "eine", "fuer", "un", "une", "una", "uma"))


def _opens_sentence(tokens: list[Token], index: int) -> bool:
    """The token opens its sentence, or follows an exclamative that does ("ach wie")."""
    start = index
    while start > 0 and tokens[start - 1].word not in ".!?\n" and index - start < 3:
        start -= 1
    if start > 0 and tokens[start - 1].word not in ".!?\n":
        return False
    before = [token.word for token in tokens[start:index]]
    return not before or (before[0] in _EXCLAMATIVES and all(
        word in _EXCLAMATIVES or word in _ARTICLES for word in before[1:]))


def sarcastic_opener(tokens: list[Token], modifiers: dict[str, set[int]],
                     tally: Tally) -> bool:
        """"Great, another outage.": praise opening a sentence, then a complaint."""
        if tally.problem + tally.repeat + tally.displeasure + tally.anger == 0:
            return False
        if tally.resolution > 0:
            return False
        for index in sorted(modifiers["opener"]):
            at_start = _opens_sentence(tokens, index)
            nxt = index + 1
            while nxt in modifiers["opener"]:
                nxt += 1
            if at_start and nxt < len(tokens) and tokens[nxt].word in (",", "!", "."):
                return True
        return False

    # -- output --------------------------------------------------------------------


def emphasis(text: str, tokens: list[Token]) -> float:
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


def without_injections(text: str) -> str:
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




def without_quotes(text: str) -> str:
    """The text with short quotations blanked (same length, same offsets): "I get 'payment
    declined - code 51', which cards work?" quotes what a screen said."""
    if len(text) < 20:
        return text
    out = text
    blanked = 0
    for match in _QUOTED.finditer(text):
        start, end = match.span()
        out = out[:start] + " " * (end - start) + out[end:]
        blanked += end - start
    return text if blanked * 2 > len(text) else out


def settle(tally: Tally, signals: set[str], emphasis_units: float) -> tuple[float, float]:
    """Negative and positive units of the whole message (before calibration)."""
    negative, repeat = _negative_units(tally, signals)
    praise = tally.praise
    if tally.sarcasm:
        negative += SARCASM * praise
        praise = 0.0
    if negative > 0:
        negative += emphasis_units
    calm = tally.anger == 0 and not signals & SIGNAL_UNITS.keys()
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
    return negative, positive


def _negative_units(tally: Tally, signals: set[str]) -> tuple[float, float]:
    problem = min(tally.problem, PROBLEM_CAP)
    repeat = min(tally.repeat, REPEAT_CAP)
    if tally.resolution > 0 and tally.anger == 0:
        problem, repeat = 0.0, 0.0  # a problem described as solved
    negative = problem + tally.wish + tally.displeasure + tally.anger + repeat
    # A plain question about cancelling keeps its churn signal (a rule sends it to a
    # person) but is a neutral request, not a negative message; a polite decision
    # ("Please close my account.") asks nothing and stays negative.
    tally.churn_question = (tally.displeasure == tally.anger == repeat == 0
                            and (tally.asks or tally.churn_over) and not tally.sarcasm
                            and signals & SIGNAL_UNITS.keys() == {"churn_risk"})
    if not tally.churn_question:
        negative += sum(SIGNAL_UNITS.get(signal, 0.0) for signal in signals)
    if "repeat_contact" in signals:
        negative = max(negative, 1.0)
    return negative, repeat
