"""A real Request Tracker 5 for the tests: Debian's packages, a database of its own.

`RTServer` copies the SQLite database Debian's `rt5-db-sqlite` set up into a temporary
directory, points a site config of its own at it (`RT_SITE_CONFIG`, `RT_SITE_CONFIG_DIR`:
the system's RT is left alone), loads `rt/initialdata` (the daemon's user with the least
rights of docs/rt.md, an agent, customers' rights, the tags custom field, an admin for the
tests and an auth token) with `rt-setup-database`, and serves REST 2.0 with `rt-server`
on a free loopback port.  RT's outgoing mail goes to a capture script, one file a message,
so a test can read who was mailed.  `.ci/run` installs the packages; `missing()` says
what is absent, for a clear skip (locally) or failure (CI).
"""

from __future__ import annotations

import email
import email.policy
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from email.message import EmailMessage
from pathlib import Path

import requests

RT_SERVER = Path("/usr/share/request-tracker5/libexec/rt-server")
SETUP_DATABASE = Path("/usr/sbin/rt-setup-database-5")
DEBIAN_DATABASE = Path("/var/lib/dbconfig-common/sqlite3/request-tracker5/rtdb")
INITIALDATA = Path(__file__).with_name("rt") / "initialdata"
START_DEADLINE = 120.0  # seconds; RT starts in about 8 s on an idle 2-core machine
ADMIN = "sentinel-admin"

_SITE_CONFIG = """\
Set($rtname, 'sentinel-test');
Set($Organization, 'sentinel.test');
Set($CorrespondAddress, 'support@sentinel.test');
Set($CommentAddress, 'support-comment@sentinel.test');
Set($WebPath, '');
Set($WebDomain, '127.0.0.1');
Set($WebPort, {port});
Set($WebBaseURL, 'http://127.0.0.1:{port}');
Set($DatabaseType, 'SQLite');
Set($DatabaseName, '{database}');
Set($MailCommand, 'sendmailpipe');
Set($SendmailPath, '{capture}');
Set($SendmailArguments, '');
Set($LogToSyslog, undef);
Set($LogToSTDERR, 'error');
Set($Timezone, 'UTC');
# Every REST request checks a password or token hash: RT's default cost (12) makes that
# about a second a request on a busy test machine.  Production keeps RT's default.
Set($BcryptCost, 4);
1;
"""


_WATCHDOG = """\
"$2" --port "$3" --host 127.0.0.1 --max-workers 3 &
server=$!
while kill -0 "$1" 2>/dev/null && kill -0 "$server" 2>/dev/null; do sleep 1; done
kill -TERM "$server" 2>/dev/null
wait
"""


def missing() -> str | None:
    """Why a real RT cannot run here, or None when it can."""
    for path, package in ((RT_SERVER, "request-tracker5 rt5-standalone"),
                          (SETUP_DATABASE, "request-tracker5"),
                          (DEBIAN_DATABASE, "rt5-db-sqlite")):
        if not path.exists():
            return f"Request Tracker is not installed ({path} missing; apt-get install {package})"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RTServer:
    """One running RT on loopback, with its own database, users and mail capture."""

    def __init__(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="sentinel-rt-"))
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.password = f"pw-{uuid.uuid4().hex}"  # of every user the tests create
        self.mail_dir = self.workdir / "mail"
        self.token = ""
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> RTServer:
        database = self.workdir / "rtdb"
        shutil.copyfile(DEBIAN_DATABASE, database)
        self.mail_dir.mkdir()
        capture = self.workdir / "capture-mail"
        capture.write_text(f'#!/bin/sh\ncat > "{self.mail_dir}/$(date +%s%N)-$$.eml"\n')
        capture.chmod(0o755)
        (self.workdir / "conf.d").mkdir()
        site = self.workdir / "RT_SiteConfig.pm"
        site.write_text(_SITE_CONFIG.format(port=self.port, database=database, capture=capture))
        env = {**os.environ, "RT_SITE_CONFIG": str(site),
               "RT_SITE_CONFIG_DIR": str(self.workdir / "conf.d"),
               "SENTINEL_RT_PASSWORD": self.password,
               "SENTINEL_RT_TOKEN_FILE": str(self.workdir / "token")}
        subprocess.run([str(SETUP_DATABASE), "--action", "insert", "--skip-create",
                        "--datafile", str(INITIALDATA)], env=env, check=True,
                       capture_output=True, timeout=120)
        self.token = (self.workdir / "token").read_text().strip()
        log = (self.workdir / "server.log").open("wb")
        # A group of its own (stopped as one), watched by a shell that stops the server
        # when this process is gone, so a killed test run leaves no RT behind.
        self._process = subprocess.Popen(
            ["sh", "-c", _WATCHDOG, "rt-watchdog", str(os.getpid()), str(RT_SERVER),
             str(self.port)], env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + START_DEADLINE
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"rt-server exited early; see {self.workdir}/server.log")
            try:
                if requests.get(f"{self.url}/REST/2.0/rt", auth=(ADMIN, self.password),
                                timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"rt-server did not answer within {START_DEADLINE:.0f}s")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)  # the server and its workers
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait(timeout=5)
        self._process = None
        shutil.rmtree(self.workdir, ignore_errors=True)

    def mails(self) -> list[EmailMessage]:
        """Every message RT sent so far, oldest first."""
        found: list[EmailMessage] = []
        for path in sorted(self.mail_dir.glob("*.eml")):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            found.append(message)
        return found
