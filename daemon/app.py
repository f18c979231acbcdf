"""The composition root: every part of helpdesk-sentinel is built here, from one Config.

`App.start(config)` starts the sandboxes the config points at (the demo, see
connectors/demo.py) and rewrites its `sandbox://` URLs before anything else sees
them; the parts (store, scorer, connectors, notifiers, pipeline, outbox dispatcher,
metrics, dashboard) are then built on first use, each once, and `close()` closes what was
built, last built first.  The daemon (daemon/service.py) and every command of daemon/cli.py
get their parts here, so a setting such as `scoring.score_agent_messages` is wired in one
place and no command assembles a second copy by hand.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterable
from datetime import timedelta
from types import TracebackType
from typing import Any, Protocol, TypeVar, cast

from pydantic import BaseModel, SecretStr

from connectors.base import Connector, Notifier
from connectors.demo import Demo, referenced_sandboxes, rewrite_sandbox_urls, start_demo
from daemon.alerting import excerpt_redactor
from daemon.config import Config
from daemon.incidents import IncidentTracker
from daemon.logs import register_secrets
from daemon.metrics import Metrics
from daemon.outbox import OutboxDispatcher, OutboxPolicy
from daemon.pipeline import Pipeline
from daemon.scoring.base import Scorer
from daemon.scoring.settings import build_scorer
from daemon.store import Store
from rules.feedback import FeedbackTags
from rules.incidents import IncidentSettings
from rules.model import RuleSet

Part = TypeVar("Part")

#: `App.start(config, sandboxes=ALL_SANDBOXES)`: every sandbox of the `sandbox:` section.
ALL_SANDBOXES = None


def secrets_of(model: BaseModel) -> list[str]:
    """Every secret value in a settings model (nested ones too), for log redaction."""
    out: list[str] = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretStr):
            out.append(value.get_secret_value())
        elif isinstance(value, BaseModel):
            out += secrets_of(value)
    return out


class _Closable(Protocol):
    def close(self) -> None: ...


def _close(part: _Closable) -> None:
    part.close()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("helpdesk-sentinel")
    except PackageNotFoundError:
        return "unknown"


class App:
    """The parts built from one config; use `App.start` (or `with App.start(...)`)."""

    def __init__(self, config: Config, demo: Demo, sandbox_sources: list[str]) -> None:
        self.config = config  # its sandbox URLs already point at the started sandboxes
        self.demo = demo
        #: Sources that read a sandbox started empty with this process (see service.py).
        self.sandbox_sources = sandbox_sources
        self._built: dict[str, Any] = {}
        self._closing = contextlib.ExitStack()
        self._closing.callback(demo.stop)

    @classmethod
    def start(cls, config: Config, *, sandboxes: Iterable[str] | None = ALL_SANDBOXES) -> App:
        """Start the sandboxes (all configured, or only the kinds named) and point the
        config's settings at them; registers every secret for log redaction."""
        kinds = None if sandboxes is None else set(sandboxes)
        sandbox_sources = [s.name for s in config.sources if referenced_sandboxes(s)]
        demo = start_demo(config.sandbox, kinds) if config.sandbox else Demo()
        urls = demo.urls
        config = dataclasses.replace(
            config, sources=[rewrite_sandbox_urls(s, urls) for s in config.sources],
            notifiers={n: rewrite_sandbox_urls(s, urls) for n, s in config.notifiers.items()},
            scorer=rewrite_sandbox_urls(config.scorer, urls))
        for model in [*config.sources, *config.notifiers.values(), config.scorer]:
            register_secrets(secrets_of(model))
        return cls(config, demo, sandbox_sources)

    def __enter__(self) -> App:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Close every part built so far, the last built first; idempotent."""
        self._built.clear()
        self._closing.close()

    def _once(self, key: str, build: Callable[[], Part], close: Callable[[Part], None] | None
              ) -> Part:
        """Build the part called `key` unless built already; its closer is registered."""
        if key not in self._built:
            part = build()
            if close is not None:
                self._closing.callback(close, part)
            self._built[key] = part
        return cast(Part, self._built[key])

    # -- the parts ----------------------------------------------------------------------

    def store(self, *, stuck_after: timedelta | None = None) -> Store:
        """The database (no schema work here: the daemon waits for it, tools create it).
        `stuck_after` (see Store) applies when this call builds it, the first."""
        url = self.config.database_url
        return self._once("store", lambda: Store(url) if stuck_after is None
                          else Store(url, stuck_after=stuck_after), _close)

    def scorer(self, *, persistent_cache: bool = True) -> Scorer:
        """The configured scorer; its score cache lives in the state directory unless
        `persistent_cache` is false (one-shot tools keep it in memory)."""
        cache_dir = self.config.state_dir / "cache" if persistent_cache else None
        return self._once("scorer", lambda: build_scorer(self.config.scorer,
                                                         cache_dir=cache_dir), _close)

    def connector(self, source: str) -> Connector:
        settings = self.config.source(source)
        return self._once(f"source:{source}", settings.create, _close)

    def connectors(self) -> dict[str, Connector]:
        return {s.name: self.connector(s.name) for s in self.config.sources}

    def notifier(self, name: str) -> Notifier:
        settings = self.config.notifiers[name]
        return self._once(f"notifier:{name}", lambda: settings.create(name), _close)

    def notifiers(self) -> dict[str, Notifier]:
        return {name: self.notifier(name) for name in self.config.notifiers}

    def pipeline(self, rules: Callable[[], RuleSet],
                 incidents: Callable[[], IncidentSettings] | None = None) -> Pipeline:
        """The one pipeline: scoring settings, alert redaction, incident tracking and the
        agents' feedback tags wired the same for the daemon and for backfill."""
        top = self.config.top
        # Alert excerpts go to chat: redact at least what the scorer redacts for a model.
        redaction = getattr(self.config.scorer, "redaction", None)
        kinds = redaction.kinds if redaction is not None and redaction.enabled else ()
        incident_settings = incidents or (lambda: top.incidents)

        def build() -> Pipeline:
            return Pipeline(self.store(), self.scorer(), rules,
                            max_chars=top.scoring.max_chars,
                            score_agent_messages=top.scoring.score_agent_messages,
                            redactor=excerpt_redactor(kinds),
                            incidents=IncidentTracker(self.store(), incident_settings),
                            feedback_tags=FeedbackTags(false_alarm=top.feedback.false_alarm_tag,
                                                       missed=top.feedback.missed_tag))
        return self._once("pipeline", build, None)

    def outbox(self, owner: str,
               on_result: Callable[[str, str, str], None] | None = None) -> OutboxDispatcher:
        settings = self.config.top.outbox
        policy = OutboxPolicy(max_attempts=settings.max_attempts,
                              backoff_base=settings.backoff_base,
                              backoff_cap=settings.backoff_cap, batch_size=settings.batch_size)
        return self._once("outbox", lambda: OutboxDispatcher(
            self.store(), self.connectors(), self.notifiers(), owner, policy,
            on_result=on_result), None)

    def metrics(self, rules: RuleSet) -> Metrics:
        """The metrics registry with every label declared (the server is `metrics_server`)."""
        def build() -> Metrics:
            metrics = Metrics(version=_version())
            metrics.declare(sources=[s.name for s in self.config.sources],
                            scorers=[self.scorer().name], rules=[r.name for r in rules.rules],
                            notifiers=list(self.config.notifiers))
            return metrics
        return self._once("metrics", build, None)

    def metrics_server(self, metrics: Metrics) -> Any:
        from daemon.metrics import start_metrics_server

        settings = self.config.top.metrics
        return self._once("metrics_server", lambda: start_metrics_server(
            metrics, settings.port, addr=settings.addr), _close)

    def dashboard(self, rules: Callable[[], RuleSet]) -> Any:
        from daemon.dashboard import start_dashboard

        return self._once("dashboard", lambda: start_dashboard(
            self.store(), self.config.top.dashboard, rules,
            [s.name for s in self.config.sources]), _close)
