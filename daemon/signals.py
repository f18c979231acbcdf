"""The daemon's signals: handlers only record, the main thread acts.

SIGTERM/SIGINT ask for a stop (the first one is the one named), SIGHUP for a reload.  A
handler is a plain attribute store plus a byte on a wake-up pipe (`signal.set_wakeup_fd`):
a handler that took a lock or started a thread could interrupt the main thread holding
the same lock and wedge the process under a burst of signals.  `wait` is the main loop of
`run`: it sleeps on the pipe and performs each reload there, once however many SIGHUPs
arrived meanwhile, until a stop is requested.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from daemon.logs import get_logger

log = get_logger("sentinel.service")

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_HANDLER_SETTLE_S = 0.05


class SignalInbox:
    """What the signal handlers recorded; read by the main loop (and `run --once`)."""

    def __init__(self) -> None:
        self.stop_signal: int | None = None
        self.reload_requested = False
        self._wake_fd: int | None = None  # the pipe the main loop waits on

    @property
    def has_main_loop(self) -> bool:
        return self._wake_fd is not None

    def on_stop(self, signum: int, _frame: Any) -> None:
        """SIGTERM/SIGINT: record it; the main loop stops (the first signal is the one named)."""
        if self.stop_signal is None:
            self.stop_signal = signum

    def on_reload(self, _signum: int, _frame: Any) -> None:
        """SIGHUP: record it; the main loop reloads once however many arrived meanwhile."""
        self.reload_requested = True

    def request_reload(self) -> None:
        """From a thread (the config file changed): the main loop reloads."""
        self.reload_requested = True
        wake = self._wake_fd
        if wake is not None:
            # A full pipe means the loop is already due to wake; a closed one, that it ended.
            with contextlib.suppress(OSError):
                os.write(wake, b"\0")

    def _install(self) -> None:
        for number in _STOP_SIGNALS:
            signal.signal(number, self.on_stop)
        signal.signal(signal.SIGHUP, self.on_reload)

    @contextlib.contextmanager
    def recording(self) -> Iterator[None]:
        """Record SIGTERM/SIGINT/SIGHUP (nothing else) while the block runs, in the main
        thread; elsewhere (signals cannot be caught there) the block just runs."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {number: signal.getsignal(number)
                    for number in (*_STOP_SIGNALS, signal.SIGHUP)}
        self._install()
        try:
            yield
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)

    @contextlib.contextmanager
    def main_loop(self) -> Iterator[Callable[[Callable[[], object]], None]]:
        """Install the handlers and the wake-up pipe; yields `wait(reload)`.

        The block is the daemon's life, shutdown included (a signal then is recorded and
        harmless).  When it ends, the process is on its way out: the stop signals are
        ignored from then on (`ignore_stop_signals`) *before* the pipe is closed, so no
        handler is left that could write to a pipe being closed, or full."""
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_read, False)
        os.set_blocking(wake_write, False)
        previous_wakeup = signal.set_wakeup_fd(wake_write, warn_on_full_buffer=False)
        self._wake_fd = wake_write
        self._install()
        try:
            yield lambda reload: self._wait(wake_read, reload)
        finally:
            self._wake_fd = None
            ignore_stop_signals()
            # A C-level handler already running on another thread when SIG_IGN went in
            # may still write its byte: a moment for it to finish before the pipe goes.
            time.sleep(_HANDLER_SETTLE_S)
            signal.set_wakeup_fd(previous_wakeup, warn_on_full_buffer=False)
            os.close(wake_read)
            os.close(wake_write)

    def _wait(self, wake_read: int, reload: Callable[[], object]) -> None:
        """Wait for signals; reload on request; return when asked to stop.

        Bounded per turn by the select timeout, and as a whole by the stop request: a
        storm of SIGHUPs costs one reload per turn, never a queue of them."""
        while self.stop_signal is None:
            if self.reload_requested:
                self.reload_requested = False
                try:
                    reload()
                except Exception:  # the daemon keeps running on the rules it had
                    log.exception("reload_crashed")
                continue
            select.select([wake_read], [], [], 1.0)
            with contextlib.suppress(BlockingIOError):  # raised once the pipe is drained
                while os.read(wake_read, 4096):
                    pass


def ignore_stop_signals() -> None:
    """Stopped: what is left is close() and the interpreter's exit, which puts the
    default handlers back in place of Python ones; a late signal of a burst would then
    turn this clean exit into death by SIGTERM or SIGHUP.  Ignoring them is process-wide
    (a mask would hold only in this thread) and survives the exit.

    A signal whose C-level handler ran just before the switch is still pending for its old
    Python handler; CPython then finds SIG_IGN in its place and reports the dropped signal
    through `sys.unraisablehook` ("Signal N ignored due to race condition": not raised, so
    no `except` sees it) as a traceback on stderr.  Dropping that signal is what we asked
    for, so that one report is filtered out; every other unraisable error still prints."""
    sys.unraisablehook = _without_race_reports(sys.unraisablehook)
    for number in (*_STOP_SIGNALS, signal.SIGHUP):
        signal.signal(number, signal.SIG_IGN)


def _is_race_report(unraisable: Any) -> bool:
    error = unraisable.exc_value
    return isinstance(error, OSError) and str(error).endswith("ignored due to race condition")


def _without_race_reports(hook: Callable[[Any], object]) -> Callable[[Any], object]:
    """`hook` minus the race reports; wrapping a hook already filtered returns it as is."""
    if getattr(hook, "drops_signal_races", False):
        return hook

    def filtered(unraisable: Any) -> None:
        if not _is_race_report(unraisable):
            hook(unraisable)

    filtered.drops_signal_races = True  # type: ignore[attr-defined]
    return filtered
