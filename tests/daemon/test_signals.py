"""`ignore_stop_signals`: the one report CPython writes for a signal it dropped is
filtered, and nothing else is.

CPython reports a signal that tripped just before its handler became SIG_IGN through
`PyErr_WriteUnraisable`, not by raising it; the daemon under a signal storm printed that
report as a traceback during its clean exit.  The race itself is a matter of microseconds,
so these tests write the same error through the same channel (`PyErr_WriteUnraisable`,
reached here from a failing `__del__`, in a fresh interpreter) and read what reaches
stderr."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

REPORT = """
import signal
from daemon.signals import ignore_stop_signals
{before}
class Reported:
    def __del__(self):
        raise OSError({message!r})
Reported()  # dropped at once: its error goes to sys.unraisablehook
assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
print("done")
"""


def _stderr_of(message: str, before: str = "ignore_stop_signals()") -> str:
    done = subprocess.run([sys.executable, "-c", REPORT.format(message=message, before=before)],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "done", done.stderr
    return done.stderr


def test_the_race_report_for_a_dropped_signal_is_silent() -> None:
    assert _stderr_of("Signal 1 ignored due to race condition") == ""


def test_the_report_would_print_without_the_filter() -> None:
    """The control: the same report, signals ignored by hand, reaches stderr."""
    err = _stderr_of("Signal 1 ignored due to race condition", before="""
for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(number, signal.SIG_IGN)
""")
    assert "ignored due to race condition" in err


def test_other_unraisable_errors_still_print() -> None:
    assert "disk on fire" in _stderr_of("disk on fire")


def test_calling_it_twice_does_not_stack_filters() -> None:
    err = _stderr_of("another failure", before="""
ignore_stop_signals()
first = __import__("sys").unraisablehook
ignore_stop_signals()
assert __import__("sys").unraisablehook is first
""")
    assert "another failure" in err
