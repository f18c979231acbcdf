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

The command line (options, help, examples) is daemon/cli_parser.py; what each command
does is daemon/cli_commands.py.  This module parses, runs the command and turns the
ways a command can end into exit statuses.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from daemon.cli_commands import DEFAULT_CONFIG, StopDuringStartup
from daemon.cli_parser import build_parser, join_time_ago_values
from daemon.config import ConfigError
from daemon.terminal import safe_terminal

__all__ = ["DEFAULT_CONFIG", "build_parser", "join_time_ago_values", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(join_time_ago_values(sys.argv[1:] if argv is None else argv))
    try:
        result: Any = args.func(args)
    except ConfigError as exc:
        for message in exc.messages:
            print(safe_terminal(message), file=sys.stderr)
        return 2 if args.command != "check-config" else 1
    except KeyboardInterrupt:
        return 130
    except StopDuringStartup:
        return 0  # asked to stop before running: nothing was left half done
    return int(result)


if __name__ == "__main__":
    sys.exit(main())
