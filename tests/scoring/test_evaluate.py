"""`eval` metrics on tiny hand-made CSVs, with a fake scorer whose answers we choose."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from daemon.evaluate import gold_label, metrics, roc_auc, run_eval
from daemon.scoring.base import Score, label_for
from daemon.scoring.local import LocalScorer


class TableScorer:
    """A fake of our own Scorer seam: the score for each text comes from a table."""

    name = "table"
    model = "fixed"

    def __init__(self, table: dict[str, float]) -> None:
        self.table = table

    def score(self, texts: Sequence[str]) -> list[Score]:
        return [Score(score=self.table[t], label=label_for(self.table[t]), confidence=0.5,
                      signals=frozenset({"urgent"}) if "asap" in t else frozenset(),
                      scorer=self.name, model=self.model) for t in texts]

    def close(self) -> None:
        return None


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_three_class_metrics_by_hand(tmp_path: Path) -> None:
    rows = [  # gold, text -> predicted band
        {"id": "1", "text": "a", "label": "Negative"},   # -0.8 neg  (TP neg)
        {"id": "2", "text": "b", "label": "negative"},   # 0.0  neu  (FN neg)
        {"id": "3", "text": "c", "label": "NEUTRAL"},    # 0.0  neu  (TP neu)
        {"id": "4", "text": "d", "label": "neutral"},    # -0.3 neg  (FP neg)
        {"id": "5", "text": "e asap", "label": "Positive"},  # 0.7 pos (TP pos)
        {"id": "6", "text": "f", "label": "unknown"},    # skipped
    ]
    table = {"a": -0.8, "b": 0.0, "c": 0.0, "d": -0.3, "e asap": 0.7, "f": 0.0}
    data = write_csv(tmp_path / "in.csv", rows)
    out = io.StringIO()
    output = tmp_path / "out.csv"
    assert run_eval(TableScorer(table), data, "text", "label", output, out) == 0
    result = json.loads(out.getvalue())
    assert result["n"] == 5 and result["accuracy"] == 0.6
    neg = result["per_class"]["negative"]
    assert (neg["precision"], neg["recall"], neg["f1"]) == (0.5, 0.5, 0.5)
    neu = result["per_class"]["neutral"]
    assert (neu["precision"], neu["recall"], neu["f1"]) == (0.5, 0.5, 0.5)
    assert result["per_class"]["positive"]["f1"] == 1.0
    assert result["macro_f1"] == round((0.5 + 0.5 + 1.0) / 3, 4)
    # Negatives scored -0.8, 0.0 against non-negatives 0.0, -0.3, 0.7:
    # pairs won 1+1+1 (for -0.8) + 0+0.5+0 ... = (3 + 1.5) / 6
    assert result["negative_auc"] == 0.75
    assert result["skipped_unrecognised_labels"] == {"unknown": 1}
    assert result["msgs_per_s"] > 0
    written = list(csv.DictReader(output.open(encoding="utf-8")))
    assert [r["id"] for r in written] == ["1", "2", "3", "4", "5"]
    assert set(written[0]) == {"id", "text", "label", "score", "predicted_label",
                               "confidence", "signals", "language", "supported"}
    assert written[0]["predicted_label"] == "very_negative" and written[4]["signals"] == "urgent"


def test_binary_negative_vs_rest_file(tmp_path: Path) -> None:
    rows = [{"body": "a", "gold": "negative"}, {"body": "b", "gold": "non-negative"},
            {"body": "c", "gold": "Non_Negative"}, {"body": "d", "gold": "negative"}]
    table = {"a": -0.5, "b": 0.6, "c": -0.2, "d": -0.9}
    out = io.StringIO()
    assert run_eval(TableScorer(table), write_csv(tmp_path / "b.csv", rows), "body", "gold",
                    None, out) == 0
    result = json.loads(out.getvalue())
    assert result["classes"] == ["negative", "non_negative"]
    assert result["per_class"]["negative"]["precision"] == round(2 / 3, 4)
    assert result["per_class"]["negative"]["recall"] == 1.0
    assert result["accuracy"] == 0.75


def test_missing_column_is_a_clear_error(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "x.csv", [{"text": "a", "label": "negative"}])
    out = io.StringIO()
    assert run_eval(TableScorer({}), data, "body", "label", None, out) == 2
    assert "no column 'body'" in json.loads(out.getvalue())["error"]


def test_labels_are_case_and_spelling_insensitive() -> None:
    assert gold_label(" Very Negative ") == "negative"
    assert gold_label("VERY_POSITIVE") == "positive"
    assert gold_label("Neutral") == "neutral"
    assert gold_label("non-negative") == "non_negative"
    assert gold_label("angry") is None


def test_auc_edge_cases() -> None:
    assert roc_auc([1.0, 2.0], [0.0]) == 1.0
    assert roc_auc([0.0], [1.0, 2.0]) == 0.0
    assert roc_auc([1.0], [1.0]) == 0.5
    assert roc_auc([], [1.0]) is None


def test_metrics_with_the_real_offline_scorer(tmp_path: Path) -> None:
    rows = [{"text": "This is the third time, still broken!", "label": "negative"},
            {"text": "Where can I download my invoice?", "label": "neutral"},
            {"text": "Thank you, that fixed it, great service!", "label": "positive"}]
    out = io.StringIO()
    assert run_eval(LocalScorer(), write_csv(tmp_path / "r.csv", rows), "text", "label",
                    None, out) == 0
    result = json.loads(out.getvalue())
    assert result["accuracy"] == 1.0 and result["negative_auc"] == 1.0


@pytest.mark.parametrize("seconds", [0.0, 1.0])
def test_metrics_handles_zero_duration(seconds: float) -> None:
    score = Score(score=0.0, label="neutral", confidence=0.5)
    assert metrics(["neutral"], [score], seconds)["accuracy"] == 1.0


def test_graded_file_reports_per_grade_fractions_and_spearman(tmp_path: Path) -> None:
    rows = [  # grade, language, score chosen by the table
        {"text": "f1", "grade": "furious", "language": "en"},   # -0.95
        {"text": "a1", "grade": "Angry", "language": "en"},     # -0.6 (misses -0.7)
        {"text": "m1", "grade": "mild", "language": "de"},      # -0.2
        {"text": "n1", "grade": "neutral", "language": "de"},   # 0.0
        {"text": "p1", "grade": "positive", "language": "de"},  # 0.7
        {"text": "x", "grade": "bored", "language": "de"},      # not a grade: skipped
    ]
    table = {"f1": -0.95, "a1": -0.6, "m1": -0.2, "n1": 0.0, "p1": 0.7, "x": 0.0}
    out = io.StringIO()
    output = tmp_path / "scored.csv"
    assert run_eval(TableScorer(table), write_csv(tmp_path / "g.csv", rows), "text", "grade",
                    output, out) == 0
    result = json.loads(out.getvalue())
    assert result["mode"] == "graded" and result["n"] == 5
    assert result["per_grade"]["furious"]["below_-0.7"] == 1.0
    assert result["per_grade"]["angry"]["below_-0.7"] == 0.0
    assert result["per_grade"]["angry"]["below_-0.5"] == 1.0
    assert result["per_grade"]["positive"]["above_0"] == 1.0
    assert result["spearman"] == 1.0  # scores rise strictly with the grade
    assert set(result["per_language"]) == {"en", "de"}
    assert result["per_language"]["de"]["per_grade"]["mild"]["n"] == 1
    assert result["three_class"]["n"] == 5
    assert result["skipped_unrecognised_labels"] == {"bored": 1}
    written = list(csv.DictReader(output.open(encoding="utf-8")))
    assert {r["supported"] for r in written} == {"true"}


def test_spearman_is_the_rank_correlation() -> None:
    from daemon.evaluate import spearman
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 1, 2, 2], [5, 6, 7, 8]) == pytest.approx(0.8944, abs=1e-4)
    assert spearman([1], [2]) is None and spearman([1, 1], [2, 3]) is None


def test_output_names_the_language_and_whether_it_was_read(tmp_path: Path) -> None:
    rows = [{"text": "Das ist eine Katastrophe, ich kündige!", "label": "negative"},
            {"text": "Dit is echt belachelijk, ik wil mijn geld terug van jullie.",
             "label": "negative"},
            {"text": "Where can I download my invoice?", "label": "neutral"}]
    output = tmp_path / "o.csv"
    out = io.StringIO()
    assert run_eval(LocalScorer(), write_csv(tmp_path / "l.csv", rows), "text", "label",
                    output, out) == 0
    written = list(csv.DictReader(output.open(encoding="utf-8")))
    assert [(r["language"], r["supported"]) for r in written] == [
        ("de", "true"), ("nl", "false"), ("en", "true")]
    result = json.loads(out.getvalue())
    assert result["unsupported"] == 1 and result["languages"]["nl"] == 1
