"""The reply log end to end on the real model: `oruel ask` and `oruel run` in a
subprocess, a real SQLite file in the data folder."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from support.log_rows import count, insert, make_row

from oruel_cli.logs.store import LogStore
from oruel_cli.models.resolve import embedded_model_path

pytestmark = pytest.mark.model

GREEDY = ["--temperature", "0", "--max-tokens", "12"]


def oruel(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "oruel_cli", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_COLOR": "1"},
    )


def logged(*args: str) -> list[dict]:
    res = oruel("logs", "-n", "0", "--json", *args)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def db_file() -> Path:
    return LogStore().path


def test_ask_logs_the_reply_with_parameters_and_sources():
    res = oruel("ask", *GREEDY, "-p", "qa", "Describe a cat in one sentence.")
    assert res.returncode == 0, res.stderr
    (obj,) = logged()
    assert obj["reply"].strip() == res.stdout.strip()
    assert obj["command"] == "ask" and obj["finish_reason"] in ("stop", "length")
    assert obj["messages"] == [{"role": "user", "content": "Describe a cat in one sentence."}]
    assert obj["params"]["temperature"] == {"value": 0.0, "source": "flag"}
    assert obj["params"]["max_tokens"] == {"value": 12, "source": "flag"}
    assert obj["params"]["top_p"] == {"value": 0.9, "source": "preset qa"}
    assert obj["system"]  # the qa preset's system prompt
    assert obj["usage"]["completion_tokens"] <= 12 and obj["usage"]["prompt_tokens"] > 0
    assert 0 < obj["first_token_seconds"] <= obj["total_seconds"]
    path = embedded_model_path()
    assert obj["model"]["path"] == str(path) and obj["model"]["size"] == path.stat().st_size
    word = max(obj["reply"].split(), key=len).strip(".,;:!?\"'()")
    assert [o["id"] for o in logged("-q", word)] == [obj["id"]]
    assert logged("-q", "xylophone") == []


def test_ask_c_sends_the_earlier_turn_and_carries_the_parameters():
    first = oruel("ask", "--temperature", "0", "--max-tokens", "30",
                  "My name is Zorbo. Please remember it.")  # fmt: skip
    assert first.returncode == 0, first.stderr
    res = oruel("ask", "-c", "--show-params", "What is my name?")
    assert res.returncode == 0, res.stderr
    turn1, turn2 = logged()[::-1]
    assert turn2["conversation_id"] == turn1["conversation_id"]
    assert turn2["messages"] == [
        *turn1["messages"],
        {"role": "assistant", "content": turn1["reply"]},
        {"role": "user", "content": "What is my name?"},
    ]
    assert turn2["usage"]["prompt_tokens"] > turn1["usage"]["prompt_tokens"] + 5
    cid = turn1["conversation_id"]
    assert turn2["params"]["temperature"] == {"value": 0.0, "source": f"conversation {cid}"}
    assert f"max_tokens = 30 (conversation {cid})" in res.stderr
    assert "Zorbo" in res.stdout  # greedy: the model reads its context back
    fresh = oruel("ask", "--temperature", "0", "--max-tokens", "30", "What is my name?")
    assert "Zorbo" not in fresh.stdout  # ... which it could not have guessed


def test_cid_carries_on_a_given_conversation_and_flags_win():
    oruel("ask", *GREEDY, "Name a fruit.")
    oruel("ask", *GREEDY, "Name a color.")
    fruit, color = logged()[::-1]
    res = oruel("ask", "--cid", fruit["conversation_id"], "--max-tokens", "5", "Another one?")
    assert res.returncode == 0, res.stderr
    last = logged("-n", "1")[0]
    assert last["conversation_id"] == fruit["conversation_id"]
    assert last["messages"][0]["content"] == "Name a fruit."
    assert last["params"]["max_tokens"] == {"value": 5, "source": "flag"}
    bad = oruel("ask", "--cid", "nosuchconversation", "hi")
    assert bad.returncode == 2 and "no conversation 'nosuchconversation'" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_no_log_and_logs_off_write_nothing(isolated_env):
    res = oruel("ask", *GREEDY, "--no-log", "Name a fruit.")
    assert res.returncode == 0 and res.stdout.strip()
    assert not db_file().exists()
    assert oruel("logs", "off").returncode == 0
    assert oruel("ask", *GREEDY, "Name a fruit.").stdout == res.stdout
    assert not db_file().exists()
    assert oruel("logs", "on").returncode == 0
    assert oruel("ask", *GREEDY, "Name a fruit.").returncode == 0
    assert count() == 1


def _no_log_reply() -> str:
    res = oruel("ask", *GREEDY, "--no-log", "Name a fruit.")
    assert res.returncode == 0
    return res.stdout


def test_a_read_only_log_leaves_the_reply_and_exit_code():
    expected = _no_log_reply()
    insert(make_row())
    conn = sqlite3.connect(db_file())
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray(db_file().read_bytes())
    data[18] = 3  # SQLite's "read-only file format" byte: no one may write, root included
    db_file().write_bytes(bytes(data))
    res = oruel("ask", *GREEDY, "Name a fruit.")
    assert res.returncode == 0 and res.stdout == expected
    warnings = [ln for ln in res.stderr.splitlines() if "warning:" in ln]
    assert len(warnings) == 1 and "read-only" in warnings[0] and "Traceback" not in res.stderr
    assert count() == 1


def test_a_corrupt_log_leaves_the_reply_and_is_kept_aside():
    expected = _no_log_reply()
    db_file().parent.mkdir(parents=True, exist_ok=True)
    junk = b"definitely not SQLite\n" * 300
    db_file().write_bytes(junk)
    res = oruel("ask", *GREEDY, "Name a fruit.")
    assert res.returncode == 0 and res.stdout == expected
    assert "corrupt" in res.stderr and "Traceback" not in res.stderr
    (aside,) = db_file().parent.glob("logs.db.corrupt-*")
    assert aside.read_bytes() == junk and aside.name in res.stderr
    assert [o["reply"] for o in logged()] == [expected.strip()]


def test_a_locked_log_leaves_the_reply_and_exit_code():
    expected = _no_log_reply()
    insert(make_row())
    holder = sqlite3.connect(db_file(), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        res = oruel("ask", *GREEDY, "Name a fruit.")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert res.returncode == 0 and res.stdout == expected
    warnings = [ln for ln in res.stderr.splitlines() if "warning:" in ln]
    assert len(warnings) == 1 and "locked" in warnings[0]
    assert count() == 1


def test_concurrent_asks_a_chat_and_a_direct_writer_lose_no_row():
    n = 60
    chat_lines = ["Name an animal.", "Name a tree.", "Name a bird."]

    def direct() -> None:
        for i in range(n):
            insert(make_row(f"direct {i}"))

    def start(*args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "oruel_cli", *args, *GREEDY],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    procs = [start("ask", prompt) for prompt in ("Name a fruit.", "Name a color.")]
    procs.append(start("chat"))
    writer = threading.Thread(target=direct)
    writer.start()
    outs = [p.communicate(input="\n".join(chat_lines) + "\n" if i == 2 else "", timeout=300)
            for i, p in enumerate(procs)]  # fmt: skip
    writer.join(60)
    assert [p.returncode for p in procs] == [0, 0, 0], [err for _, err in outs]
    assert all("warning" not in err for _, err in outs)
    assert count() == n + 2 + len(chat_lines)
    assert {o["messages"][-1]["content"] for o in logged("-q", "name")} >= {
        "Name a fruit.", "Name a color.", *chat_lines,
    }  # fmt: skip


def test_run_logs_one_row_per_job(tmp_path):
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text('{"prompt": "Say hi."}\n{"prompt": "Say bye.", "temperature": 9}\n')
    res = oruel("run", str(jobs), "--max-tokens", "4", "-t", "0", "--parallel", "2")
    assert res.returncode == 1  # the second line is out of range
    r = oruel("logs", "--jobs", "--json")
    (job,) = json.loads(r.stdout)
    import hashlib

    assert job["input"] == {
        "path": str(jobs),
        "sha256": hashlib.sha256(jobs.read_bytes()).hexdigest(),
    }
    assert job["output"] == str(tmp_path / "jobs.results.jsonl")
    assert job["status"] == "failed" and job["counts"]["ok"] == 1 and job["counts"]["failed"] == 1
    assert job["params"]["temperature"] == {"value": 0.0, "source": "flag"}
    assert job["parallel"] == 2 and job["started"] <= job["ended"]
    assert logged() == []  # the lines themselves are not replies of the log
    again = oruel("run", str(jobs), "--overwrite", "--no-log", "--max-tokens", "4")
    assert again.returncode == 1
    assert len(json.loads(oruel("logs", "--jobs", "--json").stdout)) == 1


def test_run_log_keeps_each_line_reply_with_its_own_parameters(tmp_path):
    jobs = tmp_path / "jobs.jsonl"
    jobs.write_text(
        '{"id": "a", "prompt": "Say hi."}\n'
        '{"id": "b", "prompt": "Say bye.", "max_tokens": 3}\n'
        '{"id": "c", "prompt": "Bad.", "temperature": 9}\n'
    )
    res = oruel("run", str(jobs), "--log", "--max-tokens", "4", "-t", "0", "--parallel", "2")
    assert res.returncode == 1  # line c is out of range: no reply, no row
    records = {r["id"]: r for r in map(json.loads, (tmp_path / "jobs.results.jsonl").open())}
    rows = {o["messages"][-1]["content"]: o for o in logged()}
    assert set(rows) == {"Say hi.", "Say bye."}
    hi, bye = rows["Say hi."], rows["Say bye."]
    assert hi["command"] == bye["command"] == "run"
    assert hi["conversation_id"] != bye["conversation_id"]  # each line its own
    assert hi["reply"] == records["a"]["output"]
    assert hi["params"]["max_tokens"] == {"value": 4, "source": "flag"}
    assert bye["params"]["max_tokens"] == {"value": 3, "source": "line"}
    assert bye["usage"]["completion_tokens"] <= 3
    (job,) = json.loads(oruel("logs", "--jobs", "--json").stdout)  # and the job's own row
    assert job["counts"]["ok"] == 2
    # -c carries on an ask or chat, never a batch line
    res = oruel("ask", "-c", "--max-tokens", "2", "Hello?")
    assert "no conversation in the log to carry on" in res.stderr
    # --no-log wins over --log
    again = oruel("run", str(jobs), "--overwrite", "--log", "--no-log", "--max-tokens", "4")
    assert again.returncode == 1
    assert len([o for o in logged() if o["command"] == "run"]) == 2


def test_a_sweep_carries_a_conversation_on_and_logs_each_variant():
    first = oruel("ask", "--temperature", "0", "--max-tokens", "30",
                  "My name is Zorbo. Please remember it.")  # fmt: skip
    assert first.returncode == 0, first.stderr
    (turn1,) = logged()
    res = oruel("ask", "-c", "--sweep", "top_k=1,2", "--temperature", "0", "--max-tokens", "8",
                "--output-json", "What is my name?")  # fmt: skip
    assert res.returncode == 0, res.stderr
    replies = json.loads(res.stdout)
    rows = logged()[:2][::-1]  # newest first: the two variants
    history = [*turn1["messages"], {"role": "assistant", "content": turn1["reply"]}]
    for row, reply, k in zip(rows, replies, (1, 2), strict=True):
        assert row["command"] == "ask" and row["params"]["top_k"]["value"] == k
        assert row["messages"] == [*history, {"role": "user", "content": "What is my name?"}]
        assert row["reply"] == reply["choices"][0]["message"]["content"]
        assert row["usage"]["prompt_tokens"] == reply["usage"]["prompt_tokens"]
    assert replies[0]["usage"]["prompt_tokens"] > turn1["usage"]["prompt_tokens"] + 5
    assert len({r["conversation_id"] for r in rows}) == 2  # each variant its own conversation
    res = oruel("ask", "--no-log", "--sweep", "top_k=1,2", "--max-tokens", "4", "Hi.")
    assert res.returncode == 0 and len(logged()) == 3
