"""Anger expressed without anger words: demands with a deadline, harm done, being passed
around, broken promises, ultimatums, escalation to outside bodies, counted contacts --
pattern families over the folded words of a message.

The lexicons count words and fixed phrases; these cues need a few words between their
parts ("I expect a proper explanation and a fix today", "Ich habe denselben Fehler fünf
Leuten erklärt"), so they are regular expressions over the message's folded tokens
joined by single spaces (lower case, umlauts spelled out, accents removed, numbers as
"#", punctuation as its own token; see daemon.scoring.lexicon).

The table is two-sided: `SHAPES` says, once for all languages, how each family is put
together ("{WANT} ... {NOW}", "{OR_ELSE} ... {LEAVE}"); daemon.scoring.cue_words gives
each language's words for the slots.  A shape whose slots a language lacks has no
pattern in that language.  A family counts at most once per message, so a long complaint
is weighed by how many different kinds of cue it holds, not by how often it repeats one.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from daemon.scoring.cue_words import LANGUAGES
from daemon.scoring.cue_words_romance import Slots
from daemon.scoring.lexicon import Token

# A few words inside one sentence (commas allowed, sentence ends not).
_GAPS = {f"G{n}": rf"(?:[^ .!?\n]+ ){{0,{n}}}" for n in (2, 3, 4, 5, 6, 8, 10, 12)}
_SENTENCE_START = r"(?:^|(?<=[.!?\n] ))"
_SLOT = re.compile(r"\{([A-Z_]+[0-9]*)\}")


@dataclass(frozen=True, slots=True)
class FamilySpec:
    """One family of cues: how it counts, when it does not, and its shapes."""

    name: str
    category: str  # "anger" or "displeasure": how the scorer counts it
    units: float
    shapes: tuple[str, ...]
    polite_cancels: bool = False  # "please", thanks or a question make it a request
    asking_cancels: bool = False  # "Can I cancel without notice?" asks, complains of nothing
    question_cancels: bool = False  # any question: "if I switch providers, do I ...?"
    eager_cancels: bool = False  # "I want to upgrade right away" is eagerness


SHAPES: tuple[FamilySpec, ...] = (
    FamilySpec("demand", "anger", 2.5, (
        "{DEMAND} {G10}{TODAY}", "{DEMAND_IDIOMS}",
        "{EXPECT} (?:{G4}{OWED} {G8}{TODAY}|{G4}{TODAY} {G4}{OWED})",
        "{WANT} {G8}{NOW}", "{WANT} {G4}{OWED} {G8}{TODAY}",
        _SENTENCE_START + "{IMPERATIVE} {G6}{TODAY}"),
        polite_cancels=True, eager_cancels=True),
    FamilySpec("harm", "displeasure", 2.5, (
        "{HARM_IDIOMS}", "{CAUSE} {G4}{DAMAGE}", "{COST} {G3}{ASSETS}",
        "{LOST} {G5}{ASSETS}", "{ASSETS} {G2}{LOST_AFTER}", "{PAYMENT} {G2}{BOUNCED}"),
        asking_cancels=True),
    FamilySpec("passed_around", "displeasure", 2.5, (
        "{NUM} {DIFFERENT} {PEOPLE}", "{NUM} {PEOPLE} {DIFFERENT}",
        "{TOLD} {G6}{NUM} (?:[^ .!?\n]+ )?{PEOPLE}", "{NUM} {PEOPLE} {G4}{TOLD_AFTER}",
        "{TIMES_VERB} {G6}{NUM} {TIMES}", "{TIMES_PREFIX} {G6}{TIMES_VERB_AFTER}",
        "{AROUND_IDIOMS}")),
    FamilySpec("broken_promise", "displeasure", 1.5, (
        "{PROMISED} {G10}{NEVER}", "{PROMISED} {G10}{BUT_NOT}", "{PROMISE_IDIOMS}",
        # "You promised the 3rd. It's the 20th.": the promise, then the time since.
        r"{PROMISED} [^.!?\n]*[.!?] {G8}{ELAPSED}", "{DURATION} {AFTER} {G4}{PROMISED}")),
    FamilySpec("without_warning", "displeasure", 1.5, ("{WITHOUT_WARNING}",),
               asking_cancels=True),
    # "Fix it by Friday or we leave", "if ... we go to a competitor".
    FamilySpec("ultimatum", "anger", 2.5, (
        "{OR_ELSE} {G6}{LEAVE}", "{OR_ELSE} {G6}{ELSEWHERE}", "{IF} {G12}{GO} {G4}{ELSEWHERE}",
        "{IF} {G12}{ELSEWHERE}"), question_cancels=True),
    # Taking it to a regulator, the press or the public; "this is not over".
    FamilySpec("escalation", "anger", 3.0, (
        "{ESCALATE} {G6}{AUTHORITY}", "{NOT_OVER_IDIOMS}"), asking_cancels=True),
    # "Third time I'm asking", "zum vierten Mal", "c'est la cinquième fois".
    FamilySpec("counted_contact", "anger", 2.0, (
        "{ORDINAL} {G2}{CONTACT}", "{CONTACT_IDIOMS}")),
    # "Three weeks, six tickets, zero answers.": a tally of what it took.
    FamilySpec("tally", "displeasure", 2.0, ("{NUM} {CONTACTS} , {G2}{NUM} {CONTACTS}",)),
    # "Still nothing", "we've been waiting for a month".
    FamilySpec("no_response", "displeasure", 1.5, (
        "{STILL_NOTHING}", "{WAIT} {G3}{DURATION}", "{DURATION} {G2}{WAIT}"),
        asking_cancels=True),
    # "Don't send me any offers", "nach 14 Jahren": a decision to leave, no anger words.
    FamilySpec("decided", "displeasure", 2.0, ("{DECIDED}",), polite_cancels=True,
               question_cancels=True),
    # "You will cover that charge in full": the bill for the harm, sent back.
    FamilySpec("liability", "anger", 2.0, ("{REPAY} {G6}{IN_FULL}",),
               polite_cancels=True, asking_cancels=True),
    # "No, not another week." / "Seriously, I have to ...?": a delay refused, disbelief
    # asked as a question (fifth round).
    FamilySpec("refusal", "displeasure", 2.0, ("{REFUSED_DELAY}", "{DISBELIEF}[^.!?\\n]*(?= [?])")),
    # "Because of your mistake ...": the customer says whose fault it is.
    FamilySpec("blame", "displeasure", 1.5, ("{YOUR_FAULT}",), asking_cancels=True),
)


@dataclass(frozen=True, slots=True)
class CueFamily:
    """A family compiled for one language."""

    name: str
    category: str
    units: float
    pattern: re.Pattern[str]
    spec: FamilySpec


@dataclass(frozen=True, slots=True)
class CueHit:
    family: str
    category: str
    units: float
    first: int  # token span
    last: int


# Politeness that turns "I need it right away" into an urgent request, not a demand.
_POLITE = re.compile(r"\b(?:please|pls|kindly|bitte|s il vous plait|s il te plait|svp"
                     r"|por favor|porfa|se possivel|si es posible|si possible|wenn moeglich"
                     r"|if possible|would you|could you|would be great|thanks|thank you"
                     r"|merci|danke|vielen dank|gracias|obrigad[oa]|veux bien|voudrais"
                     r"|moechte|wuerde|quisiera|gostaria)\b|\?")
# A sentence that asks about a possibility rather than reporting what happened.
_ASKING = re.compile(r"^ *(?:(?:hi|hello|hallo|bonjour|hola|ola|ok|so|also|alors|entonces|entao) , )?"
                     r"(?:can|could|may|is it|are we|do i|do we|does|will|kann|koennen|darf"
                     r"|ist es|duerfen|puis|peut|peuvent|est ce|puedo|puede|puedes|se puede"
                     r"|es posible|posso|pode|podem|e possivel)\b")
# A negator just before the cue: "no damage", "ohne Schaden", "sin daños", "sem danos".
_NEGATED = re.compile(r"\b(?:no|not|without|never|nicht|kein\w*|ohne|pas|sans|aucun\w*|ni"
                      r"|sin|ningun\w*|nunca|nao|sem|nenhum\w*|nem) (?:[^ .!?\n]+ )?$")
# Wanting to buy, try or add something right away is eagerness, not a demand.
_EAGER = re.compile(r"\b(?:upgrade|buy|purchase|order|subscribe|sign up|try|test|add|book|pay"
                    r"|renew|kaufen|bestellen|buchen|upgraden|testen|ausprobieren|abonnieren"
                    r"|verlaengern|acheter|commander|essayer|souscrire|abonner|reserver|payer"
                    r"|contratar|comprar|probar|suscribir\w*|reservar|pagar|renovar|assinar"
                    r"|testar|experimentar)\b")


def _fill(template: str, slots: Slots, depth: int = 0) -> str | None:
    """The template with every {SLOT} replaced by the language's alternatives; None when
    the language has no words for one of them."""
    missing = False

    def replace(match: re.Match[str]) -> str:
        nonlocal missing
        name = match.group(1)
        if name in _GAPS:
            return _GAPS[name]
        words = slots.get(name)
        if not words or depth > 3:
            missing = True
            return ""
        inner = [_fill(word, slots, depth + 1) for word in words]
        if any(part is None for part in inner):
            missing = True
            return ""
        return "(?:" + "|".join(part for part in inner if part is not None) + ")"

    filled = _SLOT.sub(replace, template)
    return None if missing else filled


def compile_families(slots: Slots) -> list[CueFamily]:
    """Every family with at least one shape the language has words for."""
    families: list[CueFamily] = []
    for spec in SHAPES:
        shapes = [filled for shape in spec.shapes
                  if (filled := _fill(shape, slots)) is not None]
        if shapes:
            pattern = re.compile("|".join(rf"(?:\b{shape}\b)" for shape in shapes))
            families.append(CueFamily(spec.name, spec.category, spec.units, pattern, spec))
    return families


FAMILIES: dict[str, list[CueFamily]] = {language: compile_families(slots)
                                        for language, slots in LANGUAGES.items()}


def _joined(tokens: list[Token]) -> tuple[str, list[int]]:
    starts: list[int] = []
    parts: list[str] = []
    offset = 0
    for token in tokens:
        starts.append(offset)
        parts.append(token.word)
        offset += len(token.word) + 1
    return " ".join(parts), starts


def _cancelled(family: CueFamily, joined: str, match: re.Match[str]) -> bool:
    spec = family.spec
    sentence = _sentence(joined, match)
    if spec.polite_cancels and _POLITE.search(sentence):
        return True
    if spec.question_cancels and "?" in sentence:
        return True
    if spec.asking_cancels and "?" in sentence and _ASKING.search(sentence):
        return True
    if spec.eager_cancels and _EAGER.search(match.group(0)):
        return True
    return bool(_NEGATED.search(joined, max(0, match.start() - 40), match.start()))


def find_cues(tokens: list[Token], language: str) -> list[CueHit]:
    """The cue families present in the tokens, each at most once, with its token span."""
    families = FAMILIES.get(language)
    if not families:
        return []
    joined, starts = _joined(tokens)
    hits: list[CueHit] = []
    for family in families:
        for match in family.pattern.finditer(joined):
            if _cancelled(family, joined, match):
                continue
            first = bisect.bisect_right(starts, match.start()) - 1
            last = bisect.bisect_left(starts, match.end())
            hits.append(CueHit(family.name, family.category, family.units, first,
                               max(last, first + 1)))
            break
    return hits


def _sentence(joined: str, match: re.Match[str]) -> str:
    """The sentence around the match, with the mark that ends it."""
    begin = max(joined.rfind(mark, 0, match.start()) for mark in ".!?\n")
    ends = [i for i in (joined.find(mark, match.end()) for mark in ".!?\n") if i >= 0]
    return joined[begin + 1:min(ends) + 1 if ends else len(joined)]


__all__ = ["FAMILIES", "SHAPES", "CueFamily", "CueHit", "FamilySpec", "compile_families",
           "find_cues"]
