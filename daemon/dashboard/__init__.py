"""The read-only web dashboard: what a support lead looks at, from the same queries as `report`.

Pages (daemon/dashboard/pages.py): the overview (sentiment and volume per day over 7 and
30 days, negative and declining conversations, escalations by rule with their outcomes,
by source and by language), the tickets at risk, one ticket's scores with its rule
firings, and agent impact.  Server-rendered HTML with inline SVG charts; no script and
nothing loaded from the network.  The daemon serves it when `dashboard.enabled` is set;
`helpdesk-sentinel dashboard` serves it alone (daemon/dashboard/server.py: access).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable

from daemon.config import Config, ConfigError, DashboardSettings
from daemon.dashboard.pages import Pages
from daemon.dashboard.server import DashboardServer, start_server
from daemon.insights import TrendSettings
from daemon.logs import get_logger, register_secrets
from daemon.store import Store
from rules.model import RuleSet

log = get_logger("sentinel.dashboard")

__all__ = ["DashboardServer", "Pages", "serve_dashboard", "start_dashboard"]


def start_dashboard(store: Store, settings: DashboardSettings, rules: Callable[[], RuleSet],
                    sources: list[str]) -> DashboardServer:
    """Start serving in a background thread; the caller closes the returned server."""
    token = settings.token.get_secret_value() if settings.token is not None else None
    if token:
        register_secrets([token])
    pages = Pages(store, lambda: TrendSettings.from_rules(rules()), lambda: list(sources))
    try:
        server = start_server(pages, settings.addr, settings.port, token or None)
    except OSError as exc:  # the port is taken, or the address is not this machine's
        raise ConfigError([f"dashboard: cannot listen on {settings.addr}:{settings.port}: "
                           f"{exc.strerror or exc} (change dashboard.port or dashboard.addr)"]
                          ) from None
    log.info("dashboard_listening", url=server.url, token_required=bool(token))
    return server


def serve_dashboard(config: Config) -> int:
    """`helpdesk-sentinel dashboard`: serve until SIGINT or SIGTERM, without the daemon."""
    from daemon.app import App

    stop = threading.Event()
    with App.start(config, sandboxes=()) as app:
        store = app.store()
        store.create_schema()
        server = app.dashboard(lambda: config.rules)  # closed with the app
        print(f"dashboard: {server.url}", flush=True)
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        while not stop.wait(3600):
            continue
    return 0
