"""Anger carried only by dates: a log of follow-ups that ends in "today".

"Ticket opened March 3. Follow-up March 10. Follow-up March 17. Today is March 31.",
"Am Montag hieß es Dienstag, am Dienstag Donnerstag. Jetzt ist Freitag.", "Entrega
prevista 04/05. Hoy 30/05. Estado 'en tránsito' desde hace 26 días."  No anger word, but
a customer who dates each contact and then names today is counting how long they have
been kept waiting: repeated contact, said with a calendar.

One pass over the folded tokens (daemon.scoring.lexicon): dates are month names,
weekdays and numeric dates ("# . #", "10/05" which folds to "# #"); an elapsed duration
("for 23 days", "seit 25 Tagen") counts as one more.  It fires only with a marker of the
present ("today", "heute", "aujourd'hui", "hoy", "hoje", "still", ...): a message that
merely mentions when it ordered and when delivery is due does not.
"""

from __future__ import annotations

from daemon.scoring.lexicon import Token

#: Units of anger (counted like repeated contact) and the dates it takes.
DATED_UNITS = 3.0
_MIN_DATES = 3

_WEEKDAYS = frozenset((
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
    "montag", "dienstag", "mittwoch", "donnerstag", "freitag", "samstag", "sonntag",
    "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche",
    "lunes", "martes", "miercoles", "jueves", "viernes", "sabado", "domingo",
    "segunda", "terca", "quarta", "quinta", "sexta"))
_MONTHS = frozenset((
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december",
    "januar", "februar", "maerz", "mai", "juni", "juli", "oktober", "dezember",
    "janvier", "fevrier", "mars", "avril", "juin", "juillet", "aout", "septembre",
    "octobre", "novembre", "decembre",
    "enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
    "septiembre", "octubre", "noviembre", "diciembre",
    "janeiro", "fevereiro", "maio", "junho", "julho", "setembro", "outubro",
    "novembro", "dezembro"))
# Month names that are also words ("may", "mar", "marco"): dates only beside a number.
_NUMBERED_MONTHS = frozenset(("may", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
                              "sept", "oct", "nov", "dec", "marco"))
_NOT_WEEKDAY_AFTER = frozenset(("vez", "vezes", "via", "mao", "opcao", "tentativa"))
_DAYS = frozenset(("days", "weeks", "tage", "tagen", "wochen", "jours", "semaines",
                   "dias", "semanas"))
# Markers of the present the log runs up to.
_NOW = frozenset(("today", "now", "still", "heute", "jetzt", "immer", "aujourd", "toujours",
                  "hoy", "sigo", "seguimos", "todavia", "hoje", "continuo", "continua",
                  "ainda", "estamos", "sommes"))  # "estamos en abril", "nous sommes le 12"


def _count_dates(tokens: list[Token]) -> tuple[int, bool, int]:
    """Dates mentioned, whether the present is named, and the last date's token."""
    dates = 0
    now = False
    last = 0
    for index, token in enumerate(tokens):
        word = token.word
        if word in _NOW:
            now = True
            continue
        before = tokens[index - 1].word if index else ""
        if before in ("de", "of") and index > 1:  # "3 de março", "3rd of May"
            before = tokens[index - 2].word
        after = tokens[index + 1].word if index + 1 < len(tokens) else ""
        dated = (word in _MONTHS
                 or (word in _WEEKDAYS and after not in _NOT_WEEKDAY_AFTER)
                 or ((word in _DAYS or word in _NUMBERED_MONTHS) and before == "#")
                 or (word in _NUMBERED_MONTHS and after == "#"))
        if not dated and word == "#" and index + 2 < len(tokens):
            follow = tokens[index + 1].word
            dated = follow == "#" or (follow == "." and tokens[index + 2].word == "#")
        if dated:
            dates += 1
            last = index
    return dates, now, last


def dated_chase(tokens: list[Token]) -> tuple[float, int, int] | None:
    """(units, first token, last token) when the message is a dated log of chasing."""
    if len(tokens) < 8 or _NOW.isdisjoint([token.word for token in tokens]):
        return None  # the cheap test first: most messages never name the present
    dates, now, last = _count_dates(tokens)
    if dates < _MIN_DATES or not now:
        return None
    return DATED_UNITS, 0, last + 1


__all__ = ["DATED_UNITS", "dated_chase"]
