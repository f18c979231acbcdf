"""Config errors a newcomer can fix: the key they probably meant, YAML syntax errors in
plain words, and what a pattern-checked value should look like.

`validation_errors` (daemon.yamlsafe) reports where a problem is; this module says what
to do about it.  Unknown keys get the closest known key of the model at that very path
(difflib over the pydantic fields, so the suggestion can never name a key that would be
refused), or the list of known keys when nothing is close.  PyYAML's parser messages
("mapping values are not allowed here") become a sentence about the usual cause.  A
value refused by a regex gets an example of a valid one instead of the regex.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from rules.model import INCIDENT_INHIBITOR

#: Known keys listed in full when no single one is close (more would be noise).
KNOWN_KEYS_SHOWN = 16


def did_you_mean(word: str, options: Iterable[str]) -> str | None:
    """The option closest to `word`, if one is close enough to be the intended spelling."""
    matches = difflib.get_close_matches(word, sorted(set(options)), n=1, cutoff=0.6)
    return matches[0] if matches else None


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _kind_tag(model: type[BaseModel]) -> str | None:
    """The `kind` literal of a model in a discriminated union (pydantic puts it in loc)."""
    field = model.model_fields.get("kind")
    if field is None or get_origin(field.annotation) is not Literal:
        return None
    values = get_args(field.annotation)
    return str(values[0]) if len(values) == 1 else None


def known_keys(tp: Any, loc: Sequence[str | int]) -> set[str] | None:
    """The keys the model accepts at `loc` (a path of keys and list indexes), or None
    when the path does not lead to a model (a free-form mapping, a scalar)."""
    if get_origin(tp) is Annotated:
        return known_keys(get_args(tp)[0], loc)
    if get_origin(tp) in (Union, types.UnionType):
        members = [m for m in get_args(tp) if m is not type(None)]
        if loc and isinstance(loc[0], str):
            for member in members:  # a discriminated union names the member first
                if _is_model(member) and _kind_tag(member) == loc[0]:
                    return known_keys(member, loc[1:])
        for member in members:
            found = known_keys(member, loc)
            if found is not None:
                return found
        return None
    if not loc:
        return set(tp.model_fields) if _is_model(tp) else None
    part, rest = loc[0], loc[1:]
    if _is_model(tp):
        field = tp.model_fields.get(part) if isinstance(part, str) else None
        return None if field is None else known_keys(field.annotation, rest)
    origin = get_origin(tp)
    args = get_args(tp)
    if origin in (list, tuple, set, frozenset) and isinstance(part, int) and args:
        return known_keys(args[0], rest)
    if origin is dict and isinstance(part, str) and len(args) == 2:
        return known_keys(args[1], rest)
    return None


def unknown_key_message(model: Any, loc: Sequence[str | int]) -> str:
    """'unknown key; did you mean X?' (or the keys known there) for an extra key at loc."""
    if not loc or not isinstance(loc[-1], str):
        return "unknown key"
    known = known_keys(model, loc[:-1]) if model is not None else None
    if not known:
        return "unknown key"
    guess = did_you_mean(loc[-1], known)
    if guess is not None:
        return f"unknown key; did you mean {guess}?"
    shown = sorted(known)
    more = ", …" if len(shown) > KNOWN_KEYS_SHOWN else ""
    return f"unknown key (known keys here: {', '.join(shown[:KNOWN_KEYS_SHOWN])}{more})"


# -- values checked by a pattern -------------------------------------------------------------

#: By the key's own name: the same regex means different things for different vendors.
_PATTERN_BY_KEY: Mapping[str, str] = {
    "subdomain": "use just the first part of your Zendesk address: `mycompany` for "
                 "https://mycompany.zendesk.com (lowercase letters, digits and '-')",
    "domain": "use just the first part of your Freshdesk address: `mycompany` for "
              "https://mycompany.freshdesk.com (lowercase letters, digits and '-')",
    "channel": "use a channel name such as `#escalations` (lowercase, no spaces) or a "
               "channel ID such as `C0123ABCDE`",
}
_TAG_KEYS = frozenset({"add_tags", "remove_tags", "has_tags", "lacks_tags"})
_TAG_HELP = "a tag is one word of up to 80 characters, no spaces or commas, e.g. " \
            "`sentiment-declining`"
_RULE_NAME_HELP = "a rule name uses lowercase letters, digits, '-', '_' and '.' (up to 63, " \
                  "starting with a letter or digit), e.g. `sentiment-declining`"
_SOURCE_NAME_HELP = "a source name uses letters, digits, '-', '_' and '.' (up to 63, " \
                    "starting with a letter or digit), e.g. `zendesk-main`"


def pattern_message(loc: Sequence[str | int]) -> str | None:
    """What a valid value looks like at `loc`, for a value its regex refused."""
    names = [part for part in loc if isinstance(part, str)]
    if not names:
        return None
    if names[-1] in _PATTERN_BY_KEY:
        return _PATTERN_BY_KEY[names[-1]]
    if _TAG_KEYS & set(names):
        return _TAG_HELP
    if names[-1] == "name":
        return _RULE_NAME_HELP if names[0] == "rules" else _SOURCE_NAME_HELP
    return None


# -- YAML syntax -------------------------------------------------------------------------------

#: PyYAML problem text (a fragment of it) -> the usual cause, in plain words.
_YAML_PROBLEMS: tuple[tuple[str, str], ...] = (
    ("'\\t'", "a tab character; YAML indents with spaces only"),
    ("mapping values are not allowed",
     "a ':' where none can be; put a value that contains ': ' in quotes, or check the "
     "indentation of this line"),
    ("could not find expected ':'",
     "a line that is not `key: value`; a ':' is missing, or a quote opened on an earlier "
     "line is not closed"),
    ("did not find expected key",
     "this line is not lined up with the keys above it; check its indentation"),
    ("did not find expected '-' indicator",
     "this list item is not lined up with the items above it; check its indentation"),
    ("expected <block end>",
     "this line is not lined up with the lines above it; check its indentation"),
    ("expected ',' or ']'", "a [list] that is not closed with ']' or lacks a ','"),
    ("expected ',' or '}'", "a {mapping} that is not closed with '}' or lacks a ','"),
    ("found unknown escape character",
     "a backslash in a \"double-quoted\" value; use 'single quotes' or write \\\\"),
    ("found unexpected end of stream", "a quote or bracket opened here is never closed"),
    ("cannot start any token",
     "a value starts with a character YAML reserves (such as @ or `); put it in quotes"),
    ("found undefined tag handle", "a '!' starts a value; put the value in quotes"),
    ("while scanning a simple key", "a line that is not `key: value`; a ':' is missing"),
)


def plain_yaml_problem(problem: str | None, context: str | None) -> str:
    """A PyYAML parser message as a sentence about its usual cause."""
    text = f"{problem or ''} {context or ''}"
    for fragment, meaning in _YAML_PROBLEMS:
        if fragment in text:
            return meaning
    return (problem or context or "unreadable").strip()


# -- references between sections ------------------------------------------------------------


def _names(value: Any) -> list[tuple[int | None, str]]:
    """(position, name) of a one-or-many names value as written (`x` or `[x, y]`)."""
    if isinstance(value, str):
        return [(None, value)]
    if isinstance(value, list):
        return [(i, v) for i, v in enumerate(value) if isinstance(v, str)]
    return []


def _unknown(what: str, name: str, known: Iterable[str]) -> str:
    known = sorted(set(known))
    message = f"unknown {what} {name!r} (configured: {', '.join(known) or 'none'})"
    guess = did_you_mean(name, known)
    return message + (f"; did you mean {guess}?" if guess else "")


def cross_reference_errors(raw_rules: Sequence[Any], notifiers: Iterable[str],
                           sources: Iterable[Any]) -> list[tuple[tuple[str | int, ...], str]]:
    """(key, message) for every rule naming a notifier, source or inhibiting rule the
    config lacks.

    Works on the rules as written, not on validated models, so a rule with a typo
    elsewhere still has its references checked in the same run.
    """
    notifier_names = {n for n in notifiers if isinstance(n, str)}
    source_names = {s for s in sources if isinstance(s, str)}
    out: list[tuple[tuple[str | int, ...], str]] = []
    for index, rule in enumerate(raw_rules):
        if not isinstance(rule, dict):
            continue
        when = rule.get("when")  # in the order a rule is usually written: when, actions
        if isinstance(when, dict):
            for position, source in _names(when.get("sources")):
                if source not in source_names:
                    key: tuple[str | int, ...] = ("rules", index, "when", "sources")
                    out.append((key if position is None else (*key, position),
                                _unknown("source", source, source_names)))
        for section in ("actions", "on_resolve"):
            actions = rule.get(section)
            if not isinstance(actions, dict):
                continue
            for position, target in _names(actions.get("notify")):
                if target not in notifier_names:
                    key = ("rules", index, section, "notify")
                    out.append((key if position is None else (*key, position),
                                _unknown("notifier", target, notifier_names)))
    return out + inhibitor_errors(raw_rules)


def inhibitor_errors(raw_rules: Sequence[Any]) -> list[tuple[tuple[str | int, ...], str]]:
    """(key, message) for `inhibited_by` entries naming no rule above, worded exactly as
    the rule model words them (the loader says each message once): a broken rule keeps
    the model from checking them, this does not."""
    out: list[tuple[tuple[str | int, ...], str]] = []
    names = [rule.get("name") if isinstance(rule, dict) else None for rule in raw_rules]
    for index, rule in enumerate(raw_rules):
        if not isinstance(rule, dict):
            continue
        for position, target in _names(rule.get("inhibited_by")):
            if target in names[:index] or target == names[index] or target == INCIDENT_INHIBITOR:
                continue  # fine, or "cannot inhibit itself" (the rule's own check)
            message = (f"rule {target!r} must be listed above this rule" if target in names
                       else f"unknown rule {target!r}")
            key: tuple[str | int, ...] = ("rules", index, "inhibited_by")
            out.append((key if position is None else (*key, position), message))
    return out
