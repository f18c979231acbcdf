"""A small sd_notify(3) of our own: tell systemd we are ready, reloading, alive, stopping.

Under `Type=notify` systemd hands the service a unix datagram socket in `$NOTIFY_SOCKET`
(a path, or an abstract name written with a leading `@`) and waits for `READY=1` before it
calls the start done.  `WATCHDOG=1` must then arrive at least every `WatchdogSec=`; we are
asked to ping every half of `$WATCHDOG_USEC`, and only when `$WATCHDOG_PID` is unset or ours.
Outside systemd (a terminal, the tests, `make run`) `NOTIFY_SOCKET` is unset and every call
is a cheap no-op, so the service code can call these unconditionally.  A notification is
best effort: a vanished socket never takes the daemon down, it only returns False.

The libsystemd bindings need a C toolchain and libsystemd-dev to build, and the `sdnotify`
package has been unmaintained since 2017; the protocol is one datagram, so we keep it here.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping

#: A STATUS= line longer than this is truncated: systemctl shows one line, and the
#: datagram must stay far below the socket's maximum message size.
MAX_STATUS_CHARS = 200


class SystemdNotifier:
    """Sends notifications to the socket named by `environ` (default: `os.environ`)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self._address = _socket_address(env.get("NOTIFY_SOCKET", ""))
        self._watchdog_usec = env.get("WATCHDOG_USEC", "")
        self._watchdog_pid = env.get("WATCHDOG_PID", "")

    @property
    def enabled(self) -> bool:
        """True when systemd is listening (the unit is Type=notify)."""
        return self._address is not None

    def notify(self, *assignments: str) -> bool:
        """Send `KEY=value` lines in one datagram; False when nobody listens or it failed."""
        if self._address is None or not assignments:
            return False
        payload = "\n".join(assignments).encode("utf-8", "replace")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                # A datagram send does not block for long, but a wedged receiver must not
                # stall the main loop that also feeds the watchdog.
                sock.settimeout(1.0)
                sock.sendto(payload, self._address)
        except OSError:
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        """READY=1 (also ends a reload); optionally with a STATUS= line."""
        lines = ["READY=1"]
        if status is not None:
            lines.append(_status_line(status))
        return self.notify(*lines)

    def status(self, text: str) -> bool:
        """STATUS=: what `systemctl status` shows, e.g. the last poll summary."""
        return self.notify(_status_line(text))

    def reloading(self) -> bool:
        """RELOADING=1 with MONOTONIC_USEC, which newer systemd requires (notify-reload)."""
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.notify("RELOADING=1", f"MONOTONIC_USEC={usec}")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")

    def watchdog(self) -> bool:
        """WATCHDOG=1: call only while the scheduler heartbeat is fresh, never from a timer
        thread of its own (that would keep a hung daemon alive)."""
        if self.watchdog_interval() is None:
            return False
        return self.notify("WATCHDOG=1")

    def watchdog_interval(self) -> float | None:
        """Seconds between pings (half of WATCHDOG_USEC), or None when no watchdog is set
        for this process."""
        if self._address is None:
            return None
        try:
            usec = int(self._watchdog_usec)
        except ValueError:
            return None
        if usec <= 0:
            return None
        if self._watchdog_pid:
            try:
                if int(self._watchdog_pid) != os.getpid():
                    return None
            except ValueError:
                return None
        return usec / 2_000_000


def _socket_address(value: str) -> str | bytes | None:
    """The sendto() address for $NOTIFY_SOCKET: abstract names start with '@'."""
    if value.startswith("@"):
        return b"\0" + value[1:].encode()
    if value.startswith("/"):
        return value
    return None  # unset, or a vsock address we do not support


def _status_line(text: str) -> str:
    # One line: a newline would start a new (possibly meaningful) assignment.
    flat = " ".join(text.split())
    if len(flat) > MAX_STATUS_CHARS:
        flat = flat[: MAX_STATUS_CHARS - 1] + "…"
    return f"STATUS={flat}"


def _notifier() -> SystemdNotifier:
    # Read the environment on every call: it is cheap, and a test or a re-exec that
    # changes NOTIFY_SOCKET is then honoured without a stale module-level object.
    return SystemdNotifier()


def ready(status: str | None = None) -> bool:
    return _notifier().ready(status)


def status(text: str) -> bool:
    return _notifier().status(text)


def reloading() -> bool:
    return _notifier().reloading()


def stopping() -> bool:
    return _notifier().stopping()


def watchdog() -> bool:
    return _notifier().watchdog()


def watchdog_interval() -> float | None:
    return _notifier().watchdog_interval()
