"""No human-facing output lets hostile text drive the terminal (issue 11, item 6).

A subject with an escape sequence rewrote the terminal and, with a newline, forged a row
of `report`.  Subjects, config keys and rule-test names now pass through `safe_terminal`
wherever they are printed for a person.
"""

from __future__ import annotations

import dataclasses
import io
from datetime import timedelta
from pathlib import Path

import pytest

from daemon.cli import main
from daemon.pipeline import Pipeline
from daemon.report import build_report, render_report
from daemon.rulestest import run_rules_test
from daemon.scoring.local import LocalScorer
from daemon.store import Store
from daemon.terminal import safe_terminal
from rules.model import RuleSet
from tests.daemon.helpers import ARTICLE_RULES, T0, ScriptedScorer, message

ESCAPES = ("\x1b", "\x9b", "\r", "\u202e", "\u2066", "\u200b", "\x07", "\x00")
FORGED = "Refund\x1b[2J\x1b[H\rzd  999  +0.99\nzd  1000  +0.99\u202e\x9b31m\x07"


def _clean(text: str, *, multiline: bool) -> None:
    for char in ESCAPES:
        assert char not in text, repr(char)
    if not multiline:
        assert "\n" not in text


def test_safe_terminal_strips_controls_bidi_and_zero_width() -> None:
    assert safe_terminal("plain text, 100% safe") == "plain text, 100% safe"
    assert safe_terminal("Ren\u00e9e \u2014 caf\u00e9 \U0001f600") == "Ren\u00e9e \u2014 caf\u00e9 \U0001f600"
    assert safe_terminal("a\x1b[31mb\x9bc\rd\u202ee\u200bf") == "a[31mbcdef"
    assert safe_terminal("one\ntwo\tthree") == "one two three"
    assert safe_terminal("one\ntwo\r\n", multiline=True) == "one\ntwo\n"


def test_report_subject_cannot_rewrite_the_terminal_or_forge_a_row(db_url: str) -> None:
    store = Store(db_url)
    store.create_schema()
    store.sources.ensure(["zd"])
    now = T0 + timedelta(days=1)
    pipeline = Pipeline(store, ScriptedScorer(), lambda: ARTICLE_RULES, clock=lambda: now)
    batch = []
    for n, score in enumerate((-0.2, -0.6, -0.9)):
        item = message(f"m{n}", "77", f"score={score}", minutes=n)
        batch.append(dataclasses.replace(
            item, ticket=dataclasses.replace(item.ticket, subject=FORGED)))
    pipeline.process("zd", batch, "c")
    text = render_report(build_report(store, days=7, now=now))
    store.close()
    _clean(text, multiline=True)
    section = text.split("Tickets most at risk now\n", 1)[1].split("\n\n", 1)[0]
    rows = section.splitlines()[2:]
    assert [row.split()[1] for row in rows] == ["77"]  # one ticket, one row


def test_cli_config_errors_are_printed_safely(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.yaml"
    path.write_text('"log\\e[2J\\rOK\\u202e": 1\n')
    assert main(["check-config", "--config", str(path)]) == 1
    err = capsys.readouterr().err
    _clean(err, multiline=True)
    assert err.strip().startswith(f"{path}:1: log[2JOK: unknown key")


def test_rules_test_output_is_printed_safely(tmp_path: Path) -> None:
    rules = RuleSet.model_validate({"rules": [{"name": "r", "when": {"last_score_below": -0.5},
                                               "actions": {"add_tags": ["t"]}}]})
    path = tmp_path / "t.yaml"
    path.write_text('tests:\n  - name: "calm\\e[2J\\rPASS all\\u202e"\n'
                    "    messages: [{score: 0.5}]\n    expect: {fired: [r]}\n")
    out = io.StringIO()
    assert run_rules_test(rules, LocalScorer(), [path], out) == 1
    _clean(out.getvalue(), multiline=True)
    assert "  FAIL  calm[2JPASS all  (" in out.getvalue()
