"""The one place an internal note becomes text a helpdesk can safely show.

A note is rendered once by the rule engine (as plain text; its template values are
already one line each, stripped and capped, in `rules.notes.render`) and written by
every connector through `note_body`:
- control, bidi and zero-width characters are removed (they reorder or hide text in
  the agent's view; `\\n` is kept), and the note is capped at `NOTE_MAX_CHARS`;
- for a vendor whose notes are HTML (Freshdesk `body`, Help Scout `text`), the whole
  note is HTML-escaped and its line breaks become `<br>`, so a customer's
  `<a href=...>` or tracking `<img>` quoted in a subject or a phrase shows as text and is
  never a live link or a request to someone else's server.  Zendesk's `body` is plain
  text and is sent as such.
"""

from __future__ import annotations

import html
import re

#: Far above any rule's note (templates are at most 5,000 characters) and below every
#: vendor's limit (Zendesk comments take 64 KiB).
NOTE_MAX_CHARS = 10_000
_ELLIPSIS = "…"

# C0 and C1 controls except \n, bidi embeddings/overrides/isolates and marks, zero-width
# characters, line/paragraph separators, BOM and interlinear annotation marks.
_UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e"
                     "\u2060-\u2069\ufeff\ufff9-\ufffb]")


def plain_note(note: str) -> str:
    """The note without unsafe characters, `\\r\\n` as `\\n`, capped at NOTE_MAX_CHARS."""
    text = _UNSAFE.sub("", note.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " "))
    if len(text) > NOTE_MAX_CHARS:
        text = text[:NOTE_MAX_CHARS - 1] + _ELLIPSIS
    return text


def note_body(note: str, *, html_vendor: bool) -> str:
    """What a connector sends as the note: plain text, or escaped HTML for HTML vendors."""
    text = plain_note(note)
    if not html_vendor:
        return text
    return "<br>".join(html.escape(line, quote=True) for line in text.split("\n"))
