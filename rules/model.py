"""Typed rule definitions, as support-ops people write them in YAML.

Validated with pydantic (`extra="forbid"`: an unknown key is an error).  The daemon's
config loader maps validation errors back to `FILE:LINE: key.path: message`.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: object) -> timedelta:
    """'90s', '15m', '24h', '7d', '1w' or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 15m, 24h or 7d")
    if isinstance(value, int | float):
        return timedelta(seconds=float(value))
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])
    raise ValueError("expected a duration such as 15m, 24h or 7d")


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class When(Strict):
    trend: Literal["declining", "improving", "stable"] | None = None
    decline_threshold: float = Field(0.3, ge=0, le=2)
    current_avg_below: float | None = Field(None, ge=-1, le=1)
    last_score_below: float | None = Field(None, ge=-1, le=1)


class Actions(Strict):
    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()
    priority: Literal["low", "normal", "high", "urgent"] | None = None
    note: str | None = None
    notify: tuple[str, ...] = ()


class Rule(Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$")
    when: When
    actions: Actions = Actions()
    repeat_after: Duration | None = None  # None: fire once per ticket


class RuleSet(Strict):
    rules: tuple[Rule, ...] = ()
