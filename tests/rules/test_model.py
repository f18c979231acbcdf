"""Rule validation: every mistake is a config error with its location, exact text asserted."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from daemon.yamlsafe import parse_yaml, validation_errors
from rules.expr import validate_expr
from rules.model import RuleSet, parse_duration
from rules.notes import template_fields, validate_template
from tests.rules.support import ARTICLE_RULES, ruleset


def errors_of(text: str) -> list[str]:
    """Validate the `rules:` of a YAML text as the config loader does: FILE:LINE messages."""
    doc = parse_yaml(text, "config.yaml")
    with pytest.raises(ValidationError) as caught:
        RuleSet.model_validate({"rules": doc.data["rules"]})
    return validation_errors(caught.value, doc)


def test_the_skeleton_format_still_loads() -> None:
    rules = ruleset([{"name": "very-negative-message", "when": {"last_score_below": -0.7},
                      "actions": {"add_tags": ["x"], "notify": ["escalations"]},
                      "repeat_after": "24h"}])
    rule = rules.rules[0]
    assert rule.repeat_after == timedelta(hours=24)
    assert (rule.when.decline_threshold, rule.when.method) == (0.3, "article")
    assert rule.escalate_if_worse_by is None and rule.resolve_after is None


def test_unknown_key_names_file_line_and_key() -> None:
    text = ("rules:\n"
            "  - name: r\n"
            "    when: {last_score_below: -0.7}\n"
            "    actions:\n"
            "      add_tag: [x]\n")
    assert errors_of(text) == ["config.yaml:5: rules[0].actions.add_tag: unknown key"]


def test_unknown_placeholder_is_a_config_error() -> None:
    text = ("rules:\n"
            "  - name: r\n"
            "    when: {last_score_below: -0.7}\n"
            "    actions:\n"
            "      note: 'score {score}'\n")
    [message] = errors_of(text)
    assert message.startswith("config.yaml:5: rules[0].actions.note: unknown placeholder "
                              "{score} (known: current_avg, direction,")


@pytest.mark.parametrize(("template", "message"), [
    ("{ticket.id}", "placeholder {ticket.id} is not a plain name (no attribute or index access)"),
    ("{indicators[0]}", "placeholder {indicators[0]} is not a plain name"),
    ("{0}", "placeholder {0} is not a plain name"),
    ("{}", "placeholder {} is not a plain name"),
    ("{direction:{messages}}", "placeholder {direction}: nested fields are not allowed"),
    ("{trend:.2f}", "bad format in template: Unknown format code 'f' for object of type 'str'"),
    ("oops {", "bad template: Single '{' encountered in format string"),
])
def test_bad_templates(template: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        validate_template(template)
    assert str(caught.value).startswith(message)


def test_template_fields() -> None:
    assert template_fields("{direction:+.2f} {indicators} {{x}}") == {"direction", "indicators"}


@pytest.mark.parametrize(("expression", "message"), [
    ("current_avg <", "expr is not a valid expression: invalid syntax"),
    ("x = 1", "expr is not a valid expression"),
    ("tags.pop()", "expr: only these functions can be called"),
    ("scores.__class__ == 1", "expr: Attribute is not allowed"),
    ("__import__('os')", "expr: only these functions can be called"),
    ("open('/etc/passwd')", "expr: only these functions can be called"),
    ("[s for s in scores]", "expr: ListComp is not allowed"),
    ("lambda: 1", "expr: Lambda is not allowed"),
    ("9 ** 9 ** 9", "expr: Pow is not allowed"),
    ("score < 0", "expr: unknown name 'score' (known: current_avg, direction,"),
    ("trend < 0", "expr does not fit the feature types: '<' not supported"),
    ("max(scores, key=abs)", "expr: functions take plain positional arguments only"),
    ("'x' * 300 in tags", None),  # allowed: short literal, bounded by simpleeval
    ("'" + "x" * 201 + "' in tags", "expr: string literals are limited to 200 characters"),
    (" or ".join(["messages > 1"] * 60), "expr is too long"),
])
def test_expr_validation(expression: str, message: str | None) -> None:
    if message is None:
        validate_expr(expression)
        return
    with pytest.raises(ValueError) as caught:
        validate_expr(expression)
    assert str(caught.value).startswith(message)


def test_bad_expr_in_a_file_has_its_line() -> None:
    text = ("rules:\n"
            "  - name: r\n"
            "    when:\n"
            "      expr: \"curent_avg < -0.5\"\n")
    [message] = errors_of(text)
    assert message.startswith("config.yaml:4: rules[0].when.expr: expr: unknown name "
                              "'curent_avg'")


def test_inhibition_must_name_a_rule_listed_above() -> None:
    text = ("rules:\n"
            "  - name: a\n"
            "    when: {last_score_below: -0.7}\n"
            "    inhibited_by: [b, nope]\n"
            "  - name: b\n"
            "    when: {last_score_below: -0.7}\n"
            "  - name: a\n"
            "    when: {last_score_below: -0.5}\n")
    assert errors_of(text) == [
        "config.yaml:4: rules[0].inhibited_by[0]: rule 'b' must be listed above this rule",
        "config.yaml:4: rules[0].inhibited_by[1]: unknown rule 'nope'",
        "config.yaml:7: rules[2].name: rule name 'a' is already used by rule #1",
    ]


@pytest.mark.parametrize(("rule", "message"), [
    ({"when": {}}, "needs at least one condition"),
    ({"when": {"decline_threshold": 0.2}}, "needs at least one condition"),
    ({"when": {"trend": "declining", "ewma_alpha": 0.3}},
     "ewma_alpha only applies with method: ewma"),
    ({"when": {"trend": "declining", "method": "median"}}, "Input should be 'article' or 'ewma'"),
    ({"when": {"signals_any": ["angry"]}}, "unknown signal 'angry'"),
    ({"when": {"last_score_below": -0.7}, "on_resolve": {"notify": ["x"]}},
     "on_resolve needs resolve_after"),
    ({"when": {"last_score_below": -0.7}, "resolve_after": "1h",
      "on_resolve": {"priority": "low"}}, "on_resolve cannot set a priority"),
    ({"when": {"last_score_below": -0.7}, "inhibited_by": ["r"]},
     "a rule cannot inhibit itself"),
    ({"when": {"last_score_below": -0.7}, "actions": {"add_tags": ["t"],
                                                       "remove_tags": ["t"]}},
     "tags both added and removed: t"),
    ({"when": {"last_score_below": -0.7}, "repeat_after": "0s"}, "repeat_after must be longer"),
    ({"when": {"last_score_below": -0.7}, "repeat_after": "soon"},
     "expected a duration such as 15m, 24h or 7d"),
    ({"when": {"last_score_below": -0.7}, "actions": {"priority": "critical"}},
     "Input should be 'low', 'normal', 'high' or 'urgent'"),
    ({"when": {"last_score_below": -0.7}, "actions": {"add_tags": ["two words"]}},
     "String should match pattern"),
    ({"when": {"last_score_below": -1.5}}, "Input should be greater than or equal to -1"),
    ({"when": {"consecutive_negative": {"count": 0, "below": 0}}},
     "Input should be greater than or equal to 1"),
])
def test_rule_errors(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ruleset([{"name": "r", **rule}])
    assert message in str(caught.value)


def test_status_and_tags_accept_a_single_string() -> None:
    rule = ruleset([{"name": "r", "when": {"status": "open", "has_tags": "vip"}}]).rules[0]
    assert (rule.when.status, rule.when.has_tags) == (("open",), ("vip",))


@pytest.mark.parametrize(("value", "seconds"), [
    ("90s", 90), ("15m", 900), ("24h", 86400), ("7d", 604800), ("1w", 604800),
    ("1.5h", 5400), (3600, 3600), (timedelta(minutes=2), 120),
])
def test_durations(value: object, seconds: int) -> None:
    assert parse_duration(value) == timedelta(seconds=seconds)


@pytest.mark.parametrize("value", ["-1h", "1 day", "", True, None, -5, timedelta(seconds=-1)])
def test_bad_durations(value: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)


def test_notifier_names_include_on_resolve() -> None:
    rules = ruleset([*ARTICLE_RULES, {
        "name": "r", "when": {"last_score_below": -0.7},
        "actions": {"notify": ["pager"]}, "resolve_after": "1h",
        "on_resolve": {"notify": ["recovered"]}}])
    assert rules.notifier_names() == {"escalations", "pager", "recovered"}
    assert list(rules.notify_references())[-2:] == [
        (("rules", 2, "actions", "notify", 0), "pager"),
        (("rules", 2, "on_resolve", "notify", 0), "recovered")]
