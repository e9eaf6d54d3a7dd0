"""What `oruel logs`, `logs show` and `logs export` print.

Markdown on stdout (rendered by rich on a terminal, the text itself when
piped), or JSON. With no log yet there is nothing to print: no output (`[]`
with --json), exit 0.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ..errors import RuntimeFailure, UsageError
from . import markdown
from .jobs import job_object
from .query import Filters, get, reply_object, select
from .store import LogStore, LogUnavailable

EXPORT_FORMATS = ("jsonl", "md")


def read(fn: Any, store: LogStore | None = None) -> Any:
    """Run a reading `fn(conn)`; None when there is no log yet. An unreadable log is
    exit 1; a reader that closed stdout (`| head`) ends it quietly."""
    store = store or LogStore()
    try:
        return store.run(fn, create=False)
    except LogUnavailable as e:
        raise RuntimeFailure(str(e)) from None
    except BrokenPipeError:
        _stdout_closed()


def _stdout_closed() -> None:
    """Python's advice: point stdout at /dev/null so the flush at exit cannot fail again."""
    import os
    import sys

    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(0)


def list_replies(f: Filters, count: int, as_json: bool, usage: bool) -> None:
    """The latest `count` matching replies (0: all), newest first."""
    if count < 0:
        raise UsageError(f"invalid -n {count} (allowed: 0 for all, or a positive number)")
    store = LogStore()

    def fetch(conn: sqlite3.Connection) -> list[dict[str, Any]]:
        return [reply_object(r) for r in select(conn, f, count, notice=store.notice)]

    found = read(fetch, store)  # None: no log yet, so nothing to say
    objs = found or []
    if as_json:
        emit(json.dumps(objs, ensure_ascii=False, indent=2))
    elif objs:
        emit_markdown("\n".join(markdown.brief(o, usage) for o in objs))
    elif found is not None and f.given():  # a search that found nothing says so
        import sys

        print(f"no reply matches {f.given()} (`oruel logs` lists the latest)", file=sys.stderr)


def list_jobs(f: Filters, count: int, as_json: bool) -> None:
    """The latest `count` batch jobs (0: all), newest first."""
    if f.query or f.cid:
        raise UsageError("-q and --cid select replies, not jobs: leave them out with --jobs")
    if count < 0:
        raise UsageError(f"invalid -n {count} (allowed: 0 for all, or a positive number)")

    def fetch(conn: sqlite3.Connection) -> list[dict[str, Any]]:
        parts, args = [], []
        if f.model:
            parts.append("(lower(model_name) LIKE ? OR model_path = ?)")
            args += [f"%{f.model.lower()}%", f.model]
        if f.since is not None:
            parts.append("ended >= ?")
            args.append(f.since)
        if f.until is not None:
            parts.append("started <= ?")
            args.append(f.until)
        sql = "SELECT * FROM jobs" + (" WHERE " + " AND ".join(parts) if parts else "")
        sql += " ORDER BY id DESC" + (" LIMIT ?" if count else "")
        return [job_object(r) for r in conn.execute(sql, [*args, *([count] if count else [])])]

    jobs = read(fetch) or []
    if as_json:
        emit(json.dumps(jobs, ensure_ascii=False, indent=2))
        return
    from .query import local_time_iso

    lines = []
    for j in jobs:
        c = j["counts"]
        out = j["output"] or "stdout"
        lines.append(
            f"job {j['id']}  {local_time_iso(j['started'])}  {j['status']}  "
            f"{c['ok']} ok, {c['failed']} failed, {c['skipped']} skipped  "
            f"{j['input']['path']} -> {out}  {j['model']['name']}"
        )
    if lines:
        emit("\n".join(lines))


def show_reply(reply_id: str) -> None:
    """One exchange whole, with its parameters and their sources."""
    n = parse_id(reply_id)
    obj = read(lambda conn: _one(conn, n))
    if obj is None:
        raise UsageError(f"no reply {n} in the log (`oruel logs` lists them)")
    emit_markdown(markdown.full(obj))


def export(f: Filters, fmt: str) -> None:
    """Every matching reply, oldest first, as JSON lines or Markdown, streamed."""
    if fmt not in EXPORT_FORMATS:
        raise UsageError(f"invalid --format {fmt!r} (allowed: jsonl or md)")
    store = LogStore()

    def dump(conn: sqlite3.Connection) -> None:
        for row in select(conn, f, newest_first=False, notice=store.notice):
            obj = reply_object(row)
            if fmt == "jsonl":
                print(json.dumps(obj, ensure_ascii=False))
            else:
                print(markdown.full(obj))

    read(dump, store)


def parse_id(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise UsageError(
            f"invalid log ID {text!r} (allowed: a reply's number, as `oruel logs` lists it)"
        )
    return n


def emit_markdown(text: str) -> None:
    from ..render import markdown as rich_markdown
    from ..render import out_console, rich_stdout

    if rich_stdout():
        out_console().print(rich_markdown(text))
    else:
        emit(text)


def emit(text: str) -> None:
    """Print a whole answer on stdout; a closed pipe ends the command quietly."""
    try:
        print(text, end="" if text.endswith("\n") else "\n", flush=True)
    except BrokenPipeError:
        _stdout_closed()


def _one(conn: sqlite3.Connection, n: int) -> dict[str, Any] | None:
    row = get(conn, n)
    return reply_object(row) if row is not None else None
