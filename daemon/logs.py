"""Logging: structlog JSON lines for journald, pretty output on a terminal, secrets redacted.

Every event goes through `redact` last (after exceptions are formatted), which replaces
every configured secret value and the shapes secrets take even when we do not know the
value (Slack webhook paths, bearer tokens, Anthropic and Slack keys).  Standard-library
loggers (apscheduler, urllib3, sqlalchemy, anthropic) are rendered through the same chain.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Iterable, MutableMapping
from typing import Any

import structlog

_PATTERNS = [
    re.compile(r"/services/T[A-Za-z0-9_]+/B[A-Za-z0-9_]+/[A-Za-z0-9_]+"),
    re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"\bsk-ant-[A-Za-z0-9_-]{8,}"),
    re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{8,}"),
    re.compile(r"(?i)(api[_-]?key|token|secret|password)=([^&\s]{4,})"),
]

_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def register_secrets(values: Iterable[str]) -> None:
    """Values that must never be logged (taken from every SecretStr of the config)."""
    with _secrets_lock:
        for value in values:
            if value and len(value) >= 4:
                _secrets.add(value)


def redact_text(text: str) -> str:
    with _secrets_lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "***")
    for pattern in _PATTERNS:
        text = pattern.sub(_mask, text)
    return text


def _mask(match: re.Match[str]) -> str:
    if match.lastindex and match.lastindex >= 2:
        return f"{match.group(1)}=***"
    if match.lastindex == 1:
        return f"{match.group(1)} ***"
    return "***"


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(v) for v in value]
    return value


def redact(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in list(event.items()):
        event[key] = _redact_value(value)
    return event


def configure(level: str = "info", fmt: str = "auto") -> None:
    """Set up structlog and stdlib logging once per process."""
    use_console = fmt == "console" or (fmt == "auto" and sys.stderr.isatty())
    shared: list[Any] = [
        structlog.stdlib.filter_by_level,  # drop filtered events before any work is done
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact,
    ]
    renderer: Any = (structlog.dev.ConsoleRenderer(colors=True) if use_console
                     else structlog.processors.JSONRenderer())
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        # Records from libraries (psycopg, urllib3, APScheduler) were level-filtered by
        # stdlib already and carry no structlog logger: filter_by_level would fail on them.
        foreign_pre_chain=shared[1:],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(sys.stderr if use_console else sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    for noisy in ("urllib3", "httpx", "httpcore", "httpx2", "httpcore2", "anthropic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # "skipped: maximum number of running instances" is normal while a job is still busy
    # (coalesced, not lost); it is counted in sentinel_scheduler_jobs_skipped_total.
    for scheduler_logger in ("apscheduler.executors.default", "apscheduler.scheduler"):
        logging.getLogger(scheduler_logger).setLevel(logging.ERROR)


def get_logger(name: str = "sentinel") -> Any:
    return structlog.get_logger(name)
