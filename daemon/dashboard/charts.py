"""Charts as inline SVG, drawn on the server: no script, nothing fetched by the browser.

Each function returns `Markup` (safe to drop into an autoescaped template); every piece
of text inside (dates, rule names, tooltips) goes through `escape` first, and colours
and sizes are SVG attributes rather than `style=`, which the page's Content Security
Policy would refuse.  Scores live on [-1, 1]; the y axis always shows that whole range so
two charts can be compared at a glance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from markupsafe import Markup, escape

NEGATIVE = "#c0392b"
POSITIVE = "#1e8449"
NEUTRAL = "#7f8c8d"
LINE = "#2c3e50"
BARS = "#d6e4f0"
GRID = "#e5e8eb"
FIRE = "#c0392b"
RESOLVE = "#1e8449"


def score_colour(score: float) -> str:
    if score < -0.2:
        return NEGATIVE
    if score > 0.2:
        return POSITIVE
    return NEUTRAL


def _num(value: float) -> str:
    return f"{value:.1f}"


def _y(score: float, top: float, height: float) -> float:
    clamped = max(-1.0, min(1.0, score))
    return top + (1 - (clamped + 1) / 2) * height


def sparkline(scores: Sequence[float], width: int = 120, height: int = 28) -> Markup:
    """A ticket's scores, oldest to newest, with the zero line and the last point dotted."""
    if not scores:
        return Markup("")
    pad = 3.0
    inner_w, inner_h = width - 2 * pad, height - 2 * pad
    step = inner_w / max(1, len(scores) - 1)
    points = [(pad + i * step if len(scores) > 1 else width / 2, _y(s, pad, inner_h))
              for i, s in enumerate(scores)]
    path = " ".join(f"{_num(x)},{_num(y)}" for x, y in points)
    zero = _num(_y(0.0, pad, inner_h))
    last_x, last_y = points[-1]
    label = escape("scores, oldest first: " + ", ".join(f"{s:+.2f}" for s in scores))
    return Markup(
        f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{label}"><title>{label}</title>'
        f'<line x1="{pad}" y1="{zero}" x2="{width - pad}" y2="{zero}" stroke="{GRID}" '
        f'stroke-width="1"/>'
        f'<polyline points="{path}" fill="none" stroke="{LINE}" stroke-width="1.5" '
        f'stroke-linejoin="round"/>'
        f'<circle cx="{_num(last_x)}" cy="{_num(last_y)}" r="2.5" '
        f'fill="{score_colour(scores[-1])}"/></svg>')


def _score_grid(x_from: float, x_to: float, top: float, inner_h: float) -> list[str]:
    lines = []
    for score in (-1.0, -0.5, 0.0, 0.5, 1.0):
        level = _num(_y(score, top, inner_h))
        lines.append(f'<line x1="{x_from}" y1="{level}" x2="{x_to}" y2="{level}" '
                     f'stroke="{GRID}" stroke-width="{1.5 if score == 0 else 1}"/>'
                     f'<text x="{x_from - 6}" y="{level}" dy="0.32em" text-anchor="end" '
                     f'class="axis">{score:+.1f}</text>')
    return lines


def daily_chart(days: Sequence[Mapping[str, Any]], title: str, width: int = 720,
                height: int = 240) -> Markup:
    """Bars of customer messages per day (right axis) under the day's mean score (left)."""
    left, right, top, bottom = 44.0, 44.0, 16.0, 28.0
    inner_w, inner_h = width - left - right, height - top - bottom
    slot = inner_w / max(1, len(days))
    volume_max = max([int(d["customer_messages"]) for d in days] + [1])
    parts = [f'<svg class="chart" width="100%" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(title)}" preserveAspectRatio="xMidYMid meet">'
             f'<title>{escape(title)}</title>']
    parts += _score_grid(left, width - right, top, inner_h)
    for fraction in (0.0, 0.5, 1.0):
        tick = _num(top + inner_h * (1 - fraction))
        parts.append(f'<text x="{width - right + 6}" y="{tick}" dy="0.32em" class="axis">'
                     f'{round(volume_max * fraction)}</text>')
    label_every = 1 if len(days) <= 10 else 5
    points: list[tuple[float, float, Mapping[str, Any]]] = []
    for index, day in enumerate(days):
        x = left + index * slot
        count = int(day["customer_messages"])
        bar_h = inner_h * count / volume_max
        tip = escape(f"{day['day']}: {count} customer messages, "
                     + (f"mean score {day['avg_sentiment']:+.2f}"
                        if day["avg_sentiment"] is not None else "no scores"))
        parts.append(f'<rect class="bar" x="{_num(x + slot * 0.15)}" '
                     f'y="{_num(top + inner_h - bar_h)}" width="{_num(slot * 0.7)}" '
                     f'height="{_num(bar_h)}" fill="{BARS}"><title>{tip}</title></rect>')
        if (len(days) - 1 - index) % label_every == 0:
            parts.append(f'<text x="{_num(x + slot / 2)}" y="{height - 8}" '
                         f'text-anchor="middle" class="axis">{escape(day["day"][5:])}</text>')
        if day["avg_sentiment"] is not None:
            points.append((x + slot / 2, _y(float(day["avg_sentiment"]), top, inner_h), day))
    if len(points) > 1:
        path = " ".join(f"{_num(x)},{_num(y)}" for x, y, _ in points)
        parts.append(f'<polyline class="trend" points="{path}" fill="none" stroke="{LINE}" '
                     f'stroke-width="2" stroke-linejoin="round"/>')
    for x, y, day in points:
        parts.append(f'<circle cx="{_num(x)}" cy="{_num(y)}" r="3.5" '
                     f'fill="{score_colour(float(day["avg_sentiment"]))}"><title>'
                     f'{escape(day["day"])}: mean score {day["avg_sentiment"]:+.2f}'
                     f'</title></circle>')
    parts.append("</svg>")
    return Markup("".join(parts))


def ticket_chart(messages: Sequence[Mapping[str, Any]], events: Sequence[Mapping[str, Any]],
                 width: int = 720, height: int = 260) -> Markup:
    """A conversation's customer scores over time; rule firings and resolves as marked
    vertical lines; agent replies as ticks along the bottom."""
    left, right, top, bottom = 44.0, 16.0, 22.0, 30.0
    inner_w, inner_h = width - left - right, height - top - bottom
    scored = [m for m in messages if m["role"] == "customer" and m["score"] is not None]
    times = [datetime.fromisoformat(m["at"]) for m in messages if m["at"]]
    times += [datetime.fromisoformat(e["at"]) for e in events if e["at"]]
    if not scored or not times:
        return Markup('<p class="muted">No scored customer messages yet.</p>')
    first, last = min(times), max(times)
    span = max((last - first).total_seconds(), 1.0)

    def x_of(iso: str) -> float:
        return left + inner_w * (datetime.fromisoformat(iso) - first).total_seconds() / span

    title = "Customer sentiment over time, with rule firings"
    parts = [f'<svg class="chart" width="100%" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{title}"><title>{title}</title>']
    parts += _score_grid(left, width - right, top, inner_h)
    for event in events:
        at = _num(x_of(event["at"]))
        colour = FIRE if event["kind"] == "fire" else RESOLVE
        tip = escape(f"{event['at'][:16].replace('T', ' ')} {event['rule']} "
                     f"{'fired' if event['kind'] == 'fire' else event['kind']}"
                     + (f": {event['reason']}" if event.get("reason") else ""))
        parts.append(f'<g class="rule-event" data-rule="{escape(event["rule"])}" '
                     f'data-kind="{escape(event["kind"])}"><title>{tip}</title>'
                     f'<line x1="{at}" y1="{top}" x2="{at}" y2="{top + inner_h}" '
                     f'stroke="{colour}" stroke-width="1.5" stroke-dasharray="4 3"/>'
                     f'<path d="M{at},{top - 2} l-5,-9 h10 z" fill="{colour}"/></g>')
    for message in messages:
        if message["role"] == "agent" and message["public"] and message["at"]:
            tick = _num(x_of(message["at"]))
            parts.append(f'<line class="agent-reply" x1="{tick}" y1="{top + inner_h}" '
                         f'x2="{tick}" '
                         f'y2="{top + inner_h + 6}" stroke="{NEUTRAL}" stroke-width="2">'
                         f'<title>agent reply</title></line>')
    points = [(x_of(m["at"]), _y(float(m["score"]), top, inner_h), m) for m in scored]
    if len(points) > 1:
        path = " ".join(f"{_num(x)},{_num(y)}" for x, y, _ in points)
        parts.append(f'<polyline class="trend" points="{path}" fill="none" stroke="{LINE}" '
                     f'stroke-width="2" stroke-linejoin="round"/>')
    for x, y, message in points:
        parts.append(f'<circle cx="{_num(x)}" cy="{_num(y)}" r="4" '
                     f'fill="{score_colour(float(message["score"]))}"><title>'
                     f'{escape(message["at"][:16].replace("T", " "))}: '
                     f'{float(message["score"]):+.2f}</title></circle>')
    for iso, anchor in ((first.isoformat(), "start"), (last.isoformat(), "end")):
        parts.append(f'<text x="{_num(x_of(iso))}" y="{height - 8}" text-anchor="{anchor}" '
                     f'class="axis">{escape(iso[:16].replace("T", " "))} UTC</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def interval_bar(low: float | None, mean: float, high: float | None, width: int = 160,
                 height: int = 16, reach: float = 0.6) -> Markup:
    """A mean change with its 95% interval on a [-reach, reach] scale, zero in the middle
    (changes after one reply are small; wider intervals run off the ends)."""
    pad = 4.0

    def x_of(value: float) -> float:
        return pad + (max(-reach, min(reach, value)) + reach) / (2 * reach) * (width - 2 * pad)

    mid = height / 2
    parts = [f'<svg class="interval" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" aria-hidden="true">'
             f'<line x1="{_num(x_of(0))}" y1="0" x2="{_num(x_of(0))}" y2="{height}" '
             f'stroke="{GRID}" stroke-width="1.5"/>']
    if low is not None and high is not None:
        parts.append(f'<line x1="{_num(x_of(low))}" y1="{mid}" x2="{_num(x_of(high))}" '
                     f'y2="{mid}" stroke="{NEUTRAL}" stroke-width="2"/>')
    parts.append(f'<circle cx="{_num(x_of(mean))}" cy="{mid}" r="4" '
                 f'fill="{score_colour(mean * 4)}"/></svg>')
    return Markup("".join(parts))
