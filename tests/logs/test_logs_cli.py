"""`oruel logs ...` without a model: rows written as ask writes them, the CLI read
back in-process; every bad input is exit 2 with one message, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support.cli_inproc import Result, in_process_cli
from support.log_rows import count, insert, make_row

from oruel_cli.config import load_config
from oruel_cli.logs.store import LogStore


@pytest.fixture
def cli(monkeypatch, capsys):
    return in_process_cli(monkeypatch, capsys, columns=200)


def _entries(out: str) -> int:
    return sum(line.startswith("## ") for line in out.splitlines())


def test_no_log_yet_prints_nothing(cli, isolated_env):
    assert cli("logs") == Result(0, "", "")
    assert cli("logs", "list", "-q", "fox") == Result(0, "", "")
    r = cli("logs", "--json")
    assert r.code == 0 and json.loads(r.out) == []
    assert cli("logs", "export").out == ""
    assert not (isolated_env / "xdg-data" / "oruel" / "logs.db").exists()  # reading made no file


def test_list_newest_first_default_three_and_all(cli):
    ids = [insert(make_row(f"prompt number {i}", f"reply number {i}")) for i in range(5)]
    r = cli("logs")
    assert r.code == 0
    shown = [int(line.split()[1]) for line in r.out.splitlines() if line.startswith("## ")]
    assert shown == ids[::-1][:3]
    assert "prompt number 4" in r.out and "reply number 4" in r.out
    assert len(json.loads(cli("logs", "-n", "0", "--json").out)) == 5
    assert [o["id"] for o in json.loads(cli("logs", "list", "-n", "2", "--json").out)] == ids[:2:-1]


def test_json_object_holds_the_exchange_and_parameters_with_sources(cli):
    rid = insert(make_row("What are foxes?", "Small canids.", conversation_id="c1"))
    (obj,) = json.loads(cli("logs", "--json").out)
    assert obj["id"] == rid and obj["conversation_id"] == "c1"
    assert obj["messages"] == [{"role": "user", "content": "What are foxes?"}]
    assert obj["reply"] == "Small canids." and obj["finish_reason"] == "stop"
    assert obj["usage"] == {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    assert obj["first_token_seconds"] == 0.1 and obj["total_seconds"] == 0.5
    assert obj["model"]["name"] == "tiny-model" and obj["model"]["size"] == 1234
    assert obj["params"]["temperature"] == {"value": 0.0, "source": "flag"}
    assert obj["params"]["top_p"] == {"value": 0.9, "source": "preset qa"}
    assert obj["params"]["top_k"] == {"value": None, "source": "default"}
    assert obj["time"].endswith("+00:00")


def test_search_model_conversation_and_usage(cli):
    insert(make_row("Tell me about foxes.", "Foxes hunt at night.", conversation_id="aaa"))
    insert(make_row("And owls?", "Owls are birds.", conversation_id="bbb"))
    assert [o["reply"] for o in json.loads(cli("logs", "-q", "hunting", "--json").out)] == [
        "Foxes hunt at night."
    ]
    assert "Owls are birds." in cli("logs", "--cid", "bbb").out
    assert "Owls" not in cli("logs", "--cid", "aaa").out
    assert _entries(cli("logs", "-m", "tiny").out) == 2
    assert cli("logs", "-m", "no-such-model").out == ""
    assert "10 prompt + 5 completion = 15 tokens" in cli("logs", "-u").out
    assert "completion = 15 tokens" not in cli("logs").out


def test_since_and_until(cli):
    from datetime import datetime

    def at(text: str) -> float:
        return datetime.fromisoformat(text).timestamp()

    old = insert(make_row("old one", when=at("2024-03-01T10:00")))
    mid = insert(make_row("middle one", when=at("2024-03-02T23:59")))
    new = insert(make_row("new one", when=at("2024-03-05T08:00")))

    def ids(*args: str) -> list[int]:
        r = cli("logs", "-n", "0", "--json", *args)
        assert r.code == 0, r.err
        return [o["id"] for o in json.loads(r.out)]

    assert ids("--since", "2024-03-02") == [new, mid]
    assert ids("--until", "2024-03-02") == [mid, old]  # a date alone: the whole day
    assert ids("--since", "2024-03-01T12:00", "--until", "2024-03-03") == [mid]
    assert ids("--until", "2024-03-01 10:00:00") == [old]


def test_show_renders_one_exchange_with_its_parameters(cli):
    first = make_row("My name is Zorbo.", "Hello Zorbo.", conversation_id="zz")
    insert(first)
    history = [*first.messages, {"role": "assistant", "content": "Hello Zorbo."}]
    rid = insert(make_row("What is my name?", "Zorbo.", conversation_id="zz", history=history))
    r = cli("logs", "show", str(rid))
    assert r.code == 0
    assert "My name is Zorbo." in r.out and "What is my name?" in r.out
    assert "temperature = 0.0 (flag)" in r.out and "top_p = 0.9 (preset qa)" in r.out
    assert "conversation zz" in r.out


def test_export_jsonl_and_md_oldest_first(cli):
    a = insert(make_row("first prompt"))
    b = insert(make_row("second prompt"))
    lines = cli("logs", "export", "--format", "jsonl").out.splitlines()
    assert [json.loads(x)["id"] for x in lines] == [a, b]
    md = cli("logs", "export", "--format", "md").out
    assert md.index("first prompt") < md.index("second prompt") and "### Parameters" in md


# --- rm -------------------------------------------------------------------------------------


def test_rm_removes_what_it_names_and_nothing_else(cli):
    a1 = insert(make_row("a one", conversation_id="aaa", when=1000.0))
    a2 = insert(make_row("a two", conversation_id="aaa", when=2000.0))
    b1 = insert(make_row("b one", conversation_id="bbb", when=3000.0))
    c1 = insert(make_row("c one", conversation_id="ccc", when=4000.0))

    def left() -> list[int]:
        return sorted(o["id"] for o in json.loads(cli("logs", "-n", "0", "--json").out))

    assert cli("logs", "rm", str(a2), "--yes").code == 0
    assert left() == [a1, b1, c1]
    assert cli("logs", "-q", "two").out == ""  # gone from the index too
    assert cli("logs", "rm", "--cid", "aaa", "--yes").code == 0
    assert left() == [b1, c1]
    assert cli("logs", "rm", "--before", "1970-01-01T01:00:00+00:00", "--yes").code == 0
    assert left() == [c1]  # b1 was at 3000 s, before 3600 s; c1 at 4000 s stays
    assert cli("logs", "rm", "--all", "--yes").code == 0
    assert left() == [] and count(table="conversations") == 0


def test_rm_vacuums_the_removed_text_out_of_the_file(cli):
    for i in range(30):
        insert(make_row(f"secret-{i} " * 50))
    insert(make_row("keep this"))
    path = LogStore().path
    assert cli("logs", "rm", "--before", "2999-01-01", "--yes").code == 0
    files = [path, Path(f"{path}-wal")]
    assert not any(b"secret-" in p.read_bytes() for p in files if p.exists())


def test_rm_without_a_terminal_needs_yes(cli):
    rid = insert(make_row())
    msg = cli("logs", "rm", str(rid)).error()
    assert "--yes" in msg
    assert count() == 1


def test_rm_asks_on_a_terminal(cli):
    rid = insert(make_row())
    r = cli("logs", "rm", str(rid), stdin="n\n", tty=True)
    assert r.code == 0 and "Remove 1 reply" in r.err and "nothing removed" in r.err
    assert count() == 1
    r = cli("logs", "rm", str(rid), stdin="y\n", tty=True)
    assert r.code == 0 and "removed 1 reply" in r.err and count() == 0


# --- bad input: exit 2, one message -----------------------------------------------------------


@pytest.mark.parametrize(
    "args, words",
    [
        (("logs", "show", "abc"), "invalid log ID 'abc'"),
        (("logs", "show", "0"), "invalid log ID '0'"),
        (("logs", "show", "999"), "no reply 999"),
        (("logs", "rm", "x1", "--yes"), "invalid log ID 'x1'"),
        (("logs", "rm", "999", "--yes"), "no reply 999"),
        (("logs", "rm", "--cid", "nope", "--yes"), "no conversation nope"),
        (("logs", "rm", "--yes"), "one of ID, --cid ID, --before T or --all"),
        (("logs", "rm", "1", "--all", "--yes"), "one of ID"),
        (("logs", "--since", "yesterday"), "invalid --since 'yesterday'"),
        (("logs", "list", "--until", "2024-13-01"), "invalid --until '2024-13-01'"),
        (("logs", "rm", "--before", "soon", "--yes"), "invalid --before 'soon'"),
        (("logs", "export", "--since", "2024-02-30"), "invalid --since"),
        (("logs", "export", "--format", "xml"), "invalid --format 'xml' (allowed: jsonl or md)"),
        (("logs", "-n", "-1"), "invalid -n -1"),
        (("logs", "-n", "5", "show", "1"), "after 'show'"),
        (("logs", "--jobs", "-q", "x"), "not jobs"),
    ],
)
def test_bad_input_is_exit_2_with_one_message(cli, args, words):
    insert(make_row())
    assert words in cli(*args).error()


def test_parser_errors_are_exit_2_without_traceback(cli):
    for args in (("logs", "-n", "abc"), ("logs", "nosuch"), ("logs", "show")):
        r = cli(*args)
        assert r.code == 2 and "Traceback" not in r.err, (args, r)


# --- on / off / status / path ---------------------------------------------------------------


def test_off_and_on_write_the_config_and_keep_the_rest(cli, isolated_env):
    cfg = isolated_env / "config.yaml"
    cfg.write_text("# my settings\npreset: qa   # the default\nparams:\n  temperature: 0.6\n")
    assert cli("logs", "off").code == 0
    text = cfg.read_text()
    assert text.startswith("# my settings\npreset: qa   # the default\n") and "log: false" in text
    assert load_config().log is False and load_config().preset == "qa"
    assert "log: off" in cli("logs", "status").out
    assert cli("logs", "on").code == 0
    assert cfg.read_text().count("log:") == 1 and load_config().log is True
    assert cli("logs", "status").out.startswith("log: on")


def test_off_creates_a_missing_config(cli, isolated_env):
    cfg = isolated_env / "config.yaml"
    assert not cfg.exists()
    assert cli("logs", "off").code == 0
    assert cfg.read_text() == "log: false\n"


def test_off_refuses_a_layout_it_cannot_edit(cli, isolated_env):
    cfg = isolated_env / "config.yaml"
    cfg.write_text("{preset: qa}\n")
    assert "add the line `log: false`" in cli("logs", "off").error()
    assert cfg.read_text() == "{preset: qa}\n"


def test_status_and_path(cli, isolated_env):
    path = isolated_env / "xdg-data" / "oruel" / "logs.db"
    assert cli("logs", "path").out.strip() == str(path)
    insert(make_row(conversation_id="a"))
    insert(make_row(conversation_id="a"))
    out = cli("logs", "status").out
    assert "log: on" in out and "replies: 2 in 1 conversation(s)" in out
    assert f"path: {path}" in out and "KiB" in out


def test_a_bad_log_key_in_the_config_is_exit_2(cli, isolated_env):
    (isolated_env / "config.yaml").write_text("log: maybe\n")
    assert "'log'" in cli("logs", "status").error()


# --- light -----------------------------------------------------------------------------------

PROBE = """
import sys
from oruel_cli.cli.main import main
sys.argv = ['oruel'] + sys.argv[1:]
try:
    main()
except SystemExit:
    pass
heavy = [m for m in ('llama_cpp', 'numpy', 'oruel_cli.engine.engine') if m in sys.modules]
sys.__stderr__.write('HEAVY ' + ','.join(heavy) + '\\n')
"""


@pytest.mark.parametrize("args", [["logs"], ["logs", "status"], ["logs", "-q", "fox", "--json"]])
def test_logs_commands_never_import_llama_cpp(args):
    insert(make_row())
    res = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=60
    )
    (line,) = [x for x in res.stderr.splitlines() if x.startswith("HEAVY")]
    assert line == "HEAVY ", res.stderr


def test_a_closed_stdout_ends_an_export_quietly():
    from oruel_cli.logs.store import write_transaction

    def many(conn) -> None:
        with write_transaction(conn):
            for _ in range(300):  # ~400 KB of JSON: more than a pipe holds
                make_row("p " * 100, "r " * 500).insert(conn)

    LogStore().run(many)
    proc = subprocess.Popen(
        [sys.executable, "-m", "oruel_cli", "logs", "export"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout and proc.stderr
    proc.stdout.read(100)
    proc.stdout.close()  # as `| head -c 100` does
    err = proc.stderr.read()
    assert proc.wait(60) == 0 and err == b""


def test_a_search_that_matches_nothing_says_so(cli):
    insert(make_row("Tell me about foxes.", "Foxes hunt at night.", conversation_id="aaa"))
    r = cli("logs", "-q", "zebra")
    assert r.code == 0 and r.out == ""
    assert r.err.strip().splitlines() == [
        "no reply matches -q 'zebra' (`oruel logs` lists the latest)"
    ]
    r = cli("logs", "list", "--cid", "nope", "-q", "fox")
    assert r.code == 0 and r.out == "" and "matches -q 'fox', --cid 'nope'" in r.err
    r = cli("logs", "--cid", "nope", "--json")
    assert r.code == 0 and json.loads(r.out) == [] and r.err == ""  # JSON: the empty array says it
    r = cli("logs", "-q", "fox")
    assert r.code == 0 and "Foxes hunt" in r.out and r.err == ""
