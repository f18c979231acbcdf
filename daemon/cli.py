"""`helpdesk-sentinel`: run the daemon and the tools around it.

  run           the daemon (foreground; systemd runs exactly this)   [--once]
  check-config  validate a config file; FILE:LINE errors, exit 1 when invalid
  check-source  check a source's setup online, read-only (RT: user, queues, tags field)
  rules test    replay conversations through the rules, promtool style
  eval          score a labelled CSV with the configured scorer and print metrics
  report        the dashboard: sentiment, escalations, outbox, poll health, agent impact
  backfill      score a source's history without firing alerts (unless --alerts)
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from daemon.config import Config, ConfigError, load_config
from daemon.scoring.base import Scorer

DEFAULT_CONFIG = "/etc/helpdesk-sentinel/config.yaml"


def _load(path: str) -> Config:
    return load_config(path)


def _configure_logs(config: Config | None) -> None:
    from daemon.logs import configure

    if config is None:
        configure()
    else:
        configure(config.top.log.level, config.top.log.format)


def cmd_check_config(args: argparse.Namespace) -> int:
    config = _load(args.config)
    print(f"{args.config}: OK — {len(config.sources)} source(s), {len(config.notifiers)} "
          f"notifier(s), {len(config.rules.rules)} rule(s), scorer {config.scorer.kind}")
    return 0


def cmd_check_source(args: argparse.Namespace) -> int:
    """Connect to each source that has an online setup check (read-only) and report."""
    import importlib

    from connectors.settings import SETUP_CHECKS

    config = _load(args.config)
    failed = 0
    for source in config.sources:
        if args.source and source.name != args.source:
            continue
        target = SETUP_CHECKS.get(source.kind)
        if target is None:
            print(f"{source.name}: no online check for kind {source.kind!r} (config valid)")
            continue
        module, _, function = target.partition(":")
        problems = getattr(importlib.import_module(module), function)(source)
        failed += bool(problems)
        print(f"{source.name}: " + ("OK" if not problems else "NOT READY"))
        for problem in problems:
            print(f"  - {problem}")
    return 1 if failed else 0


class _StopDuringStartup(Exception):
    """SIGTERM arrived before the scheduler took over the signal handlers."""


def _stop_during_startup(signum: int, _frame: object) -> None:
    raise _StopDuringStartup(signal.Signals(signum).name)


def cmd_run(args: argparse.Namespace) -> int:
    from daemon.service import Daemon
    from daemon.store import DatabaseUnavailable

    # Until `Daemon.run` installs its handlers, a stop request ends start-up cleanly
    # (exit 0, resources closed) instead of killing the process mid-build.
    signal.signal(signal.SIGTERM, _stop_during_startup)
    config = _load(args.config)
    _configure_logs(config)
    try:
        daemon = Daemon(config).build()
    except DatabaseUnavailable as exc:
        print(f"database unavailable: {exc} (is it running? see database.url and "
              "database.startup_wait)", file=sys.stderr)
        return 1
    try:
        if args.once:
            totals = daemon.run_once()
            print(json.dumps(totals))
            return 0
        return daemon.run()
    finally:
        daemon.close()


@contextmanager
def _configured_scorer(config: Config) -> Iterator[Scorer]:
    """The config's scorer, with any sandbox it points at (the demo's Claude) running."""
    from daemon.scoring.settings import build_scorer
    from daemon.service import referenced_sandboxes, start_sandboxes, with_sandbox_urls

    servers, urls = start_sandboxes(config, referenced_sandboxes(config.scorer))
    scorer = build_scorer(with_sandbox_urls(config.scorer, urls), cache_dir=None)
    try:
        yield scorer
    finally:
        scorer.close()
        for server in servers:
            server.stop()


def cmd_rules_test(args: argparse.Namespace) -> int:
    from daemon.rulestest import run_rules_test

    config = _load(args.config)
    with _configured_scorer(config) as scorer:
        return run_rules_test(config.rules, scorer, [Path(f) for f in args.files], sys.stdout)


def cmd_eval(args: argparse.Namespace) -> int:
    from daemon.evaluate import run_eval

    config = _load(args.config)
    with _configured_scorer(config) as scorer:
        return run_eval(scorer, Path(args.data), args.text_column, args.label_column,
                        Path(args.output) if args.output else None, sys.stdout)


def cmd_report(args: argparse.Namespace) -> int:
    from daemon.report import build_report, render_report
    from daemon.store import Store

    config = _load(args.config)
    store = Store(config.database_url)
    try:
        store.create_schema()
        report = build_report(store, days=args.days, source=args.source,
                              now=datetime.now(UTC))
    finally:
        store.close()
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True, default=str))
    else:
        print(render_report(report))
    return 0


def cmd_backfill(args: argparse.Namespace) -> int:
    from daemon.backfill import run_backfill

    config = _load(args.config)
    _configure_logs(config)
    return run_backfill(config, args.source, args.since, alerts=args.alerts, out=sys.stdout)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="helpdesk-sentinel", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    def with_config(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--config", default=DEFAULT_CONFIG, help="config file (YAML)")
        return p

    run = with_config(sub.add_parser("run", help="run the daemon in the foreground"))
    run.add_argument("--once", action="store_true",
                     help="poll every source once, deliver the outbox, exit")
    run.set_defaults(func=cmd_run)

    check = with_config(sub.add_parser("check-config", help="validate a config file"))
    check.set_defaults(func=cmd_check_config)

    source_check = with_config(sub.add_parser(
        "check-source", help="check a source's setup online (read-only; RT: the tags field)"))
    source_check.add_argument("--source", help="only this source (default: every one)")
    source_check.set_defaults(func=cmd_check_source)

    rules = sub.add_parser("rules", help="rule tools")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True)
    rtest = with_config(rules_sub.add_parser("test", help="replay rule test files"))
    rtest.add_argument("files", nargs="+", help="rule test files (YAML)")
    rtest.set_defaults(func=cmd_rules_test)

    ev = with_config(sub.add_parser("eval", help="evaluate the scorer on a labelled CSV"))
    ev.add_argument("--data", required=True)
    ev.add_argument("--text-column", required=True)
    ev.add_argument("--label-column", required=True)
    ev.add_argument("--output")
    ev.set_defaults(func=cmd_eval)

    rep = with_config(sub.add_parser("report", help="the sentiment dashboard"))
    rep.add_argument("--days", type=int, default=7)
    rep.add_argument("--source")
    rep.add_argument("--json", action="store_true")
    rep.set_defaults(func=cmd_report)

    back = with_config(sub.add_parser("backfill", help="score history without alerts"))
    back.add_argument("--source", required=True)
    back.add_argument("--since", required=True, help="ISO date/time or relative (-30d)")
    back.add_argument("--alerts", action="store_true", help="also evaluate rules and act")
    back.set_defaults(func=cmd_backfill)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result: Any = args.func(args)
    except ConfigError as exc:
        for message in exc.messages:
            print(message, file=sys.stderr)
        return 2 if args.command != "check-config" else 1
    except KeyboardInterrupt:
        return 130
    except _StopDuringStartup:
        return 0  # asked to stop before running: nothing was left half done
    return int(result)


if __name__ == "__main__":
    sys.exit(main())
