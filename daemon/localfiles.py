"""The daemon's own files on disk: readable by its user only, and one daemon per database.

The state directory, the SQLite database and the Claude score cache hold customer text
(message bodies, subjects, requesters, notes).  They are created private (directory 0700,
files 0600) whatever the umask, and files left readable by an older release are tightened
on start.  SQLite creates a database's `-wal`, `-shm` and journal files with the mode of
the database file, so a private database keeps its companions private too.

SQLite supports one daemon per database file: the lock is taken on the database (a
`<file>.lock` beside its resolved path), so two daemons with different state directories
but one `database.url` are refused as surely as two on one state directory.
"""

from __future__ import annotations

import fcntl
import os
import stat
from pathlib import Path
from typing import IO

from sqlalchemy.engine import make_url

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
_COMPANIONS = ("-wal", "-shm", "-journal")


def private_dir(path: Path) -> Path:
    """Create `path` (and its parents) with the directory itself 0700; tighten it if it
    exists with group or other access and belongs to us."""
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    _tighten(path, PRIVATE_DIR)
    return path


def private_file(path: Path) -> Path:
    """Create `path` empty if missing, 0600 either way (its SQLite companions too).  A
    missing directory is created 0700; an existing one is the operator's choice."""
    if not path.parent.is_dir():
        private_dir(path.parent)
    descriptor = os.open(path, os.O_CREAT | os.O_RDWR | getattr(os, "O_CLOEXEC", 0),
                         PRIVATE_FILE)
    os.close(descriptor)
    for candidate in (path, *(path.with_name(path.name + s) for s in _COMPANIONS)):
        if candidate.exists():
            _tighten(candidate, PRIVATE_FILE)
    return path


def _tighten(path: Path, mode: int) -> None:
    info = path.stat()
    if info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(path, stat.S_IMODE(info.st_mode) & ~0o077 | mode)


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL (None for PostgreSQL and in-memory databases)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


class AlreadyLocked(Exception):
    """Another process holds the lock."""


def exclusive_lock(path: Path) -> IO[str]:
    """Hold an exclusive lock on `path` (created 0600) until the returned file is closed."""
    descriptor = os.open(path, os.O_CREAT | os.O_RDWR | getattr(os, "O_CLOEXEC", 0),
                         PRIVATE_FILE)
    handle = os.fdopen(descriptor, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise AlreadyLocked(str(path)) from None
    _tighten(path, PRIVATE_FILE)
    return handle


def database_lock_path(database: Path) -> Path:
    """One lock per database file, whatever path or symlink names it."""
    real = Path(os.path.realpath(database))
    return real.with_name(real.name + ".lock")
