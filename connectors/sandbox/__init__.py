"""Local look-alikes of the vendors' APIs, and a registry to start them by kind.

`start_sandbox(kind, **options)` starts the sandbox of one vendor on 127.0.0.1 and
returns it running; modules are imported lazily so each vendor's sandbox is only loaded
when used (`connectors.demo.start_demo` starts a config's for `make run`, tests start
their own).  For the demo and the tests only: this package is left out of the wheel (see
pyproject.toml) and imports nothing of ours outside it.
"""

from __future__ import annotations

import importlib
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the servers (http.server, email) load with the first sandbox started:
    # importing the conversations alone (bench/pipeline.py's workload) needs none of them
    from connectors.sandbox.base import SandboxServer

#: kind -> "module:Class"; each class takes keyword options and has start().
SANDBOX_KINDS: dict[str, str] = {
    "zendesk": "connectors.sandbox.zendesk:ZendeskSandbox",
    "freshdesk": "connectors.sandbox.freshdesk:FreshdeskSandbox",
    "helpscout": "connectors.sandbox.helpscout:HelpScoutSandbox",
    "slack": "connectors.sandbox.slack:SlackSandbox",
    "anthropic": "connectors.sandbox.anthropic:AnthropicSandbox",
}


def sandbox_class(kind: str) -> type[SandboxServer]:
    target = SANDBOX_KINDS.get(kind)
    if target is None:
        raise KeyError(f"unknown sandbox kind {kind!r}; known: {', '.join(sorted(SANDBOX_KINDS))}")
    from connectors.sandbox.base import SandboxServer

    module_name, _, class_name = target.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    if not (isinstance(cls, type) and issubclass(cls, SandboxServer)):
        raise TypeError(f"{target} is not a SandboxServer")
    return cls


def live_id_offset(now: float | None = None) -> int:
    """Ids of a live sandbox start here: a thousand per second since 2023-11-14, so a
    start never reuses the ids of an earlier one that made fewer than a thousand tickets
    or messages a second (the live scripts make a few)."""
    return max(0, int((time.time() if now is None else now) - 1_700_000_000)) * 1000


def start_sandbox(kind: str, *, seed: bool = False, live: bool = False,
                  outage: bool = False, **options: Any) -> SandboxServer:
    """Start the sandbox of `kind` with constructor `options`; running on return.

    `seed=True` seeds it with the shared conversations (some in the recent past, the
    rest arriving over time); `live=True` also keeps new rounds of conversations coming
    every few seconds, for `make run`; `outage=True` adds the scripted login outage
    (conversations.OUTAGE: six customers about one thing, an incident) right after the
    backlog.  Sandboxes without a `seed` method ignore all three.
    A live sandbox numbers its tickets and messages from the start time on, so a second
    `make run` on the state of the first gets ids the daemon has not seen yet.
    """
    sandbox = sandbox_class(kind)(**options)
    sandbox.start()
    renumber = getattr(sandbox, "renumber", None)
    if live and callable(renumber):
        renumber(live_id_offset())
    seeder = getattr(sandbox, "seed", None)
    if (seed or live) and callable(seeder):
        from connectors.sandbox.conversations import CONVERSATIONS, with_outage

        scripts = with_outage() if outage else CONVERSATIONS
        if live:
            from datetime import timedelta

            seeder(scripts, repeat=True, max_gap=timedelta(seconds=8))
        else:
            seeder(scripts)
    return sandbox
