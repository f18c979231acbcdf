"""Rule authors cannot make the daemon build huge strings (issue 11, item 3).

`%` string formatting in `expr` and huge widths or precisions in note format specs each
cost gigabytes and seconds when evaluated (inside the write transaction).  Both are
refused when the config loads, with FILE:LINE, before anything is rendered.  The values
here are big enough to show the hole and small enough not to hurt a machine running
today's code.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from daemon.yamlsafe import parse_yaml, validation_errors
from rules.expr import ExprError, validate_expr
from rules.model import RuleSet
from rules.notes import MAX_SPEC_NUMBER, validate_template


def errors_of(text: str) -> list[str]:
    doc = parse_yaml(text, "config.yaml")
    with pytest.raises(ValidationError) as caught:
        RuleSet.model_validate({"rules": doc.data["rules"]})
    return validation_errors(caught.value, doc)


@pytest.mark.parametrize("expression", [
    "'%5000000s' % 1 == ''",
    "'%.5000000f' % direction == ''",
    "('%' + '5000000s') % 1 == ''",
    "priority % messages == ''",
    "status % (1,) == ''",
])
def test_percent_formatting_in_expr_is_refused(expression: str) -> None:
    with pytest.raises(ExprError) as caught:
        validate_expr(expression)
    assert "% takes numbers only (string formatting is not allowed)" in str(caught.value)


@pytest.mark.parametrize("expression", ["messages % 2 == 0", "direction % 0.5 < 0.25"])
def test_percent_on_numbers_is_a_remainder(expression: str) -> None:
    validate_expr(expression)


@pytest.mark.parametrize(("template", "part", "number"), [
    ("{direction:.5000000f}", "precision", 5000000),
    ("{subject:>5000000}", "width", 5000000),
    ("{messages:05000000d}", "width", 5000000),
    ("{subject:x^201.3}", "width", 201),
])
def test_huge_width_or_precision_is_refused(template: str, part: str, number: int) -> None:
    with pytest.raises(ValueError) as caught:
        validate_template(template)
    name = template[1:template.index(":")]
    assert str(caught.value) == (f"placeholder {{{name}}}: {part} {number} is over the limit "
                                 f"of {MAX_SPEC_NUMBER}")


@pytest.mark.parametrize("template", ["{direction:+.2f}", "{subject:.80}", "{messages:,d}",
                                      "{current_avg:>8.3%}", "{subject:*^40}"])
def test_ordinary_specs_still_load(template: str) -> None:
    validate_template(template)


def test_both_are_reported_with_file_and_line() -> None:
    text = ("rules:\n"
            "  - name: r\n"
            "    when:\n"
            "      expr: \"'%5000000s' % 1 == ''\"\n"
            "  - name: s\n"
            "    when: {last_score_below: -0.5}\n"
            "    actions:\n"
            "      note: 'down {direction:.5000000f}'\n")
    assert errors_of(text) == [
        "config.yaml:4: rules[0].when.expr: expr: % takes numbers only (string formatting "
        "is not allowed)",
        "config.yaml:8: rules[1].actions.note: placeholder {direction}: precision 5000000 "
        "is over the limit of 200"]
