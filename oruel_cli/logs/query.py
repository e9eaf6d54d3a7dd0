"""Reading replies back: the filters of `oruel logs`, and each reply as one JSON object.

-q is full-text search (FTS5) over prompts and replies: every word must be
there (stems match: "foxes" finds "fox"); the words are quoted, so no character
the user types is an FTS5 operator. Where this SQLite has no FTS5, a LIKE match
of every word does the same job, more slowly, with a notice.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .schema import has_fts

_SELECT = (
    "SELECT r.*, c.name AS conversation_name FROM replies r "
    "JOIN conversations c ON c.id = r.conversation_id"
)


@dataclass
class Filters:
    query: str | None = None
    model: str | None = None
    cid: str | None = None
    since: float | None = None
    until: float | None = None
    shown: dict[str, str] = field(default_factory=dict)  # flag -> the text given, to quote

    def given(self) -> str:
        """The filters as the user typed them ("-q 'fox', --cid 'x'"); '' for none."""
        return ", ".join(f"{flag} {text!r}" for flag, text in self.shown.items())


def where(conn: sqlite3.Connection, f: Filters, notice: Any = None) -> tuple[str, list[Any]]:
    """The WHERE clause (possibly empty) and its parameters for these filters."""
    parts: list[str] = []
    args: list[Any] = []
    if f.query and f.query.split():
        words = f.query.split()
        if has_fts(conn):
            match = " ".join('"' + w.replace('"', '""') + '"' for w in words)
            parts.append("r.id IN (SELECT rowid FROM replies_fts WHERE replies_fts MATCH ?)")
            args.append(match)
        else:
            if notice:
                notice("this SQLite has no full-text search (FTS5): matching words with LIKE")
            for w in words:
                pat = "%" + w.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                parts.append("(r.prompt LIKE ? ESCAPE '\\' OR r.reply LIKE ? ESCAPE '\\')")
                args += [pat, pat]
    if f.model:
        paths = _model_paths(f.model)
        cond = "lower(r.model_name) LIKE ?"
        args.append(f"%{f.model.lower()}%")
        if paths:
            cond += f" OR r.model_path IN ({','.join('?' * len(paths))})"
            args += paths
        parts.append(f"({cond})")
    if f.cid:
        parts.append("(r.conversation_id = ? OR c.name = ?)")
        args += [f.cid, f.cid]
    if f.since is not None:
        parts.append("r.time >= ?")
        args.append(f.since)
    if f.until is not None:
        parts.append("r.time <= ?")
        args.append(f.until)
    return (" WHERE " + " AND ".join(parts) if parts else ""), args


def select(
    conn: sqlite3.Connection,
    f: Filters,
    limit: int | None = None,
    newest_first: bool = True,
    notice: Any = None,
) -> Iterator[sqlite3.Row]:
    """Matching replies, newest first unless told; `limit` None or 0 is all of them."""
    clause, args = where(conn, f, notice)
    sql = f"{_SELECT}{clause} ORDER BY r.id {'DESC' if newest_first else 'ASC'}"
    if limit:
        sql += " LIMIT ?"
        args.append(limit)
    return conn.execute(sql, args)


def get(conn: sqlite3.Connection, reply_id: int) -> sqlite3.Row | None:
    return conn.execute(f"{_SELECT} WHERE r.id = ?", (reply_id,)).fetchone()


def reply_object(row: sqlite3.Row) -> dict[str, Any]:
    """One reply as `--json` and `export --format jsonl` give it."""
    prompt, completion = row["prompt_tokens"], row["completion_tokens"]
    return {
        "id": row["id"],
        "time": iso_time(row["time"]),
        "conversation_id": row["conversation_id"],
        "conversation_name": row["conversation_name"],
        "command": row["command"],
        "job_id": row["job_id"],
        "completion_id": row["completion_id"],
        "model": {
            "name": row["model_name"],
            "path": row["model_path"],
            "size": row["model_size"],
            "head_sha256": row["model_head_sha256"],
        },
        "system": row["system"],
        "messages": json.loads(row["messages"]),
        "reply": row["reply"],
        "reasoning_content": row["reasoning"],
        "tool_calls": json.loads(row["tool_calls"]) if row["tool_calls"] else None,
        "finish_reason": row["finish_reason"],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": (prompt or 0) + (completion or 0),
        },
        "first_token_seconds": row["first_token_seconds"],
        "total_seconds": row["total_seconds"],
        "params": json.loads(row["params"]),
    }


def iso_time(ts: float) -> str:
    """UTC, to the millisecond: 2025-05-01T12:30:05.123+00:00."""
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds")


def local_time(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def local_time_iso(iso: str) -> str:
    """An iso_time() string shown in local time, to the second."""
    return local_time(datetime.fromisoformat(iso).timestamp())


def _model_paths(spec: str) -> list[str]:
    """The file -m names, as --model resolves it (`default`, an alias, a name), if any."""
    from ..config import load_config
    from ..errors import OruelError
    from ..models.resolve import resolve_model

    try:
        return [str(resolve_model(spec, load_config()))]
    except OruelError:
        return []
