"""Note templates: the text a rule leaves on the ticket, rendered from a decision.

A template is a Python format string over a fixed set of plain placeholders
(`{direction:+.2f}`, `{indicators}`); attribute and index access, nested fields and
unknown names are refused when the config loads (and so are widths and precisions that
would render a huge string), so a typo is a config error and not
a broken note at 3 a.m.  Rendering never re-reads what it substitutes, so customer text
inside `{indicators}` or `{subject}` stays text; each value is made one line without
control or bidi characters and capped (`plain_value`).  Escaping for a vendor that shows
notes as HTML happens where the note is written (connectors/notetext.py).
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from typing import Any

#: Each placeholder with a value of the type it has at runtime, used to check format
#: specs at load (`{trend:.2f}` fails here, not when the rule first fires).
NOTE_FIELDS: Mapping[str, Any] = {
    "rule": "sentiment-declining",
    "reason": "sentiment_declining",
    "step": "first",
    "trend": "declining",
    "method": "article",
    "direction": -0.42,
    "current_avg": -0.61,
    "last_score": -0.8,
    "min_score": -0.8,
    "messages": 4,
    "indicators": '"third time I ask"',
    "signals": "churn_risk",
    "ticket_id": "1234",
    "subject": "Refund",
    "source": "zendesk",
    "priority": "normal",
    "status": "open",
    "requester": "Ada",
    "url": "https://example.zendesk.com/agent/tickets/1234",
}


def template_fields(template: str) -> set[str]:
    """Placeholder names a template uses; ValueError on anything but plain known names."""
    names: set[str] = set()
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"bad template: {exc} (write {{{{ and }}}} for literal braces)") from None
    for _, field_name, format_spec, _ in parsed:
        if field_name is None:
            continue
        if not field_name.isidentifier():
            raise ValueError(f"placeholder {{{field_name}}} is not a plain name (no attribute "
                             f"or index access)")
        if field_name not in NOTE_FIELDS:
            raise ValueError(f"unknown placeholder {{{field_name}}} (known: "
                             f"{', '.join(sorted(NOTE_FIELDS))})")
        if format_spec and "{" in format_spec:
            raise ValueError(f"placeholder {{{field_name}}}: nested fields are not allowed")
        if format_spec:
            _check_spec(field_name, format_spec)
        names.add(field_name)
    return names


#: Width and precision above this are refused: `{direction:.2147483647f}` costs gigabytes
#: and seconds to render, and no note needs a field wider than a line.
MAX_SPEC_NUMBER = 200

# Python's format-spec mini-language: [[fill]align][sign][z][#][0][width][grouping][.precision][type]
_SPEC = re.compile(r"^(?:.?[<>=^])?[-+ ]?z?#?0?(?P<width>\d+)?[,_]?"
                   r"(?:\.(?P<precision>\d+))?[bcdeEfFgGnosxX%]?$", re.DOTALL)


def _check_spec(name: str, spec: str) -> None:
    """Refuse a spec the mini-language would expand to a huge string (checked before any
    rendering, so refusing is instant)."""
    match = _SPEC.match(spec) if len(spec) <= 40 else None
    if match is None:
        raise ValueError(f"placeholder {{{name}}}: format spec {spec[:20]!r} is not valid")
    for part in ("width", "precision"):
        value = match.group(part)
        if value is not None and int(value) > MAX_SPEC_NUMBER:
            raise ValueError(f"placeholder {{{name}}}: {part} {int(value)} is over the limit "
                             f"of {MAX_SPEC_NUMBER}")


def validate_template(template: str) -> None:
    """Raise ValueError (a config error) if the template cannot render."""
    template_fields(template)
    try:
        template.format_map(NOTE_FIELDS)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"bad format in template: {exc}") from None


#: Longest text a placeholder contributes; customer text (subject, phrases, name) is
#: capped so one ticket cannot make a note unbounded.
VALUE_MAX_CHARS: Mapping[str, int] = {"subject": 200, "requester": 100, "indicators": 600,
                                      "url": 500, "signals": 300}
DEFAULT_VALUE_MAX_CHARS = 120

# Controls (C0 and C1), bidi embeddings/overrides/isolates and marks, zero-width characters
# and line separators: they can hide text or make it read backwards in the agent's view.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e"
                     "\u2060-\u2069\ufeff\ufff9-\ufffb]")


def plain_value(name: str, value: object) -> object:
    """A placeholder value as one safe line of bounded length (numbers pass unchanged)."""
    if not isinstance(value, str):
        return value
    text = _UNSAFE.sub("", value.replace("\r\n", " ").replace("\n", " ").replace("\t", " "))
    cap = VALUE_MAX_CHARS.get(name, DEFAULT_VALUE_MAX_CHARS)
    return text if len(text) <= cap else text[:cap - 1] + "…"


def render(template: str, values: Mapping[str, Any]) -> str:
    """Render a validated template; every known placeholder is always provided."""
    complete = {name: plain_value(name, values.get(name, "")) for name in NOTE_FIELDS}
    try:
        return template.format_map(complete)
    except (ValueError, TypeError):
        # Only reachable if a value has an unexpected type; a note without numbers
        # beats no note, and the decision itself still carries the numbers.
        return template
