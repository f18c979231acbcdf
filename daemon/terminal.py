"""Text for a person's terminal: nothing in it can move the cursor, recolour or reorder.

Subjects, names, agent ids, vendor error texts and file names reach `report`,
`check-config`, `rules test` and the CLI's error lines; any of them can carry an escape
sequence (ESC [ ... rewrites the screen and can forge a table row), a carriage return
(overwrites the line), C1 controls (some terminals take 0x9b as ESC [), bidi overrides
(text reads backwards) or zero-width and line-separator characters.  `safe_terminal`
removes every character in the Unicode categories Cc (controls), Cf (format: bidi,
zero-width, tags), Cs (lone surrogates), Zl and Zp; a cell of a table also loses its
newlines and tabs, so one value is one line.
"""

from __future__ import annotations

import re
import unicodedata
from typing import TextIO

_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
# Printable ASCII and plain non-control text need no per-character look-up.
_MAYBE_UNSAFE = re.compile(r"[^\x20-\x7e]")


def safe_terminal(text: object, *, multiline: bool = False) -> str:
    """`text` as a string that is safe to print; `multiline` keeps newlines and tabs."""
    value = str(text)
    if _MAYBE_UNSAFE.search(value) is None:
        return value
    kept: list[str] = []
    for char in value:
        if multiline and char in "\n\t":
            kept.append(char)
        elif char in "\n\t\u2028\u2029":
            kept.append(" ")
        elif unicodedata.category(char) not in _UNSAFE_CATEGORIES:
            kept.append(char)
    return "".join(kept)


class TerminalSafe:
    """A text stream wrapper that passes every write through `safe_terminal`."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(safe_terminal(text, multiline=True))

    def flush(self) -> None:
        self._stream.flush()
