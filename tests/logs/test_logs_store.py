"""The reply log's SQLite file, without a model: schema and migrations, search,
the failures that must never cost a reply (locked, read-only, corrupt), and
concurrent writers."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import threading
from pathlib import Path

import pytest
from support.log_rows import count, insert, make_row

import oruel_cli.logs.store as store_mod
from oruel_cli.logs import schema
from oruel_cli.logs.query import Filters, select
from oruel_cli.logs.store import LogStore, LogUnavailable
from oruel_cli.logs.writer import ReplyLog


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "data" / "logs.db"


def test_the_log_lives_in_the_data_folder(isolated_env):
    assert LogStore().path == isolated_env / "xdg-data" / "oruel" / "logs.db"


def test_new_log_is_wal_at_the_latest_schema(db):
    insert(make_row(), LogStore(db))
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.VERSION >= 1
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert {"replies", "conversations", "jobs", "replies_fts"} <= tables


def test_migrations_run_once_and_in_order(db, monkeypatch):
    ran: list[int] = []
    new = len(schema.MIGRATIONS)
    steps = [*schema.MIGRATIONS, lambda conn: ran.append(new)]
    monkeypatch.setattr(schema, "MIGRATIONS", steps)
    monkeypatch.setattr(schema, "VERSION", len(steps))
    insert(make_row(), LogStore(db))
    insert(make_row(), LogStore(db))
    assert ran == [new]
    assert sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0] == len(steps)


def test_a_first_release_log_gains_the_reasoning_column_and_keeps_its_rows(db):
    db.parent.mkdir(parents=True)
    conn = sqlite3.connect(db)
    schema.MIGRATIONS[0](conn)  # the schema the first release wrote
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    first = make_row()
    insert(first, LogStore(db))
    second = make_row()
    second.reasoning = "Two and two make four."
    insert(second, LogStore(db))
    rows = sqlite3.connect(db).execute("SELECT reasoning FROM replies ORDER BY id").fetchall()
    assert rows == [(None,), ("Two and two make four.",)]


def test_a_log_from_a_newer_oruel_is_left_alone(db):
    insert(make_row(), LogStore(db))
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {schema.VERSION + 1}")
    conn.close()
    before = db.read_bytes()
    with pytest.raises(LogUnavailable, match="newer oruel"):
        LogStore(db).run(lambda c: None)
    assert db.read_bytes() == before


def test_reader_does_not_create_the_log(db):
    assert LogStore(db).run(lambda c: 1, create=False) is None
    assert not db.exists()


# --- search ---------------------------------------------------------------------------


def _ids(db: Path, f: Filters) -> list[int]:
    return LogStore(db).run(lambda c: [r["id"] for r in select(c, f)], create=False) or []


def test_full_text_search_finds_a_word_of_a_reply_or_prompt(db):
    store = LogStore(db)
    fox = insert(make_row("Tell me about foxes.", "Foxes hunt at night."), store)
    owl = insert(make_row("And owls?", "Owls are birds of prey."), store)
    assert _ids(db, Filters(query="hunt")) == [fox]
    assert _ids(db, Filters(query="fox")) == [fox]  # stemmed: foxes
    assert _ids(db, Filters(query="owls prey")) == [owl]  # every word
    assert _ids(db, Filters(query="owls night")) == []
    assert _ids(db, Filters(query='" OR * ( NEAR -')) == []  # operators are just text


def test_search_without_fts5_falls_back_to_like_with_a_notice(db, monkeypatch):
    monkeypatch.setattr(schema, "fts5_available", lambda: False)
    store = LogStore(db)
    fox = insert(make_row("Tell me about foxes.", "Foxes hunt at 100% speed."), store)
    notices: list[str] = []
    found = store.run(
        lambda c: [r["id"] for r in select(c, Filters(query="HUNT 100%"), notice=notices.append)]
    )
    assert found == [fox]
    assert notices and "LIKE" in notices[0]
    assert store.run(lambda c: [r["id"] for r in select(c, Filters(query="_unt"))]) == []


def test_filters_by_model_conversation_and_time(db):
    from oruel_cli.logs.record import ModelId

    store = LogStore(db)
    other = ModelId("big-model", "/models/big-model.gguf", 99, None)
    a = insert(make_row(when=1000.0, conversation_id="aaa"), store)
    b = insert(make_row(when=2000.0, conversation_id="aaa", model=other), store)
    c = insert(make_row(when=3000.0, conversation_id="bbb"), store)
    assert _ids(db, Filters()) == [c, b, a]  # newest first
    assert _ids(db, Filters(model="BIG")) == [b]
    assert _ids(db, Filters(cid="aaa")) == [b, a]
    assert _ids(db, Filters(since=1500.0, until=2500.0)) == [b]


# --- failures never cost a reply ----------------------------------------------------------


def _log(db: Path, notices: list[str]) -> ReplyLog:
    return ReplyLog(True, "ask", store=LogStore(db, notice=notices.append))


def test_a_locked_log_is_one_warning(db, monkeypatch, capsys):
    monkeypatch.setattr(store_mod, "BUSY_TIMEOUT_S", 0.2)
    insert(make_row(), LogStore(db))
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    log = _log(db, [])
    assert log.write(make_row()) is None
    assert log.write(make_row()) is None
    err = capsys.readouterr().err
    assert err.count("warning:") == 1 and "locked" in err and "not logged" in err
    holder.execute("ROLLBACK")
    assert log.write(make_row()) is not None


def _make_read_only(db: Path) -> None:
    """SQLite treats a file whose write-version byte (offset 18) is above 2 as
    read-only, for every user (root included, whom chmod does not stop)."""
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray(db.read_bytes())
    data[18] = 3
    db.write_bytes(bytes(data))


def test_a_read_only_log_is_one_warning_and_stays_as_it_was(db, capsys):
    insert(make_row(), LogStore(db))
    _make_read_only(db)
    before = db.read_bytes()
    assert _log(db, []).write(make_row()) is None
    err = capsys.readouterr().err
    assert err.count("warning:") == 1 and "read-only" in err
    assert db.read_bytes() == before and count(LogStore(db)) == 1


@pytest.mark.skipif(getattr(os, "geteuid", lambda: 1)() == 0, reason="root writes anyway")
def test_a_log_without_write_permission_is_one_warning(db, capsys):
    insert(make_row(), LogStore(db))
    db.chmod(0o444)
    assert _log(db, []).write(make_row()) is None
    assert capsys.readouterr().err.count("warning:") == 1


def _garbage(db: Path) -> None:
    db.parent.mkdir(parents=True, exist_ok=True)
    db.write_bytes(b"this is not an SQLite database\n" * 200)


def _broken_pages(db: Path) -> None:
    """A real log whose pages after the second are overwritten: a sound header, bad pages."""
    store = LogStore(db)
    for i in range(40):
        insert(make_row(f"prompt {i} " * 40), store)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray(db.read_bytes())
    data[8192:] = b"\x5a" * (len(data) - 8192)
    db.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [_garbage, _broken_pages])
def test_a_corrupt_log_is_kept_aside_and_a_new_one_started(db, damage):
    damage(db)
    before = db.read_bytes()
    notices: list[str] = []
    new_id = _log(db, notices).write(make_row("after the damage"))
    assert new_id is not None
    aside = [p for p in db.parent.iterdir() if p.name.startswith("logs.db.corrupt-")]
    assert len(aside) == 1 and aside[0].read_bytes() == before  # never overwritten
    assert len(notices) == 1 and str(aside[0]) in notices[0]
    assert count(LogStore(db)) == 1


# --- concurrent writers -----------------------------------------------------------------------


def _write_many(path: str, n: int, tag: str) -> None:
    store = LogStore(Path(path))
    for i in range(n):
        insert(make_row(f"{tag} {i}"), store)


def test_concurrent_writers_lose_no_row(db):
    """Processes and threads at once, from the very first open (the creation races too)."""
    n = 40
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_write_many, args=(str(db), n, f"proc{i}")) for i in range(3)]
    threads = [threading.Thread(target=_write_many, args=(str(db), n, f"thr{i}")) for i in range(2)]
    for w in (*procs, *threads):
        w.start()
    for w in (*procs, *threads):
        w.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    assert count(LogStore(db)) == 5 * n
    found = LogStore(db).run(lambda c: [r["id"] for r in select(c, Filters(query="thr1"))])
    assert len(found or []) == n


def test_a_bug_while_logging_is_one_warning_not_a_failure(db, capsys):
    class Odd:  # a reply whose parts the log cannot encode
        model = "m"

    log = ReplyLog(True, "ask", store=LogStore(db))
    assert log.add([{"role": "user", "content": "hi"}], None, db, Odd()) is None  # type: ignore[arg-type]
    err = capsys.readouterr().err
    assert err.count("warning:") == 1 and "cannot be logged" in err
