"""Safe YAML for files people edit: no aliases, no tags, size-capped, with line numbers.

`load_yaml` refuses anchors and aliases (a 400-byte "billion laughs" file expands to
gigabytes under plain safe_load), duplicate keys (PyYAML silently keeps the last one),
and files over a size cap.  It keeps the line of every key and list item so that a
pydantic `ValidationError` can be reported as `FILE:LINE: key.path: message`.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from daemon.config_help import pattern_message, plain_yaml_problem, unknown_key_message

MAX_BYTES = 1024 * 1024
#: Nesting deeper than this is refused while parsing: PyYAML's composer and our own
#: constructor recurse, and a few thousand `[` would raise RecursionError.  The deepest
#: real config is about six levels.
MAX_DEPTH = 64

PathKey = tuple[str | int, ...]

#: Explicit tags that only restate a plain YAML type; anything else (!!python/...) is refused.
_CORE_TAGS = frozenset(f"tag:yaml.org,2002:{name}" for name in
                       ("str", "int", "float", "bool", "null", "seq", "map"))


class YamlError(Exception):
    """A file that could not be read as safe YAML; `messages` are FILE:LINE strings."""

    def __init__(self, messages: Sequence[str]) -> None:
        super().__init__("\n".join(messages))
        self.messages = list(messages)


@dataclass(slots=True)
class YamlDocument:
    data: Any
    path: str
    lines: dict[PathKey, int] = field(default_factory=dict)

    def line_of(self, key: Sequence[str | int]) -> int:
        """Line of the deepest known prefix of `key` (1-based; 1 when unknown)."""
        probe = tuple(key)
        while probe:
            if probe in self.lines:
                return self.lines[probe]
            probe = probe[:-1]
        return self.lines.get((), 1)


def format_key(key: Sequence[str | int]) -> str:
    out = ""
    for part in key:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def parse_yaml(text: str, path: str = "<string>") -> YamlDocument:
    """Parse YAML text with the safety rules of this module."""
    size = len(text.encode("utf-8", "replace"))
    if size > MAX_BYTES:
        raise YamlError([f"{path}:1: file is {size} bytes; the limit is {MAX_BYTES}"])
    try:
        depth = 0
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            line = event.start_mark.line + 1 if event.start_mark else 1
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise YamlError([f"{path}:{line}: nested deeper than {MAX_DEPTH} levels"])
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise YamlError([f"{path}:{line}: YAML anchors and aliases are not allowed"])
            tag = getattr(event, "tag", None)
            if tag is not None and tag not in _CORE_TAGS and tag != "!":
                raise YamlError([f"{path}:{line}: YAML tag {tag!r} is not allowed"])
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        # "while scanning ..." (or a file that ended too soon) marks where an unfinished
        # construct (a quote, a key, a bracket) began: that is the line to fix.
        # Otherwise the problem's own position is.
        problem = exc.problem or ""
        started = exc.context is not None and (exc.context.startswith("while scanning")
                                               or "stream end" in problem
                                               or "end of stream" in problem)
        mark = (exc.context_mark if started else None) or exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise YamlError([f"{path}:{line}: the YAML is not valid here: "
                         f"{plain_yaml_problem(exc.problem, exc.context)}"]) from None
    except yaml.YAMLError as exc:
        raise YamlError([f"{path}:1: invalid YAML: {type(exc).__name__}"]) from None
    except RecursionError:  # a safety net behind MAX_DEPTH
        raise YamlError([f"{path}:1: nested too deeply"]) from None
    doc = YamlDocument(data=None, path=path)
    if node is None:
        return doc
    doc.lines[()] = node.start_mark.line + 1
    errors: list[str] = []
    doc.data = _construct(node, (), doc, errors)
    if errors:
        raise YamlError(errors)
    return doc


class FileTooLarge(OSError):
    """A file over the caller's size limit."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"file is {size} bytes; the limit is {limit}")
        self.size = size
        self.limit = limit


def read_regular_file(path: str | Path, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most `max_bytes`; OSError otherwise.

    Opened non-blocking, so a FIFO in its place cannot hang the caller (check-config, or
    a reload thread per SIGHUP), and checked on the open descriptor (a device such as
    /dev/zero is refused, not read until memory runs out).
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        if info.st_size > max_bytes:
            raise FileTooLarge(info.st_size, max_bytes)
        chunks: list[bytes] = []
        size = 0
        while size <= max_bytes:  # bounded even if the file grows while it is read
            chunk = os.read(fd, max_bytes + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > max_bytes:
            raise FileTooLarge(size, max_bytes)
        return b"".join(chunks)
    finally:
        os.close(fd)


def load_yaml(path: str | Path, max_bytes: int = MAX_BYTES) -> YamlDocument:
    file = Path(path)
    try:
        raw = read_regular_file(file, max_bytes)
    except FileTooLarge as exc:
        raise YamlError([f"{file}:1: {exc.args[0]}"]) from None
    except OSError as exc:
        raise YamlError([f"{file}:1: cannot read: {exc.strerror or type(exc).__name__}"]) from None
    text = raw.decode("utf-8", "replace")
    return parse_yaml(text, str(file))


_SCALARS = yaml.SafeLoader("")


def _construct(node: yaml.Node, key: PathKey, doc: YamlDocument, errors: list[str]) -> Any:
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                errors.append(f"{doc.path}:{line}: {format_key(key)}: keys must be plain text")
                continue
            name = str(key_node.value)
            child = (*key, name)
            if name in out:
                errors.append(f"{doc.path}:{line}: {format_key(child)}: duplicate key")
                continue
            doc.lines[child] = line
            out[name] = _construct(value_node, child, doc, errors)
        return out
    if isinstance(node, yaml.SequenceNode):
        items: list[Any] = []
        for index, item in enumerate(node.value):
            child = (*key, index)
            doc.lines[child] = item.start_mark.line + 1
            items.append(_construct(item, child, doc, errors))
        return items
    assert isinstance(node, yaml.ScalarNode)
    try:
        return _SCALARS.construct_object(node, deep=True)
    except yaml.YAMLError:
        line = node.start_mark.line + 1
        errors.append(f"{doc.path}:{line}: {format_key(key)}: unsupported value")
        return None


_FRIENDLY = {
    "extra_forbidden": "unknown key",
    "missing": "missing required key",
}


def validation_errors(exc: ValidationError, doc: YamlDocument,
                      prefix: Sequence[str | int] = (), model: Any = None) -> list[str]:
    """Map a pydantic error onto the document: one `FILE:LINE: key.path: message` each.

    `model` is what was validated (a model class or a union of them): with it an unknown
    key gets the closest known key at its path as a suggestion.
    """
    messages: list[str] = []
    for error in exc.errors(include_url=False):
        key = _real_key(doc.data, tuple(prefix), tuple(error["loc"]))
        message = _FRIENDLY.get(error["type"], error["msg"])
        if error["type"] == "extra_forbidden":
            message = unknown_key_message(model, tuple(error["loc"]))
        elif error["type"] == "string_pattern_mismatch":
            message = pattern_message(key) or "the value does not have the expected form"
        if message.startswith("Value error, "):
            message = message[len("Value error, "):]
        if message.startswith("Assertion failed, "):
            message = message[len("Assertion failed, "):]
        messages.append(f"{doc.path}:{doc.line_of(key)}: {format_key(key)}: {message}")
    return messages


def _real_key(data: Any, prefix: PathKey, loc: tuple[Any, ...]) -> PathKey:
    """Drop the parts of a pydantic `loc` that are not in the data (union tags, models)."""
    node = data
    for part in prefix:
        node = _child(node, part)
    key: list[str | int] = list(prefix)
    for index, part in enumerate(loc):
        child = _child(node, part)
        if child is _MISSING:
            if index == len(loc) - 1 and isinstance(node, dict) and isinstance(part, str):
                key.append(part)  # a missing or unknown key: name it
            continue  # a union tag or model name pydantic put in the path
        key.append(part)
        node = child
    return tuple(key)


_MISSING = object()


def _child(node: Any, part: Any) -> Any:
    if isinstance(node, dict) and isinstance(part, str) and part in node:
        return node[part]
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return _MISSING
