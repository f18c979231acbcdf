"""What each `helpdesk-sentinel` command does, once daemon/cli_parser.py has read its
arguments: load the config, build the parts it needs (through the composition root,
daemon/app.py, or the daemon's own build) and run.  A command returns its exit status;
a ConfigError it raises is printed and turned into one by `daemon.cli.main`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from daemon.config import Config, ConfigError, load_config
from daemon.scoring.base import Scorer
from daemon.terminal import safe_terminal

if TYPE_CHECKING:
    from daemon.store import Store

#: The config every command reads unless --config names another.
DEFAULT_CONFIG = "/etc/helpdesk-sentinel/config.yaml"


def _load(path: str) -> Config:
    if path == DEFAULT_CONFIG and not Path(path).exists():
        raise ConfigError([f"{path}: no config file here (the default). Pass --config FILE; "
                           "the repository's config.yaml is a working example."])
    return load_config(path)


def _configure_logs(config: Config | None) -> None:
    from daemon.logs import configure

    if config is None:
        configure()
    else:
        configure(config.top.log.level, config.top.log.format)


def cmd_check_config(args: argparse.Namespace) -> int:
    config = _load(args.config)
    print(f"{safe_terminal(args.config)}: OK — {len(config.sources)} source(s), "
          f"{len(config.notifiers)} notifier(s), {len(config.rules.rules)} rule(s), "
          f"scorer {config.scorer.kind}")
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


class StopDuringStartup(Exception):
    """SIGTERM arrived before the scheduler took over the signal handlers."""


def _stop_during_startup(signum: int, _frame: object) -> None:
    raise StopDuringStartup(signal.Signals(signum).name)


def cmd_run(args: argparse.Namespace) -> int:
    from daemon.migrate import SchemaError
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
        print(f"database unavailable: {safe_terminal(exc)} (is it running? see database.url and "
              "database.startup_wait)", file=sys.stderr)
        return 1
    except SchemaError as exc:
        print(f"refusing to start: {exc}", file=sys.stderr)
        return 1
    try:
        if args.once:
            totals = daemon.run_once()
            print(json.dumps(totals))
            for name, problem in totals.get("failed", {}).items():
                print(f"run --once: source {name} was not read: {problem}", file=sys.stderr)
            return 1 if totals.get("failed") else 0
        return daemon.run()
    finally:
        daemon.close()


@contextmanager
def _configured_scorer(config: Config) -> Iterator[Scorer]:
    """The config's scorer, with any sandbox it points at (the demo's Claude) running."""
    from connectors.demo import referenced_sandboxes
    from daemon.app import App

    with App.start(config, sandboxes=referenced_sandboxes(config.scorer)) as app:
        yield app.scorer(persistent_cache=False)


@contextmanager
def _database(config: Config) -> Iterator[Store]:
    """The config's database with its schema in place (the tools that only read or erase)."""
    from daemon.app import App

    with App.start(config, sandboxes=()) as app:
        store = app.store()
        store.create_schema()
        yield store


def cmd_rules_test(args: argparse.Namespace) -> int:
    from daemon.rulestest import run_rules_test

    config = _load(args.config)
    with _configured_scorer(config) as scorer:
        return run_rules_test(config.rules, scorer, [Path(f) for f in args.files], sys.stdout,
                              config.top.incidents)


def cmd_eval(args: argparse.Namespace) -> int:
    from daemon.evaluate import run_eval

    config = _load(args.config)
    with _configured_scorer(config) as scorer:
        return run_eval(scorer, Path(args.data), args.text_column, args.label_column,
                        Path(args.output) if args.output else None, sys.stdout)


def cmd_report(args: argparse.Namespace) -> int:
    from daemon.incident_report import incident_listing, render_incidents
    from daemon.insights import Insights, TrendSettings, UnknownSource
    from daemon.report import build_report, render_report

    config = _load(args.config)
    with _database(config) as store:
        try:
            Insights(store).check_source(args.source, (s.name for s in config.sources))
        except UnknownSource as exc:
            print(f"report: {exc}", file=sys.stderr)
            return 2
        now = datetime.now(UTC)
        report = build_report(store, days=args.days, source=args.source,
                              now=now, trend=TrendSettings.from_rules(config.rules))
        incidents = incident_listing(store, days=args.days, now=now)
    text = (json.dumps({**report, "incidents": incidents}, indent=2, sort_keys=True,
                       default=str) if args.json
            else safe_terminal(render_report(report) + "\n\n" + render_incidents(incidents),
                               multiline=True))
    return _print_to_pipe(text)


def _print_to_pipe(text: str) -> int:
    """Print; a reader that went away (`report | head`) ends the command quietly."""
    try:
        print(text)
        sys.stdout.flush()
    except BrokenPipeError:
        # Python would complain again at exit while flushing the dead pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    from daemon.dashboard import serve_dashboard

    config = _load(args.config)
    _configure_logs(config)
    return serve_dashboard(config)


def cmd_backfill(args: argparse.Namespace) -> int:
    from daemon.backfill import run_backfill

    config = _load(args.config)
    _configure_logs(config)
    return run_backfill(config, args.source, args.since, alerts=args.alerts, out=sys.stdout)


def cmd_forget(args: argparse.Namespace) -> int:
    from daemon.forget import forget_requester, render
    from daemon.scoring.settings import SCORE_CACHE_FILE

    config = _load(args.config)
    with _database(config) as store:
        erasure = forget_requester(store, args.requester, args.source,
                                   score_cache=config.state_dir / "cache" / SCORE_CACHE_FILE)
    print(json.dumps(erasure.to_json()) if args.json else render(erasure))
    return 0 if erasure.matched else 1


def cmd_train(args: argparse.Namespace) -> int:
    from daemon.app import App
    from daemon.train import TrainError, run_train

    config = _load(args.config)
    try:
        with App.start(config, sandboxes=()) as app:  # the database only if asked for
            return run_train(history_store=app.store, output=Path(args.output),
                             data=Path(args.data) if args.data else None,
                             text_column=args.text_column, label_column=args.label_column,
                             from_history=args.from_history, holdout=args.holdout,
                             seed=args.seed, out=sys.stdout)
    except TrainError as exc:
        print(f"train: {exc}", file=sys.stderr)
        return 1
