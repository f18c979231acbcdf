"""PII redaction applied to text before it leaves the machine for a third-party model.

Emails, phone numbers, payment card numbers (Luhn-checked, so order numbers survive),
IBANs (mod-97 checked) and, optionally, URLs and long digit runs are replaced by typed
placeholders such as `[EMAIL]`.  Our own regexes on purpose: Presidio pulls spaCy and a
dependency that fetches the public-suffix list over the network at start-up, and
scrubadub misses cards and IBANs (its detector list: https://scrubadub.readthedocs.io).  Sentiment does not
need any of these values, so the cost of an over-eager match is nil; a missed one leaks,
so patterns err on the side of redacting.  Names are not detected (that needs an NER
model); the cut of signatures in daemon.text removes the commonest place they occur.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

KINDS = ("email", "phone", "card", "iban", "url", "long_number")
DEFAULT_KINDS = ("email", "phone", "card", "iban")

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63})+")
_URL = re.compile(r"\bhttps?://[^\s<>\"]{1,2000}|\bwww\.[^\s<>\"]{1,2000}")
# 13-19 digits, optionally grouped by spaces or dashes.
_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30}\b")
# International or national numbers with at least 7 digits; separators . - space ().
_PHONE = re.compile(r"(?<![\w+])(?:(?:\+|00)?\d{1,3}[ .\-]?)?(?:\(\d{1,4}\)[ .\-]?)?"
                    r"\d{2,4}(?:[ .\-]?\d{2,4}){1,4}(?![\w])")
_LONG_NUMBER = re.compile(r"\b\d{6,}\b")


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def iban_valid(candidate: str) -> bool:
    compact = candidate.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    try:
        number = int("".join(str(int(ch, 36)) for ch in rearranged))
    except ValueError:
        return False
    return number % 97 == 1


@dataclass(frozen=True, slots=True)
class Redaction:
    text: str
    counts: dict[str, int]  # kind -> how many were replaced (for metrics, never the values)


class Redactor:
    """Replaces the configured PII kinds with placeholders; immutable and thread-safe."""

    def __init__(self, kinds: Iterable[str] = DEFAULT_KINDS) -> None:
        self.kinds = frozenset(kinds)
        unknown = self.kinds - set(KINDS)
        if unknown:
            raise ValueError(f"unknown redaction kinds: {', '.join(sorted(unknown))}")

    def redact(self, text: str) -> Redaction:
        counts: dict[str, int] = {}

        def sub(pattern: re.Pattern[str], kind: str, text: str) -> str:
            def replace(match: re.Match[str]) -> str:
                value = match.group(0)
                if kind == "card" and not luhn_valid(re.sub(r"\D", "", value)):
                    return value
                if kind == "iban":
                    # The pattern may run into a following word: find the longest
                    # valid prefix, ending at a space or a character boundary.
                    for end in range(len(value), 14, -1):
                        if iban_valid(value[:end]):
                            counts[kind] = counts.get(kind, 0) + 1
                            return "[IBAN]" + value[end:]
                    return value
                if kind == "phone" and not 7 <= len(re.sub(r"\D", "", value)) <= 15:
                    return value  # E.164 numbers have at most 15 digits
                counts[kind] = counts.get(kind, 0) + 1
                return f"[{kind.upper()}]"
            return pattern.sub(replace, text)

        # Order matters: URLs and emails before numbers inside them; cards before phones,
        # since a grouped card number also looks like a phone number.
        if "url" in self.kinds:
            text = sub(_URL, "url", text)
        if "email" in self.kinds:
            text = sub(_EMAIL, "email", text)
        if "iban" in self.kinds:
            text = sub(_IBAN, "iban", text)
        if "card" in self.kinds:
            text = sub(_CARD, "card", text)
        if "phone" in self.kinds:
            text = sub(_PHONE, "phone", text)
        if "long_number" in self.kinds:
            text = sub(_LONG_NUMBER, "long_number", text)
        return Redaction(text, counts)
