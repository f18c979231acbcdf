"""The examples in docs/rules.md load and pass, so the page cannot drift from the code."""

from __future__ import annotations

import io
import re
from pathlib import Path

from daemon.rulestest import run_rules_test
from daemon.scoring.local import LocalScorer
from daemon.yamlsafe import load_yaml, parse_yaml
from rules.model import RuleSet

REPO = Path(__file__).resolve().parents[2]
DOC = (REPO / "docs" / "rules.md").read_text()
YAML_BLOCKS = re.findall(r"```yaml\n(.*?)```", DOC, flags=re.S)


def test_the_rules_test_example_passes_against_the_shipped_rules(tmp_path: Path) -> None:
    [example] = [block for block in YAML_BLOCKS if block.startswith("tests:")]
    path = tmp_path / "example.yaml"
    path.write_text(example)
    rules = RuleSet.model_validate({"rules": load_yaml(REPO / "config.yaml").data["rules"]})
    out = io.StringIO()
    assert run_rules_test(rules, LocalScorer(), [path], out) == 0, out.getvalue()


def test_the_rule_examples_validate() -> None:
    snippets = [block for block in YAML_BLOCKS
                if not block.startswith(("tests:", "feedback:"))]
    assert len(snippets) == 3
    first = parse_yaml(snippets[0]).data
    RuleSet.model_validate(first)
    RuleSet.model_validate({"rules": parse_yaml(snippets[1]).data})
    expr_when = parse_yaml(snippets[2]).data["when"]
    RuleSet.model_validate({"rules": [{"name": "x", "when": expr_when}]})


def test_the_feedback_example_is_the_defaults() -> None:
    from daemon.config import FeedbackSettings

    [block] = [block for block in YAML_BLOCKS if block.startswith("feedback:")]
    assert FeedbackSettings.model_validate(parse_yaml(block).data["feedback"]) \
        == FeedbackSettings()
