"""Opening the reply log (`logs.db` in the user data folder) so that it never costs a reply.

- WAL journal and a busy timeout, with one short transaction per write: several
  oruel processes (and threads) can write at once and no row is lost.
- Every failure the log can meet (locked, read-only, unreadable, a schema from a
  newer oruel) becomes `LogUnavailable` with a one-line reason; the commands
  turn it into one warning and go on.
- A file SQLite reports as corrupt is renamed aside (`logs.db.corrupt-<UTC time>`,
  with its -wal and -shm files) and never written over; a new log is started
  and a notice says where the old one is.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from .schema import NewerSchema, migrate

DB_NAME = "logs.db"
BUSY_TIMEOUT_S = 3.0  # a write takes milliseconds; a lock held longer than this is not ours

# Why synchronous = OFF: a reply's row is handed to the OS, never waited for on disk.
# Each oruel process opens the log, writes one row and closes it; with NORMAL that
# costs three fsyncs (the new WAL's header, then the checkpoint SQLite runs when the
# last connection closes: the WAL and the database), 15-40 ms on a shared VM disk,
# more than the log may add to a one-second ask (2%); with OFF the write takes ~1.5 ms.
# A row survives any crash of oruel (kill -9 included) and is visible to other
# processes at once; only an OS crash or power loss within the kernel's writeback
# delay can lose the last rows or damage the file, which is then kept aside as
# any corrupt log is (below). Python 3.12's Connection.setconfig could skip the
# checkpoint on close instead; 3.10 and 3.11 cannot.
SYNCHRONOUS = "OFF"

_CORRUPT_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB
_CORRUPT_WORDS = ("not a database", "malformed", "corrupt")
_T = TypeVar("_T")


class LogUnavailable(Exception):
    """The log cannot be used right now; str() is the one-line reason."""


def db_path() -> Path:
    from ..config import data_dir

    return data_dir() / DB_NAME


def describe(e: BaseException, path: Path) -> str:
    """A sqlite3 or OS error as a short reason a user can act on."""
    code = (getattr(e, "sqlite_errorcode", None) or 0) & 0xFF
    text = str(e).lower()
    if isinstance(e, NewerSchema):
        why = str(e)
    elif code in (5, 6) or "locked" in text or "busy" in text:
        why = "locked by another process"
    elif code == 8 or "readonly" in text or "read-only" in text:
        why = "read-only"
    elif code == 13 or "disk is full" in text:
        why = "on a full disk"
    elif code == 14 or "unable to open" in text:
        why = "not writable here (cannot open it)"
    else:
        why = f"unusable ({e})"
    return f"the reply log {path} is {why}"


def is_corrupt(e: BaseException) -> bool:
    """Whether SQLite says the file is not a (sound) database. The code is read
    where this Python gives it (3.11+), else the message."""
    if not isinstance(e, sqlite3.DatabaseError) or isinstance(e, NewerSchema):
        return False
    code = getattr(e, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _CORRUPT_CODES
    return any(w in str(e).lower() for w in _CORRUPT_WORDS)


def _inode(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino


class LogStore:
    """One log file. `run(fn)` opens a connection, calls `fn(conn)` and closes it,
    handling corruption once: the file is moved aside and `fn` runs on a new one."""

    def __init__(self, path: Path | None = None, notice: Callable[[str], None] | None = None):
        self.path = path or db_path()
        self.notice = notice or _stderr_notice

    def exists(self) -> bool:
        return self.path.exists()

    def run(self, fn: Callable[[sqlite3.Connection], _T], create: bool = True) -> _T | None:
        """`fn` on a migrated connection; None when the log does not exist and not `create`.
        Raises LogUnavailable for anything but corruption (handled here)."""
        for attempt in (1, 2):
            seen = _inode(self.path)
            if seen is None and not create:
                return None
            try:
                with self._connect(create) as conn:
                    return fn(conn)  # its own OSErrors (a closed stdout) are not the log's
            except sqlite3.Error as e:
                if attempt == 1 and is_corrupt(e) and self._move_aside(seen):
                    continue
                raise LogUnavailable(describe(e, self.path)) from None
        raise AssertionError("unreachable")

    @contextmanager
    def _connect(self, create: bool) -> Iterator[sqlite3.Connection]:
        if create:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise LogUnavailable(describe(e, self.path)) from None
        mode = "rwc" if create else "rw"
        uri = f"file:{_uri_path(self.path)}?mode={mode}"
        # isolation_level=None: no implicit transactions; writers say BEGIN IMMEDIATE.
        conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA synchronous = {SYNCHRONOUS}")
            migrate(conn)
            yield conn
        finally:
            conn.close()

    def _move_aside(self, seen: tuple[int, int] | None) -> bool:
        """Rename a corrupt log (and its -wal, -shm) aside; False when it cannot be, or
        when another process already did (the file at the path is no longer the one seen)."""
        if seen is None:
            return False
        if _inode(self.path) != seen:
            return True  # another process moved it aside already: retry on the new file
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        n = 1
        while aside.exists():
            n += 1
            aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{n}")
        try:
            os.rename(self.path, aside)
        except OSError:
            return False
        for suffix in ("-wal", "-shm"):  # SQLite's names beside the kept copy, so it still opens
            side = Path(f"{self.path}{suffix}")
            if side.exists():
                try:
                    os.rename(side, Path(f"{aside}{suffix}"))
                except OSError:
                    pass
        self.notice(f"the reply log {self.path} was corrupt: kept as {aside}; the log starts anew")
        return True


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT: the write lock is taken up front (waiting up to
    the busy timeout), so two writers never deadlock upgrading a read lock."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # the error that brought us here is the one to report
        raise
    conn.execute("COMMIT")


def _uri_path(path: Path) -> str:
    """A file path as the path part of an SQLite URI (% ? # would end or escape it)."""
    from urllib.parse import quote

    return quote(str(path.absolute()), safe="/:")


def _stderr_notice(text: str) -> None:
    from rich.markup import escape

    from ..render import err_console

    # One line, whatever the width; a path's brackets are text, not markup.
    err_console().print(f"[yellow]notice:[/] {escape(text)}", highlight=False, soft_wrap=True)
