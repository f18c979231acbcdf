"""Text normalisation: what every message body goes through before the database or a model.

HTML to text, invalid Unicode repaired, NUL and bidi controls removed, quoted earlier
replies ("On ... wrote:", "-----Original Message-----", Outlook "From:/Sent:" headers,
`>` lines) and signatures ("-- ", "Sent from my iPhone", a closing such as "Best regards,"
followed by a few short lines) cut, whitespace collapsed, length capped with the cut
recorded.  The same function for every scorer and every source, so the cache key, the
offline score and what Claude sees are all computed on the same text.  The cuts are our
own small regexes: the mail-reply libraries on PyPI are either unmaintained (talon) or
pull a machine-learning stack for signatures, and a conservative cut is all scoring needs.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

DEFAULT_MAX_CHARS = 20_000
# A cap on what the regexes ever look at, whatever max_chars says: a 5 MB body must not
# cost seconds of regex time before it is cut to size anyway.
_HARD_INPUT_CAP = 1_000_000

_TAG = re.compile(r"</?[A-Za-z!][^<>]{0,2000}>")
_BLOCK = re.compile(r"(?i)<(br|/p|/div|/li|/tr|/h[1-6]|/blockquote)\b[^<>]{0,2000}>")
# Elements whose content is never the customer's words (or is quoted history).  Removed
# with a linear scan rather than one `.*?` regex, which goes quadratic on unclosed tags.
_DROPPED_OPEN = re.compile(r"(?i)<(script|style|head|blockquote|!--)")
_DROPPED_CLOSE = {name: re.compile(rf"(?i)</{name}\s*>") for name in
                  ("script", "style", "head", "blockquote")}
# Quoted history inside HTML mail is often a container that runs to the end of the body.
_HTML_QUOTE_TAIL = re.compile(r"(?i)<div\b[^<>]{0,500}class\s*=\s*[\"'][^\"'<>]{0,200}"
                              r"(?:gmail_quote|yahoo_quoted|moz-cite-prefix)")
# Zero-width characters (U+200B-U+200D, U+2060) go too: "h\u200borrible" must still
# read as "horrible" to a lexicon.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2060"
                      r"\u2066-\u2069\ufeff\ufff9-\ufffb]")

# A line that starts the quoted earlier conversation: everything from it on is cut.
_QUOTE_HEADER = re.compile(
    r"(?im)^(?:"
    r"on\b.{0,300}\bwrote:\s*$"                       # Gmail / Apple Mail
    r"|le\b.{0,300}\ba écrit\s*:\s*$"                  # French
    r"|am\b.{0,300}\bschrieb.{0,80}:\s*$"              # German
    r"|-{2,}\s*original message\s*-{2,}"               # Outlook
    r"|-{2,}\s*forwarded message\s*-{2,}"
    r"|_{10,}\s*$"                                     # Outlook separator line
    r"|from:\s.{1,200}\n(?:.*\n){0,3}?\s*(?:sent|date):\s"  # Outlook header block
    r"|#{2,}\s*please type your reply above this line\s*#{2,}"  # helpdesk reply markers
    r")")
_QUOTED_LINE = re.compile(r"^\s*>")
# Signature starts: the RFC 3676 delimiter, mobile footers, and common closings.
_SIGNATURE_DELIMITER = re.compile(r"^--\s*$")
_MOBILE_FOOTER = re.compile(r"(?i)^(sent from my \w+|sent from (outlook|mail) for \w+|"
                            r"get outlook for \w+|sent via \w+)")
_CLOSING = re.compile(r"(?i)^(best|kind regards|warm regards|best regards|many thanks|thanks|"
                      r"thank you|thx|regards|cheers|sincerely|yours sincerely|yours truly|"
                      r"best wishes|all the best|br)[,!.]?\s*$")
_SIGNATURE_TAIL_LINES = 6  # a closing counts only when at most this many short lines follow
_SIGNATURE_WINDOW = 15


@dataclass(frozen=True, slots=True)
class NormalisedText:
    text: str
    original_chars: int
    truncated: bool
    cut_quoted: bool = False  # quoted earlier replies were removed
    cut_signature: bool = False  # a signature block was removed


def repair_unicode(text: str) -> str:
    """Replace lone surrogates (they crash sqlite3, psycopg and the anthropic SDK)."""
    return text.encode("utf-8", "replace").decode("utf-8")


def _drop_elements(text: str) -> tuple[str, bool]:
    kept: list[str] = []
    position = 0
    quoted = False
    while True:
        opening = _DROPPED_OPEN.search(text, position)
        if opening is None:
            kept.append(text[position:])
            break
        kept.append(text[position:opening.start()])
        name = opening.group(1).lower()
        quoted = quoted or name == "blockquote"
        if name == "!--":
            end = text.find("-->", opening.end())
            closing_end = -1 if end < 0 else end + 3
        else:
            closing = _DROPPED_CLOSE[name].search(text, opening.end())
            closing_end = -1 if closing is None else closing.end()
        if closing_end < 0:
            break  # unclosed: everything after it is inside it
        kept.append(" ")
        position = closing_end
    return "".join(kept), quoted


def _html_to_text(text: str) -> tuple[str, bool]:
    tail = _HTML_QUOTE_TAIL.search(text)
    quoted = tail is not None
    if tail is not None:
        text = text[:tail.start()]
    # Comments go too: hidden comments are a favourite carrier of prompt injection.
    text, dropped_quote = _drop_elements(text)
    text = _BLOCK.sub("\n", text)
    return html.unescape(_TAG.sub(" ", text)), quoted or dropped_quote


def _cut_quoted(lines: list[str]) -> tuple[list[str], bool]:
    text = "\n".join(lines)
    match = _QUOTE_HEADER.search(text)
    cut = False
    if match is not None and text[:match.start()].strip():
        text = text[:match.start()]
        cut = True
    kept = [line for line in text.split("\n") if not _QUOTED_LINE.match(line)]
    # Only cut `>` lines when something of the customer's own remains.
    if len(kept) != text.count("\n") + 1 and any(line.strip() for line in kept):
        return kept, True
    return text.split("\n"), cut


def _cut_signature(lines: list[str]) -> tuple[list[str], bool]:
    # Signatures sit at the end: only the last lines are candidates (and a huge body
    # costs no more than a short one).
    first = max(1, len(lines) - _SIGNATURE_WINDOW)  # never cut the whole message
    for index in range(first, len(lines)):
        stripped = lines[index].strip()
        if _SIGNATURE_DELIMITER.match(stripped) or _MOBILE_FOOTER.match(stripped):
            return lines[:index], True
        if _CLOSING.match(stripped):
            tail = [t for t in lines[index + 1:] if t.strip()]
            if len(tail) <= _SIGNATURE_TAIL_LINES and all(len(t) <= 60 for t in tail):
                return lines[:index], True
    return lines, False


def normalise(body: str, *, is_html: bool = False,
              max_chars: int = DEFAULT_MAX_CHARS) -> NormalisedText:
    """The text every scorer sees; never raises for any `str` (or bytes decoded to one)."""
    original = len(body)
    text = body[:_HARD_INPUT_CAP]
    text = repair_unicode(text)
    html_quoted = False
    if is_html or ("<" in text and _TAG.search(text)):
        text, html_quoted = _html_to_text(text)
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    # Quote and signature cuts only ever shorten the text, so nothing past a generous
    # multiple of the cap can reach the result: drop it before the line work.
    if len(text) > 4 * max_chars:
        text = text[:4 * max_chars]
        over_cap = True
    else:
        over_cap = False
    lines = text.split("\n")
    lines, cut_quoted = _cut_quoted(lines)
    cut_quoted = cut_quoted or html_quoted
    lines, cut_signature = _cut_signature(lines)
    collapsed = [" ".join(line.split()) for line in lines]
    text = "\n".join(line for line in collapsed if line).strip()
    truncated = (len(text) > max_chars or (over_cap and not cut_quoted)
                 or (original > _HARD_INPUT_CAP and not cut_quoted))
    if len(text) > max_chars:
        text = text[:max_chars]
    return NormalisedText(text, original, truncated, cut_quoted, cut_signature)
