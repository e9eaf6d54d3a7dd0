"""`oruel logs status`: on or off (and why), what the log holds, its size and path."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from .listing import read
from .schema import fts5_available, has_fts
from .store import LogStore


def status_lines() -> list[str]:
    from ..config import config_path, load_config

    config = load_config()
    where = config_path()
    if config.log:
        state = "on"
    else:
        state = f"off (log: false in {where}; `oruel logs on` turns it back on)"
    store = LogStore()

    def counts(conn: sqlite3.Connection) -> tuple[int, int, int, bool]:
        one = conn.execute(
            "SELECT (SELECT count(*) FROM replies), (SELECT count(*) FROM conversations), "
            "(SELECT count(*) FROM jobs)"
        ).fetchone()
        return int(one[0]), int(one[1]), int(one[2]), has_fts(conn)

    found = read(counts, store)
    if found is None:
        held = "replies: 0 (no log yet)"
        search = "full-text (FTS5)" if fts5_available() else "LIKE (this SQLite has no FTS5)"
    else:
        replies, convs, jobs, fts = found
        held = f"replies: {replies} in {convs} conversation(s); batch jobs: {jobs}"
        search = "full-text (FTS5)" if fts else "LIKE (no full-text index in this log)"
    return [
        f"log: {state}",
        held,
        f"size: {_size(store.path)}",
        f"search: {search}",
        f"path: {store.path}",
    ]


def _size(path: Path) -> str:
    total = 0
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            total += p.stat().st_size
        except OSError:
            pass
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if total < 1024 or unit == "GiB":
            return f"{total} {unit}" if unit == "bytes" else f"{total:.1f} {unit}"
        total /= 1024  # type: ignore[assignment]
    return f"{total}"
