"""Secret and URL references in the config: resolved only where a secret or a URL belongs.

`${ENV_VAR}` (or `${ENV_VAR:-default}`), `file:/path`, `credential:NAME` (systemd's
`$CREDENTIALS_DIRECTORY/NAME`) and `sandbox://KIND` are resolved in the fields the typed
config declares as secrets (`SecretStr`) or URLs (`url`, `*_url`), and nowhere else: a rule
author must not be able to pull `${ZENDESK_API_TOKEN}` or `file:/etc/passwd` into a note
that lands on a ticket.  A reference anywhere else is an error naming FILE:LINE, never a
silent literal.  Which model a section is checked against is decided the way the loader
decides it (by `kind`); a section of unknown kind is left alone, its kind is the error.
Secret files are read with a type and size check, never blocking
(`yamlsafe.read_regular_file`): a FIFO, a device or a huge file is a clear error rather
than a hang or a MemoryError.
"""

from __future__ import annotations

import re
import types
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, SecretStr

from daemon.yamlsafe import FileTooLarge, YamlDocument, format_key, read_regular_file

#: A secret file larger than this is refused (tokens and webhook URLs are a few hundred
#: bytes; a PEM bundle a few KiB).
MAX_SECRET_BYTES = 64 * 1024

ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
FILE_REFERENCE = re.compile(r"^(file|credential):(\S+)$")

Key = tuple[str | int, ...]
#: The settings class a `kind`-typed mapping is validated with, or None when unknown.
ClassOf = Callable[[Any], type[BaseModel] | None]


class _Resolver:
    def __init__(self, doc: YamlDocument, errors: list[str], env: Mapping[str, str],
                 sandbox_placeholder: Callable[[str], str]) -> None:
        self.doc = doc
        self.errors = errors
        self.env = env
        self.placeholder = sandbox_placeholder

    def error(self, key: Key, message: str) -> None:
        self.errors.append(f"{self.doc.path}:{self.doc.line_of(key)}: {format_key(key)}: "
                           f"{message}")

    # -- walking the typed config ---------------------------------------------------------

    def model(self, cls: type[BaseModel] | None, node: Any, key: Key) -> Any:
        """Resolve the reference fields of `node` as `cls` declares them; refuse the rest."""
        if cls is None or not isinstance(node, dict):
            return node  # unknown kind or wrong shape: validation reports it
        out: dict[str, Any] = {}
        for name, value in node.items():
            child = (*key, name)
            info = cls.model_fields.get(name)
            if info is None:
                out[name] = value  # an unknown key: validation reports it
            elif takes_reference(name, info.annotation) and isinstance(value, str):
                out[name] = self.string(value, child)
            elif (nested := _model_in(info.annotation)) is not None and isinstance(value, dict):
                out[name] = self.model(nested, value, child)
            else:
                self.refuse(value, child)
                out[name] = value
        return out

    def refuse(self, node: Any, key: Key) -> None:
        """A reference outside a secret or URL field is an error, never resolved."""
        if isinstance(node, dict):
            for name, value in node.items():
                self.refuse(value, (*key, name))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                self.refuse(value, (*key, index))
        elif isinstance(node, str):
            env = ENV_REFERENCE.search(node)
            ref = FILE_REFERENCE.match(node.strip())
            if env is not None:
                what = f"${{{env.group(1)}}}"
            elif ref is not None:
                what = f"{ref.group(1)}:"
            else:
                return
            self.error(key, f"{what} references are only resolved in secret and URL "
                                "fields (api_token, api_key, base_url, ...); write this "
                                "value literally")

    # -- one reference ----------------------------------------------------------------------

    def string(self, value: str, key: Key) -> str:
        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in self.env:
                return self.env[name]
            if default is not None:
                return default
            self.error(key, f"environment variable {name} is not set")
            return ""

        value = ENV_REFERENCE.sub(substitute, value)
        if value.startswith("sandbox://"):
            kind, _, rest = value[len("sandbox://"):].partition("/")
            data = self.doc.data
            sandboxes = data.get("sandbox") if isinstance(data, dict) else None
            if not isinstance(sandboxes, dict) or kind not in sandboxes:
                self.error(key, f"sandbox {kind!r} is not in the `sandbox:` section")
            # A syntactically valid loopback URL until the daemon starts the sandbox and
            # swaps in its real address; the reserved low port tells which one was meant.
            return self.placeholder(kind) + (f"/{rest}" if rest else "")
        ref = FILE_REFERENCE.match(value)
        if ref is None:
            return value
        scheme, target = ref.groups()
        if scheme == "credential":
            directory = self.env.get("CREDENTIALS_DIRECTORY")
            if not directory:
                self.error(key, f"credential {target!r} requested but $CREDENTIALS_DIRECTORY "
                                "is not set (use LoadCredential= in the unit)")
                return ""
            if "/" in target or target in (".", ".."):
                self.error(key, "a credential name cannot contain '/'")
                return ""
            file = Path(directory) / target
        else:
            file = Path(target)
            if not file.is_absolute():
                file = Path(self.doc.path).parent / file
        try:
            return read_secret_file(file)
        except SecretFileError as exc:
            self.error(key, f"cannot read {scheme} {target!r}: {exc}")
            return ""


class SecretFileError(Exception):
    """A secret file that cannot be used; the message names the problem, never content."""


def read_secret_file(file: Path, max_bytes: int = MAX_SECRET_BYTES) -> str:
    """The stripped UTF-8 text of a regular file of at most `max_bytes`."""
    try:
        raw = read_regular_file(file, max_bytes)
    except FileTooLarge as exc:
        raise SecretFileError(exc.args[0]) from None
    except OSError as exc:
        raise SecretFileError(exc.strerror or type(exc).__name__) from None
    try:
        return raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise SecretFileError("not UTF-8 text") from None


def takes_reference(name: str, annotation: Any) -> bool:
    """Secrets (`SecretStr`) and URLs (`url`, `*_url`) take references; nothing else does."""
    return SecretStr in _flatten(annotation) or name == "url" or name.endswith("_url")


def _flatten(annotation: Any) -> set[Any]:
    origin = get_origin(annotation)
    if origin is Union or origin is types.UnionType:
        found: set[Any] = set()
        for arg in get_args(annotation):
            found |= _flatten(arg)
        return found
    return {annotation}


def _model_in(annotation: Any) -> type[BaseModel] | None:
    for candidate in _flatten(annotation):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def sandbox_use(data: Mapping[str, Any], max_depth: int = 8) -> Key | None:
    """Where a config first needs the sandboxes: its `sandbox:` section, else its first
    `sandbox://` URL (looked for `max_depth` levels down); None when it needs none."""
    if data.get("sandbox"):
        return ("sandbox",)
    pending: deque[tuple[Key, Any]] = deque([((), data)])
    while pending:
        key, node = pending.popleft()
        if isinstance(node, str) and node.startswith("sandbox://"):
            return key
        if len(key) < max_depth and isinstance(node, dict | list):
            items = node.items() if isinstance(node, dict) else enumerate(node)
            pending.extend(((*key, child), value) for child, value in items
                           if isinstance(child, str | int))
    return None


def resolve_references(doc: YamlDocument, top: type[BaseModel], errors: list[str],
                       env: Mapping[str, str], *, sections: Mapping[str, ClassOf],
                       listed: Mapping[str, ClassOf], named: Mapping[str, ClassOf],
                       sandbox_placeholder: Callable[[str], str]) -> dict[str, Any]:
    """The config data with references resolved in secret and URL fields only.

    `sections` maps a top-level key holding one kind-typed mapping (`scorer`) to the
    function that picks its class; `listed` does the same for lists of them (`sources`)
    and `named` for mappings of name to one of them (`notifiers`).  Other keys are checked
    against `top`'s own fields.
    """
    resolver = _Resolver(doc, errors, env, sandbox_placeholder)
    data = doc.data
    assert isinstance(data, dict)
    out: dict[str, Any] = {}
    for name, value in data.items():
        key: Key = (name,)
        if name in sections:
            out[name] = resolver.model(sections[name](value), value, key)
        elif name in listed and isinstance(value, list):
            out[name] = [resolver.model(listed[name](item), item, (*key, index))
                         for index, item in enumerate(value)]
        elif name in named and isinstance(value, dict):
            out[name] = {child: resolver.model(named[name](item), item, (*key, child))
                         for child, item in value.items()}
        else:
            out[name] = resolver.model(top, {name: value}, ())[name]
    return out
