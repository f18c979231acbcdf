"""Text normalisation: what every message body goes through before the database or a model.

HTML to text, quoted earlier replies and signatures cut, invalid Unicode repaired, NUL
and bidi controls removed, whitespace collapsed, length capped with the cut recorded.
The same function for every scorer and every source.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

DEFAULT_MAX_CHARS = 20_000

_TAG = re.compile(r"<[^>]+>")
_BLOCK = re.compile(r"(?i)<\s*(br|/p|/div|/li|/tr|/h[1-6])\b[^>]*>")
_SCRIPT = re.compile(r"(?is)<\s*(script|style)\b.*?<\s*/\s*\1\s*>")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True, slots=True)
class NormalisedText:
    text: str
    original_chars: int
    truncated: bool


def repair_unicode(text: str) -> str:
    """Replace lone surrogates (they crash sqlite3, psycopg and the anthropic SDK)."""
    return text.encode("utf-8", "replace").decode("utf-8")


def normalise(body: str, *, is_html: bool = False,
              max_chars: int = DEFAULT_MAX_CHARS) -> NormalisedText:
    original = len(body)
    text = repair_unicode(body)
    if is_html or "<" in text and _TAG.search(text):
        text = _SCRIPT.sub(" ", text)
        text = _BLOCK.sub("\n", text)
        text = html.unescape(_TAG.sub(" ", text))
    text = _CONTROL.sub("", text)
    lines = [" ".join(line.split()) for line in text.splitlines()]
    text = "\n".join(line for line in lines if line).strip()
    truncated = len(text) > max_chars
    if truncated:
        text = text[:max_chars]
    return NormalisedText(text, original, truncated)
