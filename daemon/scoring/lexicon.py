"""Graded per-language lexicons and the evidence they find in one message.

A lexicon file (daemon/scoring/lexicons/<language>.txt, written by the project) lists
terms by category: problem description, wishes, displeasure, anger and fury (one scale
of "units", docs/scoring.md), praise, resolution, repeated contact, and the modifiers
that change them (negators, dampeners such as "a bit", boosters such as "really",
minimisers such as "not a big deal", requests, thanks, sarcasm markers).  Terms are
words, prefixes ("disappoint*") or phrases of exact words ("for the * time": one any
word).  Text and terms are folded the same way (lower case, German umlauts to ae/oe/ue,
accents removed, "n't" read as "not"), so typing without accents changes nothing.

`find_evidence` walks the message once, longest match first, and returns every match
with its span in the original text (for indicators) and the modifiers that apply to it;
`daemon.scoring.local` turns that evidence into a score.  Pure Python, no I/O after the
files are loaded.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

#: Categories whose terms are evidence (matched longest-first, non-overlapping).
EVIDENCE = ("problem", "topic", "wish", "displeasure", "anger", "positive", "resolution",
            "noproblem", "repeat", "thanks", "gratitude", "notgratitude", "sarcasm",
            "minimiser", "request", "neutral")
#: Categories whose terms modify nearby evidence (matched independently).
MODIFIERS = ("negator", "dampener", "booster", "opener", "past")
_ALL = frozenset(EVIDENCE + MODIFIERS)

# Words, numbers (one placeholder token) and the punctuation that bounds a clause.
_EMOTICON = r"[:;=]-?[()DPp/\\|]|<3"
_EMOJI = "[\U0001F300-\U0001FAFF\u2600-\u27BF\u2764]"
_TOKEN = re.compile(rf"{_EMOTICON}|{_EMOJI}|[^\W\d_]+|\d+|[.!?;,:¿¡()\n]")
_PUNCT = frozenset(".!?;,:¿¡()\n")
_APOSTROPHES = "'\u2019\u2018`\u00b4"
# Conjunctions that start a new clause: a negation before them does not reach past.
_CLAUSE_WORDS = frozenset({"but", "aber", "doch", "mais", "pero", "mas", "however",
                           "jedoch", "sino"})
_MEMO_LIMIT = 100_000
# Inflection endings and what they replace, tried in order on a word no term knows:
# plurals and feminine forms (French, Spanish, Portuguese), adjective endings (German).
_ENDINGS: dict[str, tuple[tuple[str, str], ...]] = {
    "en": (("s", ""),),
    "fr": (("es", ""), ("s", ""), ("e", ""), ("aux", "al")),
    "es": (("as", "o"), ("os", "o"), ("es", ""), ("s", ""), ("a", "o")),
    "pt": (("as", "o"), ("os", "o"), ("es", ""), ("s", ""), ("a", "o")),
    "de": (("en", ""), ("er", ""), ("es", ""), ("em", ""), ("e", "")),
}
# Categories whose words inflect (feelings and judgements, not fixed request words).
_INFLECTING = frozenset({"problem", "topic", "displeasure", "anger", "positive", "resolution"})
_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "æ": "ae", "œ": "oe"})


@lru_cache(maxsize=65536)
def fold(word: str) -> str:
    """Lower case, German umlauts spelled out, every other accent removed."""
    lowered = word.lower().translate(_FOLD)
    if lowered.isascii():
        return lowered
    decomposed = unicodedata.normalize("NFKD", lowered)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@dataclass(slots=True)  # not frozen: one per word, and a frozen init is several times slower
class Token:
    word: str  # folded; "#" for a number; the character itself for punctuation
    start: int  # span in the original text
    end: int
    shouted: bool  # written in capitals (3+ letters)


def _read(raw: str) -> tuple[str, bool]:
    """A token's word and whether it is shouted, from its raw text."""
    if raw.isdigit():
        return "#", False
    if raw in _PUNCT or not raw[0].isalpha():  # punctuation, emoji, emoticons
        return raw, False
    return fold(raw), len(raw) >= 3 and raw.isupper()


# Raw token text -> (word, shouted): words repeat, so each is read once.  Bounded.
_READ: dict[str, tuple[str, bool]] = {}


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    append = tokens.append
    read = _READ
    for match in _TOKEN.finditer(text):
        raw = match.group()
        start, end = match.span()
        known = read.get(raw)
        if known is None:
            known = _read(raw)
            if len(read) >= _MEMO_LIMIT:
                read.clear()
            read[raw] = known
        word = known[0]
        # "don't" arrives as "don" + "t": read as "do" + "not", spanning "n't".
        if (word == "t" and tokens and start > 0 and text[start - 1] in _APOSTROPHES
                and tokens[-1].word.endswith("n") and tokens[-1].end == start - 1):
            previous = tokens[-1]
            tokens[-1] = Token(previous.word[:-1], previous.start, previous.end - 1,
                               previous.shouted)
            append(Token("not", previous.end - 1, end, previous.shouted))
            continue
        append(Token(word, start, end, known[1]))
    return tokens


@dataclass(frozen=True, slots=True)
class Term:
    category: str
    units: float
    words: tuple[str, ...]  # folded; "*" alone matches any word
    prefix: bool  # the last word is a prefix


@dataclass(slots=True)
class Match:
    term: Term
    first: int  # token indices, end exclusive
    last: int


class Lexicon:
    """The terms of one language, indexed by first word (exact) and by prefix."""

    def __init__(self, language: str, terms: list[Term]) -> None:
        self.language = language
        self._exact: dict[str, list[Term]] = {}
        self._prefix: dict[str, list[Term]] = {}
        self._modifier_exact: dict[str, list[Term]] = {}
        self._modifier_prefix: dict[str, list[Term]] = {}
        for term in terms:
            modifier = term.category in MODIFIERS
            if len(term.words) == 1 and term.prefix:
                index = self._modifier_prefix if modifier else self._prefix
            else:
                index = self._modifier_exact if modifier else self._exact
            index.setdefault(term.words[0], []).append(term)
        for table in (self._exact, self._prefix, self._modifier_exact, self._modifier_prefix):
            for entries in table.values():
                entries.sort(key=lambda t: -len(t.words))
        self._prefix_lengths = sorted({len(k) for k in self._prefix}, reverse=True)
        self._modifier_prefix_lengths = sorted({len(k) for k in self._modifier_prefix},
                                               reverse=True)
        # Words repeat (Zipf): each word's candidates are looked up once.  Bounded.
        self._memo: dict[tuple[str, bool], list[Term]] = {}
        self._memo_inflected: dict[tuple[str, bool, bool], list[Term]] = {}

    def coverage(self, tokens: list[Token]) -> int:
        """How many words of the text this lexicon knows (a language vote)."""
        return sum(1 for token in tokens if len(token.word) >= 2 and token.word.isalpha()
                   and self._candidates(token.word, modifiers=False))

    def has_category(self, category: str) -> bool:
        tables = (self._exact, self._prefix, self._modifier_exact, self._modifier_prefix)
        return any(term.category == category for table in tables
                   for terms in table.values() for term in terms)

    def _candidates(self, word: str, modifiers: bool) -> list[Term]:
        key = (word, modifiers)
        found = self._memo.get(key)
        if found is not None:
            return found
        exact = self._modifier_exact if modifiers else self._exact
        prefix = self._modifier_prefix if modifiers else self._prefix
        lengths = self._modifier_prefix_lengths if modifiers else self._prefix_lengths
        found = list(exact.get(word, ()))
        for length in lengths:
            if length <= len(word):
                found.extend(prefix.get(word[:length], ()))
        if len(self._memo) >= _MEMO_LIMIT:
            self._memo.clear()
        self._memo[key] = found
        return found

    @staticmethod
    def _fits(term: Term, tokens: list[Token], at: int) -> bool:
        """Whether the term's words follow at `at`.  Only for a candidate of the word at
        `at` (`_candidates`): the index has already matched its first word, so a one-word
        term always fits and a phrase is checked from its second word on."""
        words = term.words
        count = len(words)
        if count == 1:
            return True
        if at + count > len(tokens):
            return False
        last = count - 1
        for offset in range(1, count):
            word = tokens[at + offset].word
            if word in _PUNCT:
                return False
            expected = words[offset]
            if expected == "*":
                continue
            if term.prefix and offset == last:
                if not word.startswith(expected):
                    return False
            elif word != expected:
                return False
        return True

    def evidence(self, tokens: list[Token]) -> list[Match]:
        """Longest-first, non-overlapping matches of evidence terms (every category of
        the winning phrase: "thanks for nothing" is both sarcasm and not gratitude)."""
        matches: list[Match] = []
        index = 0
        while index < len(tokens):
            word = tokens[index].word
            best: list[Term] = []
            best_length = 0
            if word not in _PUNCT:
                for term in self._candidates(word, modifiers=False):
                    length = len(term.words)
                    if length < best_length or not self._fits(term, tokens, index):
                        continue
                    if length > best_length:
                        best, best_length = [term], length
                    elif all(t.category != term.category for t in best):
                        best.append(term)
            if not best and word not in _PUNCT:
                best = self._inflected(word)
                best_length = 1
            if best:
                matches.extend(Match(term, index, index + best_length) for term in best)
                index += best_length
            else:
                index += 1
        return matches

    def _inflected(self, word: str) -> list[Term]:
        """One-word terms of the word's base form when the word itself is unknown:
        "excelentes", "rápida", "tolle", "contente" are "excelente", "rápido", "toll",
        "content" (the lexicons list one form; customers write them all)."""
        key = (word, True, True)
        found = self._memo_inflected.get(key)
        if found is not None:
            return found
        found = []
        for ending, replacement in _ENDINGS.get(self.language, ()):
            if len(word) - len(ending) >= 4 and word.endswith(ending):
                base = word[:len(word) - len(ending)] + replacement
                found = [term for term in self._exact.get(base, ())
                         if len(term.words) == 1 and term.category in _INFLECTING]
                if found:
                    break
        if len(self._memo_inflected) >= _MEMO_LIMIT:
            self._memo_inflected.clear()
        self._memo_inflected[key] = found
        return found

    def modifiers(self, tokens: list[Token]) -> dict[str, set[int]]:
        """Token indices covered by each modifier category (phrases mark every word)."""
        marks: dict[str, set[int]] = {category: set() for category in MODIFIERS}
        for index, token in enumerate(tokens):
            if token.word in _PUNCT:
                continue
            for term in self._candidates(token.word, modifiers=True):
                if self._fits(term, tokens, index):
                    marks[term.category].update(range(index, index + len(term.words)))
        return marks


#: Categories that carry units: a term may stand in only one of them (it would count twice).
UNIT_CATEGORIES = frozenset({"problem", "topic", "wish", "displeasure", "anger", "positive",
                             "resolution", "noproblem", "repeat"})


def _parse(language: str, text: str) -> list[Term]:
    terms: list[Term] = []
    seen: dict[tuple[tuple[str, ...], bool], str] = {}
    category = ""
    units = 0.0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        if line.startswith("@"):
            parts = line[1:].split()
            if parts[0] not in _ALL:
                raise ValueError(f"{language}.txt:{number}: unknown category {parts[0]!r}")
            category = parts[0]
            units = float(parts[1]) if len(parts) > 1 else 0.0
            continue
        if not category:
            raise ValueError(f"{language}.txt:{number}: term before any @category")
        phrase, _, override = line.partition("=")
        weight = float(override) if override.strip() else units
        parts = phrase.split()
        prefix = bool(parts) and parts[-1] != "*" and parts[-1].endswith("*")
        words = tuple(word for part in parts for word in (
            ("*",) if part == "*" else (t.word for t in tokenize(part.rstrip("*")))))
        if not words:
            raise ValueError(f"{language}.txt:{number}: empty term")
        if category in UNIT_CATEGORIES:
            key = (words, prefix)
            if key in seen:
                raise ValueError(f"{language}.txt:{number}: {phrase.strip()!r} is already "
                                 f"under @{seen[key]}")
            seen[key] = category
        terms.append(Term(category, weight, words, prefix))
    return terms


@cache
def load(language: str) -> Lexicon:
    """The packaged lexicon of `language` (ISO 639-1); FileNotFoundError when none."""
    text = resources.files("daemon.scoring").joinpath("lexicons", f"{language}.txt")
    return Lexicon(language, _parse(language, text.read_text(encoding="utf-8")))
