"""The learned intensity reading: it only deepens a negative reading, never softens one,
never invents a complaint, and its shipped weights load without pickle."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from daemon.scoring.intensity import (
    AT_CERTAINTY,
    AT_THRESHOLD,
    BUCKETS,
    MAX_CHARS,
    IntensityModel,
    bucket_counts,
    ngrams,
    shared_intensity,
)
from daemon.scoring.local import LocalScorer

ROOT = Path(__file__).resolve().parents[2]
GRADED = ROOT / "bench" / "data" / "graded_messages.csv"
HOSTILE = ROOT / "tests" / "data" / "hostile_messages.json"


@pytest.fixture(scope="module")
def pair() -> tuple[LocalScorer, LocalScorer]:
    return LocalScorer(), LocalScorer(intensity=None)


def _model(weights: dict[str, float], threshold: float = 0.6) -> IntensityModel:
    """A hand-made model: every n-gram of the given words, with the given weights."""
    idf, weight = np.zeros(BUCKETS), np.zeros(BUCKETS)
    for word, value in weights.items():
        for bucket in bucket_counts(word)[0]:
            idf[bucket] = 1.0
            weight[bucket] = value
    return IntensityModel(idf, weight, bias=0.0, threshold=threshold)


def test_ngrams_pad_words_and_stop_at_five() -> None:
    assert list(ngrams("ab")) == [" a", "ab", "b ", " ab", "ab ", " ab "]
    assert max(map(len, ngrams("incredible"))) == 5
    with_url, plain = bucket_counts("Visit https://example.com/angry now"), bucket_counts("visit now")
    assert with_url[0].tolist() == plain[0].tolist() and with_url[1].tolist() == plain[1].tolist()


def test_lowered_only_deepens_a_negative_reading() -> None:
    model = _model({"furious": 8.0})
    angry = model.probability("furious furious")
    assert angry > 0.9 and model.probability("hello") == pytest.approx(0.5)
    # Negative reading, confident model: into the "clearly angry" band, deeper with p.
    low = model.lowered(-0.3, angry)
    assert AT_CERTAINTY <= low <= AT_THRESHOLD
    assert model.lowered(-0.3, 0.6) == pytest.approx(AT_THRESHOLD)
    assert model.lowered(-0.3, 1.0) == pytest.approx(AT_CERTAINTY)
    # Never milder, never below the threshold, never on a neutral or positive reading.
    assert model.lowered(-0.95, angry) == -0.95
    assert model.lowered(-0.3, 0.59) == -0.3
    assert model.lowered(0.0, angry) == 0.0
    assert model.lowered(0.6, angry) == 0.6


def test_a_model_of_the_wrong_shape_or_threshold_is_refused() -> None:
    with pytest.raises(ValueError, match="entries"):
        IntensityModel(np.zeros(10), np.zeros(10), 0.0, 0.5)
    with pytest.raises(ValueError, match="probability"):
        IntensityModel(np.zeros(BUCKETS), np.zeros(BUCKETS), 0.0, 1.5)


def test_the_shipped_weights_load_as_plain_arrays() -> None:
    model = shared_intensity()
    assert 0.5 <= model.threshold < 1.0
    assert 0.0 <= model.probability("") <= 1.0
    # Only the first MAX_CHARS characters are read: what follows cannot change the reading.
    opening = "Third time I write. Nobody answers. " * 100
    assert len(opening) > MAX_CHARS
    assert model.probability(opening + "thanks, all good " * 500) == model.probability(
        opening[:MAX_CHARS])


def test_no_message_reads_milder_with_the_model(pair: tuple[LocalScorer, LocalScorer]) -> None:
    with_model, lexicons = pair
    with GRADED.open(encoding="utf-8", newline="") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)]
    texts += [item["body"] for item in json.loads(HOSTILE.read_text(encoding="utf-8"))]
    lowered = 0
    for text in texts:
        deep, plain = with_model.score_one(text), lexicons.score_one(text)
        assert deep.score <= plain.score, text
        assert deep.signals == plain.signals and deep.language == plain.language
        if deep.score < plain.score:
            lowered += 1
            assert plain.score <= -0.05 and deep.score <= AT_THRESHOLD, text
    assert lowered > 0  # the model is on


@pytest.mark.parametrize("text", [
    "We are a team of four and need two more licences by Friday.",
    "Wir sind ein Team mit vier Mitarbeitern und brauchen zwei Lizenzen.",
    "Pouvez-vous me renvoyer la facture du 3 mars ? Merci.",
    "¿Me pueden enviar otra vez el contrato firmado? Gracias.",
    "Podem reenviar a segunda via do boleto de dezembro?",
    "Please cancel my subscription at the end of the month, thanks.",
    "Thanks so much, the refund arrived today!",
    "Vielen Dank, das Problem ist gelöst.",
])
def test_calm_messages_are_not_lowered(pair: tuple[LocalScorer, LocalScorer], text: str) -> None:
    with_model, lexicons = pair
    assert with_model.score_one(text).score == lexicons.score_one(text).score


def test_unsupported_languages_get_no_reading(pair: tuple[LocalScorer, LocalScorer]) -> None:
    with_model, _ = pair
    score = with_model.score_one("Dit is de derde keer dat ik bel en niemand helpt me verder.")
    assert not score.language_supported and score.score == 0.0 and score.confidence == 0.0
