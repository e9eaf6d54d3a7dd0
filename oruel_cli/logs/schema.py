"""The log's schema, versioned with PRAGMA user_version.

MIGRATIONS[i] takes a database from version i to i + 1; version 1 is the first
release's schema. A new release appends a migration and never edits an old one,
so any log ever written opens in any later oruel. A log newer than this oruel
knows is left untouched (LogUnavailable: upgrade oruel to use it).

Times are Unix seconds (UTC, REAL); JSON columns hold what the column name says.
The model file is identified by its size and the SHA-256 of its first 64 KiB
(the start of the GGUF header: name, architecture, quantization), which stays
the same when the file is copied or touched, unlike its mtime.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from functools import lru_cache

_V1 = """
CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    name TEXT UNIQUE,
    created REAL NOT NULL
);
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started REAL NOT NULL,
    ended REAL NOT NULL,
    status TEXT NOT NULL,           -- completed | failed (some lines) | interrupted
    input_path TEXT NOT NULL,
    input_sha256 TEXT,
    output_path TEXT,               -- NULL: stdout
    model_name TEXT,
    model_path TEXT,
    model_size INTEGER,
    model_head_sha256 TEXT,
    params TEXT NOT NULL,           -- JSON: name -> {"value", "source"}, the job-wide layers
    parallel INTEGER,
    total INTEGER, ok INTEGER, failed INTEGER, skipped INTEGER,
    prompt_tokens INTEGER, completion_tokens INTEGER
);
CREATE TABLE replies (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time REAL NOT NULL,             -- when the reply finished
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    command TEXT NOT NULL,          -- ask, chat, run, serve
    job_id INTEGER REFERENCES jobs(id),
    completion_id TEXT,             -- the chat.completion id
    model_name TEXT,
    model_path TEXT,
    model_size INTEGER,
    model_head_sha256 TEXT,
    system TEXT,                    -- the system prompt given (NULL: the template's own)
    messages TEXT NOT NULL,         -- JSON: the messages sent, earlier turns included
    prompt TEXT NOT NULL,           -- the last user message, as text (searched)
    reply TEXT,                     -- the reply's text (searched)
    tool_calls TEXT,                -- JSON: OpenAI's tool_calls, or NULL
    finish_reason TEXT,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    first_token_seconds REAL,
    total_seconds REAL,
    params TEXT NOT NULL            -- JSON: name -> {"value", "source"}, every parameter
);
CREATE INDEX replies_by_conversation ON replies(conversation_id, id);
CREATE INDEX replies_by_time ON replies(time);
CREATE INDEX jobs_by_time ON jobs(started);
"""

# Full-text index over prompts and replies, kept by triggers (replies are never
# updated, only inserted and deleted). Porter stemming: "foxes" finds "fox".
_V1_FTS = """
CREATE VIRTUAL TABLE replies_fts USING fts5(
    prompt, reply, content='replies', content_rowid='id', tokenize='porter unicode61'
);
CREATE TRIGGER replies_fts_insert AFTER INSERT ON replies BEGIN
    INSERT INTO replies_fts(rowid, prompt, reply) VALUES (new.id, new.prompt, new.reply);
END;
CREATE TRIGGER replies_fts_delete AFTER DELETE ON replies BEGIN
    INSERT INTO replies_fts(replies_fts, rowid, prompt, reply)
    VALUES ('delete', old.id, old.prompt, old.reply);
END;
"""


def _v1(conn: sqlite3.Connection) -> None:
    _script(conn, _V1)
    if fts5_available():
        _script(conn, _V1_FTS)


def _v2(conn: sqlite3.Connection) -> None:
    """A reply's thinking, split from its text where the model marks it."""
    conn.execute("ALTER TABLE replies ADD COLUMN reasoning TEXT")  # NULL: none


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_v1, _v2]
VERSION = len(MIGRATIONS)


class NewerSchema(sqlite3.DatabaseError):
    """The log was written by a newer oruel; it is left as it is."""


def migrate(conn: sqlite3.Connection) -> None:
    """Bring the schema to VERSION. Cheap when current (one PRAGMA read); a new
    file is switched to WAL first. Concurrent openers serialize on BEGIN IMMEDIATE
    and re-read the version inside, so each migration runs once."""
    version = _version(conn)
    if version == VERSION:
        return
    if version > VERSION:
        raise NewerSchema(
            f"written by a newer oruel (schema {version}; this one knows {VERSION}): left untouched"
        )
    if version == 0:
        conn.execute("PRAGMA journal_mode = WAL")  # persistent; needs no transaction
    conn.execute("BEGIN IMMEDIATE")
    try:
        for step in MIGRATIONS[_version(conn) :]:
            step(conn)
        conn.execute(f"PRAGMA user_version = {VERSION}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def has_fts(conn: sqlite3.Connection) -> bool:
    """Whether this log has its full-text index (absent when made by an SQLite without FTS5)."""
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'replies_fts'"
    ).fetchone()
    return row is not None and fts5_available()


@lru_cache(maxsize=1)
def fts5_available() -> bool:
    """Whether the SQLite linked into this Python has FTS5 (most builds do)."""
    try:
        sqlite3.connect(":memory:").execute("CREATE VIRTUAL TABLE t USING fts5(x)")
    except sqlite3.Error:
        return False
    return True


def _version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _script(conn: sqlite3.Connection, sql: str) -> None:
    """Statements one by one: executescript() would COMMIT the open transaction."""
    for stmt in _statements(sql):
        conn.execute(stmt)


def _statements(sql: str) -> list[str]:
    """Split on ';' at the end of a statement (trigger bodies hold ';' inside BEGIN..END)."""
    out, buf = [], ""
    for line in sql.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                out.append(buf.strip())
            buf = ""
    return out
