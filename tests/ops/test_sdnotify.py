"""sd_notify against a real AF_UNIX datagram socket standing in for systemd."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon import sdnotify
from daemon.sdnotify import MAX_STATUS_CHARS, SystemdNotifier


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(5.0)
    yield str(path), sock
    sock.close()


@pytest.fixture
def abstract_socket() -> Iterator[tuple[str, socket.socket]]:
    name = f"sentinel-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(5.0)
    yield "@" + name, sock
    sock.close()


def received(sock: socket.socket) -> list[str]:
    return sock.recv(4096).decode().split("\n")


def test_ready_with_status_is_one_datagram(notify_socket: tuple[str, socket.socket]) -> None:
    path, sock = notify_socket
    notifier = SystemdNotifier({"NOTIFY_SOCKET": path})
    assert notifier.enabled
    assert notifier.ready("polling 2 sources")
    assert received(sock) == ["READY=1", "STATUS=polling 2 sources"]


def test_abstract_socket_names(abstract_socket: tuple[str, socket.socket]) -> None:
    name, sock = abstract_socket
    assert SystemdNotifier({"NOTIFY_SOCKET": name}).stopping()
    assert received(sock) == ["STOPPING=1"]


def test_reloading_carries_monotonic_usec(notify_socket: tuple[str, socket.socket]) -> None:
    path, sock = notify_socket
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert SystemdNotifier({"NOTIFY_SOCKET": path}).reloading()
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    lines = received(sock)
    assert lines[0] == "RELOADING=1"
    key, _, value = lines[1].partition("=")
    assert key == "MONOTONIC_USEC"
    assert before <= int(value) <= after


def test_status_is_one_line_and_capped(notify_socket: tuple[str, socket.socket]) -> None:
    path, sock = notify_socket
    notifier = SystemdNotifier({"NOTIFY_SOCKET": path})
    # A newline must not smuggle in a second assignment (here: a fake READY=1).
    assert notifier.status("last poll ok\nREADY=1")
    assert received(sock) == ["STATUS=last poll ok READY=1"]
    assert notifier.status("x" * 5000)
    (line,) = received(sock)
    assert len(line) == len("STATUS=") + MAX_STATUS_CHARS


def test_watchdog_interval_is_half_the_period(notify_socket: tuple[str, socket.socket]) -> None:
    path, sock = notify_socket
    env = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "60000000", "WATCHDOG_PID": str(os.getpid())}
    notifier = SystemdNotifier(env)
    assert notifier.watchdog_interval() == 30.0
    assert notifier.watchdog()
    assert received(sock) == ["WATCHDOG=1"]


@pytest.mark.parametrize("env", [
    {"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "1"},  # meant for another process
    {"WATCHDOG_USEC": "0"},
    {"WATCHDOG_USEC": "soon"},
    {},
])
def test_no_watchdog_when_not_ours(notify_socket: tuple[str, socket.socket],
                                   env: dict[str, str]) -> None:
    path, sock = notify_socket
    notifier = SystemdNotifier({"NOTIFY_SOCKET": path, **env})
    assert notifier.watchdog_interval() is None
    assert not notifier.watchdog()
    sock.settimeout(0.2)
    with pytest.raises(TimeoutError):
        sock.recv(4096)


def test_no_op_without_notify_socket() -> None:
    notifier = SystemdNotifier({"WATCHDOG_USEC": "60000000"})
    assert not notifier.enabled
    assert not notifier.ready("x")
    assert not notifier.watchdog()
    assert notifier.watchdog_interval() is None


def test_vanished_socket_is_not_an_error(tmp_path: Path) -> None:
    notifier = SystemdNotifier({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")})
    assert notifier.enabled
    assert not notifier.ready()


def test_module_functions_read_the_environment(notify_socket: tuple[str, socket.socket],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    path, sock = notify_socket
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert not sdnotify.ready()
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    monkeypatch.setenv("WATCHDOG_USEC", "10000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert sdnotify.ready("up")
    assert received(sock) == ["READY=1", "STATUS=up"]
    assert sdnotify.watchdog_interval() == 5.0
    assert sdnotify.watchdog()
    assert received(sock) == ["WATCHDOG=1"]
    assert sdnotify.status("s") and received(sock) == ["STATUS=s"]
    assert sdnotify.reloading() and received(sock)[0] == "RELOADING=1"
    assert sdnotify.stopping() and received(sock) == ["STOPPING=1"]
