"""The online setup check of an RT source: what the daemon needs before its first escalation.

`helpdesk-sentinel check-source` runs it.  It reads, never writes: the credentials work
and name a user, every watched queue is visible, and the tags custom field exists, takes
multiple values and applies to each watched queue (or globally).  Each problem comes back
as one sentence saying what to change in RT (docs/rt.md has the steps).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from connectors.base import AuthError, FatalError
from connectors.rt import RTConnector, RTSettings


def check_rt_setup(settings: RTSettings) -> list[str]:
    """Problems found, each a sentence; an empty list when the setup is complete."""
    connector = RTConnector(settings)
    try:
        return _check(connector, settings)
    except AuthError:
        return ["RT refused the credentials (token or username/password): check them and "
                "that the user is enabled"]
    finally:
        connector.close()


def _check(connector: RTConnector, settings: RTSettings) -> list[str]:
    problems: list[str] = []
    if connector.whoami() is None:
        problems.append("could not tell which RT user the token belongs to; set `username`")
    field = settings.tags_field
    scopes: list[tuple[str, str]] = []  # (what, collection path)
    for queue in settings.queues:
        try:
            found = connector.read(f"/queue/{quote(queue, safe='')}")
        except FatalError:
            found = None
        if not isinstance(found, dict) or "id" not in found:
            problems.append(f"queue {queue!r} does not exist or the user lacks SeeQueue on it")
            continue
        scopes.append((f"queue {queue!r}", f"/queue/{int(found['id'])}/customfields"))
    if not settings.queues:
        scopes.append(("any queue", "/customfields"))
    for what, path in scopes:
        custom = _named(connector.read(path, {
            "query": json.dumps([{"field": "Name", "value": field}]),
            "fields": "Name,MaxValues,LookupType", "per_page": 100}), field)
        if custom is None:
            problems.append(f"custom field {field!r} is missing for {what}: create it (Enter "
                            "multiple values, applies to tickets), apply it there and grant "
                            "the user SeeCustomField and ModifyCustomField")
        elif str(custom.get("MaxValues")) not in ("0", ""):
            problems.append(f"custom field {field!r} takes a single value: make it "
                            "'Enter multiple values'")
    return problems


def _named(body: Any, name: str) -> dict[str, Any] | None:
    items = body.get("items") if isinstance(body, dict) else None
    for item in items or []:
        if isinstance(item, dict) and item.get("Name") == name \
                and item.get("LookupType") in (None, "RT::Queue-RT::Ticket"):
            return item
    return None
