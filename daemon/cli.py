"""`helpdesk-sentinel`: run the daemon and the tools around it.

  run           the daemon (foreground; systemd runs exactly this)   [--once]
  check-config  validate a config file; FILE:LINE errors, exit 1 when invalid
  check-source  check a source's setup online, read-only (RT: user, queues, tags field)
  rules test    replay conversations through the rules, promtool style
  eval          score a labelled CSV with the configured scorer and print metrics
  report        the dashboard: sentiment, escalations, outbox, poll health, agent impact
  dashboard     the same, as a read-only web page (the daemon serves it too when enabled)
  backfill      score a source's history without firing alerts (unless --alerts)
  forget        erase everything stored about one customer (an erasure request)
  train         fit the offline scorer to the team's labelled tickets and/or history
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from daemon.config import Config, ConfigError, load_config, parse_start_from
from daemon.scoring.base import Scorer
from daemon.terminal import safe_terminal

if TYPE_CHECKING:
    from daemon.store import Store

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


class _StopDuringStartup(Exception):
    """SIGTERM arrived before the scheduler took over the signal handlers."""


def _stop_during_startup(signum: int, _frame: object) -> None:
    raise _StopDuringStartup(signal.Signals(signum).name)


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


def _positive_days(value: str) -> int:
    try:
        days = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of days: {value!r}") from None
    if not 1 <= days <= 3650:
        raise argparse.ArgumentTypeError(f"must be a positive number of days (1-3650), not {days}")
    return days


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


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the hand-wrapped descriptions and examples as written."""


def _version() -> str:
    try:
        return metadata.version("helpdesk-sentinel")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed; run `make install`)"


#: Options whose value may be a time ago such as -30d, which argparse would otherwise
#: take for an option of its own ("expected one argument").
_TIME_AGO_OPTIONS = frozenset({"--since"})
_TIME_AGO = re.compile(r"^-\d")  # any "-<digit>...": a malformed one gets --since's own error


def _join_time_ago_values(argv: Sequence[str]) -> list[str]:
    """`--since -30d` becomes `--since=-30d`, the one spelling argparse accepts."""
    out: list[str] = []
    for arg in argv:
        if out and out[-1] in _TIME_AGO_OPTIONS and _TIME_AGO.match(arg):
            out[-1] = f"{out[-1]}={arg}"
        else:
            out.append(arg)
    return out


def _start_time(value: str) -> str:
    """argparse type for --since: checked now, so a typo fails before any work starts."""
    try:
        parse_start_from(value, datetime.now(UTC))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a time: use an ISO date or time (2026-11-01, "
            "2026-11-01T09:00Z) or a time ago (-30d, -12h, -90m)") from None
    return value


_MAIN_EPILOG = f"""\
examples:
  helpdesk-sentinel check-config --config config.yaml
  helpdesk-sentinel run --config config.yaml
  helpdesk-sentinel backfill --config config.yaml --source zendesk-main --since -30d
  helpdesk-sentinel COMMAND --help        (the options and examples of one command)

Every command reads its config from --config (default: {DEFAULT_CONFIG}).
The shipped config.yaml runs against built-in sandboxes; docs/connect.md connects a
real helpdesk.
"""
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="helpdesk-sentinel", epilog=_MAIN_EPILOG, formatter_class=_HelpFormatter,
        description="Catch frustrated customers before they churn: sentiment trends on "
                    "helpdesk\nconversations, escalated by YAML rules.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}",
                        help="print the installed version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                title="commands")

    def command(name: str, summary: str, examples: str, description: str = ""
                ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=summary, description=description or summary,
                           epilog="examples:\n" + examples, formatter_class=_HelpFormatter)
        return with_config(p)

    def with_config(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--config", default=DEFAULT_CONFIG, metavar="FILE",
                       help=f"the config file (YAML); default: {DEFAULT_CONFIG}")
        return p

    run = command("run", "run the daemon in the foreground", """\
  helpdesk-sentinel run --config config.yaml          (the sandbox demo; Ctrl-C stops)
  helpdesk-sentinel run --config config.yaml --once   (one round, prints totals as JSON)
""", "Run the daemon in the foreground: poll every source, score, apply the rules and\n"
     "deliver tags, notes and alerts.  systemd runs exactly this (see README).")
    run.add_argument("--once", action="store_true",
                     help="poll every source once, deliver what is queued, print the totals "
                          "as JSON and exit (default: run until stopped)")
    run.set_defaults(func=cmd_run)

    check = command("check-config", "validate a config file", """\
  helpdesk-sentinel check-config --config config.yaml
  helpdesk-sentinel check-config --config /etc/helpdesk-sentinel/config.yaml
""", "Validate a config file without starting anything.  Every problem is listed in\n"
     "one run as FILE:LINE: key.path: message; exit status 1 when there is one.")
    check.set_defaults(func=cmd_check_config)

    source_check = command("check-source", "check a source's setup online (read-only)", """\
  helpdesk-sentinel check-source --config config.yaml
  helpdesk-sentinel check-source --config config.yaml --source rt-main
""", "Connect to each source with its credentials and check what the daemon needs there,\n"
     "without writing anything (RT: the rights and the tags custom field).")
    source_check.add_argument("--source", metavar="NAME",
                              help="only this source (default: every source)")
    source_check.set_defaults(func=cmd_check_source)

    rules = sub.add_parser("rules", help="rule tools (rules test)",
                           description="Rule tools.", formatter_class=_HelpFormatter,
                           epilog="examples:\n  helpdesk-sentinel rules test --config "
                                  "config.yaml tests/rules/shipped_rules_test.yaml\n")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True, metavar="TOOL")
    rtest = with_config(rules_sub.add_parser(
        "test", help="replay conversations through the rules",
        description="Replay the conversations of rule test files through the config's rules\n"
                    "and check what fires (docs/rules.md).  Exit 0 when all pass, 1 when one\n"
                    "fails, 2 when a file is invalid.",
        epilog="examples:\n  helpdesk-sentinel rules test --config config.yaml "
               "tests/rules/shipped_rules_test.yaml\n",
        formatter_class=_HelpFormatter))
    rtest.add_argument("files", nargs="+", metavar="FILE",
                       help="rule test files (YAML), one or more")
    rtest.set_defaults(func=cmd_rules_test)

    ev = command("eval", "score a labelled CSV and print accuracy metrics", """\
  helpdesk-sentinel eval --config config.yaml --data labelled.csv \\
      --text-column text --label-column label --output scored.csv
""", "Score every row of a labelled CSV with the configured scorer and print how well\n"
     "the scores match the labels (docs/scoring.md).")
    ev.add_argument("--data", required=True, metavar="CSV",
                    help="the labelled CSV file (required)")
    ev.add_argument("--text-column", required=True, metavar="NAME",
                    help="the column holding the message text (required)")
    ev.add_argument("--label-column", required=True, metavar="NAME",
                    help="the column holding the expected label (required)")
    ev.add_argument("--output", metavar="CSV",
                    help="also write every row with its score here (default: not written)")
    ev.set_defaults(func=cmd_eval)

    rep = command("report", "the sentiment dashboard", """\
  helpdesk-sentinel report --config config.yaml
  helpdesk-sentinel report --config config.yaml --days 30 --source zendesk-main --json
""", "Print the dashboard: sentiment, escalations, outbox, poll health, agent impact.")
    rep.add_argument("--days", type=_positive_days, default=7, metavar="N",
                     help="how many days back to look (default: %(default)s)")
    rep.add_argument("--source", metavar="NAME",
                     help="only this source (default: every source)")
    rep.add_argument("--json", action="store_true",
                     help="print JSON instead of text (default: text)")
    rep.set_defaults(func=cmd_report)

    dash = command("dashboard", "serve the read-only web dashboard", """\
  helpdesk-sentinel dashboard --config config.yaml
""", "Serve the dashboard of the config's `dashboard:` section (addr, port, token) until\n"
     "Ctrl-C, reading the same database as the daemon.  `run` serves it too when\n"
     "`dashboard.enabled` is true.")
    dash.set_defaults(func=cmd_dashboard)

    back = command("backfill", "score a source's history without alerts", """\
  helpdesk-sentinel backfill --config config.yaml --source zendesk-main --since -30d
  helpdesk-sentinel backfill --config config.yaml --source zendesk-main --since 2026-11-01
  helpdesk-sentinel backfill --config config.yaml --source zendesk-main --since -7d --alerts
""", "Read a source's history from --since and store and score it, so trends start\n"
     "with context.  Rules are not evaluated and nothing is sent unless --alerts.")
    back.add_argument("--source", required=True, metavar="NAME",
                      help="the source to read, by its `name` in the config (required)")
    back.add_argument("--since", required=True, type=_start_time, metavar="WHEN",
                      help="where to start: an ISO date or time (2026-11-01, "
                           "2026-11-01T09:00Z) or a time ago (-30d, -12h) (required)")
    back.add_argument("--alerts", action="store_true",
                      help="also evaluate the rules and act on them: tags, notes, alerts "
                           "(default: only store and score)")
    back.set_defaults(func=cmd_backfill)

    forget = command("forget", "erase everything stored about one customer", """\
  helpdesk-sentinel forget --config config.yaml --requester jane@example.com
  helpdesk-sentinel forget --config config.yaml --requester 90210 --source zendesk-main --json
""", "Erase everything stored about one customer (an erasure request under data-protection\n"
     "law): messages, indicators, ticket snapshots, outbox payloads, score caches.  Prints\n"
     "what it removed; exit 1 when nothing matched.")
    forget.add_argument("--requester", required=True, metavar="ID_OR_EMAIL",
                        help="the helpdesk's user id, or the requester's name or email (required)")
    forget.add_argument("--source", metavar="NAME",
                        help="only this source (default: every source)")
    forget.add_argument("--json", action="store_true",
                        help="print JSON instead of text (default: text)")
    forget.set_defaults(func=cmd_forget)

    train = command("train", "fit the offline scorer to the team's own tickets", """\
  helpdesk-sentinel train --config config.yaml --output /var/lib/helpdesk-sentinel/team.json \\
      --data tickets.csv --text-column body --label-column sentiment
  helpdesk-sentinel train --config config.yaml --output team.json --from-history
  helpdesk-sentinel train --config config.yaml --output team.json --data tickets.csv \\
      --text-column body --label-column sentiment --holdout 0.2 --seed 42
""", "Fit a calibration of the offline scorer to labelled tickets (CSV) and/or the daemon's\n"
     "history (messages Claude scored, agents' false-alarm and missed marks).  Load the\n"
     "model with `scorer: {kind: local, model: PATH}`.  Refuses, with the numbers, when\n"
     "there is too little data.")
    train.add_argument("--output", required=True, metavar="MODEL",
                       help="the model file to write (JSON) (required)")
    train.add_argument("--data", metavar="F.csv",
                       help="labelled tickets, a CSV file (default: none)")
    train.add_argument("--text-column", metavar="C",
                       help="the CSV column with the message text (with --data)")
    train.add_argument("--label-column", metavar="L",
                       help="the CSV column with the label: negative/neutral/positive (with --data)")
    train.add_argument("--from-history", action="store_true",
                       help="also learn from Claude-scored messages and agents' marks "
                            "in the config's database (default: off)")
    train.add_argument("--holdout", type=float, default=None, metavar="FRACTION",
                       help="keep this fraction aside and report macro-F1 on it (default: none)")
    train.add_argument("--seed", type=int, default=7, metavar="N",
                       help="seed of the hold-out split and the fit (default: %(default)s)")
    train.set_defaults(func=cmd_train)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(_join_time_ago_values(sys.argv[1:] if argv is None else argv))
    try:
        result: Any = args.func(args)
    except ConfigError as exc:
        for message in exc.messages:
            print(safe_terminal(message), file=sys.stderr)
        return 2 if args.command != "check-config" else 1
    except KeyboardInterrupt:
        return 130
    except _StopDuringStartup:
        return 0  # asked to stop before running: nothing was left half done
    return int(result)


if __name__ == "__main__":
    sys.exit(main())
