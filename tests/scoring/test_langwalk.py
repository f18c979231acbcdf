"""The word-at-a-time automaton walk ranks exactly as py3langid does: same languages,
same order, bit-identical probabilities, on every graded message and on text that
strains the byte walk (runs of spaces, capitals, accents, other scripts, emoji)."""

from __future__ import annotations

import csv
from pathlib import Path

from daemon.scoring.language import SAMPLE_CHARS, shared_detector, strip_for_detection

GRADED = Path(__file__).resolve().parents[2] / "bench" / "data" / "graded_messages.csv"
ODD = [
    "", " ", "   two  spaces   between ", "ALL CAPS MESSAGE NOW", "Kündigung zum 31.",
    "Ça ne marche pas, désolé", "¿Dónde está mi pedido?", "Não consigo entrar",
    "Привет, у меня проблема с заказом", "注文がまだ届きません", "👍👍 great 👍",
    "e\u0301te\u0301 (decomposed accents)", "tab\tand\nnewline", "ok", "x" * 300,
]


def test_the_walk_ranks_exactly_as_py3langid() -> None:
    detector = shared_detector()
    with GRADED.open(encoding="utf-8", newline="") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)] + ODD
    for text in texts * 2:  # the second pass is served from the walk's memo
        sample = strip_for_detection(text)[:SAMPLE_CHARS]
        assert detector.rank(sample) == detector._identifier.rank(sample), text
