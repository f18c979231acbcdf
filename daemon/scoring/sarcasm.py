"""Praise over harm: sarcasm that does not open with praise.

"So the update deleted all my projects. Really fantastic work." and "Congratulations on
the new system. Now I can't even download my invoice. Excellent work." praise, but the
facts they praise are harm -- something deleted, lost, gone, charged twice, or a thing
that no longer works "now".  With no fix being thanked for (no resolution words), the
praise is read as its opposite, in every language.

The harm phrases are regular expressions over the folded tokens joined by spaces (see
daemon.scoring.cues); they run only on a message that praises, so the common message
pays nothing for them.
"""

from __future__ import annotations

import re

from daemon.scoring.calibration import SARCASM
from daemon.scoring.lexicon import Token
from daemon.scoring.tally import Tally

#: Units of displeasure the harm itself adds, once per message.
HARM_UNITS = 1.0

_HARM: dict[str, str] = {
    "en": r"deleted|wiped|erased|(?:you|it|they|update|app|system) (?:have |has )?lost|disappeared|vanished|charged (?:me )?(?:twice|double"
          r"|two times)|double charged|(?:now|longer) (?:i |we )?(?:ca not|can not|cannot|could"
          r" not)|no longer (?:works?|loads?)",
    "de": r"geloescht|verschwunden|(?:ist|sind|ging|gingen|habt|haben) (?:[^ .!?\n]+ )?verloren|doppelt (?:abgebucht|berechnet)|(?:dreimal|zweimal)"
          r" abgebucht|(?:jetzt|nun) kann (?:ich|man) (?:[^ .!?\n]+ )?(?:nicht|nichts)"
          r"|kann (?:ich|man) (?:[^ .!?\n]+ )?nicht mehr",
    "fr": r"efface\w*|supprime\w*|disparu\w*|(?:vous avez|ont|a ete|ont ete|sont) perdu\w*|en double|(?:maintenant|desormais)"
          r" (?:, )?(?:impossible|je ne peux|on ne peut)",
    "es": r"borr\w+|elimin\w+|desaparec\w+|(?:han perdido|perdieron|se perdi\w+)|dos veces|(?:ahora|ya) (?:no|ni|ni siquiera) (?:puedo|funciona"
          r"|carga)",
    "pt": r"apag\w+|sumi\w+|desaparec\w+|(?:perderam|foi perdid\w+|foram perdid\w+|se perdeu)|duas vezes|(?:agora|mais) (?:nao|nem) (?:consigo|da"
          r"|funciona)|nao (?:consigo|da) mais",
}
# A fix the praise may be thanking for: "... but support restored them. Excellent work!"
_FIXED = re.compile(r"\b(?:restor\w*|recover\w*|got (?:it|them) back|wiederhergestellt|zurueck"
                    r"\w*|restaur\w*|recuper\w*)\b")
_COMPILED = {language: re.compile(rf"\b(?:{pattern})\b") for language, pattern in _HARM.items()}


# What may disappear without harm: "le problème de synchro a disparu".
_TROUBLE = frozenset(("problem", "problems", "issue", "issues", "bug", "bugs", "error", "errors",
                      "glitch", "probleme", "fehler", "stoerung", "erreur", "erreurs", "bogue",
                      "panne", "problema", "problemas", "errores", "fallo", "falla",
                      "erro", "erros", "falha", "defeito"))


def _trouble_before(tokens: list[Token], index: int) -> bool:
    """A problem word in the five tokens before the harm word, within its sentence."""
    for back in range(index - 1, max(-1, index - 6), -1):
        word = tokens[back].word
        if word in ".!?\n":
            return False
        if word in _TROUBLE:
            return True
    return False


def praise_over_harm(tokens: list[Token], language: str, tally: Tally) -> bool:
    """True (and the harm counted) when a message praises harm with no fix to thank for."""
    pattern = _COMPILED.get(language)
    if pattern is None or tally.praise <= 0 or tally.sarcasm:
        return False
    joined = " ".join(token.word for token in tokens)
    harmed = {index for match in pattern.finditer(joined)
              if not _trouble_before(tokens, index := joined.count(" ", 0, match.start()))}
    if not harmed or _FIXED.search(joined):
        return False
    # "ma commande a disparu" is harm, not "the problem disappeared".
    for span in [span for span in tally.positive_spans
                 if not harmed.isdisjoint(range(span[1], span[2]))
                 and span not in tally.praise_spans and span not in tally.gratitude_spans]:
        tally.resolution -= span[0]
        tally.positive_spans.remove(span)
    if tally.resolution > 0:
        return False
    # The praise turns into displeasure now, before a later rule drops praise that
    # shares a sentence with the harm.
    first = min(harmed)
    tally.add_negative("displeasure", (HARM_UNITS + SARCASM * tally.praise, first, first + 1))
    for span in tally.praise_spans:
        if span in tally.positive_spans:
            tally.positive_spans.remove(span)
    tally.praise_spans.clear()
    tally.praise = 0.0
    return True


__all__ = ["HARM_UNITS", "praise_over_harm"]
