"""Offline topic terms of a customer message: what it is about, normalised, per language.

Incidents (rules/incidents.py) group negative messages from different tickets that are
about the same thing.  What a message is "about" is taken here as its content words:
the text is tokenised, its language guessed among the five the offline scorer reads
(English, German, French, Spanish, Portuguese) by counting each language's stop words,
stop words (the `stop-words` package's lists), sentiment and generic support words
(written here: "refund", "unacceptable" or "waiting" say how a customer feels or what
any ticket is, not which thing broke) and numbers are dropped, English particle verbs
are joined ("log in", "sign-in" -> "login"), and each remaining word is reduced to its
Snowball stem (`snowballstemmer`), so "crashes", "crashing" and "crashed" are one term.

Why not a keyword extractor such as YAKE: measured at about 2.4 ms per message (and a
numpy dependency), it alone would cost some thirty times the whole pipeline's per-message
overhead; this extraction costs tens of microseconds, memoises stems, and only negative
messages need it.  Surface forms are kept beside the stems so an alert can quote what
customers wrote.  Pure and deterministic; no I/O after import.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer
from stop_words import get_stop_words
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

#: ISO 639-1 code -> the name both libraries use.
LANGUAGES: dict[str, str] = {"en": "english", "de": "german", "fr": "french",
                             "es": "spanish", "pt": "portuguese"}
#: Terms kept per message (the first ones in the text: customers say what broke early).
MAX_TERMS = 8
#: Characters read per message; a long message's later paragraphs are history and quotes.
MAX_CHARS = 800

_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*", re.UNICODE)

# English particle verbs that name one thing ("can't log in" is the login page).
_JOINED = re.compile(r"\b(log|sign|check)[\s-]?(in|on|out|up)\b")  # on lowered text
_JOIN_TO = {("log", "in"): "login", ("log", "on"): "login", ("sign", "in"): "login",
            ("sign", "on"): "login", ("log", "out"): "logout", ("sign", "out"): "logout",
            ("sign", "up"): "signup", ("check", "out"): "checkout"}

# Words any complaint contains, whatever broke: feelings, time, the ticket itself.  Our
# own lists (general support language, chosen a priori; not fitted to any data).
_GENERIC: dict[str, str] = {
    "en": """hello hi hey dear team support service customer customers please thanks thank
        regards help still again already yet today yesterday tomorrow morning afternoon
        evening tonight week weeks day days hour hours minute minutes time times now
        since ago problem problems issue issues ticket tickets case request email emails
        mail reply replies answer answers response update updates wait waiting waited
        work working works worked job anything something everything nothing someone anyone
        nobody everyone thing things way lot bit fix fixed fixing sort sorted please asap
        urgent immediately seriously literally really actually just even also get got
        getting make made making know knew let try tried trying keep kept say said says
        tell told need needs needed want wanted company guys folks sir madam hope
        unacceptable ridiculous terrible horrible awful worst useless broken fail failed
        fails failing failure error errors wrong happen happened happening going gone
        refund money cancel cancelled canceled cancellation account order orders
        patience losing lost honestly second third fourth come came look looking
        disappointed disappointing annoying annoyed frustrated frustrating angry upset
        happy unhappy sorry excuse excuses chance screenshots screenshot known rush
        letting curious wondering""",
    "de": """hallo guten tag team support service kunde kunden bitte danke dank grüße
        gruß hilfe immer noch wieder schon heute gestern morgen woche wochen tag tage
        stunde stunden minute minuten zeit jetzt seit problem probleme fehler ticket
        anfrage mail antwort antworten warte warten wartet funktioniert funktionieren
        geht ging kaputt nichts etwas alles jemand niemand sache mal leider dringend
        sofort wirklich einfach endlich unmöglich inakzeptabel schlecht schlimm katastrophe
        frechheit unverschämt erstattung geld kündigen kündigung konto bestellung
        geduld enttäuscht ärgerlich nervig sauer verärgert mehr kommt kommen ganz ganze
        klappt möglich""",
    "fr": """bonjour salut équipe support service client clients merci cordialement aide
        toujours encore déjà aujourd'hui hier demain matin semaine semaines jour jours
        heure heures minute minutes temps maintenant depuis problème problèmes souci
        erreur ticket demande mail réponse attends attendre attente fonctionne marche
        rien quelque chose tout personne chose vraiment urgent immédiatement inacceptable
        nul horrible catastrophe honte remboursement argent annuler résiliation compte
        commande svp patience déçu déçue énervé énervée fâché agaçant arrive arriver
        possible impossible inadmissible""",
    "es": """hola buenos días equipo soporte servicio cliente clientes gracias saludos
        ayuda todavía sigue otra vez ya hoy ayer mañana semana semanas día días hora horas
        minuto minutos tiempo ahora desde problema problemas error ticket solicitud correo
        respuesta espero esperando esperar funciona nada algo todo nadie cosa favor
        urgente inmediatamente inaceptable horrible terrible vergüenza reembolso dinero
        cancelar cancelación cuenta pedido paciencia decepcionado decepcionada molesto
        enfadado consigo puedo poder desastre imposible""",
    "pt": """olá oi bom dia equipe suporte serviço cliente clientes obrigado obrigada
        atenciosamente ajuda ainda novamente outra vez já hoje ontem amanhã semana semanas
        dia dias hora horas minuto minutos tempo agora desde problema problemas erro
        ticket pedido solicitação email resposta esperando esperar aguardando funciona
        nada algo tudo ninguém coisa favor urgente imediatamente inaceitável horrível
        péssimo vergonha reembolso dinheiro cancelar cancelamento conta paciência
        decepcionado decepcionada chateado irritado consigo consegue conseguir fazer
        absurdo impossível""",
}

_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class Topic:
    """What one message is about: its language, stems in text order, and the words
    customers wrote for them (same order, for quoting)."""

    language: str
    terms: tuple[str, ...]
    words: tuple[str, ...]


#: Tokens read per message, and tokens used to guess its language.
MAX_TOKENS = 120
LANGUAGE_TOKENS = 40
_DROP = ("", "")  # a token that is no topic word (cached like a stem)


class _Language:
    """One language's stop words, and one memoised decision per token: dropped, or the
    stem and the word it was made from.  The decision is computed once per distinct
    token (under a lock: the Snowball stemmer is not thread-safe) and then costs one
    dictionary lookup, which keeps extraction in the tens of microseconds."""

    def __init__(self, code: str) -> None:
        name = LANGUAGES[code]
        self.code = code
        self.stop = frozenset(w.lower() for w in get_stop_words(name))
        self.generic = frozenset(_GENERIC[code].split())
        self._stemmer = snowballstemmer.stemmer(name)
        self.generic_stems = frozenset(self._stemmer.stemWord(w) for w in self.generic)
        self.feeling = _sentiment_words() if code == "en" else frozenset()
        self.decisions: dict[str, tuple[str, str]] = {}

    def decide(self, token: str) -> tuple[str, str]:
        """(stem, word) for a topic word, else _DROP; memoised (bounded)."""
        decision = _DROP
        word = token
        if "'" in word:  # "today's", "l'application": the part that carries the meaning
            word = max(word.split("'"), key=len)
        if len(word) >= 3 and word not in self.stop and word not in self.generic \
                and word not in self.feeling and token not in self.feeling:
            with _lock:
                stem = self._stemmer.stemWord(word)
            if stem not in self.generic_stems:
                decision = (stem, word)
        if len(self.decisions) < 200_000:  # a flood of unique words stays bounded
            self.decisions[token] = decision
        return decision


@lru_cache(maxsize=1)
def _languages() -> tuple[_Language, ...]:
    return tuple(_Language(code) for code in LANGUAGES)


@lru_cache(maxsize=1)
def _by_code() -> dict[str, _Language]:
    return {language.code: language for language in _languages()}


@lru_cache(maxsize=1)
def _sentiment_words() -> frozenset[str]:
    """English words that carry a feeling (VADER's lexicon): never a topic."""
    return frozenset(SentimentIntensityAnalyzer().lexicon)


def _join(match: re.Match[str]) -> str:
    return _JOIN_TO.get((match.group(1), match.group(2)), match.group(0))


@lru_cache(maxsize=1)
def _stop_index() -> dict[str, tuple[tuple[int, float], ...]]:
    """Stop word -> (language index, weight) for the languages that list it; a word
    several languages list ("a", "de", "com") weighs less in each."""
    index: dict[str, list[int]] = {}
    for position, language in enumerate(_languages()):
        for word in language.stop:
            index.setdefault(word, []).append(position)
    return {word: tuple((p, 1.0 / len(positions)) for p in positions)
            for word, positions in index.items()}


#: Letters only one of the five languages uses: each present one counts like a stop word.
_LETTER_HINTS: tuple[tuple[str, str], ...] = (
    ("ã", "pt"), ("õ", "pt"), ("ñ", "es"), ("¿", "es"), ("¡", "es"), ("ß", "de"),
    ("ä", "de"), ("ö", "de"), ("ü", "de"), ("è", "fr"), ("ê", "fr"), ("œ", "fr"),
    ("ù", "fr"), ("î", "fr"), ("û", "fr"))


def detect_language(tokens: Iterable[str], text: str = "") -> str:
    """The language whose stop words the tokens use most; English when there are none.
    On a tie another language wins over English: the English list also holds "o",
    "com" and "um", which are Portuguese function words."""
    languages = _languages()
    stop_index = _stop_index()
    counts = [0.0] * len(languages)
    for token in tokens:
        for position, weight in stop_index.get(token, ()):
            counts[position] += weight
    if text and not text.isascii():
        for letter, position in _letter_hints():
            if letter in text:
                counts[position] += 1.0
    best = 0  # English unless another language has more, or as much
    for position in range(1, len(counts)):
        if counts[position] > counts[best] + 1e-9 \
                or (best == 0 and counts[position] > 0 and counts[position] >= counts[0] - 1e-9):
            best = position
    return languages[best].code


@lru_cache(maxsize=1)
def _letter_hints() -> tuple[tuple[str, int], ...]:
    codes = [language.code for language in _languages()]
    return tuple((letter, codes.index(code)) for letter, code in _LETTER_HINTS)


def extract_topic(text: str, *, max_terms: int = MAX_TERMS, max_chars: int = MAX_CHARS) -> Topic:
    """The topic terms of one message (empty when nothing specific is said)."""
    head = text[:max_chars].lower()
    if "’" in head:
        head = head.replace("’", "'")
    head = _JOINED.sub(_join, head)
    tokens = _WORD.findall(head)[:MAX_TOKENS]
    code = detect_language(tokens[:LANGUAGE_TOKENS], head[:LANGUAGE_TOKENS * 8])
    language = _by_code()[code]
    decisions = language.decisions
    terms: list[str] = []
    words: list[str] = []
    for token in tokens:
        decision = decisions.get(token)
        if decision is None:
            decision = language.decide(token)
        stem = decision[0]
        if not stem or stem in terms:
            continue
        terms.append(stem)
        words.append(decision[1])
        if len(terms) >= max_terms:
            break
    return Topic(code, tuple(terms), tuple(words))


@lru_cache(maxsize=4096)
def surface_forms(word: str) -> tuple[str, ...]:
    """How a joined word may appear in the text ("login": "log in", "sign-in", ...)."""
    forms = [word]
    for (verb, particle), joined in _JOIN_TO.items():
        if joined == word:
            forms += [f"{verb} {particle}", f"{verb}-{particle}"]
    return tuple(forms)


def topic_of_label(label: str) -> Topic:
    """Terms of a short topic label (Claude's), extracted like a message's."""
    return extract_topic(label, max_terms=4, max_chars=120)
