"""The `helpdesk-sentinel` command line: every command, its options, help and examples.

One function adds one command (or one group, `rules`) to the parser, in the order
`--help` lists them; each names the function of daemon/cli_commands.py that runs it.
Values that can be checked without the config (a number of days, a start time) are
checked here, so a typo fails before any work starts.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from typing import TYPE_CHECKING

from daemon import cli_commands as commands
from daemon.cli_commands import DEFAULT_CONFIG
from daemon.config import parse_start_from

if TYPE_CHECKING:
    #: What `add_subparsers` returns (argparse has no public name for it).
    Commands = argparse._SubParsersAction[argparse.ArgumentParser]


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


def join_time_ago_values(argv: Sequence[str]) -> list[str]:
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


def _positive_days(value: str) -> int:
    try:
        days = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of days: {value!r}") from None
    if not 1 <= days <= 3650:
        raise argparse.ArgumentTypeError(f"must be a positive number of days (1-3650), not {days}")
    return days


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="helpdesk-sentinel", epilog=_MAIN_EPILOG, formatter_class=_HelpFormatter,
        description="Catch frustrated customers before they churn: sentiment trends on "
                    "helpdesk\nconversations, escalated by YAML rules.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}",
                        help="print the installed version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                title="commands")
    for add in (_add_run, _add_check_config, _add_check_source, _add_rules, _add_eval,
                _add_report, _add_dashboard, _add_backfill, _add_forget, _add_train):
        add(sub)
    return parser


def _with_config(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--config", default=DEFAULT_CONFIG, metavar="FILE",
                   help=f"the config file (YAML); default: {DEFAULT_CONFIG}")
    return p


def _command(sub: Commands, name: str, summary: str, examples: str, description: str = ""
             ) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=summary, description=description or summary,
                       epilog="examples:\n" + examples, formatter_class=_HelpFormatter)
    return _with_config(p)


def _add_run(sub: Commands) -> None:
    run = _command(sub, "run", "run the daemon in the foreground", """\
  helpdesk-sentinel run --config config.yaml          (the sandbox demo; Ctrl-C stops)
  helpdesk-sentinel run --config config.yaml --once   (one round, prints totals as JSON)
""", "Run the daemon in the foreground: poll every source, score, apply the rules and\n"
     "deliver tags, notes and alerts.  systemd runs exactly this (see README).")
    run.add_argument("--once", action="store_true",
                     help="poll every source once, deliver what is queued, print the totals "
                          "as JSON and exit (default: run until stopped)")
    run.set_defaults(func=commands.cmd_run)


def _add_check_config(sub: Commands) -> None:
    check = _command(sub, "check-config", "validate a config file", """\
  helpdesk-sentinel check-config --config config.yaml
  helpdesk-sentinel check-config --config /etc/helpdesk-sentinel/config.yaml
""", "Validate a config file without starting anything.  Every problem is listed in\n"
     "one run as FILE:LINE: key.path: message; exit status 1 when there is one.")
    check.set_defaults(func=commands.cmd_check_config)


def _add_check_source(sub: Commands) -> None:
    source_check = _command(sub, "check-source", "check a source's setup online (read-only)",
                            """\
  helpdesk-sentinel check-source --config config.yaml
  helpdesk-sentinel check-source --config config.yaml --source rt-main
""", "Connect to each source with its credentials and check what the daemon needs there,\n"
     "without writing anything (RT: the rights and the tags custom field).")
    source_check.add_argument("--source", metavar="NAME",
                              help="only this source (default: every source)")
    source_check.set_defaults(func=commands.cmd_check_source)


def _add_rules(sub: Commands) -> None:
    rules = sub.add_parser("rules", help="rule tools (rules test)",
                           description="Rule tools.", formatter_class=_HelpFormatter,
                           epilog="examples:\n  helpdesk-sentinel rules test --config "
                                  "config.yaml tests/rules/shipped_rules_test.yaml\n")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True, metavar="TOOL")
    rtest = _with_config(rules_sub.add_parser(
        "test", help="replay conversations through the rules",
        description="Replay the conversations of rule test files through the config's rules\n"
                    "and check what fires (docs/rules.md).  Exit 0 when all pass, 1 when one\n"
                    "fails, 2 when a file is invalid.",
        epilog="examples:\n  helpdesk-sentinel rules test --config config.yaml "
               "tests/rules/shipped_rules_test.yaml\n",
        formatter_class=_HelpFormatter))
    rtest.add_argument("files", nargs="+", metavar="FILE",
                       help="rule test files (YAML), one or more")
    rtest.set_defaults(func=commands.cmd_rules_test)


def _add_eval(sub: Commands) -> None:
    ev = _command(sub, "eval", "score a labelled CSV and print accuracy metrics", """\
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
    ev.set_defaults(func=commands.cmd_eval)


def _add_report(sub: Commands) -> None:
    rep = _command(sub, "report", "the sentiment dashboard", """\
  helpdesk-sentinel report --config config.yaml
  helpdesk-sentinel report --config config.yaml --days 30 --source zendesk-main --json
""", "Print the dashboard: sentiment, escalations, outbox, poll health, agent impact.")
    rep.add_argument("--days", type=_positive_days, default=7, metavar="N",
                     help="how many days back to look (default: %(default)s)")
    rep.add_argument("--source", metavar="NAME",
                     help="only this source (default: every source)")
    rep.add_argument("--json", action="store_true",
                     help="print JSON instead of text (default: text)")
    rep.set_defaults(func=commands.cmd_report)


def _add_dashboard(sub: Commands) -> None:
    dash = _command(sub, "dashboard", "serve the read-only web dashboard", """\
  helpdesk-sentinel dashboard --config config.yaml
""", "Serve the dashboard of the config's `dashboard:` section (addr, port, token) until\n"
     "Ctrl-C, reading the same database as the daemon.  `run` serves it too when\n"
     "`dashboard.enabled` is true.")
    dash.set_defaults(func=commands.cmd_dashboard)


def _add_backfill(sub: Commands) -> None:
    back = _command(sub, "backfill", "score a source's history without alerts", """\
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
    back.set_defaults(func=commands.cmd_backfill)


def _add_forget(sub: Commands) -> None:
    forget = _command(sub, "forget", "erase everything stored about one customer", """\
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
    forget.set_defaults(func=commands.cmd_forget)


def _add_train(sub: Commands) -> None:
    train = _command(sub, "train", "fit the offline scorer to the team's own tickets", """\
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
    train.set_defaults(func=commands.cmd_train)
