"""The demo's side of the sandboxes: start the ones a config names, point the config at them.

A config may write `sandbox://KIND/rest` wherever a URL goes (`make run`, the shipped
config.yaml).  Until the sandboxes run, such a URL stands as a placeholder on a reserved
low loopback port that names the kind (`placeholder_url`), so the typed settings validate;
`start_demo` starts the sandboxes of the config's `sandbox:` section and
`rewrite_sandbox_urls` swaps each placeholder for the started server's address, before
any connector, notifier or scorer is built from the settings.  Nothing here knows the
daemon: the composition root (daemon/app.py) calls these two functions.

The sandboxes themselves (connectors/sandbox/) are for the demo and the tests: they are
left out of the package built for production and come with a source checkout
(`make install`).  This is the one production module that imports them (an import-linter
contract holds it), lazily; `sandboxes_installed()` says whether they are there, and
without them `start_demo` fails with SANDBOXES_NOT_INSTALLED, one line.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog
from pydantic import BaseModel, SecretStr

log = structlog.get_logger("sentinel.sandbox")

#: The reserved port of each kind's placeholder URL (nothing listens on ports 1-6).
PLACEHOLDER_PORTS = {"zendesk": 1, "freshdesk": 2, "helpscout": 3, "slack": 4, "anthropic": 5}
_UNKNOWN_KIND_PORT = 6

Settings = TypeVar("Settings", bound=BaseModel)

#: The package of the sandboxes; absent from an install of the production package.
SANDBOX_PACKAGE = "connectors.sandbox"
SANDBOXES_NOT_INSTALLED = (
    "the config uses the sandboxes (a `sandbox:` section, sandbox:// URLs), which are not "
    "installed: they come with a source checkout (`make install`), not with the package; "
    "for production remove `sandbox:` and give every URL its real service (docs/connect.md)")


class SandboxesNotInstalled(RuntimeError):
    """A config needs the sandboxes and this installation has none."""


def sandboxes_installed() -> bool:
    """Whether the sandboxes can be imported here (a source checkout, not the wheel)."""
    return importlib.util.find_spec(SANDBOX_PACKAGE) is not None


def placeholder_url(kind: str) -> str:
    """Where `sandbox://KIND` points until the sandbox of that kind is started."""
    return f"http://127.0.0.1:{PLACEHOLDER_PORTS.get(kind, _UNKNOWN_KIND_PORT)}"


@dataclass(slots=True)
class Demo:
    """The sandboxes started for one command, by kind; `stop()` stops them all."""

    servers: list[Any] = field(default_factory=list)
    urls: dict[str, str] = field(default_factory=dict)

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        self.servers.clear()


def _placeholders(model: BaseModel) -> Iterator[tuple[str, Any, str, str]]:
    """(field, value, sandbox kind, rest of the URL) for each placeholder URL."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if not isinstance(raw, str):
            continue
        for kind in PLACEHOLDER_PORTS:
            placeholder = placeholder_url(kind)
            if raw == placeholder or raw.startswith(placeholder + "/"):
                yield name, value, kind, raw[len(placeholder):]


def referenced_sandboxes(model: BaseModel) -> set[str]:
    """The sandbox kinds a settings model points at (through `sandbox://` URLs)."""
    return {kind for _, _, kind, _ in _placeholders(model)}


def rewrite_sandbox_urls(model: Settings, urls: Mapping[str, str]) -> Settings:
    """A copy of `model` with each placeholder swapped for its started sandbox's URL."""
    updates: dict[str, Any] = {}
    for name, value, kind, rest in _placeholders(model):
        if kind in urls:
            url = urls[kind] + rest
            updates[name] = SecretStr(url) if isinstance(value, SecretStr) else url
    return model.model_copy(update=updates) if updates else model


def start_demo(sandbox_section: Mapping[str, Mapping[str, Any] | None],
               kinds: set[str] | None = None) -> Demo:
    """Start the sandboxes of a config's `sandbox:` section (or only `kinds` of them).

    Started in order; if one fails to start, those already running are stopped."""
    start_sandbox = _sandbox_starter()
    demo = Demo()
    try:
        for kind, options in sandbox_section.items():
            if kinds is not None and kind not in kinds:
                continue
            server = start_sandbox(kind, **dict(options or {}))
            demo.servers.append(server)
            demo.urls[kind] = server.url
            log.info("sandbox_started", kind=kind, url=server.url)
    except BaseException:
        demo.stop()
        raise
    return demo


def _sandbox_starter() -> Callable[..., Any]:
    """`connectors.sandbox.start_sandbox`, imported only when a demo starts."""
    try:
        from connectors.sandbox import start_sandbox
    except ModuleNotFoundError as exc:
        if exc.name != SANDBOX_PACKAGE:
            raise  # a sandbox that is there but broken should show its traceback
        raise SandboxesNotInstalled(SANDBOXES_NOT_INSTALLED) from None
    return start_sandbox
