"""Customer text made safe for a Slack message, and the Block Kit limits it is cut to.

Customer text (subject, name, indicator phrases, the latest message) is data: bidi and
other control characters are stripped (they can make a quote read backwards), it goes in
`plain_text` objects where Block Kit allows so nothing in it is interpreted, and where it
must sit in mrkdwn `&`, `<` and `>` are escaped so it cannot form links or `<!channel>`
mentions.  Every field is capped below Slack's limits.  The two messages built from these
pieces are in connectors/slack_render.py (an escalation) and connectors/slack_incident.py.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, urlsplit

# Block Kit limits (docs.slack.dev block reference), with room to spare: one report
# (slackapi/bolt-js#2509) saw msg_blocks_too_long well below the documented totals.
HEADER_MAX = 150
SECTION_MAX = 3000
FIELD_MAX = 2000
FIELDS_MAX = 10
CONTEXT_ELEMENTS_MAX = 10
BUTTON_TEXT_MAX = 75
URL_MAX = 3000
FALLBACK_MAX = 3000
BLOCKS_MAX = 50
#: Indicator phrases shown, and the length of each.
INDICATORS_SHOWN = 5
INDICATOR_MAX = 200

# Bidi embeddings/overrides/isolates and marks: they can make quoted text read backwards.
_BIDI = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
                               "\u200e\u200f\u061c"))


def clean_text(text: str | None) -> str:
    """Customer text made safe to show: no bidi or control characters, valid UTF-8."""
    if not text:
        return ""
    text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates
    text = text.translate(_BIDI)
    return "".join(ch if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf")
                   or ch == "\u200d"  # keeps emoji sequences (ZWJ) intact
                   else "" for ch in text)


def mrkdwn_escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn gives meaning to (links, mentions)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def one_line(text: str) -> str:
    return " ".join(text.split())


def clean_line(text: str | None) -> str:
    """Customer text cleaned (`clean_text`) and folded onto one line."""
    return one_line(clean_text(text))


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def indicator_phrases(indicators: Iterable[str]) -> list[str]:
    """The first INDICATORS_SHOWN non-empty phrases, cleaned and each capped."""
    return [truncate(clean_line(phrase), INDICATOR_MAX)
            for phrase in indicators if clean_line(phrase)][:INDICATORS_SHOWN]


def safe_url(url: str) -> str | None:
    """The ticket link if it is a plain http(s) URL; `|<>` and spaces percent-encoded."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    safe = quote(url.strip(), safe=":/?#[]@!$&'()*+,;=%-._~")
    return safe if len(safe) <= URL_MAX else None


def plain(text: str, limit: int) -> dict[str, Any]:
    """A `plain_text` object: shown as written, never interpreted; never empty."""
    return {"type": "plain_text", "text": truncate(text, limit) or " ", "emoji": False}


def mrkdwn(text: str, limit: int = SECTION_MAX) -> dict[str, Any]:
    """A `mrkdwn` text object; the caller has escaped any customer text in it."""
    return {"type": "mrkdwn", "text": truncate(text, limit)}


def message(fallback: str, blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """The body Slack receives: the notification text, the blocks, no link previews."""
    return {"text": truncate(mrkdwn_escape(fallback), FALLBACK_MAX),
            "blocks": blocks[:BLOCKS_MAX], "unfurl_links": False, "unfurl_media": False}
