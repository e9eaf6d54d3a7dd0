"""`oruel logs rm`: remove what is named, and only that, then VACUUM.

One selector: a reply ID, `--cid` (a conversation), `--before T` (replies and
jobs that ended before T) or `--all`. The user is asked first unless --yes;
with no terminal to ask on, it refuses (exit 2). After deleting, the index is
merged, the file VACUUMed and the WAL truncated, so the removed text is no
longer in the database's files.
"""

from __future__ import annotations

import sqlite3
import sys
from dataclasses import dataclass

from ..errors import UsageError
from .listing import parse_id, read
from .schema import has_fts
from .store import LogStore, LogUnavailable, write_transaction


@dataclass
class Selection:
    where: str  # over replies r (joined with conversations c)
    args: tuple[object, ...]
    jobs_where: str | None  # over jobs, or None: no job is named
    label: str


def selection(
    reply_id: str | None, cid: str | None, before: float | None, everything: bool
) -> Selection:
    given = [reply_id is not None, cid is not None, before is not None, everything]
    if sum(given) != 1:
        raise UsageError("name what to remove: one of ID, --cid ID, --before T or --all")
    if reply_id is not None:
        n = parse_id(reply_id)
        return Selection("r.id = ?", (n,), None, f"reply {n}")
    if cid is not None:
        return Selection("(c.id = ? OR c.name = ?)", (cid, cid), None, f"conversation {cid}")
    if before is not None:
        return Selection("r.time < ?", (before,), "ended < ?", "everything before that time")
    return Selection("1", (), "1", "everything")


def remove(sel: Selection, yes: bool) -> None:
    store = LogStore()
    counts = read(lambda conn: _count(conn, sel), store)
    replies, convs, jobs = counts or (0, 0, 0)
    if not replies and not jobs:
        if sel.jobs_where is None:  # an ID or a conversation that is not there: a bad name
            raise UsageError(f"no {sel.label} in the log (`oruel logs` lists them)")
        print("nothing to remove", file=sys.stderr)
        return
    what = f"{replies} repl{'y' if replies == 1 else 'ies'} ({convs} conversation(s))"
    if jobs:
        what += f" and {jobs} job(s)"
    if not yes:
        if not sys.stdin or not sys.stdin.isatty():
            raise UsageError(f"logs rm would remove {what}: pass --yes to remove without asking")
        import typer

        if not typer.confirm(f"Remove {what} from the log?", default=False, err=True):
            print("nothing removed", file=sys.stderr)
            return
    try:
        done = store.run(lambda conn: _delete(conn, sel), create=False) or (0, 0)
    except LogUnavailable as e:
        from ..errors import RuntimeFailure

        raise RuntimeFailure(f"{e}; nothing removed") from None
    gone = f"removed {done[0]} repl{'y' if done[0] == 1 else 'ies'}"
    print(gone + (f" and {done[1]} job(s)" if done[1] else ""), file=sys.stderr)


def _count(conn: sqlite3.Connection, sel: Selection) -> tuple[int, int, int]:
    row = conn.execute(
        "SELECT count(*), count(DISTINCT r.conversation_id) FROM replies r "
        f"JOIN conversations c ON c.id = r.conversation_id WHERE {sel.where}",
        sel.args,
    ).fetchone()
    jobs = 0
    if sel.jobs_where is not None:
        jobs = conn.execute(
            f"SELECT count(*) FROM jobs WHERE {sel.jobs_where}", sel.args
        ).fetchone()[0]
    return int(row[0]), int(row[1]), int(jobs)


def _delete(conn: sqlite3.Connection, sel: Selection) -> tuple[int, int]:
    with write_transaction(conn):
        cur = conn.execute(
            "DELETE FROM replies WHERE id IN (SELECT r.id FROM replies r "
            f"JOIN conversations c ON c.id = r.conversation_id WHERE {sel.where})",
            sel.args,
        )
        removed, jobs = cur.rowcount, 0
        if sel.jobs_where is not None:
            jobs = conn.execute(f"DELETE FROM jobs WHERE {sel.jobs_where}", sel.args).rowcount
        conn.execute(
            "DELETE FROM conversations WHERE id NOT IN (SELECT conversation_id FROM replies)"
        )
    if has_fts(conn):
        conn.execute("INSERT INTO replies_fts(replies_fts) VALUES ('optimize')")
    conn.execute("VACUUM")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return removed, jobs
